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
import re

from eie_sim.output.energy_plots import (
    area_bars,
    energy_area_markdown,
    energy_bars,
    has_energy_columns,
)
from eie_sim.output.plots import per_pe_plot, summary_facts
from eie_sim.output.names import safe_names
from eie_sim.output.timeline_plots import timeline_plots
from eie_sim.output.windows import read_windows

#: layers with a per-PE utilisation plot in report.html (the rest are listed)
MAX_PER_PE_PLOTS = 12

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
               ("energy (uJ)", "total_energy_uj", "{:,.3f}"), ("power (W)", "avg_power_w", "{:.3f}"))

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
             f"{summary.get('verified', False)})"]
    if arch:
        facts.append(f"{arch.get('pes')} PEs at {arch.get('clock_mhz')} MHz, queue depth "
                     f"{arch.get('queue_depth')}")
    if run.get("window"):
        facts.append(f"windows of {run['window']} cycles (windows.csv)")
    if summary.get("seeds"):
        facts.append(f"seeds: {summary['seeds']}")
    if summary.get("wall_s") is not None:
        facts.append(f"wall time: {float(summary['wall_s']):.2f} s")
    out.append("<ul>" + "".join(f"<li>{_e(f)}</li>" for f in facts) + "</ul>")

    layers = _csv(files, "layers.csv")
    if layers:
        out += ["<h2>Layers</h2>", layer_table(layers)]
        tot = summary.get("totals")
        if isinstance(tot, dict) and tot:
            out.append("<p>Totals: " + _e(", ".join(f"{k} = {v}" for k, v in tot.items())) + "</p>")
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
        out += ["<h2>Energy and area</h2>",
                f"<pre>{_e(energy_area_markdown(layers))}</pre>",
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
