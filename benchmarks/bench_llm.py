"""LLM decode steps on EIE (SYNTHETIC weights at published shapes): tokens/s, J/token and
DRAM GB/s against PEs, DRAM type, batch and density, the bandwidth roofline beside them,
the activation threshold's gain, multi-chip EIE, and the speed goal (docs/llm.md).

1. **Speed goal**: the FC layers of one Llama-2-7B decode step (225 layers, 3.3 G
   non-zeros) at 50 % density, batch 1, 64 PEs, cycle-exact with the layers that do not
   fit streamed from DDR4-3200 (docs/dram.md) and every output checked against numpy, in at most 3 minutes with a peak memory of at most 4 GB. Run in a child
   process so its peak resident memory (``resource.getrusage``) is its own; its Python
   heap peak is measured too (``tracemalloc``, numpy's buffers included).
2. **Scaling**: the same for one transformer block (7 layers, in child processes) at
   densities 0.1 / 0.25 / 0.5 and 64 / 256 PEs: wall time and peak memory.
3. **Grid**: Llama-2-7B block 0 and the LM head simulated at PEs x density x batch; the
   step is 32 x block 0 + LM head (EXTRAPOLATED over the blocks, labelled; the blocks have
   the same shapes and generator), tokens/s and J/token from EIE's cycles and energy model,
   stored bytes per step and per token, and per DRAM type the bandwidth roofline
   (streaming the stored weights once per step at the interface's peak bandwidth) with the
   bound (compute or bandwidth) and the tokens/s it allows, beside the DRAM model's
   simulated step (every layer streamed when the model's weights do not fit the SRAMs, as
   ``run_llm`` does): its tokens/s, DRAM GB/s and DRAM energy per token.
4. **Activation threshold**: Llama-2-7B block 0 at thresholds 0 / 0.1 / 0.25 / 0.5: input
   density per layer kind and the leading-non-zero detector's gain (cycles at 0 / cycles).
5. **Multi-chip**: block 0 + LM head on 1 / 2 / 4 / 8 chips: cycles, link share, balance.

Not part of ``make bench`` (it takes several minutes): ``make bench-llm``.

    python -m benchmarks.bench_llm [OUTDIR] [--quick]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import pathlib
import resource
import subprocess
import sys
import time
import tracemalloc

from eie_sim.apps.llm import (
    PEAK_BANDWIDTH_GBPS,
    model_fits_on_chip,
    roofline,
    run_llm,
    stored_bytes,
)
from eie_sim.arch.config import PAPER_CONFIG
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.options import SimOptions
from eie_sim.workloads import llm

NET = "llama2-7b"
GOAL_S, GOAL_GB = 180.0, 4.0
#: with ``dram: none`` (PAPER_CONFIG, the compute-bound reference of the grid) a layer larger
#: than the SRAMs is simulated as if they held it; with a DRAM it streams from it (whether it
#: streams does not depend on check_fit: docs/dram.md)
OPT = SimOptions(check_fit=False)
#: the DRAM the speed goal's layers stream from (the default DRAM of ArchConfig)
STREAM_DRAM = "ddr4_3200"


def _say(*a):
    print(*a, flush=True)


# ------------------------------------------------------------------ child: one timed run
def _child(args) -> None:
    """Run one decode step (``--child``) and print its figures as JSON (last line)."""
    if args.trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    cfg = PAPER_CONFIG.replace(pes=args.pes, dram=STREAM_DRAM)     # layers too large stream
    run = run_llm(NET, cfg, density=args.density, blocks=args.blocks,
                  lm_head=args.blocks is None, options=OPT)
    wall = time.perf_counter() - t0
    heap = tracemalloc.get_traced_memory()[1] if args.trace else None
    s = run.llm
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
                      "peak_rss_gb": ru.ru_maxrss * 1024 / 1e9, "heap_peak_gb": heap / 1e9 if heap else None,
        "layers": len(run.layers), "nnz": sum(l.nnz for l in run.layers),
        "cycles": s["cycles"], "tokens_per_s": s["tokens_per_s"],
        "energy_j_per_token": s["energy_j_per_token"], "pes": args.pes, "density": args.density,
        "blocks": args.blocks}))


def _spawn(pes: int, density: float, blocks: int | None, trace: bool = False) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_llm", "--child", "--pes", str(pes),
           "--density", str(density)] + (["--blocks", str(blocks)] if blocks else []) + \
          (["--trace"] if trace else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         cwd=pathlib.Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cpu_note() -> str:
    try:
        load = os.getloadavg()
    except OSError:
        return ""
    return (f"{os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
            f"(1/5/15 min) at the end: the CPU was shared with other work, times are upper bounds")


# ------------------------------------------------------------------ grid
def _block_layers(shape, density, seed=0):
    """Block 0's FC layers and the LM head, generated once (reused across PEs and batch)."""
    fcs = llm.fc_layers(shape, blocks=1, lm_head=True)
    return [(fc, llm.llm_layer(shape, fc, density, seed=seed)) for fc in fcs]


def _step(shape, layers, cfg, batch, threshold=0.0, seed=0) -> dict:
    """Block 0 + LM head on ``cfg`` for ``batch`` tokens, scaled to a whole step."""
    tot = {"cycles": 0.0, "energy_uj": 0.0, "stored": 0.0, "link_cycles": 0.0, "dram": {}}
    dens: dict[str, float] = {}
    for fc, wl in layers:
        x = llm.llm_inputs(fc, batch, seed, threshold)
        r = simulate_layer(wl, x, cfg, OPT, relu=False)
        k = shape.layers if fc.block >= 0 else 1
        row = r.to_dict()
        tot["cycles"] += k * r.cycles
        tot["energy_uj"] += k * r.energy_uj
        tot["stored"] += k * stored_bytes(wl, cfg)
        tot["link_cycles"] += k * row["link_cycles"]
        for c in ("dram_stall_cycles", "dram_bytes", "energy_dram_uj"):
            if c in row:
                tot["dram"][c] = tot["dram"].get(c, 0.0) + k * float(row[c])
        dens[fc.kind] = r.act_density
        if cfg.chips > 1:
            tot.setdefault("balance", []).append(r.meta["chip_balance"])
    tot["act_density"] = dens
    return tot


GRID_COLUMNS = ("pes", "density", "batch", "dram", "cycles", "eie_tokens_per_s",
                "eie_mj_per_token", "stored_gb_per_step", "stored_gb_per_token", "needed_gbps",
                "dram_peak_gbps", "roofline_tokens_per_s", "bound", "dram_gbps_at_roofline",
                "sim_dram_stream", "sim_tokens_per_s", "sim_dram_gbps", "sim_slowdown", "sim_dram_stall_pe_cycles",
                "sim_dram_gb", "sim_dram_mj_per_token")
#: a simulated step within this factor of the on-chip step counts as compute-bound
SIM_COMPUTE_BOUND = 1.05


def grid(pes_list, densities, batches, quick=False) -> list[dict]:
    shape = llm.get_shape(NET)
    rows = []
    for d in densities:
        t0 = time.perf_counter()
        layers = _block_layers(shape, d)
        _say(f"density {d}: block 0 + LM head generated ({sum(w.nnz for _, w in layers):,} "
             f"non-zeros) in {time.perf_counter() - t0:.1f} s")
        for pes in pes_list:
            for b in batches:
                drams = list(PEAK_BANDWIDTH_GBPS) if not quick else ["ddr4_3200", "hbm2"]
                # on chip: the same batched scheme (batch key) as the streamed runs
                base = _step(shape, layers, PAPER_CONFIG.replace(pes=pes, batch=b), b)
                cfgs = {k: PAPER_CONFIG.replace(pes=pes, dram=k, batch=b) for k in drams}
                # as run_llm: when the model does not fit, every layer streams once per step
                stream = {k: "auto" if model_fits_on_chip(shape, d, c) else "always"
                          for k, c in cfgs.items()}
                sims = {k: _step(shape, layers, c.replace(dram_stream=stream[k]), b)
                        for k, c in cfgs.items()}
                t = base["cycles"] / (PAPER_CONFIG.clock_mhz * 1e6)
                for k in drams:
                    rf = roofline(base["stored"], base["cycles"], PAPER_CONFIG, PEAK_BANDWIDTH_GBPS[k])
                    sim = sims[k]["dram"]
                    t_sim = sims[k]["cycles"] / (PAPER_CONFIG.clock_mhz * 1e6)
                    rows.append({
                        "pes": pes, "density": d, "batch": b, "dram": k, "cycles": base["cycles"],
                        "eie_tokens_per_s": b / t, "eie_mj_per_token": base["energy_uj"] * 1e-3 / b,
                        "stored_gb_per_step": base["stored"] / 1e9,
                        "stored_gb_per_token": base["stored"] / 1e9 / b,
                        "needed_gbps": rf["needed_gbps"], "dram_peak_gbps": rf["bandwidth_gbps"],
                        "roofline_tokens_per_s": b / rf["bound_s"], "bound": rf["bound"],
                        "dram_gbps_at_roofline": base["stored"] / rf["bound_s"] / 1e9,
                        "sim_dram_stream": stream[k], "sim_tokens_per_s": b / t_sim,
                        "sim_dram_gbps": sim.get("dram_bytes", 0.0) / t_sim / 1e9,
                        "sim_slowdown": t_sim / t,
                        "sim_dram_stall_pe_cycles": sim.get("dram_stall_cycles", ""),
                        "sim_dram_gb": sim.get("dram_bytes", 0.0) / 1e9,
                        "sim_dram_mj_per_token": sim.get("energy_dram_uj", 0.0) * 1e-3 / b})
                _say(f"  PEs {pes:4d} batch {b:3d}: {b / t:9.1f} tokens/s on EIE, needs "
                     f"{rows[-1]['needed_gbps']:7.1f} GB/s to stay compute-bound")
        del layers
    return rows


def threshold_study(thresholds) -> list[dict]:
    shape = llm.get_shape(NET)
    layers = [(fc, llm.llm_layer(shape, fc, 0.5)) for fc in llm.fc_layers(shape, 1, False)]
    out, base = [], None
    for t in thresholds:
        cyc, dens = {}, {}
        for fc, wl in layers:
            r = simulate_layer(wl, llm.llm_inputs(fc, 1, 0, t), PAPER_CONFIG, OPT, relu=False)
            cyc[fc.kind], dens[fc.kind] = r.cycles, r.act_density
        base = base or cyc
        out.append({"threshold": t, "block_cycles": sum(cyc.values()),
                    "gain": sum(base.values()) / sum(cyc.values()),
                    "gain_ffn_down": base["ffn_down"] / cyc["ffn_down"],
                    **{f"density_{k}": v for k, v in dens.items()}})
    return out


def chips_study(chips_list) -> list[dict]:
    shape = llm.get_shape(NET)
    layers = _block_layers(shape, 0.5)
    out = []
    for c in chips_list:
        cfg = PAPER_CONFIG.replace(chips=c)
        s = _step(shape, layers, cfg, 1)
        t = s["cycles"] / (cfg.clock_mhz * 1e6)
        out.append({"chips": c, "pes_total": 64 * c, "cycles": s["cycles"], "tokens_per_s": 1 / t,
                    "link_share": s["link_cycles"] / s["cycles"],
                    "min_chip_balance": min(s.get("balance", [1.0])),
                    "mj_per_token": s["energy_uj"] * 1e-3})
    return out


# ------------------------------------------------------------------ report
def _md_grid(rows) -> str:
    """One row per PEs x density x batch; per DRAM type the roofline tokens/s and its bound
    (c: compute, b: bandwidth), and the simulated DRAM columns where the model ran."""
    drams = list(dict.fromkeys(r["dram"] for r in rows))
    head = ("| PEs | density | batch | EIE tokens/s | EIE mJ/token | stored GB/token | GB/s to stay "
            "compute-bound | " + " | ".join(f"{k} ({PEAK_BANDWIDTH_GBPS[k]:.1f} GB/s)" for k in drams)
            + " |")
    lines = [head, "|" + "---|" * (7 + len(drams))]
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["pes"], r["density"], r["batch"]), {})[r["dram"]] = r
    for (pes, d, b), by in groups.items():
        r = next(iter(by.values()))
        cells = [pes, d, b, f"{r['eie_tokens_per_s']:,.1f}", f"{r['eie_mj_per_token']:,.2f}",
                 f"{r['stored_gb_per_token']:.3f}", f"{r['needed_gbps']:,.1f}"]
        for k in drams:
            x = by[k]
            cells.append(f"{x['roofline_tokens_per_s']:,.1f} ({x['bound'][0]}); sim. "
                         f"**{x['sim_tokens_per_s']:,.1f}** at {x['sim_dram_gbps']:,.1f} GB/s, "
                         f"DRAM {x['sim_dram_mj_per_token']:,.1f} mJ/token")
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _crossover(rows) -> list[str]:
    """Per (PEs, density): the batch from which each DRAM type turns the step bandwidth-bound
    into compute-bound (or that it never does within the batches run)."""
    out = []
    keys = sorted({(r["pes"], r["density"]) for r in rows})
    for pes, d in keys:
        parts = []
        for k in PEAK_BANDWIDTH_GBPS:
            rs = sorted((r for r in rows if (r["pes"], r["density"], r["dram"]) == (pes, d, k)),
                        key=lambda r: r["batch"])
            if not rs:
                continue
            cb = [r["batch"] for r in rs if r["bound"] == "compute"]
            text = (f"{k}: roofline " + (f"compute-bound from batch {cb[0]}" if cb else
                                         f"bandwidth-bound up to batch {rs[-1]['batch']}"))
            sb = [r["batch"] for r in rs if r["sim_slowdown"] <= SIM_COMPUTE_BOUND]
            text += (f", simulated within {SIM_COMPUTE_BOUND - 1:.0%} of on-chip from batch "
                     f"{sb[0]}" if sb else f", simulated {rs[-1]['sim_slowdown']:.2f}x "
                     f"slower than on-chip at batch {rs[-1]['batch']}")
            parts.append(text)
        out.append(f"{pes} PEs, density {d}: " + "; ".join(parts))
    return out


def main(outdir: pathlib.Path | str = "results", quick: bool = False) -> dict:
    outdir = pathlib.Path(outdir) / "llm"
    outdir.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    md = ["# LLM decode steps on EIE (SYNTHETIC weights at published shapes)", ""]
    res: dict = {}
    # 1. speed goal
    _say("speed goal: Llama-2-7B, every FC layer of one decode step, 50 % density, 64 PEs ...")
    if quick:
        goal = _spawn(64, 0.5, 2)
        goal_what = "QUICK: 2 blocks only (no LM head), not the goal's whole step"
    else:
        goal = _spawn(64, 0.5, None)
        goal_what = "the whole step (32 blocks x 7 layers + LM head)"
    ok = goal["wall_s"] <= GOAL_S and goal["peak_rss_gb"] <= GOAL_GB
    goal_line = (f"speed goal ({goal_what}): {goal['layers']} layers, {goal['nnz']:,} non-zeros, "
                 f"cycle-exact and checked against numpy: {goal['wall_s']:.1f} s wall, "
                 f"{goal['cpu_s']:.1f} s CPU of the process (user + system, start-up included; goal <= "
                 f"{GOAL_S:.0f} s), peak resident memory {goal['peak_rss_gb']:.2f} GB (goal <= "
                 f"{GOAL_GB:.0f} GB): {'MET' if ok else 'MISSED'} on wall time (CPU time "
                 f"{'within' if goal['cpu_s'] <= GOAL_S else 'over'} {GOAL_S:.0f} s); {goal['cycles']:,.0f} cycles = "
                 f"{goal['tokens_per_s']:.2f} tokens/s on 64 PEs at 800 MHz. {_cpu_note()}")
    _say(goal_line)
    res["goal"] = goal
    md += ["## Speed goal", "", goal_line, ""]
    # 2. scaling
    _say("scaling: one block (7 layers) at densities x PEs, each in a child process ...")
    scale = [_spawn(p, d, 1, trace=(p == 64 and d == 0.5))
             for p in (64, 256) for d in ((0.1, 0.5) if quick else (0.1, 0.25, 0.5))]
    res["scaling"] = scale
    md += ["## Wall time and memory (one Llama-2-7B block, 7 FC layers, batch 1)", "",
           "| PEs | density | non-zeros | wall (s) | CPU (s) | ns per non-zero (wall) | peak RSS (GB) | "
           "Python heap peak (GB, tracemalloc) |", "|---|---|---|---|---|---|---|---|"]
    for s in scale:
        heap = "" if s["heap_peak_gb"] is None else f"{s['heap_peak_gb']:.2f}"
        md.append(f"| {s['pes']} | {s['density']} | {s['nnz']:,} | {s['wall_s']:.1f} | "
                  f"{s.get('cpu_s', float('nan')):.1f} | "
                  f"{s['wall_s'] / s['nnz'] * 1e9:.1f} | {s['peak_rss_gb']:.2f} | {heap} |")
    md.append("")
    # 3. grid
    _say("grid: block 0 + LM head at PEs x density x batch ...")
    pes_list = (64, 256) if quick else (64, 256, 1024)
    dens = (0.5, 0.1) if quick else (0.5, 0.25, 0.1)
    batches = (1, 8) if quick else (1, 4, 16)
    rows = grid(pes_list, dens, batches, quick)
    res["grid"] = rows
    with open(outdir / "llm.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=GRID_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    md += ["## Tokens/s, J/token and DRAM bandwidth (Llama-2-7B, EXTRAPOLATED: 32 x block 0 + "
           "LM head)", "",
           "EIE tokens/s and mJ/token: the cycles and energy model of the simulated step (weights "
           "as if on chip; B tokens batched as the `batch` key does). Roofline: the stored weights (8-bit entries incl. padding, 16-bit "
           "pointers) streamed once per step at the DRAM's peak bandwidth, overlapped with "
           "compute; the step takes the longer of the two. Each DRAM column: the roofline's "
           "tokens/s and its bound (c: compute, b: bandwidth). sim.: the DRAM model's "
           "simulated step (per pass, rule D, docs/dram.md; every layer streamed once per step "
           "where the model's weights exceed the SRAMs: "
           f"{sum(r['sim_dram_stream'] == 'always' for r in rows)} of {len(rows)} points here, "
           "the others stream only the layers that do not fit): its tokens/s (bold), the DRAM "
           "bandwidth it drew and the DRAM energy per token.", "", _md_grid(rows)]
    md += ["Where EIE stops being compute-bound:", ""] + [f"- {l}" for l in _crossover(rows)] + [""]
    # 4. threshold
    _say("activation threshold: block 0 at 64 PEs ...")
    th = threshold_study((0.0, 0.25, 0.5) if quick else (0.0, 0.1, 0.25, 0.5))
    res["threshold"] = th
    kinds = [k[8:] for k in th[0] if k.startswith("density_")]
    md += ["## Activation threshold and the leading-non-zero detector (Llama-2-7B block 0, 64 PEs, "
           "50 % weights)", "", "| threshold | " + " | ".join(f"density {k}" for k in kinds)
           + " | block cycles | detector gain (block) | gain (ffn_down, SwiGLU input) |",
           "|---|" + "---|" * (len(kinds) + 3)]
    for r in th:
        md.append(f"| {r['threshold']} | " + " | ".join(f"{r['density_' + k]:.3f}" for k in kinds)
                  + f" | {r['block_cycles']:,} | {r['gain']:.2f}x | {r['gain_ffn_down']:.2f}x |")
    md.append("")
    # 5. chips
    _say("multi-chip: block 0 + LM head on 1..8 chips ...")
    ch = chips_study((1, 2, 4) if quick else (1, 2, 4, 8))
    res["chips"] = ch
    md += ["## Multi-chip EIE (Llama-2-7B, 32 x block 0 + LM head, 64 PEs a chip, batch 1, "
           f"link {PAPER_CONFIG.link_gbps} GB/s, {PAPER_CONFIG.link_latency_ns} ns)", "",
           "| chips | PEs | cycles | tokens/s | link share of cycles | worst chip balance | "
           "mJ/token |", "|---|---|---|---|---|---|---|"]
    for r in ch:
        md.append(f"| {r['chips']} | {r['pes_total']} | {r['cycles']:,.0f} | {r['tokens_per_s']:.2f} "
                  f"| {r['link_share']:.1%} | {r['min_chip_balance']:.3f} | {r['mj_per_token']:.1f} |")
    md += ["", f"Bench wall time: {time.perf_counter() - t_all:.0f} s. {_cpu_note()}", ""]
    (outdir / "llm.md").write_text("\n".join(md))
    (outdir / "llm.json").write_text(json.dumps(res, indent=1, default=str))
    _say("\n".join(md))
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_llm", description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default="results")
    ap.add_argument("--quick", action="store_true", help="a smaller grid and 2 blocks for the goal")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--pes", type=int, default=64, help=argparse.SUPPRESS)
    ap.add_argument("--density", type=float, default=0.5, help=argparse.SUPPRESS)
    ap.add_argument("--blocks", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        _child(a)
    else:
        main(a.outdir, a.quick)
