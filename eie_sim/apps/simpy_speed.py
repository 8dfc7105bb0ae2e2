"""Time the simpy engine on the SYNTHETIC Table III layers: ``python -m eie_sim.apps.simpy_speed``.

The readable reference model (:mod:`eie_sim.hw.engine_simpy`) is slow by design; this
prints its wall time per layer on the same seeded matrices and inputs as
``eie-simulate --table3`` and the benchmarks (docs/simpy-model.md).
"""
from __future__ import annotations

import argparse
import time

from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import quantize
from eie_sim.arch.paper import TABLE3
from eie_sim.hw.counters import PassBatch, roll_up
from eie_sim.hw.engine_simpy import run_pass
from eie_sim.workloads.synthetic import table3_layer


def main(argv=None) -> int:
    """Time the engine on the SYNTHETIC Table III layers of :func:`eie_sim.workloads.synthetic.table3_layer`
    (the same seeded matrices and inputs as ``eie-simulate --table3`` and the benchmarks)."""
    ap = argparse.ArgumentParser(
        prog="python -m eie_sim.apps.simpy_speed",
        description="Time the simpy engine on the SYNTHETIC Table III layers "
                    "(eie_sim.workloads.synthetic.table3_layer, seed 0 unless --seed).")
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
        batches = []
        for p in lay.passes:
            st = run_pass(p, lay, x_q, cfg)
            st.check_accounting()
            batches.append(PassBatch.from_stats([st]))
        wall = time.perf_counter() - t0
        total += wall
        cycles = roll_up(batches, lay.cols, cfg).cycles
        print(f"{name:8s} passes {len(lay.passes)}  cycles {cycles:7d}  wall {wall:6.2f} s", flush=True)
    print(f"total wall {total:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
