"""Design-space sweeps: a grid, a random sample or a search, into a resumable database.

What runs (``sweep:`` block, docs/config.md): the cross product of lists of architecture
and workload keys (:mod:`eie_sim.arch.sweep_spec`), ``random: {samples, seed}`` points of
it, or a ``search:`` (Optuna, :mod:`eie_sim.apps.sweep_search`). Each point is a full run
of the ``workload:`` block (with the point's workload keys applied) on the point's
architecture (:mod:`eie_sim.apps.sweep_points`). Where it runs: ``run.executor`` local
processes or dask (:mod:`eie_sim.apps.sweep_exec`); the results do not depend on it.

The sweep folder holds ``sweep.db`` (:mod:`eie_sim.apps.sweep_db`), committed point by
point: a rerun into the same folder (``eie-sweep --resume``) runs only the missing
points, and refuses a folder of another sweep. When every point is in, the exported
files are written from the database, each atomically: ``sweep.csv`` (one row per point
and layer), ``points.csv`` (one row per point: the per-inference figures), ``pareto.csv``
(the points on the latency/energy/area front), ``summary.json`` (resolved configuration,
seeds, units of every column, timings), ``report.md`` and ``config.yaml``. The exported
tables hold no wall times (those are in ``summary.json`` and the database), so a resumed
sweep exports exactly the tables of an uninterrupted one.

A sweep in which every point failed is an error (:class:`~eie_sim.errors.WorkloadError`
naming the first point's problem; its database is removed, nothing is written). The
number of points is capped (:data:`~eie_sim.arch.config_io.MAX_SWEEP_POINTS` unless the
config was loaded with ``max_points``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import time
from typing import Any

from compressor.fileio import atomic_write
from compressor.progress import Progress
from eie_sim.apps.sweep_db import DB_NAME, SweepDB
from eie_sim.apps.sweep_exec import make_executor
from eie_sim.apps.sweep_points import (
    VOLATILE_COLUMNS,
    build_workloads,
    point_config,
    split_point,
    stable_hash,
    workload_key,
)
from eie_sim.apps.sweep_search import covers, objective_values, pareto_front, run_search
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.config_io import (
    FLOAT_RANGES,
    LoadedConfig,
    RunOptions,
    dump_resolved,
    iter_points,
)
from eie_sim.arch.energy import EnergyTable
from eie_sim.arch.sweep_spec import FRACTION_KEYS, OBJECTIVES, point_at, sample_indices
from eie_sim.errors import BundleError, ConfigError, WorkloadError
from eie_sim.output import report
from eie_sim.workloads.files import absolute_block

__all__ = ["run_sweep", "read_partial", "covers", "pareto_front", "UNITS"]

#: units of the exported columns, by name suffix (docs/cluster.md "Columns and units")
UNITS = (("inferences_per_s_per_mm2", "inferences / s / mm^2"),
         ("inferences_per_s", "inferences / s"), ("inferences_per_j", "inferences / J"),
         ("_us", "microseconds"), ("_uj", "microjoules"), ("_pj", "picojoules"),
         ("_w", "watts"), ("_mm2", "mm^2"), ("_mhz", "MHz"), ("_bits", "bits"), ("_kb", "KB"),
         ("cycles", "clock cycles"), ("density", "fraction 0..1"),
         ("macs", "multiply-accumulates"))
INFERENCE = "one inference = one pass through the workload's layers (each layer once)"


def unit_of(col: str) -> str:
    for suffix, unit in UNITS:
        if col.endswith(suffix):
            return unit
    return ""


def _base_dir(loaded: LoadedConfig) -> str | None:
    return str(pathlib.Path(loaded.source).parent) if loaded.source not in ("<defaults>", "<string>") else None


def sweep_identity(loaded: LoadedConfig, block: dict) -> dict:
    """What makes two sweeps the same (their folders interchangeable): architecture,
    how points run (engine, checks, seed, energy table and its content), workload, sweep.
    Not the executor, the workers or the output folder."""
    run = loaded.run
    table = None
    if run.energy_table:
        try:
            table = hashlib.sha256(pathlib.Path(run.energy_table).read_bytes()).hexdigest()
        except OSError:
            table = run.energy_table
    return {"arch": loaded.arch.as_dict(), "engine": run.engine, "verify": run.verify,
            "seed": run.seed, "relu": run.relu, "check_fit": run.check_fit,
            "energy_table": table, "workload": block, "sweep": loaded.sweep, "plan": loaded.plan}


def _planned(loaded: LoadedConfig) -> list[tuple[int, dict]] | None:
    """(index, point) of a grid or random sweep; None for a search."""
    if "search" in loaded.plan:
        return None
    if "random" in loaded.plan:
        n = 1
        for v in loaded.sweep.values():
            n *= len(v)
        r = loaded.plan["random"]
        return [(i, point_at(loaded.sweep, i)) for i in sample_indices(n, r["samples"], r["seed"])]
    return list(enumerate(iter_points(loaded.sweep)))


def _search_points(loaded: LoadedConfig) -> list[dict]:
    """Every combination of the search's workload choices (to build their workloads)."""
    space = loaded.plan["search"]["space"]
    wl = {k: v for k, v in space.items() if k.startswith("workload.")}
    bits = space.get("weight_bits")
    if isinstance(bits, list):
        wl["weight_bits"] = bits
    elif isinstance(bits, dict):
        wl["weight_bits"] = list(range(bits["low"], bits["high"] + 1))
    return list(iter_points(wl))


def _prepare_folder(out: pathlib.Path, force: bool) -> None:
    if force and out.exists():
        if out.is_dir() and not out.is_symlink():
            shutil.rmtree(out)
        else:
            out.unlink()
    if out.exists() and not (out / DB_NAME).exists():
        report.prepare_out_dir(out, False)        # refuses a non-empty folder of something else
    report.prepare_out_dir(out, True)
    out.mkdir(parents=True, exist_ok=True)


def run_sweep(loaded: LoadedConfig, out: str | pathlib.Path, force: bool = False,
              quiet: bool = True, processes: bool = True) -> dict[str, Any]:
    """Run (or finish) the sweep of ``loaded`` into the folder ``out``; export its files.

    ``quiet=False`` shows progress on stderr (:class:`~compressor.progress.Progress`:
    a bar on a terminal, with the first failed points noted above it; a plain line every
    10 s otherwise). ``processes=False`` runs a dask LocalCluster's workers as threads.
    Returns points, rows, points run now, failed points, wall time, points/s, folder.

    ``force`` replaces what is at ``out``: it is moved aside while the sweep runs and
    deleted once the new folder exists; a run that leaves no folder (bad input, every
    point failed, stopped before a point was recorded) puts it back untouched."""
    out = pathlib.Path(out)
    if not (force and (out.exists() or out.is_symlink())):
        return _run_sweep(loaded, out, False, quiet, processes)
    aside = out.with_name(f".{out.name}.replaced-{os.getpid()}")
    os.replace(out, aside)
    try:
        return _run_sweep(loaded, out, False, quiet, processes)
    finally:
        if out.exists():
            if aside.is_dir() and not aside.is_symlink():
                shutil.rmtree(aside, ignore_errors=True)
            else:
                aside.unlink(missing_ok=True)
        else:
            os.replace(aside, out)


def _run_sweep(loaded: LoadedConfig, out: pathlib.Path, force: bool, quiet: bool,
               processes: bool) -> dict[str, Any]:
    if not loaded.workload:
        raise WorkloadError(f"{loaded.source}: no workload: block to sweep over")
    t0 = time.perf_counter()
    base_dir = _base_dir(loaded)
    block = absolute_block(loaded.workload, base_dir)
    run = loaded.run.as_dict()
    table = EnergyTable.load(loaded.run.energy_table) if loaded.run.energy_table else None
    planned = _planned(loaded)
    n = len(planned) if planned is not None else loaded.plan["search"]["trials"]
    ranged = _density_ranges(loaded)
    workloads = {} if ranged else build_workloads(
        block, loaded.arch, (p for _, p in planned) if planned is not None
        else _search_points(loaded), run["seed"], None, quiet)
    created = force or not out.exists()
    _prepare_folder(out, force)
    ident = sweep_identity(loaded, block)
    db = SweepDB(out / DB_NAME, stable_hash(ident), {"identity": ident, "source": loaded.source})
    done_before = len(db.done())
    bar = Progress(n, desc="eie-sweep", unit="pt", quiet=quiet, initial=min(done_before, n))
    stats = {"ran": 0, "failed": 0}

    def task(i: int, pt: dict) -> dict:
        cfg = point_config(loaded.arch, pt)
        return {"index": i, "point": pt, "run": run, "energy_table": table,
                "wkey": workload_key(cfg.weight_bits, pt), "cfg": cfg.as_dict()}

    def record(res: dict, pt: dict) -> None:
        cfg = point_config(loaded.arch, pt).as_dict()
        db.add(res, pt, cfg, stable_hash([cfg, split_point(pt)[1]]))
        stats["ran"] += 1
        bar.update(1)
        if res["error"]:
            stats["failed"] += 1
            if stats["failed"] <= 5 and bar.shown:     # on a terminal: the first few
                bar.note(f"point {res['point']} {pt}: {res['error'][:160]}")

    executor = None
    try:
        def executor_for(k: int):
            nonlocal executor
            if executor is None:
                executor = make_executor(run, k, workloads, processes)
            return executor

        def ensure(pts: list[dict]) -> None:
            """Build the workloads of ``pts`` not built yet (a search over a density range:
            one per distinct value, cached by it) and hand them to a running executor."""
            need = [p for p in pts
                    if workload_key(point_config(loaded.arch, p).weight_bits, p) not in workloads]
            if need:
                new = build_workloads(block, loaded.arch, need, run["seed"], None, True)
                workloads.update(new)
                if executor is not None:
                    executor.add_workloads(new)

        if planned is not None:
            done = db.done()
            todo = [(i, p) for i, p in planned if i not in done]
            by_index = dict(todo)
            if todo:
                executor_for(len(todo)).run((task(i, p) for i, p in todo), len(todo),
                                            lambda r: record(r, by_index[r["point"]]))
        else:
            _search(loaded, db, executor_for, task, record, ensure)
    except BaseException:
        if executor is not None:
            executor.abort()
        bar.close()
        nothing = not db.done()
        db.close()
        if created and nothing:        # e.g. an unreachable scheduler: leave no folder
            shutil.rmtree(out, ignore_errors=True)
        raise
    workers_used = getattr(executor, "workers", None)
    if executor is not None:
        executor.close()
    bar.close()
    points = db.points()
    db.close()
    ok = [p for p in points if not p["error"]]
    if points and not ok:
        for suffix in ("", "-wal", "-shm"):
            (out / (DB_NAME + suffix)).unlink(missing_ok=True)
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        first = points[0]
        raise WorkloadError(f"every one of the {len(points)} sweep point(s) failed, nothing "
                            f"written; point {first['point']}: {first['error']}")
    wall = time.perf_counter() - t0
    files, facts = export(loaded, block, points, base_dir)
    summary = {**facts, "wall_s": wall, "points_run_now": stats["ran"],
               "points_from_database": done_before, "executor": loaded.run.executor,
               "workers": workers_used or loaded.run.workers, "scheduler": loaded.run.scheduler,
               "workloads_built": len(workloads),
               "points_per_s": stats["ran"] / wall if wall > 0 else 0.0}
    files["summary.json"] = report.json_text(summary)
    for name, text in files.items():
        atomic_write(out / name, text)
    return {"points": len(points), "rows": sum(max(1, len(p["rows"])) for p in points),
            "ran": stats["ran"], "failed": len(points) - len(ok), "wall_s": wall,
            "points_per_s": summary["points_per_s"], "workloads_built": len(workloads),
            "out": str(out)}


def _density_ranges(loaded: LoadedConfig) -> bool:
    """A search with a ``{low, high, step}`` density range: its workloads are built as the
    search asks for them (one per distinct density, :data:`~eie_sim.arch.sweep_spec.
    DENSITY_STEP`), not all before it."""
    space = loaded.plan.get("search", {}).get("space", {})
    return any(isinstance(space.get(k), dict) for k in FRACTION_KEYS)


def _search(loaded, db, executor_for, task, record, ensure) -> None:
    """The search loop: each batch's trials are taken from the database (a resumed
    search replays its recorded trials; a point asked again takes its recorded result) or
    run."""
    search = loaded.plan["search"]
    recorded = {p["point"]: p for p in db.points()}       # trial -> point, kept up to date
    by_params: dict[str, dict] = {}                       # params -> its first trial
    for i in sorted(recorded):
        by_params.setdefault(stable_hash(recorded[i]["params"]), recorded[i])

    def keep(res: dict, pt: dict) -> None:
        record(res, pt)
        p = {**res, "params": pt}
        recorded[res["point"]] = p
        by_params.setdefault(stable_hash(pt), p)

    def evaluate(batch: list[tuple[int, dict]]) -> dict[int, dict | None]:
        todo = []
        for i, pt in batch:
            if i in recorded:
                if recorded[i]["params"] != pt:
                    raise ConfigError(
                        f"{db.path}: trial {i} is recorded as {recorded[i]['params']} but the "
                        f"search now asks {pt} (another optuna version?); --force starts over")
                continue
            same = by_params.get(stable_hash(pt))
            if same is not None:                # the same point again: its recorded result
                keep({"point": i, "rows": same["rows"], "figures": same["figures"],
                      "error": same["error"], "wall_s": 0.0}, pt)
            else:
                todo.append((i, pt))
        if todo:
            by_index = dict(todo)
            ensure([p for _, p in todo])
            executor_for(search["trials"]).run((task(i, p) for i, p in todo), len(todo),
                                               lambda r: keep(r, by_index[r["point"]]))
        return {i: (None if recorded[i]["error"] else recorded[i]["figures"]) for i, _ in batch}

    run_search(search, tuple(FLOAT_RANGES) + FRACTION_KEYS, evaluate)


def planned_count(sweep: dict, plan: dict) -> int:
    """The number of points a sweep runs: its grid, its ``random.samples`` or its
    ``search.trials``."""
    if "search" in plan:
        return plan["search"]["trials"]
    if "random" in plan:
        return plan["random"]["samples"]
    n = 1
    for v in sweep.values():
        n *= len(v)
    return n


def read_partial(folder: str | pathlib.Path) -> dict[str, Any]:
    """The tables of a sweep folder that has no exported files yet (a sweep still running,
    interrupted or killed), built in memory from the points its ``sweep.db`` holds, by
    :func:`export` (the code that writes the finished tables).

    The database is opened read-only (:meth:`SweepDB.open_read_only`): nothing is written
    into the folder. Returns ``{"files": {name: CSV text} for sweep.csv, points.csv and
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
        meta = json.loads(db.meta["config"])
        ident = meta["identity"]
        run = RunOptions(engine=ident["engine"], verify=ident["verify"], seed=ident["seed"],
                         relu=ident["relu"], check_fit=ident["check_fit"])
        loaded = LoadedConfig(arch=ArchConfig(**ident["arch"]), run=run,
                              workload=ident["workload"], sweep=ident["sweep"],
                              plan=ident["plan"], source=meta.get("source", "<unknown>"))
        points = db.points()
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{path}: not a sweep database of this version ({exc!r:.120})") from None
    finally:
        db.close()
    if not points:
        raise BundleError(f"{folder}: the sweep has recorded no point yet ({path})")
    total = planned_count(loaded.sweep, loaded.plan)
    files, facts = export(loaded, loaded.workload, points, _base_dir(loaded))
    note = f"partial sweep: {len(points)} of {total} points"
    facts.update({"partial": True, "points_planned": total, "note_partial": note})
    return {"files": {k: files[k] for k in ("sweep.csv", "points.csv", "pareto.csv")},
            "summary": facts, "done": len(points), "total": total, "note": note}


def export(loaded: LoadedConfig, block: dict, points: list[dict],
           base_dir: str | None) -> tuple[dict[str, str], dict]:
    """The exported tables (from the database's points, in index order) and the facts
    of ``summary.json``."""
    keys = list(loaded.plan["search"]["space"]) if "search" in loaded.plan else list(loaded.sweep)
    layer_cols: list[str] = []
    fig_cols: list[str] = []
    for p in points:
        for r in p["rows"]:
            layer_cols += [c for c in r if c not in layer_cols and c not in VOLATILE_COLUMNS]
        fig_cols += [c for c, v in p["figures"].items()
                     if c not in fig_cols and not isinstance(v, str)]
    layer_cols = [c for c in layer_cols if c not in keys]
    csv_cols = ["point"] + keys + layer_cols + [f"point_{c}" for c in fig_cols] + ["error"]
    rows = []
    for p in points:
        head = {"point": p["point"], **p["params"], "error": p["error"]}
        figs = {f"point_{c}": v for c, v in p["figures"].items()}
        for r in p["rows"] or [{}]:
            rows.append({**r, **head, **figs})
    pt_cols = ["point"] + keys + fig_cols + ["error"]
    pt_rows = [{"point": p["point"], **p["params"], **p["figures"], "error": p["error"]}
               for p in points]
    objectives = loaded.plan["search"]["objectives"] if "search" in loaded.plan else list(OBJECTIVES)
    values = {p["point"]: objective_values(p["figures"], objectives) for p in points if not p["error"]}
    front = set(pareto_front(values))
    par_rows = [r for r in pt_rows if r["point"] in front]
    failed = [p["point"] for p in points if p["error"]]
    synthetic = "table3" in block or "synthetic" in block
    areas = sorted({p["figures"].get("area_source") for p in points if not p["error"]} - {None})
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
    loaded_abs = dataclasses.replace(loaded, workload=block)
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
