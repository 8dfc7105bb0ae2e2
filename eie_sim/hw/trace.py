"""What happened in a pass, cycle by cycle, and the windowed counters derived from it.

Either engine can record a :class:`PassTrace` of one pass of one input vector: the cycle
of every broadcast, the cycle every PE popped it, and the CCU's stall runs, batch loads
and row moves (docs/timing.md rules B, P, Q). Together with the layout this fixes every
PE's state in every cycle: PE ``k`` spends cycles ``pop + 1 .. pop + work`` on a column
(its entries issued one per cycle, real or padding, or one empty-column cycle), and is
starved otherwise. The two engines record independently (the numba kernel from its event
walk, the simpy model from its processes) and the tests require equal traces.

:func:`window_counters` bins a trace into windows of ``W`` cycles (``run.window``): per
window and PE the busy, padding, empty and starved cycles and the queue occupancy (mean
and max over the window's cycles), per window the CCU's broadcasts, stall cycles, row
moves and batch-load cycles. :func:`layer_windows` lays a layer's passes end to end with
the layer-level store and reload cycles between them (starved on every PE, as in the
totals), so the window sums equal the layer totals exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

#: kinds of CCU events in :attr:`PassTrace.events` (the numba kernel's codes)
EVENT_STALL, EVENT_LOAD, EVENT_ROW_MOVE = 1, 2, 3


@dataclass
class PassTrace:
    """One pass of one input vector, as recorded by an engine."""

    cycles: int                #: cycles of the pass (docs/timing.md "End of a run")
    columns: np.ndarray        #: int64 (M,): column of each broadcast (``cols`` = bias)
    broadcast: np.ndarray      #: int64 (M,): cycle of each broadcast
    pops: np.ndarray           #: int64 (M, N): cycle PE k popped broadcast m
    events: np.ndarray         #: int64 (E, 3): CCU (kind, first cycle, last cycle), in order
    #: int64 (T, 3): DRAM tiles (first broadcast, fetch start cycle, arrival cycle), in
    #: order; none when the layer is on chip (docs/dram.md rule D)
    tiles: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=np.int64))

    def differences(self, other: "PassTrace") -> list[str]:
        diffs = []
        for name in ("columns", "broadcast", "pops", "events", "tiles"):
            a, b = getattr(self, name), getattr(other, name)
            if a.shape != b.shape or not np.array_equal(a, b):
                diffs.append(f"{name} differ")
        if self.cycles != other.cycles:
            diffs.append(f"cycles {self.cycles} != {other.cycles}")
        return diffs


@dataclass
class WindowCounters:
    """Counters per window of ``window`` cycles (the last window may be shorter)."""

    window: int
    cycles: int                #: cycles covered (the layer's, or the pass's)
    busy: np.ndarray           #: int64 (n_windows, N)
    padding: np.ndarray        #: int64 (n_windows, N)
    empty: np.ndarray          #: int64 (n_windows, N)
    starved: np.ndarray        #: int64 (n_windows, N)
    queue_sum: np.ndarray      #: int64 (n_windows, N): sum of the occupancy over the cycles
    queue_max: np.ndarray      #: int64 (n_windows, N)
    broadcasts: np.ndarray     #: int64 (n_windows,)
    stall_cycles: np.ndarray   #: int64 (n_windows,)
    row_moves: np.ndarray      #: int64 (n_windows,)
    load_cycles: np.ndarray    #: int64 (n_windows,): batch loads inside passes and reloads
    store_cycles: np.ndarray   #: int64 (n_windows,): destination registers written back

    @property
    def n_windows(self) -> int:
        return int(self.busy.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        """int64 (n_windows,): cycles in each window."""
        starts = np.arange(self.n_windows, dtype=np.int64) * self.window
        return np.minimum(starts + self.window, self.cycles) - starts

    @property
    def queue_mean(self) -> np.ndarray:
        return self.queue_sum / self.lengths[:, None]

    def differences(self, other: "WindowCounters") -> list[str]:
        names = ("busy", "padding", "empty", "starved", "queue_sum", "queue_max", "broadcasts",
                 "stall_cycles", "row_moves", "load_cycles", "store_cycles")
        return [f"{n} differ" for n in names
                if getattr(self, n).shape != getattr(other, n).shape
                or not np.array_equal(getattr(self, n), getattr(other, n))]


@numba.njit(cache=True, nogil=True)
def _bin_pass(offset, W, cycles, columns, broadcast, pops, ptr, entry_start, code, real,
              n_pe, busy, padding, empty, queue_sum, queue_max, bcast):
    """Add one pass (starting at layer cycle ``offset``) to the window arrays. ``real[j, k]``:
    the real entries of column ``j`` in PE ``k`` (a column within one window is added at
    once; one crossing a window boundary entry by entry)."""
    M = columns.shape[0]
    for m in range(M):
        bcast[(offset + broadcast[m]) // W] += 1
    base_delta = np.zeros(cycles + 2, dtype=np.int64)
    for m in range(M):
        base_delta[broadcast[m] + 1] += 1         # seen from the cycle after the broadcast
    occ_delta = np.empty(cycles + 2, dtype=np.int64)
    for k in range(n_pe):
        e0 = entry_start[k]
        occ_delta[:] = base_delta
        for m in range(M):
            p = pops[m, k]
            occ_delta[p + 1] -= 1                  # freed from the cycle after the pop
            j = columns[m]
            a0 = ptr[k, j]
            a1 = ptr[k, j + 1]
            if a1 == a0:
                empty[(offset + p + 1) // W, k] += 1
                continue
            w0 = (offset + p + 1) // W
            if w0 == (offset + p + a1 - a0) // W:
                busy[w0, k] += real[j, k]
                padding[w0, k] += a1 - a0 - real[j, k]
                continue
            for a in range(a0, a1):
                w = (offset + p + 1 + a - a0) // W
                if code[e0 + a] != 0:
                    busy[w, k] += 1
                else:
                    padding[w, k] += 1
        occ = np.int64(0)
        for t in range(cycles):
            occ += occ_delta[t]
            w = (offset + t) // W
            queue_sum[w, k] += occ
            if occ > queue_max[w, k]:
                queue_max[w, k] = occ


@numba.njit(cache=True, nogil=True)
def _bin_events(offset, W, events, stall, load, move):
    """Add the CCU's event runs (kind, first, last) of one pass to their windows."""
    for i in range(events.shape[0]):
        kind = events[i, 0]
        arr = stall if kind == EVENT_STALL else (load if kind == EVENT_LOAD else move)
        _add_run(arr, offset + events[i, 1], offset + events[i, 2], W)


@numba.njit(cache=True, nogil=True)
def _add_run(arr, first, last, W):
    """Add 1 to ``arr[w]`` for every cycle ``first..last`` (inclusive) of window ``w``."""
    t = first
    while t <= last:
        w = t // W
        end = min(last, (w + 1) * W - 1)
        arr[w] += end - t + 1
        t = end + 1


def layer_windows(traces: list[PassTrace], passes: list, W: int, store: int, reload: int,
                  cycles: int) -> WindowCounters:
    """The windows of a layer: pass 0, its ``store`` cycles, then for every further pass
    ``reload`` cycles, the pass and its store (docs/timing.md "Output passes"; the
    overhead cycles are starved on every PE). ``passes``: the :class:`PassLayout` of each
    trace; ``cycles``: the layer's cycles (must equal the laid-out sum)."""
    if W < 1:
        raise ValueError(f"window must be >= 1 cycle, got {W}")
    n_w = -(-cycles // W) if cycles else 0
    n_pe = passes[0].n_pe
    z2 = lambda: np.zeros((n_w, n_pe), dtype=np.int64)  # noqa: E731
    z1 = lambda: np.zeros(n_w, dtype=np.int64)           # noqa: E731
    wc = WindowCounters(W, cycles, z2(), z2(), z2(), z2(), z2(), z2(), z1(), z1(), z1(), z1(), z1())
    offset = 0
    for i, (tr, pl) in enumerate(zip(traces, passes)):
        if i > 0 and reload:
            _add_run(wc.load_cycles, offset, offset + reload - 1, W)
            offset += reload
        _bin_pass(offset, W, int(tr.cycles), tr.columns, tr.broadcast, tr.pops,
                  np.ascontiguousarray(pl.ptr, dtype=np.int64),
                  np.ascontiguousarray(pl.entry_start, dtype=np.int64), pl.code,
                  pl.column_real(), n_pe, wc.busy, wc.padding, wc.empty, wc.queue_sum,
                  wc.queue_max, wc.broadcasts)
        _bin_events(offset, W, tr.events, wc.stall_cycles, wc.load_cycles, wc.row_moves)
        offset += int(tr.cycles)
        if store:
            _add_run(wc.store_cycles, offset, offset + store - 1, W)
            offset += store
    if offset != cycles:
        raise ValueError(f"passes and overheads cover {offset} cycles, the layer has {cycles}")
    wc.starved = wc.lengths[:, None] - wc.busy - wc.padding - wc.empty
    return wc


@dataclass
class LayerTimeline:
    """A layer's passes as recorded (one input vector), with the layer-level overheads:
    each pass is followed by ``store`` cycles, every pass after the first preceded by
    ``reload`` cycles (docs/timing.md "Output passes")."""

    traces: list[PassTrace]
    passes: list               #: the PassLayout of each trace
    store: int                 #: batch store cycles after each pass
    reload: int                #: pass reload cycles before each pass after the first
    cycles: int                #: the layer's cycles

    def pass_offsets(self) -> list[int]:
        """The layer cycle at which each pass starts."""
        out, t = [], 0
        for i, tr in enumerate(self.traces):
            t += self.reload if i else 0
            out.append(t)
            t += int(tr.cycles) + self.store
        return out

    def windows(self, window: int) -> WindowCounters:
        """:func:`layer_windows` of this timeline."""
        return layer_windows(self.traces, self.passes, window, self.store, self.reload,
                             self.cycles)

