"""The numpy references every simulated output is checked against (the *check* stage's maths).

1. **bit-exact** integer reference: ``bias_q`` + the sum over the row's non-zeros of the
   product ``codebook_q[code] x x_q`` rounded on its own, as the datapath does it
   (docs/timing.md, rule A; :func:`eie_sim.arch.fixed_point.round_product`);
2. **float** reference ``W_float @ x + b`` (``W_float = codebook[codes]``) and, per
   output, the bound of the fixed-point computation's error:
   ``sum_j |w_ij| |x_j - xq_j| + |xq_j| |w_ij - wq_ij|`` + half an output step per
   rounded product (``xq_j != 0``, ``wq_ij != 0``) + the bias rounding error + float64
   summation noise ``1e-12 (sum_j |w_ij x_j| + 1)`` (ReLU and saturation do not increase
   it).

Both are computed straight from the layer's sparse form (:class:`~eie_sim.hw.csr.CodesCSR`,
row by row over the non-zeros) in numba, for ``P`` input vectors at once (a fully-connected
layer has one, a convolution one per output position), the vectors in parallel. Nothing is
densified: the cost is ``P x nnz``. The functions take the prepared layer
(:class:`eie_sim.sim.stages.PreparedLayer`): its ``layout``, ``codes``, ``bias`` and
``reference_from``. A straightforward dense numpy version of the same formulas is the
oracle in the tests.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import to_float


@numba.njit(cache=True, nogil=True, parallel=True)
def _integer_kernel(indptr, indices, data, codebook_q, X_q, bias_q, shift):
    """``out[p, r] = bias_q[r] + sum_e round(codebook_q[data[e]] * X_q[p, indices[e]])``."""
    P = X_q.shape[0]
    rows = indptr.shape[0] - 1
    out = np.empty((P, rows), dtype=np.int64)
    half = np.int64(1) << (shift - 1) if shift > 0 else np.int64(0)
    for p in numba.prange(P):
        for r in range(rows):
            s = bias_q[r]
            for e in range(indptr[r], indptr[r + 1]):
                prod = codebook_q[data[e]] * X_q[p, indices[e]]
                if shift > 0:
                    prod = (prod + half) >> shift
                s += prod
            out[p, r] = s
    return out


@numba.njit(cache=True, nogil=True, parallel=True)
def _float_kernel(indptr, indices, data, codebook, codebook_wq, X, Xq, half):
    """Per vector and row: ``y = sum w x``, ``mag = sum |w x|`` and the rounding bound
    ``sum |w| |x - xq| + |xq| |w - wq| + half [xq != 0 and wq != 0]``."""
    P = X.shape[0]
    rows = indptr.shape[0] - 1
    y = np.zeros((P, rows))
    mag = np.zeros((P, rows))
    bound = np.zeros((P, rows))
    for p in numba.prange(P):
        for r in range(rows):
            sy = 0.0
            sm = 0.0
            sb = 0.0
            for e in range(indptr[r], indptr[r + 1]):
                j = indices[e]
                w = codebook[data[e]]
                wq = codebook_wq[data[e]]
                x = X[p, j]
                xq = Xq[p, j]
                sy += w * x
                sm += abs(w * x)
                sb += abs(w) * abs(x - xq) + abs(xq) * abs(w - wq)
                if xq != 0.0 and wq != 0.0:
                    sb += half
            y[p, r] = sy
            mag[p, r] = sm
            bound[p, r] = sb
    return y, mag, bound


def integer_reference_batch(prep, X_q: np.ndarray, cfg: ArchConfig) -> np.ndarray:
    """int64 ``(P, rows)``: accumulators as the datapath computes them, for each row of
    ``X_q``: ``bias_q`` + the sum of the individually rounded products (rule A)."""
    lay, m = prep.layout, prep.codes
    X_q = np.ascontiguousarray(np.asarray(X_q, dtype=np.int64).reshape(-1, lay.cols))
    return _integer_kernel(m.indptr, m.indices, m.data,
                           np.ascontiguousarray(lay.codebook_q, dtype=np.int64), X_q,
                           np.ascontiguousarray(lay.bias_q, dtype=np.int64),
                           int(cfg.weight_frac_bits))


@dataclass
class FloatReference:
    y: np.ndarray        #: float64 (P, rows): W_float @ x + b (no ReLU)
    bound: np.ndarray    #: float64 (P, rows): fixed-point error bound of each output
    mag: np.ndarray      #: float64 (P, rows): sum_j |w_ij x_j| (for float32 comparisons)


def float_reference_batch(prep, X: np.ndarray, X_q: np.ndarray, cfg: ArchConfig) -> FloatReference:
    """``W_float @ x + b`` for each row of ``X`` and the per-output bound of the
    fixed-point computation (see the module docstring)."""
    lay, m = prep.layout, prep.codes
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float64).reshape(-1, lay.cols))
    Xq = np.ascontiguousarray(to_float(np.asarray(X_q).reshape(-1, lay.cols), cfg.act_frac_bits))
    wq = to_float(lay.codebook_q, cfg.weight_frac_bits).astype(np.float64)
    y, mag, bound = _float_kernel(m.indptr, m.indices, m.data, prep.codebook, wq, X, Xq,
                                  0.5 ** (cfg.act_frac_bits + 1))
    if prep.bias is not None:
        y += prep.bias
        bound += np.abs(prep.bias - to_float(lay.bias_q, cfg.act_frac_bits))
    bound += 1e-12 * (mag + 1.0)
    return FloatReference(y, bound, mag)


def integer_reference(prep, x_q: np.ndarray, cfg: ArchConfig) -> np.ndarray:
    """:func:`integer_reference_batch` of one input vector: int64 ``(rows,)``."""
    return integer_reference_batch(prep, np.asarray(x_q)[None, :], cfg)[0]


def float_reference(prep, x: np.ndarray, x_q: np.ndarray, cfg: ArchConfig
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``(W_float @ x + b, per-row error bound)`` of one input vector
    (:func:`float_reference_batch` with one row)."""
    fr = float_reference_batch(prep, np.asarray(x)[None, :], np.asarray(x_q)[None, :], cfg)
    return fr.y[0], fr.bound[0]
