"""Engine speed with and without DRAM streaming on one LLM-sized layer (docs/dram.md).

The layer is SYNTHETIC (``eie_sim.workloads.synthetic.synthetic_layer``, seeded): 11008
outputs x 4096 inputs (a Llama-2-7B MLP up-projection's shape) at 50 % weight density
(about 22.5 M non-zeros), activations at ``--act-density`` (default 1.0: SiLU outputs
have no zeros). It does not fit the paper's 64-PE SRAMs, so:

* ``dram: none`` runs it with the fit check off, as if it fit (the engine as before the
  DRAM model: rule D is not applied);
* ``dram: <preset>`` (default ``ddr4_3200``) streams it (rule D).

Printed per configuration: the fast engine's wall time over every output pass (after a
warm-up run that compiles), the layer cycles, DRAM stall cycles and bytes, and the ratio
of the streamed to the on-chip wall time measured in the same run. Layout build time is
printed separately. ``python -m benchmarks.bench_dram [--act-density A] [--repeat R]``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from eie_sim import ArchConfig
from eie_sim.arch.fixed_point import quantize
from eie_sim.hw.counters import roll_up
from eie_sim.hw.engine_fast import run_batch
from eie_sim.workloads.synthetic import synthetic_layer

ROWS, COLS, DENSITY, SEED = 11008, 4096, 0.5, 0


def _run(lay, X_q, cfg):
    batches = [run_batch(p, lay, X_q, cfg) for p in lay.passes]
    return roll_up(batches, lay.cols, cfg, X_q, lay.has_bias)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--act-density", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dram", default="ddr4_3200")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    wl = synthetic_layer(ROWS, COLS, DENSITY, a.act_density, seed=SEED)
    t_gen = time.perf_counter() - t0
    base = ArchConfig().validate()
    t0 = time.perf_counter()
    lay = wl.layout(base, check_fit=False)
    t_lay = time.perf_counter() - t0
    X_q, _ = quantize(np.asarray(wl.x, dtype=np.float64).reshape(1, -1), base.act_frac_bits,
                      base.word_bits)
    print(f"layer {ROWS} x {COLS}, {wl.codes.nnz:,} non-zeros (SYNTHETIC, seed {SEED}), "
          f"activation density {a.act_density}; generated in {t_gen:.2f} s, laid out in "
          f"{t_lay:.2f} s ({len(lay.passes)} output passes, 64 PEs)")
    out = {}
    for name, cfg in (("on chip (dram: none, fit check off)", base.replace(dram="none")),
                      (f"streamed (dram: {a.dram})", base.replace(dram=a.dram))):
        _run(lay, X_q, cfg)                                  # warm-up (compilation)
        times = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            c = _run(lay, X_q, cfg)
            times.append(time.perf_counter() - t0)
        best = min(times)
        out[name] = best
        print(f"{name}: {best:.3f} s (best of {a.repeat}), {c.cycles:,} cycles, DRAM stall "
              f"{int(c.pe.dram_stall_cycles.sum()):,} PE-cycles, {c.dram_bytes:,} bytes in "
              f"{c.dram_tiles} tiles")
    names = list(out)
    print(f"streamed / on chip wall time: {out[names[1]] / out[names[0]]:.2f}")
    return out


if __name__ == "__main__":
    main()
