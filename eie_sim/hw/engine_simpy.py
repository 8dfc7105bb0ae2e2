"""The simpy discrete-event engine: the readable reference model of one EIE pass.

``run_pass(pass_layout, layer_layout, x_q, cfg) -> PassStats`` simulates one output pass
of one layer, cycle by cycle, by the rules of docs/timing.md. One simpy process per PE
(:mod:`eie_sim.units.pe`) and one for the central control unit
(:mod:`eie_sim.units.ccu`); shared state is registered through the clock edge of
:mod:`eie_sim.units.clock`. See docs/simpy-model.md for the mapping and measured speed.
The numba engine (``eie_sim/engine_fast.py``) implements the same rules and must return
an equal :class:`~eie_sim.stats.PassStats`.
"""
from __future__ import annotations

import numpy as np
import simpy

from eie_sim.arch.config import ArchConfig
from eie_sim.hw.layout import LayerLayout, PassLayout
from eie_sim.hw.counters import AccountingError, PassStats, check_cycle_classes
from eie_sim.hw.units.act_rw import ActRW
from eie_sim.hw.units.activation_queue import ActivationQueue, FullSignal
from eie_sim.hw.units.arithmetic_unit import ArithmeticUnit
from eie_sim.hw.units.ccu import BroadcastBus, CentralControlUnit
from eie_sim.hw.units.clock import Clock
from eie_sim.hw.units.lnzd import LeadingNonZeroDetector
from eie_sim.hw.units.pe import ProcessingElement
from eie_sim.hw.units.pointer_read import PointerReadUnit
from eie_sim.hw.units.spmat_read import SpmatReadUnit


class SimpyModel:
    """The PE array and CCU of one pass, built and ready to :meth:`run`."""

    def __init__(self, pass_layout: PassLayout, layer_layout: LayerLayout, x_q, cfg: ArchConfig):
        n = pass_layout.n_pe
        if n != cfg.pes:
            raise ValueError(f"pass laid out for {n} PEs but cfg.pes = {cfg.pes}")
        x_q = np.asarray(x_q)
        if x_q.shape != (pass_layout.cols,):
            raise ValueError(f"x_q has shape {x_q.shape}, expected ({pass_layout.cols},)")
        if x_q.size and not np.issubdtype(x_q.dtype, np.integer):
            raise ValueError(f"x_q must hold integer fixed-point activations, got {x_q.dtype}")
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

        self.queues: list[ActivationQueue] = []
        self.act_rws: list[ActRW] = []
        self.pes: list[ProcessingElement] = []
        for k in range(n):
            local_rows = len(range(k, rows, n))
            queue = ActivationQueue(env, clock, cfg.queue_depth, self.full_signal)
            act = ActRW(k, n, x_q, regs, local_rows)
            lo, hi = int(pass_layout.entry_start[k]), int(pass_layout.entry_start[k + 1])
            bias_of_row = []
            if has_bias:
                global_rows = pass_layout.row_offset + k + n * np.arange(local_rows)
                bias_of_row = [int(v) for v in bias_q[global_rows]]
            arith = ArithmeticUnit(
                codes=pass_layout.code[lo:hi].tolist(), zs=pass_layout.z[lo:hi].tolist(),
                codebook_q=codebook_q, shift=cfg.weight_frac_bits,
                bias_col=pass_layout.cols if has_bias else -1,
                bias_of_row=bias_of_row, dest=act.dest)
            pe = ProcessingElement(env, k, queue, PointerReadUnit(pass_layout.ptr[k]),
                                   SpmatReadUnit(cfg.entries_per_line), arith, act)
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
        last = max([ccu.last_active_cycle] + [pe.last_work_cycle for pe in pes])
        cycles = last + 1 + self.cfg.arithmetic_latency

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
        acc = np.zeros(self.pass_layout.rows, dtype=np.int64)
        for k, act in enumerate(self.act_rws):
            acc[k::n] = act.dest
        return PassStats(
            cycles=cycles, busy=busy, padding=padding, empty=empty,
            starved=starved,
            pointer_reads=per_pe(pe.pointer_read.reads for pe in pes),
            spmat_line_reads=per_pe(pe.spmat_read.line_reads for pe in pes),
            bypass_hits=per_pe(pe.arithmetic.bypass_hits for pe in pes),
            broadcasts=ccu.broadcasts, queue_full_stalls=ccu.queue_full_stalls,
            batch_load_cycles=ccu.batch_load_cycles,
            max_queue_occupancy=max(q.max_occupancy for q in self.queues),
            acc=acc)


def run_pass(pass_layout: PassLayout, layer_layout: LayerLayout, x_q, cfg: ArchConfig) -> PassStats:
    """Simulate one output pass (docs/timing.md) on the simpy model; see :class:`PassStats`."""
    return SimpyModel(pass_layout, layer_layout, x_q, cfg).run()


# ---- speed check: python -m eie_sim.hw.engine_simpy [layer ...] -------------------------
def _main(argv=None) -> int:
    """Time the engine on the SYNTHETIC Table III layers of :func:`eie_sim.workload.table3_layer`
    (the same seeded matrices and inputs as ``eie-simulate --table3`` and the benchmarks)."""
    import argparse
    import time

    from eie_sim.arch.fixed_point import quantize
    from eie_sim.hw.counters import layer_cycle_classes, layer_overhead_cycles
    from eie_sim.workloads.base import TABLE3, table3_layer
    ap = argparse.ArgumentParser(
        prog="python -m eie_sim.hw.engine_simpy",
        description="Time the simpy engine on the SYNTHETIC Table III layers "
                    "(eie_sim.workloads.base.table3_layer, seed 0 unless --seed).")
    ap.add_argument("layers", nargs="*", help=f"layers to run (default all): {', '.join(TABLE3)}")
    ap.add_argument("--pes", type=int, default=64)
    ap.add_argument("--queue-depth", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    unknown = [n for n in args.layers if n not in TABLE3]
    if unknown:
        ap.error(f"unknown layer(s) {unknown}; known: {', '.join(TABLE3)}")
    cfg = ArchConfig(pes=args.pes, queue_depth=args.queue_depth).validate()
    total = 0.0
    print(f"synthetic layers (seed {args.seed}), {cfg.pes} PEs, queue depth {cfg.queue_depth}")
    for name in args.layers or list(TABLE3):
        wl = table3_layer(name, seed=args.seed, weight_bits=cfg.weight_bits)
        lay = wl.layout(cfg, check_fit=False)
        x_q, _ = quantize(wl.x, cfg.act_frac_bits, cfg.word_bits)
        t0 = time.perf_counter()
        pass_cycles = 0
        for p in lay.passes:
            st = run_pass(p, lay, x_q, cfg)
            st.check_accounting()
            pass_cycles += st.cycles
        wall = time.perf_counter() - t0
        total += wall
        cycles, _ = layer_cycle_classes(pass_cycles, 0, sum(layer_overhead_cycles(len(lay.passes), lay.cols, cfg)))
        print(f"{name:8s} passes {len(lay.passes)}  cycles {cycles:7d}  wall {wall:6.2f} s", flush=True)
    print(f"total wall {total:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
