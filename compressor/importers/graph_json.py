"""A :class:`~compressor.graph.Net` as JSON, so a compressed file can carry its graph.

``eie-compress import`` stores the imported graph in the ``.dcmp`` model metadata under
``"graph"`` (and the safetensors reader accepts the same object, as text, in the file's
``__metadata__`` under ``"eie.graph"``); ``eie-simulate --model`` rebuilds the Net from it to
run convolution layers as M x V per output position (docs/byom.md). The form::

    {"version": 1, "name": "tiny", "input": {"name": "data", "shape": [1, 3, 8, 8]},
     "layers": [{"name": "conv1", "type": "Convolution", "bottoms": ["data"],
                 "tops": ["conv1"], "conv": {"num_output": 4, "kernel": [3, 3],
                 "stride": [1, 1], "pad": [1, 1], "group": 1, "bias_term": true}}, ...]}

Every other simple field of :class:`~compressor.graph.net.Layer` (``num_output``,
``bias_term``, ``concat_axis``, ``negative_slope``, the host layers' ``op``, ``axes``,
``dims``, ``const``...) is stored under its own name. A graph with several inputs lists
the others under ``"extra_inputs"`` (``[{"name", "shape"}, ...]``), and the inputs whose
file layout differs from the graph's under ``"input_layouts"`` (``{name: permutation}``,
:attr:`~compressor.graph.net.Net.input_layouts`).
Shapes are not stored: the Net is rebuilt with :class:`~compressor.graph.NetBuilder`,
which infers and checks them again. Reading is bounded (:data:`MAX_GRAPH_LAYERS`) and
every problem is a :class:`~compressor.errors.ModelImportError` naming the layer.
"""
from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import Any

from ..errors import CompressorError, ModelImportError
from ..fileio import load_json, read_regular_file
from ..graph.builder import NetBuilder
from ..graph.net import BatchNormParams, ConvParams, Layer, Net, PoolParams

__all__ = ["GRAPH_VERSION", "MAX_GRAPH_LAYERS", "MAX_BLOB_ELEMENTS", "MAX_GRAPH_JSON_BYTES",
           "net_to_json", "net_from_json", "graph_from_text", "read_graph_json", "check_blob_sizes"]

GRAPH_VERSION = 1
MAX_GRAPH_LAYERS = 10000
#: the largest graph JSON file read by :func:`read_graph_json` (bytes)
MAX_GRAPH_JSON_BYTES = 64 << 20
#: the largest activation blob (elements) of an imported graph: the forward pass allocates it
MAX_BLOB_ELEMENTS = 1 << 28


def check_blob_sizes(net: Net, where: str) -> Net:
    """Refuse a graph with a blob of more than :data:`MAX_BLOB_ELEMENTS` elements (its
    forward pass could not be held), naming the blob."""
    for name, shape in net.blob_shapes.items():
        n = 1
        for d in shape:
            n *= int(d)
        if n > MAX_BLOB_ELEMENTS:
            raise ModelImportError(f"{where}: blob {name!r} of shape {tuple(shape)} holds {n} "
                                   f"values, more than the limit of {MAX_BLOB_ELEMENTS} (2**28)")
    return net
_NESTED = {"conv": ConvParams, "pool": PoolParams, "bn": BatchNormParams}
_SKIP = {"name", "type", "bottoms", "tops", "line", "params", "in_shapes", "out_shapes",
         "weight_shape"}
_SIMPLE = (bool, int, float, str, type(None))


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v


def net_to_json(net: Net) -> dict[str, Any]:
    """The JSON object of ``net``; :class:`ModelImportError` for a layer with parameters
    JSON cannot hold (e.g. a Caffe LRN's ``lrn_param`` message)."""
    (in_name, in_shape), *extra = net.inputs.items()
    layers = []
    for lay in net.layers:
        if lay.type == "Input":
            continue
        if lay.type == "LRN" and lay.params.get("lrn_param"):
            # the forward pass reads LRN's constants from the prototxt message
            raise ModelImportError(f"layer {lay.name!r} (LRN): its lrn_param cannot be stored "
                                   "as a graph")
        d: dict[str, Any] = {"name": lay.name, "type": lay.type, "bottoms": list(lay.bottoms),
                             "tops": list(lay.tops)}
        for f in dataclasses.fields(lay):
            if f.name in _SKIP:
                continue
            v = getattr(lay, f.name)
            if f.name in _NESTED:
                if v is not None:
                    d[f.name] = {k: _plain(x) for k, x in dataclasses.asdict(v).items()}
            elif isinstance(v, _SIMPLE) or (isinstance(v, (list, tuple))
                                            and all(isinstance(x, _SIMPLE) for x in v)):
                if v != f.default:
                    d[f.name] = _plain(v)
            else:
                raise ModelImportError(f"layer {lay.name!r} ({lay.type}): field {f.name} "
                                       "cannot be stored as a graph")
        layers.append(d)
    out = {"version": GRAPH_VERSION, "name": net.name,
           "input": {"name": in_name, "shape": list(in_shape)}, "layers": layers}
    if extra:
        out["extra_inputs"] = [{"name": n, "shape": list(s)} for n, s in extra]
    if net.input_layouts:
        out["input_layouts"] = {n: list(p) for n, p in net.input_layouts.items()}
    return out


def _tuple2(v: Any, where: str) -> tuple[int, int]:
    if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool)
                                                        for x in v)):
        raise ModelImportError(f"{where}: expected a pair of integers, got {v!r}")
    return (v[0], v[1])


def _nested(cls, d: Any, where: str):
    if not isinstance(d, dict):
        raise ModelImportError(f"{where}: expected an object")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ModelImportError(f"{where}: unknown key(s) {unknown}")
    kw = {}
    for k, v in d.items():
        if k in ("kernel", "stride", "pad", "dilation", "out_pad", "pad_end"):
            kw[k] = None if v is None and k in ("kernel", "pad_end") else _tuple2(v, f"{where}.{k}")
        elif isinstance(v, list):
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
                raise ModelImportError(f"{where}.{k}: expected a list of numbers")
            kw[k] = tuple(v)
        else:
            kw[k] = v
    try:
        return cls(**kw)
    except TypeError as exc:
        raise ModelImportError(f"{where}: {exc}") from None


#: the largest size (channels, outputs, kernel, stride, padding) a stored layer may give
MAX_GRAPH_DIM = 1 << 24
#: which nested parameters each layer type needs
_NEEDS = {"Convolution": "conv", "Deconvolution": "conv", "Pooling": "pool", "Unpool": "pool",
          "BatchNorm": "bn"}


def _int_in(v: Any, lo: int, at: str) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= MAX_GRAPH_DIM:
        raise ModelImportError(f"{at}: expected an integer in {lo}..{MAX_GRAPH_DIM}, got {v!r}")


def _real(v: Any, at: str) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ModelImportError(f"{at}: expected a finite number, got {v!r}")


def _flag(v: Any, at: str) -> None:
    if not isinstance(v, bool):
        raise ModelImportError(f"{at}: expected true or false, got {v!r}")


def _check_layer(lay: Layer, at: str) -> None:
    """Every field a stored layer gives, against its type and range, before the shape
    rules (which trust them) see it."""
    need = _NEEDS.get(lay.type)
    if need and getattr(lay, need) is None:
        raise ModelImportError(f"{at}: a {lay.type} layer needs its {need!r} parameters")
    cp = lay.conv
    if cp is not None:
        _int_in(cp.num_output, 1, f"{at}.conv.num_output")
        _int_in(cp.group, 1, f"{at}.conv.group")
        for k, lo in (("kernel", 1), ("stride", 1), ("pad", 0), ("dilation", 1), ("out_pad", 0)):
            for x in getattr(cp, k) or ():
                _int_in(x, lo, f"{at}.conv.{k}")
        if cp.kernel is None:
            raise ModelImportError(f"{at}.conv.kernel: missing")
        _flag(cp.bias_term, f"{at}.conv.bias_term")
    pp = lay.pool
    if pp is not None:
        if pp.method not in ("MAX", "AVE"):
            raise ModelImportError(f"{at}.pool.method: expected \"MAX\" or \"AVE\", got {pp.method!r}")
        _flag(pp.global_pooling, f"{at}.pool.global_pooling")
        _flag(pp.ceil_mode, f"{at}.pool.ceil_mode")
        _flag(pp.count_pad, f"{at}.pool.count_pad")
        for x in pp.pad_end or ():
            _int_in(x, 0, f"{at}.pool.pad_end")
        if pp.kernel is None and not pp.global_pooling:
            raise ModelImportError(f"{at}.pool.kernel: missing (and not global pooling)")
        for k, lo in (("kernel", 1), ("stride", 1), ("pad", 0)):
            for x in getattr(pp, k) or ():
                _int_in(x, lo, f"{at}.pool.{k}")
    if lay.bn is not None:
        for k in ("gamma", "beta", "mean", "var"):
            v = getattr(lay.bn, k)
            if not isinstance(v, tuple) or len(v) > MAX_GRAPH_DIM:
                raise ModelImportError(f"{at}.bn.{k}: expected a list of numbers")
            for x in v:
                _real(x, f"{at}.bn.{k}")
        _real(lay.bn.eps, f"{at}.bn.eps")
    if lay.num_output is not None:
        _int_in(lay.num_output, 1, f"{at}.num_output")
    if lay.type == "InnerProduct" and lay.num_output is None:
        raise ModelImportError(f"{at}: an InnerProduct layer needs num_output")
    _flag(lay.bias_term, f"{at}.bias_term")
    if lay.concat_axis is not None and (isinstance(lay.concat_axis, bool)
                                        or not isinstance(lay.concat_axis, int)):
        raise ModelImportError(f"{at}.concat_axis: expected an integer, got {lay.concat_axis!r}")
    _real(lay.negative_slope, f"{at}.negative_slope")
    _check_host_fields(lay, at)
    if lay.clip is not None:
        if not isinstance(lay.clip, tuple) or len(lay.clip) != 2:
            raise ModelImportError(f"{at}.clip: expected [lo, hi], got {lay.clip!r}")
        for x in lay.clip:
            _real(x, f"{at}.clip")
    if not isinstance(lay.slopes, tuple):
        raise ModelImportError(f"{at}.slopes: expected a list of numbers")
    for x in lay.slopes:
        _real(x, f"{at}.slopes")


#: the most values a stored host layer's constant or index list may hold
MAX_GRAPH_CONST = 1 << 20


def _ints(v: Any, at: str, lo: int = -MAX_GRAPH_DIM) -> None:
    if not isinstance(v, tuple) or len(v) > MAX_GRAPH_CONST:
        raise ModelImportError(f"{at}: expected a list of integers")
    for x in v:
        if isinstance(x, bool) or not isinstance(x, int) or not lo <= x <= MAX_GRAPH_DIM:
            raise ModelImportError(f"{at}: expected integers in {lo}..{MAX_GRAPH_DIM}, got {x!r}")


def _check_host_fields(lay: Layer, at: str) -> None:
    """The host / recurrent layers' fields (compressor.graph.hostops, .recurrent)."""
    if not isinstance(lay.op, str) or len(lay.op) > 32:
        raise ModelImportError(f"{at}.op: expected a short string, got {lay.op!r}")
    for k in ("alpha", "beta"):
        _real(getattr(lay, k), f"{at}.{k}")
    if lay.axis is not None and (isinstance(lay.axis, bool) or not isinstance(lay.axis, int)
                                 or abs(lay.axis) > MAX_GRAPH_DIM):
        raise ModelImportError(f"{at}.axis: expected an integer, got {lay.axis!r}")
    for k in ("axes", "starts", "ends", "steps", "indices"):
        _ints(getattr(lay, k), f"{at}.{k}")
    for k in ("dims", "const_shape"):
        _ints(getattr(lay, k), f"{at}.{k}", 0)
    if not isinstance(lay.const, tuple) or len(lay.const) > MAX_GRAPH_CONST:
        raise ModelImportError(f"{at}.const: expected at most {MAX_GRAPH_CONST} numbers")
    for x in lay.const:
        _real(x, f"{at}.const")
    for k in ("keepdims", "const_first", "reverse"):
        _flag(getattr(lay, k), f"{at}.{k}")
    if lay.hidden is not None:
        _int_in(lay.hidden, 1, f"{at}.hidden")


def _input(d: Any, where: str) -> tuple[str, list[int]]:
    if not isinstance(d, dict) or set(d) != {"name", "shape"} or not isinstance(d["name"], str) \
            or not isinstance(d["shape"], list) \
            or not all(isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= 1 << 24
                       for x in d["shape"]) or not 1 <= len(d["shape"]) <= 6:
        raise ModelImportError(f"{where}: expected {{name, shape: 1 to 6 positive integers}}")
    return d["name"], d["shape"]


def net_from_json(obj: Any, where: str = "graph") -> Net:
    """Rebuild a Net from :func:`net_to_json`'s object; ``where`` prefixes every error
    (e.g. ``"model.dcmp: meta.graph"``)."""
    if not isinstance(obj, dict) or obj.get("version") != GRAPH_VERSION:
        raise ModelImportError(f"{where}: not a version-{GRAPH_VERSION} graph object")
    inp, layers = obj.get("input"), obj.get("layers")
    if not isinstance(inp, dict) or not isinstance(inp.get("name"), str) \
            or not isinstance(inp.get("shape"), list) \
            or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 1 << 24
                       for d in inp["shape"]) or not 1 <= len(inp["shape"]) <= 6:
        raise ModelImportError(f"{where}.input: expected {{name, shape: 1 to 6 positive integers}}")
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_GRAPH_LAYERS:
        raise ModelImportError(f"{where}.layers: expected a list of 1..{MAX_GRAPH_LAYERS} layers")
    fields = {f.name for f in dataclasses.fields(Layer)} - _SKIP
    try:
        b = NetBuilder(str(obj.get("name", "graph")), inp["shape"], inp["name"])
        extra = obj.get("extra_inputs", [])
        if not isinstance(extra, list) or len(extra) > 64:
            raise ModelImportError(f"{where}.extra_inputs: expected a list of at most 64 inputs")
        for k, d in enumerate(extra):
            b.add_input(*_input(d, f"{where}.extra_inputs[{k}]"))
        lays = obj.get("input_layouts", {})
        if not isinstance(lays, dict):
            raise ModelImportError(f"{where}.input_layouts: expected an object")
        for n, perm in lays.items():
            shape = b._inputs.get(n)
            if shape is None or not isinstance(perm, list) or sorted(perm) != list(range(len(shape))):
                raise ModelImportError(f"{where}.input_layouts.{n}: expected a permutation of "
                                       "an input's axes")
            b.input_layouts[n] = tuple(perm)
        for i, d in enumerate(layers):
            at = f"{where}.layers[{i}]"
            if not isinstance(d, dict):
                raise ModelImportError(f"{at}: expected an object")
            name, typ, bots, tops = d.get("name"), d.get("type"), d.get("bottoms"), d.get("tops")
            if not (isinstance(name, str) and isinstance(typ, str)
                    and isinstance(bots, list) and all(isinstance(x, str) for x in bots)
                    and isinstance(tops, list) and all(isinstance(x, str) for x in tops)):
                raise ModelImportError(f"{at}: needs name, type (strings), bottoms, tops (lists of "
                                       "strings)")
            at = f"{where}: layer {name!r}"
            unknown = sorted(set(d) - fields - {"name", "type", "bottoms", "tops"})
            if unknown:
                raise ModelImportError(f"{at}: unknown key(s) {unknown}")
            kw: dict[str, Any] = {}
            for k, v in d.items():
                if k in _NESTED:
                    kw[k] = _nested(_NESTED[k], v, f"{at}.{k}")
                elif k in fields:
                    if isinstance(v, list):
                        if not all(isinstance(x, _SIMPLE) for x in v):
                            raise ModelImportError(f"{at}.{k}: expected a list of numbers")
                        v = tuple(v)
                    elif not isinstance(v, _SIMPLE):
                        raise ModelImportError(f"{at}.{k}: expected a number, string or list")
                    kw[k] = v
            lay = Layer(name, typ, list(bots), list(tops), 0, **kw)
            _check_layer(lay, at)
            b.add(lay)
        return check_blob_sizes(b.build(), where)
    except ModelImportError:
        raise
    except (CompressorError, TypeError, ValueError) as exc:
        raise ModelImportError(f"{where}: {exc}") from None


def graph_from_text(text: bytes | str, where: str = "graph") -> Net:
    """Parse graph JSON text (:func:`compressor.fileio.load_json`: UTF-8, no NaN/Infinity,
    at most 32 levels) and rebuild the Net; every problem a :class:`ModelImportError`
    starting with ``where``."""
    try:
        obj = load_json(text)
    except ValueError as exc:
        raise ModelImportError(f"{where}: {exc}") from None
    return net_from_json(obj, where)


def read_graph_json(path: str | pathlib.Path) -> Net:
    """A graph JSON file (a regular file of at most :data:`MAX_GRAPH_JSON_BYTES`)."""
    try:
        raw = read_regular_file(path, MAX_GRAPH_JSON_BYTES, ModelImportError, "graph JSON file")
    except FileNotFoundError:
        raise ModelImportError(f"{path}: no such file") from None
    except OSError as exc:
        raise ModelImportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return graph_from_text(raw, str(path))
