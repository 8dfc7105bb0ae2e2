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
import re
from dataclasses import dataclass, field

import numpy as np

from eie_sim.sim import sram_fit
from eie_sim.errors import PlotError
from eie_sim.output import folders, report
from eie_sim.output.energy_plots import area_bars, energy_bars, has_energy_columns
from eie_sim.output import sweep_figures as sf
from eie_sim.output.sweep_plots import design_plots, table_of
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


def _png(fig) -> bytes:
    return sf.png(fig)


def _speedup_rows(t: sf.Table, keys: list[str]) -> tuple[list[dict], str]:
    """``sweep.csv`` rows with ``speedup``: cycles of the fewest PEs that ran and fit the
    SRAMs (or were priced with those they need: :func:`eie_sim.sim.sram_fit.row_ranked`) for
    the same layer and other keys over the row's cycles; and a note saying where the lines
    start and why fewer PEs do not count (:func:`eie_sim.sim.sram_fit.baseline`)."""
    group = lambda r: (r.get("layer"),) + tuple(r.get(k) for k in keys if k != "pes")  # noqa: E731
    ranked = [r for r in t.ok if sram_fit.row_ranked(r)]
    base: dict[tuple, tuple[float, float]] = {}
    for r in ranked:
        p, c = sf.num(r.get("pes")), sf.num(r.get("cycles"))
        if p is not None and c and (group(r) not in base or p < base[group(r)][0]):
            base[group(r)] = (p, c)
    rows = [{**r, "speedup": base[group(r)][1] / sf.num(r["cycles"])} for r in ranked
            if group(r) in base and sf.num(r.get("cycles"))]
    starts = sorted({int(p) for p, _ in base.values()})
    start = sram_fit.baseline(t.rows, "pes")
    note = ""
    if starts and start and start["short"]:
        note = (f"each line over the fewest PEs that ran and fit ({', '.join(map(str, starts))}); "
                f"{start['short']}")
    return rows, note


def sweep_plots(rows: list[dict], keys: list[str], synthetic: bool,
                note: str = "", base: dict | None = None,
                notes: list[str] | None = None) -> dict[str, bytes]:
    """Fig. 8, 9, 11-13 from ``sweep.csv`` rows: one line per layer (at most
    :data:`~eie_sim.output.sweep_figures.MAX_LINES`), every other swept key fixed at a
    stated value (``base``: the design point, else the middle value); ``note`` goes into
    every title. Plots not drawn, and why, are appended to ``notes``."""
    notes = [] if notes is None else notes
    lab = {"load_efficiency": "load efficiency = 1 - starved / (N x cycles)",
           "real_over_total_work": "real / total work (1 - padding share)",
           "spmat_line_reads": "Spmat SRAM line reads",
           "spmat_sram_energy_uj": "Spmat SRAM read energy (uJ, model)",
           "speedup": "speedup over the fewest PEs"}
    t = sf.Table(rows, list(keys) + ["layer"], dict(base or {}), {}, synthetic, note, labels=lab)
    out: dict[str, bytes] = {}

    def draw(name, fn):
        try:
            out[name] = fn()
        except PlotError as exc:
            notes.append(f"{name}: not drawn: {exc}")
    fig = dict(colour="layer", facet="none")
    if "queue_depth" in keys:
        draw("fig8_load_efficiency_vs_queue_depth.png", lambda: sf.metric_figure(
            t, "queue_depth", ["load_efficiency"], **fig,
            title="Load efficiency vs activation queue depth (cf. Fig. 8)"))
    if "spmat_width_bits" in keys:
        t9 = sf.Table([{**r, "spmat_sram_energy_uj": (sf.num(r.get("spmat_sram_energy_pj")) or 0.0) / 1e6}
                       for r in rows], t.keys, t.base, {}, synthetic, note, labels=lab)
        draw("fig9_spmat_width.png", lambda: sf.metric_figure(
            t9, "spmat_width_bits", ["spmat_line_reads", "spmat_sram_energy_uj"], **fig,
            title="Spmat reads and read energy vs SRAM width (cf. Fig. 9)"))
    if "pes" in keys:
        sp, sp_note = _speedup_rows(t, keys)
        t11 = sf.Table(sp, t.keys, t.base, {}, synthetic, note, labels=lab)

        def ideal(ax, y, xs):
            if xs:
                ax.plot(xs, [v / xs[0] for v in xs], "k--", lw=1, label="ideal (linear)")
        draw("fig11_speedup_vs_pes.png", lambda: sf.metric_figure(
            t11, "pes", ["speedup"], **fig, extra=ideal,
            title="Speedup vs number of PEs (cf. Fig. 11)" + (f"; {sp_note}" if sp_note else "")))
        draw("fig12_real_work_vs_pes.png", lambda: sf.metric_figure(
            t, "pes", ["real_over_total_work"], **fig, title="Real work / total work vs PEs (cf. Fig. 12)"))
        draw("fig13_load_efficiency_vs_pes.png", lambda: sf.metric_figure(
            t, "pes", ["load_efficiency"], **fig, title="Load efficiency vs PEs (cf. Fig. 13)"))
    return out


def per_pe_plot(rows: list[dict], layer: str, synthetic: bool, fmt: str = "png") -> bytes:
    """Per-PE busy/padding/empty/starved bars of one layer (``per_pe.csv`` rows); the
    legend below the axes (never over the bars), the width capped (at most 2000 px)."""
    plt = _plt()
    sel = [r for r in rows if r["layer"] == layer]
    pe = np.array([int(r["pe"]) for r in sel])
    fig, ax = plt.subplots(figsize=(min(16.0, max(6.0, len(sel) * 0.12)), 4.2),
                           layout="constrained")
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
    fig.legend(*ax.get_legend_handles_labels(), fontsize=8, ncol=4, loc="outside lower center")
    return sf.png(fig) if fmt == "png" else save(fig, (fmt,))[fmt]


def summary_facts(summary: dict) -> tuple[bool, int | None]:
    """(the layers run as a network, the queue depth) from a bundle's ``summary.json``."""
    wl, cfg = summary.get("workload"), summary.get("config")
    arch = cfg.get("arch") if isinstance(cfg, dict) else None
    depth = arch.get("queue_depth") if isinstance(arch, dict) else None
    return (bool(wl.get("network")) if isinstance(wl, dict) else False,
            depth if isinstance(depth, int) and not isinstance(depth, bool) else None)


#: where ``eie-plot`` writes by default: this folder inside the bundle it plots
PLOTS_DIR = "plots"


@dataclass
class Request:
    """One plot asked for by name (``eie-plot --x``): metrics ``ys`` against the key
    ``x`` of a sweep (:func:`eie_sim.output.sweep_figures.metric_figure`)."""

    x: str
    ys: list[str]
    colour: str | None = None
    facet: str | None = None
    fix: dict = field(default_factory=dict)
    agg: str | None = None

    def file_name(self) -> str:
        parts = ["_".join(self.ys) + "_vs_" + self.x]
        if self.colour:
            parts.append(f"by_{self.colour}")
        if self.facet:
            parts.append(f"facet_{self.facet}")
        parts += [f"{k}={v}" for k, v in self.fix.items()]
        if self.agg:
            parts.append(self.agg)
        name = re.sub(r"[^A-Za-z0-9_.=-]+", "-", "__".join(parts))[:150]
        return f"{name}.png"


def _own_plots(out: pathlib.Path) -> bool:
    """Whether ``out`` is a folder ``eie-plot`` wrote (its marker says so)."""
    return out.is_dir() and not out.is_symlink() and folders.owner(out) == "eie-plot plots"


def _kept(out: pathlib.Path) -> dict[str, bytes]:
    """The plot files of an earlier ``eie-plot`` into ``out`` (kept beside a new one)."""
    if not _own_plots(out):
        return {}
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())
            if p.is_file() and not p.is_symlink() and not p.name.startswith(".")
            and p.suffix in (".png", ".svg")}


def plot_results(results: str | pathlib.Path, out: str | pathlib.Path | None = None,
                 force: bool = False, layer: str | None = None, partial: dict | None = None,
                 request: Request | None = None, notes: list[str] | None = None) -> list[str]:
    """Make every plot the bundle ``results`` supports (or, with ``request``, that one
    plot); write them (atomically) to ``out``, by default the folder :data:`PLOTS_DIR`
    inside ``results``.

    A folder ``eie-plot`` wrote is replaced without ``force`` (with ``request``, its
    other plots are kept); a folder of another tool only with ``force``; anything else
    never (:func:`eie_sim.output.folders.check_out`). Plots not drawn, and why, are
    appended to ``notes``; when nothing can be drawn nothing is written and ``[]`` is
    returned.

    ``partial``: the tables of a sweep folder not finished yet, built in memory
    (:func:`eie_sim.apps.sweep.read_partial`: ``files`` = CSV texts of ``sweep.csv``,
    ``points.csv``, ``pareto.csv``; ``summary``; ``note``), plotted instead of files
    (the tables and database are not read or touched), every title noting the partial
    sweep (n of N points)."""
    results = pathlib.Path(results)
    notes = [] if notes is None else notes
    if not results.is_dir():
        raise PlotError(f"{results}: results directory not found")
    out = pathlib.Path(out) if out is not None else results / PLOTS_DIR
    force = force or _own_plots(out)
    out = report.prepare_out_dir(out, force, reading=[results])
    if partial is not None:
        texts, summary = partial["files"], partial["summary"]
        tables = {n: _read_csv(results / f"sweep.db:{n}", SWEEP_COLUMNS if n == "sweep.csv" else (),
                               texts[n]) for n in ("sweep.csv", "points.csv", "pareto.csv")}
        files = _sweep_files(results, tables, summary, partial["note"], request, notes)
    else:
        files = _bundle_files(results, layer, request, notes)
    if not files:
        return []
    if request is not None:
        files = {**_kept(out), **files}
    report.write_bundle(out, files, force, tool="eie-plot", kind="plots", reading=[results])
    return [str(pathlib.Path(out) / n) for n in files]


def _summary(results: pathlib.Path) -> dict:
    if not (results / "summary.json").exists():
        return {}
    try:
        summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise PlotError(f"{results / 'summary.json'}: unreadable ({str(exc)[:200] or 'nested too deeply'})") from None
    if not isinstance(summary, dict):
        raise PlotError(f"{results / 'summary.json'}: not a bundle summary (a JSON object)")
    return summary


def _bundle_files(results: pathlib.Path, layer: str | None, request: Request | None,
                  notes: list[str]) -> dict[str, bytes]:
    summary = _summary(results)
    synthetic = bool(summary.get("synthetic"))
    files: dict[str, bytes] = {}
    found = False
    if (results / "sweep.csv").exists():
        found = True
        tables = {"sweep.csv": _read_csv(results / "sweep.csv", SWEEP_COLUMNS)}
        if (results / "points.csv").exists():      # eie-sweep's design-space plots
            tables["points.csv"] = _read_csv(results / "points.csv")
            tables["pareto.csv"] = (_read_csv(results / "pareto.csv")
                                    if (results / "pareto.csv").exists() else [])
        files.update(_sweep_files(results, tables, summary, "", request, notes))
    elif request is not None:
        raise PlotError(f"{results}: --x/--y plot a sweep's points; this is not a sweep "
                        f"folder (no sweep.csv)")
    if request is not None:
        return files
    if (results / "per_pe.csv").exists():
        found = True
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
    if not found and not files:
        raise PlotError(f"{results}: not a results bundle (no sweep.csv or per_pe.csv)")
    return files


def _sweep_files(results: pathlib.Path, tables: dict[str, list[dict]], summary: dict,
                 note: str, request: Request | None, notes: list[str]) -> dict[str, bytes]:
    """The plots of a sweep's tables (Fig. 8-13 for a grid; the design-space plots), or
    the one plot ``request`` asks for."""
    rows = tables["sweep.csv"]
    points = tables.get("points.csv")
    keys = list(summary.get("swept_keys") or
                [k for k in ("pes", "queue_depth", "spmat_width_bits") if rows and k in rows[0]])
    missing = [k for k in keys if rows and k not in rows[0]]
    if missing:
        raise PlotError(f"{results / 'sweep.csv'}: missing the swept column(s) {', '.join(missing)}")
    synthetic = bool(summary.get("synthetic"))
    if request is not None:
        return {request.file_name(): _requested(keys, rows, points, summary, note, request)}
    files: dict[str, bytes] = {}
    sweep = summary.get("sweep")
    searched = isinstance(sweep, dict) and ("search" in sweep or "random" in sweep)
    cfg = summary.get("config")
    base = cfg.get("arch") if isinstance(cfg, dict) and isinstance(cfg.get("arch"), dict) else {}
    ran = len({r.get("point") for r in rows if not r.get("error")})
    if searched:
        notes.append("no Fig. 8-13: a search's or random sample's points are not a grid")
    elif ran < 2:
        notes.append(f"no Fig. 8-13: {ran} point(s) ran (one dot per line says nothing)")
    else:                          # Fig. 8-13 need a grid; a search's points are not one
        files.update(sweep_plots(rows, keys, synthetic, note, base, notes))
    if points is not None:
        files.update(design_plots(points, tables.get("pareto.csv") or [], keys, synthetic, note,
                                  summary, notes))
    if not files and not notes:
        raise PlotError(f"{results}: the sweep varies {keys or 'nothing'}; plots exist for "
                        f"pes, queue_depth and spmat_width_bits")
    return files


def _requested(keys: list[str], rows: list[dict], points: list[dict] | None, summary: dict,
               note: str, req: Request) -> bytes:
    """The plot ``req`` asks for: from ``points.csv`` when it holds every metric (one row
    per point), else from ``sweep.csv`` (one row per point and layer: ``layer`` is one
    more key)."""
    if points and all(sf.column(points[0], y) for y in req.ys):
        t = table_of(points, keys, summary, note)
        ys = [sf.column(points[0], y) for y in req.ys]
    else:
        t = table_of(rows, ["layer"] + keys, summary, note)
        missing = [y for y in req.ys if rows and not sf.column(rows[0], y)]
        if missing:
            cols = [c for c in (points[0] if points else rows[0] if rows else {})
                    if c not in keys and c != "point"]
            raise PlotError(f"--y {', '.join(missing)}: no such column in points.csv or "
                            f"sweep.csv; columns of points.csv: {', '.join(cols)}")
        ys = [sf.column(rows[0], y) for y in req.ys]
    if req.x not in t.keys and (not t.rows or req.x not in t.rows[0]):
        raise PlotError(f"--x {req.x}: not a swept key; swept keys: {', '.join(t.keys)}")
    return sf.metric_figure(t, req.x, ys, req.colour, req.facet, req.fix, req.agg)
