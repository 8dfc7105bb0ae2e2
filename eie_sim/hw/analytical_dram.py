"""Rule D (docs/dram.md) in the analytical model (docs/analytical.md "DRAM streaming").

A layer that streams its weights from DRAM (:func:`eie_sim.hw.sram_need.streams`) fetches
one pass's broadcast columns in *tiles*, one buffer half each, through one channel. What
does not depend on timing is taken from the DRAM unit itself, so it is exact: the tiles,
their bytes, row activations and fetch cycles ``d_i`` (:func:`eie_sim.hw.units.dram.plan`,
the same call both cycle-exact engines make). The timing is a tile-granular roofline
with double buffering: with ``c_ik`` PE ``k``'s work on tile ``i`` (the sum of its column
work ``w_mk`` over the tile's broadcasts) and ``b_i`` the free-running broadcast cycle of
the tile's first column,

    s_i = a_{i-1}                          (i < 2: both halves free; a_{-1} = 0)
    s_i = max(a_{i-1}, 1 + max_k e_{i-2,k})  (the half of tile i-2 is free again)
    a_i = s_i + d_i
    e_ik = max(e_{i-1,k}, b_i + 1, a_i) + c_ik

so the first tile's fill is exposed and later fetches overlap the work on the previous
tile; a PE's *DRAM stall* on tile ``i`` is how far ``a_i`` moves its start. The pass's
DRAM delay is ``max_k e_{T-1,k}`` less the same recurrence without the channel
(``a_i = 0``); the analytical engine adds it to its on-chip estimate. Not modelled:
the CCU's own delay by the back-pressure (its broadcasts are taken free-running) and
stalls inside a tile (a tile arrives whole).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eie_sim.hw.sram_need import streams
from eie_sim.hw.units import dram as dram_unit


@dataclass(frozen=True)
class StreamEstimate:
    """One pass's stream: ``delay`` (cycles added to the on-chip estimate), ``stall``
    (int64 ``(N,)`` DRAM stall cycles per PE), and the exact ``dram_bytes``,
    ``dram_row_activations`` and ``dram_tiles`` of the DRAM unit's plan."""

    delay: int
    stall: np.ndarray
    dram_bytes: int
    dram_row_activations: int
    dram_tiles: int


def _finish(c: np.ndarray, b_first: np.ndarray, dur: np.ndarray | None):
    """The tile recurrence of the module docstring: ``(e_last (N,), stall (N,))``;
    ``dur`` None: no channel (every tile there at cycle 0)."""
    T, N = c.shape
    e = np.zeros(N, dtype=np.int64)
    stall = np.zeros(N, dtype=np.int64)
    ends = np.zeros((T, N), dtype=np.int64)
    prev_arr = 0
    for i in range(T):
        ready = np.maximum(e, b_first[i] + 1)
        if dur is not None:
            s = prev_arr if i < 2 else max(prev_arr, int(ends[i - 2].max()) + 1)
            prev_arr = s + int(dur[i])
            start = np.maximum(ready, prev_arr)
            stall += start - ready
        else:
            start = ready
        e = start + c[i]
        ends[i] = e
    return e, stall


def stream_estimate(pass_layout, layer_layout, columns: np.ndarray, b: np.ndarray,
                    work: np.ndarray, cfg) -> StreamEstimate | None:
    """Rule D for one run of a pass (``columns`` in broadcast order, ``b`` their
    free-running broadcast cycles, ``work`` ``(M, N)`` their per-PE cycles); None when
    the layer does not stream. Refuses a column slice larger than a buffer half as the
    engines do (:class:`~eie_sim.errors.LayoutError`)."""
    if not streams(layer_layout, cfg):
        return None
    N = int(pass_layout.n_pe)
    ptr = np.ascontiguousarray(pass_layout.ptr, dtype=np.int64)
    dram_unit.check_streamable(ptr, layer_layout.name, cfg)
    if columns.size == 0:
        return StreamEstimate(0, np.zeros(N, dtype=np.int64), 0, 0, 0)
    tile_of, dur, tbytes, tacts = dram_unit.plan(pass_layout, columns, cfg)
    starts = np.flatnonzero(np.r_[True, tile_of[1:] != tile_of[:-1]])
    c = np.add.reduceat(work.astype(np.int64), starts, axis=0)
    b_first = b[starts].astype(np.int64)
    e_dram, stall = _finish(c, b_first, dur)
    e_free, _ = _finish(c, b_first, None)
    delay = max(0, int(e_dram.max()) - int(e_free.max()))
    return StreamEstimate(delay, stall, int(tbytes.sum()), int(tacts.sum()), int(dur.size))
