"""Trained quantization by weight sharing (Deep Compression, ICLR 2016, sec. 3).

* Per layer, the surviving (unpruned) weights are clustered by 1-D k-means; every weight
  is then stored as the index (code) of its centroid. Layers never share centroids.
* Centroid initialisation (sec. 3.2): ``'linear'`` (evenly spaced between the smallest
  and the largest weight; the paper's best choice), ``'density'`` (evenly spaced on the
  cumulative distribution of the weights), ``'random'`` (Forgy: k distinct weights drawn
  at random, seeded).
* Centroid fine-tuning (sec. 3.3, Fig. 3): the gradient of a shared centroid is the SUM
  of the gradients of all weights assigned to it; assignments stay fixed.

Code 0 is reserved for pruned weights and ``codebook[0] == 0.0`` (the contract of
:class:`compressor.model.QuantizedLayer`), so a ``bits``-bit layer has ``2**bits - 1``
clusters for its surviving weights. The kernels also work without the reserved code
(``reserve_zero=False``), as in the paper's Fig. 3 example where all ``2**bits`` codes are
clusters.

The k-means kernel exploits one dimension: with the values sorted once and the
centroids kept sorted, the assignment step is a binary search of the midpoints between
neighbouring centroids, and the update step reads cluster sums off a prefix sum, so an
iteration costs O(k log n) instead of O(n k). It is Lloyd's algorithm with the same
stopping rule as scikit-learn's ``KMeans(algorithm="lloyd")`` (stop when the labels do
not change, or when the summed squared centroid shift is at most ``tol x var(values)``)
and the same empty-cluster rule (an empty cluster is moved onto the point farthest from
its centre), so from the same initial centroids both reach the same clustering.
"""
from __future__ import annotations

import numba
import numpy as np

INITS = ("linear", "density", "random")
DEFAULT_MAX_ITER = 300
DEFAULT_TOL = 1e-4


# ---------------------------------------------------------------------------- k-means
def initial_centroids(values: np.ndarray, k: int, init: str = "linear", seed: int = 0) -> np.ndarray:
    """The ``k`` initial centroids (sorted, float64) of the paper's three methods (sec. 3.2).

    * ``linear``: ``linspace(min, max, k)``.
    * ``density``: the quantiles at levels ``(i + 0.5) / k``, i.e. evenly spaced on the
      CDF (each initial centroid stands for the same share of the weights).
    * ``random``: Forgy, ``k`` distinct observations drawn with ``numpy.random.default_rng(seed)``
      (needs ``k <= len(values)``).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if v.size == 0:
        return np.zeros(k, dtype=np.float64)
    if init == "linear":
        c = np.linspace(v.min(), v.max(), k)
    elif init == "density":
        c = np.quantile(v, (np.arange(k) + 0.5) / k)
    elif init == "random":
        if k > v.size:
            raise ValueError(f"random (Forgy) init needs k <= number of values, got k={k}, n={v.size}")
        rng = np.random.default_rng(seed)
        c = v[rng.choice(v.size, size=k, replace=False)]
    else:
        raise ValueError(f"init must be one of {INITS} or an array of centroids, got {init!r}")
    return np.sort(np.asarray(c, dtype=np.float64))


@numba.njit(cache=True)
def _lloyd_sorted(xs, centers0, max_iter, tol_abs):
    """Lloyd iterations on sorted values ``xs`` from sorted ``centers0``.

    Returns (centers sorted, n_iter, strict) where ``strict`` says the labels stopped
    changing. Cluster j holds xs[bounds[j-1]:bounds[j]] (values <= midpoint go left, as
    an argmin that prefers the lower index would do).
    """
    n = xs.shape[0]
    k = centers0.shape[0]
    ps = np.zeros(n + 1, dtype=np.float64)
    for i in range(n):
        ps[i + 1] = ps[i] + xs[i]
    c = centers0.copy()
    bounds = np.empty(k, dtype=np.int64)
    prev = np.full(k, -1, dtype=np.int64)
    sums = np.empty(k, dtype=np.float64)
    cnts = np.empty(k, dtype=np.int64)
    lo_p = np.empty(k, dtype=np.int64)
    hi_p = np.empty(k, dtype=np.int64)
    strict = False
    it = 0
    for it in range(max_iter):
        # E-step: boundaries at the midpoints of neighbouring (sorted) centres
        for j in range(k - 1):
            bounds[j] = np.searchsorted(xs, 0.5 * (c[j] + c[j + 1]), side="right")
        bounds[k - 1] = n
        # M-step: sums and counts from the prefix sum
        n_empty = 0
        lo = 0
        for j in range(k):
            hi = bounds[j]
            sums[j] = ps[hi] - ps[lo]
            cnts[j] = hi - lo
            lo_p[j] = lo
            hi_p[j] = hi - 1
            if hi == lo:
                n_empty += 1
            lo = hi
        # empty clusters: move each onto the point farthest from its (old) centre,
        # farthest first, taking that point out of its old cluster
        if n_empty > 0:
            empties = np.empty(n_empty, dtype=np.int64)
            m = 0
            for j in range(k):
                if cnts[j] == 0:
                    empties[m] = j
                    m += 1
            for e in empties:
                best = -1.0
                bj = -1
                bside = 0
                for j in range(k):
                    if lo_p[j] > hi_p[j]:
                        continue
                    dl = (xs[lo_p[j]] - c[j]) ** 2
                    dh = (xs[hi_p[j]] - c[j]) ** 2
                    if dl > best:
                        best, bj, bside = dl, j, 0
                    if dh > best:
                        best, bj, bside = dh, j, 1
                if bj < 0:
                    break  # fewer points than clusters: nothing left to move
                if bside == 0:
                    x = xs[lo_p[bj]]
                    lo_p[bj] += 1
                else:
                    x = xs[hi_p[bj]]
                    hi_p[bj] -= 1
                sums[bj] -= x
                cnts[bj] -= 1
                sums[e] = x
                cnts[e] = 1
        new_c = np.empty(k, dtype=np.float64)
        for j in range(k):
            new_c[j] = sums[j] / cnts[j] if cnts[j] > 0 else c[j]
        new_c.sort()
        same = True
        for j in range(k):
            if bounds[j] != prev[j]:
                same = False
                break
        shift = 0.0
        for j in range(k):
            shift += (new_c[j] - c[j]) ** 2
        c = new_c
        if same:
            strict = True
            break
        if shift <= tol_abs:
            break
        for j in range(k):
            prev[j] = bounds[j]
    return c, it + 1, strict


@numba.njit(cache=True)
def _assign_sorted(values, mids):
    """Index of the first midpoint >= value (= nearest of the sorted centres; ties left)."""
    out = np.empty(values.shape[0], dtype=np.int64)
    m = mids.shape[0]
    for i in range(values.shape[0]):
        x = values[i]
        lo = 0
        hi = m
        while lo < hi:
            mid = (lo + hi) >> 1
            if mids[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        out[i] = lo
    return out


def assign_to_centroids(values: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid for every value (ties go to the smaller centroid).

    ``centroids`` may be in any order; the returned labels index into it as given.
    """
    v = np.asarray(values, dtype=np.float64)
    cen = np.asarray(centroids, dtype=np.float64).ravel()
    order = np.argsort(cen, kind="stable")
    cs = cen[order]
    mids = 0.5 * (cs[:-1] + cs[1:])
    flat = np.ascontiguousarray(v.ravel())
    return order[_assign_sorted(flat, mids)].reshape(v.shape)


def kmeans_1d(values: np.ndarray, k: int, init: str | np.ndarray = "linear", seed: int = 0,
              max_iter: int = DEFAULT_MAX_ITER, tol: float = DEFAULT_TOL):
    """1-D k-means (Lloyd) of ``values`` into ``k`` clusters.

    ``init`` is one of :data:`INITS` (see :func:`initial_centroids`) or an explicit array
    of ``k`` initial centroids. ``tol`` is relative, as in scikit-learn: iteration stops
    when the summed squared centroid shift is ``<= tol * var(values)`` or when no label
    changes.

    Returns ``(centroids, labels, inertia, n_iter)``: ``centroids`` float64 sorted
    ascending, ``labels`` int64 of ``values``' shape indexing ``centroids``, ``inertia``
    the summed squared distance of the values to their centroid. When there are at most
    ``k`` distinct values, every distinct value is its own centroid (inertia 0,
    ``n_iter`` 0) and the list is padded to ``k`` by repeating the largest one.
    """
    v = np.asarray(values, dtype=np.float64)
    flat = v.ravel()
    if not np.all(np.isfinite(flat)):
        raise ValueError("k-means input contains NaN or infinity")
    if isinstance(init, str):
        c0 = None
    else:
        c0 = np.sort(np.asarray(init, dtype=np.float64).ravel())
        if c0.shape != (k,):
            raise ValueError(f"explicit init needs {k} centroids, got {c0.shape[0]}")
    if flat.size == 0:
        return (np.zeros(k) if c0 is None else c0), np.zeros(v.shape, np.int64), 0.0, 0
    xs = np.sort(flat)
    n_distinct = 1 + int(np.count_nonzero(xs[1:] != xs[:-1]))
    if n_distinct <= k:
        uniq = np.unique(xs)
        cen = np.concatenate([uniq, np.full(k - uniq.size, uniq[-1])])
        labels = np.searchsorted(uniq, flat).reshape(v.shape)
        return cen, labels.astype(np.int64), 0.0, 0
    if c0 is None:
        c0 = initial_centroids(xs, k, init, seed)
    tol_abs = float(tol) * float(np.var(xs))
    cen, n_iter, _strict = _lloyd_sorted(xs, c0, int(max_iter), tol_abs)
    labels = _assign_sorted(np.ascontiguousarray(flat), 0.5 * (cen[:-1] + cen[1:]))
    d = flat - cen[labels]
    inertia = float(np.dot(d, d))
    return cen, labels.reshape(v.shape).astype(np.int64), inertia, int(n_iter)


# --------------------------------------------------------------------- layer quantizer
def quantize_layer(w: np.ndarray, mask: np.ndarray | None, bits: int, init: str = "linear",
                   seed: int = 0, max_iter: int = DEFAULT_MAX_ITER, tol: float = DEFAULT_TOL,
                   reserve_zero: bool = True):
    """Weight sharing of one layer (Deep Compression sec. 3.1).

    ``mask`` is the pruning keep-mask (None = every weight kept). With
    ``reserve_zero=True`` (the project's contract) the kept weights are clustered into
    ``2**bits - 1`` centroids and get codes ``1..2**bits-1``; pruned weights get code 0
    and ``codebook[0] == 0.0``. With ``reserve_zero=False`` all ``2**bits`` codes are
    clusters of the kept weights (the paper's Fig. 3 form) and ``mask`` must keep every
    weight.

    Returns ``(codebook, codes)``: float32 codebook of ``2**bits`` entries sorted
    ascending from index 1 (from index 0 without the reserved code), and codes of ``w``'s
    shape (uint8 for ``bits <= 8``, else uint16).
    """
    if not 1 <= bits <= 16:
        raise ValueError(f"bits must be in 1..16, got {bits}")
    w = np.asarray(w)
    if mask is None:
        mask = np.ones(w.shape, dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != w.shape:
        raise ValueError(f"mask shape {mask.shape} does not match weight shape {w.shape}")
    n_codes = 2 ** bits
    codes = np.zeros(w.shape, dtype=np.uint8 if bits <= 8 else np.uint16)
    kept = w[mask].astype(np.float64)
    if reserve_zero:
        cen, labels, _, _ = kmeans_1d(kept, n_codes - 1, init, seed, max_iter, tol)
        codebook = np.concatenate([[0.0], cen]).astype(np.float32)
        codes[mask] = labels + 1
    else:
        if not mask.all():
            raise ValueError("reserve_zero=False has no code for pruned weights: mask must keep every weight")
        cen, labels, _, _ = kmeans_1d(kept, n_codes, init, seed, max_iter, tol)
        codebook = cen.astype(np.float32)
        codes[mask] = labels
    return codebook, codes


# ----------------------------------------------------------------- centroid fine-tuning
@numba.njit(cache=True)
def _group_sum(codes, grad, n_codes):
    out = np.zeros(n_codes, dtype=np.float64)
    for i in range(codes.shape[0]):
        c = codes[i]
        if c < 0 or c >= n_codes:
            return out, i
        out[c] += grad[i]
    return out, -1


def centroid_gradients(codes: np.ndarray, grad: np.ndarray, n_codes: int,
                       reserve_zero: bool = True) -> np.ndarray:
    """Gradient of every shared centroid: the SUM of the gradients of the weights that
    use it (Deep Compression sec. 3.3, Fig. 3: "grouped by index, reduce").

    Returns float64 of length ``n_codes``. With ``reserve_zero=True`` the entry of code 0
    (pruned weights) is always 0, so the pruned value never moves.
    """
    codes = np.asarray(codes)
    grad = np.asarray(grad, dtype=np.float64)
    if codes.shape != grad.shape:
        raise ValueError(f"codes shape {codes.shape} and gradient shape {grad.shape} differ")
    out, bad = _group_sum(np.ascontiguousarray(codes).ravel().astype(np.int64),
                          np.ascontiguousarray(grad).ravel(), int(n_codes))
    if bad >= 0:
        raise ValueError(f"code {codes.ravel()[bad]} at flat index {bad} is outside 0..{n_codes - 1}")
    if reserve_zero:
        out[0] = 0.0
    return out


def finetune_centroids(codebook: np.ndarray, codes: np.ndarray, grad: np.ndarray, lr: float,
                       reserve_zero: bool = True) -> np.ndarray:
    """One gradient step on the shared centroids (sec. 3.3): ``c -= lr * sum of grads``.

    Returns a new codebook of the input's float dtype (float32 for non-float input);
    with ``reserve_zero=True`` ``codebook[0]`` stays pinned at 0.0.
    """
    cb = np.asarray(codebook)
    dtype = cb.dtype if np.issubdtype(cb.dtype, np.floating) else np.float32
    g = centroid_gradients(codes, grad, cb.shape[0], reserve_zero=reserve_zero)
    new = (cb.astype(np.float64) - float(lr) * g).astype(dtype)
    if reserve_zero:
        new[0] = 0.0
    return new
