"""The numpy references every simulated output is checked against (the *check* stage's maths).

1. **bit-exact** integer reference: numpy on ``codebook_q`` and ``x_q`` with the same
   per-product rounding as the datapath (docs/timing.md, rule A) and the fixed-point bias;
2. **float** reference ``W_float @ x + b`` (``W_float = codebook[codes]``) and, per
   output, the bound of the fixed-point computation's error:
   ``sum_j |w_ij| |x_j - xq_j| + |xq_j| |w_ij - wq_ij|`` + half an output step per
   rounded product + the bias rounding error (ReLU and saturation do not increase it).

Both are written once, for a batch of ``P`` input vectors (a fully-connected layer has
one, a convolution one per output position), on per-layer constant arrays
(:class:`ReferenceArrays`) cached in the prepared layer. The functions take the prepared
layer (:class:`eie_sim.sim.stages.PreparedLayer`): its ``layout``, ``bias``,
``reference_from`` and ``reference_arrays(cfg)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import round_product, to_float


@dataclass
class ReferenceArrays:
    """Per-layer constants of the numpy checks, one value per non-zero weight, sorted by row.

    Built once per :class:`PreparedLayer` (:meth:`PreparedLayer.reference_arrays`) and
    reused for every input vector (LeNet images, conv positions).
    """

    c: np.ndarray            #: int64 column of each non-zero (row-sorted order)
    wq_int: np.ndarray       #: int64 fixed-point weight (codebook_q[code])
    w: np.ndarray            #: float64 weight (codebook[code])
    abs_w: np.ndarray        #: |w|
    err_w: np.ndarray        #: |w - wq|, wq = the fixed-point weight as float
    wq_nonzero: np.ndarray   #: bool wq != 0
    rows_with: np.ndarray    #: int64 rows holding at least one non-zero
    starts: np.ndarray       #: int64 start of each such row's run (np.add.reduceat)
    r: np.ndarray            #: int64 row of each non-zero (row-sorted)
    shape: tuple[int, int]   #: (rows, cols) of the layer
    _dense: dict = field(default_factory=dict, repr=False)

    @property
    def use_dense(self) -> bool:
        """Evaluate weighted row sums as dense matrix products: when the matrix is small
        and not very sparse (conv layers), BLAS beats gathering per non-zero."""
        n = self.shape[0] * self.shape[1]
        return n <= DENSE_REFERENCE_ELEMENTS and n <= 8 * max(1, self.c.size)

    def dense(self, name: str) -> np.ndarray:
        """The (rows, cols) float64 matrix holding the per-non-zero array ``name``."""
        if name not in self._dense:
            m = np.zeros(self.shape)
            m[self.r, self.c] = getattr(self, name)
            self._dense[name] = m
        return self._dense[name]


# ------------------------------------------------------------------ numpy references
#: most (vectors x non-zeros) elements one step of the batched references holds
REFERENCE_CHUNK_ELEMENTS = 1 << 22
#: largest rows x cols evaluated with dense matrix products (ReferenceArrays.use_dense)
DENSE_REFERENCE_ELEMENTS = 1 << 21


def _row_sums(values: np.ndarray, ref: ReferenceArrays, out: np.ndarray) -> None:
    """``out[:, row] += `` the sum of ``values[:, i]`` over the non-zeros ``i`` of each row."""
    if ref.starts.size:
        out[:, ref.rows_with] += np.add.reduceat(values, ref.starts, axis=1)


def _weighted_row_sums(ref: ReferenceArrays, name: str, V: np.ndarray, out: np.ndarray) -> None:
    """``out[p, i] += sum_j a_ij V[p, j]`` over the non-zeros of row ``i``, ``a`` the
    per-non-zero array ``name`` of ``ref``: a dense product or a gather + row sum, by
    :attr:`ReferenceArrays.use_dense` (the same sum either way)."""
    if ref.use_dense:
        out += V @ ref.dense(name).T
    else:
        _row_sums(V[:, ref.c] * getattr(ref, name), ref, out)


def integer_reference_batch(prep, X_q: np.ndarray, cfg: ArchConfig,
                            max_elems: int = REFERENCE_CHUNK_ELEMENTS) -> np.ndarray:
    """int64 ``(P, rows)``: accumulators as the datapath computes them, for each row of
    ``X_q``: ``bias_q`` + the sum of the individually rounded products (rule A)."""
    lay = prep.layout
    X_q = np.asarray(X_q, dtype=np.int64).reshape(-1, lay.cols)
    ref = prep.reference_arrays(cfg)
    P = X_q.shape[0]
    out = np.tile(lay.bias_q.astype(np.int64), (P, 1))
    step = max(1, max_elems // max(1, ref.c.size))
    for a in range(0, P, step):
        prod = round_product(X_q[a:a + step][:, ref.c] * ref.wq_int, cfg.weight_frac_bits)
        _row_sums(prod, ref, out[a:a + step])
    return out


@dataclass
class FloatReference:
    y: np.ndarray        #: float64 (P, rows): W_float @ x + b (no ReLU)
    bound: np.ndarray    #: float64 (P, rows): fixed-point error bound of each output
    mag: np.ndarray      #: float64 (P, rows): sum_j |w_ij x_j| (for float32 comparisons)


def float_reference_batch(prep, X: np.ndarray, X_q: np.ndarray,
                          cfg: ArchConfig, max_elems: int = REFERENCE_CHUNK_ELEMENTS) -> FloatReference:
    """``W_float @ x + b`` for each row of ``X`` and the per-output bound of the
    fixed-point computation: ``sum_j |w_ij| |x_j - xq_j| + |xq_j| |w_ij - wq_ij|`` + half
    an output step per rounded product (``xq_j != 0``, ``wq_ij != 0``) + the bias rounding
    error + float64 summation noise (``1e-12 (sum_j |w_ij x_j| + 1)``)."""
    lay = prep.layout
    X = np.asarray(X, dtype=np.float64).reshape(-1, lay.cols)
    Xq = to_float(np.asarray(X_q).reshape(-1, lay.cols), cfg.act_frac_bits)
    ref = prep.reference_arrays(cfg)
    P = X.shape[0]
    y = np.zeros((P, lay.rows))
    bound = np.zeros((P, lay.rows))
    mag = np.zeros((P, lay.rows))
    half = 0.5 ** (cfg.act_frac_bits + 1)
    step = max(1, max_elems // max(1, ref.c.size))
    for a in range(0, P, step):
        x, xq, sl = X[a:a + step], Xq[a:a + step], slice(a, a + step)
        _weighted_row_sums(ref, "w", x, y[sl])
        _weighted_row_sums(ref, "abs_w", np.abs(x), mag[sl])
        _weighted_row_sums(ref, "abs_w", np.abs(x - xq), bound[sl])
        _weighted_row_sums(ref, "err_w", np.abs(xq), bound[sl])
        bnd_half = np.zeros_like(bound[sl])
        _weighted_row_sums(ref, "wq_nonzero", (xq != 0).astype(np.float64), bnd_half)
        bound[sl] += half * bnd_half
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


def error_summary(err: np.ndarray, bound: np.ndarray) -> tuple[float, float, float]:
    """``(max error, the bound at that output, min slack = min(bound - error))``."""
    if not err.size:
        return 0.0, 0.0, 0.0
    i = int(np.argmax(err))
    return float(err.flat[i]), float(bound.flat[i]), float(np.min(bound - err))


