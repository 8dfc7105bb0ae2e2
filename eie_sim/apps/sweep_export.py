"""The exported files of a sweep folder, written from its database's points.

``sweep.csv`` (one row per point and layer: ``point``, the swept keys, the layer columns
but the volatile ones, the point's figures prefixed ``point_``, ``error``), ``points.csv``
(one row per point: the per-inference figures), ``pareto.csv`` (the points on the front
of the search's objectives, or latency/energy/area: :func:`eie_sim.apps.sweep_search.
pareto_front`), ``report.md``, ``config.yaml`` and the facts of ``summary.json``
(resolved configuration, seeds, units of every column: :data:`UNITS`). The tables hold no
wall times, so a resumed sweep exports exactly the tables of an uninterrupted one.
:func:`read_partial` builds the tables of an unfinished sweep with the same code, from a
database opened read-only (docs/cluster.md "An unfinished sweep").
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

from eie_sim.apps.sweep_db import DB_NAME, SweepDB
from eie_sim.apps.sweep_points import VOLATILE_COLUMNS, PointResult, expected_point, stable_hash
from eie_sim.apps.sweep_search import run_front
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.config_io import LoadedConfig, RunOptions, dump_resolved
from eie_sim.arch.sweep_spec import planned_count
from eie_sim.arch.workload_spec import parse_workload
from eie_sim.errors import BundleError
from eie_sim.output import report
from eie_sim.sim.columns import UNIT_SUFFIXES, units_map
from eie_sim.sim import sram_fit
from eie_sim.sim.sram_fit import FIT_COLUMNS

#: units of the exported columns, by name suffix (docs/cluster.md "Columns and units"): the
#: one table of every summary.json (eie_sim.sim.columns)
UNITS = UNIT_SUFFIXES
INFERENCE = "one inference = one pass through the workload's layers (each layer once)"


def read_partial(folder: str | pathlib.Path) -> dict[str, Any]:
    """The tables of a sweep folder that has no exported files yet (a sweep still running,
    interrupted or killed), built in memory from the points its ``sweep.db`` holds, by
    :func:`export` (the code that writes the finished tables).

    The database is opened read-only (:meth:`SweepDB.open_read_only`): nothing is written
    into the folder; its points are checked against the sweep it records
    (:meth:`SweepDB.points`): an edited or damaged database is refused. Returns ``{"files": {name: CSV text} for sweep.csv, points.csv and
    pareto.csv, "summary": export's facts, "done": points recorded, "total": points
    planned, "note": "partial sweep: n of N points"}``; a
    :class:`~eie_sim.errors.BundleError` when the folder has no readable database or no
    point in it yet. The Pareto front is that of the points recorded so far."""
    folder = pathlib.Path(folder)
    path = folder / DB_NAME
    if not path.is_file():
        raise BundleError(f"{folder}: no {DB_NAME} (not an eie-sweep folder)")
    db = SweepDB.open_read_only(path)
    try:
        try:
            meta = json.loads(db.meta["config"])
            ident = meta["identity"]
            if stable_hash(ident) != db.meta["sweep_hash"]:
                raise ValueError("its configuration is not the one its sweep_hash was made of")
            run = RunOptions(engine=ident["engine"], verify=ident["verify"], seed=ident["seed"],
                             relu=ident["relu"], check_fit=ident["check_fit"],
                             unfit_points=ident.get("unfit_points", "exclude"))
            order = db.key_order()             # the meta table's JSON is sorted
            sweep = {k: ident["sweep"][k] for k in sorted(
                ident["sweep"], key=lambda k: order.index(k) if k in order else len(order))}
            loaded = LoadedConfig(arch=ArchConfig(**ident["arch"]).validate(), run=run,
                                  workload=parse_workload(ident["workload"]),
                                  sweep=sweep, plan=ident["plan"],
                                  source=meta.get("source", "<unknown>"))
            expect = expected_point(loaded)
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise BundleError(f"{path}: not a sweep database of this version "
                              f"({' '.join(repr(exc).split())[:120]})") from None
        points = db.points(expect)          # checked: an edited database is refused
    finally:
        db.close()
    if not points:
        raise BundleError(f"{folder}: the sweep has recorded no point yet ({path})")
    total = planned_count(loaded.sweep, loaded.plan)
    files, facts = export(loaded, loaded.workload.block(), points)
    note = f"partial sweep: {len(points)} of {total} points"
    facts.update({"partial": True, "points_planned": total, "note_partial": note})
    return {"files": {k: files[k] for k in ("sweep.csv", "points.csv", "pareto.csv")},
            "summary": facts, "done": len(points), "total": total, "note": note}


def export(loaded: LoadedConfig, block: dict,
           points: list[PointResult]) -> tuple[dict[str, str], dict]:
    """The exported files (from the database's points, in index order; ``block``: the
    ``workload:`` block with absolute paths) and the facts of ``summary.json``."""
    keys = list(loaded.plan["search"]["space"]) if "search" in loaded.plan else list(loaded.sweep)
    layer_cols: list[str] = []
    fig_cols: list[str] = []
    for p in points:
        for r in p.rows:
            layer_cols += [c for c in r if c not in layer_cols and c not in VOLATILE_COLUMNS]
        fig_cols += [c for c, v in p.figures.items()
                     if c not in fig_cols and not isinstance(v, str)]
    # the SRAM need and pricing last, whichever point came first (a failed one has only them)
    fit_figs = sram_fit.NEEDED + sram_fit.PRICED
    fig_cols = [c for c in fig_cols if c not in fit_figs] + [c for c in fit_figs if c in fig_cols]
    layer_cols = [c for c in layer_cols if c not in keys + list(FIT_COLUMNS)]
    run = loaded.run
    fit = {p.index: {"fits": sram_fit.known_fits(p.fits, p.error, run.check_fit),
                     "fit_handling": sram_fit.handling(p.fits, p.error, run.check_fit,
                                                        run.unfit_points)} for p in points}
    for f in fit.values():
        if f["fits"] is None:
            f["fits"] = ""                     # not known: an empty cell
    csv_cols = (["point"] + keys + list(FIT_COLUMNS) + layer_cols
                + [f"point_{c}" for c in fig_cols] + ["error"])
    rows = []
    for p in points:
        head = {"point": p.index, **p.params, **fit[p.index], "error": p.error}
        figs = {f"point_{c}": v for c, v in p.figures.items()}
        for r in p.rows or [{}]:
            rows.append({**r, **head, **figs})
    pt_cols = ["point"] + keys + list(FIT_COLUMNS) + fig_cols + ["error"]
    pt_rows = [{"point": p.index, **p.params, **fit[p.index], **p.figures, "error": p.error}
               for p in points]
    objectives, front = run_front(loaded, points)
    front = set(front)
    par_rows = [r for r in pt_rows if r["point"] in front]
    failed = [p.index for p in points if p.error]
    unfit = [p.index for p in points if fit[p.index]["fits"] is False]
    synthetic = "table3" in block or "synthetic" in block
    areas = sorted({p.figures.get("area_source") for p in points if not p.error} - {None})
    seeds = {"run_seed": loaded.run.seed}
    for k in ("random", "search"):
        if k in loaded.plan:
            seeds[f"{k}_seed"] = loaded.plan[k]["seed"]
    facts = {"title": f"sweep of {', '.join(keys) or 'nothing'}", "config": None,
             "sweep": {**loaded.sweep, **loaded.plan}, "swept_keys": keys,
             "points": len(points), "failed_points": failed, "pareto_points": sorted(front),
             "pareto_objectives": objectives,
             "fit": {"check_fit": run.check_fit, "unfit_points": run.unfit_points,
                     "not_fitting_points": unfit,
                     "excluded_points": [i for i in unfit if fit[i]["fit_handling"] == sram_fit.EXCLUDED],
                     "resized_points": [i for i in unfit if fit[i]["fit_handling"] == sram_fit.RESIZED],
                     "unknown_points": [i for i, f in fit.items() if f["fits"] == ""],
                     "meaning": {k or "fits": v for k, v in sram_fit.HANDLING_TEXT.items()}},
             "baselines": {k: sram_fit.baseline(pt_rows, k) for k in keys},
             "engine": loaded.run.engine,
             "verified": loaded.run.verify, "seeds": seeds, "synthetic": synthetic,
             "inference": INFERENCE, "area_source": areas,
             "units": units_map(csv_cols, pt_cols)}
    if synthetic:
        facts["note"] = report.SYNTHETIC_NOTE
    loaded_abs = dataclasses.replace(loaded, workload=parse_workload(block))
    facts["config"] = loaded_abs.resolved()
    files = {"sweep.csv": report.csv_text(rows, csv_cols),
             "points.csv": report.csv_text(pt_rows, pt_cols),
             "pareto.csv": report.csv_text(par_rows, pt_cols),
             "report.md": _markdown(facts, keys, pt_rows, par_rows),
             "config.yaml": dump_resolved(loaded_abs)}
    return files, facts


def _markdown(facts: dict, keys: list[str], pt_rows: list[dict], par_rows: list[dict]) -> str:
    md = [f"# EIE sweep: {facts['title']}", ""]
    if facts["synthetic"]:
        md += [f"**{report.SYNTHETIC_NOTE}**", ""]
    fit = facts["fit"]
    md += [f"- points: {facts['points']} ({len(facts['failed_points'])} failed); "
           f"{facts['inference']}", f"- seeds: {facts['seeds']}",
           f"- SRAM fit: {len(fit['not_fitting_points'])} point(s) do not fit the per-PE SRAMs "
           f"({len(fit['excluded_points'])} excluded from the front, "
           f"{len(fit['resized_points'])} priced with the SRAMs they need; "
           f"run.check_fit: {str(fit['check_fit']).lower()}, "
           f"run.unfit_points: {fit['unfit_points']})", "",
           f"## Pareto front ({', '.join(facts['pareto_objectives'])}; {len(par_rows)} points)", ""]

    def table(rows, limit):
        head = ["point"] + keys + ["SRAM fit", "time (us)", "energy (uJ)", "chip (mm^2)",
                                   "inf/s", "inf/J", "error"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in rows[:limit]:
            nums = ([f"{r['time_us']:.3f}", f"{r['total_energy_uj']:.4f}", f"{r['chip_area_mm2']:.3f}",
                     f"{r['inferences_per_s']:.4g}", f"{r['inferences_per_j']:.4g}", ""]
                    if not r["error"] else ["", "", "", "", "", r["error"][:80]])
            fit_cell = ("fits" if r["fits"] is True else
                        f"does not fit ({r['fit_handling']})" if r["fits"] is False else "?")
            lines.append("| " + " | ".join([str(r["point"])] + [str(r.get(k, "")) for k in keys]
                                           + [fit_cell] + nums) + " |")
        if len(rows) > limit:
            lines.append(f"\n({len(rows) - limit} more in points.csv)")
        return lines
    md += table(par_rows, 200) + ["", "## Points", ""] + table(pt_rows, 500)
    return "\n".join(md) + "\n"
