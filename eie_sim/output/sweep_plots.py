"""Design-space plots of a sweep folder's ``points.csv`` (one row per point), chosen from
what was swept (drawn by :mod:`eie_sim.output.sweep_figures`, whose rules they follow:
a handful of lines per panel, the other keys fixed at stated values, numeric axes,
non-fitting points hollow and never on a front, every image at most 2000 px a side):

* ``pareto_latency_energy.png``: every point's latency (us per inference) against its
  energy (uJ per inference), coloured by chip area (mm^2, a log scale where it spans a
  decade), the Pareto front of ``pareto.csv`` circled (points that do not fit their
  SRAMs are drawn hollow and never circled);
* ``metrics_vs_<key>.png``, for each swept key that varies (at most
  :data:`MAX_X_KEYS`): latency, energy and chip area against it, one line per value of
  the next key, small multiples over the one after;
* ``heatmap_<y>_vs_<x>_latency.png`` and ``..._inferences_per_j.png``: the first two
  swept keys that vary, each cell the best value over the other keys (min latency, max
  inferences/J), on numeric axes (a search's sampled values binned);
* ``energy_by_unit_vs_<key>.png`` and ``area_by_unit_vs_<key>.png``: energy per
  inference and chip area split by unit against the first swept key (a grid only).

A sweep where fewer than two points ran draws no plot against a key (one dot says
nothing): the notes returned say why, and a single point gets its energy and area bars.
An inference is one pass through the workload's layers. Figures of synthetic workloads
say so in their titles.
"""
from __future__ import annotations

from eie_sim.errors import PlotError
from eie_sim.output import sweep_figures as sf
from eie_sim.output.energy_plots import area_bars, energy_bars, has_energy_columns

MAX_X_KEYS = 4         #: ``metrics_vs_<key>`` figures at most


def _scatter_pareto(t: sf.Table, front: list[dict], objectives: list[str] = ()) -> bytes:
    """Latency vs energy of every point, coloured by chip area; the front circled."""
    import matplotlib.colors as mcolors
    plt = sf._plt()
    lat, en, area = (sf.column(t.header(), r) for r in ("latency", "energy", "area"))
    ok = [r for r in t.ok if sf.num(r.get(lat)) is not None and sf.num(r.get(en)) is not None]
    fig, ax = plt.subplots(figsize=(6.6, 4.8))
    areas = [sf.num(r.get(area)) or 0.0 for r in ok]
    norm = (mcolors.LogNorm(min(areas), max(areas)) if sf._log_values(areas)
            else mcolors.Normalize(min(areas), max(areas)))
    fit = [r for r in ok if sf.fits(r) is not False]
    bad = [r for r in ok if sf.fits(r) is False]
    sc = ax.scatter([sf.num(r[lat]) for r in fit], [sf.num(r[en]) for r in fit],
                    c=[sf.num(r.get(area)) or 0.0 for r in fit], cmap="viridis", norm=norm,
                    s=14, alpha=0.85)
    fig.colorbar(sc, ax=ax, label="chip area (mm^2)")
    if bad:
        ax.scatter([sf.num(r[lat]) for r in bad], [sf.num(r[en]) for r in bad], s=16,
                   facecolors="none", edgecolors="0.45", linewidths=0.8,
                   label=f"does not fit its SRAMs ({len(bad)}; column fits): not on the front")
    fr_col_lat = sf.column(front[0], "latency") if front else None
    fr_col_en = sf.column(front[0], "energy") if front else None
    fr = sorted((r for r in front if sf.fits(r) is not False and not r.get("error")
                 and sf.num(r.get(fr_col_lat)) is not None),
                key=lambda r: (sf.num(r[fr_col_lat]), sf.num(r[fr_col_en])))
    left_out = sum(1 for r in front if sf.fits(r) is False)
    if fr:
        ax.scatter([sf.num(r[fr_col_lat]) for r in fr], [sf.num(r[fr_col_en]) for r in fr],
                   facecolors="none", edgecolors="red", s=60, linewidths=1.2,
                   label=f"Pareto front ({len(fr)} points; its objectives: "
                         f"{', '.join(objectives) or 'latency, energy, area'})")
    if fr or bad:
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xscale("log")
    ax.set_yscale("log")
    sf.log_ticks(ax.xaxis)
    sf.log_ticks(ax.yaxis)
    ax.set_xlabel(t.label(lat))
    ax.set_ylabel(t.label(en))
    notes = []
    if left_out:
        notes.append(f"{left_out} point(s) of pareto.csv that do not fit their SRAMs not drawn "
                     f"on the front")
    if t.failed:
        notes.append(f"{t.failed} failed point(s) not shown")
    ax.set_title(sf.wrap(t.title("Design points: latency vs energy, colour = chip area")
                         + ("\n" + "; ".join(notes) if notes else ""), 6.6, 9), fontsize=9)
    ax.grid(True, alpha=0.3, which="both")
    return sf.png(fig)


def _single_point(t: sf.Table) -> dict[str, bytes]:
    """Energy and area bars of a sweep's only point (a table of units, drawn)."""
    r = dict(t.ok[0])
    r["layer"] = "point " + ", ".join(f"{k}={sf.show(r.get(k))}" for k in t.keys) \
        if t.keys else "the point"
    if "pes" not in r and "pes" in t.base:
        r["pes"] = t.base["pes"]
    if not has_energy_columns([r]):
        return {}
    return {"energy_by_unit.png": energy_bars([r], "png", t.synthetic),
            "area_by_unit.png": area_bars(r, "png")}


def design_plots(points: list[dict], front: list[dict], keys: list[str], synthetic: bool,
                 note: str = "", summary: dict | None = None,
                 notes: list[str] | None = None) -> dict[str, bytes]:
    """The design-space plots ``points.csv`` supports (see the module docstring);
    ``note`` (e.g. "partial sweep: 37 of 240 points") goes into every title. Plots not
    drawn, and why, are appended to ``notes``."""
    notes = [] if notes is None else notes
    summary = summary or {}
    if points:
        missing = [r for r in ("latency", "energy", "area", "inferences_per_j")
                   if sf.column(points[0], r) is None]
        if missing:
            raise PlotError(f"points.csv: not a sweep table of this version: missing column(s) "
                            f"{', '.join(sf.COLUMNS[m][0] for m in missing)}")
    t = table_of(points, keys, summary, note)
    t.synthetic = t.synthetic or synthetic
    if not t.ok:
        raise PlotError("points.csv: no point without an error to plot")
    out: dict[str, bytes] = {}
    varied = t.varied()
    if len(t.ok) < 2 or not varied:
        notes.append(f"{len(t.ok)} point(s) ran: no Pareto plot and no plot against a key "
                     f"(one dot says nothing); the point's energy and area by unit instead")
        return _single_point(t)
    objectives = summary.get("pareto_objectives")
    out["pareto_latency_energy.png"] = _scatter_pareto(
        t, front, [str(o) for o in objectives] if isinstance(objectives, list) else [])
    ys = [sf.column(t.header(), r) for r in ("latency", "energy", "area")]
    numeric = [k for k in varied if sf.KeyAxis(k, t.values(k)).numeric] + \
              [k for k in varied if not sf.KeyAxis(k, t.values(k)).numeric]
    for x in numeric[:MAX_X_KEYS]:
        out[f"metrics_vs_{x}.png"] = sf.metric_figure(t, x, ys)
    if len(varied) > MAX_X_KEYS:
        notes.append(f"metrics_vs_<key> drawn for {', '.join(numeric[:MAX_X_KEYS])} only "
                     f"(eie-plot --x KEY draws any other)")
    if len(varied) >= 2:
        x, y = varied[0], varied[1]
        out[f"heatmap_{y}_vs_{x}_latency.png"] = sf.heatmap(
            t, x, y, ys[0], "min", "latency per inference (us)")
        out[f"heatmap_{y}_vs_{x}_inferences_per_j.png"] = sf.heatmap(
            t, x, y, sf.column(t.header(), "inferences_per_j"), "max", "inferences / J")
    if t.grid and sf.unit_parts(t, "energy"):
        x = varied[0]
        out[f"energy_by_unit_vs_{x}.png"] = sf.unit_stack_figure(t, x, "energy", "none")
        out[f"area_by_unit_vs_{x}.png"] = sf.unit_stack_figure(t, x, "area", "none")
    elif not t.grid:
        notes.append("no energy/area-by-unit bars against a key: a search's points are not on "
                     "a grid (eie-plot --x KEY --y energy_<unit>_uj plots a unit's energy)")
    return out


def table_of(points: list[dict], keys: list[str], summary: dict, note: str = "") -> sf.Table:
    """A :class:`~eie_sim.output.sweep_figures.Table` of ``points.csv`` rows: the design
    point and units from ``summary.json``; a search or random sample is not a grid."""
    cfg = summary.get("config")
    arch = cfg.get("arch") if isinstance(cfg, dict) else None
    sweep = summary.get("sweep")
    grid = not (isinstance(sweep, dict) and ("search" in sweep or "random" in sweep))
    units = summary.get("units") if isinstance(summary.get("units"), dict) else {}
    keys = [k for k in keys if not points or k in points[0]]
    return sf.Table(points, keys, arch if isinstance(arch, dict) else {}, units,
                    bool(summary.get("synthetic")), note, grid)
