"""The analytical timing model: ``engine: analytical`` (docs/analytical.md).

A Sparseloop-style estimate beside the two cycle-exact engines. It never steps cycles: from
the per-PE load of every broadcast column (``max(1, entries)`` of PE ``k``'s slice of column
``j``, the layout's :meth:`~eie_sim.hw.layout.PassLayout.column_work`) and the activation
pattern it evaluates closed forms of the rules of docs/timing.md
(``shared/docs/eie-reference.md`` section 4):

* **Rule B (CCU), exact when no queue fills.** The free-running broadcast cycle ``b_m`` of
  the ``m``-th non-zero: cycle 0 loads detector row 0; a row with ``c`` non-zeros costs
  ``c`` cycles when its bank ``N - 1`` is non-zero, else ``c + 1``; a row that starts an
  input batch first costs ``batch_load_cycles``; the bias column is broadcast after the
  last row.
* **Rules P and Q (pointer read, column work, queue), a max-plus closed form.** With
  unbounded queues a PE's column ``m`` ends at ``fin_m = max(fin_{m-1}, b_m + 1) + w_m``,
  whose solution is ``fin_M = max_m (b_m + 1 + sum_{i >= m} w_i)`` (exact). A queue of
  ``D`` entries lets the CCU run at most ``D`` columns ahead of the slowest PE; the model
  approximates that coupling by letting the PEs resynchronise every
  ``W = SYNC_WINDOW_FACTOR x (D + 1)`` broadcast columns: the work is ``sum over windows of
  W broadcast columns of max_k (PE k's work in the window)`` (``D = 1``: every column but
  the last costs at least 2 cycles from pop to pop, docs/timing.md "End of a run"). The
  estimate is the larger of the two.
* **End of a run**: last issue + ``arithmetic_latency`` + 2, and never before the CCU's
  last cycle + 1.

So the model is **exact** (a) when every PE has the same work in every broadcast column
(perfect balance, e.g. ESE load-balance-aware pruning per column), every activation is
non-zero and the input fits one batch: all PEs then run in lockstep, a full queue only
ever waits for all of them at once, and both forms equal the engines' count (any queue
depth); (b) when no queue ever fills and ``SYNC_WINDOW_FACTOR x (D + 1)`` covers the
pass's broadcasts (the max-plus form alone). It is an estimate where PEs are unbalanced
column by column and the queues are short (the CCU then stalls in patterns the window
does not follow), and where a stall also delays the CCU's walk over zero activations
(sparse inputs with short queues). docs/analytical.md measures where it fails.

Counters: what does not depend on timing is computed exactly from the layout and the
activations: ``busy``, ``padding``, ``empty``, ``pointer_reads`` (= broadcasts),
``broadcasts``, ``batch_load_cycles`` and ``spmat_line_reads`` (rule S depends only on the
order of the issued entries), and the accumulators (rule A's rounding, so the numpy check
holds). Estimated: ``cycles``, ``starved`` (= cycles minus the PE's work),
``queue_full_stalls`` (the estimate's delay of the last broadcast against the
free-running CCU), ``max_queue_occupancy`` (``D`` when stalls are estimated, else the
smaller of ``D`` and the broadcasts) and ``bypass_hits`` (counted as if each PE issued
its columns back to back: exact when a PE never waits between two columns, an upper
bound otherwise). Energy follows from these counters through the same tables as for the
cycle-exact engines.

It cannot record a trace (windowed counters, timelines) and cannot be cross-checked with
``verify`` (an estimate is not expected to equal the cycle-exact counters): both are
refused with :class:`~eie_sim.errors.EngineUnavailable`.
"""
from __future__ import annotations

import numpy as np

from eie_sim.hw.counters import PassBatch, PassStats


def broadcast_times(x_q: np.ndarray, n_pe: int, regs: int, batch_load: int,
                    has_bias: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Rule B without stalls: ``(columns, b, last_ccu_cycle)``, the broadcast columns in
    order (the bias column ``cols`` last), the cycle each is broadcast in when no queue is
    full, and the CCU's last cycle."""
    cols = int(x_q.shape[0])
    N = int(n_pe)
    n_rows = -(-cols // N)
    nz = np.flatnonzero(x_q != 0)
    row_of = nz // N
    count = np.bincount(row_of, minlength=n_rows)
    last_bank = np.arange(n_rows) * N + N - 1
    full_end = np.zeros(n_rows, dtype=bool)
    inside = last_bank < cols
    full_end[inside] = x_q[last_bank[inside]] != 0
    cost = count + (~full_end).astype(np.int64)
    loads = np.zeros(n_rows, dtype=np.int64)
    if regs > 0 and n_rows > 0:
        loads[np.arange(n_rows) % regs == 0] = batch_load
        loads[0] = 0
    # start cycle of every row's first broadcast (after its own batch load)
    start = 1 + np.concatenate([[0], np.cumsum(cost + loads)[:-1]]) + loads if n_rows else np.zeros(0, np.int64)
    first_of_row = np.searchsorted(row_of, np.arange(n_rows))
    b = start[row_of] + (np.arange(nz.size) - first_of_row[row_of]) if nz.size else np.zeros(0, np.int64)
    end = 1 + int(cost.sum() + loads.sum())       # the cycle after the last row's
    columns = nz.astype(np.int64)
    if has_bias:
        columns = np.append(columns, cols)
        b = np.append(b, end)                     # broadcast in the cycle rows are done
        last = end
    else:
        last = end - 1
    return columns, b.astype(np.int64), last


#: the PEs are taken to resynchronise every ``SYNC_WINDOW_FACTOR x (queue_depth + 1)``
#: broadcast columns (a queue's entries plus the column being worked on); the factor was
#: chosen among 1, 2, 4, 8 on random layers (4-64 PEs, queues 1-32, skewed rows; mean
#: |error| 6.5 %, 3.6 %, 2.1 %, 1.7 % and bias +5.6 %, +2.5 %, +0.5 %, -0.7 %): 4 is the
#: least biased; benchmarks/bench_analytical.py measures it on other layers
SYNC_WINDOW_FACTOR = 4


def _window_work(w: np.ndarray, depth: int) -> int:
    """``sum over windows of W broadcast columns of max over PEs of the window's work``
    with ``W = SYNC_WINDOW_FACTOR x (depth + 1)`` (``w``: (M, N)); with ``depth = 1`` a
    column costs at least 2 cycles from pop to pop (docs/timing.md "End of a run"), all
    but the last."""
    M = w.shape[0]
    if M == 0:
        return 0
    if depth == 1:
        w = w.copy()
        w[:-1] = np.maximum(w[:-1], 2)
    win = SYNC_WINDOW_FACTOR * (depth + 1)
    if win >= M:
        return int(w.sum(axis=0).max())
    pad = (-M) % win
    wp = np.vstack([w, np.zeros((pad, w.shape[1]), dtype=w.dtype)])
    return int(wp.reshape(-1, win, w.shape[1]).sum(axis=1).max(axis=1).sum())


def _line_reads(pl, columns: np.ndarray, epl: int) -> np.ndarray:
    """Rule S exactly: per PE, a read for the first line of every non-empty broadcast
    column unless it is the line the PE read last, plus one per line boundary inside."""
    a0 = pl.ptr[:, columns]
    a1 = pl.ptr[:, columns + 1]
    nonempty = a1 > a0
    first = a0 // epl
    last = (a1 - 1) // epl
    reads = np.zeros(pl.n_pe, dtype=np.int64)
    for k in range(pl.n_pe):
        ne = nonempty[k]
        f, l = first[k][ne], last[k][ne]
        if f.size == 0:
            continue
        prev = np.concatenate([[-1], l[:-1]])
        reads[k] = int((l - f).sum() + np.count_nonzero(f != prev))
    return reads


def _values(pl, layer_layout, x_q: np.ndarray, shift: int):
    """Rule A's accumulators and, per PE, busy entries, padding and bypass (back to back)."""
    codes = pl.code.astype(np.int64)
    col = pl.columns()
    pe = np.repeat(np.arange(pl.n_pe, dtype=np.int64), pl.entries_per_pe)
    lr = pl.local_row.astype(np.int64)
    row = lr * pl.n_pe + pe
    xext = np.append(x_q.astype(np.int64), 1)      # the bias column's activation
    live = (xext[col] != 0) & (codes != 0)
    acc = np.zeros(pl.rows, dtype=np.int64)
    is_bias = col == pl.cols
    prod = layer_layout.codebook_q[codes] * xext[col]
    if shift > 0:
        prod = (prod + (np.int64(1) << (shift - 1))) >> shift
    bias_pass = layer_layout.bias_q[pl.row_offset:pl.row_offset + pl.rows]
    prod = np.where(is_bias, bias_pass[np.minimum(row, pl.rows - 1)] if pl.rows else 0, prod)
    np.add.at(acc, row[live], prod[live])
    issued = xext[col] != 0
    busy = np.bincount(pe[issued & (codes != 0)], minlength=pl.n_pe)
    pad = np.bincount(pe[issued & (codes == 0)], minlength=pl.n_pe)
    # bypass: consecutive issued entries of one PE, both writing, same row, as if back to
    # back (inside a column rows increase, so only column boundaries can hit)
    order_pe = pe[issued]
    w_ok = (codes != 0)[issued]
    rr = lr[issued]
    # index of each issued entry's column among the broadcast columns: a hit needs the
    # next broadcast column (an empty column slice between breaks the chain)
    bidx = np.cumsum(xext != 0) - 1
    bm = bidx[col[issued]]
    same = ((order_pe[1:] == order_pe[:-1]) & w_ok[1:] & w_ok[:-1] & (rr[1:] == rr[:-1])
            & (bm[1:] == bm[:-1] + 1))
    bypass = np.bincount(order_pe[1:][same], minlength=pl.n_pe)
    return acc, busy.astype(np.int64), pad.astype(np.int64), bypass.astype(np.int64)


def run_pass(pass_layout, layer_layout, x_q: np.ndarray, cfg) -> PassStats:
    """Estimate one output pass (module docstring); same signature as the engines'."""
    pl = pass_layout
    x_q = np.asarray(x_q, dtype=np.int64)
    if x_q.ndim != 1 or x_q.shape[0] != pl.cols:
        raise ValueError(f"x_q must be one vector of {pl.cols} activations, got shape {x_q.shape}")
    N, D, L = int(pl.n_pe), int(cfg.queue_depth), int(cfg.arithmetic_latency)
    columns, b, last_ccu = broadcast_times(x_q, N, int(cfg.act_regs_per_pe),
                                           int(cfg.batch_load_cycles), bool(pl.has_bias))
    M = int(columns.size)
    work = pl.column_work()[columns].astype(np.int64)            # (M, N)
    entries = pl.col_entries[:, columns] if M else np.zeros((N, 0), np.int64)
    empty = np.count_nonzero(entries == 0, axis=1).astype(np.int64)
    acc, busy, pad, bypass = _values(pl, layer_layout, x_q, int(cfg.product_shift))
    stalls = 0
    if M:
        suffix = np.cumsum(work[::-1], axis=0)[::-1]             # sum_{i >= m} w_i
        fin_free = (b[:, None] + 1 + suffix).max(axis=0)         # per PE, unbounded queues
        paced = work.copy()
        if D == 1:
            paced[:-1] = np.maximum(paced[:-1], 2)
        fin_sync = int(b[0]) + 1 + _window_work(work, D)
        fin = np.maximum(fin_free, fin_sync)                     # per PE
        # the last real entry of PE k issues before the work of its trailing columns
        # without a real entry (empty slices or padding only)
        real = pl.column_real()[columns] > 0                     # (M, N)
        has_real = real.any(axis=0)
        last_real = np.where(has_real, M - 1 - np.argmax(real[::-1], axis=0), -1)
        tail = np.cumsum(paced[::-1], axis=0)[::-1]              # work from column m on
        after = np.where(last_real + 1 < M, tail[np.minimum(last_real + 1, M - 1), np.arange(N)], 0)
        lr_idx = np.maximum(last_real, 0)
        gap = paced[lr_idx, np.arange(N)] - work[lr_idx, np.arange(N)]   # D = 1's idle cycle
        last_issue = fin - after - gap
        cycles = max(int(fin.max()) + 1, last_ccu + 1)
        if has_real.any():
            cycles = max(cycles, int(last_issue[has_real].max()) + L + 2)
        stalls = max(0, int(fin.max()) - int(fin_free.max()))
    else:
        cycles = last_ccu + 1
    n_loads = max(0, -(-pl.cols // N) - 1) // max(1, int(cfg.act_regs_per_pe))  # rows r > 0, r % R == 0
    worked = busy + pad + empty
    starved = cycles - worked
    occ = D if stalls > 0 else min(D, M)
    return PassStats.build(
        cycles=int(cycles), broadcasts=M, queue_full_stalls=int(stalls),
        batch_load_cycles=n_loads * int(cfg.batch_load_cycles), max_queue_occupancy=int(occ),
        acc=acc, busy=busy, padding=pad, empty=empty, starved=starved,
        pointer_reads=np.full(N, M, dtype=np.int64),
        spmat_line_reads=_line_reads(pl, columns, int(cfg.entries_per_line)),
        bypass_hits=bypass)


def run_batch(pass_layout, layer_layout, X_q: np.ndarray, cfg) -> PassBatch:
    """:func:`run_pass` for every row of ``X_q`` (each an independent estimate)."""
    return PassBatch.from_stats([run_pass(pass_layout, layer_layout, x, cfg) for x in X_q])
