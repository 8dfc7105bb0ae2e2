"""``report.html`` of a sweep folder: the sweep as one self-contained page.

:func:`sweep_report_html` renders the folder's own files: ``summary.json`` (what was
swept, seeds, the fit rules, the baselines), ``points.csv`` and ``pareto.csv`` (the
points and the front), and every PNG plot found in the folder (``*.png`` and one level of
sub-folders, whatever wrote them: the names are globbed, not assumed), embedded as
base64 ``data:`` images. Sections: what was swept, the Pareto front, the best points
(among the points that rank: they ran and fit the SRAMs, or were priced with the SRAMs
they need, :mod:`eie_sim.sim.sram_fit`), the plots, the points that failed or do not fit
and why, every point (non-fitting rows marked), the files. Style sheet inline; no script,
no link, nothing fetched.

``eie-sweep`` writes it with the exported files (atomically, like them);
:func:`write_sweep_report` rewrites it in place (e.g. after plots were added to the
folder). The columns it reads are named once, in :data:`COLUMNS`.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import pathlib

from compressor.fileio import atomic_write
from eie_sim.errors import BundleError
from eie_sim.output import folders
from eie_sim.output.html import CSS, html_table
from eie_sim.sim import sram_fit

#: the points.csv columns the page reads: role -> column (one place to rename them)
COLUMNS = {"time": "time_us", "energy": "total_energy_uj", "area": "chip_area_mm2",
           "cycles": "cycles", "power": "avg_power_w", "inf_per_s": "inferences_per_s",
           "inf_per_j": "inferences_per_j", "inf_per_s_mm2": "inferences_per_s_per_mm2",
           "error": "error", "point": "point", "fits": "fits", "handling": "fit_handling"}
#: the figures of the point tables: (heading, role)
FIGURES = (("cycles", "cycles"), ("latency (us)", "time"), ("energy (uJ)", "energy"),
           ("chip area (mm^2)", "area"), ("power (W)", "power"), ("inferences / J", "inf_per_j"),
           ("inferences / s / mm^2", "inf_per_s_mm2"))
#: the best points: (criterion, role, lowest is best)
BEST = (("lowest latency", "time", True), ("lowest energy", "energy", True),
        ("smallest chip", "area", True), ("most inferences / J", "inf_per_j", False),
        ("most inferences / s / mm^2", "inf_per_s_mm2", False))
#: most rows of the table of every point (the rest are in points.csv)
MAX_POINT_ROWS = 500
#: the largest PNG embedded (bytes); a bigger one is listed, not embedded
MAX_PNG_BYTES = 8 << 20
#: PNG files embedded at most
MAX_PLOTS = 60


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _csv(text: str | None) -> list[dict]:
    return [] if not text else list(csv.DictReader(io.StringIO(text)))


def _f(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def find_plots(folder: pathlib.Path) -> dict[str, bytes]:
    """The PNG files of ``folder`` and of its sub-folders one level down (relative name ->
    bytes), sorted by name; files too large, links and unreadable files are left out."""
    out: dict[str, bytes] = {}
    paths = sorted(list(folder.glob("*.png")) + list(folder.glob("*/*.png")))
    for p in paths[:MAX_PLOTS]:
        try:
            if p.is_symlink() or not p.is_file() or p.stat().st_size > MAX_PNG_BYTES:
                continue
            data = p.read_bytes()
        except OSError:
            continue
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            out[p.relative_to(folder).as_posix()] = data
    return out


def _keys_cells(r: dict, keys: list[str]) -> list:
    return [r.get(k, "") for k in keys]


def _fig_cells(r: dict) -> list:
    return [_f(r.get(COLUMNS[role])) if not r.get(COLUMNS["error"]) else ""
            for _, role in FIGURES]


def _fit_cell(r: dict) -> str:
    h = r.get(COLUMNS["handling"], "")
    if r.get(COLUMNS["fits"]) in ("true", True) or (not h and not r.get(COLUMNS["error"])):
        return "fits"
    return f"does not fit: {h}" if h and h != "unknown" else (h or "")


def _row_class(r: dict) -> str:
    if r.get(COLUMNS["error"]):
        return "failed"
    return "" if sram_fit.row_ranked(r) and r.get(COLUMNS["handling"], "") == "" else "unfit"


def _points_table(rows: list[dict], keys: list[str], limit: int | None = None) -> str:
    shown = rows if limit is None else rows[:limit]
    head = ["point"] + keys + ["SRAM fit"] + [h for h, _ in FIGURES]
    body = [[r.get(COLUMNS["point"], "")] + _keys_cells(r, keys) + [_fit_cell(r)] + _fig_cells(r)
            for r in shown]
    nkeys = 1 + len(keys) + 1
    table = html_table(head, body, numeric={0} | set(range(nkeys, len(head))),
                       row_class=[_row_class(r) for r in shown])
    more = (f"<p>{len(rows) - len(shown)} more points in <code>points.csv</code>.</p>"
            if len(shown) < len(rows) else "")
    return f'<div class="wide">{table}</div>{more}'


def _swept(summary: dict) -> str:
    sweep = summary.get("sweep") if isinstance(summary.get("sweep"), dict) else {}
    rows = []
    for k, v in sweep.items():
        if k == "random" and isinstance(v, dict):
            rows.append(["random sample", f"{v.get('samples')} points of the cross product, "
                                          f"seed {v.get('seed')}"])
        elif k == "search" and isinstance(v, dict):
            space = v.get("space") if isinstance(v.get("space"), dict) else {}
            rows.append(["search", f"{v.get('method')}, {v.get('trials')} trials, seed "
                                   f"{v.get('seed')}, objectives {', '.join(v.get('objectives', []))}"])
            rows += [[f"search space: {sk}", json.dumps(sv)] for sk, sv in space.items()]
        else:
            vals = v if isinstance(v, list) else [v]
            # the values as the user gave them (0.1 stays 0.1)
            rows.append([k, ", ".join(json.dumps(x) if isinstance(x, (list, str)) else str(x)
                                      for x in vals)])
    return html_table(["key", "values"], rows, numeric=set())


def _facts(summary: dict, points: list[dict]) -> list[str]:
    fit = summary.get("fit") if isinstance(summary.get("fit"), dict) else {}
    failed = summary.get("failed_points") or []
    unfit = fit.get("not_fitting_points") or []
    cfg = summary.get("config") if isinstance(summary.get("config"), dict) else {}
    run = cfg.get("run") if isinstance(cfg.get("run"), dict) else {}
    facts = [f"{len(points)} points: {len(points) - len(failed)} ran, {len(failed)} failed; "
             f"{len(unfit)} do not fit the per-PE SRAMs",
             "points that do not fit the SRAMs: " + (
                 "refused (run.check_fit: true): failed points" if fit.get("check_fit", True)
                 else "priced with the SRAMs they would need and kept on the front "
                      "(run.unfit_points: resize)" if fit.get("unfit_points") == "resize"
                 else "priced with the configured SRAMs, marked and left out of the Pareto "
                      "front and the best points (run.unfit_points: exclude)"),
             f"engine: {summary.get('engine')} (verified against the other engine: "
             f"{'yes' if summary.get('verified') else 'no'})"]
    if isinstance(summary.get("seeds"), dict):
        facts.append("seeds: " + ", ".join(f"{k} {v}" for k, v in summary["seeds"].items()))
    if run.get("energy_table"):
        facts.append(f"energy table: {run['energy_table']}")
    if summary.get("inference"):
        facts.append(str(summary["inference"]))
    if summary.get("note_partial"):
        facts.append(str(summary["note_partial"]))
    return facts


def _best(points: list[dict], keys: list[str]) -> str:
    ranked = [r for r in points if sram_fit.row_ranked(r)]
    rows = []
    for what, role, low in BEST:
        col = COLUMNS[role]
        have = [r for r in ranked if _f(r.get(col)) is not None]
        if not have:
            continue
        pick = (min if low else max)(have, key=lambda r: _f(r[col]))    # ties: the first
        rows.append([what, _f(pick[col]), pick.get(COLUMNS["point"], "")]
                    + _keys_cells(pick, keys) + [_fit_cell(pick)])
    if not rows:
        return "<p>No point ran and fits the SRAMs.</p>"
    return html_table(["criterion", "value", "point"] + keys + ["SRAM fit"], rows,
                      numeric={1, 2})


def _problems(points: list[dict], keys: list[str]) -> str:
    bad = [r for r in points if r.get(COLUMNS["error"]) or _row_class(r) == "unfit"]
    if not bad:
        return "<p>Every point ran and fits the per-PE SRAMs.</p>"
    need = [c for c in sram_fit.NEEDED if bad and c in bad[0]]
    head = ["point"] + keys + ["SRAM fit"] + [c.replace("_", " ") for c in need] + ["why"]
    body = []
    for r in bad:
        why = r.get(COLUMNS["error"]) or sram_fit.HANDLING_TEXT.get(r.get(COLUMNS["handling"], ""), "")
        body.append([r.get(COLUMNS["point"], "")] + _keys_cells(r, keys) + [_fit_cell(r)]
                    + [_f(r.get(c)) if _f(r.get(c)) is not None else "" for c in need] + [why])
    n0 = 1 + len(keys) + 1
    return '<div class="wide">' + html_table(
        head, body, numeric={0} | set(range(n0, n0 + len(need))),
        row_class=[_row_class(r) for r in bad]) + "</div>"


def _baselines(summary: dict) -> str:
    b = summary.get("baselines") if isinstance(summary.get("baselines"), dict) else {}
    items = [f"<li><code>{_e(k)}</code>: {_e(v.get('why', ''))}</li>" for k, v in b.items()
             if isinstance(v, dict)]
    if not items:
        return ""
    return ("<h2>Where relative figures start</h2><p>A figure relative to the smallest "
            "value of a key (e.g. the speedup over the fewest PEs) starts at the smallest "
            "value whose points ran and fit the SRAMs:</p><ul>" + "".join(items) + "</ul>")


def _plots(plots: dict[str, bytes]) -> str:
    if not plots:
        return ("<p>No plots in this folder yet: <code>eie-plot</code> draws them from its "
                "tables; the page shows the PNG files found in the folder when it is "
                "written.</p>")
    out = []
    for name, data in plots.items():
        b64 = base64.b64encode(data).decode("ascii")
        out.append(f'<figure class="plot" data-plot="{_e(name)}"><img alt="{_e(name)}" '
                   f'src="data:image/png;base64,{b64}"><figcaption>{_e(name)}</figcaption></figure>')
    return "\n".join(out)


def sweep_report_html(files: dict[str, str | bytes], plots: dict[str, bytes] | None = None) -> str:
    """The page of a sweep folder given as its files (name -> contents: ``summary.json``,
    ``points.csv``, ``pareto.csv``, ``config.yaml``) and its PNG plots (name -> bytes)."""
    def text(name):
        v = files.get(name)
        return v.decode("utf-8") if isinstance(v, bytes) else v
    summary = json.loads(text("summary.json") or "{}")
    points, front = _csv(text("points.csv")), _csv(text("pareto.csv"))
    keys = [k for k in summary.get("swept_keys", []) if isinstance(k, str)]
    title = summary.get("title", "sweep")
    objectives = ", ".join(summary.get("pareto_objectives", []))
    out = [f"<h1>EIE sweep: {_e(title)}</h1>"]
    if summary.get("synthetic"):
        out.append(f'<p class="note">{_e(summary.get("note", "Synthetic matrices."))}</p>')
    out += ["<ul>" + "".join(f"<li>{_e(f)}</li>" for f in _facts(summary, points)) + "</ul>",
            "<h2>What was swept</h2>", _swept(summary),
            f"<h2>Pareto front ({_e(objectives)}; {len(front)} points)</h2>",
            "<p>Points no other point beats in every objective (per inference); points "
            "that failed, or do not fit the SRAMs and were not priced with the SRAMs they "
            "need, are on no front.</p>",
            _points_table(front, keys) if front else "<p>No point is on the front.</p>",
            "<h2>Best points</h2>", _best(points, keys),
            _baselines(summary),
            "<h2>Plots</h2>", _plots(plots or {}),
            "<h2>Points that failed or do not fit the SRAMs</h2>", _problems(points, keys),
            f"<h2>Every point ({len(points)})</h2>",
            "<p>Rows in red do not fit the per-PE SRAMs (and rank nowhere unless priced with "
            "the SRAMs they need); grey rows failed.</p>",
            _points_table(points, keys, MAX_POINT_ROWS)]
    yaml_text = text("config.yaml")
    if yaml_text:
        out += ["<h2>Configuration</h2>",
                "<details><summary>config.yaml (rerun with <code>eie-sweep config.yaml</code>)"
                f"</summary><pre>{_e(yaml_text)}</pre></details>"]
    listed = sorted(set(files) | set(plots or {}) | {"report.html"})
    out += ["<h2>Files of this folder</h2>",
            "<ul>" + "".join(f"<li><code>{_e(n)}</code></li>" for n in listed) + "</ul>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>EIE sweep: {_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(out) + "\n</body>\n</html>\n")


#: the files of a sweep folder the page reads
READS = ("summary.json", "points.csv", "pareto.csv", "config.yaml", "sweep.csv")


def write_sweep_report(folder: str | pathlib.Path) -> pathlib.Path:
    """(Re)write ``folder``'s ``report.html`` from its files and the PNGs in it, atomically
    (e.g. after ``eie-plot`` added plots). Refuses a folder that is not a finished sweep
    the tools wrote (:func:`eie_sim.output.folders.owner`, ``summary.json`` and
    ``points.csv`` present)."""
    folder = pathlib.Path(folder)
    if not folder.is_dir() or folders.owner(folder) is None or \
            not (folder / "points.csv").is_file() or not (folder / "summary.json").is_file():
        raise BundleError(f"{folder}: not a finished eie-sweep folder (no points.csv and "
                          f"summary.json written by eie-sweep)")
    files = {}
    for name in READS:
        p = folder / name
        if p.is_file():
            files[name] = p.read_text(encoding="utf-8")
    path = folder / "report.html"
    atomic_write(path, sweep_report_html(files, find_plots(folder)))
    return path
