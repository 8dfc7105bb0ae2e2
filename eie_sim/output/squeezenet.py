"""Reports of a SqueezeNet run (:class:`eie_sim.apps.squeezenet.SqueezeNetRun`): the
per-layer table with per-position cycles, the configuration and override lines, totals,
and its results bundle (the common ``layers.csv``/``per_pe.csv`` plus ``positions.csv``)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eie_sim.output.report import PER_PE_COLUMNS, csv_text, json_text, per_pe_rows
from eie_sim.sim.results import LAYER_COLUMNS

if TYPE_CHECKING:   # output/ reads results; it never runs an application
    from eie_sim.apps.squeezenet import SqueezeNetRun

POSITION_COLUMNS = ("layer", "position", "oy", "ox", "cycles", "input_nonzeros")


def markdown_table(run: SqueezeNetRun) -> str:
    ext = run.extrapolated
    cyc_h = "layer cycles (extrapolated)" if ext else "layer cycles"
    head = ("| layer | matrix (out x in*k*k) | positions | weight density | act. density | "
            f"cycles/position mean [min, max] | load eff. | busy/(N T) | {cyc_h} | time (us) | energy (uJ) |")
    lines = [head, "|" + "---|" * 11]
    for l in run.layers:
        r = l.to_dict()
        pos = f"{l.positions_total:,}" if not l.extrapolated else f"{l.positions_total:,} ({l.simulated:,} sim.)"
        lines.append(
            f"| `{l.name}` | {l.rows} x {l.cols} ({r['kernel']}) | {pos} | {l.weight_density:.3f} | "
            f"{l.act_density:.3f} | {l.cycles_per_position:.1f} [{r['cycles_per_position_min']}, "
            f"{r['cycles_per_position_max']}] | {l.load_efficiency:.3f} | {l.authors_efficiency:.3f} | "
            f"{l.cycles:,.0f} | {l.time_us:,.1f} | {l.energy_uj:.2f} |")
    t = run.totals()
    lines.append(f"| **total (one image{', extrapolated' if ext else ''})** | | {t['positions']:,} | | | | "
                 f"{t['load_efficiency']:.3f} | | {t['cycles']:,.0f} | {t['time_us']:,.1f} | "
                 f"{t['energy_uj']:.2f} |")
    return "\n".join(lines) + "\n"


def config_lines(run: SqueezeNetRun) -> list[str]:
    c = run.config
    out = [f"EIE: {c.pes} PEs at {c.clock_mhz:g} MHz, queue depth {c.queue_depth}, "
           f"{c.weight_bits}-bit weight codes + {c.index_bits}-bit indices "
           f"({c.entries_per_line} entries per {c.spmat_width_bits}-bit Spmat line), "
           f"{c.word_bits}-bit fixed point (act_frac_bits={c.act_frac_bits}, "
           f"weight_frac_bits={c.weight_frac_bits})"]
    if run.overrides:
        for o in run.overrides:
            out.append(f"override: {o['key']} {o['old']} -> {o['new']} ({o['why']})")
    else:
        out.append("overrides: none")
    f = run.fit
    if f["checked"]:
        out.append(f"fit check: all {len(run.layers)} layers fit (largest: {f['worst_layer']}, "
                   f"{f['worst_entries_per_pe']:,} Spmat entries in one PE of "
                   f"{f['spmat_capacity_entries']:,}; pointers up to {f['max_pointer_value']:,})")
    return out


def totals_line(run: SqueezeNetRun) -> str:
    t = run.totals()
    lab = "EXTRAPOLATED total" if t["extrapolated"] else "total"
    return (f"{lab} for one image ({t['layers']} conv layers, {t['positions']:,} positions, "
            f"{t['positions_simulated']:,} simulated): {t['cycles']:,.0f} cycles, "
            f"{t['time_us']:,.1f} us ({t['images_per_s']:,.0f} images/s), {t['energy_uj']:.2f} uJ "
            f"(energy model, docs/energy.md), average {t['avg_power_w']:.3f} W; saturations: "
            f"inputs {t['input_saturations']:,.0f}, outputs {t['output_saturations']:,.0f}; outputs match "
            f"numpy (bit-exact; float within the fixed-point bound; forward-pass convolution "
            f"within the bound plus float32 rounding)")


def summary_dict(run: SqueezeNetRun, resolved: dict | None = None) -> dict[str, Any]:
    return {"title": "SqueezeNet (authors' compressed v1.0) convolution layers on EIE, "
                     "M x V per output position",
            "engine": "fast (batched: eie_sim.sim.conv)", "data_dir": run.data_dir,
            "positions": "all" if run.positions is None else run.positions,
            "extrapolated": run.extrapolated, "seeds": run.seeds,
            "config": resolved if resolved is not None else {"arch": run.config.as_dict()},
            "effective_arch": run.config.as_dict(), "overrides": run.overrides, "fit": run.fit,
            "totals": run.totals(), "layers": [l.to_dict() for l in run.layers], "notes": run.notes,
            "wall_s": run.wall_s}


def bundle_files(run: SqueezeNetRun, resolved: dict | None = None,
                 resolved_yaml: str | None = None) -> dict[str, str]:
    """``layers.csv`` (the columns of every run), ``per_pe.csv``, ``positions.csv``,
    ``summary.json``, ``report.md`` (+ ``config.yaml``)."""
    pos_rows = []
    for l in run.layers:
        oh, ow = l.meta.get("out_hw", (1, l.positions_total))
        for p, cyc, nz in zip(l.positions.tolist(), l.counters.cycles_pos.tolist(), l.input_nonzeros_pos.tolist()):
            pos_rows.append({"layer": l.name, "position": p, "oy": p // ow, "ox": p % ow,
                             "cycles": cyc, "input_nonzeros": nz})
    summ = summary_dict(run, resolved)
    md = ["# " + summ["title"], ""]
    if run.extrapolated:
        md += [f"**{run.notes[0]}**", ""]
    md += [f"- {line}" for line in config_lines(run)]
    md += [f"- seeds: {run.seeds}", f"- wall time: {run.wall_s:.1f} s", "", markdown_table(run),
           totals_line(run), ""]
    md += [f"- {n}" for n in run.notes if not n.startswith("EXTRAPOLATED")]
    files = {"layers.csv": csv_text([l.to_dict() for l in run.layers], LAYER_COLUMNS),
             "per_pe.csv": csv_text([p for l in run.layers for p in per_pe_rows(l)], PER_PE_COLUMNS),
             "positions.csv": csv_text(pos_rows, POSITION_COLUMNS),
             "summary.json": json_text(summ), "report.md": "\n".join(md) + "\n"}
    if resolved_yaml is not None:
        files["config.yaml"] = resolved_yaml
    return files
