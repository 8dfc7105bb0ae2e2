"""Magnitude pruning (Han et al., NIPS 2015, "Learning both Weights and Connections";
Deep Compression, ICLR 2016, sec. 2).

The rule of the NIPS 2015 paper: per layer, remove every connection whose magnitude is
below a threshold, where the threshold is a *quality parameter* times the standard
deviation of that layer's weights. :func:`prune_mask` also offers a target-density mode
(keep exactly the given fraction of the layer, the largest magnitudes), which is the
convenient way to reproduce the paper's "weights % kept" columns.

Pruned weights are exactly ``0.0`` (:func:`apply_mask`); during retraining the caller
multiplies gradients by the same mask so they stay there.
"""
from __future__ import annotations

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
