"""The simpy discrete-event engine: the readable reference model of one EIE pass.

``run_pass(pass_layout, layer_layout, x_q, cfg) -> PassStats`` simulates one output pass
of one layer, cycle by cycle, by the rules of docs/timing.md. One simpy process per PE
(:mod:`eie_sim.hw.units.pe`) and one for the central control unit
(:mod:`eie_sim.hw.units.ccu`); shared state is registered through the clock edge of
:mod:`eie_sim.hw.units.clock`. See docs/simpy-model.md for the mapping and measured speed.
The numba engine (``eie_sim/hw/engine_fast.py``) implements the same rules and must return
an equal :class:`~eie_sim.hw.counters.PassStats`.
"""
from __future__ import annotations

import numpy as np
import simpy

from eie_sim.arch.config import ArchConfig
from eie_sim.errors import AccountingError
from eie_sim.hw.counters import PassStats, PECounters, check_cycle_classes
from eie_sim.hw.encodings import mask_rows
from eie_sim.hw.layout import LayerLayout, PassLayout, streams
from eie_sim.hw.trace import PassTrace
from eie_sim.hw.units import dram as dram_unit
from eie_sim.hw.units.act_rw import ActRW
from eie_sim.hw.units.activation_queue import ActivationQueue, FullSignal
from eie_sim.hw.units.arithmetic_unit import ArithmeticUnit
from eie_sim.hw.units.ccu import BroadcastBus, CentralControlUnit
from eie_sim.hw.units.clock import Clock
from eie_sim.hw.units.index_decode import decoder_for
from eie_sim.hw.units.lnzd import LeadingNonZeroDetector
from eie_sim.hw.units.pe import ProcessingElement
from eie_sim.hw.units.pointer_read import ComputedPointers, PointerReadUnit
from eie_sim.hw.units.spmat_read import SpmatReadUnit


class SimpyModel:
    """The PE array and CCU of one pass, built and ready to :meth:`run`."""

    def __init__(self, pass_layout: PassLayout, layer_layout: LayerLayout, x_q, cfg: ArchConfig):
        n = pass_layout.n_pe
        if n != cfg.pes:
            raise ValueError(f"pass laid out for {n} PEs but cfg.pes = {cfg.pes}")
        if pass_layout.encoding != cfg.spmat_encoding:
            raise ValueError(f"pass laid out as {pass_layout.encoding} but cfg.spmat_encoding "
                             f"= {cfg.spmat_encoding}")
        lines, mask_lines = pass_layout.spmat_lines(cfg)
        x_q = np.asarray(x_q)
        batch = None
        if x_q.ndim == 2 and 1 <= x_q.shape[0] <= max(1, cfg.batch) and cfg.batch > 1:
            batch = x_q                      # one batch of vectors (docs/dram.md "Batching")
            x_q = np.count_nonzero(batch, axis=0).astype(np.int64)   # what the detector sees
        if x_q.shape != (pass_layout.cols,):
            raise ValueError(f"x_q has shape {x_q.shape}, expected ({pass_layout.cols},)")
        if x_q.size and not np.issubdtype(x_q.dtype, np.integer):
            raise ValueError(f"x_q must hold integer fixed-point activations, got {x_q.dtype}")
        self.batch = batch
        self.cfg = cfg
        self.pass_layout = pass_layout
        self.env = env = simpy.Environment()
        self.clock = clock = Clock(env)
        self.full_signal = FullSignal(env)
        regs = cfg.act_regs_per_pe
        rows = pass_layout.rows
        has_bias = pass_layout.has_bias
        codebook_q = [int(v) for v in layer_layout.codebook_q]
        bias_q = np.asarray(layer_layout.bias_q, dtype=np.int64)

        # rule D (docs/dram.md): the stream's tiles over the columns the CCU will broadcast
        self.dram = None
        self.dram_totals = (0, 0, 0)
        tile_of = None
        if streams(layer_layout, cfg):
            dram_unit.check_streamable(pass_layout.ptr, layer_layout.name, cfg)
            columns = np.flatnonzero(x_q).astype(np.int64)
            if has_bias:
                columns = np.append(columns, pass_layout.cols)
            tile_of, dur, tbytes, tacts = dram_unit.plan(pass_layout, columns, cfg)
            tile_of = tile_of.tolist()
            self.dram = dram_unit.DramChannel(env, n, dur)
            self.dram_totals = (int(tbytes.sum()), int(tacts.sum()), len(dur))

        self.queues: list[ActivationQueue] = []
        self.act_rws: list[ActRW] = []
        self.pes: list[ProcessingElement] = []
        batch_x = None if batch is None else [[int(v) for v in row] for row in batch]
        self.batch_dests: list[list[list[int]]] = []
        for k in range(n):
            local_rows = len(range(k, rows, n))
            queue = ActivationQueue(env, clock, cfg.queue_depth, self.full_signal)
            act = ActRW(k, n, x_q, regs, local_rows)
            lo, hi = int(pass_layout.entry_start[k]), int(pass_layout.entry_start[k + 1])
            bias_of_row = []
            if has_bias:
                global_rows = pass_layout.row_offset + k + n * np.arange(local_rows)
                bias_of_row = [int(v) for v in bias_q[global_rows]]
            dests = None if batch is None else [[0] * local_rows for _ in range(len(batch))]
            self.batch_dests.append(dests)
            arith = ArithmeticUnit(
                codes=pass_layout.code[lo:hi].tolist(),
                decoder=decoder_for(pass_layout, k, cfg),
                codebook_q=codebook_q, shift=cfg.product_shift,
                bias_col=pass_layout.cols if has_bias else -1,
                bias_of_row=bias_of_row, dest=act.dest, latency=cfg.arithmetic_latency,
                batch_x=batch_x, batch_dest=dests)
            if pass_layout.encoding == "nm":     # computed slice addresses, no pointer SRAM
                slots = -(-mask_rows(rows, n) // cfg.nm_m) * cfg.nm_n
                pointers = ComputedPointers(slots, pass_layout.cols, mask_rows(rows, n))
            else:
                pointers = PointerReadUnit(pass_layout.ptr[k])
            spmat = SpmatReadUnit(lines[lo:hi].tolist(), mask_lines[lo:hi].tolist())
            pe = ProcessingElement(env, k, queue, pointers, spmat, arith, act,
                                   self.dram, tile_of)
            self.queues.append(queue)
            self.act_rws.append(act)
            self.pes.append(pe)

        self.lnzd = LeadingNonZeroDetector(n, cfg.lnzd_fan_in, regs)
        self.lnzd.latch_sources([act.source for act in self.act_rws])
        self.ccu = CentralControlUnit(
            env, BroadcastBus(self.queues), self.full_signal, self.lnzd, self.act_rws,
            cols=pass_layout.cols, has_bias=has_bias, bias_activation=1 << cfg.act_frac_bits,
            regs_per_pe=regs, batch_load_cycles=cfg.batch_load_cycles)

    def run(self) -> PassStats:
        """Run until all work has drained (no early stop) and collect the counters."""
        self.env.run()
        ccu, pes, n = self.ccu, self.pes, self.pass_layout.n_pe
        if not ccu.done or any(len(q) for q in self.queues):
            raise RuntimeError("simulation ended with work left (CCU not done or a queue not empty)")
        # the end (docs/timing.md): 2 cycles after the last accumulator write, but never
        # before the CCU and every PE have done their last cycle
        last = max([ccu.last_active_cycle] + [pe.last_work_cycle for pe in pes])
        last_write = max(pe.arithmetic.last_write_cycle for pe in pes)
        cycles = max(last + 1, last_write + 2 if last_write >= 0 else 0)

        def per_pe(values) -> np.ndarray:
            return np.array(list(values), dtype=np.int64)

        busy = per_pe(pe.busy for pe in pes)
        padding = per_pe(pe.padding for pe in pes)
        empty = per_pe(pe.empty for pe in pes)
        for pe in pes:
            pe.finish(cycles)
        starved = per_pe(pe.idle for pe in pes)    # counted by each PE, not derived
        try:
            check_cycle_classes(cycles, busy, padding, empty, starved)
        except AccountingError as exc:
            raise AccountingError(f"simpy model: the PEs' own idle counts disagree with "
                                  f"cycles - busy - padding - empty: {exc}") from None
        if self.batch is None:
            acc = np.zeros(self.pass_layout.rows, dtype=np.int64)
            for k, act in enumerate(self.act_rws):
                acc[k::n] = act.dest
        else:
            acc = np.zeros((len(self.batch), self.pass_layout.rows), dtype=np.int64)
            for k, dests in enumerate(self.batch_dests):
                for b, d in enumerate(dests):
                    acc[b, k::n] = d
        counters = PECounters(
            busy=busy, padding=padding, empty=empty, starved=starved,
            pointer_reads=per_pe(pe.pointer_read.reads for pe in pes),
            spmat_line_reads=per_pe(pe.spmat_read.line_reads for pe in pes),
            bypass_hits=per_pe(pe.arithmetic.bypass_hits for pe in pes),
            dram_stall_cycles=per_pe(pe.dram_stall for pe in pes))
        dram_bytes, dram_acts, dram_tiles = self.dram_totals
        return PassStats(
            cycles=cycles, pe=counters,
            broadcasts=ccu.broadcasts, queue_full_stalls=ccu.queue_full_stalls,
            batch_load_cycles=ccu.batch_load_cycles,
            max_queue_occupancy=max(q.max_occupancy for q in self.queues),
            acc=acc, dram_bytes=dram_bytes, dram_row_activations=dram_acts,
            dram_tiles=dram_tiles)


    def trace(self, stats: PassStats) -> PassTrace:
        """The :class:`~eie_sim.hw.trace.PassTrace` of the finished run (from the CCU's
        and the PEs' own records)."""
        ccu = self.ccu
        pops = np.array([pe.pop_cycles for pe in self.pes], dtype=np.int64).reshape(
            len(self.pes), len(ccu.broadcast_cycles)).T
        events = np.array(ccu.events, dtype=np.int64).reshape(-1, 3)
        tiles = np.zeros((0, 3), dtype=np.int64)
        if self.dram is not None:     # the channel's own record; the first pop of each tile
            tile_of = self.pes[0].tile_of
            first = [m for m in range(len(tile_of)) if m == 0 or tile_of[m] != tile_of[m - 1]]
            tiles = np.array([[f, s, a] for f, s, a in zip(first, self.dram.start, self.dram.arrival)],
                             dtype=np.int64).reshape(-1, 3)
        return PassTrace(stats.cycles, np.array(ccu.broadcast_columns, dtype=np.int64),
                         np.array(ccu.broadcast_cycles, dtype=np.int64),
                         np.ascontiguousarray(pops), events, tiles)


def run_pass_traced(pass_layout: PassLayout, layer_layout: LayerLayout, x_q,
                    cfg: ArchConfig) -> tuple[PassStats, PassTrace]:
    """:func:`run_pass` with the pass's :class:`~eie_sim.hw.trace.PassTrace`."""
    model = SimpyModel(pass_layout, layer_layout, x_q, cfg)
    stats = model.run()
    return stats, model.trace(stats)


def run_pass(pass_layout: PassLayout, layer_layout: LayerLayout, x_q, cfg: ArchConfig) -> PassStats:
    """Simulate one output pass (docs/timing.md) on the simpy model; see :class:`PassStats`."""
    return SimpyModel(pass_layout, layer_layout, x_q, cfg).run()
