"""The DRAM channel that streams a layer's weights into the PEs (docs/dram.md, rule D).

Not in the paper: EIE keeps every weight on chip. A layer whose memory images exceed the
Spmat or pointer SRAMs (or ``dram_stream: always``) is streamed, per output pass, from an
off-chip DRAM through one channel into the Spmat and pointer SRAMs, which are split into
two halves (double buffering). This module holds everything both engines share:

* :data:`PRESETS`: bandwidth, burst, row (page) size and timing of each DRAM type, with
  the JEDEC standard or datasheet each figure comes from (energy per bit lives in the
  energy table, ``eie_sim/arch/configs/energy_45nm.yaml``, kept apart from timing);
* :func:`column_records`: where each column's record (its slices in every PE plus one
  pointer per PE) lies in DRAM: records in column order, each padded to whole bursts;
* :func:`plan_tiles`: the timing-independent part of a pass's stream: the broadcast
  columns grouped greedily into *tiles* that fit one buffer half of every PE, and the
  cycles the channel needs to fetch each tile (bursts, row activations, CAS latency);
* :class:`DramChannel`: the channel as a simpy process (the numba engine computes the
  same start and arrival cycles inline, ``eie_sim/hw/engine_fast.py``).

Rule D (both engines): tile ``i``'s fetch starts in cycle
``s_i = max(a_{i-1}, f_i)`` (one channel: fetches one after another; ``a_{-1} = 0``, the
pass's cycle 0) where ``f_i = 0`` for the first two tiles, else the cycle after the last
PE finished its last column of tile ``i - 2`` (that buffer half is free again). It
arrives in ``a_i = s_i + d_i``. A PE pops (pointer read) a column of tile ``i`` in cycle
``a_i`` at the earliest; the cycles it would otherwise have popped earlier are its
*DRAM stall cycles* (a part of its starved cycles).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from eie_sim.errors import LayoutError


@dataclass(frozen=True)
class DramPreset:
    """One DRAM type as the channel model sees it (one channel, or a device's channels
    taken together as one wide channel)."""

    name: str
    bandwidth_gbps: float    #: peak data rate (GB/s = bytes per ns)
    burst_bytes: int         #: bytes of one burst (the access granularity)
    row_bytes: int           #: row (page) size: bytes one activation opens
    t_cl_ns: float           #: read (CAS) latency: first data after the read command
    t_rcd_ns: float          #: activate to read
    t_rp_ns: float           #: precharge (closing the open row)
    source: str


#: the presets of ``dram`` (docs/dram.md gives the arithmetic behind every figure)
PRESETS: dict[str, DramPreset] = {
    "ddr4_3200": DramPreset(
        "ddr4_3200", 25.6, 64, 8192, 13.75, 13.75, 13.75,
        "JEDEC JESD79-4 DDR4-3200AA (22-22-22 at 1600 MHz): 3200 MT/s x 64-bit channel, "
        "BL8 bursts, 1 KB page per x8 device x 8 devices"),
    "lpddr4_4266": DramPreset(
        "lpddr4_4266", 17.064, 64, 4096, 16.875, 18.0, 18.0,
        "JEDEC JESD209-4 LPDDR4-4266: 2 x 16-bit channels at 4266 MT/s taken together, "
        "BL16, 2 KB page per channel, RL 36 tCK at 2133 MHz, tRCD/tRPpb 18 ns"),
    "lpddr5_6400": DramPreset(
        "lpddr5_6400", 25.6, 64, 4096, 21.25, 18.0, 18.0,
        "JEDEC JESD209-5 LPDDR5-6400: 2 x 16-bit channels at 6400 MT/s taken together, "
        "BL16, 2 KB page per channel, RL 17 tCK at 800 MHz, tRCD/tRPpb 18 ns"),
    "hbm2": DramPreset(
        "hbm2", 256.0, 64, 16384, 14.0, 14.0, 14.0,
        "JEDEC JESD235A HBM2, one stack: 8 x 128-bit channels at 2 Gb/s/pin taken together "
        "(256 GB/s), BL4 on 128 bits, 2 KB page per channel; tCL/tRCD/tRP 14 ns"),
}


def preset(cfg) -> DramPreset:
    """The DRAM of ``cfg`` (``dram``), with ``dram_bandwidth_gbps`` applied."""
    p = PRESETS[cfg.dram]
    if cfg.dram_bandwidth_gbps is not None:
        p = DramPreset(p.name, float(cfg.dram_bandwidth_gbps), p.burst_bytes, p.row_bytes,
                       p.t_cl_ns, p.t_rcd_ns, p.t_rp_ns, p.source + " (bandwidth overridden)")
    return p


def tile_capacity(cfg) -> tuple[int, int]:
    """``(entries, columns)`` one buffer half of a PE takes: half the Spmat SRAM (at most
    what a pointer addresses) and half the pointer SRAM less the tile's end pointer."""
    entries = min(cfg.spmat_capacity_entries // 2, cfg.max_pointer_value)
    columns = cfg.pointer_capacity // 2 - 1
    return entries, columns


def column_records(ptr: np.ndarray, cfg) -> tuple[np.ndarray, np.ndarray]:
    """``(address, bursts)`` int64 per column (bias column included) of one pass's image
    in DRAM: column ``j``'s record holds its slice in every PE (``entry_bits`` per entry)
    and one ``pointer_bits`` slice length per PE, padded to whole bursts; records lie
    back to back in column order from address 0."""
    p = preset(cfg)
    n_pe = ptr.shape[0]
    entries = np.diff(ptr, axis=1).sum(axis=0).astype(np.int64)
    bits = entries * cfg.entry_bits + n_pe * cfg.pointer_bits
    nbytes = (bits + 7) // 8
    bursts = (nbytes + p.burst_bytes - 1) // p.burst_bytes
    addr = np.zeros(bursts.size, dtype=np.int64)
    np.cumsum(bursts[:-1] * p.burst_bytes, out=addr[1:])
    return addr, bursts.astype(np.int64)


def kernel_params(cfg) -> tuple:
    """The scalar arguments of :func:`plan_tiles` after the arrays (one tuple, as the fast
    kernel takes them)."""
    p = preset(cfg)
    entries, columns = tile_capacity(cfg)
    return (int(entries), int(columns), int(p.burst_bytes), int(p.row_bytes),
            float(p.t_cl_ns), float(p.t_rcd_ns + p.t_rp_ns), 1.0 / float(p.bandwidth_gbps),
            float(cfg.cycle_ns))


@numba.njit(cache=True, nogil=True)
def plan_tiles(ptr, bcol, rec_addr, rec_bursts, cap_entries, cap_cols, burst_bytes, row_bytes,
               t_cl_ns, t_act_ns, ns_per_byte, cycle_ns):
    """Group the broadcast columns ``bcol`` (in broadcast order) into tiles and time their
    fetches (rule D).

    A tile takes consecutive broadcast columns while every PE's entries stay within
    ``cap_entries`` and the columns within ``cap_cols``. Its fetch reads the records of
    its columns (only the broadcast ones) in order: every row (page) of ``row_bytes`` a
    record touches other than the open one is activated (``t_act_ns = tRP + tRCD``),
    the first data comes ``t_cl_ns`` after the fetch starts, and every burst takes
    ``burst_bytes x ns_per_byte``. Its duration in cycles is the ceiling of the sum over
    ``cycle_ns``. The open row carries over from tile to tile (none before the first).

    Returns ``(tile_of, dur, tile_bytes, tile_acts, bad)``: the tile of each broadcast,
    each tile's fetch cycles, bytes and row activations, and ``bad`` = the first column
    whose slice alone exceeds a buffer half (-1 when none; then the rest is not valid).
    """
    M = bcol.shape[0]
    N = ptr.shape[0]
    tile_of = np.zeros(M, dtype=np.int64)
    dur = np.zeros(M, dtype=np.int64)
    tile_bytes = np.zeros(M, dtype=np.int64)
    tile_acts = np.zeros(M, dtype=np.int64)
    fill = np.zeros(N, dtype=np.int64)
    T = 0
    ncols = 0
    open_row = np.int64(-1)
    bursts = np.int64(0)
    acts = np.int64(0)
    for m in range(M):
        j = bcol[m]
        fits = ncols < cap_cols
        for k in range(N):
            e = ptr[k, j + 1] - ptr[k, j]
            if e > cap_entries:
                return tile_of, dur[:0], tile_bytes[:0], tile_acts[:0], j
            if fill[k] + e > cap_entries:
                fits = False
        if not fits or m == 0:
            if m > 0:                       # close the previous tile
                ns = t_cl_ns + acts * t_act_ns + bursts * burst_bytes * ns_per_byte
                d = np.int64(math.ceil(ns / cycle_ns - 1e-9))
                dur[T] = d if d > 0 else 1
                tile_bytes[T] = bursts * burst_bytes
                tile_acts[T] = acts
                T += 1
            for k in range(N):
                fill[k] = 0
            ncols = 0
            bursts = 0
            acts = 0
        for k in range(N):
            fill[k] += ptr[k, j + 1] - ptr[k, j]
        ncols += 1
        tile_of[m] = T
        nb = rec_bursts[j]
        bursts += nb
        r0 = rec_addr[j] // row_bytes
        r1 = (rec_addr[j] + nb * burst_bytes - 1) // row_bytes
        acts += r1 - r0 + (0 if r0 == open_row else 1)
        open_row = r1
    if M > 0:
        ns = t_cl_ns + acts * t_act_ns + bursts * burst_bytes * ns_per_byte
        d = np.int64(math.ceil(ns / cycle_ns - 1e-9))
        dur[T] = d if d > 0 else 1
        tile_bytes[T] = bursts * burst_bytes
        tile_acts[T] = acts
        T += 1
    return tile_of, dur[:T].copy(), tile_bytes[:T].copy(), tile_acts[:T].copy(), np.int64(-1)


def plan(pass_layout, columns: np.ndarray, cfg):
    """:func:`plan_tiles` of one pass for the broadcast ``columns`` (raises
    :class:`~eie_sim.errors.LayoutError` when a column slice exceeds a buffer half)."""
    ptr = np.ascontiguousarray(pass_layout.ptr, dtype=np.int64)
    addr, bursts = column_records(ptr, cfg)
    out = plan_tiles(ptr, np.ascontiguousarray(columns, dtype=np.int64), addr, bursts,
                     *kernel_params(cfg))
    if out[4] >= 0:
        raise LayoutError(stream_refusal(int(out[4]), cfg))
    return out[:4]


def check_streamable(ptr: np.ndarray, name: str, cfg) -> None:
    """Raise :class:`LayoutError` when a column slice of a pass (``ptr``) exceeds one
    buffer half or the pointer SRAM's half holds no column."""
    entries, columns = tile_capacity(cfg)
    slices = np.diff(ptr, axis=1)
    if columns < 1 or (slices.size and int(slices.max()) > entries):
        worst = int(np.argmax(slices.max(axis=0))) if slices.size else 0
        raise LayoutError(f"layer {name!r}: " + stream_refusal(worst, cfg))


def stream_refusal(column: int, cfg) -> str:
    entries, columns = tile_capacity(cfg)
    return (f"DRAM streaming: the slice of column {column} in some PE exceeds one buffer "
            f"half of the Spmat SRAM ({entries} entries; spmat_sram_kb={cfg.spmat_sram_kb}, "
            f"pointer_bits={cfg.pointer_bits}) or the pointer SRAM holds no column "
            f"(pointer_sram_kb={cfg.pointer_sram_kb}); use more PEs or larger SRAMs")


class DramChannel:
    """Rule D as a simpy process: fetches tile after tile, each once its buffer half is
    free, and tells the PEs when a tile has arrived. PEs report (:meth:`release`) the
    cycle after their last column of a tile; the half is free when all ``n_pe`` did."""

    def __init__(self, env, n_pe: int, durations):
        self.env = env
        self.n_pe = n_pe
        self.durations = [int(d) for d in durations]
        T = len(self.durations)
        self.arrival: list[int | None] = [None] * T   #: cycle tile i arrived
        self.start: list[int | None] = [None] * T     #: cycle its fetch started
        self._arrived = [env.event() for _ in range(T)]
        self._released = [0] * T
        self._free_cycle = [0] * T
        self._free = [env.event() for _ in range(T)]
        self.process = env.process(self.run())

    def run(self):
        env = self.env
        prev = 0
        for i, d in enumerate(self.durations):
            start = prev
            if i >= 2:
                if self._released[i - 2] < self.n_pe:
                    yield self._free[i - 2]
                start = max(prev, self._free_cycle[i - 2])
            if start > env.now:
                yield env.timeout(start - env.now)
            self.start[i] = env.now
            yield env.timeout(d)
            prev = env.now
            self.arrival[i] = env.now
            self._arrived[i].succeed()

    def arrived(self, i: int) -> bool:
        a = self.arrival[i]
        return a is not None and a <= self.env.now

    def wait(self, i: int):
        """The event of tile ``i``'s arrival."""
        return self._arrived[i]

    def release(self, i: int, free_cycle: int) -> None:
        """A PE will have finished tile ``i`` by ``free_cycle - 1``."""
        self._released[i] += 1
        if free_cycle > self._free_cycle[i]:
            self._free_cycle[i] = free_cycle
        if self._released[i] == self.n_pe:
            self._free[i].succeed()
