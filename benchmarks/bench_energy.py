"""Energy and area against the paper: Table II shares, Fig. 9 with CACTI, Table V, Fig. 6/7.

Every EIE figure here is simulated in this run on the nine Table III layers (SYNTHETIC
seeded random matrices at the paper's sizes and densities, seed 0) at the paper's design
point (64 PEs, 800 MHz), priced by both energy models (docs/energy.md): ``cacti`` (the
default: SRAMs from CACTI, logic from Table II) and ``table2`` (paper Tables I-II only).
Paper values stand beside ours, labelled PAPER; nothing is fitted to them.

* ``energy_table2.*``: the share of each Table II unit in the energy of each layer under
  the simulated activity, the chip power, beside Table II's shares and 0.59 W; the chip
  area beside 40.8 mm^2; the two models at the design point and at swept SRAM sizes and
  widths (the closing note).
* ``energy_fig9.*``: Alex-8 over Spmat widths 16..512 bits: line reads, Spmat SRAM energy
  and layer energy by model, where our minimum falls (the paper's: 64 bits).
* ``energy_table5.*``: AlexNet FC7 (Alex-7): frames/s, frames/s/mm^2, frames/J at 64 PEs
  (45 nm, 800 MHz) and 256 PEs (28 nm, 1.2 GHz, the 28 nm CACTI table).
* ``energy_fig6_7.*``: speedup and energy efficiency of the simulated EIE over CPU
  baselines MEASURED IN THIS RUN on this machine: dense matrix x vector with numpy's BLAS
  (float32) and sparse with scipy.sparse CSR, batch 1 and 64, on the same matrices and
  inputs; CPU energy = measured time x the PAPER's Core i7 power (labelled), as the paper
  did (time x measured platform power). The paper's Fig. 6/7 and Table IV ratios beside.

Runs through the public API (``eie_sim``) except for the energy model itself, which it
measures on purpose: one simulated run's counters are priced by both models with the
pricing stage (``eie_sim.sim.stages.price``), and the units and parts come from
``eie_sim.arch.energy``.

    python -m benchmarks.bench_energy [OUTDIR]
"""
from __future__ import annotations

import math
import pathlib
import platform
import statistics
import sys
import time

import numpy as np

from eie_sim import (
    PAPER_CONFIG,
    EnergyTable,
    SimOptions,
    csv_text,
    paper,
    simulate_layer,
    synthetic_input,
    table3_layer,
)
from eie_sim.arch.energy import (  # internal on purpose: see the docstring
    ENERGY_PARTS,
    UNITS,
)
from eie_sim.sim.stages import price

SEED = 0
BATCH_SEED = 1000            #: batch-64 inputs: synthetic_input(cols, density, BATCH_SEED + i)
FIG9_WIDTHS = (16, 32, 64, 128, 256, 512)
SWEPT = (("paper design point", {}), ("Spmat 64 KB", {"spmat_sram_kb": 64}),
         ("Spmat 256 KB", {"spmat_sram_kb": 256}), ("Spmat width 32 b", {"spmat_width_bits": 32}),
         ("Spmat width 128 b", {"spmat_width_bits": 128}),
         ("pointer SRAM 64 KB", {"pointer_sram_kb": 64}))
#: CPU power used for the CPU energy: PAPER values (Table V: Core i7 73 W; Deep
#: Compression's measured sparse range 36.0-42.3 W, its midpoint)
CPU_POWER_W = {"dense": paper.TABLE5["Core i7"]["power_w"],
               "sparse": sum(paper.PLATFORM_POWER_W["core_i7"]["sparse"]) / 2}
MIN_REPEATS, MIN_SECONDS, MAX_REPEATS = 5, 0.25, 200
BLAS_THREADS = 1             #: numpy's BLAS threads while timing (see _one_blas_thread)


def _say(*a):
    print(*a, flush=True)


def _geomean(v) -> float:
    v = [x for x in v if x and x > 0]
    return math.exp(sum(math.log(x) for x in v) / len(v)) if v else float("nan")


def _models() -> dict[str, EnergyTable]:
    return {"cacti": EnergyTable.builtin("cacti"), "table2": EnergyTable.builtin("table2")}


# ------------------------------------------------------------------ Table II shares
def table2_shares(results: dict, models: dict) -> tuple[list[dict], str]:
    rows = []
    for name, res in results.items():
        for model, table in models.items():
            e = price(res.counters, PAPER_CONFIG, table)
            parts, tot = e.energy_pj_by_unit, sum(e.energy_pj_by_unit.values())
            area = e.area
            rows.append({"layer": name, "model": model, "total_energy_uj": e.energy_uj,
                         "time_us": res.time_us, "chip_power_w": e.avg_power_w,
                         "paper_chip_power_w": paper.CHIP_POWER_W,
                         "chip_area_mm2": area.chip_mm2, "paper_chip_area_mm2": paper.CHIP_AREA_MM2,
                         **{f"share_{p}": parts[p] / tot for p in ENERGY_PARTS},
                         **{f"paper_share_{u}": paper.TABLE2_UNIT_POWER_SHARE[u] for u in UNITS}})
    head = (f"{'layer':<8} {'model':<7} " + " ".join(f"{u:>11}" for u in UNITS)
            + f" {'lnzd+stat':>9} {'power W':>8} {'area mm2':>9}")
    lines = [head, "-" * len(head)]
    lines.append(f"{'PAPER':<8} {'TabII':<7} " + " ".join(
        f"{100 * paper.TABLE2_UNIT_POWER_SHARE[u]:>10.1f}%" for u in UNITS)
        + f" {'':>9} {paper.CHIP_POWER_W:>8.2f} {paper.CHIP_AREA_MM2:>9.1f}")
    for r in rows:
        lines.append(f"{r['layer']:<8} {r['model']:<7} " + " ".join(
            f"{100 * r[f'share_{u}']:>10.1f}%" for u in UNITS)
            + f" {100 * (r['share_lnzd'] + r['share_static']):>8.1f}% {r['chip_power_w']:>8.3f}"
            f" {r['chip_area_mm2']:>9.2f}")
    for model in models:
        sel = [r for r in rows if r["model"] == model]
        lines.append(f"{'mean':<8} {model:<7} " + " ".join(
            f"{100 * statistics.mean(r[f'share_{u}'] for r in sel):>10.1f}%" for u in UNITS)
            + f" {100 * statistics.mean(r['share_lnzd'] + r['share_static'] for r in sel):>8.1f}%"
            f" {statistics.mean(r['chip_power_w'] for r in sel):>8.3f} {sel[0]['chip_area_mm2']:>9.2f}")
    return rows, "\n".join(lines)


def model_comparison(layer, models: dict) -> tuple[list[dict], str]:
    """The closing note's table: Alex-7 at the design point and at swept SRAM points."""
    rows = []
    for label, change in SWEPT:
        cfg = PAPER_CONFIG.replace(**change)
        res = simulate_layer(layer, None, cfg, SimOptions(check_fit=False), seeds={"workload_seed": SEED})
        for model, table in models.items():
            e = price(res.counters, cfg, table)
            a = e.area
            rows.append({"point": label, "model": model, **change, "cycles": res.cycles,
                         "spmat_line_reads": int(res.pe.spmat_line_reads.sum()),
                         "spmat_line_read_pj": e.action_pj["spmat_line_read"],
                         "pointer_read_pj": e.action_pj["pointer_read"],
                         "total_energy_uj": e.energy_uj, "chip_power_w": e.avg_power_w,
                         "pe_total_area_mm2": a.pe_mm2, "chip_area_mm2": a.chip_mm2})
    head = (f"{'Alex-7 at':<22} {'model':<7} {'line pJ':>8} {'ptr pJ':>7} {'energy uJ':>10} "
            f"{'power W':>8} {'PE mm2':>7} {'chip mm2':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['point']:<22} {r['model']:<7} {r['spmat_line_read_pj']:>8.2f} "
                     f"{r['pointer_read_pj']:>7.2f} {r['total_energy_uj']:>10.3f} {r['chip_power_w']:>8.3f} "
                     f"{r['pe_total_area_mm2']:>7.4f} {r['chip_area_mm2']:>9.2f}")
    return rows, "\n".join(lines)


# ------------------------------------------------------------------ Fig. 9
def fig9(layer, models: dict) -> tuple[list[dict], str]:
    rows = []
    for w in FIG9_WIDTHS:
        cfg = PAPER_CONFIG.replace(spmat_width_bits=w)
        res = simulate_layer(layer, None, cfg, SimOptions(check_fit=False), seeds={"workload_seed": SEED})
        for model, table in models.items():
            e = price(res.counters, cfg, table)
            rows.append({"spmat_width_bits": w, "model": model, "cycles": res.cycles,
                         "spmat_line_reads": int(res.pe.spmat_line_reads.sum()),
                         "line_read_pj": e.action_pj["spmat_line_read"],
                         "spmat_sram_energy_uj": e.spmat_sram_energy_pj * 1e-6,
                         "spmat_read_energy_uj": e.energy_pj_by_unit["spmat_read"] * 1e-6,
                         "total_energy_uj": e.energy_uj,
                         "paper_best_width_bits": paper.FIG9_PAPER_BEST_WIDTH_BITS})
    head = (f"{'width':>5} {'line reads':>10} {'cycles':>7} | {'CACTI pJ/line':>13} {'SRAM uJ':>8} "
            f"{'layer uJ':>9} | {'TabI pJ/line':>12} {'SRAM uJ':>8} {'layer uJ':>9}")
    lines = [head, "-" * len(head)]
    for w in FIG9_WIDTHS:
        c = next(r for r in rows if r["spmat_width_bits"] == w and r["model"] == "cacti")
        t = next(r for r in rows if r["spmat_width_bits"] == w and r["model"] == "table2")
        lines.append(f"{w:>5} {c['spmat_line_reads']:>10,} {c['cycles']:>7,} | {c['line_read_pj']:>13.2f} "
                     f"{c['spmat_sram_energy_uj']:>8.3f} {c['total_energy_uj']:>9.3f} | {t['line_read_pj']:>12.2f} "
                     f"{t['spmat_sram_energy_uj']:>8.3f} {t['total_energy_uj']:>9.3f}")
    for model in models:
        sel = [r for r in rows if r["model"] == model]
        best_sram = min(sel, key=lambda r: r["spmat_sram_energy_uj"])["spmat_width_bits"]
        best = min(sel, key=lambda r: r["total_energy_uj"])["spmat_width_bits"]
        lines.append(f"{model}: Spmat SRAM energy lowest at {best_sram} bits, layer energy lowest at "
                     f"{best} bits (PAPER: lowest at {paper.FIG9_PAPER_BEST_WIDTH_BITS} bits)")
    return rows, "\n".join(lines)


# ------------------------------------------------------------------ Table V
def table5(layer) -> tuple[list[dict], str]:
    variants = (("EIE 64 PE", PAPER_CONFIG, EnergyTable.builtin("cacti"), 45),
                ("EIE 256 PE", PAPER_CONFIG.replace(pes=256, clock_mhz=1200.0),
                 EnergyTable.from_dict({"tech_node_nm": 28, "sram_table": "sram_cacti_28nm.yaml"},
                                       "28 nm CACTI"), 28))
    rows = []
    for label, cfg, table, node in variants:
        res = simulate_layer(layer, None, cfg, SimOptions(check_fit=False, energy_table=table),
                             seeds={"workload_seed": SEED})
        for model, t in (("cacti", table), ("table2", EnergyTable.from_dict(
                {"memory_model": "table2", "tech_node_nm": node}, "table2"))):
            e = price(res.counters, cfg, t)
            area = e.area.chip_mm2
            fps = 1e6 / res.time_us
            p = paper.TABLE5[label]
            rows.append({"platform": label, "model": model, "tech_nm": node, "clock_mhz": cfg.clock_mhz,
                         "pes": cfg.pes, "time_us": res.time_us, "area_mm2": area,
                         "power_w": e.avg_power_w, "frames_per_s": fps,
                         "frames_per_s_mm2": fps / area, "frames_per_j": 1.0 / (e.energy_uj * 1e-6),
                         **{f"paper_{k}": v for k, v in p.items()}})
    keys = ("area_mm2", "power_w", "frames_per_s", "frames_per_s_mm2", "frames_per_j")
    head = f"{'AlexNet FC7':<12} {'model':<7} " + " ".join(f"{k:>17}" for k in keys)
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['platform']:<12} {r['model']:<7} " + " ".join(f"{r[k]:>17,.2f}" for k in keys))
        if r["model"] == "cacti":
            lines.append(f"{'  PAPER':<12} {'':<7} " + " ".join(f"{r['paper_' + k]:>17,.2f}" for k in keys))
    for name in ("Core i7", "Titan X", "Tegra K1"):
        p = paper.TABLE5[name]
        lines.append(f"{'PAPER ' + name:<20} " + " ".join(
            f"{p[k]:>17,.2f}" if p[k] is not None else f"{'-':>17}" for k in keys))
    return rows, "\n".join(lines)


# ------------------------------------------------------------------ Fig. 6 / 7
def _time(fn) -> float:
    """Median wall time (s) of ``fn()`` over at least MIN_REPEATS calls and MIN_SECONDS."""
    fn()                                              # warm-up (page faults, BLAS threads)
    times, t_all = [], time.perf_counter()
    while len(times) < MIN_REPEATS or (time.perf_counter() - t_all < MIN_SECONDS and len(times) < MAX_REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _one_blas_thread():
    """BLAS limited to one thread while timing: on a shared 2-core machine a multi-threaded
    BLAS spin-waits on descheduled threads (measured: 2400 x 1201 sgemv 32 ms with two
    threads under load vs 0.42 ms with one)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                                   # pragma: no cover
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(BLAS_THREADS, "blas")


def cpu_baselines(layers: dict, results: dict) -> tuple[list[dict], str]:
    with _one_blas_thread():
        return _cpu_baselines(layers, results)


def _cpu_baselines(layers: dict, results: dict) -> tuple[list[dict], str]:
    import scipy.sparse as sp
    rows = []
    for name, lay in layers.items():
        codes = lay.codes
        vals = np.asarray(lay.codebook, dtype=np.float32)[codes.data]
        W = sp.csr_matrix((vals, codes.indices, codes.indptr), shape=codes.shape)
        D = W.toarray()
        b = (lay.bias if lay.bias is not None else np.zeros(codes.rows)).astype(np.float32)
        x1 = np.asarray(lay.x, dtype=np.float32)
        ad = lay.source.get("act_density", paper.TABLE3[name]["act_density"])
        X = np.stack([synthetic_input(codes.cols, ad, BATCH_SEED + i) for i in range(64)],
                     axis=1).astype(np.float32)                               # (cols, 64)
        y_ref = np.maximum(D @ x1 + b, 0)
        assert np.allclose(W @ x1 + b, D @ x1 + b, atol=1e-3)                 # same matrix
        t = {"dense_b1": _time(lambda: np.maximum(D @ x1 + b, 0)),
             "sparse_b1": _time(lambda: np.maximum(W @ x1 + b, 0)),
             "dense_b64": _time(lambda: np.maximum(D @ X + b[:, None], 0)) / 64,
             "sparse_b64": _time(lambda: np.maximum(W @ X + b[:, None], 0)) / 64}
        res = results[name]
        sim_out = res.output[0]                       # output_q / 2**output_frac_bits
        eie_us, eie_uj = res.time_us, res.energy_uj
        r = {"layer": name, "eie_time_us": eie_us, "eie_energy_uj": eie_uj,
             "eie_output_max_abs_diff_vs_cpu": float(np.max(np.abs(sim_out - y_ref))),
             **{f"cpu_{k}_us": v * 1e6 for k, v in t.items()}}
        for k, v in t.items():
            kind = k.split("_")[0]
            r[f"speedup_vs_cpu_{k}"] = v * 1e6 / eie_us
            r[f"energy_eff_vs_cpu_{k}"] = (v * CPU_POWER_W[kind] * 1e6) / eie_uj
        p_eie = paper.TABLE4_ACTUAL_US[name]
        r["paper_speedup_vs_cpu_dense"] = paper.FIG6_SPEEDUP_OVER_CPU_DENSE[name]
        r["paper_energy_eff_vs_cpu_dense"] = paper.FIG7_ENERGY_EFF_OVER_CPU_DENSE[name]
        for plat in ("cpu_sparse", "gpu_dense", "gpu_sparse", "mgpu_dense", "mgpu_sparse"):
            r[f"paper_speedup_vs_{plat}"] = paper.TABLE4_PLATFORM_US[plat][name] / p_eie
        rows.append(r)
        D = X = None                                   # free the dense matrix before the next layer
    head = (f"{'layer':<8} {'EIE us':>7} {'dense us':>9} {'CSR us':>8} | {'x dense':>8} {'PAPER':>6} "
            f"{'x CSR':>7} {'PAPER':>6} | {'b64 x dense':>11} {'b64 x CSR':>9} | {'E x dense':>10} "
            f"{'PAPER':>7} {'E x CSR':>8} | {'PAPER xGPU':>10} {'xmGPU':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['layer']:<8} {r['eie_time_us']:>7.1f} {r['cpu_dense_b1_us']:>9.1f} {r['cpu_sparse_b1_us']:>8.1f} | "
            f"{r['speedup_vs_cpu_dense_b1']:>8.1f} {r['paper_speedup_vs_cpu_dense']:>6.0f} "
            f"{r['speedup_vs_cpu_sparse_b1']:>7.1f} {r['paper_speedup_vs_cpu_sparse']:>6.1f} | "
            f"{r['speedup_vs_cpu_dense_b64']:>11.2f} {r['speedup_vs_cpu_sparse_b64']:>9.2f} | "
            f"{r['energy_eff_vs_cpu_dense_b1']:>10,.0f} {r['paper_energy_eff_vs_cpu_dense']:>7,.0f} "
            f"{r['energy_eff_vs_cpu_sparse_b1']:>8,.0f} | {r['paper_speedup_vs_gpu_dense']:>10.1f} "
            f"{r['paper_speedup_vs_mgpu_dense']:>6.0f}")
    g = {k: _geomean(r[k] for r in rows) for k in rows[0] if k.startswith(("speedup", "energy_eff", "paper_"))}
    lines.append(
        f"{'geomean':<8} {'':>7} {'':>9} {'':>8} | {g['speedup_vs_cpu_dense_b1']:>8.1f} "
        f"{g['paper_speedup_vs_cpu_dense']:>6.0f} {g['speedup_vs_cpu_sparse_b1']:>7.1f} "
        f"{g['paper_speedup_vs_cpu_sparse']:>6.1f} | {g['speedup_vs_cpu_dense_b64']:>11.2f} "
        f"{g['speedup_vs_cpu_sparse_b64']:>9.2f} | {g['energy_eff_vs_cpu_dense_b1']:>10,.0f} "
        f"{g['paper_energy_eff_vs_cpu_dense']:>7,.0f} {g['energy_eff_vs_cpu_sparse_b1']:>8,.0f} | "
        f"{g['paper_speedup_vs_gpu_dense']:>10.1f} {g['paper_speedup_vs_mgpu_dense']:>6.0f}")
    rows.append({"layer": "geomean", **g})
    return rows, "\n".join(lines)


def machine_facts() -> list[str]:
    cpu = "unknown"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts = [f"CPU: {cpu}, {__import__('os').cpu_count()} logical cores visible; Python "
             f"{platform.python_version()}, numpy {np.__version__}"]
    try:
        from threadpoolctl import threadpool_info
        facts += [f"BLAS: {i.get('internal_api')} {i.get('version')} ({i.get('filepath')}), timed "
                  f"with {BLAS_THREADS} thread (threadpoolctl; {i.get('num_threads')} available)"
                  for i in threadpool_info() if i.get("user_api") == "blas"]
    except ImportError:
        cfg = np.show_config(mode="dicts") if hasattr(np, "show_config") else {}
        blas = (cfg or {}).get("Build Dependencies", {}).get("blas", {})
        facts.append(f"BLAS (numpy build): {blas.get('name')} {blas.get('version')}")
    import scipy
    facts.append(f"scipy {scipy.__version__} (scipy.sparse CSR, single-threaded)")
    try:
        facts.append("load average when timed (1/5/15 min): "
                     + " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3]))
    except OSError:
        pass
    return facts


CLOSING = """\
## Closing note: the two models at the paper's design point

- Area: both models give {area_c:.2f} mm^2 at the design point (PAPER: 40.8 mm^2): the
  CACTI model takes each memory's area from CACTI and the rest of its unit from Table II
  (Table II area minus CACTI's memory at the Table II design point), so at that point the
  units sum to Table II's PE by construction; only other SRAM sizes and widths move it
  (table above: Spmat 64 KB -> {a64:.2f} mm^2, 256 KB -> {a256:.2f} mm^2).
- Power under the simulated activity of the nine layers: table2 {p_t:.3f} W on average
  ({d_t:+.0f} % vs the PAPER's 0.59 W), cacti {p_c:.3f} W ({d_c:+.0f} %). The table2 model
  spends Table II power only for actions that happen, so starved and idle units lower it
  below 0.59 W. The cacti model is higher for two measured reasons: (1) CACTI's SRAM energy
  per access at 45 nm (LSTP cells) is about 2.4x the paper's Table I figure (a 32-bit read
  of a 32 KB SRAM: {e32:.1f} pJ vs 5 pJ), so a 64-bit line of the 128 KB Spmat costs
  {line:.1f} pJ instead of Table I's 10 pJ; (2) a pointer read reads both 16 KB pointer
  banks, {ptr:.1f} pJ in CACTI, where Table II's whole PtrRead unit comes to 2.26 pJ per
  cycle. PtrRead's share of the energy is {ptr_c:.0f} % under cacti vs {ptr_t:.0f} % under
  table2 (PAPER Table II: 19.7 % of power). The difference is the model's, not fitted away.
- Default: cacti, because only it makes energy and area follow the SRAM sizes and widths a
  sweep changes (table2 scales SRAM energy linearly in width and area linearly in
  capacity, which CACTI contradicts: energy per read grows ~{grow:.1f}x from 64 to 512 bits,
  not 8x). Select table2 with an energy table holding `memory_model: table2`.
"""


def main(outdir="results") -> None:
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    models = _models()
    _say("Energy and area vs the paper. Matrices are SYNTHETIC (seeded random at Table III "
         f"sizes and densities, seed {SEED}); PAPER = paper values; models: docs/energy.md.")
    layers = {n: table3_layer(n, seed=SEED, weight_bits=PAPER_CONFIG.weight_bits) for n in paper.TABLE3}
    results = {n: simulate_layer(lay, None, PAPER_CONFIG, SimOptions(check_fit=False),
                                 seeds={"workload_seed": SEED})
               for n, lay in layers.items()}

    t2_rows, t2_text = table2_shares(results, models)
    _say("\nTable II: energy share by unit under the simulated activity, chip power and area (64 PEs)")
    _say(t2_text)
    cmp_rows, cmp_text = model_comparison(layers["Alex-7"], models)
    _say("\nThe two models at the design point and at swept SRAM points (Alex-7)")
    _say(cmp_text)
    f9_rows, f9_text = fig9(layers["Alex-8"], models)
    _say("\nFig. 9: Alex-8 over Spmat SRAM widths (64 PEs)")
    _say(f9_text)
    t5_rows, t5_text = table5(layers["Alex-7"])
    _say("\nTable V: AlexNet FC7 (Alex-7), EIE columns (256 PE: 28 nm, 1.2 GHz, 28 nm CACTI table)")
    _say(t5_text)
    facts = machine_facts()
    _say("\nFig. 6/7: EIE (simulated) vs CPU baselines measured now on this machine")
    for f in facts:
        _say("  " + f)
    cpu_rows, cpu_text = cpu_baselines(layers, results)
    _say(cpu_text)

    sram = models["cacti"].sram
    mean = {m: statistics.mean(r["chip_power_w"] for r in t2_rows if r["model"] == m) for m in models}
    ptr = {m: 100 * statistics.mean(r["share_ptr_read"] for r in t2_rows if r["model"] == m) for m in models}
    area = {r["point"]: r["chip_area_mm2"] for r in cmp_rows if r["model"] == "cacti"}
    closing = CLOSING.format(
        area_c=area["paper design point"], a64=area["Spmat 64 KB"], a256=area["Spmat 256 KB"],
        p_t=mean["table2"], d_t=100 * (mean["table2"] / paper.CHIP_POWER_W - 1),
        p_c=mean["cacti"], d_c=100 * (mean["cacti"] / paper.CHIP_POWER_W - 1),
        e32=sram.lookup(32, 32).read_pj, line=sram.lookup(128, 64).read_pj,
        ptr=2 * sram.lookup(16, 16).read_pj, ptr_c=ptr["cacti"], ptr_t=ptr["table2"],
        grow=sram.lookup(128, 512).read_pj / sram.lookup(128, 64).read_pj)
    _say("\n" + closing)
    cpu_note = (f"CPU energy = measured time x PAPER platform power: dense {CPU_POWER_W['dense']} W "
                f"(Table V Core i7), sparse {CPU_POWER_W['sparse']:.2f} W (midpoint of the paper's "
                f"36.0-42.3 W); this machine is not a Core i7-5930K and its power was not measured. "
                f"Batch-64 CPU times are per input; EIE runs one input at a time (batch 1). "
                f"Times are medians of >= {MIN_REPEATS} calls (and >= {MIN_SECONDS} s).")
    _say(cpu_note)

    def md(title, text, extra=""):
        return f"# {title}\n\nSynthetic matrices (seed {SEED}); PAPER = paper values.\n\n```\n{text}\n```\n{extra}"

    files = {
        "energy_table2.csv": csv_text(t2_rows, list(t2_rows[0])),
        "energy_models.csv": csv_text(cmp_rows, list(dict.fromkeys(k for r in cmp_rows for k in r))),
        "energy_table2.md": md("Table II shares, chip power and area; the two models", t2_text + "\n\n"
                               + cmp_text, "\n" + closing),
        "energy_fig9.csv": csv_text(f9_rows, list(f9_rows[0])),
        "energy_fig9.md": md("Fig. 9 with CACTI energies (Alex-8)", f9_text,
                             "\nThe paper's 64-bit minimum came from a memory compiler's "
                             "per-access energies that we do not have; CACTI's energy per read "
                             "grows much more slowly than the width, so fewer, wider reads keep "
                             "paying off (see docs/energy.md).\n"),
        "energy_table5.csv": csv_text(t5_rows, list(t5_rows[0])),
        "energy_table5.md": md("Table V, EIE columns (AlexNet FC7 = Alex-7)", t5_text),
        "energy_fig6_7.csv": csv_text(cpu_rows, list(cpu_rows[0])),
        "energy_fig6_7.md": md("Fig. 6/7 style: EIE vs CPU baselines measured in this run", cpu_text,
                               "\n" + "\n".join(f"- {f}" for f in facts + [cpu_note]) + "\n"),
    }
    for name, text in files.items():
        tmp = outdir / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(outdir / name)
    _say(f"\nwrote {', '.join(files)} to {outdir} ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results")
