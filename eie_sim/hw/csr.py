"""A layer's weight codes as compressed sparse rows: the form every stage works from.

EIE stores only the non-zero weights; so does the simulator. A layer is held end to end
as :class:`CodesCSR` (row pointers, column indices, the non-zero codes in row-major
order), never as a dense ``rows x cols`` matrix: the layout (:mod:`eie_sim.hw.layout`)
counts and places entries straight from it, the numpy checks
(:mod:`eie_sim.sim.references`) sum over it, and synthetic layers are generated in it.
A dense code matrix given by a user is converted once (:meth:`CodesCSR.from_dense`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eie_sim.errors import WorkloadError


@dataclass(frozen=True)
class CodesCSR:
    """Non-zero weight codes of a ``(rows, cols)`` matrix, row by row, columns increasing.

    Row ``i`` holds entries ``indptr[i] .. indptr[i+1]``: columns ``indices[e]`` and codes
    ``data[e]`` (all non-zero; code 0 means "pruned" and is never stored).
    """

    shape: tuple[int, int]
    indptr: np.ndarray     #: int64 (rows + 1,)
    indices: np.ndarray    #: int32 (nnz,) column of each non-zero
    data: np.ndarray       #: uint8 or uint16 (nnz,) code of each non-zero

    @classmethod
    def from_dense(cls, codes: np.ndarray) -> "CodesCSR":
        """From a dense ``(rows, cols)`` integer (or integral) code matrix."""
        codes = np.asarray(codes)
        if codes.ndim != 2:
            raise WorkloadError(f"expected a 2-D (rows, cols) code matrix, got shape {codes.shape}")
        if codes.dtype.kind == "f":
            if not np.all(np.isfinite(codes)) or np.any(codes != np.round(codes)):
                raise WorkloadError("weight codes must be integers")
        elif codes.dtype.kind not in "iub":
            raise WorkloadError(f"weight codes must be integers, got {codes.dtype}")
        r, c = np.nonzero(codes)
        return cls.from_coo(r, c, codes[r, c], codes.shape)

    @classmethod
    def from_coo(cls, rows: np.ndarray, cols: np.ndarray, codes: np.ndarray,
                 shape: tuple[int, int]) -> "CodesCSR":
        """From the coordinates of the non-zeros **in row-major order** (``np.nonzero``'s)."""
        n_rows, n_cols = (int(v) for v in shape)
        rows = np.asarray(rows, dtype=np.int64)
        codes = np.asarray(codes)
        if codes.size and (codes.min() < 0 or codes.max() > np.iinfo(np.uint16).max):
            raise WorkloadError(f"weight codes must lie in 0..65535, got {codes.min()}..{codes.max()}")
        dtype = np.uint8 if not codes.size or codes.max() <= 255 else np.uint16
        keep = codes != 0
        if not np.all(keep):
            rows, cols, codes = rows[keep], np.asarray(cols)[keep], codes[keep]
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
        return cls((n_rows, n_cols), indptr, np.ascontiguousarray(cols, dtype=np.int32),
                   np.ascontiguousarray(codes, dtype=dtype))

    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def cols(self) -> int:
        return self.shape[1]

    @property
    def nnz(self) -> int:
        return int(self.indices.size)

    @property
    def size(self) -> int:
        """``rows x cols`` (the dense size)."""
        return self.shape[0] * self.shape[1]

    def row_ids(self) -> np.ndarray:
        """int64 (nnz,): the row of every non-zero."""
        return np.repeat(np.arange(self.rows, dtype=np.int64), np.diff(self.indptr))

    def dense(self) -> np.ndarray:
        """The dense ``(rows, cols)`` code matrix (for small layers, tests and reports)."""
        out = np.zeros(self.shape, dtype=self.data.dtype)
        out[self.row_ids(), self.indices] = self.data
        return out
