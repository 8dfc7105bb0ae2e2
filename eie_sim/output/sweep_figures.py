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
"""
from __future__ import annotations

import io
import math
import textwrap
from dataclasses import dataclass, field

from eie_sim.arch.energy import AREA_PARTS, ENERGY_COLUMN_PARTS
from eie_sim.errors import PlotError
from eie_sim.output.names import plot_text

#: the columns the plots read, by role; the first name a table has is used (later names:
#: folders of earlier versions). The one place to change when a column is renamed.
COLUMNS: dict[str, tuple[str, ...]] = {
    "latency": ("time_us",),
    "energy": ("total_energy_uj", "energy_uj"),
    "area": ("chip_area_mm2",),
    "inferences_per_j": ("inferences_per_j",),
    "cycles": ("cycles",),
    "fits": ("fits", "point_fits"),
    "error": ("error",),
    "pes": ("pes",),
    "lnzd_area": ("lnzd_area_mm2",),
    "energy_unit": ("energy_{unit}_uj",),
    "area_unit": ("pe_area_{unit}_mm2",),
}
#: axis labels of well-known columns (others: the column name and its unit)
LABELS = {"time_us": "latency per inference (us)", "total_energy_uj": "energy per inference (uJ)",
          "energy_uj": "energy per inference (uJ)", "chip_area_mm2": "chip area (mm^2)",
          "inferences_per_j": "inferences / J", "inferences_per_s": "inferences / s",
          "cycles": "cycles per inference", "avg_power_w": "average power (W)",
          "pes": "PEs", "queue_depth": "queue depth (entries)",
          "spmat_width_bits": "Spmat SRAM width (bits)", "clock_mhz": "clock (MHz)"}
MAX_LINES = 6        #: lines per panel
MAX_FACETS = 4       #: panels side by side (small multiples)
MAX_CELLS = 16       #: heatmap cells per axis before values are binned
LOG_SPAN = 8.0       #: a numeric key whose largest / smallest value reaches this: log axis
MAX_PX = 2000        #: the largest side of any PNG written
PANEL_IN = (3.0, 2.2)  #: one panel (inches)
LEFT_IN, BOTTOM_IN, LEGEND_IN = 1.0, 0.65, 2.3   #: margins (inches)
GAP_IN = (0.35, 0.55)  #: between panels (inches): across, down
AGGREGATES = {"min": min, "max": max, "mean": lambda v: sum(v) / len(v)}
NOT_FIT = "hollow: point does not fit its SRAMs (column fits)"


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def png(fig, dpi: float = 110) -> bytes:
    """The figure as PNG, at most :data:`MAX_PX` pixels a side (the resolution lowered
    when needed: first from the figure's size, then, should the tight box still exceed
    it, from the image written), then closed. A figure of :func:`panels` (laid out in
    inches, ``fig._eie_laid_out``) is saved whole, without the tight box's extra
    drawing pass."""
    plt = _plt()
    dpi = min(dpi, (MAX_PX - 4) / (max(fig.get_size_inches()) + 0.2))
    tight = {} if getattr(fig, "_eie_laid_out", False) else {"bbox_inches": "tight",
                                                              "pad_inches": 0.1}
    for _ in range(3):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, **tight)
        data = buf.getvalue()
        side = max(png_size(data))
        if side <= MAX_PX:
            break
        dpi *= (MAX_PX - 4) / side
    plt.close(fig)
    return data


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels of PNG bytes (from the IHDR chunk)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def panels(nrows: int, ncols: int, title: str, sharex=True, sharey=True,
           height_ratios=None, legend_in: float = LEGEND_IN):
    """A figure of ``nrows`` x ``ncols`` panels laid out in inches (no layout engine:
    it is slow), ``title`` above them and room for a legend on the right."""
    plt = _plt()
    top = 0.4 + 0.18 * (title.count("\n") + 1)
    hr = list(height_ratios or [1] * nrows)
    pw, ph = PANEL_IN
    w = LEFT_IN + ncols * pw + (ncols - 1) * GAP_IN[0] + legend_in
    h = BOTTOM_IN + sum(hr) / max(hr) * ph + (nrows - 1) * GAP_IN[1] + top
    fig, axes = plt.subplots(nrows, ncols, figsize=(w, h), squeeze=False, sharex=sharex,
                             sharey=sharey, gridspec_kw={"height_ratios": hr})
    fig.subplots_adjust(left=LEFT_IN / w, right=(w - legend_in) / w, bottom=BOTTOM_IN / h,
                        top=(h - top) / h, wspace=GAP_IN[0] / pw, hspace=GAP_IN[1] / ph)
    fig.suptitle(title, fontsize=9, y=(h - 0.1) / h, va="top")
    fig._eie_laid_out = True
    return fig, axes


def legend(fig, handles: list, labels: list[str], title: str | None = None) -> None:
    """The figure's one legend, right of the panels (never over them)."""
    right = fig.subplotpars.right
    fig.legend(handles, [wrap(lab, 2.0, 7) for lab in labels], fontsize=7, title=title,
               title_fontsize=7, loc="upper left", bbox_to_anchor=(right + 0.01, fig.subplotpars.top))


def num(v) -> float | None:
    """``v`` as a finite float, else None."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def show(v) -> str:
    """A key's value as text: ``64``, ``0.05``, ``Alex-8``."""
    f = num(v)
    if f is None:
        return plot_text(str(v))[:40]
    return str(int(f)) if f.is_integer() and abs(f) < 1e15 else f"{f:.4g}"


def fits(row: dict) -> bool | None:
    """The row's ``fits`` flag (:data:`COLUMNS`); None when the table has none."""
    for c in COLUMNS["fits"]:
        v = str(row.get(c, "")).strip().lower()
        if v in ("true", "1", "yes"):
            return True
        if v in ("false", "0", "no"):
            return False
    return None


def column(header, role_or_name: str) -> str | None:
    """The column of a role of :data:`COLUMNS` (or a column name, or a name another
    version gave it) that ``header`` holds; None if it has none."""
    header = set(header)
    if role_or_name in header:
        return role_or_name
    for role, names in COLUMNS.items():
        if role_or_name == role or role_or_name in names:
            for n in names:
                if n in header:
                    return n
    return None


def label(col: str, units: dict | None = None) -> str:
    if col in LABELS:
        return LABELS[col]
    unit = (units or {}).get(col)
    return plot_text(f"{col} ({unit})" if unit else col)


def wrap(text: str, width_in: float, fontsize: float = 9) -> str:
    """``text`` wrapped to a figure ``width_in`` inches wide."""
    chars = max(30, int(width_in * 130 / fontsize))
    return "\n".join(textwrap.fill(part, chars) for part in text.split("\n"))


@dataclass
class Table:
    """Rows of a sweep's table and what the plots need to know about them."""

    rows: list[dict]                     #: every row (failed ones included), CSV text values
    keys: list[str]                      #: swept keys, in sweep order (+ ``layer``)
    base: dict = field(default_factory=dict)    #: the design point (a key's fixed value)
    units: dict = field(default_factory=dict)   #: column -> unit (summary.json)
    synthetic: bool = False
    note: str = ""                       #: e.g. "partial sweep: 37 of 240 points"
    grid: bool = True                    #: False: a search's or random sample's points
    labels: dict = field(default_factory=dict)  #: column -> axis label (beside LABELS)

    def label(self, col: str) -> str:
        return plot_text(self.labels[col]) if col in self.labels else label(col, self.units)

    @property
    def ok(self) -> list[dict]:
        err = column(self.rows[0], "error") if self.rows else None
        return [r for r in self.rows if not (err and r.get(err))]

    @property
    def failed(self) -> int:
        return len(self.rows) - len(self.ok)

    def header(self) -> list[str]:
        return list(self.rows[0]) if self.rows else []

    def values(self, key: str, rows: list[dict] | None = None) -> list[str]:
        """The distinct values of ``key``, numeric keys in numeric order."""
        vals = list(dict.fromkeys(r.get(key, "") for r in (self.ok if rows is None else rows)))
        if all(num(v) is not None for v in vals):
            return sorted(vals, key=lambda v: num(v))
        return vals

    def varied(self, rows: list[dict] | None = None) -> list[str]:
        return [k for k in self.keys if len(self.values(k, rows)) > 1]

    def default_value(self, key: str, values: list[str]) -> str:
        """The value a key is fixed at: the design point's when it is among ``values``,
        else the middle one."""
        b = self.base.get(key)
        for v in values:
            if b is not None and (v == str(b) or (num(v) is not None and num(v) == num(b))):
                return v
        return values[(len(values) - 1) // 2]

    def title(self, text: str) -> str:
        """A figure's title: ``text``, whether the matrices are synthetic, and the note
        on a line of its own (never broken by :func:`wrap`)."""
        return (plot_text(text) + (" (synthetic matrices)" if self.synthetic else "")
                + (f"\n[{plot_text(self.note)}]" if self.note else ""))


def _same(a: str, b: str) -> bool:
    return a == b or (num(a) is not None and num(a) == num(b))


def _filter(t: Table, rows: list[dict], fix: dict[str, str]) -> list[dict]:
    for k, v in fix.items():
        if rows and k not in rows[0]:
            raise PlotError(f"--fix {k}={v}: no column {k!r}; swept keys: {', '.join(t.keys)}")
        vals = t.values(k, rows)
        rows = [r for r in rows if _same(r.get(k, ""), str(v))]
        if not rows:
            raise PlotError(f"--fix {k}={v}: no point has {k} = {v}; its values: "
                            f"{', '.join(show(x) for x in vals)}")
    return rows


def _spread(values: list[str], n: int) -> list[str]:
    """At most ``n`` of ``values``, evenly spread, the first and the last kept."""
    if len(values) <= n:
        return values
    idx = sorted({round(i * (len(values) - 1) / (n - 1)) for i in range(n)})
    return [values[i] for i in idx]


@dataclass
class KeyAxis:
    """How one key's values map to a plot axis."""

    key: str
    values: list[str]

    @property
    def numeric(self) -> bool:
        return all(num(v) is not None for v in self.values)

    @property
    def log(self) -> bool:
        if not self.numeric:
            return False
        xs = [num(v) for v in self.values]
        return min(xs) > 0 and max(xs) / min(xs) >= LOG_SPAN

    @property
    def base(self) -> int:
        xs = [num(v) for v in self.values]
        return 2 if all(x.is_integer() and int(x) & (int(x) - 1) == 0 for x in xs) else 10

    def coord(self, v: str) -> float:
        return num(v) if self.numeric else float(self.values.index(v))

    def apply(self, ax, which: str = "x", labels: bool = True) -> None:
        """Scale and ticks of the axis ``which`` of ``ax`` for this key: a tick at each
        value (at most 12), else the scale's own."""
        set_scale = ax.set_xscale if which == "x" else ax.set_yscale
        axis = ax.xaxis if which == "x" else ax.yaxis
        if self.log:
            set_scale("log", base=self.base)
        if self.numeric and len(self.values) <= 12:
            axis.set_major_locator(_fixed([num(v) for v in self.values]))
            axis.set_major_formatter(_fmt())
            axis.set_minor_locator(_null())
        elif self.numeric and self.log:
            log_ticks(axis)
        elif not self.numeric:
            (ax.set_xticks if which == "x" else ax.set_yticks)(
                range(len(self.values)), [show(v) for v in self.values] if labels else [],
                rotation=30 if which == "x" and len(self.values) > 4 else 0)


def _fixed(values):
    import matplotlib.ticker
    return matplotlib.ticker.FixedLocator(values)


def _fmt():
    import matplotlib.ticker
    return matplotlib.ticker.FuncFormatter(lambda v, _pos: show(v))


def log_ticks(axis) -> None:
    """Ticks of a log axis at 1, 2, 5 x 10^n, labelled as plain numbers (no minor
    ticks: they are slow to draw and unlabelled)."""
    import matplotlib.ticker
    axis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=8))
    axis.set_major_formatter(_fmt())
    axis.set_minor_locator(_null())


def _null():
    import matplotlib.ticker
    return matplotlib.ticker.NullLocator()


def _log_values(vals: list[float]) -> bool:
    pos = [v for v in vals if v is not None]
    return bool(pos) and min(pos) > 0 and max(pos) / min(pos) >= 10


def _colours(axis: KeyAxis | None, values: list[str]) -> dict[str, object]:
    """A colour per value of the colour key: a sequential map for a numeric key
    (logarithmic where its values span a decade), distinct colours otherwise."""
    plt = _plt()
    if axis is None:
        return {v: "tab:blue" for v in values}
    if axis.numeric and len(values) > 1:
        xs = [num(v) for v in values]
        if _log_values(xs):
            lo, hi = math.log(min(xs)), math.log(max(xs))
            pos = [(math.log(x) - lo) / (hi - lo) for x in xs]
        else:
            lo, hi = min(xs), max(xs)
            pos = [(x - lo) / (hi - lo) if hi > lo else 0.0 for x in xs]
        cmap = plt.get_cmap("viridis")
        return {v: cmap(0.9 * p) for v, p in zip(values, pos)}
    cmap = plt.get_cmap("tab10")
    return {v: cmap(i % 10) for i, v in enumerate(values)}


def _aggregate(rows: list[dict], group: list[str], ys: list[str], how: str) -> list[dict]:
    """One row per value combination of ``group``: each of ``ys`` aggregated, ``fits``
    true only when every aggregated point fits."""
    fn = AGGREGATES[how]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(k, "") for k in group), []).append(r)
    out = []
    for key, rs in groups.items():
        row = dict(zip(group, key))
        for y in ys:
            vals = [num(r.get(y)) for r in rs if num(r.get(y)) is not None]
            row[y] = fn(vals) if vals else ""
        f = [fits(r) for r in rs]
        row["fits"] = "" if all(x is None for x in f) else str(all(x is not False for x in f)).lower()
        out.append(row)
    return out


@dataclass
class Spec:
    """What one metric figure shows, decided from the table and the request."""

    x: str
    ys: list[str]
    colour: str | None
    facet: str | None
    rows: list[dict]
    colour_values: list[str]
    facet_values: list[str]
    notes: list[str]


def plan(t: Table, x: str, ys: list[str], colour: str | None = None, facet: str | None = None,
         fix: dict | None = None, agg: str | None = None, auto: bool = True) -> Spec:
    """Decide a metric figure (see the module docstring): the rows, colour and facet
    keys and values, and the notes its title gives. ``colour``/``facet`` ``"none"``: not
    used; None with ``auto``: the next keys that vary."""
    fix = dict(fix or {})
    ok = t.ok
    if not ok:
        raise PlotError("no point without an error to plot")
    header = list(ok[0])
    if x not in header:
        raise PlotError(f"--x {x}: no such column; swept keys: {', '.join(t.keys)}")
    for y in ys:
        if y not in header:
            raise PlotError(f"--y {y}: no such column; numeric columns: "
                            f"{', '.join(c for c in header if c not in t.keys and num(ok[0].get(c)) is not None)}")
    if agg is not None and agg not in AGGREGATES:
        raise PlotError(f"--agg {agg}: one of {', '.join(AGGREGATES)}")
    notes = [f"fixed: {k}={show(v)}" for k, v in fix.items()]
    rows = _filter(t, ok, fix)
    if len(t.values(x, rows)) < 2:
        raise PlotError(f"{x} takes one value ({show(rows[0].get(x))}) among the points"
                        + (" left by --fix" if fix else "") + ": nothing to plot against it")
    others = [k for k in t.varied(rows) if k != x and k not in fix]
    for name, k in (("--color", colour), ("--facet", facet)):
        if k not in (None, "none") and k not in header:
            raise PlotError(f"{name} {k}: no such column; swept keys: {', '.join(t.keys)}")
    if colour is None and auto:
        colour = next((k for k in others if k != facet), None)
    if facet is None and auto and t.grid:
        facet = next((k for k in others if k != colour), None)
    colour, facet = (None if k == "none" else k for k in (colour, facet))
    if facet not in (None, "none") and facet == colour:
        raise PlotError(f"--facet {facet}: is the colour key too")
    for name, k in (("--color", colour), ("--facet", facet)):
        if k == x:
            raise PlotError(f"{name} {k}: is the x key too")
    rest = [k for k in others if k not in (colour, facet)]
    if not t.grid:
        notes.append("each dot a point of the search or random sample"
                     + (f"; {', '.join(rest)} vary freely" if rest else ""))
    elif agg:
        rows = _aggregate(rows, [k for k in (x, colour, facet) if k], ys, agg)
        notes.append(f"{agg} over {', '.join(rest)}" if rest else "")
    else:
        for k in rest:
            v = t.default_value(k, t.values(k, rows))
            rows = [r for r in rows if _same(r.get(k, ""), v)]
            notes.append(f"fixed: {k}={show(v)}")
    cvals = t.values(colour, rows) if colour else [""]
    if colour and len(cvals) > MAX_LINES and t.grid:
        if KeyAxis(colour, cvals).numeric:
            notes.append(f"{colour}: {MAX_LINES} of {len(cvals)} values")
            cvals = _spread(cvals, MAX_LINES)
        else:
            notes.append(f"{colour}: the first {MAX_LINES} of {len(cvals)} values")
            cvals = cvals[:MAX_LINES]
    fvals = t.values(facet, rows) if facet else [""]
    cap = MAX_FACETS if len(ys) > 1 else 3 * MAX_FACETS
    if facet and len(fvals) > cap:
        notes.append(f"{facet}: {cap} of {len(fvals)} values")
        fvals = _spread(fvals, cap) if KeyAxis(facet, fvals).numeric else fvals[:cap]
    return Spec(x, ys, colour, facet, rows, cvals, fvals, join_notes(notes))


def join_notes(notes: list[str]) -> list[str]:
    """The notes with every ``fixed: k=v`` merged into one ``fixed: k=v, k2=v2``."""
    fixed = [n[len("fixed: "):] for n in notes if n.startswith("fixed: ")]
    rest = [n for n in notes if n and not n.startswith("fixed: ")]
    return ([f"fixed: {', '.join(fixed)}"] if fixed else []) + rest


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
