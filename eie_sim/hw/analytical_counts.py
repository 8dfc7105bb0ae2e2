"""The analytical model's counters without the accumulators (docs/analytical.md).

What a run does not depend on timing for, in one numba pass over the slots of the
broadcast column slices (:func:`run_counts`): no accumulators, no bypass chains, no
cycle is stepped. It serves both forms of the analytical engine: the last broadcast with
a real entry of every PE (which ends its run, rule A's latency) for the timing, and the
whole counter set of the estimate-only path of sweeps
(:func:`eie_sim.hw.analytical.estimate_batch`):

* ``busy`` / ``padding``: the real / padding slots of the broadcast slices, times the
  vectors non-zero in the column with ``batch > 1`` (docs/dram.md "Batching");
* ``empty``: broadcast slices without slots (one cycle each);
* ``spmat_line_reads`` (rule S), exact: a read whenever a slot's line (and, with
  ``bitmask``, its mask line) differs from the PE's buffered one, in broadcast order.

Not counted here: ``bypass_hits`` (the full engine's entry pass counts them) and the
accumulators.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _run_counts(ptr, entry_start, code, line, mline, epl, columns, nj):
    """Per PE over the broadcast ``columns`` (``nj`` vectors each): ``out`` int64
    ``(4, N)`` = busy, padding, empty, Spmat line reads, and the index (into
    ``columns``) of its last broadcast with a real slot (-1: none). ``epl`` > 0: the
    slot lines are ``slot // epl`` within the PE and no mask lines (every encoding but
    ``bitmask``, :func:`eie_sim.hw.encodings.slot_lines`; ``line``/``mline`` unused)."""
    N = ptr.shape[0]
    M = columns.shape[0]
    out = np.zeros((4, N), dtype=np.int64)
    last_real = np.full(N, -1, dtype=np.int64)
    for k in range(N):
        e0 = entry_start[k]
        cur = np.int64(-1)
        curm = np.int64(-1)
        for m in range(M):
            j = columns[m]
            a0 = e0 + ptr[k, j]
            a1 = e0 + ptr[k, j + 1]
            if a1 == a0:
                out[2, k] += 1
                continue
            real = 0
            for a in range(a0, a1):
                if code[a] != 0:
                    real += 1
                if epl > 0:
                    ln = (a - e0) // epl
                    if ln != cur:
                        out[3, k] += 1
                        cur = ln
                    continue
                if line[a] >= 0 and line[a] != cur:
                    out[3, k] += 1
                    cur = line[a]
                if mline[a] >= 0 and mline[a] != curm:
                    out[3, k] += 1
                    curm = mline[a]
            out[0, k] += real * nj[m]
            out[1, k] += (a1 - a0 - real) * nj[m]
            if real:
                last_real[k] = m
    return out, last_real


def run_counts(pl, columns: np.ndarray, nj: np.ndarray, cfg) -> tuple[dict, np.ndarray]:
    """``({busy, padding, empty, pointer_reads, spmat_line_reads}, last_real)`` per PE
    (int64 ``(N,)``) of one run broadcasting ``columns`` with ``nj`` vectors each."""
    if pl.encoding == "bitmask":
        (line, mline), epl = pl.spmat_lines(cfg), 0
    else:                      # the lines follow from the slot address (no per-slot arrays)
        line = mline = np.zeros(0, dtype=np.int64)
        epl = int(cfg.entries_per_line)
    out, last_real = _run_counts(np.ascontiguousarray(pl.ptr, dtype=np.int64),
                                 np.ascontiguousarray(pl.entry_start, dtype=np.int64),
                                 pl.code, line, mline, epl,
                                 np.ascontiguousarray(columns, dtype=np.int64),
                                 np.ascontiguousarray(nj, dtype=np.int64))
    N = int(pl.n_pe)
    return ({"busy": out[0], "padding": out[1], "empty": out[2],
             "pointer_reads": np.full(N, 0 if pl.encoding == "nm" else columns.size, dtype=np.int64),
             "spmat_line_reads": out[3]}, last_real)
