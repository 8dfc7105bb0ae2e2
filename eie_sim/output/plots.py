"""Plots of simulation results (matplotlib, Agg backend, PNG).

From a sweep bundle (``sweep.csv``), by swept key:

* ``queue_depth``: load efficiency vs queue depth (paper Fig. 8);
* ``spmat_width_bits``: Spmat line reads and Spmat read energy vs SRAM width (Fig. 9);
* ``pes``: speedup vs PEs (Fig. 11), real work / total work (Fig. 12) and load
  efficiency (Fig. 13) vs PEs;
* with ``points.csv`` (``eie-sweep``): the Pareto and heatmap plots of
  :mod:`eie_sim.output.sweep_plots`.

From a simulate bundle (``per_pe.csv``): per-PE busy/padding/empty/starved bars for one
layer; with ``windows.csv`` (``run.window``) also the utilisation-over-time plots of
:mod:`eie_sim.output.timeline_plots`, in PNG and SVG. Every figure of synthetic workloads
says so in its title.
"""
from __future__ import annotations

import csv
import io
import json
import pathlib
from collections import defaultdict

import numpy as np

from eie_sim.sim import sram_fit
from eie_sim.errors import PlotError
from eie_sim.output import report
from eie_sim.output.energy_plots import area_bars, energy_bars, has_energy_columns
from eie_sim.output.sweep_plots import design_plots
from eie_sim.output.names import plot_text, safe_names
from eie_sim.output.timeline_plots import save, timeline_plots
from eie_sim.output.windows import parse_windows


def _plt():
    # matplotlib is imported on first use: it is slow to import and only plots need it
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


#: columns each CSV of a bundle needs for the plots
SWEEP_COLUMNS = ("layer", "cycles", "load_efficiency", "real_over_total_work",
                 "spmat_line_reads", "spmat_sram_energy_pj")
PER_PE_NEEDED = ("layer", "pe", "busy", "padding", "empty", "starved")


def _read_csv(path: pathlib.Path, needed: tuple[str, ...] = (), text: str | None = None) -> list[dict]:
    """Rows of ``path`` (or of ``text``, the CSV held in memory under that name); a
    :class:`PlotError` when unreadable or a ``needed`` column is missing."""
    try:
        with (io.StringIO(text, newline="") if text is not None else path.open(newline="")) as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in needed if c not in header]
            if missing:
                raise PlotError(f"{path}: not a bundle CSV of this version: missing column(s) "
                                f"{', '.join(missing)}")
            rows = list(reader)
    except OSError as exc:
        raise PlotError(f"{path}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise PlotError(f"{path}: not a readable CSV ({exc})") from None
    if any(None in r for r in rows):
        raise PlotError(f"{path}: a row has more fields than the header")
    return rows


def _num(v: str):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() and "." not in str(v) and "e" not in str(v) else f


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def _series(rows: list[dict], x: str, y: str, keys: list[str]) -> dict[str, list[tuple]]:
    """Lines of y vs x: one per layer and per combination of the other swept keys."""
    lines: dict[str, list[tuple]] = defaultdict(list)
    for r in rows:
        if r.get("error") or _num(r.get(y)) is None:
            continue
        label = plot_text(r["layer"] + "".join(f", {k}={r[k]}" for k in keys if k != x))
        lines[label].append((_num(r[x]), _num(r[y])))
    return {k: sorted(v) for k, v in lines.items()}


def _line_plot(rows, x, y, keys, title, ylabel, xlabel, logx=True, ideal=None, synthetic=False,
               logy=False, note=""):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, pts in _series(rows, x, y, keys).items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    if ideal is not None:
        xs = sorted({_num(r[x]) for r in rows})
        ax.plot(xs, [ideal(v, xs) for v in xs], "k--", lw=1, label="ideal (linear)")
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title + (" (synthetic matrices)" if synthetic else "") + _tag(note), fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def _tag(note: str) -> str:
    """A title's note (e.g. "partial sweep: 37 of 240 points") in brackets."""
    return f" [{note}]" if note else ""


def sweep_plots(rows: list[dict], keys: list[str], synthetic: bool,
                note: str = "") -> dict[str, bytes]:
    """Fig. 8, 9, 11-13 from ``sweep.csv`` rows; ``note`` goes into every title."""
    out: dict[str, bytes] = {}
    if "queue_depth" in keys:
        out["fig8_load_efficiency_vs_queue_depth.png"] = _line_plot(
            rows, "queue_depth", "load_efficiency", keys, "Load efficiency vs activation queue depth (cf. Fig. 8)",
            "load efficiency = 1 - starved / (N x cycles)", "queue depth (entries)", synthetic=synthetic,
            note=note)
    if "spmat_width_bits" in keys:
        plt = _plt()
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        for label, pts in _series(rows, "spmat_width_bits", "spmat_line_reads", keys).items():
            a1.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        for label, pts in _series(rows, "spmat_width_bits", "spmat_sram_energy_pj", keys).items():
            a2.plot([p[0] for p in pts], [p[1] / 1e6 for p in pts], marker="o", label=label)
        for ax, yl in ((a1, "Spmat SRAM line reads"), (a2, "Spmat SRAM read energy (uJ, model)")):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("Spmat SRAM width (bits)")
            ax.set_ylabel(yl)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle("Spmat reads and read energy vs SRAM width (cf. Fig. 9)"
                     + (" (synthetic matrices)" if synthetic else "") + _tag(note), fontsize=10)
        out["fig9_spmat_width.png"] = _png(fig)
    if "pes" in keys:
        # speedup relative to the smallest PE count of the same layer/other keys that ran
        # and fits the SRAMs (or was priced with those it needs: sim/sram_fit); the
        # title says why it starts there
        ranked = [r for r in rows if sram_fit.row_ranked(r)]
        start = sram_fit.baseline(rows, "pes")
        base: dict[str, float] = {}
        for label, pts in _series(ranked, "pes", "cycles", keys).items():
            base[label] = pts[0][1] * 1.0 if pts else 1.0
        sp_rows = []
        for r in ranked:
            label = r["layer"] + "".join(f", {k}={r[k]}" for k in keys if k != "pes")
            sp_rows.append({**r, "speedup": base[label] / float(r["cycles"])})
        minp = min((_num(r["pes"]) for r in sp_rows), default=1)
        out["fig11_speedup_vs_pes.png"] = _line_plot(
            sp_rows, "pes", "speedup", keys, "Speedup vs number of PEs (cf. Fig. 11)"
            + (f"\nbaseline {minp} PE(s); {start['short']}" if start and start["short"] else ""),
            f"speedup over {minp} PE(s)", "PEs", ideal=lambda v, xs: v / xs[0], synthetic=synthetic, logy=True,
            note=note)
        out["fig12_real_work_vs_pes.png"] = _line_plot(
            rows, "pes", "real_over_total_work", keys, "Real work / total work vs PEs (cf. Fig. 12)",
            "real / total work (1 - padding share)", "PEs", synthetic=synthetic, note=note)
        out["fig13_load_efficiency_vs_pes.png"] = _line_plot(
            rows, "pes", "load_efficiency", keys, "Load efficiency vs PEs (cf. Fig. 13)",
            "load efficiency", "PEs", synthetic=synthetic, note=note)
    return out


def per_pe_plot(rows: list[dict], layer: str, synthetic: bool, fmt: str = "png") -> bytes:
    """Per-PE busy/padding/empty/starved bars of one layer (``per_pe.csv`` rows)."""
    plt = _plt()
    sel = [r for r in rows if r["layer"] == layer]
    pe = np.array([int(r["pe"]) for r in sel])
    fig, ax = plt.subplots(figsize=(max(6.0, len(sel) * 0.12), 4.2))
    bottom = np.zeros(len(sel))
    for name, colour in (("busy", "tab:green"), ("padding", "tab:orange"),
                         ("empty", "tab:gray"), ("starved", "tab:red")):
        v = np.array([float(r[name]) for r in sel])
        ax.bar(pe, v, bottom=bottom, color=colour, label=name, width=0.85)
        bottom += v
    ax.set_xlabel("PE")
    ax.set_ylabel("cycles")
    ax.set_title(f"Per-PE utilisation, layer {plot_text(layer)}" + (" (synthetic matrix)" if synthetic else ""),
                 fontsize=10)
    ax.legend(fontsize=8, ncol=4)
    return _png(fig) if fmt == "png" else save(fig, (fmt,))[fmt]


def summary_facts(summary: dict) -> tuple[bool, int | None]:
    """(the layers run as a network, the queue depth) from a bundle's ``summary.json``."""
    wl, cfg = summary.get("workload"), summary.get("config")
    arch = cfg.get("arch") if isinstance(cfg, dict) else None
    depth = arch.get("queue_depth") if isinstance(arch, dict) else None
    return (bool(wl.get("network")) if isinstance(wl, dict) else False,
            depth if isinstance(depth, int) and not isinstance(depth, bool) else None)


def plot_results(results: str | pathlib.Path, out: str | pathlib.Path, force: bool = False,
                 layer: str | None = None, partial: dict | None = None) -> list[str]:
    """Make every plot the bundle ``results`` supports; write them (atomically) to ``out``.

    ``partial``: the tables of a sweep folder not finished yet, built in memory
    (:func:`eie_sim.apps.sweep.read_partial`: ``files`` = CSV texts of ``sweep.csv``,
    ``points.csv``, ``pareto.csv``; ``summary``; ``note``), plotted instead of files
    (the folder is not read), every title noting the partial sweep (n of N points)."""
    results = pathlib.Path(results)
    if not results.is_dir():
        raise PlotError(f"{results}: results directory not found")
    out = report.prepare_out_dir(out, force, reading=[results])
    if partial is not None:
        return _plot_partial(results, out, force, partial)
    summary = {}
    if (results / "summary.json").exists():
        try:
            summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:  # JSON and UTF-8 errors are ValueErrors
            raise PlotError(f"{results / 'summary.json'}: unreadable ({str(exc)[:200] or 'nested too deeply'})") from None
        if not isinstance(summary, dict):
            raise PlotError(f"{results / 'summary.json'}: not a bundle summary (a JSON object)")
    synthetic = bool(summary.get("synthetic"))
    files: dict[str, bytes] = {}
    if (results / "sweep.csv").exists():
        rows = _read_csv(results / "sweep.csv", SWEEP_COLUMNS)
        keys = list(summary.get("swept_keys") or summary.get("sweep") or
                    [k for k in ("pes", "queue_depth", "spmat_width_bits") if rows and k in rows[0]])
        missing = [k for k in keys if rows and k not in rows[0]]
        if missing:
            raise PlotError(f"{results / 'sweep.csv'}: missing the swept column(s) {', '.join(missing)}")
        points = None
        front: list[dict] = []
        if (results / "points.csv").exists():      # eie-sweep's design-space plots
            front = _read_csv(results / "pareto.csv") if (results / "pareto.csv").exists() else []
            points = _read_csv(results / "points.csv")
        files.update(_sweep_files(results, keys, rows, points, front, summary))
    if (results / "per_pe.csv").exists():
        rows = _read_csv(results / "per_pe.csv", PER_PE_NEEDED)
        layers = list(dict.fromkeys(r["layer"] for r in rows))
        if layer is not None and layer not in layers:
            raise PlotError(f"{results}: no layer {layer!r}; layers: {', '.join(layers)}")
        safe = safe_names(layers)
        for name in ([layer] if layer else layers):
            files[f"per_pe_{safe[name].file}.png"] = per_pe_plot(rows, name, synthetic)
    if (results / "layers.csv").exists() and not (results / "sweep.csv").exists():
        layer_rows = _read_csv(results / "layers.csv")
        if has_energy_columns(layer_rows):
            files["energy_by_unit.png"] = energy_bars(layer_rows, "png", synthetic)
            files["area_by_unit.png"] = area_bars(layer_rows[0], "png")
    if (results / "windows.csv").exists():
        wins = parse_windows(_read_csv(results / "windows.csv"), str(results / "windows.csv"))
        if layer is not None:
            wins = [w for w in wins if w.layer == layer]
        for plot in timeline_plots(wins, ("png", "svg"), synthetic, *summary_facts(summary)):
            files.update({f"{plot.stem}.{fmt}": data for fmt, data in plot.data.items()})
    if not files:
        raise PlotError(f"{results}: not a results bundle (no sweep.csv or per_pe.csv)")
    report.write_bundle(out, files, force, tool="eie-plot", kind="plots", reading=[results])
    return [str(pathlib.Path(out) / n) for n in files]


def _sweep_files(results: pathlib.Path, keys: list[str], rows: list[dict], points: list[dict] | None,
                 front: list[dict], summary: dict, note: str = "") -> dict[str, bytes]:
    """The plots of a sweep's tables (Fig. 8-13 for a grid; the design-space plots)."""
    synthetic = bool(summary.get("synthetic"))
    files: dict[str, bytes] = {}
    searched = isinstance(summary.get("sweep"), dict) and "search" in summary["sweep"]
    if not searched:              # Fig. 8-13 need a grid; a search's points are not one
        files.update(sweep_plots(rows, keys, synthetic, note))
    if points is not None:
        files.update(design_plots(points, front, keys, synthetic, note))
    if not files:
        raise PlotError(f"{results}: the sweep varies {keys or 'nothing'}; plots exist for "
                        f"pes, queue_depth and spmat_width_bits")
    return files


def _plot_partial(results: pathlib.Path, out: pathlib.Path, force: bool, partial: dict) -> list[str]:
    texts, summary, note = partial["files"], partial["summary"], partial["note"]
    rows = _read_csv(results / "sweep.db:sweep.csv", SWEEP_COLUMNS, texts["sweep.csv"])
    keys = list(summary.get("swept_keys") or [])
    points = _read_csv(results / "sweep.db:points.csv", (), texts["points.csv"])
    front = _read_csv(results / "sweep.db:pareto.csv", (), texts["pareto.csv"])
    files = _sweep_files(results, keys, rows, points, front, summary, note)
    report.write_bundle(out, files, force, tool="eie-plot", kind="plots", reading=[results])
    return [str(pathlib.Path(out) / n) for n in files]
