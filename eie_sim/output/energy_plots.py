"""Energy by unit and area by unit of a run: Markdown tables and plots (docs/energy.md).

From the ``energy_<unit>_uj`` and ``pe_area_<unit>_mm2`` columns of ``layers.csv`` rows
(:data:`eie_sim.sim.results.ENERGY_AREA_COLUMNS`; numbers or their CSV text):

* :func:`energy_area_markdown`: per layer the energy of each paper Table II unit (+ the
  LNZD tree and static/leakage energy) with its share, and the area of each unit of one
  PE and of the chip beside the paper's 40.8 mm^2 (a paper value);
* :func:`energy_bars`: stacked energy bars per layer; :func:`area_bars`: area bars of
  one PE's units.
"""
from __future__ import annotations

import io

from eie_sim.arch.energy import AREA_PARTS, ENERGY_PARTS
from eie_sim.output.names import markdown_text, plot_text

#: the label of each part: its one spelling, the name in the columns (eie_sim.arch.energy
#: UNITS; the paper's Table II names appear only in docs/energy.md's comparison table)
PART_TITLES = {p: p for p in ENERGY_PARTS + AREA_PARTS + ("dram",)}
PAPER_CHIP_AREA_MM2 = 40.8     # paper value (Table V, EIE 64 PEs)
COLOURS = ("tab:olive", "tab:purple", "tab:blue", "tab:orange", "tab:green", "tab:brown",
           "tab:gray", "tab:pink")


def _f(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def has_energy_columns(rows: list[dict]) -> bool:
    return bool(rows) and all(_f(rows[0].get(f"energy_{p}_uj")) is not None for p in ENERGY_PARTS)


def energy_area_markdown(rows: list[dict]) -> str:
    """The two Markdown tables ("" when the rows carry no energy columns)."""
    if not has_energy_columns(rows):
        return ""
    model = rows[0].get("energy_model", "")
    out = [f"## Energy by unit (model: {model}; docs/energy.md)", "",
           "| layer | " + " | ".join(f"{PART_TITLES[p]} (uJ)" for p in ENERGY_PARTS)
           + " | total (uJ) | power (W) |",
           "|" + "---|" * (len(ENERGY_PARTS) + 3)]
    for r in rows:
        tot = _f(r.get("total_energy_uj")) or 0.0
        cells = []
        for p in ENERGY_PARTS:
            v = _f(r.get(f"energy_{p}_uj")) or 0.0
            cells.append(f"{v:.4g} ({100 * v / tot:.1f} %)" if tot else f"{v:.4g}")
        out.append(f"| {markdown_text(r.get('layer'))} | " + " | ".join(cells)
                   + f" | {tot:.4g} | {_f(r.get('avg_power_w')) or 0.0:.3f} |")
    r = rows[0]
    pe = _f(r.get("pe_total_area_mm2"))
    if pe is not None:
        out += ["", f"## Area by unit (model: {model})", "",
                "| part | area (mm^2) | share of a PE |", "|---|---|---|"]
        for p in AREA_PARTS:
            v = _f(r.get(f"pe_area_{p}_mm2")) or 0.0
            out.append(f"| {PART_TITLES[p]} (one PE) | {v:.4f} | {100 * v / pe:.1f} % |")
        chip = _f(r.get("chip_area_mm2")) or 0.0
        out += [f"| one PE | {pe:.4f} | 100 % |",
                f"| lnzd (chip) | {_f(r.get('lnzd_area_mm2')) or 0.0:.4f} | |",
                f"| chip ({r.get('pes')} PEs) | {chip:.2f} | paper: {PAPER_CHIP_AREA_MM2} mm^2 at 64 PEs "
                f"(paper value) |"]
    return "\n".join(out) + "\n"


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, fmt: str) -> bytes:
    plt = _plt()
    buf = io.BytesIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "eie-sim"}):
        fig.savefig(buf, format=fmt, dpi=110, bbox_inches="tight",
                    metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)
    return buf.getvalue()


def energy_bars(rows: list[dict], fmt: str = "png", synthetic: bool = False) -> bytes:
    """Stacked bars: each layer's energy split by unit (uJ)."""
    plt = _plt()
    names = [plot_text(r.get("layer")) for r in rows]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(rows) + 2), 4.2))
    bottom = [0.0] * len(rows)
    dram = any(_f(r.get("energy_dram_uj")) for r in rows)     # a layer streamed from DRAM
    for p, colour in zip(ENERGY_PARTS + (("dram",) if dram else ()), COLOURS):
        v = [_f(r.get(f"energy_{p}_uj")) or 0.0 for r in rows]
        ax.bar(range(len(rows)), v, bottom=bottom, color=colour, label=PART_TITLES[p], width=0.7)
        bottom = [b + x for b, x in zip(bottom, v)]
    ax.set_xticks(range(len(rows)), names, rotation=30 if len(rows) > 4 else 0, fontsize=8)
    ax.set_ylabel("energy (uJ)")
    model = plot_text(rows[0].get("energy_model", "")) if rows else ""
    ax.set_title(f"Energy by unit per layer (model: {model})"
                 + (" (synthetic matrices)" if synthetic else ""), fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, fmt)


def area_bars(row: dict, fmt: str = "png") -> bytes:
    """Bars: the area of each unit of one PE (mm^2)."""
    plt = _plt()
    v = [_f(row.get(f"pe_area_{p}_mm2")) or 0.0 for p in AREA_PARTS]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.bar(range(len(v)), v, color=COLOURS[:len(v)])
    ax.set_xticks(range(len(v)), [PART_TITLES[p] for p in AREA_PARTS], fontsize=8)
    for i, x in enumerate(v):
        ax.text(i, x, f"{x:.3g}", ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("area of one PE (mm^2)")
    ax.set_title(f"Area by unit of one PE (model: {plot_text(row.get('energy_model', ''))}); chip "
                 f"{_f(row.get('chip_area_mm2')) or 0.0:.2f} mm^2 at {row.get('pes')} PEs", fontsize=10)
    return _save(fig, fmt)
