"""The sparse-format shoot-out (issue 26): Spmat encoding x pruning rule x density x PEs on
LeNet-300-100, LeNet-5's fc layers, the authors' SqueezeNet and NeuralTalk's LSTM shape.

Per layer and design point (axes and workloads: :mod:`benchmarks.shootout_grid`,
:mod:`benchmarks.shootout_workloads`), at the paper's design point otherwise (queue depth
8, 64-bit Spmat lines, 16-bit pointers; SRAM fit not checked: the encodings are compared,
not the capacities):

* **bits per non-zero weight**: the bits the simulator's layout stores for the weight
  matrix (:func:`eie_sim.hw.layout.stored_bits`: every Spmat slot, fillers and empty N:M
  slots included, bitmask lines, the column pointers of every PE and output pass) over
  the non-zero weights;
* **accuracy** (LeNets, MNIST subset): pruned + quantized without retraining, and after a
  short masked retraining (labelled with its epochs);
* **cycles, load efficiency** (``1 - starved / (N T)``, Fig. 8) and **energy**
  (``total_energy_uj``) from the cycle-exact fast engine, every output checked against
  numpy; on the tiny grid also cross-checked pass by pass against the simpy engine;
* **the analytical model against the cycle-exact engine**: on the paper's encoding
  (CSC, 4-bit indices) at every queue depth of the grid, the analytical engine's cycles
  and error per layer and design point, with the per-PE skew (most loaded PE's entries
  over the mean) and rows per PE where it fails.

An encoding the installed simulator does not accept is skipped with a note in the
summary. ``main(outdir)`` writes ``OUTDIR/shootout/``: ``shootout.csv`` (every layer
row), ``shootout_network.csv`` (network totals), ``analytical_error.csv``,
``shootout.md`` and the plots (:mod:`benchmarks.shootout_plots`).

    python -m benchmarks.bench_shootout [OUTDIR] [--full | --tiny]

``make bench`` runs the quick grid (``EIE_BENCH_FULL=1`` or ``--full``: the full grid).
"""
from __future__ import annotations

import argparse
import csv
import datetime
import os
import pathlib
import platform
import time

import numpy as np

from benchmarks import shootout_grid as G
from benchmarks import shootout_plots, shootout_workloads
from eie_sim.arch.config import PAPER_CONFIG
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.options import SimOptions
from eie_sim.workloads.layer import LayerWorkload

#: layers small enough to cross-check against the simpy engine when the grid asks
VERIFY_MAX_NNZ = 3000


def _layer_stats(wl: LayerWorkload, cfg) -> dict:
    lay = wl.layout(cfg, check_fit=False)
    per_pe = np.sum([p.entries_per_pe for p in lay.passes], axis=0)
    return {"padding_entries": int(lay.n_padding),
            "skew": float(per_pe.max() / per_pe.mean()) if per_pe.mean() > 0 else 1.0}


def _simulate(wl, x, cfg, engine="fast", verify=False):
    return simulate_layer(wl, x, cfg, SimOptions(engine=engine, check_fit=False, verify=verify,
                                                 check=engine != "analytical"))


def run_point(net, rule, density, pes_group, grid, encodings, notes, rows, err_rows, verify):
    """Every layer of ``net`` pruned by ``rule`` at ``density`` (masks made for
    ``pes_group[0]`` PEs when the rule depends on them), simulated at every PE count of
    ``pes_group`` and encoding."""
    pes0 = pes_group[0]
    masks, structure = {}, None
    for layer in net.layers:
        m = rule.mask(layer.weight, density, pes0, layer.old, layer.x)
        if isinstance(m, str):
            notes.add(f"{net.title} / {rule.name}: {m} (skipped)")
            return
        if not m.any():
            at = f" on {pes0} PEs" if rule.per_pe else ""
            notes.add(f"{net.title} / {rule.name} at {density:g}{at}: keeps no weight of {layer.name} "
                      "(capped by the matrix's own mask; skipped)")
            return
        masks[layer.name] = m
    if not rule.fixed:
        st = rule.structure(density, pes0)
        structure = st if st and ":" in st and not st.startswith(("block", "balance")) else None
    if not rule.fixed:
        kept = sum(int(m.sum()) for m in masks.values()) / sum(m.size for m in masks.values())
        if kept < 0.8 * density:
            at = f" on {pes0} PEs" if rule.per_pe else ""
            why = (": a column keeps no more per PE than the PE with the fewest survivors there"
                   if rule.per_pe else "")
            notes.add(f"{net.title} / {rule.name} at {density:g}{at}: kept only {kept:.1%}: the rule "
                      f"is capped by the matrix's own mask{why}")
        if kept > 1.25 * density and structure and structure.startswith(G.PE_NM):
            fewest = min(layer.weight.shape[0] for layer in net.layers)
            notes.add(f"{net.title} / {rule.name} at {density:g} on {pes0} PEs: kept {kept:.1%}, "
                      f"above the target: {structure[len(G.PE_NM):]} keeps N per group of M local "
                      f"rows, and with {fewest / pes0:.1f} rows per PE (smallest layer) the groups "
                      "are partial (a partial group still keeps up to N)")
    acc0 = acc1 = None
    if net.evaluator is not None:
        acc0, acc1, quant = net.evaluator.evaluate(masks)
    else:
        quant = {l.name: l.quantized(masks[l.name]) for l in net.layers}
    for layer in net.layers:
        codes, codebook = quant[layer.name]
        nnz = int(np.count_nonzero(codes))
        wl = LayerWorkload(layer.name, codes, codebook, bias=layer.bias, x=layer.x)
        bare = LayerWorkload(layer.name, codes, codebook)          # the weights alone, for bits
        for pes in pes_group:
            base = PAPER_CONFIG.replace(pes=pes, weight_bits=layer.weight_bits)
            for enc in encodings:
                cfg = G.encoding_config(base, enc, structure)
                if isinstance(cfg, str):
                    continue            # e.g. nm on a matrix that is not N:M (noted once below)
                res = _simulate(wl, layer.x, cfg, verify=verify and nnz <= VERIFY_MAX_NNZ and "simpy")
                bits = G.stored_bits(bare, cfg)
                row = {"network": net.title, "layer": layer.name, "weights": net.weights,
                       "rule": rule.name, "structure": structure or "", "target_density":
                       "" if rule.fixed else density, "rows": codes.shape[0], "cols": codes.shape[1],
                       "nnz": nnz, "density": nnz / codes.size, "pes": pes, "encoding": enc.name,
                       "weight_bits": layer.weight_bits, "stored_bits": bits,
                       "bits_per_nnz": bits / nnz if nnz else float("nan"),
                       **_layer_stats(bare, cfg), "cycles": int(res.cycles),
                       "load_efficiency": res.load_efficiency, "total_energy_uj": res.energy_uj,
                       "acc_pruned": acc0, "acc_retrained": acc1,
                       "verified_simpy": bool(verify and nnz <= VERIFY_MAX_NNZ)}
                rows.append(row)
                if enc.name == G.REFERENCE_ENCODING:
                    for q in grid.queue_depths:
                        cq = cfg.replace(queue_depth=q)
                        fast = res if q == cfg.queue_depth else _simulate(wl, layer.x, cq)
                        ana = _simulate(wl, layer.x, cq, engine="analytical")
                        cf, ca = int(fast.cycles), int(ana.cycles)
                        err_rows.append({
                            "network": net.title, "layer": layer.name, "rule": rule.name,
                            "density": row["density"], "pes": pes, "queue_depth": q,
                            "rows_per_pe": codes.shape[0] / pes, "skew": row["skew"],
                            "act_density": float(np.count_nonzero(layer.x)) / layer.x.size,
                            "fast_cycles": cf, "analytical_cycles": ca,
                            "error_pct": 100.0 * (ca - cf) / cf,
                            "energy_error_pct": 100.0 * (ana.energy_uj - fast.energy_uj) / fast.energy_uj})


def run_grid(grid: G.Grid, log=print, verify: bool = False) -> dict:
    """Run the shoot-out on ``grid``: ``{"rows", "network_rows", "errors", "notes", ...}``."""
    t0 = time.perf_counter()
    notes: set[str] = set()
    encodings = []
    for name in grid.encodings:
        enc = next(e for e in G.ENCODINGS if e.name == name)
        why = G.encoding_support(enc)
        if why:
            notes.add(f"encoding {enc.name} SKIPPED: {why}")
        else:
            encodings.append(enc)
    if any(e.kind == "nm" for e in encodings):
        notes.add("encoding nm runs only on N:M-pruned matrices (nm_n:nm_m = the rule's N:M)")
    log("loading the networks")
    nets = shootout_workloads.load(grid, log=log)
    rules = [G.rule_named(r) for r in grid.rules]
    rows, errs = [], []
    for net in nets:
        if not net.layers:
            continue
        t = time.perf_counter()
        for rule in rules:
            if rule.fixed and all(l.old is None for l in net.layers):
                continue                       # "as shipped" needs a compressed matrix
            for density in ([None] if rule.fixed else grid.densities):
                groups = [(p,) for p in grid.pes] if rule.per_pe else [tuple(grid.pes)]
                for group in groups:
                    run_point(net, rule, density, group, grid, encodings, notes, rows, errs, verify)
        log(f"  {net.title}: simulated in {time.perf_counter() - t:.1f} s")
    return {"grid": grid, "rows": rows, "network_rows": network_rows(rows), "errors": errs,
            "notes": sorted(notes), "network_notes": [n for net in nets for n in net.notes],
            "encodings": [e.name for e in encodings], "wall_s": time.perf_counter() - t0}


def network_rows(rows: list[dict]) -> list[dict]:
    """Network totals per (network, rule, target density, PEs, encoding): summed bits,
    non-zeros, cycles and energy; load efficiency weighted by cycles."""
    keys = ("network", "rule", "structure", "target_density", "pes", "encoding")
    out: dict[tuple, dict] = {}
    for r in rows:
        k = tuple(r[c] for c in keys)
        o = out.setdefault(k, {**{c: r[c] for c in keys}, "weights": r["weights"], "nnz": 0, "size": 0,
                               "stored_bits": 0, "cycles": 0, "_eff": 0.0, "total_energy_uj": 0.0,
                               "acc_pruned": r["acc_pruned"], "acc_retrained": r["acc_retrained"]})
        o["nnz"] += r["nnz"]
        o["size"] += r["rows"] * r["cols"]
        o["stored_bits"] += r["stored_bits"]
        o["cycles"] += r["cycles"]
        o["_eff"] += r["load_efficiency"] * r["cycles"]
        o["total_energy_uj"] += r["total_energy_uj"]
    for o in out.values():
        o["density"] = o["nnz"] / o["size"]
        o["bits_per_nnz"] = o["stored_bits"] / o["nnz"]
        o["load_efficiency"] = o.pop("_eff") / o["cycles"]
    return list(out.values())


# ----------------------------------------------------------------------------- reporting
def _f(v, fmt):
    return "-" if v is None or v == "" else format(v, fmt)


def table_markdown(net_rows: list[dict], encodings: list[str], pes: int | None = None) -> str:
    """One row per (network, rule, density[, PEs]): bits/nnz and cycles per encoding, the
    reference encoding's load efficiency and energy, accuracy."""
    ref = G.REFERENCE_ENCODING if G.REFERENCE_ENCODING in encodings else encodings[0]
    groups: dict[tuple, dict] = {}
    for r in net_rows:
        if pes is not None and r["pes"] != pes:
            continue
        k = (r["network"], r["rule"], r["target_density"], r["pes"])
        groups.setdefault(k, {})[r["encoding"]] = r
    head = (["network", "rule", "target", "density", "PEs"] + [f"bits/nnz {e}" for e in encodings]
            + [f"cycles {e}" for e in encodings]
            + [f"load eff. ({ref})", f"energy uJ ({ref})", "acc. pruned %", "acc. retrained %"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k, by_enc in groups.items():
        any_r = by_enc.get(ref) or next(iter(by_enc.values()))
        rule = any_r["rule"] + (f" ({any_r['structure']})" if any_r["structure"] else "")
        cells = [k[0], rule, _f(k[2], ".0%"), f"{any_r['density']:.1%}", str(k[3])]
        cells += [_f(by_enc[e]["bits_per_nnz"], ".2f") if e in by_enc else "n/a" for e in encodings]
        cells += [str(by_enc[e]["cycles"]) if e in by_enc else "n/a" for e in encodings]
        r = by_enc.get(ref)
        cells += [_f(r and r["load_efficiency"], ".3f"), _f(r and r["total_energy_uj"], ".3f"),
                  _f(any_r["acc_pruned"], ".1f"), _f(any_r["acc_retrained"], ".1f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def error_markdown(errs: list[dict], queue_depths) -> str:
    """mean / max |error| per layer and queue depth over the design points, then by rule,
    rows-per-PE and skew bins, and the worst points."""
    if not errs:
        return "(no analytical comparison: the reference encoding did not run)"
    e = np.array([r["error_pct"] for r in errs])
    lines = [(f"{len(errs)} design points: mean |error| {np.abs(e).mean():.2f} %, median "
              f"{np.median(np.abs(e)):.2f} %, max {np.abs(e).max():.2f} %, exact (0 cycles off) "
              f"{int(np.count_nonzero(e == 0))}"), ""]
    head = ["network / layer"] + [f"q={q} mean / max" for q in queue_depths]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    layers = list(dict.fromkeys((r["network"], r["layer"]) for r in errs))
    for nl in layers:
        cells = [f"{nl[0]} {nl[1]}"]
        for q in queue_depths:
            v = np.abs([r["error_pct"] for r in errs if (r["network"], r["layer"]) == nl and r["queue_depth"] == q])
            cells.append(f"{v.mean():.2f} / {v.max():.2f}" if v.size else "-")
        lines.append("| " + " | ".join(cells) + " |")

    def binned(what, key, bins):
        out = [f"mean |error| % by {what}: "]
        parts = []
        for lo, hi in bins:
            v = np.abs([r["error_pct"] for r in errs if lo <= r[key] < hi])
            if v.size:
                parts.append(f"[{lo:g}, {hi:g}) {v.mean():.2f} (n={v.size})")
        return out[0] + "; ".join(parts)
    lines += ["", binned("rows per PE", "rows_per_pe", [(0, 1), (1, 4), (4, 16), (16, 1e9)]),
              binned("skew (max/mean entries per PE)", "skew", [(1, 1.05), (1.05, 1.2), (1.2, 1.5), (1.5, 1e9)])]
    by_rule = {}
    for r in errs:
        by_rule.setdefault(r["rule"], []).append(abs(r["error_pct"]))
    lines.append("mean |error| % by pruning rule: " + "; ".join(
        f"{k} {np.mean(v):.2f} (n={len(v)})" for k, v in by_rule.items()))
    worst = sorted(errs, key=lambda r: -abs(r["error_pct"]))[:8]
    lines += ["", "worst points: " + "; ".join(
        f"{r['network']} {r['layer']} {r['rule']} {r['density']:.1%} {r['pes']} PEs q={r['queue_depth']} "
        f"({r['rows_per_pe']:.2g} rows/PE, skew {r['skew']:.2f}): {r['error_pct']:+.2f} %" for r in worst)]
    return "\n".join(lines)


def _write_csv(path: pathlib.Path, rows: list[dict]) -> None:
    if not rows:
        path.write_text("", encoding="utf-8")
        return
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def write(result: dict, out: pathlib.Path) -> pathlib.Path:
    out.mkdir(parents=True, exist_ok=True)
    g = result["grid"]
    _write_csv(out / "shootout.csv", result["rows"])
    _write_csv(out / "shootout_network.csv", result["network_rows"])
    _write_csv(out / "analytical_error.csv", result["errors"])
    plots = shootout_plots.plot_all(result, out)
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    run = (f"Run {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
           f"({os.cpu_count()} CPUs, load average {load[0]:.2f} at the end); wall {result['wall_s']:.1f} s.")
    axes = (f"Grid: densities {list(g.densities)}, PEs {list(g.pes)}, queue depths (analytical) "
            f"{list(g.queue_depths)}, rules {list(g.rules)}, encodings run {result['encodings']}.")
    totals = ("## Network totals (bits per non-zero weight incl. fillers and pointers; cycles, "
              "energy summed over the layers; load efficiency cycle-weighted)")
    head = [f"# Sparse-format shoot-out ({g.name} grid)", "", run, axes, "",
            "Weights and inputs:", *[f"- {n}" for n in result["network_notes"]], "",
            "Notes:", *([f"- {n}" for n in result["notes"]] or ["- none"]), "",
            totals, "",
            table_markdown(result["network_rows"], result["encodings"]), "",
            "## Analytical model vs cycle-exact (fast engine), csc-i4", "",
            error_markdown(result["errors"], g.queue_depths), "",
            "Plots: " + ", ".join(p.name for p in plots), ""]
    md = out / "shootout.md"
    md.write_text("\n".join(head), encoding="utf-8")
    return md


def main(outdir: pathlib.Path, grid: G.Grid | None = None, verify: bool = False) -> dict:
    """Run the shoot-out (quick grid; ``EIE_BENCH_FULL=1``: the full one) into
    ``outdir/shootout``."""
    t0 = time.perf_counter()
    if grid is None:
        grid = G.FULL if os.environ.get("EIE_BENCH_FULL") else G.QUICK
    print(f"shoot-out, {grid.name} grid (EIE_BENCH_FULL=1 or --full for the full grid)", flush=True)
    result = run_grid(grid, log=lambda m: print(m, flush=True), verify=verify)
    md = write(result, pathlib.Path(outdir) / "shootout")
    print("\n".join(result["notes"]))
    print(table_markdown(result["network_rows"], result["encodings"], pes=max(grid.pes)))
    print(error_markdown(result["errors"], grid.queue_depths))
    print(f"wrote {md} and the CSVs/plots beside it; shoot-out wall time {time.perf_counter() - t0:.1f} s")
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", type=pathlib.Path, default=pathlib.Path("results"),
                    help="output folder (the shoot-out writes OUTDIR/shootout)")
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="the full grid (as EIE_BENCH_FULL=1)")
    size.add_argument("--tiny", action="store_true", help="the tests' tiny grid (seconds)")
    ap.add_argument("--verify", action="store_true",
                    help=f"cross-check layers with <= {VERIFY_MAX_NNZ} non-zeros against the simpy engine")
    a = ap.parse_args()
    main(a.outdir, G.FULL if a.full else G.TINY if a.tiny else None, verify=a.verify)
