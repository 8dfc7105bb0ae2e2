"""The whole simulation at engine speed: each stage's time for an Alex-8-size layer, the
whole call against the engine alone, SqueezeNet with every output position checked.

The layer is Table III's Alex-8 (SYNTHETIC: ``eie_sim.workloads.synthetic.table3_layer``,
seed 0: 1000 x 4096 at 25 % weights, 1,536 non-zero activations) at the paper's design
point (64 PEs, queue depth 8). Times are medians of repeated runs after a warm-up (numba
kernels loaded from the cache):

* every stage of :mod:`eie_sim.sim.stages` on its own (``prepare`` with the layout built,
  then with it cached; quantize_inputs; run_engine; check_outputs; count; price; assemble);
* the whole ``simulate_layer`` call with the layout built (a new workload object each
  time) and with it cached (a sweep over queue depth, SRAM widths, clock or energy table),
  each as a ratio to the engine alone (``engine_fast.run_pass`` over the passes), the
  reference measured in this run;
* SqueezeNet (the authors' compressed file, if present): all 49,026 output positions
  through :func:`eie_sim.apps.squeezenet.run_squeezenet`, every output checked, wall time.

The goals (issue 11) and the figures measured before the sparse pipeline (commit 19f2bb8,
this machine, the same layer and method; :data:`BEFORE`) are printed beside them. The
81-point sweep and VGG-6's memory are measured by ``bench_engines``.

The whole call goes through the public API (``eie_sim``); the stages
(:mod:`eie_sim.sim.stages`) and the engine (``eie_sim.hw.engine_fast.run_pass``) are
imported from inside the package on purpose, since they are what is timed, and the
SqueezeNet run is the application's own entry point (:mod:`eie_sim.apps.squeezenet`).

    python -m benchmarks.bench_pipeline [OUTDIR]
"""
from __future__ import annotations

import json
import pathlib
import statistics
import sys
import time

from eie_sim import ArchConfig, LayerWorkload, SimOptions, run_squeezenet, simulate_layer, table3_layer
from eie_sim import SQUEEZENET_DIR as DEFAULT_SQUEEZENET_DIR
from eie_sim import SQUEEZENET_NET as NET_NAME
from eie_sim import SQUEEZENET_PROTOTXT as PROTOTXT_NAME

# internal on purpose (see the docstring): the stages and the engine are timed one by one
from eie_sim.hw.engine_fast import run_pass
from eie_sim.sim import stages

REPEATS = 15
GOALS = {"whole_ms": 12.0, "whole_over_engine": 3.0, "squeezenet_s": 4.0}
#: this benchmark run on commit 19f2bb8 (dense code matrices, numpy references; a git
#: worktree, the same machine, 2026-11-29, load average 1.5): the figures before
BEFORE = {"whole_ms": 121.8, "squeezenet_s": 8.1}


def _median_ms(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def _fresh(wl: LayerWorkload) -> LayerWorkload:
    """The same layer as a new object: nothing cached, the layout is built again."""
    return LayerWorkload(wl.name, wl.codes, wl.codebook, wl.bias, wl.x, wl.synthetic,
                         dict(wl.source), wl.bits)


def stage_times(cfg: ArchConfig) -> dict:
    t0 = time.perf_counter()
    wl = table3_layer("Alex-8", seed=0, weight_bits=cfg.weight_bits)
    gen_ms = 1e3 * (time.perf_counter() - t0)
    simulate_layer(_fresh(wl), None, cfg)                     # warm-up: kernels loaded
    prep = stages.prepare(wl, cfg)
    inputs = stages.quantize_inputs(prep, cfg)
    run = stages.run_engine(prep, inputs, cfg)
    out = stages.check_outputs(prep, inputs, run, cfg)
    counters = stages.count(prep, inputs, run, cfg)
    energy = stages.price(counters, cfg)
    x_q = inputs.X_q[0]
    lay = prep.layout
    t = {
        "workload (generated once)": gen_ms,
        "prepare, layout built": _median_ms(lambda: stages.prepare(_fresh(wl), cfg)),
        "prepare, layout cached": _median_ms(lambda: stages.prepare(wl, cfg)),
        "quantize_inputs": _median_ms(lambda: stages.quantize_inputs(prep, cfg)),
        "run_engine": _median_ms(lambda: stages.run_engine(prep, inputs, cfg)),
        "check_outputs": _median_ms(lambda: stages.check_outputs(prep, inputs, run, cfg)),
        "count": _median_ms(lambda: stages.count(prep, inputs, run, cfg)),
        "price": _median_ms(lambda: stages.price(counters, cfg)),
        "assemble": _median_ms(lambda: stages.assemble(prep, inputs, run, out, counters,
                                                        energy, cfg)),
    }
    engine = _median_ms(lambda: [run_pass(p, lay, x_q, cfg) for p in lay.passes])
    cold = _median_ms(lambda: simulate_layer(_fresh(wl), None, cfg))
    warm = _median_ms(lambda: simulate_layer(wl, None, cfg))
    # issue 14: the cost of recording (the trace and its windows of 500 cycles)
    windowed = _median_ms(lambda: simulate_layer(wl, None, cfg, SimOptions(window=500)))
    return {"stages_ms": t, "engine_ms": engine, "whole_built_ms": cold, "whole_cached_ms": warm,
            "whole_window500_ms": windowed,
            "nnz": wl.nnz, "active_inputs": int((wl.x != 0).sum()),
            "cycles": simulate_layer(wl, None, cfg).cycles}


def squeezenet_time() -> dict | None:
    d = DEFAULT_SQUEEZENET_DIR
    if not ((d / PROTOTXT_NAME).is_file() and (d / NET_NAME).is_file()):
        return None
    run_squeezenet(d, None, 50, 0)                            # warm-up: kernels loaded
    t0 = time.perf_counter()
    run = run_squeezenet(d, None, "all", 0)
    wall = time.perf_counter() - t0
    tot = run.totals()
    return {"wall_s": wall, "positions": tot["positions_simulated"], "cycles": tot["cycles"]}


def main(outdir="results") -> None:
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    cfg = ArchConfig().validate()
    r = stage_times(cfg)
    print(f"Alex-8 (SYNTHETIC, seed 0): 1000 x 4096, {r['nnz']:,} weights, {r['active_inputs']:,} "
          f"non-zero inputs, 64 PEs, queue 8: {r['cycles']:,} cycles; medians of {REPEATS} runs")
    print(f"{'stage':28s} {'ms':>8s}")
    for name, ms in r["stages_ms"].items():
        print(f"{name:28s} {ms:8.2f}")
    eng = r["engine_ms"]
    lines = [
        f"engine alone (run_pass over the passes): {eng:.2f} ms",
        f"whole simulate_layer, layout built: {r['whole_built_ms']:.2f} ms = "
        f"{r['whole_built_ms'] / eng:.1f}x the engine   goal <= {GOALS['whole_ms']:.0f} ms   "
        f"{'MET' if r['whole_built_ms'] <= GOALS['whole_ms'] else 'MISSED'}   "
        f"(before the sparse pipeline: {BEFORE['whole_ms']:.1f} ms)",
        f"whole simulate_layer, layout cached: {r['whole_cached_ms']:.2f} ms = "
        f"{r['whole_cached_ms'] / eng:.1f}x the engine   goal <= {GOALS['whole_over_engine']:.0f}x   "
        f"{'MET' if r['whole_cached_ms'] / eng <= GOALS['whole_over_engine'] else 'MISSED'}",
        f"whole simulate_layer, layout cached, window=500 (recorded): {r['whole_window500_ms']:.2f} ms "
        f"= {r['whole_window500_ms'] / r['whole_cached_ms']:.2f}x without   goal < 2x   "
        f"{'MET' if r['whole_window500_ms'] < 2 * r['whole_cached_ms'] else 'MISSED'}",
    ]
    sq = squeezenet_time()
    if sq is None:
        lines.append("SqueezeNet: SKIPPED (the authors' files are not present)")
    else:
        lines.append(
            f"SqueezeNet, all {sq['positions']:,} positions, every output checked: "
            f"{sq['wall_s']:.2f} s ({sq['cycles']:,} cycles)   goal <= {GOALS['squeezenet_s']:.0f} s   "
            f"{'MET' if sq['wall_s'] <= GOALS['squeezenet_s'] else 'MISSED'}   "
            f"(before the sparse pipeline: {BEFORE['squeezenet_s']:.1f} s)")
    for line in lines:
        print(line)
    (outdir / "bench_pipeline.json").write_text(json.dumps(
        {"alex8": r, "squeezenet": sq, "goals": GOALS, "before": BEFORE}, indent=2) + "\n")
    print(f"wrote {outdir / 'bench_pipeline.json'}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results")
