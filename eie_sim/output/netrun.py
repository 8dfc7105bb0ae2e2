"""The report of a network run on EIE (:class:`eie_sim.sim.results.NetRun`), whatever ran.

One renderer for SqueezeNet, the compact networks, an imported model run through its graph
or any ``Net`` given to :func:`eie_sim.sim.runner.run_net`: the per-layer table (per-position
cycles, load balance, the share of the network's cycles), the configuration and any
fixed-point overrides, the SRAM fit, the totals for one image (PE utilisation,
broadcast-bound layers), the layers with the most cycles, and - where the run carries
them - how each operator ran and the compressed size in Deep Compression's Table 2
columns. Its results bundle: ``layers.csv`` (the columns of every run), ``per_pe.csv``,
``positions.csv`` (cycles of every simulated position), ``summary.json``, ``report.md``,
``cycles.png`` (:mod:`eie_sim.output.network_plots`) and, with the Table 2 rows,
``compression.csv``.
"""
from __future__ import annotations

from typing import Any

from compressor import accounting
from eie_sim.output.names import markdown_code
from eie_sim.output.network_plots import network_plot
from eie_sim.output.report import PER_PE_COLUMNS, csv_text, json_text, per_pe_rows
from eie_sim.sim.columns import units_map
from eie_sim.sim.results import LAYER_COLUMNS, NetRun

POSITION_COLUMNS = ("layer", "position", "oy", "ox", "cycles", "input_nonzeros")

#: a layer is broadcast-bound when it takes at most this many cycles per non-zero input
BROADCAST_BOUND = 1.25


def cycles_per_nonzero_input(l) -> float:
    """Cycles per position over non-zero input activations per position: near 1 the layer
    runs at the CCU's one broadcast per cycle, whatever the number of PEs."""
    nz = float(l.input_nonzeros_pos.mean()) if l.simulated else 0.0
    return l.cycles_per_position / nz if nz else float("inf")


def markdown_table(run: NetRun) -> str:
    ext = run.extrapolated
    tot = float(sum(l.cycles for l in run.layers)) or 1.0
    lines = ["| layer | class | matrix (out x in) | kernel | out map | positions | weight dens. | "
             "act. dens. | cycles/position mean [min, max] | cycles / non-zero input | "
             f"{'cycles (extrap.)' if ext else 'cycles'} | share | load eff. | busy/(N T) | "
             "time (us) | energy (uJ) |", "|" + "---|" * 16]
    for l in run.layers:
        r = l.to_dict()
        pos = f"{l.positions_total:,}" + (f" ({l.simulated:,} sim.)" if l.extrapolated else "")
        lines.append(
            f"| {markdown_code(l.name)} | {l.meta.get('class', '')} | {l.rows} x {l.cols} | {r['kernel']} | "
            f"{r['out_map']} | {pos} | {l.weight_density:.3f} | {l.act_density:.3f} | "
            f"{l.cycles_per_position:.1f} [{r['cycles_per_position_min']}, "
            f"{r['cycles_per_position_max']}] | {cycles_per_nonzero_input(l):.2f} | "
            f"{l.cycles:,.0f} | {float(l.cycles) / tot:.1%} | {l.load_efficiency:.3f} | "
            f"{l.authors_efficiency:.3f} | {l.time_us:,.1f} | {l.energy_uj:.2f} |")
    t = run.totals()
    lines.append(f"| **total (one image{', extrapolated' if ext else ''})** | | | | | "
                 f"{t['positions']:,} | | | | | {t['cycles']:,.0f} | 100.0% | "
                 f"{t['load_efficiency']:.3f} | | {t['time_us']:,.1f} | {t['total_energy_uj']:.2f} |")
    return "\n".join(lines) + "\n"


def fit_summary(run: NetRun) -> dict[str, Any]:
    """The SRAM fit of the layers: the design's capacities, the fullest layer, the rows."""
    c = run.config
    worst = max(run.fit, key=lambda r: r["max_entries_per_pe"]) if run.fit else None
    return {"fits": all(r.get("fits", True) for r in run.fit),
            "checked": bool(run.check_fit), "spmat_capacity_entries": c.spmat_capacity_entries,
            "max_pointer_value": c.max_pointer_value,
            "worst_layer": worst["layer"] if worst else "",
            "worst_entries_per_pe": worst["max_entries_per_pe"] if worst else 0,
            "layers": run.fit}


def config_lines(run: NetRun) -> list[str]:
    c = run.config
    out = [f"EIE: {c.pes} PEs at {c.clock_mhz:g} MHz, queue depth {c.queue_depth}, "
           f"{c.weight_bits}-bit weight codes + {c.index_bits}-bit indices "
           f"({c.entries_per_line} entries per {c.spmat_width_bits}-bit Spmat line), "
           f"{c.word_bits}-bit fixed point (act_frac_bits={c.act_frac_bits}, "
           f"weight_frac_bits={c.weight_frac_bits})"]
    out += [f"override: {o['key']} {o['old']} -> {o['new']} ({o['why']})" for o in run.overrides]
    if not run.overrides:
        out.append("overrides: none")
    f = fit_summary(run)
    if f["checked"]:
        out.append(f"fit check: all {len(run.layers)} layers fit (largest: {f['worst_layer']}, "
                   f"{f['worst_entries_per_pe']:,} Spmat entries in one PE of "
                   f"{f['spmat_capacity_entries']:,}; pointers up to {f['max_pointer_value']:,})")
    return out


def totals(run: NetRun) -> dict[str, Any]:
    """Network totals plus the PE utilisation over the whole image, the dense MACs of the
    layers (from their shapes) and the share of cycles in broadcast-bound layers."""
    t = run.totals()
    busy = sum(l.extensive(float(l.pe.busy.sum())) for l in run.layers)
    t["pe_utilisation"] = busy / (run.config.pes * t["cycles"]) if t["cycles"] else 0.0
    t["dense_macs"] = sum(int(l.meta.get("dense_macs", 0)) for l in run.layers)
    bb = [l for l in run.layers if cycles_per_nonzero_input(l) <= BROADCAST_BOUND]
    t["broadcast_bound_layers"] = len(bb)
    t["broadcast_bound_share"] = (float(sum(l.cycles for l in bb)) / float(t["cycles"])
                                  if t["cycles"] else 0.0)
    return t


def totals_line(run: NetRun) -> str:
    t = totals(run)
    lab = "EXTRAPOLATED total" if t["extrapolated"] else "total"
    return (f"{lab} for one image ({t['layers']} weight layers, {t['positions']:,} positions, "
            f"{t['positions_simulated']:,} simulated): {t['cycles']:,.0f} cycles, "
            f"{t['time_us']:,.1f} us ({t['images_per_s']:,.1f} images/s), {t['total_energy_uj']:,.2f} uJ "
            f"(energy model, docs/energy.md), average {t['avg_power_w']:.3f} W, load efficiency "
            f"{t['load_efficiency']:.3f}, PE utilisation busy/(N T) {t['pe_utilisation']:.3f}, "
            f"real/total work {t['real_over_total_work']:.3f}; saturations: inputs "
            f"{t['input_saturations']:,.0f}, outputs {t['output_saturations']:,.0f}; outputs match "
            f"numpy (bit-exact; float within the fixed-point bound)")


def compressed_line(run: NetRun) -> str:
    ct = run.compression[-1]
    return (f"compressed (Table 2 columns): {ct['n_weights']:,} weights, {ct['density']:.1%} kept, "
            f"weight bits P+Q {ct['weight_bits_pq']:.1f} / P+Q+H {ct['weight_bits_pqh']:.2f}, "
            f"index bits P+Q {ct['index_bits_pq']:.1f} / P+Q+H {ct['index_bits_pqh']:.2f}, rate "
            f"P+Q {ct['rate_pq']:.2%} ({1 / ct['rate_pq']:.1f}x), P+Q+H {ct['rate_pqh']:.2%} "
            f"({1 / ct['rate_pqh']:.1f}x), stored {ct['stored_bytes'] / 1e6:.3f} MB of "
            f"{ct['dense_bytes'] / 1e6:.2f} MB float32")


def summary_lines(run: NetRun) -> list[str]:
    """The configuration, the totals, the broadcast-bound share, the top layers and (when
    the run carries it) the compressed size, one line each."""
    t = totals(run)
    out = config_lines(run) + [totals_line(run)]
    out.append(f"broadcast-bound: {t['broadcast_bound_layers']} of {t['layers']} layers take at "
               f"most {BROADCAST_BOUND} cycles per non-zero input activation (the CCU broadcasts "
               f"one per cycle, so more PEs cannot speed them up); they hold "
               f"{t['broadcast_bound_share']:.1%} of the cycles")
    out.append("top layers by cycles: " + ", ".join(
        f"{x['layer']} ({x['class']}) {x['share']:.1%}" for x in run.top_layers(5)))
    if run.compression:
        out.append(compressed_line(run))
    return out


def llm_lines(run: NetRun) -> list[str]:
    """An LLM run's decode-step figures (``run.llm``, :func:`eie_sim.apps.llm.step_summary`)
    in words: printed by ``eie-simulate``, in report.md."""
    s = run.llm
    lab = "EXTRAPOLATED " if s["extrapolated"] else ""
    lines = [f"{lab}decode step of {s['batch']} token(s), {s['layers_simulated']} FC layers "
             f"simulated: {s['cycles']:,.0f} cycles, {s['time_s'] * 1e3:,.3f} ms, "
             f"{s['tokens_per_s']:,.1f} tokens/s, {s['energy_j_per_token'] * 1e3:,.3f} mJ/token "
             f"(EIE energy model; DRAM "
             + (f"{s['energy_dram_uj'] * 1e-3 / s['batch']:,.3f} mJ/token)" if "energy_dram_uj" in s
                else "not modelled here)"),
             f"stored weights: {s['stored_bytes'] / 1e9:,.3f} GB per step "
             f"({s['stored_bytes_per_token'] / 1e9:,.3f} GB per token); EIE MACs per token "
             f"{s['eie_macs_per_token']:,.0f}; host FLOPs per token "
             f"{s['host_flops_per_token']['total']:,}",
             "activation density by layer kind: " + ", ".join(
                 f"{k} {v:.3f}" for k, v in s["act_density_by_kind"].items())]
    if "dram_stall_cycles" in s:
        lines.append(f"DRAM: {s['dram_bytes'] / 1e9:,.3f} GB, {s['dram_stall_cycles']:,.0f} stall "
                     f"cycles, {s['dram_gbps']:,.1f} GB/s")
    lines.append("bandwidth roofline (streaming the stored weights once per step): " + "; ".join(
        f"{k} {v['bandwidth_gbps']:.1f} GB/s -> {v['dram_s'] * 1e3:,.2f} ms vs EIE "
        f"{v['eie_s'] * 1e3:,.2f} ms ({v['bound']}-bound)" for k, v in s["roofline"].items()))
    return lines


def summary_dict(run: NetRun, resolved: dict | None = None) -> dict[str, Any]:
    out = {"title": run.title or f"{run.name} on EIE", "network": run.name, "mode": run.mode,
           "synthetic": run.synthetic, "source": run.source,
           "input_hw": list(run.input_hw) if run.input_hw else None,
           "positions": "all" if run.positions is None else run.positions,
           "extrapolated": run.extrapolated, "seeds": run.seeds,
           "config": resolved if resolved is not None else {"arch": run.config.as_dict()},
           "effective_arch": run.config.as_dict(), "overrides": run.overrides,
           "fit": fit_summary(run), "totals": totals(run), "top_layers": run.top_layers(5),
           "layers": [l.to_dict() for l in run.layers], "notes": run.notes, "wall_s": run.wall_s}
    if run.operators:
        out["operators"] = run.operators
    if run.compression:
        out["compressed_total"] = run.compression[-1]
    out["units"] = units_map(LAYER_COLUMNS, PER_PE_COLUMNS, POSITION_COLUMNS, out["totals"])
    if run.llm:
        out["llm"] = run.llm
    return out


def position_rows(run: NetRun) -> list[dict[str, Any]]:
    """Every simulated position: its output coordinates, cycles and non-zero inputs."""
    rows = []
    for l in run.layers:
        oh, ow = l.meta.get("out_hw", (1, l.positions_total))
        for p, cyc, nz in zip(l.positions.tolist(), l.counters.cycles_per_vector().tolist(),
                              l.input_nonzeros_pos.tolist()):
            rows.append({"layer": l.name, "position": p, "oy": p // ow, "ox": p % ow,
                         "cycles": cyc, "input_nonzeros": nz})
    return rows


def markdown(run: NetRun, summ: dict[str, Any]) -> str:
    md = ["# " + summ["title"], ""]
    if run.notes and (run.synthetic or run.extrapolated):
        md += [f"**{run.notes[0]}**", ""]
    md += [f"- {line}" for line in llm_lines(run)] if run.llm else []
    md += [f"- {line}" for line in summary_lines(run)]
    md += [f"- seeds: {run.seeds}", f"- wall time: {run.wall_s:.1f} s", "", "## Layers", "",
           markdown_table(run)]
    if run.operators:
        md += ["## Operators", "", "| layer type | layers | how it runs |", "|---|---|---|"]
        md += [f"| {h['type']} | {h['layers']} | {h['handling']} |" for h in run.operators]
        md += [""]
    if run.compression:
        md += ["## Compressed size (Deep Compression Table 2 columns"
               + ("; synthetic weights)" if run.synthetic else ")"), "",
               accounting.format_markdown(run.compression)]
    md += ["## Notes", ""] + [f"- {n}" for n in run.notes]
    return "\n".join(md) + "\n"


def bundle_files(run: NetRun, resolved: dict | None = None,
                 resolved_yaml: str | None = None, plot: bool = True) -> dict[str, str | bytes]:
    """The results bundle (module docstring); ``plot``: include ``cycles.png``."""
    summ = summary_dict(run, resolved)
    files: dict[str, str | bytes] = {
        "layers.csv": csv_text([l.to_dict() for l in run.layers], LAYER_COLUMNS),
        "per_pe.csv": csv_text([p for l in run.layers for p in per_pe_rows(l)], PER_PE_COLUMNS),
        "positions.csv": csv_text(position_rows(run), POSITION_COLUMNS),
        "summary.json": json_text(summ), "report.md": markdown(run, summ)}
    if run.compression:
        files["compression.csv"] = accounting.csv_text(run.compression)
    if plot and run.layers:
        files["cycles.png"] = network_plot(run)
    if resolved_yaml is not None:
        files["config.yaml"] = resolved_yaml
    return files
