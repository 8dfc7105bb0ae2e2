"""safetensors files in: named tensors -> :class:`ImportedModel`.

Naming (PyTorch's or the project's ``.npz`` convention): ``X.weight`` or ``X`` is layer
``X``'s weight (2-D ``(out, in)``, 4-D ``(out, in/group, kh, kw)``, or 3-D ``(out,
in/group, k)``: a Conv1d kernel, read as kernel height 1), ``X.bias`` its bias; PyTorch's
recurrent matrices ``P.weight_ih_lK`` / ``P.weight_hh_lK`` (biases ``P.bias_ih_lK`` /
``P.bias_hh_lK``) are layers of those names. Any other tensor (a 1-D ``bn.weight``, an
integer ``num_batches_tracked``) is left out and listed in ``meta["left_out"]`` with its
reason (:func:`runnable_tensors`); a file with nothing EIE can run is refused.

Layer order: the graph's when the file's ``__metadata__`` holds ``"eie.graph"`` (the JSON
of :mod:`compressor.importers.graph_json`: then convolutions can run on EIE); else the
comma-separated names of ``"eie.layers"``; else the layer names in natural order (digit
runs compared as numbers: ``fc2`` before ``fc10``). Without a graph the model has no
convolution geometry (docs/byom.md).

Reading: the file (regular, at most :data:`MAX_SAFETENSORS_BYTES`) is read, its header
parsed and every tensor's dtype, shape and byte range checked against the file before any
array is made (the ranges must tile the data exactly, as the format requires: no overlap,
gap or trailing bytes); the arrays come from ``safetensors.numpy.load``. dtypes F32, F16, F64 and
BF16 (which numpy lacks: widened to float32 here, exactly) become float32; integer and
boolean tensors are left out, other dtypes refused. NaN and infinity are refused.
"""
from __future__ import annotations

import math
import pathlib
import re
import struct

import numpy as np

from ..errors import CompressorError, ModelImportError
from ..fileio import load_json, read_regular_file
from ..npzio import MAX_ARRAY_ELEMENTS, check_weights
from .graph_json import net_from_json
from .model import ImportedModel

__all__ = ["MAX_SAFETENSORS_BYTES", "MAX_HEADER_BYTES", "read_safetensors", "natural_key"]

MAX_SAFETENSORS_BYTES = 1 << 31
#: the largest JSON header read (the safetensors library's own limit)
MAX_HEADER_BYTES = 100 * 1000 * 1000
_DTYPES = {"F32": ("<f4", 4), "F16": ("<f2", 2), "F64": ("<f8", 8), "BF16": ("<u2", 2)}
#: dtypes that are not weights (a step counter, a mask): left out of the model, named
_OTHER = {"I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1,
          "BOOL": 1}
#: PyTorch's recurrent layers: ``P.weight_ih_l0`` (+ ``_reverse``), bias ``P.bias_ih_l0``
_RNN = re.compile(r"^(?P<p>.*)\.weight_(?P<m>ih|hh)_l(?P<l>\d+)(?P<r>_reverse)?$")


def natural_key(name: str) -> list:
    """Sort key comparing digit runs as numbers (``fc2`` < ``fc10``)."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t]


def _header(raw: bytes, src: str) -> tuple[dict, int]:
    if len(raw) < 8:
        raise ModelImportError(f"{src}: not a safetensors file (shorter than its 8-byte header length)")
    n = struct.unpack_from("<Q", raw)[0]
    if n > MAX_HEADER_BYTES or 8 + n > len(raw):
        raise ModelImportError(f"{src}: not a safetensors file (header of {n} bytes in a file of "
                               f"{len(raw)})")
    try:
        head = load_json(raw[8:8 + n])
    except ValueError as exc:
        raise ModelImportError(f"{src}: not a safetensors file (header: {exc})") from None
    if not isinstance(head, dict):
        raise ModelImportError(f"{src}: not a safetensors file (header is not a JSON object)")
    return head, 8 + n


def runnable_tensors(arrays: dict[str, np.ndarray], dtypes: dict[str, str], src: str,
                     strict: bool = False) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    """The tensors EIE can run, in the ``.npz`` convention, the others left out (each with
    its reason) and notes on what was renamed or reshaped:

    * ``P.weight_ih_lK`` / ``P.weight_hh_lK`` (PyTorch LSTM / GRU; ``_reverse`` too) are
      layers of those names (each gate matrix stack one M x V), with biases
      ``P.bias_ih_lK`` / ``P.bias_hh_lK``;
    * a 3-D weight ``(out, in/group, k)`` (Conv1d) is a convolution of kernel height 1,
      ``(out, in/group, 1, k)``;
    * a tensor of another rank, an integer or boolean tensor, a bias without a weight: left
      out (``strict``, when the file's graph names the layers: refused as before)."""
    keep: dict[str, np.ndarray] = {}
    left: list[str] = []
    notes: list[str] = []
    rnn_bias = {}
    for key in arrays:
        m = _RNN.match(key)
        if m:
            rnn_bias[f"{m['p']}.bias_{m['m']}_l{m['l']}{m['r'] or ''}"] = key
    for key, a in arrays.items():
        if dtypes.get(key) in _OTHER:
            left.append(f"{key} ({dtypes[key]} {list(a.shape)}: not floating-point weights)")
            continue
        if key in rnn_bias:
            continue
        m = _RNN.match(key)
        if m:
            if a.ndim != 2:
                left.append(f"{key} (shape {list(a.shape)}: a recurrent matrix must be 2-D)")
                continue
            keep[key] = a
            b = f"{m['p']}.bias_{m['m']}_l{m['l']}{m['r'] or ''}"
            if b in arrays:
                keep[key + ".bias"] = arrays[b]
            notes.append(f"{key}: recurrent {'input' if m['m'] == 'ih' else 'hidden'} matrix "
                         f"{tuple(a.shape)} (gates stacked: {a.shape[0] // 4} x 4 for an LSTM, "
                         f"{a.shape[0] // 3} x 3 for a GRU), one M x V per time step")
            continue
        if key.endswith(".bias"):
            keep[key] = a
            continue
        if a.ndim == 3 and not strict:
            keep[key] = a.reshape(a.shape[0], a.shape[1], 1, a.shape[2])
            notes.append(f"{key}: Conv1d kernel {tuple(a.shape)} read as a convolution of kernel "
                         f"height 1 {tuple(keep[key].shape)}")
            continue
        if a.ndim not in (2, 4) and not strict:
            left.append(f"{key} (shape {list(a.shape)}: not a 2-D, 3-D or 4-D weight; e.g. a "
                        "normalisation's vector, which the host applies)")
            continue
        keep[key] = a
    names = {k[:-7] if k.endswith(".weight") else k for k in keep if not k.endswith(".bias")}
    for key in [k for k in keep if k.endswith(".bias") and k[:-5] not in names
                and not _RNN.match(k[:-5])]:
        if strict:
            continue                       # check_weights names it
        left.append(f"{key} (a bias whose weight is left out or absent)")
        del keep[key]
    if not any(not k.endswith(".bias") for k in keep):
        raise ModelImportError(f"{src}: no tensor EIE can run; left out: {'; '.join(left)}")
    return keep, left, notes


def read_safetensors(path: str | pathlib.Path) -> ImportedModel:
    """A safetensors file as an :class:`ImportedModel` (see the module docstring)."""
    path = pathlib.Path(path)
    src = str(path)
    try:
        raw = read_regular_file(path, MAX_SAFETENSORS_BYTES, ModelImportError, "safetensors file")
    except FileNotFoundError:
        raise ModelImportError(f"{path}: no such file") from None
    except OSError as exc:
        raise ModelImportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    head, start = _header(raw, src)
    meta = head.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ModelImportError(f"{src}: __metadata__ must map names to strings")
    data_len = len(raw) - start
    bf16 = []
    for key, d in head.items():
        if not isinstance(d, dict) or set(d) != {"dtype", "shape", "data_offsets"}:
            raise ModelImportError(f"{src}: tensor {key!r}: header entry needs dtype, shape, "
                                   "data_offsets")
        dt, shape, off = d["dtype"], d["shape"], d["data_offsets"]
        if dt not in _DTYPES and dt not in _OTHER:
            raise ModelImportError(f"{src}: tensor {key!r} has dtype {dt}; weights must be F32, "
                                   "F16, BF16 or F64")
        size = _DTYPES[dt][1] if dt in _DTYPES else _OTHER[dt]
        if not (isinstance(shape, list) and all(isinstance(s, int) and not isinstance(s, bool)
                                                and s >= 0 for s in shape) and len(shape) <= 8):
            raise ModelImportError(f"{src}: tensor {key!r} has a bad shape {shape!r}")
        n = math.prod(shape)
        if n > MAX_ARRAY_ELEMENTS:
            raise ModelImportError(f"{src}: tensor {key!r} has {n} elements, more than the limit "
                                   f"of {MAX_ARRAY_ELEMENTS}")
        if not (isinstance(off, list) and len(off) == 2
                and all(isinstance(o, int) and not isinstance(o, bool) for o in off)
                and 0 <= off[0] <= off[1] <= data_len and off[1] - off[0] == n * size):
            raise ModelImportError(f"{src}: tensor {key!r}: data_offsets {off!r} do not hold "
                                   f"{shape} {dt} inside the file's {data_len} data bytes")
        if dt == "BF16":
            bf16.append(key)
    if not head:
        raise ModelImportError(f"{src}: no tensors")
    # the format's layout rule (the safetensors library's too): the tensors' byte ranges
    # tile the data exactly, without gaps, overlaps or bytes after the last
    end = 0
    for key, d in sorted(head.items(), key=lambda kv: tuple(kv[1]["data_offsets"])):
        b0, b1 = d["data_offsets"]
        if b0 != end:
            raise ModelImportError(f"{src}: tensor {key!r}: data_offsets {[b0, b1]} "
                                   f"{'overlap the previous tensor' if b0 < end else 'leave a gap'}"
                                   f" (the previous one ends at {end})")
        end = b1
    if end != data_len:
        raise ModelImportError(f"{src}: {data_len - end} data bytes after the last tensor")
    try:
        if bf16:          # numpy has no bfloat16: widen every tensor here (bf16 << 16 = float32)
            arrays = {}
            for key, d in head.items():
                if d["dtype"] not in _DTYPES:
                    continue                  # not a weight: left out below
                code, _ = _DTYPES[d["dtype"]]
                b0, b1 = d["data_offsets"]
                a = np.frombuffer(raw, dtype=code, count=(b1 - b0) // _DTYPES[d["dtype"]][1],
                                  offset=start + b0)
                a = (a.astype(np.uint32) << 16).view(np.float32) if d["dtype"] == "BF16" else a
                arrays[key] = np.array(a, dtype=np.float32).reshape(d["shape"])
        else:
            from safetensors.numpy import load as st_load
            arrays = st_load(raw)
    except ImportError:  # pragma: no cover - an optional dependency (extra "import")
        raise ModelImportError(f"{src}: reading safetensors needs the 'safetensors' package") from None
    except (ValueError, RuntimeError, OSError) as exc:  # SafetensorError is an Exception too
        raise ModelImportError(f"{src}: not a readable safetensors file ({exc})") from None
    except Exception as exc:
        raise ModelImportError(f"{src}: not a readable safetensors file ({type(exc).__name__}: "
                               f"{exc})") from None
    net = None
    if "eie.graph" in meta:
        try:
            net = net_from_json(load_json(meta["eie.graph"]), f"{src}: __metadata__ eie.graph")
        except ValueError as exc:
            if isinstance(exc, ModelImportError):
                raise
            raise ModelImportError(f"{src}: __metadata__ eie.graph: {exc}") from None
        order = [lay.name for lay in net.weight_layers]
    elif "eie.layers" in meta:
        order = [n.strip() for n in meta["eie.layers"].split(",") if n.strip()]
    else:
        order = None
    arrays = {k: arrays[k] for k in head if k in arrays}   # header order, reordered below
    arrays, left_out, notes = runnable_tensors(arrays, {k: d["dtype"] for k, d in head.items()},
                                               src, strict=net is not None)
    dense = check_weights(arrays, source=src)         # X / X.weight / X.bias, finite, 2-D or 4-D
    names = [k for k in dense if not k.endswith(".bias")]
    if order is None:
        order = sorted(names, key=natural_key)
        rule = "natural order of the names"
    else:
        rule = "graph" if net is not None else "__metadata__ eie.layers"
        if sorted(order) != sorted(names):
            raise ModelImportError(f"{src}: the layer order ({rule}) names {order}, the file's "
                                   f"layers are {names}")
    weights = {n: (dense[n], dense.get(n + ".bias")) for n in order}
    try:
        info = {"order": rule, "metadata_keys": sorted(meta)}
        if left_out:
            info["left_out"] = left_out
        if notes:
            info["notes"] = notes
        return ImportedModel(net, weights, src, "safetensors", info)
    except CompressorError:
        raise
