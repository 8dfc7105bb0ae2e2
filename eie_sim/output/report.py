"""Reports of simulation runs: per-layer CSV, JSON summary, Markdown table, results bundle.

A *results bundle* is one directory per run, written completely or not at all (files go
to a temporary sibling directory that is renamed into place at the end):

* ``layers.csv``: one row per layer, columns :data:`LAYER_COLUMNS` (stable order);
* ``per_pe.csv``: per layer and PE the busy/padding/empty/starved cycles and counters;
* ``summary.json``: the fully resolved configuration, seeds, engine, wall time, totals,
  per-layer rows, and whether matrices are synthetic;
* ``report.md``: the same as a Markdown table;
* ``config.yaml``: the resolved configuration, loadable by ``eie-simulate --config``.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import pathlib
import shutil
import tempfile
from typing import Any, Iterable

import numpy as np

#: per-layer CSV columns, in order (documented in docs/config.md, "Outputs")
LAYER_COLUMNS: tuple[str, ...] = (
    "layer", "rows", "cols", "nnz", "synthetic", "pes", "clock_mhz", "queue_depth",
    "spmat_width_bits", "engine", "verified", "passes", "cycles", "time_us",
    "theoretical_time_us", "theoretical_time_padded_us", "actual_over_theoretical",
    "actual_over_theoretical_padded", "load_efficiency", "authors_efficiency",
    "pes_with_rows",
    "real_over_total_work", "useful_macs", "padding_macs", "empty_cycles", "starved_cycles",
    "queue_full_stalls", "pointer_reads", "spmat_line_reads", "bypass_hits", "broadcasts",
    "input_nonzeros", "batch_load_cycles", "batch_store_cycles", "pass_reload_cycles",
    "max_queue_occupancy",
    "ccu_min_cycles", "critical_pe_cycles", "input_saturations", "output_saturations",
    "max_error", "max_error_bound", "min_error_slack", "energy_uj", "avg_power_w", "spmat_sram_energy_pj",
    "workload_seed", "wall_s",
)
PER_PE_COLUMNS = ("layer", "pe", "busy", "padding", "empty", "starved", "pointer_reads",
                  "spmat_line_reads", "bypass_hits")

SYNTHETIC_NOTE = ("These matrices are synthetic: seeded random weights and inputs at the "
                  "given sizes and densities, not trained layers.")


class BundleError(OSError):
    """A results directory that cannot be written (exists, not writable, ...)."""


def layer_row(res) -> dict[str, Any]:
    """The per-layer scalar row of a :class:`~eie_sim.runner.LayerResult`."""
    cfg = res.config
    return {
        "layer": res.name, "rows": res.rows, "cols": res.cols, "nnz": res.nnz,
        "synthetic": res.synthetic, "pes": res.pes, "clock_mhz": res.clock_mhz,
        "queue_depth": cfg["queue_depth"], "spmat_width_bits": cfg["spmat_width_bits"],
        "engine": res.engine, "verified": res.verified, "passes": res.passes,
        "cycles": res.cycles, "time_us": res.time_us,
        "theoretical_time_us": res.theoretical_time_us,
        "theoretical_time_padded_us": res.theoretical_time_padded_us,
        "actual_over_theoretical": res.actual_over_theoretical,
        "actual_over_theoretical_padded": res.actual_over_theoretical_padded,
        "load_efficiency": res.load_efficiency, "authors_efficiency": res.authors_efficiency,
        "pes_with_rows": res.pes_with_rows,
        "real_over_total_work": res.real_over_total_work, "useful_macs": res.useful_macs,
        "padding_macs": res.padding_macs, "empty_cycles": res.empty_cycles,
        "starved_cycles": int(res.starved.sum()), "queue_full_stalls": res.queue_full_stalls,
        "pointer_reads": res.pointer_reads, "spmat_line_reads": res.spmat_line_reads,
        "bypass_hits": res.bypass_hits, "broadcasts": res.broadcasts,
        "input_nonzeros": res.input_nonzeros, "batch_load_cycles": res.batch_load_cycles,
        "batch_store_cycles": res.batch_store_cycles,
        "pass_reload_cycles": res.pass_reload_cycles,
        "max_queue_occupancy": res.max_queue_occupancy, "ccu_min_cycles": res.ccu_min_cycles,
        "critical_pe_cycles": res.critical_pe_cycles,
        "input_saturations": res.input_saturations,
        "output_saturations": res.output_saturations, "max_error": res.max_error,
        "max_error_bound": res.max_error_bound, "min_error_slack": res.min_error_slack,
        "energy_uj": res.energy_uj,
        "avg_power_w": res.avg_power_w,
        "spmat_sram_energy_pj": res.energy.get("spmat_sram_energy_pj", 0.0),
        "workload_seed": res.seeds.get("workload_seed", ""), "wall_s": res.wall_s,
    }


def per_pe_rows(res) -> list[dict[str, Any]]:
    return [{"layer": res.name, "pe": k, "busy": int(res.busy[k]), "padding": int(res.padding[k]),
             "empty": int(res.empty[k]), "starved": int(res.starved[k]),
             "pointer_reads": int(res.pointer_reads_pe[k]),
             "spmat_line_reads": int(res.spmat_line_reads_pe[k]),
             "bypass_hits": int(res.bypass_hits_pe[k])} for k in range(res.pes)]


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
              ("energy (uJ)", "energy_uj", "{:.3f}"), ("power (W)", "avg_power_w", "{:.3f}"))


def markdown_table(rows: list[dict]) -> str:
    head = "| " + " | ".join(c[0] for c in MD_COLUMNS) + " |"
    sep = "|" + "---|" * len(MD_COLUMNS)
    lines = [head, sep]
    for r in rows:
        cells = []
        for title, key, fmt in MD_COLUMNS:
            if key is None:
                cells.append(f"{r['rows']} x {r['cols']}")
            else:
                v = r.get(key, "")
                try:
                    cells.append(fmt.format(v))
                except (ValueError, TypeError):
                    cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_report(summary: dict, rows: list[dict]) -> str:
    out = [f"# EIE simulation: {summary.get('title', 'run')}", ""]
    if summary.get("synthetic"):
        out += [f"**{SYNTHETIC_NOTE}**", ""]
    out += [f"- engine: {summary.get('engine')} (verified against the other engine: "
            f"{summary.get('verified')})",
            f"- PEs: {summary['config']['arch']['pes']}, clock {summary['config']['arch']['clock_mhz']} MHz, "
            f"queue depth {summary['config']['arch']['queue_depth']}",
            f"- seeds: {summary.get('seeds')}",
            "- outputs checked against numpy: bit-exact integer reference and float reference "
            "within the fixed-point bound",
            "- energy: model derived from paper Tables I-II (docs/energy.md); paper chip "
            "power 0.59 W is a paper value", ""]
    out.append(markdown_table(rows))
    tot = summary.get("totals")
    if tot:
        out += ["", "Totals: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in tot.items()), ""]
    for note in summary.get("notes", []):
        out.append(f"- {note}")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ bundle
def prepare_out_dir(out: str | pathlib.Path, force: bool = False) -> pathlib.Path:
    """Check that ``out`` may be written (before running anything)."""
    out = pathlib.Path(out)
    if out.exists() and not force:
        if not out.is_dir() or any(out.iterdir()):
            raise BundleError(f"{out}: output directory exists and is not empty "
                              f"(choose another --out, or --force to replace it)")
    # missing parent folders are created when the bundle is written (after a successful
    # run); here the nearest existing one must be a writable directory
    ancestor = out.resolve().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise BundleError(f"{out}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK):
        raise BundleError(f"{out}: directory {ancestor} is not writable")
    return out


def write_bundle(out: str | pathlib.Path, files: dict[str, str | bytes], force: bool = False) -> pathlib.Path:
    """Write ``files`` (name -> content) into directory ``out`` atomically.

    Everything is written into a temporary sibling directory which is then renamed to
    ``out``; on any error the temporary directory is removed and ``out`` is untouched.
    """
    out = prepare_out_dir(out, force)
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    try:
        for name, content in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        if out.exists():
            old = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
            os.rename(out, old / "x")
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def bundle_files(results: list, summary: dict, resolved_yaml: str | None = None,
                 extra: dict[str, str | bytes] | None = None) -> dict[str, str | bytes]:
    """The files of one run's bundle from layer results and a summary dict."""
    rows = [layer_row(r) for r in results]
    summary = dict(summary)
    summary["layers"] = rows
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
    files.update(extra or {})
    return files
