"""The analytical model's counters at column granularity (docs/analytical.md).

What a run does not depend on timing for, counted per broadcast column slice instead of
per entry: one numba pass over a pass layout's slots builds per-slice tables (cached on
the layout, independent of the input), then each run costs ``O(broadcasts x PEs)`` numpy
work (the estimate-only path of sweeps, :func:`eie_sim.hw.analytical.estimate_batch`):

* ``busy`` / ``padding``: the real / padding entries of the broadcast slices, times the
  vectors non-zero in the column with ``batch > 1`` (docs/dram.md "Batching");
* ``empty``: broadcast slices without entries (one cycle each);
* ``spmat_line_reads`` (rule S), **exact**: within a PE the Spmat line of a slot (and the
  line of its mask, ``bitmask``) never decreases in storage order
  (:func:`eie_sim.hw.encodings.slot_lines`), and the broadcast order is storage order, so
  the reads are the distinct lines among the issued slots: per slice its distinct lines,
  less one where its first line is the line the previous non-empty slice ended on.

Not counted here: ``bypass_hits`` (they need the entry order within each slice) and the
accumulators.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _slice_tables(ptr, entry_start, code, line, mline):
    """One pass over the slots: per slice ``(n_cols_total, N)`` its real entries and, for
    the entry lines and the mask lines, its distinct lines and its first and last line
    (-1: no slot with a line in the slice)."""
    N, C = ptr.shape[0], ptr.shape[1] - 1
    real = np.zeros((C, N), dtype=np.int64)
    dist = np.zeros((2, C, N), dtype=np.int64)
    first = np.full((2, C, N), -1, dtype=np.int64)
    last = np.full((2, C, N), -1, dtype=np.int64)
    for k in range(N):
        e0 = entry_start[k]
        for j in range(C):
            for a in range(e0 + ptr[k, j], e0 + ptr[k, j + 1]):
                if code[a] != 0:
                    real[j, k] += 1
                for t in range(2):
                    v = line[a] if t == 0 else mline[a]
                    if v < 0:
                        continue
                    if first[t, j, k] < 0:
                        first[t, j, k] = v
                        dist[t, j, k] = 1
                    elif v != last[t, j, k]:
                        dist[t, j, k] += 1
                    last[t, j, k] = v
    return real, dist, first, last


def slice_tables(pl, cfg):
    """:func:`_slice_tables` of a pass (cached on the pass layout per line width, as
    :meth:`~eie_sim.hw.layout.PassLayout.spmat_lines`)."""
    key = ("analytical_slices", cfg.spmat_width_bits, cfg.entry_bits)
    cache = pl._lines
    if key not in cache:
        line, mline = pl.spmat_lines(cfg)
        cache[key] = _slice_tables(np.ascontiguousarray(pl.ptr, dtype=np.int64),
                                   np.ascontiguousarray(pl.entry_start, dtype=np.int64),
                                   np.ascontiguousarray(pl.code),
                                   np.ascontiguousarray(line, dtype=np.int64),
                                   np.ascontiguousarray(mline, dtype=np.int64))
    return cache[key]


def line_reads(pl, columns: np.ndarray, cfg) -> np.ndarray:
    """Rule S's Spmat line reads per PE (int64 ``(N,)``) for the broadcast ``columns``."""
    out = np.zeros(int(pl.n_pe), dtype=np.int64)
    if columns.size == 0:
        return out
    _, dist, first, last = slice_tables(pl, cfg)
    for t in range(2):
        d, f, l = dist[t][columns], first[t][columns], last[t][columns]
        before = np.maximum.accumulate(l, axis=0)
        before = np.vstack([np.full((1, l.shape[1]), -1), before[:-1]])
        out += d.sum(axis=0) - np.count_nonzero((f >= 0) & (f == before), axis=0)
    return out


def column_counts(pl, columns: np.ndarray, nj: np.ndarray, cfg) -> dict[str, np.ndarray]:
    """``busy``, ``padding``, ``empty``, ``pointer_reads`` and ``spmat_line_reads`` per PE
    (int64 ``(N,)``) of one run broadcasting ``columns`` with ``nj`` vectors each."""
    ent = pl.col_entries[:, columns].T.astype(np.int64)          # (M, N)
    real = slice_tables(pl, cfg)[0][columns]
    w = nj.astype(np.int64)[:, None]
    N = int(pl.n_pe)
    return {"busy": (real * w).sum(axis=0), "padding": ((ent - real) * w).sum(axis=0),
            "empty": np.count_nonzero(ent == 0, axis=0).astype(np.int64),
            "pointer_reads": np.full(N, 0 if pl.encoding == "nm" else columns.size, dtype=np.int64),
            "spmat_line_reads": line_reads(pl, columns, cfg)}
