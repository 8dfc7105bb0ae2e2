"""The analytical model's counters at column granularity (docs/analytical.md).

What a run does not depend on timing for, counted per broadcast column slice instead of
per entry, so it costs ``O(broadcasts x PEs)`` numpy work and no pass over the entries
(the estimate-only path of sweeps, :func:`eie_sim.hw.analytical.estimate_batch`):

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

import numpy as np


def _slice_lines(pl, line: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per slice ``(n_cols_total, N)``: distinct lines, first and last line (-1: no slot
    with a line), line numbers offset per PE so they increase over the whole pass."""
    N = int(pl.n_pe)
    n = line.size
    valid = line >= 0
    pe_of = np.repeat(np.arange(N, dtype=np.int64), pl.entries_per_pe)
    big = int(line.max(initial=0)) + 2
    g = np.where(valid, line + pe_of * big, -1)
    ff = np.maximum.accumulate(g) if n else g                   # last line at or before
    prev = np.r_[-1, ff[:-1]] if n else ff
    new = valid & (g != prev)
    cnew = np.r_[0, np.cumsum(new)]
    idx = np.where(valid, np.arange(n), n)
    nv = np.minimum.accumulate(idx[::-1])[::-1] if n else idx  # next slot with a line
    nv = np.r_[nv, n]
    lo = (np.asarray(pl.entry_start[:-1], dtype=np.int64)[:, None] + pl.ptr[:, :-1]).T
    hi = (np.asarray(pl.entry_start[:-1], dtype=np.int64)[:, None] + pl.ptr[:, 1:]).T
    fv = nv[lo]
    has = fv < hi
    g_pad = np.r_[g, -1]
    new_pad = np.r_[new, False]
    ff_pad = np.r_[ff, -1]
    distinct = (cnew[hi] - cnew[lo]) + (has & ~new_pad[fv])
    first = np.where(has, g_pad[fv], -1)
    last = np.where(has, ff_pad[np.maximum(hi - 1, 0)], -1)
    return distinct.astype(np.int64), first, last


def line_tables(pl, cfg):
    """The per-slice line tables of both line kinds (cached on the pass layout per line
    width, as :meth:`~eie_sim.hw.layout.PassLayout.spmat_lines`)."""
    key = ("analytical_lines", cfg.spmat_width_bits, cfg.entry_bits)
    cache = pl._lines
    if key not in cache:
        cache[key] = tuple(_slice_lines(pl, np.asarray(a, dtype=np.int64))
                           for a in pl.spmat_lines(cfg))
    return cache[key]


def line_reads(pl, columns: np.ndarray, cfg) -> np.ndarray:
    """Rule S's Spmat line reads per PE (int64 ``(N,)``) for the broadcast ``columns``."""
    out = np.zeros(int(pl.n_pe), dtype=np.int64)
    if columns.size == 0:
        return out
    for distinct, first, last in line_tables(pl, cfg):
        d, f, l = distinct[columns], first[columns], last[columns]
        before = np.maximum.accumulate(l, axis=0)
        before = np.vstack([np.full((1, l.shape[1]), -1), before[:-1]])
        out += d.sum(axis=0) - np.count_nonzero((f >= 0) & (f == before), axis=0)
    return out


def column_counts(pl, columns: np.ndarray, nj: np.ndarray, cfg) -> dict[str, np.ndarray]:
    """``busy``, ``padding``, ``empty``, ``pointer_reads`` and ``spmat_line_reads`` per PE
    (int64 ``(N,)``) of one run broadcasting ``columns`` with ``nj`` vectors each."""
    ent = pl.col_entries[:, columns].T.astype(np.int64)          # (M, N)
    real = pl.column_real()[columns].astype(np.int64)
    w = nj.astype(np.int64)[:, None]
    N = int(pl.n_pe)
    return {"busy": (real * w).sum(axis=0), "padding": ((ent - real) * w).sum(axis=0),
            "empty": np.count_nonzero(ent == 0, axis=0).astype(np.int64),
            "pointer_reads": np.full(N, 0 if pl.encoding == "nm" else columns.size, dtype=np.int64),
            "spmat_line_reads": line_reads(pl, columns, cfg)}
