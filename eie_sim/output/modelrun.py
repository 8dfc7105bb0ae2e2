"""The report of a model run end to end (:class:`eie_sim.apps.model_chain.ModelChainRun`).

Per input: the relative error of EIE's final output against the float model's and against
the same quantized weights in float (the fixed-point arithmetic alone), the cycles, time,
energy and saturations, and for a classifier both top-5 lists and whether they agree;
over the inputs: top-1 / top-5 agreement and the mean and largest relative error
(:mod:`compressor.accuracy`). The bundle: the layer table of the first input
(:mod:`eie_sim.output.netrun`: ``layers.csv``, ``per_pe.csv``, ``positions.csv``,
``cycles.png``), ``inputs.csv`` (one row per input), ``outputs.npy`` (EIE's final outputs,
one row per input, in the order of ``inputs.csv``), ``float_outputs.npy`` (the float
model's), ``formats.csv``, ``summary.json`` and ``report.md``.
"""
from __future__ import annotations

import io
from typing import Any

import numpy as np

from eie_sim.output import netrun
from eie_sim.output.names import markdown_code
from eie_sim.output.report import csv_text, json_text
from eie_sim.sim.columns import units_map
from eie_sim.sim.results import LAYER_COLUMNS

INPUT_COLUMNS = ("input", "relative_error", "fixed_point_relative_error", "float_top5",
                 "eie_top5", "top1_agree", "top5_agree", "cycles", "time_us", "total_energy_uj",
                 "input_saturations", "output_saturations")


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def agreement_line(m) -> str:
    a = m.agreement
    head = (f"top-1 agreement {a.top1:.1%}, top-5 agreement {a.top5:.1%}; "
            if a.classifier else "")
    return (f"EIE vs float model over {a.inputs} input(s): {head}relative output error mean "
            f"{a.mean_rel_error:.4g}, max {a.max_rel_error:.4g}")


def inputs_table(m) -> str:
    cls = m.agreement.classifier
    head = "| input | rel. error vs float model | rel. error vs quantized float |"
    if cls:
        head += " float top-5 | EIE top-5 | top-1 agrees |"
    head += " cycles | time (us) | energy (uJ) | saturations in/out |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in m.rows():
        line = (f"| {markdown_code(r['input'])} | {r['relative_error']:.4g} | "
                f"{r['fixed_point_relative_error']:.4g} |")
        if cls:
            line += f" {r['float_top5']} | {r['eie_top5']} | {'yes' if r['top1_agree'] else 'NO'} |"
        line += (f" {r['cycles']:,.0f} | {r['time_us']:,.1f} | {r['total_energy_uj']:.2f} | "
                 f"{r['input_saturations']:,.0f}/{r['output_saturations']:,.0f} |")
        lines.append(line)
    return "\n".join(lines) + "\n"


def format_rows(m) -> list[dict[str, Any]]:
    return [{"layer": n, "act_frac_bits": f.act_frac_bits, "out_frac_bits": f.out_frac_bits,
             "weight_frac_bits": f.weight_frac_bits} for n, f in m.formats.items()]


def summary_dict(m, wl, resolved: dict) -> dict[str, Any]:
    first = m.inputs[0].run
    return {"title": wl.description, "mode": "chained", "model": wl.source,
            "float_model": m.float_model, "synthetic": wl.synthetic,
            "input_shape": list(np.shape(wl.x)), "output_shape": list(np.shape(first.output)),
            "agreement": {k: v for k, v in m.agreement.as_dict().items() if k != "per_input"},
            "inputs": m.rows(), "formats": format_rows(m), "overrides": m.overrides,
            "config": resolved, "effective_arch": m.config.as_dict(),
            "first_input_layers": [l.to_dict() for l in first.layers],
            "first_input_errors": [e.as_dict() for e in first.errors],
            "first_input_totals": netrun.totals(first), "notes": m.notes, "wall_s": m.wall_s,
            "units": units_map(INPUT_COLUMNS, LAYER_COLUMNS, netrun.totals(first)),
            "files": {"outputs.npy": "EIE's final outputs, one row per input (inputs.csv order)",
                      "float_outputs.npy": "the float model's final outputs, same order"}}


def markdown(m, summ: dict[str, Any]) -> str:
    first = m.inputs[0].run
    md = ["# " + summ["title"], "", f"- {agreement_line(m)}",
          f"- float model: {m.float_model}"]
    md += [f"- {line}" for line in netrun.config_lines(first)]
    md += ["", "## Inputs", "", inputs_table(m), "## Layers (first input: "
           f"{markdown_code(m.inputs[0].label)})", "", netrun.markdown_table(first),
           "## Fixed-point formats (fraction bits)", "",
           "| layer | input | output + bias | weights |", "|---|---|---|---|"]
    md += [f"| {markdown_code(r['layer'])} | {r['act_frac_bits']} | {r['out_frac_bits']} | "
           f"{r['weight_frac_bits']} |" for r in format_rows(m)]
    md += ["", "## Notes", ""] + [f"- {n}" for n in m.notes]
    return "\n".join(md) + "\n"


def bundle_files(m, wl, resolved: dict, resolved_yaml: str) -> dict[str, str | bytes]:
    first = m.inputs[0].run
    files = netrun.bundle_files(first, resolved, resolved_yaml)
    summ = summary_dict(m, wl, resolved)
    files.update({"summary.json": json_text(summ), "report.md": markdown(m, summ),
                  "inputs.csv": csv_text(m.rows(), [c for c in INPUT_COLUMNS
                                                    if c in m.rows()[0]]),
                  "formats.csv": csv_text(format_rows(m), ("layer", "act_frac_bits",
                                                           "out_frac_bits", "weight_frac_bits")),
                  "outputs.npy": _npy(m.outputs()), "float_outputs.npy": _npy(m.float_outputs())})
    return files
