"""Fast engine: the cycle model of docs/timing.md as one event-driven numba kernel.

``run_pass(pass_layout, layer_layout, x_q, cfg) -> PassStats`` returns exactly the
counters of the cycle-by-cycle model (the simpy engine, ``eie_sim/hw/engine_simpy.py``),
but without visiting cycles one by one. It rests on three facts of the specification:

* **The broadcast order does not depend on timing.** The CCU broadcasts the non-zero
  columns in increasing order, then the bias column; only *when* it broadcasts them
  depends on stalls and batch loads. Every queue receives the same sequence.
* **A PE's pops follow a recurrence** (rule P): if column ``m`` (the m-th broadcast) is
  broadcast in cycle ``b[m]``, PE ``k`` pops it in cycle
  ``p[m,k] = max(p[m-1,k] + L[m-1,k], b[m] + 1)`` with ``L = max(1, entries)``; it works
  on it in cycles ``p+1 .. p+L``. (Before the first column the first term is absent.)
* **The CCU is stalled exactly when the slowest PE has not popped yet.** Queue ``k``
  holds ``(#broadcasts before t) - (#pops of k before t)`` entries at the start of
  cycle ``t``; with ``P[m] = max_k p[m,k]`` (increasing in ``m``) some queue is full
  iff ``nb >= D`` and ``P[nb - D] >= t``. Only a found non-zero waits for that (the
  detector leaves a used-up row even while a queue is full), so a stall lasts until
  ``P[nb - D]`` inclusive and the CCU jumps over it in one step; batch loads are jumps
  as well.

The kernel therefore walks the detector rows (one step per row, one per non-zero), does
O(N) work per broadcast, and then one sequential pass per PE over the entries of the
broadcast columns for the values, Spmat line reads, bypass hits and the cycle of the
last accumulator write (rules S and A), which ends the run (docs/timing.md "End of a
run").
Everything happens in one numba call per pass (compiled with ``cache=True``).
"""
from __future__ import annotations

import numba
import numpy as np

from eie_sim.arch.config import ArchConfig
from eie_sim.hw.counters import PassBatch, PassStats
from eie_sim.hw.layout import LayerLayout, PassLayout, streams
from eie_sim.hw.trace import EVENT_LOAD, EVENT_ROW_MOVE, EVENT_STALL, PassTrace
from eie_sim.hw.units import dram as dram_unit

#: length of the scalar result of :func:`_simulate` (cycles, broadcasts, stalls, batch
#: load cycles, max queue occupancy, DRAM bytes, DRAM row activations, DRAM tiles)
N_SCALARS = 8
#: rows of the per-PE result (eie_sim.hw.counters.PE_COUNTERS)
N_PE_COUNTERS = 8


@numba.njit(cache=True, nogil=True)
def _round_product(prod, shift):
    # fixed_point.round_product: to nearest, ties towards +infinity
    if shift == 0:
        return prod
    return (prod + (np.int64(1) << (shift - 1))) >> shift


@numba.njit(cache=True, nogil=True, inline="always")
def _broadcast(bt, nb, work, j, ready, P, btime, popped_all, max_occ, N, arr, dstall, ptr, nj):
    """Broadcast number ``nb`` (column ``j``) in cycle ``bt`` (rules B, P, Q); returns the
    new ``(nb, popped_all, max_occ)``. Every PE pops it at ``max(ready, bt + 1)``, or at
    ``arr`` (its DRAM tile's arrival, rule D; -1 without DRAM) when later, counting the
    difference as DRAM stall cycles, and is then busy with it for ``work[j, k]`` cycles;
    ``P[nb]`` is the last PE's pop cycle."""
    btime[nb] = bt
    mx = np.int64(-1)
    for k in range(N):
        p = ready[k]
        if p < bt + 1:
            p = bt + 1
        if p < arr:
            dstall[k] += arr - p
            p = arr
        w = work[j, k]
        if nj > 1:          # a batch (docs/dram.md "Batching"): each entry once per vector
            e = ptr[k, j + 1] - ptr[k, j]
            if e > 0:
                w = e * nj
        ready[k] = p + w
        if p > mx:
            mx = p
    P[nb] = mx
    nb += 1
    # occupancy at the start of bt + 1, the first cycle the entry is seen
    while popped_all < nb and P[popped_all] < bt + 1:
        popped_all += 1
    occ = nb - popped_all
    if occ > max_occ:
        max_occ = occ
    return nb, popped_all, max_occ


@numba.njit(cache=True, nogil=True)
def _simulate(ptr, work, entry_start, code, local_row, X, codebook_q, bias_q_pass,
              has_bias, n_pe, cols, pass_rows, queue_depth, regs, batch_load,
              entries_per_line, latency, weight_frac_bits, dram_on, rec_addr, rec_bursts,
              cap_entries, cap_cols, burst_bytes, row_bytes, t_cl_ns, t_act_ns, ns_per_byte,
              cycle_ns):
    """One pass of docs/timing.md (and docs/dram.md rule D when ``dram_on``) for the
    ``(B, cols)`` activations ``X`` of one batch (B = 1: one vector). Returns
    (scalars int64[N_SCALARS], per-PE counters int64[N_PE_COUNTERS, N], acc, btime,
    arrival of each broadcast's tile, tiles (T, 3): first broadcast, fetch start, arrival).

    scalars: cycles, broadcasts, queue_full_stalls, batch_load_cycles,
    max_queue_occupancy, dram_bytes, dram_row_activations, dram_tiles. Per-PE rows: busy,
    padding, empty, starved, pointer_reads, spmat_line_reads, bypass_hits,
    dram_stall_cycles.
    """
    N = n_pe
    D = queue_depth
    n_rows = (cols + N - 1) // N

    # ---- the batch: x_q[j] != 0 iff some vector is non-zero in column j; nzc[j] vectors
    B = X.shape[0]
    nzc = np.zeros(cols + 1, dtype=np.int64)
    for b in range(B):
        for j in range(cols):
            if X[b, j] != 0:
                nzc[j] += 1
    nzc[cols] = B
    x_q = nzc

    # ---- the broadcast sequence (order is fixed; only the times are simulated) ----
    n_nz = 0
    for j in range(cols):
        if x_q[j] != 0:
            n_nz += 1
    M = n_nz + (1 if has_bias else 0)
    bcol = np.empty(M, dtype=np.int64)
    m = 0
    for j in range(cols):
        if x_q[j] != 0:
            bcol[m] = j
            m += 1
    if has_bias:
        bcol[m] = cols

    # ---- rule D: the tiles of the stream (timing-independent), fetched as the walk goes
    dstall = np.zeros(N, dtype=np.int64)
    arr_m = np.full(M, -1, dtype=np.int64)   # arrival cycle of broadcast m's tile
    dram_bytes = np.int64(0)
    dram_acts = np.int64(0)
    if dram_on:
        tile_of, tdur, tbytes, tacts, bad = dram_unit.plan_tiles(
            ptr, bcol, rec_addr, rec_bursts, cap_entries, cap_cols, burst_bytes, row_bytes,
            t_cl_ns, t_act_ns, ns_per_byte, cycle_ns)
        if bad >= 0:
            raise ValueError("DRAM streaming: a column slice exceeds a buffer half")
        for i in range(tbytes.shape[0]):
            dram_bytes += tbytes[i]
            dram_acts += tacts[i]
    else:
        tile_of = np.zeros(M, dtype=np.int64)
        tdur = np.zeros(0, dtype=np.int64)
    T = tdur.shape[0]
    tiles = np.zeros((T, 3), dtype=np.int64)    # first broadcast, fetch start, arrival
    tdone = np.zeros(T, dtype=np.int64)         # last cycle any PE works on the tile
    cur_arr = np.int64(-1)
    prev_arr = np.int64(0)

    # work[j, k] = cycles PE k spends on column j (max(1, entries)): the pass's own table

    # ---- CCU walk (rule B) with PE pop times (rule P) and queue state (rule Q) ----
    btime = np.empty(M, dtype=np.int64)     # cycle of broadcast m
    P = np.empty(M, dtype=np.int64)         # cycle the last PE pops broadcast m
    ready = np.full(N, -1, dtype=np.int64)  # last work cycle of the PE's previous column
    t = 1                                   # the CCU's current cycle (cycle 0 loads row 0)
    nb = 0                                  # broadcasts made so far
    last_ccu = 0                            # last cycle the CCU did anything
    stalls = 0
    loads = 0
    max_occ = 0
    popped_all = 0                          # #{m : P[m] < t}, for the occupancy maximum

    for row in range(n_rows + 1):
        if row == n_rows and not has_bias:
            break
        if row > 0 and row < n_rows and row % regs == 0:
            # moved into a row that starts a new input batch: load it (no stall check)
            loads += batch_load
            t += batch_load
            last_ccu = t - 1
        if row < n_rows:
            base = row * N
            c = 0
            while True:
                # next non-zero bank >= c; every row is N banks wide (banks past the last
                # column hold zeros), N when none
                while c < N and (base + c >= cols or x_q[base + c] == 0):
                    c += 1
                if c == N:
                    # nothing left in the row: the cycle moves to the next row, even while
                    # a queue is full
                    last_ccu = t
                    t += 1
                    break
                # a non-zero found: it waits while some queue is full (a stall)
                if nb >= D and P[nb - D] >= t:
                    stalls += P[nb - D] - t + 1
                    t = P[nb - D] + 1
                # broadcast column base + c in cycle t
                if dram_on:
                    cur_arr, prev_arr = _tile_arrival(nb, tile_of, tdur, tdone, tiles, prev_arr,
                                                      cur_arr)
                    arr_m[nb] = cur_arr
                nb, popped_all, max_occ = _broadcast(t, nb, work, base + c, ready, P, btime, popped_all,
                                                     max_occ, N, cur_arr, dstall, ptr,
                                                     nzc[base + c])
                if dram_on:
                    _tile_done(nb - 1, M, tile_of, ready, tdone, N)
                last_ccu = t
                t += 1
                if c == N - 1:
                    break  # last bank: the row move happens in the same cycle
                c += 1
        else:
            # all rows done, the bias column is broadcast last (after a stall check)
            if nb >= D and P[nb - D] >= t:
                stalls += P[nb - D] - t + 1
                t = P[nb - D] + 1
            if dram_on:
                cur_arr, prev_arr = _tile_arrival(nb, tile_of, tdur, tdone, tiles, prev_arr,
                                                  cur_arr)
                arr_m[nb] = cur_arr
            nb, popped_all, max_occ = _broadcast(t, nb, work, cols, ready, P, btime, popped_all,
                                                 max_occ, N, cur_arr, dstall, ptr, B)
            if dram_on:
                _tile_done(nb - 1, M, tile_of, ready, tdone, N)
            last_ccu = t
            t += 1


    # ---- per-PE entry pass: values (rule A), Spmat lines (rule S), bypass ----------
    counters = np.zeros((N_PE_COUNTERS, N), dtype=np.int64)
    line_shift = -1
    for sh in range(63):
        if (np.int64(1) << sh) == entries_per_line:
            line_shift = sh
    acc = np.zeros((B, pass_rows), dtype=np.int64)
    last_write = np.int64(-1)               # cycle of the last accumulator write (rule A)
    # the vectors each broadcast serves, in vector order (the bias column: all of them)
    vecs = np.zeros((M, B), dtype=np.int64)
    for m in range(M):
        j = bcol[m]
        q = 0
        for b in range(B):
            if j == cols or X[b, j] != 0:
                vecs[m, q] = b
                q += 1
    for k in range(N):
        e0 = entry_start[k]
        busy = 0
        pad = 0
        empty = 0
        lines = 0
        bypass = 0
        prev_line = -1
        prev_issue_t = -10          # cycle of the PE's previous issued entry
        prev_writes = False
        prev_row = -1
        prev_vec = -1
        fin = np.int64(-1)
        for m in range(M):
            j = bcol[m]
            n = nzc[j]
            p = fin
            if p < btime[m] + 1:
                p = btime[m] + 1
            if p < arr_m[m]:
                p = arr_m[m]
            a0 = ptr[k, j]
            a1 = ptr[k, j + 1]
            if a1 == a0:
                empty += 1
                fin = p + 1
                continue
            fin = p + (a1 - a0) * n
            # rule S: a line read whenever the line changes (per column: first line, then
            # every line boundary crossed inside the column)
            if line_shift >= 0:     # entries_per_line is a power of two (the usual case)
                first_line = a0 >> line_shift
                last_line = (a1 - 1) >> line_shift
            else:
                first_line = a0 // entries_per_line
                last_line = (a1 - 1) // entries_per_line
            lines += last_line - first_line
            if first_line != prev_line:
                lines += 1
            prev_line = last_line
            is_bias = j == cols
            # rule A: the first entry issues in cycle p + 1; it follows the PE's previous
            # issue directly only when that was in cycle p. In a batch each entry issues
            # once per vector of vecs[m] (n cycles), in vector order.
            chain = prev_writes and prev_issue_t == p
            if n == 1:          # one vector (always with batch 1): the plain rule A loop
                b = vecs[m, 0]
                acc_b = acc[b]
                xj = np.int64(0)
                if not is_bias:
                    xj = X[b, j]
                for a in range(a0, a1):
                    v = code[e0 + a]
                    if v != 0:
                        busy += 1
                        w = p + 1 + (a - a0) + latency      # issued in p + 1 + (a - a0)
                        if w > last_write:
                            last_write = w
                        lr = np.int64(local_row[e0 + a])
                        if chain and prev_row == lr and prev_vec == b:
                            bypass += 1
                        r = lr * N + k
                        if is_bias:
                            acc_b[r] += bias_q_pass[r]
                        else:
                            acc_b[r] += _round_product(codebook_q[v] * xj, weight_frac_bits)
                        chain = True
                        prev_row = lr
                        prev_vec = b
                    else:
                        pad += 1
                        chain = False
                prev_writes = chain
                prev_issue_t = fin
                continue
            for a in range(a0, a1):
                v = code[e0 + a]
                if v != 0:
                    busy += n
                    w = p + (a - a0) * n + n + latency   # last issue p + 1 + (a-a0) n + n - 1
                    if w > last_write:
                        last_write = w
                    lr = np.int64(local_row[e0 + a])
                    r = lr * N + k
                    for q in range(n):
                        b = vecs[m, q]
                        if chain and prev_row == lr and prev_vec == b:
                            bypass += 1
                        if is_bias:
                            acc[b, r] += bias_q_pass[r]
                        else:
                            acc[b, r] += _round_product(codebook_q[v] * X[b, j], weight_frac_bits)
                        chain = True
                        prev_row = lr
                        prev_vec = b
                else:
                    pad += n
                    chain = False
            prev_writes = chain
            prev_issue_t = fin
        counters[0, k] = busy
        counters[1, k] = pad
        counters[2, k] = empty
        counters[4, k] = M
        counters[5, k] = lines
        counters[6, k] = bypass
        counters[7, k] = dstall[k]

    # ---- end of the run: the last write + 2, or after the last CCU / PE cycle ----------
    cycles = last_ccu + 1
    for k in range(N):
        if ready[k] + 1 > cycles:
            cycles = ready[k] + 1
    if last_write >= 0 and last_write + 2 > cycles:
        cycles = last_write + 2
    for k in range(N):   # derived here; the simpy model counts it
        counters[3, k] = cycles - counters[0, k] - counters[1, k] - counters[2, k]

    scalars = np.zeros(N_SCALARS, dtype=np.int64)
    scalars[0] = cycles
    scalars[1] = M
    scalars[2] = stalls
    scalars[3] = loads
    scalars[4] = max_occ
    scalars[5] = dram_bytes
    scalars[6] = dram_acts
    scalars[7] = T
    return scalars, counters, acc, btime, arr_m, tiles


@numba.njit(cache=True, nogil=True, inline="always")
def _tile_arrival(nb, tile_of, tdur, tdone, tiles, prev_arr, cur_arr):
    """Rule D at broadcast ``nb``: when it opens a tile ``i``, that tile's fetch starts at
    ``max(arrival of tile i-1, cycle after tile i-2's last work)`` and arrives ``tdur[i]``
    later. Returns the arrival of broadcast ``nb``'s tile and the channel's last arrival."""
    i = tile_of[nb]
    if nb > 0 and tile_of[nb - 1] == i:
        return cur_arr, prev_arr
    start = prev_arr
    if i >= 2 and tdone[i - 2] + 1 > start:
        start = tdone[i - 2] + 1
    a = start + tdur[i]
    tiles[i, 0] = nb
    tiles[i, 1] = start
    tiles[i, 2] = a
    return a, a


@numba.njit(cache=True, nogil=True, inline="always")
def _tile_done(m, M, tile_of, ready, tdone, N):
    """After broadcast ``m``: when it closes its tile, the last cycle any PE works on it."""
    if m == M - 1 or tile_of[m + 1] != tile_of[m]:
        mx = np.int64(-1)
        for k in range(N):
            if ready[k] > mx:
                mx = ready[k]
        tdone[tile_of[m]] = mx


def kernel_arguments(pass_layout: PassLayout, layer_layout: LayerLayout, cfg: ArchConfig):
    """The kernel's arguments before and after the activations, checked and contiguous.

    ``_simulate(*before, x_q, *after)`` runs one vector; :func:`_simulate_many` takes the
    same arguments with a ``(P, cols)`` matrix in place of ``x_q``.
    """
    pl = pass_layout
    if pl.n_pe != cfg.pes:
        raise ValueError(f"pass laid out for {pl.n_pe} PEs but cfg.pes = {cfg.pes}")
    before = (np.ascontiguousarray(pl.ptr, dtype=np.int64), pl.column_work(),
              np.ascontiguousarray(pl.entry_start, dtype=np.int64),
              np.ascontiguousarray(pl.code, dtype=np.uint8),
              np.ascontiguousarray(pl.local_row, dtype=np.int32))
    bias_q_pass = np.ascontiguousarray(
        layer_layout.bias_q[pl.row_offset:pl.row_offset + pl.rows], dtype=np.int64)
    after = (np.ascontiguousarray(layer_layout.codebook_q, dtype=np.int64),
             bias_q_pass, bool(pl.has_bias), int(pl.n_pe), int(pl.cols), int(pl.rows),
             int(cfg.queue_depth), int(cfg.act_regs_per_pe), int(cfg.batch_load_cycles),
             int(cfg.entries_per_line), int(cfg.arithmetic_latency), int(cfg.product_shift))
    return before, after + dram_arguments(pl, layer_layout, cfg)


_NO_RECORDS = np.zeros(0, dtype=np.int64)


def dram_arguments(pass_layout: PassLayout, layer_layout: LayerLayout, cfg: ArchConfig) -> tuple:
    """The kernel's rule-D arguments: whether the layer streams (docs/dram.md), the DRAM
    records of the pass's columns and the channel's parameters (zeros when it does not)."""
    if not streams(layer_layout, cfg):
        return (False, _NO_RECORDS, _NO_RECORDS, 0, 0, 1, 1, 0.0, 0.0, 0.0, 1.0)
    ptr = np.ascontiguousarray(pass_layout.ptr, dtype=np.int64)
    params = dram_unit.kernel_params(cfg)
    dram_unit.check_streamable(ptr, layer_layout.name, cfg)
    addr, bursts = dram_unit.column_records(ptr, cfg)
    return (True, addr, bursts) + params


def _checked_activations(X_q: np.ndarray, cols: int) -> np.ndarray:
    """``X_q`` as a contiguous int64 ``(P, cols)`` matrix (a vector is one row)."""
    X_q = np.asarray(X_q)
    if X_q.size and not np.issubdtype(X_q.dtype, np.integer):
        raise ValueError(f"x_q must hold integer fixed-point activations, got {X_q.dtype}")
    X_q = np.ascontiguousarray(X_q, dtype=np.int64)
    if X_q.ndim == 1:
        X_q = X_q.reshape(1, -1)
    if X_q.ndim != 2 or X_q.shape[1] != cols:
        raise ValueError(f"x_q: activations of shape {X_q.shape} for a layer with {cols} inputs")
    return X_q


@numba.njit(cache=True, nogil=True, parallel=True)
def _simulate_many(ptr, work, entry_start, code, local_row, X_q, batch, codebook_q, bias_q_pass,
                   has_bias, n_pe, cols, pass_rows, queue_depth, regs, batch_load,
                   entries_per_line, latency, weight_frac_bits, dram_on, rec_addr, rec_bursts,
                   cap_entries, cap_cols, burst_bytes, row_bytes, t_cl_ns, t_act_ns,
                   ns_per_byte, cycle_ns):
    """:func:`_simulate` for every batch of ``batch`` consecutive rows of ``X_q`` (the last
    may be shorter; independent runs, in parallel)."""
    P = X_q.shape[0]
    G = (P + batch - 1) // batch
    scalars = np.zeros((G, N_SCALARS), dtype=np.int64)
    counters = np.zeros((G, N_PE_COUNTERS, n_pe), dtype=np.int64)
    acc = np.zeros((P, pass_rows), dtype=np.int64)
    for i in numba.prange(G):
        lo = i * batch
        hi = min(P, lo + batch)
        s, c, a, _, _, _ = _simulate(
            ptr, work, entry_start, code, local_row, X_q[lo:hi], codebook_q, bias_q_pass, has_bias,
            n_pe, cols, pass_rows, queue_depth, regs, batch_load, entries_per_line, latency,
            weight_frac_bits, dram_on, rec_addr, rec_bursts, cap_entries, cap_cols, burst_bytes,
            row_bytes, t_cl_ns, t_act_ns, ns_per_byte, cycle_ns)
        scalars[i, :] = s
        counters[i, :, :] = c
        acc[lo:hi, :] = a
    return scalars, counters, acc


def run_batch(pass_layout: PassLayout, layer_layout: LayerLayout, X_q: np.ndarray,
              cfg: ArchConfig) -> PassBatch:
    """Simulate one output pass for every row of ``X_q`` (int64 ``(P, cols)`` fixed point;
    e.g. the output positions of a convolution), ``cfg.batch`` rows at a time (each batch
    one run, docs/dram.md "Batching"; the batches are independent). One batch runs
    :func:`_simulate` directly, several run in parallel in one numba call."""
    X_q = _checked_activations(X_q, pass_layout.cols)
    before, after = kernel_arguments(pass_layout, layer_layout, cfg)
    B = int(cfg.batch)
    sizes = batch_sizes(X_q.shape[0], B)
    if X_q.shape[0] <= B:
        scalars, counters, acc, _, _, _ = _simulate(*before, X_q, *after)
        return PassBatch.from_kernel(scalars[None, :], counters[None], acc, sizes)
    return PassBatch.from_kernel(*_simulate_many(*before, X_q, B, *after), sizes)


def batch_sizes(P: int, batch: int) -> np.ndarray | None:
    """The vectors of each batch of ``P`` vectors run ``batch`` at a time (the last batch
    may be shorter); None when every batch is one vector."""
    if batch <= 1:
        return None
    sizes = np.full(-(-P // batch), batch, dtype=np.int64)
    if P % batch:
        sizes[-1] = P % batch
    return sizes


def run_pass(pass_layout: PassLayout, layer_layout: LayerLayout, x_q: np.ndarray,
             cfg: ArchConfig) -> PassStats:
    """Simulate one output pass (docs/timing.md) and return its counters and accumulators.

    ``x_q``: int64 fixed-point activations (``act_frac_bits``) of the ``cols`` inputs.
    ``acc[i]`` is the accumulator of global row ``pass_layout.row_offset + i``.
    """
    if np.ndim(x_q) != 1 and not (np.ndim(x_q) == 2 and np.shape(x_q)[0] <= max(1, cfg.batch)):
        raise ValueError(f"x_q must be one vector of {pass_layout.cols} activations (or one "
                         f"batch of at most batch={cfg.batch}), got shape {np.shape(x_q)}")
    return run_batch(pass_layout, layer_layout, x_q, cfg).stats(0)


@numba.njit(cache=True, nogil=True)
def _replay(btime, arr_m, columns, x_q, work, has_bias, n_pe, cols, regs, batch_load, ptr, nzc):
    """A pass's trace from the broadcast cycles the kernel found: every PE's pop cycles by
    rule P's recurrence (``p = max(end of the previous column, broadcast + 1)``), and the
    CCU's runs by walking rule B's detector rows against those cycles (a broadcast later
    than the walk's cycle was stalled; batch loads and row moves as the rules place them).

    Kept apart from :func:`_simulate` on purpose: recording inside the kernel doubled its
    compilation time for every run, traced or not. The simpy model records its trace
    itself, and the tests require the two to be equal.
    """
    M = btime.shape[0]
    N = n_pe
    pops = np.empty((M, N), dtype=np.int64)
    for k in range(N):
        fin = np.int64(-1)
        for m in range(M):
            p = fin
            if p < btime[m] + 1:
                p = btime[m] + 1
            if p < arr_m[m]:                      # waited for its DRAM tile (rule D)
                p = arr_m[m]
            pops[m, k] = p
            j = columns[m]
            w = work[j, k]
            if nzc[j] > 1:                        # a batch: each entry once per vector
                e = ptr[k, j + 1] - ptr[k, j]
                if e > 0:
                    w = e * nzc[j]
            fin = p + w
    n_rows = (cols + N - 1) // N
    events = np.empty((M + 2 * n_rows + 1, 3), dtype=np.int64)
    ne = 0
    t = np.int64(1)                               # cycle 0 loads detector row 0
    m = 0
    for row in range(n_rows + 1):
        if row == n_rows and not has_bias:
            break
        if row > 0 and row < n_rows and row % regs == 0:
            events[ne, 0], events[ne, 1], events[ne, 2] = EVENT_LOAD, t, t + batch_load - 1
            ne += 1
            t += batch_load
        found_bias = row == n_rows
        c = 0
        while True:
            if not found_bias:
                while c < N and (row * N + c >= cols or x_q[row * N + c] == 0):
                    c += 1
                if c == N:                        # a used-up row is left
                    events[ne, 0], events[ne, 1], events[ne, 2] = EVENT_ROW_MOVE, t, t
                    ne += 1
                    t += 1
                    break
            if btime[m] > t:                      # the broadcast waited: a stall run
                events[ne, 0], events[ne, 1], events[ne, 2] = EVENT_STALL, t, btime[m] - 1
                ne += 1
                t = btime[m]
            m += 1
            t += 1
            if found_bias or c == N - 1:
                break
            c += 1
    return pops, events[:ne].copy()


def run_pass_traced(pass_layout: PassLayout, layer_layout: LayerLayout, x_q: np.ndarray,
                    cfg: ArchConfig) -> tuple[PassStats, PassTrace]:
    """:func:`run_pass` that also records the pass's :class:`~eie_sim.hw.trace.PassTrace`
    (broadcast and pop cycles, the CCU's stalls, batch loads and row moves)."""
    pl = pass_layout
    X = _checked_activations(x_q, pl.cols)
    if X.shape[0] > max(1, cfg.batch):
        raise ValueError(f"a trace is recorded for one batch, not {X.shape[0]} vectors")
    before, after = kernel_arguments(pl, layer_layout, cfg)
    nzc = np.zeros(pl.cols + 1, dtype=np.int64)
    nzc[:pl.cols] = np.count_nonzero(X, axis=0)
    nzc[pl.cols] = X.shape[0]
    columns = np.flatnonzero(nzc[:pl.cols]).astype(np.int64)
    if pl.has_bias:
        columns = np.append(columns, pl.cols)
    scalars, counters, acc, btime, arr_m, tiles = _simulate(*before, X, *after)
    stats = PassBatch.from_kernel(scalars[None, :], counters[None], acc,
                                  batch_sizes(X.shape[0], X.shape[0])).stats(0)
    btime = btime[:columns.size].copy()
    pops, events = _replay(btime, arr_m, columns, nzc, pl.column_work(), pl.has_bias, cfg.pes,
                           pl.cols, cfg.act_regs_per_pe, cfg.batch_load_cycles,
                           np.ascontiguousarray(pl.ptr, dtype=np.int64), nzc)
    return stats, PassTrace(int(scalars[0]), columns, btime, pops, events, tiles)

