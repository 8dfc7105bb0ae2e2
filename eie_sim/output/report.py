"""Reports of simulation runs: per-layer CSV, JSON summary, Markdown table, results bundle.

A *results bundle* is one directory per run, written completely or not at all (files go
to a temporary sibling directory that is renamed into place at the end):

* ``layers.csv``: one row per layer, columns :data:`LAYER_COLUMNS` (stable order, the same
  for fully-connected and convolution layers);
* ``per_pe.csv``: per layer and PE the busy/padding/empty/starved cycles and counters;
* ``summary.json``: the fully resolved configuration, seeds, engine, wall time, totals,
  per-layer rows, and whether matrices are synthetic;
* ``report.md``: the same as a Markdown table;
* ``config.yaml``: the resolved configuration, loadable by ``eie-simulate --config``;
* ``windows.csv``: with ``run.window``, the counters per window of cycles
  (:mod:`eie_sim.output.windows`, docs/timeline.md);
* ``report.html``: the bundle as one self-contained page (:mod:`eie_sim.output.html`,
  added by the command-line tools);
* ``.eie-sim.json``: the marker of a folder the tools wrote (:mod:`eie_sim.output.folders`:
  only such a folder is replaced by ``--force``).

Layer names in ``report.md`` are escaped for Markdown (:func:`eie_sim.output.names.markdown_text`).
"""
from __future__ import annotations

import csv
import io
import json
import math
import pathlib
import shutil
from typing import Any, Iterable

import numpy as np

from eie_sim.hw.counters import PE_COUNTERS
from eie_sim.output import folders
from eie_sim.output.energy_plots import energy_area_markdown
from eie_sim.output.names import markdown_text
from eie_sim.output.windows import windows_csv
from eie_sim.sim.columns import units_map
from eie_sim.sim.results import LAYER_COLUMNS

PER_PE_COLUMNS = ("layer", "pe") + PE_COUNTERS

SYNTHETIC_NOTE = ("These matrices are synthetic: seeded random weights and inputs at the "
                  "given sizes and densities, not trained layers.")


def per_pe_rows(res) -> list[dict[str, Any]]:
    """Per PE the counters of a layer result, summed over passes and the vectors that ran."""
    return [{"layer": res.name, "pe": k, **{n: int(getattr(res.pe, n)[k]) for n in PE_COUNTERS}}
            for k in range(res.pes)]


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (float, np.floating)):
        if math.isinf(v) or math.isnan(v):
            return str(v)
        return repr(float(v))
    return str(v)


def csv_text(rows: Iterable[dict], columns: Iterable[str]) -> str:
    columns = list(columns)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_fmt(r.get(c, "")) for c in columns])
    return buf.getvalue()


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, float) and (math.isinf(obj) or math.isnan(obj)):
        return str(obj)
    if isinstance(obj, pathlib.Path):
        return str(obj)
    return obj


def json_text(obj: Any) -> str:
    return json.dumps(_jsonable(obj), indent=2, sort_keys=False) + "\n"


MD_COLUMNS = (("layer", "layer", "{}"), ("size", None, "{}"), ("cycles", "cycles", "{:,}"),
              ("time (us)", "time_us", "{:.2f}"), ("theor. (us)", "theoretical_time_us", "{:.2f}"),
              ("theor.+pad (us)", "theoretical_time_padded_us", "{:.2f}"),
              ("act/theor", "actual_over_theoretical", "{:.3f}"),
              ("load eff.", "load_efficiency", "{:.3f}"),
              ("PEs w/ rows", "pes_with_rows", "{}"),
              ("real/total work", "real_over_total_work", "{:.3f}"),
              ("energy (uJ)", "total_energy_uj", "{:.3f}"), ("power (W)", "avg_power_w", "{:.3f}"),
              ("in format", "in_format", "{}"), ("out format", "out_format", "{}"),
              ("sat. in", "input_saturations", "{:,}"), ("sat. out", "output_saturations", "{:,}"))


def markdown_table(rows: list[dict]) -> str:
    head = "| " + " | ".join(c[0] for c in MD_COLUMNS) + " |"
    sep = "|" + "---|" * len(MD_COLUMNS)
    lines = [head, sep]
    for r in rows:
        cells = []
        for title, key, fmt in MD_COLUMNS:
            if key is None:
                cells.append(f"{r['rows']} x {r['cols']}")
            elif key == "layer":
                cells.append(markdown_text(r.get(key, "")))
            else:
                v = r.get(key, "")
                try:
                    cells.append(fmt.format(v))
                except (ValueError, TypeError):
                    cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_report(summary: dict, rows: list[dict]) -> str:
    out = [f"# EIE simulation: {markdown_text(summary.get('title', 'run'))}", ""]
    if summary.get("synthetic"):
        out += [f"**{SYNTHETIC_NOTE}**", ""]
    out += [f"- engine: {summary.get('engine')} (verified against the other engine: "
            f"{summary.get('verified')})",
            f"- PEs: {summary['config']['arch']['pes']}, clock {summary['config']['arch']['clock_mhz']} MHz, "
            f"queue depth {summary['config']['arch']['queue_depth']}",
            f"- seeds: {summary.get('seeds')}",
            "- outputs checked against numpy: bit-exact integer reference and float reference "
            "within the fixed-point bound",
            f"- energy and area: model ({rows[0].get('energy_model', '') if rows else ''}: "
            "logic from paper Table II, memories from CACTI or Tables I-II; docs/energy.md); "
            "paper chip power 0.59 W and area 40.8 mm^2 are paper values", ""]
    out.append(markdown_table(rows))
    ea = energy_area_markdown(rows)
    if ea:
        out += ["", ea]
    tot = summary.get("totals")
    if tot:
        out += ["", "Totals: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in tot.items()), ""]
    for note in summary.get("notes", []):
        out.append(f"- {note}")
    return "\n".join(out) + "\n"


def totals_line(totals: dict) -> str:
    """One line with a run's totals (:func:`eie_sim.sim.results.network_totals`)."""
    dram = ""
    if totals.get("streamed_layers"):
        dram = (f"; {totals['streamed_layers']} layer(s) streamed from DRAM: "
                f"{totals['dram_bytes']:,} bytes, {totals['dram_stall_cycles']:,} PE stall "
                f"cycles, {totals.get('energy_dram_uj', 0.0):.3f} uJ (docs/dram.md)")
    return (f"total: {totals['cycles']:,} cycles, {totals['time_us']:.2f} us, "
            f"{totals['total_energy_uj']:.3f} uJ (energy model, docs/energy.md), "
            f"average {totals['avg_power_w']:.3f} W (paper chip: 0.59 W, paper value); "
            f"outputs match numpy (bit-exact; float within the fixed-point bound)" + dram)


def lenet_lines(res: dict, engine: str) -> list[str]:
    """The report of a LeNet-300-100 MNIST run (:func:`eie_sim.apps.lenet.lenet_accuracy`)."""
    return [f"LeNet-300-100 on EIE ({res['images']} MNIST test images, {res['data_source']})",
            f"  simulated accuracy (fixed point, {engine} engine): {res['simulated_accuracy']:.4f}",
            f"  numpy float accuracy (same quantized weights):      {res['numpy_float_accuracy']:.4f}",
            f"  agreement of the predictions:                       {res['agreement']:.4f}",
            f"  cycles per image: {res['cycles_per_image_mean']:.1f} "
            f"({res['time_us_per_image_mean']:.3f} us), energy {res['total_energy_uj_per_image_mean']:.4f} uJ"]


# ------------------------------------------------------------------ bundle
def prepare_out_dir(out: str | pathlib.Path, force: bool = False, reading=()) -> pathlib.Path:
    """Check that ``out`` may be written (before running anything): missing, empty, or
    with ``force`` a folder the tools wrote; never the current directory, one of its
    parents or a folder holding a file in ``reading`` (:func:`eie_sim.output.folders.check_out`)."""
    return folders.check_out(out, force, reading)


def write_bundle(out: str | pathlib.Path, files: dict[str, str | bytes], force: bool = False,
                 tool: str = "eie-sim", kind: str = "bundle", reading=()) -> pathlib.Path:
    """Write ``files`` (name -> content) into directory ``out`` atomically, with the
    marker file (:data:`~eie_sim.output.folders.MARKER`: ``tool`` and ``kind``).

    Everything is written into a temporary sibling directory which is then renamed to
    ``out``; on any error the temporary directory is removed and ``out`` is untouched.
    Files and folders follow the umask; temporary siblings of killed runs are removed
    first (:func:`eie_sim.output.folders.clean_stale`).
    """
    out = pathlib.Path(out)
    checked = prepare_out_dir(out, force, reading)
    folders.clean_stale(checked)
    tmp = folders.new_dir(checked)
    try:
        for name, content in {**files, folders.MARKER: folders.marker_text(tool, kind)}.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        folders.replace_dir(tmp, checked)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def bundle_files(results: list, summary: dict, resolved_yaml: str | None = None,
                 extra: dict[str, str | bytes] | None = None) -> dict[str, str | bytes]:
    """The files of one run's bundle from layer results and a summary dict."""
    rows = [r.to_dict() for r in results]
    summary = dict(summary)
    summary["layers"] = rows
    summary["units"] = units_map(LAYER_COLUMNS, PER_PE_COLUMNS, summary.get("totals") or {})
    summary["synthetic"] = summary.get("synthetic", any(r.synthetic for r in results))
    if summary["synthetic"]:
        summary["note"] = SYNTHETIC_NOTE
    files: dict[str, str | bytes] = {
        "layers.csv": csv_text(rows, LAYER_COLUMNS),
        "per_pe.csv": csv_text([p for r in results for p in per_pe_rows(r)], PER_PE_COLUMNS),
        "summary.json": json_text(summary),
        "report.md": markdown_report(summary, rows),
    }
    if resolved_yaml is not None:
        files["config.yaml"] = resolved_yaml
    if any(r.windows is not None for r in results):
        files["windows.csv"] = windows_csv(results)
    files.update(extra or {})
    return files
