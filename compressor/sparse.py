"""Relative-index sparse encoding of a layer's code tensor (Deep Compression sec. 2;
EIE, ISCA 2016, sec. III-B).

The code tensor is flattened in one of three orders and stored as ONE stream of
entries over the flattened tensor:

* ``"csc"``: column-major over an fc weight ``(out, in)`` (EIE's form: column j is the
  weights that input activation j multiplies), i.e. ``codes.ravel(order="F")``;
* ``"csr"``: row-major over an fc weight, ``codes.ravel(order="C")``;
* ``"c"``: C order of a tensor of any rank (conv ``(out, in, kh, kw)``: output channel,
  input channel, kernel row, kernel column), as in the authors' released files.

Each entry holds a weight code and a relative index: the number of zeros between the
previous entry and this one (the first entry counts from the start). With a ``b``-bit
index the stored value lies in ``0..2**b - 1``; a gap of ``2**b`` zeros or more does not
fit, and a *filler* entry (code 0, value ``2**b - 1``) is inserted, which lands ``2**b``
positions after the previous entry; as many fillers as needed. Positions are therefore
``cumsum(value + 1) - 1`` (the authors' "gap - 1" convention), and a filler decodes to
code 0, i.e. the pruned value 0.0. Trailing zeros after the last entry are not stored:
the tensor's shape is. Column boundaries are not marked in the stream itself (a reader
that needs CSC column pointers recovers them from the positions).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

ORDERS = ("csc", "csr", "c")


@dataclass
class SparseStream:
    """The entries of one relative-indexed layer.

    ``codes`` (uint8, or uint16 for codes above 255) and ``gaps`` (uint8, or uint16 for
    ``index_bits > 8``) have one element per entry, fillers included; ``gaps[i]`` is the
    number of zeros before entry ``i`` since entry ``i - 1``.
    """

    codes: np.ndarray
    gaps: np.ndarray
    n_entries: int
    n_fillers: int
    shape: tuple[int, ...]
    order: str
    index_bits: int

    @property
    def nnz(self) -> int:
        return self.n_entries - self.n_fillers

    def positions(self) -> np.ndarray:
        """Flat positions (in :attr:`order`) of the entries: ``cumsum(gap + 1) - 1``."""
        return np.cumsum(self.gaps.astype(np.int64) + 1) - 1


def default_order(kind: str) -> str:
    """The order the project uses for a layer kind: EIE's CSC for fc, C order for conv."""
    return "csc" if kind == "fc" else "c"


def layer_order(layer) -> str:
    """Order of a :class:`~compressor.model.QuantizedLayer`: ``layer.meta["order"]`` when
    set, else :func:`default_order` of its kind."""
    return layer.meta.get("order", default_order(layer.kind))


def flatten(codes: np.ndarray, order: str) -> np.ndarray:
    """The code tensor as the 1-D sequence the stream runs over (see module doc)."""
    codes = np.asarray(codes)
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    if order in ("csc", "csr") and codes.ndim != 2:
        raise ValueError(f"order {order!r} needs a 2-D (out, in) tensor, got shape {codes.shape}; "
                         f"use order 'c' for conv tensors")
    return codes.ravel(order="F" if order == "csc" else "C")


def unflatten(flat: np.ndarray, shape: tuple[int, ...], order: str) -> np.ndarray:
    """Inverse of :func:`flatten`."""
    return np.asarray(flat).reshape(shape, order="F" if order == "csc" else "C")


@numba.njit(cache=True)
def _encode_kernel(pos, vals, max_gap, out_codes, out_gaps):
    prev = -1
    m = 0
    span = max_gap + 1
    for i in range(pos.shape[0]):
        gap = pos[i] - prev - 1
        while gap > max_gap:
            out_codes[m] = 0
            out_gaps[m] = max_gap
            m += 1
            gap -= span
        out_codes[m] = vals[i]
        out_gaps[m] = gap
        m += 1
        prev = pos[i]
    return m


def encode(codes: np.ndarray, index_bits: int, order: str) -> SparseStream:
    """Relative-index encoding of a code tensor (non-zero code = stored entry).

    ``index_bits`` in 1..16. See the module docstring for the stream's definition.
    """
    if not 1 <= index_bits <= 16:
        raise ValueError(f"index_bits must be in 1..16, got {index_bits}")
    codes = np.asarray(codes)
    if codes.size and codes.min() < 0:
        raise ValueError("codes must be non-negative")
    flat = flatten(codes, order)
    pos = np.flatnonzero(flat).astype(np.int64)
    vals = flat[pos]
    span = 2 ** index_bits
    prev = np.concatenate([[-1], pos[:-1]])
    n_fill = int(np.sum((pos - prev - 1) // span)) if pos.size else 0
    n = pos.size + n_fill
    code_dtype = np.uint8 if (vals.size == 0 or vals.max() < 256) else np.uint16
    gap_dtype = np.uint8 if index_bits <= 8 else np.uint16
    out_codes = np.empty(n, dtype=code_dtype)
    out_gaps = np.empty(n, dtype=gap_dtype)
    m = _encode_kernel(pos, vals.astype(code_dtype), span - 1, out_codes, out_gaps)
    assert m == n
    return SparseStream(out_codes, out_gaps, n, n_fill, tuple(codes.shape), order, int(index_bits))


def decode(stream: SparseStream) -> np.ndarray:
    """The code tensor of a :class:`SparseStream` (zeros everywhere no entry lands).

    Raises ``ValueError`` when the stream does not fit its shape (an entry lands past
    the end, a gap does not fit ``index_bits``) or when array lengths disagree.
    """
    if stream.order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {stream.order!r}")
    codes = np.asarray(stream.codes)
    gaps = np.asarray(stream.gaps)
    if codes.shape != (stream.n_entries,) or gaps.shape != (stream.n_entries,):
        raise ValueError(f"stream says {stream.n_entries} entries but holds {codes.shape[0]} codes "
                         f"and {gaps.shape[0]} gaps")
    if gaps.size and int(gaps.max()) >= 2 ** stream.index_bits:
        raise ValueError(f"gap value {int(gaps.max())} does not fit {stream.index_bits} index bits")
    size = math.prod(int(d) for d in stream.shape)  # Python ints: no int64 overflow
    pos = stream.positions()
    if pos.size and pos[-1] >= size:
        raise ValueError(f"entry {int(np.argmax(pos >= size))} lands at flat position {int(pos[-1])} "
                         f"past the end of a tensor of {size} elements (shape {stream.shape})")
    flat = np.zeros(size, dtype=codes.dtype if codes.size else np.uint8)
    flat[pos] = codes
    return unflatten(flat, tuple(stream.shape), stream.order)
