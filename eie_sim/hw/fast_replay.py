"""The trace replay of the fast engine (:mod:`eie_sim.hw.engine_fast`): a pass's pop
cycles and CCU runs rebuilt from the broadcast cycles the kernel found."""
from __future__ import annotations

import numba
import numpy as np

from eie_sim.hw.trace import EVENT_LOAD, EVENT_ROW_MOVE, EVENT_STALL


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


