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
from eie_sim.apps.sweep_search import objective_values, pareto_front
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.config_io import LoadedConfig, RunOptions, dump_resolved
from eie_sim.arch.sweep_spec import OBJECTIVES, planned_count
from eie_sim.arch.workload_spec import parse_workload
from eie_sim.errors import BundleError
from eie_sim.output import report
from eie_sim.sim.columns import LATER_COLUMNS

#: units of the exported columns, by name suffix (docs/cluster.md "Columns and units")
UNITS = (("inferences_per_s_per_mm2", "inferences / s / mm^2"),
         ("inferences_per_s", "inferences / s"), ("inferences_per_j", "inferences / J"),
         ("_us", "microseconds"), ("_uj", "microjoules"), ("_pj", "picojoules"),
         ("_w", "watts"), ("_mm2", "mm^2"), ("_mhz", "MHz"), ("_bits", "bits"), ("_kb", "KB"),
         ("cycles", "clock cycles"), ("density", "fraction 0..1"),
         ("macs", "multiply-accumulates"))
INFERENCE = "one inference = one pass through the workload's layers (each layer once)"


def unit_of(col: str) -> str:
    """The unit of an exported column (:data:`UNITS`; ``""``: none)."""
    for suffix, unit in UNITS:
        if col.endswith(suffix):
            return unit
    return ""


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
                             relu=ident["relu"], check_fit=ident["check_fit"])
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
    layer_cols = [c for c in layer_cols if c not in keys]
    csv_cols = ["point"] + keys + layer_cols + [f"point_{c}" for c in fig_cols] + ["error"]
    rows = []
    for p in points:
        head = {"point": p.index, **p.params, "error": p.error}
        figs = {f"point_{c}": v for c, v in p.figures.items()}
        for r in p.rows or [{}]:
            # a row recorded before a later column existed had that column's one value
            later = {k: v for k, v in LATER_COLUMNS.items() if r and k in layer_cols and k not in r}
            rows.append({**r, **later, **head, **figs})
    pt_cols = ["point"] + keys + fig_cols + ["error"]
    pt_rows = [{"point": p.index, **p.params, **p.figures, "error": p.error}
               for p in points]
    objectives = loaded.plan["search"]["objectives"] if "search" in loaded.plan else list(OBJECTIVES)
    values = {p.index: objective_values(p.figures, objectives) for p in points if not p.error}
    front = set(pareto_front(values))
    par_rows = [r for r in pt_rows if r["point"] in front]
    failed = [p.index for p in points if p.error]
    synthetic = "table3" in block or "synthetic" in block
    areas = sorted({p.figures.get("area_source") for p in points if not p.error} - {None})
    seeds = {"run_seed": loaded.run.seed}
    for k in ("random", "search"):
        if k in loaded.plan:
            seeds[f"{k}_seed"] = loaded.plan[k]["seed"]
    facts = {"title": f"sweep of {', '.join(keys) or 'nothing'}", "config": None,
             "sweep": {**loaded.sweep, **loaded.plan}, "swept_keys": keys,
             "points": len(points), "failed_points": failed, "pareto_points": sorted(front),
             "pareto_objectives": objectives, "engine": loaded.run.engine,
             "verified": loaded.run.verify, "seeds": seeds, "synthetic": synthetic,
             "inference": INFERENCE, "area_source": areas,
             "units": {c: unit_of(c) for c in dict.fromkeys(csv_cols + pt_cols) if unit_of(c)}}
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
    md += [f"- points: {facts['points']} ({len(facts['failed_points'])} failed); "
           f"{facts['inference']}", f"- seeds: {facts['seeds']}", "",
           f"## Pareto front ({', '.join(facts['pareto_objectives'])}; {len(par_rows)} points)", ""]

    def table(rows, limit):
        head = ["point"] + keys + ["time (us)", "energy (uJ)", "chip (mm^2)", "inf/s", "inf/J", "error"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in rows[:limit]:
            nums = ([f"{r['time_us']:.3f}", f"{r['energy_uj']:.4f}", f"{r['chip_area_mm2']:.3f}",
                     f"{r['inferences_per_s']:.4g}", f"{r['inferences_per_j']:.4g}", ""]
                    if not r["error"] else ["", "", "", "", "", r["error"][:80]])
            lines.append("| " + " | ".join([str(r["point"])] + [str(r.get(k, "")) for k in keys]
                                           + nums) + " |")
        if len(rows) > limit:
            lines.append(f"\n({len(rows) - limit} more in points.csv)")
        return lines
    md += table(par_rows, 200) + ["", "## Points", ""] + table(pt_rows, 500)
    return "\n".join(md) + "\n"
