"""Cost-guided re-allocation of a pruning budget over EIE's PEs (a hook for pruning with
a hardware model in the loop; the simulator side is ``eie_sim.apps.hw_prune``).

EIE interleaves the rows of a layer over its PEs (row ``i`` -> PE ``i mod pes``, EIE
sec. III-B) and every PE works through its slice of each broadcast column; the layer
takes as long as its most-loaded PE (the load imbalance of EIE Fig. 8/13). ESE's
load-balance-aware pruning (:func:`compressor.prune.balanced_mask`) equalises the
non-zeros per PE by rule. This module moves kept weights between PEs *as a cost model
says*, without knowing what the model is:

* :func:`reallocate` is one step: per column, move kept weights from the PE whose removal
  is worth most (``give``) to the PE where an addition costs least (``take``), dropping
  the donor's smallest kept magnitude and keeping the receiver's largest pruned one.
  Every move stays in its column, so the layer's and every column's non-zero count are
  unchanged (the budget is kept exactly).
* :func:`cost_guided_mask` is the loop: evaluate -> reallocate -> keep the step only if
  the evaluation's score drops (and an optional constraint, e.g. accuracy, holds), else
  halve the step. ``evaluate`` is any callable (a simulator, an analytical model, a
  proxy); the compressor never imports the simulator.

Deterministic given ``seed`` (it only breaks ties between equally good moves).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from compressor.prune import pe_of_row


@dataclass
class Evaluation:
    """What a cost model says about a mask: ``score`` (a tuple, compared
    lexicographically, lower is better: e.g. (cycles, max PE load, load spread)),
    ``give``/``take`` (``(pes, cols)``: the value of removing one kept weight of PE ``p``
    in column ``j`` and the cost of adding one there; same units) and ``info`` (figures
    recorded in the trajectory)."""

    score: tuple
    give: np.ndarray
    take: np.ndarray
    info: dict = field(default_factory=dict)


def _per_pe(values: np.ndarray, pe: np.ndarray, pes: int, reduce, initial: float) -> np.ndarray:
    """``(pes, cols)``: ``reduce`` over each PE's rows of ``values`` (``(rows, cols)``);
    ``initial`` for a PE without rows (a layer with fewer rows than PEs)."""
    return np.stack([reduce(values[pe == p], axis=0, initial=initial) for p in range(pes)])


def reallocate(w: np.ndarray, mask: np.ndarray, pes: int, give: np.ndarray, take: np.ndarray,
               moves: int, *, seed: int = 0) -> tuple[np.ndarray, int]:
    """One re-allocation step: at most one move per column, the ``moves`` columns with the
    largest benefit ``give[donor, j] - take[receiver, j] > 0`` (ties: smaller loss of
    kept magnitude first, then a permutation seeded with ``seed``). The donor of column
    ``j`` is the PE with a kept weight there and the largest ``give``; the receiver the
    other PE with a pruned weight there and the smallest ``take`` (ties: the larger
    pruned magnitude). Returns ``(new mask, moves made)``; the non-zero count of every
    column is unchanged."""
    mat = np.abs(np.asarray(w, dtype=np.float64).reshape(np.shape(w)[0], -1))
    m = np.asarray(mask, dtype=bool).reshape(mat.shape)
    R, C = mat.shape
    if pes < 1:
        raise ValueError(f"PE count must be >= 1, got {pes}")
    if np.shape(give) != (pes, C) or np.shape(take) != (pes, C):
        raise ValueError(f"give and take must have shape ({pes}, {C}), got "
                         f"{np.shape(give)} and {np.shape(take)}")
    if moves < 0:
        raise ValueError(f"moves must be >= 0, got {moves}")
    pe = pe_of_row(R, pes)
    kept_min = _per_pe(np.where(m, mat, np.inf), pe, pes, np.min, np.inf)      # smallest kept
    free_max = _per_pe(np.where(m, -np.inf, mat), pe, pes, np.max, -np.inf)    # largest pruned
    g = np.where(np.isfinite(kept_min), np.asarray(give, np.float64), -np.inf)
    donor = np.argmax(g, axis=0)
    cols = np.arange(C)
    gbest = g[donor, cols]
    t = np.where(np.isfinite(free_max), np.asarray(take, np.float64), np.inf)
    t[donor, cols] = np.inf                                             # not to itself
    tmin = t.min(axis=0)
    # among equally cheap receivers, the one with the largest pruned magnitude
    cand = np.where(t == tmin[None, :], free_max, -np.inf)
    recv = np.argmax(cand, axis=0)
    benefit = gbest - tmin
    ok = np.isfinite(benefit) & (benefit > 0)
    loss = kept_min[donor, cols] - free_max[recv, cols]
    tie = np.random.default_rng(seed).permutation(C)
    order = np.lexsort((tie, loss, -benefit))
    chosen = [j for j in order if ok[j]][:moves]
    new = m.copy()
    for j in chosen:
        p, q = donor[j], recv[j]
        rows_p = np.flatnonzero((pe == p) & m[:, j])
        drop = rows_p[np.argmin(mat[rows_p, j])]
        rows_q = np.flatnonzero((pe == q) & ~m[:, j])
        add = rows_q[np.argmax(mat[rows_q, j])]
        new[drop, j] = False
        new[add, j] = True
    return new.reshape(np.shape(mask)), len(chosen)


def cost_guided_mask(w: np.ndarray, start: np.ndarray, pes: int,
                     evaluate: Callable[[np.ndarray], Evaluation], *, iterations: int = 30,
                     fraction: float = 0.02, seed: int = 0,
                     accept: Callable[[np.ndarray], bool | tuple[bool, dict]] | None = None
                     ) -> tuple[np.ndarray, list[dict]]:
    """Improve the keep-mask ``start`` of ``w`` for a cost model (module docstring).

    ``iterations`` rounds; each tries one :func:`reallocate` step of ``step`` moves
    (first ``max(1, round(fraction x nnz))``) and keeps it only if ``evaluate``'s score is
    lower and ``accept(mask)`` (if given) holds (it returns a bool, or ``(bool, figures)``
    whose figures join the round's record); a rejected step halves ``step``, and the
    loop ends when ``step`` reaches 0 or no move has a positive benefit. Returns the best
    mask and the trajectory: one dict per round (``iteration``, ``moves``, ``accepted``,
    ``score`` and the evaluation's ``info``), round 0 being ``start``."""
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}")
    mask = np.asarray(start, dtype=bool).copy()
    if mask.shape != np.shape(w):
        raise ValueError(f"mask shape {mask.shape} does not match weight shape {np.shape(w)}")
    cur = evaluate(mask)
    traj = [{"iteration": 0, "moves": 0, "accepted": True, "score": list(cur.score), **cur.info}]
    step = max(1, int(round(fraction * int(mask.sum()))))
    for it in range(1, iterations + 1):
        if step < 1:
            break
        cand, made = reallocate(w, mask, pes, cur.give, cur.take, step, seed=seed + it)
        if made == 0:
            break
        ev = evaluate(cand)
        ok = tuple(ev.score) < tuple(cur.score)
        extra: dict = {}
        if ok and accept is not None:          # only a step the cost model keeps is checked
            got = accept(cand)
            ok, extra = (bool(got[0]), dict(got[1])) if isinstance(got, tuple) else (bool(got), {})
        traj.append({"iteration": it, "moves": made, "accepted": ok, "score": list(ev.score),
                     **ev.info, **extra})
        if ok:
            mask, cur = cand, ev
        else:
            step //= 2
    return mask, traj
