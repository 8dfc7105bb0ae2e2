"""Multi-chip EIE: one layer's rows split over ``chips`` EIE chips joined by a link.

Not in the paper (which has one chip of 64 PEs); the model is ours (docs/llm.md
"Multi-chip EIE"):

* **Partition.** Rows are split into ``C = cfg.chips`` contiguous blocks, chip ``c``
  holding rows ``c R // C .. (c + 1) R // C - 1`` (block sizes differ by at most one row);
  within a chip the rows are interleaved over its ``cfg.pes`` PEs as on one chip.
  Every chip is the design point ``cfg`` (``pes`` PEs each, its own SRAMs), so a layer
  that does not fit one chip may fit ``C``.
* **Broadcast.** The input vector goes once over the link to every chip (one multicast
  transfer): its non-zero activations as ``(value, column index)`` pairs,
  ``word_bits + ceil(log2 cols)`` bits each. Every chip then runs its row block exactly
  as one chip runs a layer (the per-layer simulation of :mod:`eie_sim.sim.layer`, the
  numpy checks included), so both engines agree by construction.
* **Gather.** Every chip sends its outputs (``rows_c x word_bits``) back over the same
  link to the host, one after the other (the host's link port serialises them).
* **Time.** Per input vector, nothing overlaps:
  ``cycles = link_in + max_c chip_cycles_c + link_out`` with
  ``link = ceil((link_latency_ns + bytes / link_gbps) x clock_mhz / 1000)`` for each of
  the two transfers. A chip that finishes before the slowest one, and every chip during the
  link transfers, counts as starved in every PE (so per PE ``busy + padding + empty +
  starved == cycles`` still holds, over ``C x pes`` PEs).
* **Energy.** The chips' counted actions priced as on one chip, every chip's LNZD and
  static energy over the whole layer time (an idle chip still leaks); the link's energy
  is not modelled (no cited figure; reports say so).

``chips = 1`` is exactly the single-chip simulation (no link, the same numbers); a layer
with fewer rows than chips is refused.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from eie_sim.arch.config import ArchConfig
from eie_sim.errors import WorkloadError
from eie_sim.hw.counters import LayerCounters, PECounters
from eie_sim.hw.layout import LayerLayout
from eie_sim.sim.results import LayerResult
from eie_sim.sim.stages import PreparedLayer, prepare
from eie_sim.workloads.chips import chip_rows, chip_workloads
from eie_sim.workloads.layer import LayerWorkload

__all__ = ["link_cycles", "link_bytes_in", "simulate_multichip", "merge_chips", "LINK_NOTE",
           "chip_rows", "chip_workloads"]

#: what every multi-chip report says about the link
LINK_NOTE = ("multi-chip: rows split over the chips, the input broadcast over the link, the "
             "outputs gathered; cycles = link in + slowest chip + link out (no overlap); "
             "link energy not modelled (docs/llm.md)")


def link_bytes_in(nonzeros: np.ndarray, cols: int, cfg: ArchConfig) -> np.ndarray:
    """Bytes of the broadcast of each input vector (``nonzeros`` non-zero activations as
    ``(value, column index)`` pairs)."""
    bits = cfg.word_bits + max(1, math.ceil(math.log2(max(2, cols))))
    return (np.asarray(nonzeros, dtype=np.int64) * bits + 7) // 8


def link_cycles(n_bytes, cfg: ArchConfig) -> np.ndarray:
    """Cycles of one link transfer of ``n_bytes`` (latency + bytes / bandwidth), rounded up."""
    ns = cfg.link_latency_ns + np.asarray(n_bytes, dtype=np.float64) / cfg.link_gbps
    return np.ceil(ns * cfg.clock_mhz / 1e3 - 1e-9).astype(np.int64)


def _parts(layer, cfg: ArchConfig):
    """``(name, codes, codebook, bias, workload-or-None, source meta)`` of any layer form."""
    if isinstance(layer, LayerLayout):
        layer = prepare(layer, cfg.replace(pes=layer.n_pe, chips=1), check_fit=False)
    if isinstance(layer, PreparedLayer):
        wl = layer.workload
        if wl is not None:
            return wl
        return LayerWorkload(name=layer.layout.name, codes=layer.codes,
                             codebook=layer.layout.codebook, bias=layer.layout.bias,
                             synthetic=bool(layer.layout.meta.get("synthetic", False)),
                             source=dict(layer.layout.meta.get("source", {})))
    if isinstance(layer, LayerWorkload):
        return layer
    raise TypeError(f"expected a LayerWorkload, LayerLayout or PreparedLayer, got {type(layer).__name__}")


def simulate_multichip(layer, x, cfg: ArchConfig, options=None, *, simulate, **kwargs) -> LayerResult:
    """The layer on ``cfg.chips`` chips (module docstring): ``simulate`` (the single-chip
    :func:`~eie_sim.sim.layer.simulate_layer`) on every chip's row block with the same
    inputs, merged into one :class:`LayerResult` over ``chips x pes`` PEs (``meta`` holds
    the per-chip cycles and the link figures)."""
    C = cfg.chips
    one = cfg.replace(chips=1)
    wl = _parts(layer, one)
    if kwargs.get("record") or (options is not None and options.window):
        raise WorkloadError(f"layer {wl.name!r}: traces and windows record one chip; run them "
                            f"with chips=1")
    compare_to = kwargs.pop("compare_to", None)
    bounds = chip_rows(wl.rows, C)
    results = []
    for c, part in enumerate(chip_workloads(wl, C)):
        ct = None if compare_to is None else np.asarray(compare_to)[..., bounds[c]:bounds[c + 1]]
        results.append(simulate(part, x, one, options, compare_to=ct, **kwargs))
    return merge_chips(results, wl, cfg)


def merge_chips(results: list[LayerResult], wl: LayerWorkload, cfg: ArchConfig) -> LayerResult:
    """One :class:`LayerResult` of the chips' results (module docstring, "Time", "Energy")."""
    C, N = len(results), cfg.pes
    r0 = results[0]
    cyc = np.stack([r.counters.cycles_pos for r in results])        # (C, P)
    slowest = cyc.max(axis=0)
    b_in = link_bytes_in(r0.input_nonzeros_pos, wl.cols, cfg)        # per input vector
    b_out = np.full_like(b_in, (wl.rows * cfg.word_bits + 7) // 8)
    runs = r0.counters.run_vectors        # batching (docs/dram.md): B vectors run together
    if runs is not None:                  # one link transfer per run, of its vectors' bytes
        starts = np.concatenate([[0], np.cumsum(runs)[:-1]])
        b_in, b_out = np.add.reduceat(b_in, starts), np.add.reduceat(b_out, starts)
    l_in, l_out = link_cycles(b_in, cfg), link_cycles(b_out, cfg)
    total = l_in + slowest + l_out                                   # (P,)
    pes = []
    for r, own in zip(results, cyc):
        idle = int((total - own).sum())
        pe = r.pe.map(lambda a: a.copy())
        pe.starved = pe.starved + idle
        pes.append(pe)
    pe = PECounters(**{f.name: np.concatenate([getattr(p, f.name) for p in pes])
                       for f in dataclasses.fields(PECounters)})
    cs = [r.counters for r in results]
    n_pass = max(c.passes for c in cs)
    pass_cycles = np.zeros(n_pass, dtype=np.int64)          # the slowest chip of each pass
    for c in cs:
        pass_cycles[:c.passes] = np.maximum(pass_cycles[:c.passes], c.pass_cycles)
    counters = LayerCounters(
        passes=n_pass, cycles_pos=total.astype(np.int64), pass_cycles=pass_cycles, pe=pe,
        broadcasts=sum(c.broadcasts for c in cs),
        queue_full_stalls=sum(c.queue_full_stalls for c in cs),
        batch_load_cycles=sum(c.batch_load_cycles for c in cs),
        batch_store_cycles=sum(c.batch_store_cycles for c in cs),
        pass_reload_cycles=sum(c.pass_reload_cycles for c in cs),
        max_queue_occupancy=max(c.max_queue_occupancy for c in cs),
        critical_pe_cycles=max(c.critical_pe_cycles for c in cs),
        ccu_min_cycles=max(c.ccu_min_cycles for c in cs),
        dram_bytes=sum(c.dram_bytes for c in cs),
        dram_row_activations=sum(c.dram_row_activations for c in cs),
        dram_tiles=sum(c.dram_tiles for c in cs), streamed=any(c.streamed for c in cs),
        run_vectors=runs)
    counters.check()
    energy = _energy(results, counters, cfg)
    out_q = np.concatenate([r.output_q for r in results], axis=1)
    chip_total = cyc.sum(axis=1)
    meta = {**r0.meta, "chips": C, "chip_cycles": [int(v) for v in chip_total],
            "chip_rows": [int(r.rows) for r in results],
            "chip_nnz": [int(r.nnz) for r in results],
            "chip_balance": float(chip_total.mean() / chip_total.max()) if chip_total.max() else 1.0,
            "link_bytes": int(b_in.sum() + b_out.sum()), "link_bytes_in": int(b_in.sum()),
            "link_bytes_out": int(b_out.sum()), "link_cycles": int((l_in + l_out).sum())}
    if any("map_check" in r.meta for r in results):
        meta["map_check"] = max(r.meta.get("map_check", 0.0) for r in results)
    meta["max_output_bound"] = max(r.meta.get("max_output_bound", 0.0) for r in results)
    return dataclasses.replace(
        r0, rows=wl.rows, pes=C * N, nnz=sum(r.nnz for r in results),
        weight_density=sum(r.nnz for r in results) / (wl.rows * wl.cols), counters=counters,
        output_saturations=sum(r.output_saturations for r in results),
        max_error=max(r.max_error for r in results),
        max_error_bound=max(results, key=lambda r: r.max_error).max_error_bound,
        min_error_slack=min(r.min_error_slack for r in results), output_q=out_q, energy=energy,
        config=cfg.as_dict(), source=dict(wl.source), meta=meta,
        wall_s=sum(r.wall_s for r in results), timeline=None, windows=None)


def _energy(results: list[LayerResult], counters: LayerCounters, cfg: ArchConfig):
    """Every chip's actions priced as on one chip, each chip's LNZD and static energy over
    the whole layer time (``counters.cycles``); average power over that time."""
    table_e = [r.energy for r in results]
    T = counters.cycles
    parts: dict[str, float] = {}
    for r, e in zip(results, table_e):
        own = r.counters.cycles
        for k, v in e.energy_pj_by_unit.items():
            # LNZD and static energy scale with the cycles the chip is powered: the layer's
            scale = T / own if k in ("lnzd", "static") and own else 1.0
            parts[k] = parts.get(k, 0.0) + v * scale
    dram_pj = sum(e.dram_pj for e in table_e)          # each chip streams its own rows
    total_pj = sum(parts.values()) + dram_pj
    time_s = T / (cfg.clock_mhz * 1e6)
    e0 = table_e[0]
    return dataclasses.replace(
        e0, energy_uj=total_pj * 1e-6, energy_pj_by_unit=parts, dram_pj=dram_pj,
        spmat_sram_energy_pj=sum(e.spmat_sram_energy_pj for e in table_e),
        avg_power_w=total_pj * 1e-12 / time_s if time_s > 0 else 0.0)

