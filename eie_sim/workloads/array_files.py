"""Array files of the simulator's own forms: one layer in an ``.npz`` (:func:`from_npz`:
``codes`` + ``codebook``, already quantized, or a dense ``weights`` matrix, zeros = pruned,
quantized here with the compressor's k-means; optionally ``bias`` and ``x``) and an input
vector (:func:`load_input`: ``.npy``, or an ``.npz`` with ``x``). Every array is read within
the limits of :func:`compressor.npzio.read_npz`; every problem is a
:class:`~eie_sim.errors.WorkloadError` naming the file.
"""
from __future__ import annotations

import pathlib

import numpy as np

from compressor.npzio import read_npy, read_npz
from eie_sim.errors import WorkloadError
from eie_sim.workloads.layer import LayerWorkload
from eie_sim.workloads.synthetic import quantize_dense

NPZ_KEYS = ("codes", "codebook", "weights", "bias", "x")


def numeric(a: np.ndarray, path, what: str) -> np.ndarray:
    """``a`` if it holds numbers (bool, integer, float), else a :class:`WorkloadError`."""
    if a.dtype.kind not in "biuf":
        raise WorkloadError(f"{path}: {what} must hold numbers, got dtype {a.dtype}")
    return a


def from_npz(path: str | pathlib.Path, weight_bits: int = 4, seed: int = 0,
             name: str | None = None) -> LayerWorkload:
    """A layer from an ``.npz``: ``codes`` + ``codebook`` or ``weights``; ``bias``, ``x`` optional."""
    path = pathlib.Path(path)
    data = read_arrays(path, npz=True)
    unknown = sorted(set(data) - set(NPZ_KEYS))
    if unknown:
        raise WorkloadError(f"{path}: unknown array(s) {unknown}; allowed: {', '.join(NPZ_KEYS)}")
    name = name or path.stem
    if "weights" in data:
        if "codes" in data or "codebook" in data:
            raise WorkloadError(f"{path}: give either weights or codes + codebook, not both")
        w = data["weights"]
        if w.ndim != 2 or w.dtype.kind not in "fiu" or 0 in w.shape:
            raise WorkloadError(f"{path}: weights must be a 2-D numeric (rows, cols) matrix, "
                                f"got shape {w.shape} dtype {w.dtype}")
        if not np.all(np.isfinite(w)):
            raise WorkloadError(f"{path}: weights contain NaN or infinity")
        codebook, codes = quantize_dense(w, weight_bits, seed)
        bits, kind = weight_bits, "npz-dense (quantized here by k-means)"
    elif "codes" in data and "codebook" in data:
        numeric(data["codebook"], path, "codebook")
        codes, codebook = data["codes"], data["codebook"].astype(np.float32).reshape(-1)
        if codes.ndim != 2 or codes.dtype.kind not in "iu" or 0 in codes.shape:
            raise WorkloadError(f"{path}: codes must be a 2-D integer (rows, cols) matrix, "
                                f"got shape {codes.shape} dtype {codes.dtype}")
        if codebook.size == 0 or codebook[0] != 0.0:
            raise WorkloadError(f"{path}: codebook[0] must be 0.0 (code 0 = pruned)")
        if codes.size and (codes.min() < 0 or codes.max() >= codebook.size):
            raise WorkloadError(f"{path}: codes must lie in 0..{codebook.size - 1}")
        if not np.all(np.isfinite(codebook)):
            raise WorkloadError(f"{path}: codebook contains NaN or infinity")
        bits, kind = None, "npz-quantized"
    else:
        raise WorkloadError(f"{path}: needs 'codes' and 'codebook', or 'weights' (has {sorted(data)})")
    rows, cols = codes.shape
    bias = data.get("bias")
    if bias is not None:
        bias = numeric(bias, path, "bias").astype(np.float32).reshape(-1)
        if bias.shape != (rows,):
            raise WorkloadError(f"{path}: bias has {bias.size} values for {rows} rows")
        if not np.all(np.isfinite(bias)):
            raise WorkloadError(f"{path}: bias contains NaN or infinity (or a value beyond float32)")
    x = data.get("x")
    if x is not None:
        x = numeric(x, path, "x").astype(np.float64).reshape(-1)
        if x.shape != (cols,):
            raise WorkloadError(f"{path}: x has {x.size} values for {cols} columns")
        if not np.all(np.isfinite(x)):
            raise WorkloadError(f"{path}: x contains NaN or infinity")
    return LayerWorkload(name=name, codes=np.asarray(codes), codebook=codebook, bias=bias, x=x,
                         synthetic=False, source={"kind": kind, "path": str(path), "seed": seed},
                         bits=bits)


def read_arrays(path: pathlib.Path, npz: bool):
    """The arrays of an ``.npz`` (dict) or one ``.npy`` array, read within the limits of
    :func:`compressor.npzio.read_npz` (every member a real ``.npy``, declared sizes
    checked before reading, native byte order); any problem is a :class:`WorkloadError`."""
    try:
        return read_npz(path, WorkloadError) if npz else read_npy(path, WorkloadError)
    except FileNotFoundError:
        raise WorkloadError(f"{path}: file not found") from None
    except OSError as exc:
        raise WorkloadError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _legacy_npz(path: pathlib.Path) -> bool:
    """True for the simulator's older one-layer ``.npz`` form (arrays among
    :data:`NPZ_KEYS`, with ``weights`` or ``codes``); False for the project's convention."""
    data = read_arrays(path, npz=True)
    return set(data) <= set(NPZ_KEYS) and ("weights" in data or "codes" in data)


def load_input(path: str | pathlib.Path, cols: int | None) -> np.ndarray:
    """An input vector from ``.npy`` (or ``.npz`` with array ``x``) of length ``cols``
    (``None``: any length, flattened)."""
    path = pathlib.Path(path)
    if path.suffix == ".npz":
        z = read_arrays(path, npz=True)
        if "x" not in z:
            raise WorkloadError(f"{path}: no array 'x' (has {sorted(z)})")
        x = z["x"]
    else:
        x = read_arrays(path, npz=False)
    x = numeric(np.asarray(x), path, "the input").astype(np.float64).reshape(-1)
    if cols is not None and x.size != cols:
        raise WorkloadError(f"{path}: input has {x.size} values but the first layer has {cols} inputs")
    if not np.all(np.isfinite(x)):
        raise WorkloadError(f"{path}: input contains NaN or infinity")
    return x
