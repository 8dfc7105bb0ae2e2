"""``report.html``: a results bundle as one self-contained page (docs/timeline.md).

:func:`report_html` renders the bundle's own files (``summary.json``, ``layers.csv``,
``per_pe.csv``, ``windows.csv``, ``report.md``, ``config.yaml``): the run's facts, the
per-layer table, totals and notes, the utilisation-over-time plots when windows were
recorded (the same figures ``eie-plot`` draws from the bundle), per-PE utilisation bars
(at most :data:`MAX_PER_PE_PLOTS` layers) and the configuration. Plots are inline SVG and
the style sheet is inline: the page needs no network access and no other file.
"""
from __future__ import annotations

import csv
import html
import io
import json
import math
import re

from eie_sim.arch.energy import AREA_PARTS, ENERGY_PARTS
from eie_sim.output.energy_plots import (
    PAPER_CHIP_AREA_MM2,
    PART_TITLES,
    area_bars,
    energy_bars,
    has_energy_columns,
)
from eie_sim.output.plots import per_pe_plot, summary_facts
from eie_sim.output.names import safe_names
from eie_sim.output.timeline_plots import timeline_plots
from eie_sim.output.windows import read_windows
from eie_sim.sim import columns

#: layers with a per-PE utilisation plot in report.html (the rest are listed)
MAX_PER_PE_PLOTS = 12

#: the layers.csv column of a layer's total energy (the one place this page names it)
TOTAL_ENERGY = "total_energy_uj"

#: (heading, layers.csv column or None for rows x cols, number format)
LAYER_TABLE = (("layer", "layer", None), ("size", None, None), ("cycles", "cycles", "{:,.0f}"),
               ("time (us)", "time_us", "{:,.2f}"), ("theor. (us)", "theoretical_time_us", "{:,.2f}"),
               ("load eff.", "load_efficiency", "{:.3f}"),
               ("busy / (N T)", "authors_efficiency", "{:.3f}"),
               ("real / total work", "real_over_total_work", "{:.3f}"),
               ("starved cycles", "starved_cycles", "{:,.0f}"),
               ("queue-full stalls", "queue_full_stalls", "{:,.0f}"),
               ("max queue", "max_queue_occupancy", "{:,.0f}"),
               ("broadcasts", "broadcasts", "{:,.0f}"),
               ("energy (uJ)", TOTAL_ENERGY, "{:,.3f}"), ("power (W)", "avg_power_w", "{:.3f}"))

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; } td.num { text-align: right; }
th { background: #f3f3f3; }
.note { background: #fff4d6; border: 1px solid #e6c65c; padding: .5em 1em; }
figure { margin: 1.5em 0; } figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 13px; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 12px; }
h3 { font-size: 1.05em; } .wide { overflow-x: auto; }
tr.unfit td { background: #fde8e8; } tr.failed td { background: #eee; color: #666; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _svg(data: bytes, prefix: str) -> str:
    """An SVG file's ``<svg>`` element (the XML declaration and DOCTYPE dropped), its ids
    and the references to them prefixed (ids are unique in the page)."""
    text = data.decode("utf-8")
    text = text[text.index("<svg"):]
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r'url\(#([^)]+)\)', rf'url(#{prefix}-\1)', text)
    return re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)


def figure(stem: str, caption: str, svg: bytes) -> str:
    """A plot as a ``<figure>``; ``stem`` is a file stem (names made safe by
    :func:`eie_sim.output.names.safe_names`, unique in the page), its ids are built from it."""
    return (f'<figure class="plot" id="plot-{_e(stem)}" data-plot="{_e(stem)}">'
            f'{_svg(svg, "s-" + stem)}<figcaption>{_e(caption)}</figcaption></figure>')


def _cell(value: str, fmt: str | None) -> str:
    if fmt is not None:
        try:
            return f'<td class="num">{_e(fmt.format(float(value)))}</td>'
        except (TypeError, ValueError):
            pass
    return f"<td>{_e(value)}</td>"


#: how a page writes the units of eie_sim.sim.columns (the one table of units)
SHORT_UNITS = {"microseconds": "us", "microjoules": "uJ", "picojoules": "pJ", "watts": "W",
               "clock cycles": "cycles", "multiply-accumulates": "MACs",
               "fraction 0..1": "fraction", "seconds": "s"}


def unit_of(key: str) -> str:
    """The unit of a figure named ``key`` as a page shows it
    (:func:`eie_sim.sim.columns.unit_of`, abbreviated; "" when none)."""
    unit = columns.unit_of(key)
    return SHORT_UNITS.get(unit, unit)


def number(v, digits: int = 4) -> str:
    """A value as a page shows it: integers with thousands separators, other numbers to
    ``digits`` significant digits (never a 16-digit float), text as it is."""
    if isinstance(v, bool) or v is None:
        return "" if v is None else ("yes" if v else "no")
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return v
        if v.strip().lower() in ("nan", "inf", "-inf", "infinity"):
            return v
        v = int(f) if f.is_integer() and "." not in v and "e" not in v.lower() else f
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return str(v)
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
            return f"{v:.{digits - 1}e}"
        return f"{v:,.{max(0, digits - 1 - _magnitude(v))}f}"
    return str(v)


def _magnitude(v: float) -> int:
    return int(math.floor(math.log10(abs(v)))) if v else 0


def html_table(head: list[str], rows: list[list], numeric: set[int] | None = None,
               row_class: list[str] | None = None, cls: str = "") -> str:
    """A ``<table>`` with one ``<th>`` per ``head`` entry and ``rows`` of cells (escaped;
    numbers through :func:`number`); ``numeric``: column indices aligned right (default:
    every cell that holds a number); ``row_class``: a class per row (e.g. ``unfit``)."""
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = []
    for i, r in enumerate(rows):
        cells = []
        for j, v in enumerate(r):
            num = (j in numeric) if numeric is not None else (
                isinstance(v, (int, float)) and not isinstance(v, bool))
            cells.append(f'<td class="num">{_e(number(v))}</td>' if num
                         else f"<td>{_e(number(v) if not isinstance(v, str) else v)}</td>")
        rc = f' class="{_e(row_class[i])}"' if row_class and row_class[i] else ""
        body.append(f"<tr{rc}>" + "".join(cells) + "</tr>")
    c = f' class="{_e(cls)}"' if cls else ""
    return f"<table{c}><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _quantity(key: str) -> str:
    """A figure's name in words, its unit suffix dropped (the unit has its own column)."""
    for suffix in ("_us", "_uj", "_pj", "_w", "_mm2", "_mhz", "_kb"):
        if key.endswith(suffix):
            key = key[:-len(suffix)]
            break
    return key.replace("_", " ")


def totals_table(totals: dict) -> str:
    """A run's totals (:func:`eie_sim.sim.results.network_totals`) as a table: quantity,
    value (rounded), unit."""
    rows = [[_quantity(k), v, unit_of(k)] for k, v in totals.items()
            if not isinstance(v, (dict, list))]
    return html_table(["quantity", "value", "unit"], rows, cls="totals")


def energy_area_tables(rows: list[dict]) -> str:
    """Energy of each layer by unit (uJ and share) and the area of one PE by unit, as
    HTML tables (the content of :func:`~eie_sim.output.energy_plots.energy_area_markdown`)."""
    model = rows[0].get("energy_model", "")
    head = ["layer"] + [f"{PART_TITLES[p]} (uJ)" for p in ENERGY_PARTS] + ["total (uJ)", "power (W)"]
    body = []
    for r in rows:
        tot = _float(r.get(TOTAL_ENERGY))
        cells = [r.get("layer", "")]
        for part in ENERGY_PARTS:
            v = _float(r.get(f"energy_{part}_uj"))
            cells.append(f"{number(v)} ({100 * v / tot:.1f} %)" if tot else number(v))
        body.append(cells + [number(tot), number(_float(r.get("avg_power_w")))])
    out = [f"<h3>Energy by unit (model: {_e(model)}; docs/energy.md)</h3>",
           html_table(head, body, numeric=set(range(1, len(head))), cls="energy")]
    r = rows[0]
    pe = _float(r.get("pe_total_area_mm2"))
    if pe:
        area = [[f"{PART_TITLES[p]} (one PE)", number(_float(r.get(f'pe_area_{p}_mm2'))),
                 f"{100 * _float(r.get(f'pe_area_{p}_mm2')) / pe:.1f} %"] for p in AREA_PARTS]
        area += [["one PE", number(pe), "100 %"],
                 ["LNZD tree (chip)", number(_float(r.get("lnzd_area_mm2"))), ""],
                 [f"chip ({r.get('pes')} PEs)", number(_float(r.get("chip_area_mm2"))),
                  f"paper: {PAPER_CHIP_AREA_MM2} mm^2 at 64 PEs (paper value)"]]
        out += [f"<h3>Area by unit (model: {_e(model)})</h3>",
                html_table(["part", "area (mm^2)", "share of a PE"], area, numeric={1},
                           cls="area")]
    return "\n".join(out)


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return 0.0


def layer_table(rows: list[dict]) -> str:
    head = "".join(f"<th>{_e(t)}</th>" for t, _, _ in LAYER_TABLE)
    body = []
    for r in rows:
        cells = [(_cell(f"{r.get('rows', '')} x {r.get('cols', '')}", None) if key is None
                  else _cell(r.get(key, ""), fmt)) for _, key, fmt in LAYER_TABLE]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _text(files: dict, name: str) -> str | None:
    v = files.get(name)
    return v.decode("utf-8") if isinstance(v, bytes) else v


def _csv(files: dict, name: str) -> list[dict] | None:
    text = _text(files, name)
    return None if text is None else list(csv.DictReader(io.StringIO(text)))


def _fit_fact(fit: dict) -> str:
    """One line on whether the run's layers fit the per-PE SRAMs (``summary.json`` ``fit``)."""
    need = ", ".join(f"{k.removeprefix('needed_')} {number(v)}" for k, v in fit.items()
                     if k.startswith("needed_"))
    if fit.get("fits"):
        return "the layers fit the per-PE SRAMs" + (f" (one PE needs {need})" if need else "")
    return ("the layers do NOT fit the per-PE SRAMs: simulated without the fit check "
            "(--no-fit-check) and priced with the configured SRAMs"
            + (f"; one PE would need {need}" if need else ""))


def report_html(files: dict[str, str | bytes]) -> str:
    """The page of a bundle given as its files (name -> contents)."""
    summary = json.loads(_text(files, "summary.json") or "{}")
    synthetic = bool(summary.get("synthetic"))
    network, queue_depth = summary_facts(summary)
    title = summary.get("title", "run")
    out = [f"<h1>EIE simulation: {_e(title)}</h1>"]
    if synthetic:
        out.append(f'<p class="note">{_e(summary.get("note", "Synthetic matrices."))}</p>')
    cfg = summary.get("config") if isinstance(summary.get("config"), dict) else {}
    arch = cfg.get("arch") if isinstance(cfg.get("arch"), dict) else {}
    run = cfg.get("run") if isinstance(cfg.get("run"), dict) else {}
    facts = [f"engine: {summary.get('engine')} (verified against the other engine: "
             f"{'yes' if summary.get('verified') else 'no'})"]
    if arch:
        facts.append(f"{arch.get('pes')} PEs at {arch.get('clock_mhz')} MHz, queue depth "
                     f"{arch.get('queue_depth')}")
    fit = summary.get("fit")
    if isinstance(fit, dict) and "fits" in fit:
        facts.append(_fit_fact(fit))
    if run.get("window"):
        facts.append(f"windows of {run['window']} cycles (windows.csv)")
    if isinstance(summary.get("seeds"), dict) and summary["seeds"]:
        facts.append("seeds: " + ", ".join(f"{k} {v}" for k, v in summary["seeds"].items()))
    if summary.get("wall_s") is not None:
        facts.append(f"wall time: {float(summary['wall_s']):.2f} s")
    out.append("<ul>" + "".join(f"<li>{_e(f)}</li>" for f in facts) + "</ul>")

    layers = _csv(files, "layers.csv")
    if layers:
        out += ["<h2>Layers</h2>", layer_table(layers)]
        tot = summary.get("totals")
        if isinstance(tot, dict) and tot:
            out += ["<h2>Totals</h2>", totals_table(tot)]
    else:
        md = _text(files, "report.md")
        if md:
            out += ["<h2>Report</h2>", f"<pre>{_e(md)}</pre>"]
    notes = summary.get("notes") or []
    if notes:
        out.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")

    windows = _text(files, "windows.csv")
    if windows is not None:
        out.append("<h2>Utilisation over time</h2>")
        for plot in timeline_plots(read_windows(windows), ("svg",), synthetic, network, queue_depth):
            out.append(figure(plot.stem, plot.caption, plot.data["svg"]))
    elif layers:
        out += ["<h2>Utilisation over time</h2>",
                "<p>Not recorded: run with <code>--window W</code> (<code>run.window</code>) for "
                "the per-window plots (docs/timeline.md).</p>"]

    per_pe = _csv(files, "per_pe.csv")
    if per_pe:
        names = list(dict.fromkeys(r["layer"] for r in per_pe))
        out.append("<h2>Per-PE utilisation</h2>")
        safe = safe_names(names)
        for name in names[:MAX_PER_PE_PLOTS]:
            out.append(figure(f"per_pe_{safe[name].file}", f"Layer {name}: cycles of each PE",
                              per_pe_plot(per_pe, name, synthetic, "svg")))
        if len(names) > MAX_PER_PE_PLOTS:
            out.append(f"<p>Per-PE plots of the first {MAX_PER_PE_PLOTS} layers only; "
                       f"<code>eie-plot</code> draws every layer. Not shown: "
                       f"{_e(', '.join(names[MAX_PER_PE_PLOTS:]))}.</p>")

    if layers and has_energy_columns(layers):
        out += ["<h2>Energy and area</h2>", energy_area_tables(layers),
                figure("energy_by_unit", "Energy of each layer by unit (docs/energy.md)",
                       energy_bars(layers, "svg", synthetic)),
                figure("area_by_unit", "Area of one PE by unit", area_bars(layers[0], "svg"))]

    yaml_text = _text(files, "config.yaml")
    if yaml_text:
        out += ["<h2>Configuration</h2>",
                f"<details><summary>config.yaml (rerun with <code>eie-simulate --config "
                f"config.yaml</code>)</summary><pre>{_e(yaml_text)}</pre></details>"]
    listed = sorted(set(files) | {"report.html"})
    out += ["<h2>Files of this bundle</h2>",
            "<ul>" + "".join(f"<li><code>{_e(n)}</code></li>" for n in listed) + "</ul>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>EIE simulation: {_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(out) + "\n</body>\n</html>\n")


def with_report_html(files: dict[str, str | bytes]) -> dict[str, str | bytes]:
    """``files`` plus ``report.html``."""
    return {**files, "report.html": report_html(files)}
