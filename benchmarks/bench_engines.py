"""Engine speed: the numba engine (and the simpy model) on the nine Table III layers.

All layers are SYNTHETIC: the seeded random matrices and inputs of
``eie_sim.workloads.synthetic.table3_layer`` at the sizes and densities of Table III (the one
generator also behind ``eie-simulate --table3`` and ``bench_table4``, same seed, so a layer
name has the same cycle count in every report); the real matrices are not available.
Each layer has a random bias (the bias column is simulated). Layouts are built with
``check_fit=False`` (the sweep includes PE counts whose SRAMs cannot hold the layer; which
layers do not fit the paper's 64-PE SRAMs is printed).

Parts:
1. every layer at 64 PEs, queue 8: layer cycles (docs/timing.md "Output passes"),
   fast-engine wall time after a warm-up, simulated PE-cycles per second, and (unless
   ``--no-simpy`` or ``EIE_BENCH_NO_SIMPY=1``) the simpy engine's wall time, the speed
   ratio and whether both engines agree, with the simpy total over the nine layers;
2. Alex-8 with its input at 43 % activations (the issue's goal case);
3. a sweep: nine layers x PEs 1, 2, 4, ..., 256 in a 2-process pool (spawned processes
   with an empty numba cache, so the wall time includes compilation), synthetic data
   generation and layout build time reported separately from engine time;
4. peak memory (VmHWM) of a fresh process that builds and runs VGG-6 at 64 PEs.

It times the engines themselves, so it reaches below the public API on purpose: each
pass of a layer's layout runs on ``eie_sim.hw.engine_fast.run_pass`` (and the simpy
engine), inputs are quantized with ``eie_sim.arch.fixed_point.quantize`` and the passes
are rolled up with ``eie_sim.hw.counters``; the layers, configurations and paper values
come from ``eie_sim``.

``main(outdir)`` writes ``bench_engines.csv``, ``bench_engines_sweep.csv`` and
``bench_engines.md`` under ``outdir``.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import csv
import multiprocessing
import os
import pathlib
import resource
import statistics
import sys
import tempfile
import time

import numpy as np

from eie_sim import ArchConfig, LayerWorkload, LayoutError, paper, table3_layer

# internal on purpose (see the docstring): the engines are timed on their own
from eie_sim.arch.fixed_point import quantize
from eie_sim.hw.counters import PassBatch, load_efficiency, roll_up
from eie_sim.hw.engine_fast import run_pass as fast_run_pass

TABLE3, TABLE4_ACTUAL_US = paper.TABLE3, paper.TABLE4_ACTUAL_US

PES_SWEEP = [1, 2, 4, 8, 16, 32, 64, 128, 256]
SEED = 0          # the seed of bench_table4 and eie-simulate --table3 (run.seed default)

GOALS = {
    "alex8_ms": 8.0,       # Alex-8 (4096 x 1000, 25 % weights, 43 % activations) at 64 PEs
    "nine_s": 1.0,         # all nine layers at 64 PEs
    "sweep_s": 6.0,        # nine layers x PEs 1..256, including compilation (issue 11)
    "vgg6_mb": 400.0,      # peak memory for VGG-6 at 64 PEs (issue 11)
}
#: the same figures before the sparse pipeline (commit 19f2bb8, 2026-11-29): the sweep as
#: this benchmark printed it; VGG-6's peak (VmHWM) measured in a fresh interpreter. (The
#: 1,104 MB printed then was ru_maxrss in a process forked from the large benchmark
#: process, which Linux carries over: it measured the parent, not VGG-6.)
BEFORE = {"sweep_s": 13.9, "vgg6_mb": 450.0}


# ------------------------------------------------------------------------------------
# synthetic layers (eie_sim.workloads.synthetic.table3_layer) and layer-level accounting
# ------------------------------------------------------------------------------------
def synthetic_layer(name: str, seed: int = SEED, act_density: float | None = None):
    """The Table III layer ``name`` (a :class:`~eie_sim.workloads.layer.LayerWorkload` with its input)."""
    return table3_layer(name, seed=seed, act_density=act_density)


def quantize_acts(x: np.ndarray, cfg: ArchConfig) -> np.ndarray:
    """The fixed-point input, as ``eie_sim.sim.stages.quantize_inputs`` quantizes it."""
    return quantize(x, cfg.act_frac_bits, cfg.word_bits)[0]


def bench_config(pes: int = 64) -> ArchConfig:
    return ArchConfig(pes=pes, queue_depth=8, dram="none").validate()   # on chip (the paper)


def layer_totals(stats, cols: int, cfg: ArchConfig) -> tuple[int, float]:
    """(layer cycles, load efficiency) of one vector's passes by the one roll-up of
    docs/timing.md (eie_sim.hw.counters.roll_up)."""
    lc = roll_up([PassBatch.from_stats([s]) for s in stats], cols, cfg)
    return lc.cycles, load_efficiency(lc.pe.starved.sum(), cfg.pes, lc.cycles)


def _run_layer(engine, layout, x_q, cfg):
    return [engine(p, layout, x_q, cfg) for p in layout.passes]


def _time_fast(layout, x_q, cfg, repeats: int = 7):
    """(stats, median s, min s) of the fast engine over ``repeats`` runs after a warm-up."""
    _run_layer(fast_run_pass, layout, x_q, cfg)          # warm-up (compilation / cache load)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        stats = _run_layer(fast_run_pass, layout, x_q, cfg)
        times.append(time.perf_counter() - t0)
    return stats, statistics.median(times), min(times)


# ------------------------------------------------------------------------------------
# sweep worker (runs in spawned processes)
# ------------------------------------------------------------------------------------
def _sweep_layer(name: str) -> list[dict]:
    t0 = time.perf_counter()
    wl = synthetic_layer(name)
    gen_s = time.perf_counter() - t0
    out = []
    for pes in PES_SWEEP:
        cfg = bench_config(pes)
        t0 = time.perf_counter()
        layout = wl.layout(cfg, check_fit=False)
        build_s = time.perf_counter() - t0
        x_q = quantize_acts(wl.x, cfg)
        t0 = time.perf_counter()
        stats = _run_layer(fast_run_pass, layout, x_q, cfg)
        engine_s = time.perf_counter() - t0
        cyc, eff = layer_totals(stats, layout.cols, cfg)
        out.append(dict(layer=name, pes=pes, passes=len(stats), cycles=cyc,
                        load_efficiency=eff, busy=sum(int(s.pe.busy.sum()) for s in stats),
                        gen_s=gen_s if pes == PES_SWEEP[0] else 0.0,
                        build_s=build_s, engine_s=engine_s, pid=os.getpid()))
    return out


def _peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (Linux; a new process image starts it
    afresh), else ru_maxrss, which Linux carries over from the forking parent."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _vgg6_memory() -> dict:
    cfg = bench_config(64)
    wl = synthetic_layer("VGG-6")
    layout = wl.layout(cfg, check_fit=False)
    stats = _run_layer(fast_run_pass, layout, quantize_acts(wl.x, cfg), cfg)
    return dict(maxrss_mb=_peak_rss_mb(),
                cycles=layer_totals(stats, layout.cols, cfg)[0])


def _warm_up(part: str) -> str:
    """Compile one group of kernels into the shared (cold) numba cache: ``generate`` (the
    synthetic generator's k-means) or ``simulate`` (the layout's counting sort and the
    engine, on a small layer given by its codes). The two workers take one group each, so
    compilation runs in parallel, and each then loads the other group from the cache
    instead of compiling it again."""
    if part == "generate":
        synthetic_layer("NT-LSTM")
    else:
        cfg = bench_config(4)
        codes = (np.arange(64).reshape(8, 8) % 3 == 0).astype(np.uint8)    # no k-means
        wl = LayerWorkload("warm-up", codes, np.array([0.0, 0.5], dtype=np.float32))
        layout = wl.layout(cfg, check_fit=False)
        _run_layer(fast_run_pass, layout, quantize_acts(np.ones(8), cfg), cfg)
    return part


def _spawn_pool(workers: int, cache_dir: str) -> cf.ProcessPoolExecutor:
    """Fresh interpreters whose numba cache is empty: their time includes compilation
    (split over the workers by :func:`_warm_up`)."""
    old = os.environ.get("NUMBA_CACHE_DIR")
    os.environ["NUMBA_CACHE_DIR"] = cache_dir
    try:
        pool = cf.ProcessPoolExecutor(max_workers=workers,
                                      mp_context=multiprocessing.get_context("spawn"))
        # start the workers now, while the environment points at the empty cache
        list(pool.map(os.getpid, range(0)))
        for f in [pool.submit(os.getpid) for _ in range(workers)]:
            f.result()
        for f in [pool.submit(_warm_up, part) for part in ("generate", "simulate")]:
            f.result()
    finally:
        if old is None:
            os.environ.pop("NUMBA_CACHE_DIR", None)
        else:
            os.environ["NUMBA_CACHE_DIR"] = old
    return pool


# ------------------------------------------------------------------------------------
def main(outdir: pathlib.Path, use_simpy: bool | None = None, sweep: bool = True) -> None:
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    if use_simpy is None:
        use_simpy = os.environ.get("EIE_BENCH_NO_SIMPY", "") not in ("1", "true", "yes")
    simpy_run = None
    if use_simpy:
        try:
            from eie_sim.hw.engine_simpy import run_pass as simpy_run
        except ImportError as exc:
            print(f"(simpy engine not available: {exc}; fast engine only)")
    print("SYNTHETIC layers: eie_sim.workloads.synthetic.table3_layer (random matrices and inputs at "
          f"Table III sizes and densities), seed {SEED}, random bias; 64 PEs, queue_depth 8, "
          "paper config otherwise.")

    # ---- part 1: the nine layers at 64 PEs ----
    cfg = bench_config(64)
    rows_out = []
    notes = []
    hdr = (f"{'layer':8} {'size':>12} {'pass':>4} {'cycles':>7} {'us@800':>7} {'paper us':>8} "
           f"{'build s':>7} {'fast ms':>8} {'PEcyc/s':>9}")
    if simpy_run:
        hdr += f" {'simpy s':>8} {'ratio':>7} agree"
    print(hdr)
    paper_us = TABLE4_ACTUAL_US
    for name, spec in TABLE3.items():
        cols, rows = spec["inputs"], spec["outputs"]
        wd, ad = spec["weight_density"], spec["act_density"]
        wl = synthetic_layer(name)
        t0 = time.perf_counter()
        layout = wl.layout(cfg, check_fit=False)
        build_s = time.perf_counter() - t0
        try:
            wl.layout(cfg)                       # the same images (cached), checked against the SRAMs
        except LayoutError as exc:
            notes.append(f"{name}: does not fit the paper's 64-PE SRAMs ({exc}); simulated "
                         f"with check_fit=False")
        x_q = quantize_acts(wl.x, cfg)
        stats, fast_s, fast_min = _time_fast(layout, x_q, cfg)
        cyc, eff = layer_totals(stats, cols, cfg)
        rec = dict(layer=name, rows=rows, cols=cols, weight_density=wd, act_density=ad,
                   passes=len(stats), cycles=cyc, load_efficiency=eff,
                   us_800mhz=cyc / cfg.clock_mhz,
                   paper_actual_us=paper_us[name], build_s=build_s, fast_s=fast_s, fast_min_s=fast_min,
                   pe_cycles_per_s=cyc * cfg.pes / fast_s,
                   simpy_s="", ratio="", agree="")
        line = (f"{name:8} {f'{cols}x{rows}':>12} {len(stats):>4} {cyc:>7} "
                f"{cyc / cfg.clock_mhz:>7.1f} {paper_us[name]:>8.1f} {build_s:>7.2f} "
                f"{fast_s * 1e3:>8.2f} {rec['pe_cycles_per_s']:>9.2e}")
        if simpy_run:
            t0 = time.perf_counter()
            sstats = _run_layer(simpy_run, layout, x_q, cfg)
            simpy_s = time.perf_counter() - t0
            diffs = [d for a, b in zip(stats, sstats) for d in a.differences(b)]
            rec.update(simpy_s=simpy_s, ratio=simpy_s / fast_s, agree=not diffs)
            line += f" {simpy_s:>8.2f} {simpy_s / fast_s:>7.0f} {'yes' if not diffs else diffs[:3]}"
        print(line, flush=True)
        rows_out.append(rec)
    total_fast = sum(r["fast_s"] for r in rows_out)
    total_fast_min = sum(r["fast_min_s"] for r in rows_out)
    total_simpy = sum(r["simpy_s"] for r in rows_out) if simpy_run else None
    if total_simpy is not None:
        print(f"total over the nine layers: fast {total_fast * 1e3:.1f} ms, simpy {total_simpy:.1f} s")
    for n in notes:
        print("note:", n)

    # ---- part 2: Alex-8 at 43 % activations (the figure) ----
    wl = synthetic_layer("Alex-8", act_density=0.43)
    layout = wl.layout(cfg, check_fit=False)
    a8_stats, a8_s, a8_min = _time_fast(layout, quantize_acts(wl.x, cfg), cfg, repeats=31)
    a8_cycles = layer_totals(a8_stats, layout.cols, cfg)[0]
    load = os.getloadavg()[0]

    # ---- part 3: the sweep ----
    sweep_rows, sweep_wall = [], None
    if sweep:
        with tempfile.TemporaryDirectory(prefix="eie_numba_cold_") as cold:
            t0 = time.perf_counter()
            pool = _spawn_pool(2, cold)
            with pool:
                # largest layers first so the two workers end together
                order = sorted(TABLE3, key=lambda n: -TABLE3[n]["inputs"] * TABLE3[n]["outputs"]
                               * TABLE3[n]["weight_density"])
                for res in pool.map(_sweep_layer, order):
                    sweep_rows.extend(res)
            sweep_wall = time.perf_counter() - t0
        sweep_rows.sort(key=lambda r: (list(TABLE3).index(r["layer"]), r["pes"]))

    # ---- part 4: memory of VGG-6 in a fresh process ----
    with cf.ProcessPoolExecutor(max_workers=1,
                                mp_context=multiprocessing.get_context("spawn")) as pool:
        mem = pool.submit(_vgg6_memory).result()

    # ---- report ----
    goal_lines = [
        f"machine: {os.cpu_count()} CPUs, 1-min load average {load:.1f} at the end of part 2 "
        f"(other processes share the CPUs when it exceeds the CPU count); times are "
        f"median (min) of repeated runs",
        f"Alex-8 (4096x1000, 25 % w, 43 % act) at 64 PEs: {a8_s * 1e3:.2f} ms "
        f"({a8_min * 1e3:.2f}) for {a8_cycles} cycles   goal < {GOALS['alex8_ms']:.0f} ms   "
        f"{'MET' if a8_s * 1e3 < GOALS['alex8_ms'] else 'MISSED'} (median)",
        f"all nine layers at 64 PEs (fast engine): {total_fast:.3f} s ({total_fast_min:.3f})   "
        f"goal < {GOALS['nine_s']:.0f} s   {'MET' if total_fast < GOALS['nine_s'] else 'MISSED'}",
    ]
    if sweep_wall is not None:
        build_total = sum(r["build_s"] for r in sweep_rows)
        engine_total = sum(r["engine_s"] for r in sweep_rows)
        gen_total = sum(r["gen_s"] for r in sweep_rows)
        goal_lines.append(
            f"sweep 9 layers x PEs {PES_SWEEP[0]}..{PES_SWEEP[-1]} ({len(sweep_rows)} points, "
            f"2 spawned workers, cold numba cache): {sweep_wall:.1f} s wall incl. compilation "
            f"(summed over workers: synthetic data {gen_total:.1f} s, layout build "
            f"{build_total:.1f} s, engine {engine_total:.1f} s)   goal < "
            f"{GOALS['sweep_s']:.0f} s   {'MET' if sweep_wall < GOALS['sweep_s'] else 'MISSED'}   "
            f"(before the sparse pipeline: {BEFORE['sweep_s']:.1f} s)")
    goal_lines.append(
        f"VGG-6 at 64 PEs, peak memory of a fresh process (VmHWM; generated and held "
        f"sparse): {mem['maxrss_mb']:.0f} MB   goal < {GOALS['vgg6_mb']:.0f} MB   "
        f"{'MET' if mem['maxrss_mb'] < GOALS['vgg6_mb'] else 'MISSED'}   (before the sparse "
        f"pipeline: {BEFORE['vgg6_mb']:.0f} MB)")
    if simpy_run:
        ratios = [r["ratio"] for r in rows_out]
        goal_lines.append(f"simpy engine, nine layers at 64 PEs: {total_simpy:.1f} s (sum of the "
                          f"per-layer times)")
        goal_lines.append(
            f"fast vs simpy speed ratio at 64 PEs: min {min(ratios):.0f}x, geo-mean "
            f"{float(np.exp(np.mean(np.log(ratios)))):.0f}x, max {max(ratios):.0f}x; engines agree "
            f"on {sum(bool(r['agree']) for r in rows_out)}/{len(rows_out)} layers")
    print("\nGoals (issue) beside measurements:")
    for g in goal_lines:
        print("  " + g)

    fields = list(rows_out[0])
    with open(outdir / "bench_engines.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows_out)
    if sweep_rows:
        with open(outdir / "bench_engines_sweep.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(sweep_rows[0]))
            w.writeheader()
            w.writerows(sweep_rows)
    md = ["# Engine speed (SYNTHETIC Table III layers, seeded)", "",
          "eie_sim.workloads.synthetic.table3_layer, seed 0 (the matrices of bench_table4); 64 PEs, "
          "queue_depth 8, paper config otherwise; random bias; layouts built with "
          "check_fit=False. Cycles and load efficiency as docs/timing.md (pass cycles + batch "
          "stores + pass reloads, those overheads starved on every PE).", "",
          "| layer | size (in x out) | passes | cycles | load eff. | us @800 MHz | paper actual us | "
          "build s | fast ms (median) | fast ms (min) | PE-cycles/s | simpy s | fast/simpy |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows_out:
        simpy_txt = f"{r['simpy_s']:.2f}" if r["simpy_s"] != "" else "-"
        ratio_txt = f"{r['ratio']:.0f}x" if r["ratio"] != "" else "-"
        md.append(f"| {r['layer']} | {r['cols']} x {r['rows']} | {r['passes']} | {r['cycles']} | "
                  f"{r['load_efficiency']:.3f} | {r['us_800mhz']:.1f} | {r['paper_actual_us']} | {r['build_s']:.2f} | "
                  f"{r['fast_s'] * 1e3:.2f} | {r['fast_min_s'] * 1e3:.2f} | {r['pe_cycles_per_s']:.2e} | {simpy_txt} | {ratio_txt} |")
    md += ["", "## Goals", ""] + [f"- {g}" for g in goal_lines] + [""]
    md += [f"- note: {n}" for n in notes]
    if sweep_rows:
        md += ["", "## Sweep: layer cycles by PE count", "",
               "| layer | " + " | ".join(str(p) for p in PES_SWEEP) + " |",
               "|---|" + "---|" * len(PES_SWEEP)]
        for name in TABLE3:
            cyc = [str(r["cycles"]) for r in sweep_rows if r["layer"] == name]
            md.append(f"| {name} | " + " | ".join(cyc) + " |")
    (outdir / "bench_engines.md").write_text("\n".join(md) + "\n")
    print(f"\nwrote {outdir / 'bench_engines.csv'}, {outdir / 'bench_engines.md'}"
          + (f", {outdir / 'bench_engines_sweep.csv'}" if sweep_rows else ""))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default="results", type=pathlib.Path)
    ap.add_argument("--no-simpy", action="store_true", help="skip the simpy engine")
    ap.add_argument("--no-sweep", action="store_true", help="skip the PE sweep")
    a = ap.parse_args()
    main(a.outdir, use_simpy=False if a.no_simpy else None, sweep=not a.no_sweep)
    sys.exit(0)
