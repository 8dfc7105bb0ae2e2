"""Reports of a named network's run (:class:`eie_sim.apps.networks.NetworkRun`), SYNTHETIC.

The per-layer table, the totals for one image, the layers with the most cycles, the
compressed size in the columns of Deep Compression's Table 2 (rows and their Markdown/CSV
made by :mod:`compressor.accounting` in the application),
how each operator was handled, and the results bundle (``layers.csv``, ``per_pe.csv``,
``compression.csv``, ``summary.json``, ``report.md``, ``cycles.png``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eie_sim.output.network_plots import network_plot
from eie_sim.output.report import PER_PE_COLUMNS, csv_text, json_text, per_pe_rows
from eie_sim.sim.results import LAYER_COLUMNS

if TYPE_CHECKING:   # output/ reads results; it never runs an application
    from eie_sim.apps.networks import NetworkRun


def markdown_table(run: NetworkRun) -> str:
    ext = run.extrapolated
    tot = float(sum(l.cycles for l in run.layers)) or 1.0
    lines = ["| layer | class | matrix | kernel | out map | positions | weight dens. | act. dens. | "
             f"cycles/pos. | cycles / non-zero input | {'cycles (extrap.)' if ext else 'cycles'} | "
             "share | load eff. | busy/(N T) | energy (uJ) |", "|" + "---|" * 15]
    for l in run.layers:
        pos = f"{l.positions_total:,}" + (f" ({l.simulated:,} sim.)" if l.extrapolated else "")
        lines.append(f"| `{l.name}` | {l.meta.get('class', '')} | {l.rows} x {l.cols} | "
                     f"{l.meta.get('kernel', '')} | {l.meta.get('out_map', '')} | {pos} | "
                     f"{l.weight_density:.3f} | {l.act_density:.3f} | {l.cycles_per_position:.1f} | "
                     f"{cycles_per_nonzero_input(l):.2f} | "
                     f"{l.cycles:,.0f} | {float(l.cycles) / tot:.1%} | {l.load_efficiency:.3f} | "
                     f"{l.authors_efficiency:.3f} | {l.energy_uj:.2f} |")
    return "\n".join(lines) + "\n"


#: a layer is broadcast-bound when it takes at most this many cycles per non-zero input
BROADCAST_BOUND = 1.25


def cycles_per_nonzero_input(l) -> float:
    """Cycles per position over non-zero input activations per position: near 1 the layer
    runs at the CCU's one broadcast per cycle, whatever the number of PEs."""
    nz = float(l.input_nonzeros_pos.mean()) if l.simulated else 0.0
    return l.cycles_per_position / nz if nz else float("inf")


def totals(run: NetworkRun) -> dict[str, Any]:
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


def compressed_total(run: NetworkRun) -> dict[str, Any]:
    return run.case.compressed[-1]


def summary_lines(run: NetworkRun) -> list[str]:
    t = totals(run)
    c = run.config
    lab = "EXTRAPOLATED total" if t["extrapolated"] else "total"
    ct = compressed_total(run)
    out = [f"SYNTHETIC {run.case.name} ({run.case.size[0]} x {run.case.size[1]}) on EIE: {c.pes} "
           f"PEs at {c.clock_mhz:g} MHz, {c.word_bits}-bit fixed point (act_frac_bits="
           f"{c.act_frac_bits}, weight_frac_bits={c.weight_frac_bits})",
           f"{lab} for one image ({t['layers']} parameter layers, {t['positions']:,} positions, "
           f"{t['positions_simulated']:,} simulated): {t['cycles']:,.0f} cycles, {t['time_us']:,.1f} us "
           f"({t['images_per_s']:,.1f} images/s), {t['energy_uj']:,.1f} uJ (energy model), load "
           f"efficiency {t['load_efficiency']:.3f}, PE utilisation busy/(N T) {t['pe_utilisation']:.3f}, "
           f"real/total work {t['real_over_total_work']:.3f}; outputs match numpy (bit-exact; "
           f"float within the fixed-point bound)",
           f"broadcast-bound: {t['broadcast_bound_layers']} of {t['layers']} layers take at most "
           f"{BROADCAST_BOUND} cycles per non-zero input activation (the CCU broadcasts one per "
           f"cycle, so more PEs cannot speed them up); they hold "
           f"{t['broadcast_bound_share']:.1%} of the cycles",
           "top layers by cycles: " + ", ".join(f"{x['layer']} ({x['class']}) {x['share']:.1%}"
                                                for x in run.top_layers(5)),
           f"compressed (pruning + 4-bit quantization + Huffman, Table 2 columns): "
           f"{ct['n_weights']:,} weights, {ct['density']:.1%} kept, weight bits P+Q "
           f"{ct['weight_bits_pq']:.1f} / P+Q+H {ct['weight_bits_pqh']:.2f}, index bits P+Q "
           f"{ct['index_bits_pq']:.1f} / P+Q+H {ct['index_bits_pqh']:.2f}, rate P+Q "
           f"{ct['rate_pq']:.2%} ({1 / ct['rate_pq']:.1f}x), P+Q+H {ct['rate_pqh']:.2%} "
           f"({1 / ct['rate_pqh']:.1f}x), stored {ct['stored_bytes'] / 1e6:.3f} MB of "
           f"{ct['dense_bytes'] / 1e6:.2f} MB float32"]
    for o in run.overrides:
        out.append(f"override: {o['key']} {o['old']} -> {o['new']} ({o['why']})")
    return out


def summary_dict(run: NetworkRun, handling: list[dict], resolved: dict | None = None) -> dict[str, Any]:
    return {"title": f"SYNTHETIC {run.case.name} on EIE (M x V per output position)",
            "synthetic": True, "network": run.case.name, "input_hw": list(run.case.size),
            "positions": "all" if run.positions is None else run.positions,
            "extrapolated": run.extrapolated, "seeds": run.seeds,
            "config": resolved if resolved is not None else {"arch": run.config.as_dict()},
            "effective_arch": run.config.as_dict(), "overrides": run.overrides,
            "totals": totals(run), "top_layers": run.top_layers(5),
            "compressed_total": compressed_total(run), "operators": handling, "fit": run.fit,
            "notes": run.notes, "wall_s": run.wall_s}


def bundle_files(run: NetworkRun, handling: list[dict], resolved: dict | None = None,
                 resolved_yaml: str | None = None) -> dict[str, str | bytes]:
    summ = summary_dict(run, handling, resolved)
    md = ["# " + summ["title"], "", f"**{run.notes[0]}**", ""]
    md += [f"- {line}" for line in summary_lines(run)]
    md += ["", "## Layers", "", markdown_table(run), "## Operators", "",
           "| layer type | layers | how it runs |", "|---|---|---|"]
    md += [f"| {h['type']} | {h['layers']} | {h['handling']} |" for h in handling]
    md += ["", "## Compressed size (Deep Compression Table 2 columns; synthetic weights)", "",
           run.case.compressed_md, "## Notes", ""]
    md += [f"- {n}" for n in run.notes]
    files: dict[str, str | bytes] = {
        "layers.csv": csv_text([l.to_dict() for l in run.layers], LAYER_COLUMNS),
        "per_pe.csv": csv_text([p for l in run.layers for p in per_pe_rows(l)], PER_PE_COLUMNS),
        "compression.csv": run.case.compressed_csv,
        "summary.json": json_text(summ), "report.md": "\n".join(md) + "\n",
        "cycles.png": network_plot(run)}
    if resolved_yaml is not None:
        files["config.yaml"] = resolved_yaml
    return files
