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
def _reference_kernel(indptr, indices, data, codebook_q, bias_q, shift, codebook, cb_abs,
                      cb_err, cb_nonzero, X_q, X, dX, aXq, half):
    """Both references in one traversal of the non-zeros, per vector ``p`` and row ``r``:

    ``acc = bias_q + sum round(codebook_q[v] x_q)`` (int64), ``y = sum w x``,
    ``mag = sum |w x|`` and ``bound = sum |w| |x - xq| + |w - wq| |xq| + half [xq != 0,
    wq != 0]``, with the per-code tables ``cb_abs = |w|``, ``cb_err = |w - wq|``,
    ``cb_nonzero = [wq != 0]`` and the per-input ``dX = |x - xq|``, ``aXq = |xq|``.
    """
    P = X_q.shape[0]
    rows = indptr.shape[0] - 1
    acc = np.empty((P, rows), dtype=np.int64)
    y = np.empty((P, rows))
    mag = np.empty((P, rows))
    bound = np.empty((P, rows))
    rnd = np.int64(1) << (shift - 1) if shift > 0 else np.int64(0)
    for i in numba.prange(P * rows):      # (vector, row) pairs: parallel for one vector too
        p = i // rows
        r = i - p * rows
        si = bias_q[r]
        sy = 0.0
        sm = 0.0
        sb = 0.0
        for e in range(indptr[r], indptr[r + 1]):
            j = indices[e]
            v = data[e]
            prod = codebook_q[v] * X_q[p, j]
            if shift > 0:
                prod = (prod + rnd) >> shift
            si += prod
            w = codebook[v]
            x = X[p, j]
            sy += w * x
            sm += abs(w * x)
            sb += cb_abs[v] * dX[p, j] + cb_err[v] * aXq[p, j]
            if cb_nonzero[v] and aXq[p, j] != 0.0:
                sb += half
        acc[p, r] = si
        y[p, r] = sy
        mag[p, r] = sm
        bound[p, r] = sb
    return acc, y, mag, bound


@dataclass
class FloatReference:
    y: np.ndarray        #: float64 (P, rows): W_float @ x + b (no ReLU)
    bound: np.ndarray    #: float64 (P, rows): fixed-point error bound of each output
    mag: np.ndarray      #: float64 (P, rows): sum_j |w_ij x_j| (for float32 comparisons)


def references_batch(prep, X: np.ndarray, X_q: np.ndarray,
                     cfg: ArchConfig) -> tuple[np.ndarray, FloatReference]:
    """``(integer reference (P, rows) int64, float reference)`` for each row of ``X``
    (float inputs) and ``X_q`` (their fixed-point values), in one pass over the non-zeros."""
    lay, m = prep.layout, prep.codes
    X_q = np.ascontiguousarray(np.asarray(X_q, dtype=np.int64).reshape(-1, lay.cols))
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float64).reshape(-1, lay.cols))
    Xq = to_float(X_q, cfg.act_frac_bits)
    wq = to_float(lay.codebook_q, cfg.weight_frac_bits).astype(np.float64)
    cb = prep.codebook
    acc, y, mag, bound = _reference_kernel(
        m.indptr, m.indices, m.data, np.ascontiguousarray(lay.codebook_q, dtype=np.int64),
        np.ascontiguousarray(lay.bias_q, dtype=np.int64), int(cfg.product_shift), cb,
        np.abs(cb), np.abs(cb - wq), wq != 0, X_q, X, np.abs(X - Xq), np.abs(Xq),
        0.5 ** (cfg.output_frac_bits + 1))
    if prep.bias is not None:
        y += prep.bias
        bound += np.abs(prep.bias - to_float(lay.bias_q, cfg.output_frac_bits))
    bound += 1e-12 * (mag + 1.0)
    return acc, FloatReference(y, bound, mag)


def integer_reference_batch(prep, X_q: np.ndarray, cfg: ArchConfig) -> np.ndarray:
    """int64 ``(P, rows)``: accumulators as the datapath computes them, for each row of
    ``X_q``: ``bias_q`` + the sum of the individually rounded products (rule A)."""
    X_q = np.asarray(X_q, dtype=np.int64).reshape(-1, prep.layout.cols)
    return references_batch(prep, to_float(X_q, cfg.act_frac_bits), X_q, cfg)[0]


def float_reference_batch(prep, X: np.ndarray, X_q: np.ndarray, cfg: ArchConfig) -> FloatReference:
    """``W_float @ x + b`` for each row of ``X`` and the per-output bound of the
    fixed-point computation (see the module docstring)."""
    return references_batch(prep, X, X_q, cfg)[1]


def integer_reference(prep, x_q: np.ndarray, cfg: ArchConfig) -> np.ndarray:
    """:func:`integer_reference_batch` of one input vector: int64 ``(rows,)``."""
    return integer_reference_batch(prep, np.asarray(x_q)[None, :], cfg)[0]


def float_reference(prep, x: np.ndarray, x_q: np.ndarray, cfg: ArchConfig
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``(W_float @ x + b, per-row error bound)`` of one input vector
    (:func:`float_reference_batch` with one row)."""
    fr = float_reference_batch(prep, np.asarray(x)[None, :], np.asarray(x_q)[None, :], cfg)
    return fr.y[0], fr.bound[0]
