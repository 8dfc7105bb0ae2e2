"""The table side of the sweep figures (:mod:`eie_sim.output.sweep_figures`): the
columns the plots read (:data:`COLUMNS`, one table to change when a column is renamed) and
their labels, a sweep's rows with its keys and design point (:class:`Table`), how one key's
values map to a plot axis (:class:`KeyAxis`: numeric or not, logarithmic or not, ticks),
and the plan of a metric figure (:func:`plan`: which key colours the lines, which lays out
the panels, which are fixed at stated values or aggregated, and the notes the title gives).
matplotlib is imported only when an axis is drawn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

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
LOG_SPAN = 8.0       #: a numeric key whose largest / smallest value reaches this: log axis
AGGREGATES = {"min": min, "max": max, "mean": lambda v: sum(v) / len(v)}


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
