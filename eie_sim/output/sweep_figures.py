"""Plots that stay readable however many keys a sweep varies (issue 28): any metric
against any swept key, energy and area by unit against a key, numeric heatmaps.

The rules every figure here follows:

* **A handful of lines per panel.** A panel draws one line per value of one *colour*
  key, at most :data:`MAX_LINES` of them (a numeric key's values evenly spread from its
  smallest to its largest; the figure's title says "6 of 9 values"). One more key may
  lay the panels out as small multiples (*facets*, at most :data:`MAX_FACETS` values).
  Every other key that varies is **fixed** at a stated value (the design point's value
  when it was swept, else the middle one) or, with ``agg``, **aggregated** (min, max or
  mean over its values); the title says which.
* **Numeric keys on numeric axes**, logarithmic (base 2 for powers of two) when the
  values span a factor of :data:`LOG_SPAN` or more (PEs 1..256); metrics on a log axis
  when they span a decade; colour scales logarithmic when the values span a decade.
* **Heatmaps with numeric axes**: one cell per value when a key has at most
  :data:`MAX_CELLS` values, otherwise binned (a search's sampled values), never one
  category per sampled value.
* **Points that do not fit their SRAMs** (a ``fits`` column that says false) are drawn
  hollow, said in the legend, and left out of heatmap cells and Pareto fronts.
* Failed points (an ``error``) are left out and counted in the title.
* **Every PNG at most** :data:`MAX_PX` **pixels a side** (:func:`png` lowers the
  resolution of a figure that would be larger).

The column names the plots read are in one table, :data:`COLUMNS`. Unit names in legends
are the snake_case names of :data:`eie_sim.arch.energy.ENERGY_PARTS` / ``AREA_PARTS``.
matplotlib is imported when a figure is drawn (it is slow to import).

The figures are here (:func:`metric_figure`, :func:`heatmap`, :func:`unit_stack_figure`);
the table, its columns, the axes of keys and the plan of a figure are in
:mod:`eie_sim.output.sweep_table`, the panels, legends, colours and PNG bytes in
:mod:`eie_sim.output.sweep_canvas` (their names are importable from here too).
"""
from __future__ import annotations

import math

from eie_sim.arch.energy import AREA_PARTS, ENERGY_COLUMN_PARTS
from eie_sim.errors import PlotError
from eie_sim.output.names import plot_text
from eie_sim.output.sweep_canvas import (BOTTOM_IN, GAP_IN, LEFT_IN, LEGEND_IN, MAX_PX,
                                         PANEL_IN, _colours, _log_values, _plt, legend, panels,
                                         png, png_size, wrap)
from eie_sim.output.sweep_table import (AGGREGATES, COLUMNS, LABELS, LOG_SPAN, MAX_FACETS,
                                        MAX_LINES, KeyAxis, Spec, Table, _null, _same, _spread,
                                        column, fits, join_notes, label, log_ticks, num, plan,
                                        show)

__all__ = ["COLUMNS", "LABELS", "MAX_LINES", "MAX_FACETS", "MAX_CELLS", "LOG_SPAN", "MAX_PX",
           "PANEL_IN", "LEFT_IN", "BOTTOM_IN", "LEGEND_IN", "GAP_IN", "AGGREGATES", "NOT_FIT",
           "png", "png_size", "panels", "legend", "num", "show", "fits", "column", "label",
           "wrap", "Table", "KeyAxis", "log_ticks", "Spec", "plan", "join_notes",
           "metric_figure", "heatmap", "unit_parts", "unit_stack_figure"]

MAX_CELLS = 16       #: heatmap cells per axis before values are binned
NOT_FIT = "hollow: point does not fit its SRAMs (column fits)"


def metric_figure(t: Table, x: str, ys: list[str], colour: str | None = None,
                  facet: str | None = None, fix: dict | None = None, agg: str | None = None,
                  title: str | None = None, derived: dict | None = None,
                  extra=None) -> bytes:
    """Metrics ``ys`` against the key ``x`` (rules: the module docstring); one row of
    panels per metric, one column per facet value. ``extra(ax, y, xs)`` draws more into a
    panel (e.g. an ideal line)."""
    s = plan(t, x, ys, colour, facet, fix, agg)
    plt = _plt()
    multi = len(ys) > 1
    ncols = len(s.facet_values) if multi else min(MAX_FACETS, len(s.facet_values))
    nrows = len(ys) if multi else math.ceil(len(s.facet_values) / ncols)
    if t.failed:
        s.notes.append(f"{t.failed} failed point(s) not shown")
    what = title or f"{', '.join(t.label(y) for y in ys)} vs {x}"
    width = PANEL_IN[0] * ncols + LEFT_IN + LEGEND_IN
    head = wrap(t.title(what) + ("\n" + "; ".join(s.notes) if s.notes else ""), width, 9)
    fig, axes = panels(nrows, ncols, head, sharex=True, sharey="row" if multi else True)
    xa = KeyAxis(x, t.values(x, s.rows))
    ca = KeyAxis(s.colour, s.colour_values) if s.colour else None
    colours = _colours(ca, s.colour_values)
    hollow_used = False
    handles: dict[str, object] = {}
    scale = None if t.grid else _colour_scale(s.rows, s.colour)
    cells = ([(y, fv) for y in ys for fv in s.facet_values] if multi
              else [(ys[0], fv) for fv in s.facet_values])
    for i, ax in enumerate(axes.flat):
        if i >= len(cells):
            ax.set_visible(False)
            continue
        y, fv = cells[i]
        sel = [r for r in s.rows if not s.facet or _same(r.get(s.facet, ""), fv)]
        if not t.grid:
            hollow_used |= _scatter(ax, sel, xa, y, s.colour, scale)
        else:
            for cv in s.colour_values:
                line = [r for r in sel if not s.colour or _same(r.get(s.colour, ""), cv)]
                pts = sorted((xa.coord(r[x]), num(r.get(y)), fits(r)) for r in line
                             if num(r.get(y)) is not None)
                if not pts:
                    continue
                c = colours[cv]
                h, = ax.plot([p[0] for p in pts], [p[1] for p in pts], "-", color=c, lw=1.3)
                ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=18, zorder=3,
                           facecolors=[("none" if p[2] is False else c) for p in pts],
                           edgecolors=[c] * len(pts), linewidths=1.0)
                hollow_used |= any(p[2] is False for p in pts)
                handles.setdefault(f"{s.colour} = {show(cv)}" if s.colour else plot_text(y), h)
        if extra is not None:
            extra(ax, y, sorted({xa.coord(r[x]) for r in sel}))
        xa.apply(ax, "x", labels=True)
        vals = [num(r.get(y)) for r in s.rows]
        if _log_values(vals):
            ax.set_yscale("log")
            log_ticks(ax.yaxis)
        ax.grid(True, alpha=0.3, which="major")
        if s.facet:
            ax.set_title(plot_text(f"{s.facet} = {show(fv)}"), fontsize=8)
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel(wrap(t.label(y), 2.3, 8), fontsize=8)
        below = i + ncols
        ax.tick_params(labelsize=7, labelbottom=below >= len(cells))
        if below >= len(cells):
            ax.set_xlabel(t.label(x), fontsize=8)
    if hollow_used:
        handles[NOT_FIT] = plt.Line2D([], [], ls="none", marker="o", mfc="none", mec="k")
    if extra is not None:
        for h, lab in zip(*axes.flat[0].get_legend_handles_labels()):
            handles.setdefault(lab, h)
    if handles and (len(handles) > 1 or s.colour):
        legend(fig, list(handles.values()), list(handles))
    if scale is not None:              # a search's colour key: a colour bar right of the panels
        sp = fig.subplotpars
        cax = fig.add_axes((sp.right + 0.02, sp.bottom, 0.015, (sp.top - sp.bottom) * 0.45))
        fig.colorbar(_plt().cm.ScalarMappable(norm=scale[0], cmap=scale[1]), cax=cax)
        cax.set_title(plot_text(s.colour), fontsize=7, loc="left")
        cax.tick_params(labelsize=7)
    return png(fig)


def _colour_scale(rows: list[dict], colour: str | None):
    """(norm, cmap) of a numeric colour key over ``rows`` (log where it spans a decade);
    None when there is no numeric colour key."""
    import matplotlib.colors as mcolors
    vals = [num(r.get(colour)) for r in rows] if colour else []
    if not vals or any(v is None for v in vals):
        return None
    lo, hi = min(vals), max(vals)
    norm = mcolors.LogNorm(lo, hi) if _log_values(vals) else mcolors.Normalize(lo, hi)
    return norm, _plt().get_cmap("viridis")


def _scatter(ax, rows, xa: KeyAxis, y: str, colour: str | None, scale) -> bool:
    """A search's points: ``y`` against ``x``, coloured by ``colour`` on ``scale``
    (:func:`_colour_scale`); non-fitting points hollow. Whether any was."""
    pts = [(xa.coord(r[xa.key]), num(r.get(y)), r) for r in rows if num(r.get(y)) is not None]
    if scale is not None:
        norm, cmap = scale
        cols = [cmap(norm(num(r.get(colour)))) for _, _, r in pts]
    else:
        cols = ["tab:blue"] * len(pts)
    ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=14,
               facecolors=[("none" if fits(p[2]) is False else c) for p, c in zip(pts, cols)],
               edgecolors=cols, linewidths=0.8)
    return any(fits(p[2]) is False for p in pts)


def _cell_edges(axis: KeyAxis, points: list[float]) -> list[float]:
    """Cell edges of a heatmap axis: around each value (<= MAX_CELLS values), else bins."""
    vals = sorted(set(points))
    tr = (math.log if axis.log else (lambda v: v))
    inv = (math.exp if axis.log else (lambda v: v))
    if len(vals) <= MAX_CELLS:
        if len(vals) == 1:
            return [inv(tr(vals[0]) - 0.5), inv(tr(vals[0]) + 0.5)]
        t = [tr(v) for v in vals]
        mids = [(a + b) / 2 for a, b in zip(t, t[1:])]
        return [inv(2 * t[0] - mids[0])] + [inv(m) for m in mids] + [inv(2 * t[-1] - mids[-1])]
    lo, hi = tr(vals[0]), tr(vals[-1])
    step = (hi - lo) / 12
    return [inv(lo + i * step) for i in range(13)]


def heatmap(t: Table, xkey: str, ykey: str, metric: str, best: str = "min",
            what: str = "") -> bytes:
    """A ``ykey`` x ``xkey`` map of ``metric`` on numeric axes, each cell the ``best``
    (min or max) over the points in it (the other keys' values, or a bin of a search's
    sampled values); points that do not fit their SRAMs are left out."""
    import matplotlib.colors as mcolors
    import numpy as np
    plt = _plt()
    ok = [r for r in t.ok if fits(r) is not False and num(r.get(metric)) is not None]
    dropped = sum(1 for r in t.ok if fits(r) is False)
    if not ok:
        raise PlotError(f"no point that fits its SRAMs has a {metric}")
    axes = {k: KeyAxis(k, t.values(k, ok)) for k in (xkey, ykey)}
    edges = {}
    for k, a in axes.items():
        if a.numeric:
            edges[k] = _cell_edges(a, [num(v) for v in a.values])
        else:
            edges[k] = [i - 0.5 for i in range(len(a.values) + 1)]
    fn = min if best == "min" else max
    nx, ny = len(edges[xkey]) - 1, len(edges[ykey]) - 1
    cells: dict[tuple[int, int], list[float]] = {}

    def index(k, v):
        a = axes[k]
        c = a.coord(v)
        e = edges[k]
        for i in range(len(e) - 1):
            if e[i] <= c <= e[i + 1] * (1 + 1e-12) or (i == len(e) - 2):
                return i
        return len(e) - 2
    for r in ok:
        cells.setdefault((index(ykey, r[ykey]), index(xkey, r[xkey])), []).append(num(r[metric]))
    grid = np.full((ny, nx), np.nan)
    for (i, j), v in cells.items():
        grid[i, j] = fn(v)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    vals = grid[~np.isnan(grid)]
    norm = (mcolors.LogNorm(vals.min(), vals.max()) if _log_values(list(vals))
            else mcolors.Normalize(vals.min(), vals.max()))
    mesh = ax.pcolormesh(edges[xkey], edges[ykey], np.ma.masked_invalid(grid), cmap="viridis",
                         norm=norm, shading="flat")
    fig.colorbar(mesh, ax=ax, label=what or t.label(metric))
    for k, which in ((xkey, "x"), (ykey, "y")):
        a = axes[k]
        if a.numeric and a.log:
            (ax.set_xscale if which == "x" else ax.set_yscale)("log", base=a.base)
        if a.numeric and len(a.values) <= MAX_CELLS:
            (ax.set_xticks if which == "x" else ax.set_yticks)(
                [num(v) for v in a.values], [show(v) for v in a.values], fontsize=7)
            (ax.xaxis if which == "x" else ax.yaxis).set_minor_locator(_null())
        elif a.numeric and a.log:
            log_ticks(ax.xaxis if which == "x" else ax.yaxis)
        elif not a.numeric:
            (ax.set_xticks if which == "x" else ax.set_yticks)(
                range(len(a.values)), [show(v) for v in a.values], fontsize=7)
    if nx * ny <= 80:
        for (i, j), v in cells.items():
            cx = _centre(edges[xkey], j, axes[xkey].log)
            cy = _centre(edges[ykey], i, axes[ykey].log)
            ax.text(cx, cy, f"{fn(v):.3g}", ha="center", va="center", fontsize=6,
                    color="black" if norm(fn(v)) > 0.6 else "white")
    ax.set_xlabel(t.label(xkey))
    ax.set_ylabel(t.label(ykey))
    other = [k for k in t.varied(ok) if k not in (xkey, ykey)]
    binned = any(a.numeric and len(a.values) > MAX_CELLS for a in axes.values())
    word = "lowest" if best == "min" else "highest"
    notes = [f"each cell: the {word} of the points in its bin (blank: none)" if binned
             else f"each cell: the {word}" + (f" over {', '.join(other)}" if other else "")]
    if dropped:
        notes.append(f"{dropped} point(s) that do not fit their SRAMs left out")
    if t.failed:
        notes.append(f"{t.failed} failed point(s) left out")
    ax.set_title(wrap(t.title(what or t.label(metric)) + "\n" + "; ".join(notes), 6.4, 9),
                 fontsize=9)
    return png(fig)


def _centre(edges, i, log):
    return math.sqrt(edges[i] * edges[i + 1]) if log else (edges[i] + edges[i + 1]) / 2


def unit_parts(t: Table, kind: str) -> list[tuple[str, str]]:
    """(unit name, column) of the energy (``kind="energy"``) or per-PE area parts the
    table holds."""
    header = t.header()
    if kind == "energy":
        parts = [(p, COLUMNS["energy_unit"][0].format(unit=p)) for p in ENERGY_COLUMN_PARTS]
    else:
        parts = [(p, COLUMNS["area_unit"][0].format(unit=p)) for p in AREA_PARTS]
    return [(p, c) for p, c in parts if c in header]


def unit_stack_figure(t: Table, x: str, kind: str, facet: str | None = None,
                      fix: dict | None = None) -> bytes:
    """Energy per inference (``kind="energy"``) or chip area (``"area"``: each per-PE unit
    x PEs, plus the LNZD tree) by unit against ``x``: stacked bars, and below them each
    unit's share; other keys fixed at stated values, one more as facets."""
    parts = unit_parts(t, kind)
    if not parts:
        raise PlotError(f"the table has no {kind}-by-unit columns")
    cols = [c for _, c in parts]
    names = [p for p, _ in parts]
    s = plan(t, x, cols, colour="none", facet=facet or None, fix=fix, auto=t.grid)
    pes_col = column(t.header(), "pes")
    lnzd = column(t.header(), "lnzd_area")

    def values(r) -> list[float]:
        v = [num(r.get(c)) or 0.0 for c in cols]
        if kind == "area":
            n = num(r.get(pes_col)) if pes_col else num(t.base.get("pes"))
            v = [a * (n or 1.0) for a in v] + ([num(r.get(lnzd)) or 0.0] if lnzd else [])
        return v
    if kind == "area" and lnzd:
        names = names + ["lnzd"]
    plt = _plt()
    ncols = len(s.facet_values)
    ncols = min(ncols, MAX_FACETS)
    fvals = _spread(s.facet_values, ncols) if s.facet and KeyAxis(s.facet, s.facet_values).numeric \
        else s.facet_values[:ncols]
    what = ("Energy per inference by unit" if kind == "energy"
            else "Chip area by unit (each per-PE unit x PEs, + the LNZD tree)")
    notes = s.notes + ([f"{s.facet}: {len(fvals)} of {len(s.facet_values)} values"]
                       if len(fvals) < len(s.facet_values) else [])
    if t.failed:
        notes.append(f"{t.failed} failed point(s) not shown")
    width = PANEL_IN[0] * ncols + LEFT_IN + LEGEND_IN
    head = wrap(t.title(f"{what} vs {x}") + ("\n" + "; ".join(notes) if notes else ""), width, 9)
    fig, axes = panels(2, ncols, head, sharex="col", sharey="row", height_ratios=(3, 2))
    colours = plt.get_cmap("tab10")
    xs = t.values(x, s.rows)
    for j, fv in enumerate(fvals):
        sel = [r for r in s.rows if not s.facet or _same(r.get(s.facet, ""), fv)]
        by_x = {r[x]: r for r in sel}
        pos = list(range(len(xs)))
        stacks = [values(by_x[v]) if v in by_x else [0.0] * len(names) for v in xs]
        tops = [sum(v) for v in stacks]
        bottom = [0.0] * len(xs)
        share_bottom = [0.0] * len(xs)
        for k, name in enumerate(names):
            h = [st[k] for st in stacks]
            axes[0, j].bar(pos, h, bottom=bottom, color=colours(k % 10), label=name, width=0.75)
            sh = [100 * a / tp if tp else 0.0 for a, tp in zip(h, tops)]
            axes[1, j].bar(pos, sh, bottom=share_bottom, color=colours(k % 10), width=0.75)
            bottom = [b + a for b, a in zip(bottom, h)]
            share_bottom = [b + a for b, a in zip(share_bottom, sh)]
        for p, v, tp in zip(pos, xs, tops):
            if v in by_x and fits(by_x[v]) is False:
                axes[0, j].bar(p, tp, width=0.75, fill=False, hatch="//", edgecolor="k", lw=0)
        if len(xs) <= 12:
            for p, tp in zip(pos, tops):
                axes[0, j].text(p, tp, f"{tp:.3g}", ha="center", va="bottom", fontsize=6)
        axes[1, j].set_xticks(pos, [show(v) for v in xs], fontsize=7,
                              rotation=30 if len(xs) > 6 else 0)
        axes[1, j].set_xlabel(t.label(x), fontsize=8)
        axes[1, j].set_ylim(0, 100)
        if s.facet:
            axes[0, j].set_title(plot_text(f"{s.facet} = {show(fv)}"), fontsize=8)
        for ax in axes[:, j]:
            ax.tick_params(labelsize=7)
            ax.grid(True, axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("energy per inference (uJ)" if kind == "energy" else "chip area (mm^2)",
                          fontsize=8)
    axes[1, 0].set_ylabel("share of the total (%)", fontsize=8)
    handles, labs = axes[0, 0].get_legend_handles_labels()
    if any(fits(r) is False for r in s.rows):
        import matplotlib.patches as mpatches
        handles.append(mpatches.Patch(fill=False, hatch="//", edgecolor="k"))
        labs.append("hatched: point does not fit its SRAMs (column fits)")
    legend(fig, handles, labs, title="unit")
    return png(fig)
