"""Design-space plots of a sweep folder's ``points.csv`` (one row per point).

* ``pareto_latency_energy.png``: every point's latency (us per inference) against its
  energy (uJ per inference), coloured by chip area (mm^2), the Pareto front of
  ``pareto.csv`` drawn over them;
* ``heatmap_<y>_vs_<x>_<metric>.png``: for the first two swept keys with more than one
  value, a 2-D map of latency and of inferences/J, each cell the best value over the
  other swept keys (min latency, max inferences/J), failed cells blank.

An inference is one pass through the workload's layers. Figures of synthetic workloads
say so in their titles.
"""
from __future__ import annotations

import io
import math

from eie_sim.errors import PlotError
from eie_sim.output.names import plot_text


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def _f(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _tag(note: str) -> str:
    return f" [{note}]" if note else ""


def _ok(rows: list[dict]) -> list[dict]:
    return [r for r in rows if not r.get("error")]


def pareto_plot(points: list[dict], front: list[dict], synthetic: bool, note: str = "") -> bytes:
    """Latency vs energy of every point, coloured by chip area; the front as a line."""
    plt = _plt()
    ok = _ok(points)
    if not ok:
        raise PlotError("points.csv: no point without an error to plot")
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    sc = ax.scatter([_f(r["time_us"]) for r in ok], [_f(r["total_energy_uj"]) for r in ok],
                    c=[_f(r["chip_area_mm2"]) for r in ok], cmap="viridis", s=14, alpha=0.8)
    fig.colorbar(sc, ax=ax, label="chip area (mm^2)")
    fr = sorted(_ok(front), key=lambda r: (_f(r["time_us"]), _f(r["total_energy_uj"])))
    if fr:
        ax.scatter([_f(r["time_us"]) for r in fr], [_f(r["total_energy_uj"]) for r in fr],
                   facecolors="none", edgecolors="red", s=60, linewidths=1.2,
                   label=f"Pareto front ({len(fr)} points)")
        ax.legend(fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("latency per inference (us)")
    ax.set_ylabel("energy per inference (uJ)")
    ax.set_title("Design points: latency vs energy, colour = chip area"
                 + (" (synthetic matrices)" if synthetic else "") + _tag(note), fontsize=10)
    ax.grid(True, alpha=0.3, which="both")
    return _png(fig)


def _sortable(v: str):
    x = _f(v)
    return (0, x, "") if not math.isnan(x) else (1, 0.0, v)


def heatmap(points: list[dict], xkey: str, ykey: str, metric: str, best=min,
            label: str = "", synthetic: bool = False, note: str = "") -> bytes:
    """A ``ykey`` x ``xkey`` map of ``metric``, each cell the ``best`` over the other keys."""
    plt = _plt()
    xs = sorted({r[xkey] for r in points}, key=_sortable)
    ys = sorted({r[ykey] for r in points}, key=_sortable)
    cells: dict[tuple, list[float]] = {}
    for r in _ok(points):
        cells.setdefault((r[ykey], r[xkey]), []).append(_f(r[metric]))
    grid = [[best(cells[(y, x)]) if (y, x) in cells else math.nan for x in xs] for y in ys]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(xs) + 2), max(3.0, 0.45 * len(ys) + 1.5)))
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    fig.colorbar(im, ax=ax, label=label or metric)
    ax.set_xticks(range(len(xs)), [plot_text(v) for v in xs], rotation=45 if len(xs) > 8 else 0, fontsize=8)
    ax.set_yticks(range(len(ys)), [plot_text(v) for v in ys], fontsize=8)
    ax.set_xlabel(xkey)
    ax.set_ylabel(ykey)
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            if not math.isnan(v) and len(xs) * len(ys) <= 80:
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7, color="white")
    ax.set_title(f"{label or metric} ({'best' if best is min else 'best'} over the other keys)"
                 + (" (synthetic)" if synthetic else "") + _tag(note), fontsize=9)
    return _png(fig)


def design_plots(points: list[dict], front: list[dict], keys: list[str],
                 synthetic: bool, note: str = "") -> dict[str, bytes]:
    """Every design-space plot ``points.csv`` supports (see the module docstring);
    ``note`` (e.g. "partial sweep: 37 of 240 points") goes into every title."""
    need = ("time_us", "total_energy_uj", "chip_area_mm2", "inferences_per_j")
    if points and any(k not in points[0] for k in need):
        missing = [k for k in need if k not in points[0]]
        raise PlotError(f"points.csv: not a sweep table of this version: missing column(s) "
                        f"{', '.join(missing)}")
    out = {"pareto_latency_energy.png": pareto_plot(points, front, synthetic, note)}
    varied = [k for k in keys if points and k in points[0] and len({r[k] for r in points}) > 1]
    if len(varied) >= 2:
        x, y = varied[0], varied[1]
        out[f"heatmap_{y}_vs_{x}_latency.png"] = heatmap(
            points, x, y, "time_us", min, "latency per inference (us)", synthetic, note)
        out[f"heatmap_{y}_vs_{x}_inferences_per_j.png"] = heatmap(
            points, x, y, "inferences_per_j", max, "inferences / J", synthetic, note)
    return out
