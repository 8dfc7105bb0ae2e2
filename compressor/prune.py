"""Magnitude pruning (Han et al., NIPS 2015, "Learning both Weights and Connections";
Deep Compression, ICLR 2016, sec. 2).

The rule of the NIPS 2015 paper: per layer, remove every connection whose magnitude is
below a threshold, where the threshold is a *quality parameter* times the standard
deviation of that layer's weights. :func:`prune_mask` also offers a target-density mode
(keep exactly the given fraction of the layer, the largest magnitudes), which is the
convenient way to reproduce the paper's "weights % kept" columns.

Pruned weights are exactly ``0.0`` (:func:`apply_mask`); during retraining the caller
multiplies gradients by the same mask so they stay there.

Structured rules (:func:`structured_mask`, selected by :attr:`LayerSpec.structure`):
N:M along the input dimension (:func:`nm_mask`), ``r x c`` blocks (:func:`block_mask`) and
ESE's load-balance-aware pruning over EIE's PE row interleaving (:func:`balanced_mask`;
Han et al., FPGA 2017).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def threshold_for_quality(w: np.ndarray, quality: float, *, nonzero_only: bool = False) -> float:
    """Pruning threshold ``quality x std(w)`` of one layer (NIPS 2015, sec. 3).

    ``std`` is the population standard deviation of all of the layer's weights. With
    ``nonzero_only=True`` the weights that are already exactly zero (pruned in an earlier
    round of iterative pruning) are left out of the statistic.
    """
    if quality < 0 or not np.isfinite(quality):
        raise ValueError(f"quality must be a finite number >= 0, got {quality!r}")
    w = np.asarray(w, dtype=np.float64)
    if nonzero_only:
        w = w[w != 0]
    if w.size == 0:
        return 0.0
    return float(quality) * float(np.std(w))


def prune_mask(w: np.ndarray, *, quality: float | None = None, density: float | None = None,
               nonzero_only: bool = False) -> np.ndarray:
    """Boolean keep-mask of one layer (True = connection survives).

    Exactly one of the two modes:

    * ``quality``: the NIPS 2015 rule. Threshold ``t = quality x std(w)``
      (:func:`threshold_for_quality`); a weight survives iff ``|w| > t``, so a weight
      lying exactly on the threshold is removed and ``quality=0`` removes only the
      weights that are already exactly zero.
    * ``density``: keep the ``round(density x w.size)`` weights of largest magnitude
      (ties at the cut are broken deterministically: the same input gives the same mask).
    """
    if (quality is None) == (density is None):
        raise ValueError("give exactly one of quality= or density=")
    w = np.asarray(w)
    a = np.abs(w)
    if quality is not None:
        t = threshold_for_quality(w, quality, nonzero_only=nonzero_only)
        return a > t
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must lie in [0, 1], got {density!r}")
    n = w.size
    k = int(round(density * n))
    mask = np.zeros(n, dtype=bool)
    if k >= n:
        mask[:] = True
    elif k > 0:
        flat = a.ravel()
        # argpartition is O(n) and deterministic for given data.
        keep = np.argpartition(-flat, k - 1)[:k]
        mask[keep] = True
    return mask.reshape(w.shape)


def apply_mask(w: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Copy of ``w`` with the pruned weights (``mask == False``) set to exactly +0.0."""
    w = np.asarray(w)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != w.shape:
        raise ValueError(f"mask shape {mask.shape} does not match weight shape {w.shape}")
    return np.where(mask, w, np.zeros((), dtype=w.dtype))


# ----------------------------------------------------------------------- structured rules
# Every structured rule views a layer as the matrix EIE stores: one row per output
# (neuron or output channel), one column per input (a conv kernel's (in, kh, kw) unrolled in
# C order, as im2col does), i.e. ``w.reshape(out, -1)``.

@dataclass(frozen=True)
class Structure:
    """A parsed structured-pruning rule (see :func:`parse_structure`).

    ``kind`` is ``"nm"`` (``n`` of every ``m`` consecutive inputs of a row survive),
    ``"block"`` (whole ``rows x cols`` blocks survive or go) or ``"balance"`` (ESE's
    load-balance-aware pruning over ``pes`` PEs, ``scope`` ``"column"`` or ``"layer"``).
    """

    kind: str
    n: int = 0
    m: int = 0
    rows: int = 0
    cols: int = 0
    pes: int = 0
    scope: str = "column"

    def __str__(self) -> str:
        if self.kind == "nm":
            return f"{self.n}:{self.m}"
        if self.kind == "block":
            return f"block:{self.rows}x{self.cols}"
        return f"balance:{self.pes}:{self.scope}"

    @property
    def fixed_density(self) -> float | None:
        """The density the rule itself fixes (N:M: ``n/m``), else None."""
        return self.n / self.m if self.kind == "nm" else None


def parse_structure(text: str) -> Structure:
    """Parse a structure string: ``"N:M"`` (e.g. ``"2:4"``), ``"block:RxC"`` (e.g.
    ``"block:4x4"``), ``"balance:P"`` or ``"balance:P:column"`` / ``"balance:P:layer"``.

    Raises ValueError naming the problem for anything else."""
    s = str(text).strip().lower()

    def _int(v: str, what: str) -> int:
        try:
            i = int(v)
        except ValueError:
            raise ValueError(f"structure {text!r}: {what} {v!r} is not an integer") from None
        if i < 1:
            raise ValueError(f"structure {text!r}: {what} must be >= 1, got {i}")
        return i

    if s.startswith("block:"):
        dims = s[len("block:"):].split("x")
        if len(dims) != 2:
            raise ValueError(f"structure {text!r}: a block is given as block:RxC (e.g. block:4x4)")
        return Structure("block", rows=_int(dims[0], "block rows"), cols=_int(dims[1], "block cols"))
    if s.startswith("balance:"):
        parts = s[len("balance:"):].split(":")
        if len(parts) not in (1, 2):
            raise ValueError(f"structure {text!r}: give balance:P or balance:P:column|layer")
        scope = parts[1] if len(parts) == 2 else "column"
        if scope not in ("column", "layer"):
            raise ValueError(f"structure {text!r}: balance scope must be column or layer, got {scope!r}")
        return Structure("balance", pes=_int(parts[0], "PE count"), scope=scope)
    parts = s.split(":")
    if len(parts) == 2:
        n, m = _int(parts[0], "N"), _int(parts[1], "M")
        if n > m:
            raise ValueError(f"structure {text!r}: N:M needs N <= M")
        return Structure("nm", n=n, m=m)
    raise ValueError(f"unknown structure {text!r}; use N:M (e.g. 2:4), block:RxC (e.g. block:4x4) "
                     "or balance:P[:column|layer]")


def _as_matrix(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w)
    if w.ndim < 2:
        raise ValueError(f"structured pruning needs a 2-D or 4-D weight, got shape {w.shape}")
    return w.reshape(w.shape[0], -1)


def _top_k_per_row(a: np.ndarray, k: np.ndarray | int) -> np.ndarray:
    """Mask keeping the ``k`` largest entries of every row of ``a`` (``k`` per row or one
    value); ties broken by position (a stable sort), so the same input gives the same mask."""
    order = np.argsort(-a, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(a.shape[1])[None, :].repeat(a.shape[0], 0), axis=1)
    k = np.broadcast_to(np.asarray(k).reshape(-1, 1), (a.shape[0], 1))
    return ranks < k


def nm_mask(w: np.ndarray, n: int, m: int, *, old: np.ndarray | None = None) -> np.ndarray:
    """N:M keep-mask: in every row, each group of ``m`` consecutive inputs keeps its ``n``
    largest magnitudes (NVIDIA's 2:4 sparsity and its generalisation). A trailing group of
    ``L < m`` inputs keeps at most ``min(n, L)``. With ``old``, only survivors of ``old``
    can stay (the result is a subset of ``old``, so a group may keep fewer than ``n``)."""
    if not 1 <= n <= m:
        raise ValueError(f"N:M needs 1 <= N <= M, got {n}:{m}")
    a = np.abs(_as_matrix(w)).astype(np.float64)
    ok = np.ones_like(a, dtype=bool) if old is None else _as_matrix(np.asarray(old, dtype=bool))
    a = np.where(ok, a, -1.0)            # pruned entries rank last
    rows, cols = a.shape
    groups = -(-cols // m)
    pad = groups * m - cols
    ap = np.pad(a, ((0, 0), (0, pad)), constant_values=-2.0).reshape(rows * groups, m)
    keep = _top_k_per_row(ap, n).reshape(rows, groups * m)[:, :cols]
    return (keep & ok).reshape(np.shape(w))


def block_mask(w: np.ndarray, rows: int, cols: int, density: float, *,
               old: np.ndarray | None = None) -> np.ndarray:
    """Block keep-mask: the matrix is cut into ``rows x cols`` blocks (edge blocks smaller);
    blocks are ranked by the L2 norm of their (surviving) weights and kept, largest first,
    until the kept blocks hold ``round(density x size)`` weights (the last block kept may
    overshoot by less than one block). With ``old`` only survivors of ``old`` stay."""
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must lie in [0, 1], got {density!r}")
    mat = _as_matrix(w).astype(np.float64)
    ok = np.ones(mat.shape, dtype=bool) if old is None else _as_matrix(np.asarray(old, dtype=bool))
    mat = np.where(ok, mat, 0.0)
    R, C = mat.shape
    br, bc = -(-R // rows), -(-C // cols)
    padded = np.zeros((br * rows, bc * cols))
    padded[:R, :C] = mat ** 2
    score = padded.reshape(br, rows, bc, cols).sum(axis=(1, 3)).ravel()
    size = np.zeros((br * rows, bc * cols))
    size[:R, :C] = 1
    bsize = size.reshape(br, rows, bc, cols).sum(axis=(1, 3)).ravel()
    target = int(round(density * mat.size))
    order = np.argsort(-score, kind="stable")
    cum = np.cumsum(bsize[order])
    nkeep = int(np.searchsorted(cum, target, side="left")) + 1 if target > 0 else 0
    bkeep = np.zeros(br * bc, dtype=bool)
    bkeep[order[:min(nkeep, br * bc)]] = True
    full = np.repeat(np.repeat(bkeep.reshape(br, bc), rows, axis=0), cols, axis=1)[:R, :C]
    return (full & ok).reshape(np.shape(w))


def pe_of_row(nrows: int, pes: int) -> np.ndarray:
    """EIE's row interleaving (EIE sec. III-B): row ``i`` is held by PE ``i mod pes``."""
    return np.arange(nrows) % pes


def balanced_mask(w: np.ndarray, pes: int, density: float, *, scope: str = "column",
                  old: np.ndarray | None = None) -> np.ndarray:
    """Load-balance-aware keep-mask (ESE, Han et al., FPGA 2017, sec. 3.1), for EIE's row
    interleaving over ``pes`` PEs (row ``i`` -> PE ``i mod pes``).

    * ``scope="column"``: in every column ``j`` every PE keeps the *same* number ``k_j`` of
      non-zeros (its ``k_j`` largest magnitudes among its rows). The ``k_j`` follow the
      columns' share of a global magnitude cut at ``density`` (largest remainders first,
      in units of ``pes`` weights), so the layer's density is ``round(density x size)``
      to within ``pes`` weights per column rounding, capped by the rows each PE has.
    * ``scope="layer"``: every PE keeps the same number ``k`` of non-zeros over the whole
      layer (its ``k`` largest), ``k = round(density x size / pes)``.

    With ``old`` only survivors of ``old`` stay; ``k_j`` (``k``) is capped at the smallest
    number of survivors any PE has there, so the equality holds exactly. Needs at least
    ``pes`` rows (a PE without rows cannot be balanced)."""
    if pes < 1:
        raise ValueError(f"PE count must be >= 1, got {pes}")
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must lie in [0, 1], got {density!r}")
    if scope not in ("column", "layer"):
        raise ValueError(f"balance scope must be column or layer, got {scope!r}")
    mat = np.abs(_as_matrix(w)).astype(np.float64)
    R, C = mat.shape
    if R < pes:
        raise ValueError(f"load-balance-aware pruning over {pes} PEs needs at least {pes} rows; "
                         f"the layer has {R}")
    ok = np.ones(mat.shape, dtype=bool) if old is None else _as_matrix(np.asarray(old, dtype=bool))
    a = np.where(ok, mat, -1.0)
    pe = pe_of_row(R, pes)
    target = int(round(density * mat.size))
    keep = np.zeros(mat.shape, dtype=bool)
    if scope == "layer":
        avail = min(int(ok[pe == p].sum()) for p in range(pes))
        k = min(int(round(target / pes)), avail)
        for p in range(pes):
            sub = a[pe == p].ravel()
            km = _top_k_per_row(sub[None, :], k)[0].reshape(-1, C)
            keep[pe == p] = km
        return (keep & ok).reshape(np.shape(w))
    # per column: the columns' shares of a global magnitude cut, in units of `pes` weights
    share = prune_mask(np.where(ok, mat, 0.0), density=density).sum(axis=0).astype(np.float64)
    cap = np.min(np.stack([ok[pe == p].sum(axis=0) for p in range(pes)]), axis=0)
    kj = np.minimum(np.floor(share / pes).astype(np.int64), cap)
    left = target // pes - int(kj.sum())
    if left > 0:
        rem = share / pes - kj
        rem[kj >= cap] = -np.inf
        for j in np.argsort(-rem, kind="stable")[:left]:
            if np.isfinite(rem[j]):
                kj[j] += 1
    for p in range(pes):
        rows_p = np.flatnonzero(pe == p)
        # top-k_j of column j among PE p's rows == top-k per row of the transpose
        keep[rows_p] = _top_k_per_row(a[rows_p].T, kj).T
    return (keep & ok).reshape(np.shape(w))


def structured_mask(w: np.ndarray, structure: Structure | str, *, density: float | None = None,
                    old: np.ndarray | None = None) -> np.ndarray:
    """Keep-mask of ``w`` under a structured rule (:func:`parse_structure`): N:M needs no
    density (it fixes ``n/m``), block and balance need ``density``."""
    st = parse_structure(structure) if isinstance(structure, str) else structure
    if st.kind == "nm":
        return nm_mask(w, st.n, st.m, old=old)
    if density is None:
        raise ValueError(f"structure {st}: give a density")
    if st.kind == "block":
        return block_mask(w, st.rows, st.cols, density, old=old)
    return balanced_mask(w, st.pes, density, scope=st.scope, old=old)
