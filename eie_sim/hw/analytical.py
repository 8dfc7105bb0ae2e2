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
  ``W = SYNC_WINDOW_FACTOR x (D + 1)**2`` broadcast columns: the work is ``sum over windows of
  W broadcast columns of max_k (PE k's work in the window)`` (``D = 1``: every column but
  the last costs at least 2 cycles from pop to pop, docs/timing.md "End of a run"). The
  estimate is the larger of the two.
* **End of a run**: last issue + ``arithmetic_latency`` + 2, and never before the CCU's
  last cycle + 1.

So the model is **exact** (a) when every PE has the same work in every broadcast column
(perfect balance, e.g. ESE load-balance-aware pruning per column), every activation is
non-zero and the input fits one batch: all PEs then run in lockstep, a full queue only
ever waits for all of them at once, and both forms equal the engines' count (any queue
depth but one exception: with a 2-entry queue and a bias column it can end one cycle
early, found by the hypothesis test on 2026-12-05 and not yet explained); (b) when no queue ever fills and ``SYNC_WINDOW_FACTOR x (D + 1)**2`` covers the
pass's broadcasts (the max-plus form alone). It is an estimate where PEs are unbalanced
column by column and the queues are short (the CCU then stalls in patterns the window
does not follow), and where a stall also delays the CCU's walk over zero activations
(sparse inputs with short queues). docs/analytical.md measures where it fails.

**Rule D (DRAM streaming, docs/dram.md)** for a layer that streams:
:mod:`eie_sim.hw.analytical_dram` (the DRAM unit's own tile plan, exact bytes, a
tile-granular double-buffered roofline for the delay). **Batches** (``batch: B``): the
detector's union of the batch's columns, a slice's work ``e x n_j`` (docs/dram.md
"Batching").

Counters: what does not depend on timing is computed exactly from the layout and the
activations (:mod:`eie_sim.hw.analytical_counts`, one counting pass over the broadcast
slots): ``busy``, ``padding``, ``empty``, ``pointer_reads`` (= broadcasts; 0 with
``spmat_encoding: nm``), ``broadcasts``, ``batch_load_cycles`` and ``spmat_line_reads``
(rule S depends only on the order of the issued slots, for every encoding), the DRAM
stream's ``dram_bytes``, ``dram_row_activations`` and ``dram_tiles``, and the
accumulators (rule A's rounding, so the numpy check holds; :func:`estimate_pass`, the
estimate-only form sweeps use, leaves them out). Estimated: ``cycles``, ``starved`` (= cycles minus the PE's work),
``queue_full_stalls`` (the estimate's delay of the last broadcast against the
free-running CCU, plus the DRAM delay), ``dram_stall_cycles`` (per PE, at most its
starved cycles), ``max_queue_occupancy`` (``D`` when stalls are estimated, else the
smaller of ``D`` and the broadcasts) and ``bypass_hits`` (counted as if each PE issued
its columns back to back: exact when a PE never waits between two columns, an upper
bound otherwise; in a batch summed per vector, a loose bound since the engines
interleave the vectors entry by entry). Energy follows from these counters through the same tables as for the
cycle-exact engines.

It cannot record a trace (windowed counters, timelines) and cannot be cross-checked with
``verify`` (an estimate is not expected to equal the cycle-exact counters): both are
refused with :class:`~eie_sim.errors.EngineUnavailable`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from eie_sim.hw.analytical_counts import run_counts
from eie_sim.hw.analytical_dram import StreamEstimate, stream_estimate
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


#: the PEs are taken to resynchronise every ``SYNC_WINDOW_FACTOR x (queue_depth + 1)**2``
#: broadcast columns: a queue absorbs a lag of ``D + 1`` columns (its entries and the column
#: being worked on) and the difference of two PEs' work drifts like a random walk, which
#: needs about the square of that many columns to exhaust it. The factor was chosen among
#: 1, 2, 3, 4 on random layers (4-64 PEs, queues 1-32, skewed rows; mean |error| 2.0, 1.5,
#: 1.4, 1.5 %, bias +0.6, -0.5, -0.9, -1.2 %) and Alex-8 / NT-LSTM at 64 PEs (2: within
#: 2.5 % at queues 2, 8, 32); benchmarks/bench_analytical.py measures it elsewhere.
SYNC_WINDOW_FACTOR = 2


def _window_work(w: np.ndarray, depth: int) -> int:
    """``sum over windows of W broadcast columns of max over PEs of the window's work``
    with ``W = SYNC_WINDOW_FACTOR x (depth + 1)**2`` (``w``: (M, N)); with ``depth = 1`` a
    column costs at least 2 cycles from pop to pop (docs/timing.md "End of a run"), all
    but the last."""
    M = w.shape[0]
    if M == 0:
        return 0
    if depth == 1:
        w = w.copy()
        w[:-1] = np.maximum(w[:-1], 2)
    win = SYNC_WINDOW_FACTOR * (depth + 1) ** 2
    if win >= M:
        return int(w.sum(axis=0).max())
    pad = (-M) % win
    wp = np.vstack([w, np.zeros((pad, w.shape[1]), dtype=w.dtype)])
    return int(wp.reshape(-1, win, w.shape[1]).sum(axis=1).max(axis=1).sum())


@numba.njit(cache=True, nogil=True)
def _entry_pass(ptr, entry_start, code, local_row, columns, x_q, codebook_q, bias_q_pass, cols,
                n_pe, shift):
    """The timing-free part of rule A over the broadcast columns, per PE in storage order:
    accumulators and bypass hits counted as if the PE issued its columns back to back
    (busy, padding and line reads: :func:`~eie_sim.hw.analytical_counts.run_counts`)."""
    M = columns.shape[0]
    acc = np.zeros(bias_q_pass.shape[0], dtype=np.int64)
    bypass = np.zeros(n_pe, dtype=np.int64)
    half = (np.int64(1) << (shift - 1)) if shift > 0 else np.int64(0)
    for k in range(n_pe):
        e0 = entry_start[k]
        prev_writes = False
        prev_row = -1
        for m in range(M):
            j = columns[m]
            a0 = ptr[k, j]
            a1 = ptr[k, j + 1]
            if a1 == a0:
                prev_writes = False
                continue
            xj = np.int64(1) if j == cols else x_q[j]
            chain = prev_writes
            for a in range(a0, a1):
                v = code[e0 + a]
                if v != 0:
                    lr = np.int64(local_row[e0 + a])
                    if chain and prev_row == lr:
                        bypass[k] += 1
                    r = lr * n_pe + k
                    if j == cols:
                        acc[r] += bias_q_pass[r]
                    else:
                        acc[r] += (codebook_q[v] * xj + half) >> shift
                    chain = True
                    prev_row = lr
                else:
                    chain = False
            prev_writes = chain
    return acc, bypass


def _check_x(pl, x_q, batch: int = 1) -> np.ndarray:
    """``x_q`` as an int64 ``(B, cols)`` run: one vector, or one batch of at most
    ``batch`` vectors (docs/dram.md "Batching")."""
    x_q = np.asarray(x_q, dtype=np.int64)
    if x_q.ndim == 1 and x_q.shape[0] == pl.cols:
        return x_q[None, :]
    if x_q.ndim == 2 and x_q.shape[1] == pl.cols and 1 <= x_q.shape[0] <= max(1, batch):
        return x_q
    raise ValueError(f"x_q must be one vector of {pl.cols} activations (or one batch of at "
                     f"most batch={batch}), got shape {x_q.shape}")


@dataclass(frozen=True)
class Timing:
    """The cycle estimate of one run of a pass and what it was made from."""

    cycles: int
    stalls: int                  #: estimated queue-full stalls
    columns: np.ndarray          #: broadcast columns in order (bias last)
    nj: np.ndarray               #: vectors non-zero in each (the run's batch for the bias)
    stream: StreamEstimate | None   #: rule D (None: the layer is on chip)
    counts: dict                 #: :func:`~eie_sim.hw.analytical_counts.run_counts` (exact)


def _timing(pl, X: np.ndarray, cfg, layer_layout=None) -> Timing:
    """The cycle estimate of one run (``X``: ``(B, cols)``), rule D included when
    ``layer_layout`` is given and streams."""
    N, D, L = int(pl.n_pe), int(cfg.queue_depth), int(cfg.arithmetic_latency)
    B = X.shape[0]
    nzc = np.count_nonzero(X, axis=0)
    columns, b, last_ccu = broadcast_times((nzc > 0).astype(np.int64), N, int(cfg.act_regs_per_pe),
                                           int(cfg.batch_load_cycles), bool(pl.has_bias))
    nj = np.r_[nzc, B].astype(np.int64)[columns]
    M = int(columns.size)
    if not M:
        return Timing(last_ccu + 1, 0, columns, nj, None, run_counts(pl, columns, nj, cfg)[0])
    if B == 1:
        work = pl.column_work()[columns].astype(np.int64)        # (M, N)
    else:                      # a batch: a slice of e entries takes e x n_j cycles, at least 1
        work = np.maximum(pl.col_entries[:, columns].T.astype(np.int64) * nj[:, None], 1)
    suffix = np.cumsum(work[::-1], axis=0)[::-1]                 # sum_{i >= m} w_i
    fin_free = (b[:, None] + 1 + suffix).max(axis=0)             # per PE, unbounded queues
    paced = work.copy()
    if D == 1:
        paced[:-1] = np.maximum(paced[:-1], 2)
    fin_sync = int(b[0]) + 1 + _window_work(work, D)
    fin = np.maximum(fin_free, fin_sync)                         # per PE
    # the last real entry of PE k issues before the work of its trailing columns without
    # a real entry (empty slices or padding only)
    counts, last_real = run_counts(pl, columns, nj, cfg)
    has_real = last_real >= 0
    tail = np.cumsum(paced[::-1], axis=0)[::-1]                  # work from column m on
    ar = np.arange(N)
    after = np.where(last_real + 1 < M, tail[np.minimum(last_real + 1, M - 1), ar], 0)
    lr_idx = np.maximum(last_real, 0)
    gap = paced[lr_idx, ar] - work[lr_idx, ar]                   # D = 1's idle cycle
    last_issue = fin - after - gap
    cycles = max(int(fin.max()) + 1, last_ccu + 1)
    if has_real.any():
        cycles = max(cycles, int(last_issue[has_real].max()) + L + 2)
    stalls = max(0, int(fin.max()) - int(fin_free.max()))
    stream = None if layer_layout is None else stream_estimate(pl, layer_layout, columns, b, work, cfg)
    if stream is not None:        # docs/analytical.md "DRAM streaming"
        cycles += stream.delay
        stalls += stream.delay
    return Timing(cycles, stalls, columns, nj, stream, counts)


def pass_cycles(pass_layout, x_q: np.ndarray, cfg, layer_layout=None) -> int:
    """The cycle estimate of one pass alone (no accumulators, no counters): what a design
    space search needs. ``layer_layout``: the layer, so that a streamed layer's DRAM
    delay is included (None: the pass as if on chip)."""
    return _timing(pass_layout, _check_x(pass_layout, x_q, cfg.batch), cfg, layer_layout).cycles


def _stats(pl, t: Timing, cnt: dict, acc: np.ndarray, cfg) -> PassStats:
    """A run's :class:`PassStats` from its timing and counters (module docstring)."""
    N, D, M = int(pl.n_pe), int(cfg.queue_depth), int(t.columns.size)
    n_loads = max(0, -(-pl.cols // N) - 1) // max(1, int(cfg.act_regs_per_pe))  # rows r > 0, r % R == 0
    starved = t.cycles - (cnt["busy"] + cnt["padding"] + cnt["empty"])
    s = t.stream
    dram = {} if s is None else {
        "dram_stall_cycles": np.minimum(s.stall, starved), "dram_bytes": s.dram_bytes,
        "dram_row_activations": s.dram_row_activations, "dram_tiles": s.dram_tiles}
    return PassStats.build(
        cycles=int(t.cycles), broadcasts=M, queue_full_stalls=int(t.stalls),
        batch_load_cycles=n_loads * int(cfg.batch_load_cycles),
        max_queue_occupancy=int(D if t.stalls > 0 else min(D, M)), acc=acc,
        starved=starved, **cnt, **dram)


def run_pass(pass_layout, layer_layout, x_q: np.ndarray, cfg) -> PassStats:
    """Estimate one output pass (module docstring); same signature as the engines'
    (``x_q``: one vector, or one batch of at most ``cfg.batch`` vectors)."""
    pl = pass_layout
    X = _check_x(pl, x_q, cfg.batch)
    N = int(pl.n_pe)
    t = _timing(pl, X, cfg, layer_layout)
    bias_pass = np.ascontiguousarray(layer_layout.bias_q[pl.row_offset:pl.row_offset + pl.rows],
                                     dtype=np.int64)
    codebook = np.asarray(layer_layout.codebook_q, dtype=np.int64)
    accs, bypass = [], np.zeros(N, dtype=np.int64)
    for x in X:                   # rule A per vector over its own non-zero columns
        cols_v = t.columns if X.shape[0] == 1 else t.columns[(t.columns == pl.cols)
                                                             | (np.r_[x, 1][t.columns] != 0)]
        acc, by = _entry_pass(pl.ptr, pl.entry_start, pl.code, pl.local_row, cols_v, x,
                              codebook, bias_pass, int(pl.cols), N, int(cfg.product_shift))
        accs.append(acc)
        bypass += by
    acc = accs[0] if np.ndim(x_q) == 1 else np.stack(accs)
    return _stats(pl, t, {**t.counts, "bypass_hits": bypass}, acc, cfg)


def _runs(X_q: np.ndarray, cfg):
    """The runs of ``X_q`` ``(P, cols)``: one vector each, or batches of ``cfg.batch``."""
    B = int(cfg.batch)
    return [X_q[i] for i in range(len(X_q))] if B <= 1 else \
        [X_q[i:i + B] for i in range(0, len(X_q), B)]


def run_batch(pass_layout, layer_layout, X_q: np.ndarray, cfg) -> PassBatch:
    """:func:`run_pass` for every run of ``X_q`` (each an independent estimate)."""
    return PassBatch.from_stats([run_pass(pass_layout, layer_layout, x, cfg)
                                 for x in _runs(np.asarray(X_q), cfg)])


def estimate_pass(pass_layout, layer_layout, x_q: np.ndarray, cfg) -> PassStats:
    """The estimate-only run (sweeps, docs/analytical.md "Estimate-only sweeps"): the
    cycle estimate and the counters of :func:`~eie_sim.hw.analytical_counts.run_counts`,
    without the accumulators. ``bypass_hits`` and
    the accumulators are **not computed**: zeros here, and a result built from this run
    reports them as absent (:data:`eie_sim.sim.columns.ESTIMATE_ABSENT`)."""
    pl = pass_layout
    X = _check_x(pl, x_q, cfg.batch)
    t = _timing(pl, X, cfg, layer_layout)
    acc = np.zeros((X.shape[0], pl.rows) if np.ndim(x_q) == 2 else pl.rows, dtype=np.int64)
    return _stats(pl, t, {**t.counts, "bypass_hits": np.zeros(int(pl.n_pe), dtype=np.int64)}, acc, cfg)


def estimate_batch(pass_layout, layer_layout, X_q: np.ndarray, cfg) -> PassBatch:
    """:func:`estimate_pass` for every run of ``X_q``."""
    return PassBatch.from_stats([estimate_pass(pass_layout, layer_layout, x, cfg)
                                 for x in _runs(np.asarray(X_q), cfg)])

