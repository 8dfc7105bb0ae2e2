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
files are written from the database (:mod:`eie_sim.apps.sweep_export`), each atomically: ``sweep.csv`` (one row per point
and layer), ``points.csv`` (one row per point: the per-inference figures), ``pareto.csv``
(the points on the latency/energy/area front), ``summary.json`` (resolved configuration,
seeds, units of every column, timings), ``report.md``, ``report.html``
(:mod:`eie_sim.output.sweep_html`) and ``config.yaml``; with ``run.confirm_engine`` also
``confirm.csv``, the analytical front re-run cycle-exactly (:mod:`eie_sim.apps.sweep_confirm`,
run once every point is in). The exported
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
import os
import pathlib
import shutil
import time
from typing import Any, Callable

from compressor.fileio import atomic_write
from compressor.progress import Progress
from eie_sim.apps import sweep_confirm
from eie_sim.apps.sweep_db import DB_NAME, SweepDB
from eie_sim.apps.sweep_exec import make_executor
from eie_sim.apps.sweep_export import UNITS, export, read_partial
from eie_sim.apps.sweep_lock import FolderLock, not_writable, refuse_if_running
from eie_sim.apps.sweep_points import (
    PointResult,
    PointRun,
    PointTask,
    SweepPoint,
    build_workloads,
    expected_point,
    make_point,
    planned_points,
    stable_hash,
)
from eie_sim.apps.sweep_search import covers, pareto_front, run_search
from eie_sim.arch.config_io import FLOAT_RANGES, LoadedConfig, iter_points
from eie_sim.arch.sweep_spec import FRACTION_KEYS
from eie_sim.arch.workload_spec import LAYER_KINDS
from eie_sim.errors import BundleError, ConfigError, WorkloadError
from eie_sim.output import folders, report
from eie_sim.output.sweep_html import find_plots, sweep_report_html
from eie_sim.sim import sram_fit

__all__ = ["run_sweep", "read_partial", "covers", "pareto_front", "UNITS"]

#: how a sweep runs a list of points: (points, workers wanted, callback per finished point)
RunPoints = Callable[[list[SweepPoint], int, Callable[[SweepPoint, PointResult], None]], None]


def sweep_identity(loaded: LoadedConfig, block: dict) -> dict:
    """What makes two sweeps the same (their folders interchangeable): architecture,
    how points run (engine, checks, seed, energy table and its content, how a point that
    does not fit the SRAMs is priced), workload, sweep.
    Not the executor, the workers or the output folder."""
    run = loaded.run
    table = None
    if run.energy_table:
        try:
            table = hashlib.sha256(pathlib.Path(run.energy_table).read_bytes()).hexdigest()
        except OSError:
            table = run.energy_table
    ident = {"arch": loaded.arch.record_dict(), "engine": run.engine, "verify": run.verify,
             "seed": run.seed, "relu": run.relu, "check_fit": run.check_fit,
             "energy_table": table, "workload": block, "sweep": loaded.sweep, "plan": loaded.plan}
    if not run.check_fit:
        # how a point that does not fit is priced (a refused point is the same either way,
        # so a check_fit sweep of an older version resumes)
        ident["unfit_points"] = run.unfit_points
    return ident


def _search_points(loaded: LoadedConfig) -> list[SweepPoint]:
    """Every combination of the search's workload choices (to build their workloads)."""
    space = loaded.plan["search"]["space"]
    wl = {k: v for k, v in space.items() if k.startswith("workload.")}
    bits = space.get("weight_bits")
    if isinstance(bits, list):
        wl["weight_bits"] = bits
    elif isinstance(bits, dict):
        wl["weight_bits"] = list(range(bits["low"], bits["high"] + 1))
    return [make_point(loaded.arch, i, p) for i, p in enumerate(iter_points(wl))]


def _prepare_folder(out: pathlib.Path) -> None:
    """Make the sweep folder ``out``: missing, empty or holding a sweep's ``sweep.db``
    (resumed); anything else is refused (:func:`eie_sim.output.folders.check_out`). The
    folder and a new ``sweep.db`` get the umask's modes (SQLite would make the database
    0644 whatever the umask, and gives ``-wal``/``-shm`` the database's mode)."""
    folders.check_out(out, False, resumable=True)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / DB_NAME).exists():       # an empty file is a new SQLite database
        os.close(os.open(out / DB_NAME, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))


def run_sweep(loaded: LoadedConfig, out: str | pathlib.Path, force: bool = False,
              quiet: bool = True, processes: bool = True) -> dict[str, Any]:
    """Run (or finish) the sweep of ``loaded`` into the folder ``out``; export its files.

    ``quiet=False`` shows progress on stderr (:class:`~compressor.progress.Progress`:
    a bar on a terminal, with the first failed points noted above it; a plain line every
    10 s otherwise). ``processes=False`` runs a dask LocalCluster's workers as threads.
    Returns points, rows, points run now, failed points, wall time, points/s, folder.

    The folder gets the marker file :data:`~eie_sim.output.folders.MARKER` with its
    exports. ``force`` replaces a folder the tools wrote (:func:`eie_sim.output.folders.
    check_out`; never another folder, the current directory or one of its parents): the
    new sweep runs in a temporary sibling folder ``.NAME.tmp-PID-XXXX`` and replaces
    ``out`` only once it has completed and exported; until then ``out`` is not touched,
    and a run that does not complete (an error, every point failed, Ctrl-C, a full disk)
    leaves it as it was and drops the new run's points. Temporary siblings of killed
    runs are removed first (:func:`eie_sim.output.folders.clean_stale`)."""
    out = pathlib.Path(out)
    reading = [loaded.source] if force and pathlib.Path(loaded.source).is_file() else []
    if out.is_dir() and not out.is_symlink():
        refuse_if_running(out)       # a sweep running into it: neither resumed nor replaced
    folders.check_out(out, force, reading, resumable=True)
    folders.clean_stale(out)
    if not (force and out.exists() and not folders.is_empty_dir(out)):
        res = _run_sweep(loaded, out, quiet, processes)
        atomic_write(out / folders.MARKER, folders.marker_text("eie-sweep", "sweep"))
        return res
    new = folders.new_dir(out)
    try:
        res = _run_sweep(loaded, new, quiet, processes)
        atomic_write(new / folders.MARKER, folders.marker_text("eie-sweep", "sweep"))
        # a sweep that started into the old folder meanwhile holds its lock: refused here,
        # never deleted under it
        lock = FolderLock(out) if out.is_dir() and not out.is_symlink() else None
        try:
            folders.replace_dir(new, out)
        finally:
            if lock is not None:
                lock.release()
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    return {**res, "out": str(out)}


def _run_sweep(loaded: LoadedConfig, out: pathlib.Path, quiet: bool,
               processes: bool) -> dict[str, Any]:
    if not loaded.workload:
        raise WorkloadError(f"{loaded.source}: no workload: block to sweep over")
    if loaded.run.confirm_engine and loaded.run.engine != "analytical":
        raise ConfigError(f"{loaded.source}: run.confirm_engine: {loaded.run.confirm_engine} "
                          f"confirms an analytical sweep; run.engine is {loaded.run.engine} "
                          f"(set run.engine: analytical, or leave confirm_engine out)")
    if loaded.workload.kind not in LAYER_KINDS:
        raise WorkloadError(f"{loaded.source}: workload.{loaded.workload.kind}: a sweep runs layer "
                            f"workloads ({', '.join(LAYER_KINDS)}); a whole network runs with "
                            f"eie-simulate")
    t0 = time.perf_counter()
    block = loaded.workload.absolute().block()
    how = PointRun.from_options(loaded.run)
    planned = planned_points(loaded)
    n = len(planned) if planned is not None else loaded.plan["search"]["trials"]
    workloads = {} if _density_ranges(loaded) else build_workloads(
        block, planned if planned is not None else _search_points(loaded), loaded.run.seed,
        None, quiet)
    created = not out.exists()
    refuse_if_running(out)
    if out.is_dir() and not os.access(out, os.W_OK | os.X_OK):
        raise not_writable(out)
    _prepare_folder(out)
    lock = FolderLock(out)
    try:
        return _run_locked(loaded, out, quiet, processes,
                           _Job(t0, block, how, planned, n, workloads, created), lock)
    finally:
        lock.release()


@dataclasses.dataclass
class _Job:
    """What :func:`_run_sweep` prepared before taking the folder."""

    t0: float
    block: dict
    how: PointRun
    planned: list[SweepPoint] | None
    n: int
    workloads: dict
    created: bool


def _run_locked(loaded: LoadedConfig, out: pathlib.Path, quiet: bool, processes: bool,
                job: _Job, lock: FolderLock) -> dict[str, Any]:
    """The sweep in its folder, holding the folder's lock (:mod:`eie_sim.apps.sweep_lock`)."""
    t0, block, how, planned, n, workloads = (job.t0, job.block, job.how, job.planned, job.n,
                                             job.workloads)
    expect = expected_point(loaded, planned)
    ident = sweep_identity(loaded, block)
    db = SweepDB(out / DB_NAME, stable_hash(ident), {"identity": ident, "source": loaded.source})
    try:
        recorded = db.points(expect)          # checked against this sweep before any use
    except BaseException:
        db.close()
        raise
    done_before = len(recorded)
    bar = Progress(n, desc="eie-sweep", unit="pt", quiet=quiet, initial=min(done_before, n))
    stats = {"ran": 0, "failed": 0}

    def record(pt: SweepPoint, res: PointResult) -> None:
        db.add(pt, res)
        stats["ran"] += 1
        bar.update(1)
        if res.error:
            stats["failed"] += 1
            if stats["failed"] <= 5 and bar.shown:     # on a terminal: the first few
                bar.note(f"point {res.index} {pt.params}: {res.error[:160]}")

    executor = None

    def run_points(pts: list[SweepPoint], size: int,
                   on_result: Callable[[SweepPoint, PointResult], None],
                   run_how: PointRun | None = None) -> None:
        """Run ``pts`` (on an executor of at most ``size`` local workers, started on first
        use), after building the workloads of ``pts`` not built yet (a search over a
        density range: one per distinct value, cached by it; handed to a running
        executor); ``on_result`` gets every finished point."""
        nonlocal executor
        need = [p for p in pts if p.workload_key not in workloads]
        if need:
            new = build_workloads(block, need, loaded.run.seed, None, True)
            workloads.update(new)
            if executor is not None:
                executor.add_workloads(new)
        if executor is None:
            executor = make_executor(loaded.run, size, workloads, processes)
        by_index = {p.index: p for p in pts}
        executor.run((PointTask(p, run_how or how) for p in pts), len(pts),
                     lambda r: on_result(by_index[r.index], r))

    try:
        if planned is not None:
            done = {p.index for p in recorded}
            todo = [p for p in planned if p.index not in done]
            if todo:
                run_points(todo, len(todo), record)
        else:
            _search(loaded, db, recorded, run_points, record)
        bar.close()
        points = db.points(expect)
        confirmed = None
        if loaded.run.confirm_engine and any(not p.error for p in points):
            confirmed = sweep_confirm.confirm(loaded, db, points, run_points, how)
        workers_used = getattr(executor, "workers", None)
        if executor is not None:
            executor.close()
    except BaseException:
        if executor is not None:
            executor.abort()
        bar.close()
        try:
            nothing = not db.done()
        except BundleError:            # the database failed: keep what is there
            nothing = False
        db.close()
        if job.created and nothing:    # e.g. an unreachable scheduler: leave no folder
            lock.release()
            shutil.rmtree(out, ignore_errors=True)
        raise
    db.close()
    ok = [p for p in points if not p.error]
    if points and not ok:
        lock.release()
        for suffix in ("", "-wal", "-shm"):
            (out / (DB_NAME + suffix)).unlink(missing_ok=True)
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        first = points[0]
        raise WorkloadError(f"every one of the {len(points)} sweep point(s) failed, nothing "
                            f"written; point {first.index}: {first.error}")
    wall = time.perf_counter() - t0
    files, facts = export(loaded, block, points)
    if confirmed is not None:
        files["confirm.csv"] = report.csv_text(confirmed[0], list(confirmed[0][0]) if confirmed[0] else [])
        files["report.md"] += sweep_confirm.markdown(*confirmed)
        facts["confirm"] = confirmed[1]
    summary = {**facts, "wall_s": wall, "points_run_now": stats["ran"],
               "points_from_database": done_before, "executor": loaded.run.executor,
               "workers": workers_used or loaded.run.workers, "scheduler": loaded.run.scheduler,
               "workloads_built": len(workloads),
               "points_per_s": stats["ran"] / wall if wall > 0 else 0.0}
    files["summary.json"] = report.json_text(summary)
    # the page of the sweep, with the plots already in the folder (a resumed or re-run
    # sweep; eie_sim.output.sweep_html.write_sweep_report rewrites it after new plots)
    files["report.html"] = sweep_report_html(files, find_plots(out))
    for name, text in files.items():
        atomic_write(out / name, text)
    return {"points": len(points), "rows": sum(max(1, len(p.rows)) for p in points),
            "ran": stats["ran"], "failed": len(points) - len(ok), "wall_s": wall,
            "points_per_s": summary["points_per_s"], "workloads_built": len(workloads),
            "out": str(out)}


def _density_ranges(loaded: LoadedConfig) -> bool:
    """A search with a ``{low, high, step}`` density range: its workloads are built as the
    search asks for them (one per distinct density, :data:`~eie_sim.arch.sweep_spec.
    DENSITY_STEP`), not all before it."""
    space = loaded.plan.get("search", {}).get("space", {})
    return any(isinstance(space.get(k), dict) for k in FRACTION_KEYS)


def _search(loaded: LoadedConfig, db: SweepDB, points: list[PointResult], run_points: RunPoints,
            record: Callable[[SweepPoint, PointResult], None]) -> None:
    """The search loop: each batch's trials are taken from the database's ``points`` (a
    resumed search replays its recorded trials; a point asked again takes its recorded
    result) or run."""
    search = loaded.plan["search"]
    recorded = {p.index: p for p in points}               # trial -> result, kept up to date
    by_params: dict[str, PointResult] = {}                # params -> its first trial
    for i in sorted(recorded):
        by_params.setdefault(stable_hash(recorded[i].params), recorded[i])

    def keep(pt: SweepPoint, res: PointResult) -> None:
        record(pt, res)
        recorded[res.index] = res
        by_params.setdefault(stable_hash(pt.params), res)

    def evaluate(batch: list[tuple[int, dict]]) -> dict[int, dict | None]:
        todo = []
        for i, params in batch:
            if i in recorded:
                if recorded[i].params != params:
                    raise ConfigError(
                        f"{db.path}: trial {i} is recorded as {recorded[i].params} but the "
                        f"search now asks {params} (another optuna version?); --force starts over")
                continue
            pt = make_point(loaded.arch, i, params)
            same = by_params.get(stable_hash(params))
            if same is not None:                # the same point again: its recorded result
                keep(pt, PointResult(i, params, same.rows, same.figures, same.error, 0.0,
                                     same.fits))
            else:
                todo.append(pt)
        if todo:
            run_points(todo, search["trials"], keep)
        # a point that failed, or does not fit the SRAMs and was not priced with those it
        # needs, is a failed trial (eie_sim.sim.sram_fit.ranked)
        return {i: (recorded[i].figures if sram_fit.ranked(
            recorded[i].fits, recorded[i].error, loaded.run.check_fit, loaded.run.unfit_points)
            else None) for i, _ in batch}

    run_search(search, tuple(FLOAT_RANGES) + FRACTION_KEYS, evaluate)
