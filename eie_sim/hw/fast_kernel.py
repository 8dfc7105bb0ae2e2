"""The numba kernel of the fast engine (:mod:`eie_sim.hw.engine_fast`, which explains
the method): one pass of docs/timing.md per call (:func:`_simulate`), many independent
batches in parallel (:func:`_simulate_many`). Rule S counts Spmat line reads in closed
form for ``csc`` and ``nm`` (slot ``a`` of a PE lies in line ``a // epl``) and from the
per-slot code and mask lines for ``bitmask`` (``epl = 0``; the layout's
:meth:`~eie_sim.hw.layout.PassLayout.spmat_lines`); ``ptr_reads`` is 1 when a pop reads the column pointers, 0 for
``nm`` (computed slice addresses)."""
from __future__ import annotations

import numba
import numpy as np

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
def _simulate(ptr, work, entry_start, code, local_row, line, mline, epl, X, codebook_q,
              bias_q_pass,
              has_bias, n_pe, cols, pass_rows, queue_depth, regs, batch_load,
              ptr_reads, latency, weight_frac_bits, dram_on, rec_addr, rec_bursts,
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
        cur_line = np.int64(-1)     # the buffered entry line (rule S)
        cur_mline = np.int64(-1)    # the buffered mask line (bitmask)
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
            # rule S: a line read whenever a slot's line differs from the buffered one
            if epl > 0:     # csc / nm: slot a of the PE lies in line a // epl (closed form)
                first = a0 // epl
                last = (a1 - 1) // epl
                lines += last - first
                if first != cur_line:
                    lines += 1
                cur_line = last
            else:           # bitmask: the per-slot code and mask lines
                for a in range(a0, a1):
                    ln = line[e0 + a]
                    if ln >= 0 and ln != cur_line:
                        lines += 1
                        cur_line = ln
                    ml = mline[e0 + a]
                    if ml >= 0 and ml != cur_mline:
                        lines += 1
                        cur_mline = ml
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
        counters[4, k] = M * ptr_reads
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


@numba.njit(cache=True, nogil=True, parallel=True)
def _simulate_many(ptr, work, entry_start, code, local_row, line, mline, epl, X_q, batch,
                   codebook_q,
                   bias_q_pass, has_bias, n_pe, cols, pass_rows, queue_depth, regs, batch_load,
                   ptr_reads, latency, weight_frac_bits, dram_on, rec_addr, rec_bursts,
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
            ptr, work, entry_start, code, local_row, line, mline, epl, X_q[lo:hi], codebook_q,
            bias_q_pass, has_bias, n_pe, cols, pass_rows, queue_depth, regs, batch_load,
            ptr_reads, latency,
            weight_frac_bits, dram_on, rec_addr, rec_bursts, cap_entries, cap_cols, burst_bytes,
            row_bytes, t_cl_ns, t_act_ns, ns_per_byte, cycle_ns)
        scalars[i, :] = s
        counters[i, :, :] = c
        acc[lo:hi, :] = a
    return scalars, counters, acc


