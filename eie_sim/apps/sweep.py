"""Parameter sweeps: the cross product of a ``sweep:`` block, one process per point.

Each point is a full run of the configuration's ``workload:`` block on the point's
architecture, in a separate worker process (``ProcessPoolExecutor``, ``run.workers``
processes, default 2; one worker runs in-process). The results are one CSV
(``sweep.csv``: the point index, the swept keys, then the per-layer columns of
:data:`eie_sim.sim.results.LAYER_COLUMNS`, plus ``error`` for a point whose layer does not fit
the SRAMs, whose numbers do not fit the fixed-point word or whose workload cannot run on
it; the other points still run) and a JSON summary with the resolved configuration,
written as one bundle. The energy table is loaded once per sweep and sent to the workers.
The workload (synthetic layers generated, model files decoded) is built **once per sweep**
in the parent, one per swept ``weight_bits`` value, and handed to every worker when it
starts (not rebuilt per point or per process); each worker then lays a layer out once per
layout-relevant configuration (:func:`eie_sim.hw.layout.layout_key`).

A sweep in which every point failed is an error (:class:`~eie_sim.errors.WorkloadError`
naming the first point's problem; nothing is written). The number of points is capped
(:data:`~eie_sim.arch.config_io.MAX_SWEEP_POINTS` unless the config was loaded with
``max_points``); points are handed to the workers a few at a time.

Workers die with their parent: each ignores SIGINT (the parent handles it), asks the
kernel for SIGKILL when its parent dies (Linux ``PR_SET_PDEATHSIG``) and watches its
parent process id (any system), so a ``kill -9`` of ``eie-sweep`` leaves no worker (and
so no resource tracker) behind; on an exception or SIGINT/SIGTERM in the parent the
workers are terminated before it exits.
"""
from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing
import os
import pathlib
import signal
import threading
import time
from typing import Any, Callable

from eie_sim.arch.config import ArchConfig
from eie_sim.arch.config_io import LoadedConfig, count_points, dump_resolved, iter_points
from eie_sim.arch.energy import EnergyTable
from eie_sim.errors import FixedPointRangeError, LayoutError, WorkloadError
from eie_sim.output import report
from eie_sim.sim.network import run_workload
from eie_sim.sim.results import LAYER_COLUMNS
from eie_sim.workloads.files import absolute_block, from_block

#: what makes one point fail without stopping the sweep (recorded in its ``error`` column)
POINT_ERRORS = (LayoutError, FixedPointRangeError)

#: this process's workloads: weight_bits -> Workload, or the message of why it failed
_WORKLOADS: dict[int, Any] = {}


def build_workloads(block: dict, weight_bits: set[int], seed: int,
                    base_dir: str | None) -> dict[int, Any]:
    """The sweep's workloads, built once: one per ``weight_bits`` value the points use
    (the codebook width changes the quantization), or the error of the ones that fail."""
    out: dict[int, Any] = {}
    for bits in sorted(weight_bits):
        try:
            out[bits] = from_block(block, ArchConfig(weight_bits=bits), seed=seed, base_dir=base_dir)
        except WorkloadError as exc:
            out[bits] = f"{type(exc).__name__}: {exc}"
    return out


def run_point(task: dict) -> list[dict]:
    """One sweep point: every layer of the workload on ``task['cfg']`` (runs in a worker).

    A point whose workload cannot be built or laid out for its configuration
    (:class:`~eie_sim.errors.WorkloadError`, :data:`POINT_ERRORS`) gives one row with
    the message in ``error``; the sweep goes on with the other points.
    """

    cfg: ArchConfig = ArchConfig(**task["cfg"]).validate()
    run = task["run"]
    head = {"point": task["index"], **task["point"]}
    wl = _WORKLOADS[cfg.weight_bits]
    if isinstance(wl, str):
        return [{**head, "layer": "", "error": wl}]
    try:
        results, _ = run_workload(wl, cfg, run["engine"], run["verify"], run["relu"],
                                  check_fit=run["check_fit"], energy_table=task.get("energy_table"),
                                  seed=run["seed"])
    except (WorkloadError, *POINT_ERRORS) as exc:
        names = ",".join(l.name for l in wl.layers)
        return [{**head, "layer": names, "error": f"{type(exc).__name__}: {exc}"}]
    return [{**head, **r.to_dict(), "error": ""} for r in results]


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.25)
        if os.getppid() != parent:       # re-parented: the sweep process is gone
            os._exit(1)


def _worker_init(parent: int, workloads: dict[int, Any]) -> None:
    """Receive the sweep's workloads and make the worker die with its parent (see the
    module docstring)."""
    _WORKLOADS.clear()
    _WORKLOADS.update(workloads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError, TypeError):   # not Linux: the watcher thread remains
        pass
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="eie-sweep-parent-watch").start()


def _stop_workers(ex: cf.ProcessPoolExecutor) -> None:
    """End the worker processes now and cancel what is queued (on an error or a signal);
    the executor's own shutdown then sees them gone and releases its queues."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=2)
        if p.is_alive():
            p.kill()
            p.join(timeout=2)
    ex.shutdown(wait=True, cancel_futures=True)


def _run_parallel(tasks, n: int, workers: int, workloads: dict[int, Any], progress) -> list[dict]:
    """Run ``tasks`` (an iterator of ``n``) on ``workers`` processes, at most two per
    worker in flight; rows in point order."""
    ctx = multiprocessing.get_context("spawn")
    ex = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                                initargs=(os.getpid(), workloads))
    by_index: dict[int, list[dict]] = {}
    try:
        # start every worker (and let it receive the workloads) before the points go out
        for f in [ex.submit(os.getpid) for _ in range(workers)]:
            f.result()
        pending: dict = {}

        def submit_next() -> None:
            t = next(tasks, None)
            if t is not None:
                pending[ex.submit(run_point, t)] = t
        for _ in range(2 * workers):
            submit_next()
        while pending:
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                t = pending.pop(fut)
                by_index[t["index"]] = fut.result()
                if progress:
                    progress(f"point {t['index'] + 1}/{n} {t['point']} done")
                submit_next()
    except BaseException:
        _stop_workers(ex)
        raise
    ex.shutdown(wait=True)
    return [row for i in sorted(by_index) for row in by_index[i]]


def run_sweep(loaded: LoadedConfig, out: str | pathlib.Path, force: bool = False,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every point of ``loaded.sweep`` on ``loaded.workload``; write the bundle ``out``.

    Raises :class:`~eie_sim.errors.WorkloadError` (and writes nothing) when every point
    failed."""
    out = report.prepare_out_dir(out, force)
    if not loaded.workload:
        raise WorkloadError(f"{loaded.source}: no workload: block to sweep over")
    t0 = time.perf_counter()
    n = count_points(loaded.sweep)
    base_dir = str(pathlib.Path(loaded.source).parent) if loaded.source not in ("<defaults>", "<string>") else None
    run = loaded.run.as_dict()
    table = EnergyTable.load(loaded.run.energy_table) if loaded.run.energy_table else None
    bits = {dataclasses.replace(loaded.arch, **pt).weight_bits for pt in iter_points(loaded.sweep)}
    workloads = build_workloads(loaded.workload, bits, run["seed"], base_dir)
    tasks = ({"index": i, "point": pt, "run": run, "energy_table": table,
              "cfg": dataclasses.replace(loaded.arch, **pt).validate().as_dict()}
             for i, pt in enumerate(iter_points(loaded.sweep)))
    workers = min(loaded.run.workers, n)
    if workers <= 1:
        _WORKLOADS.clear()
        _WORKLOADS.update(workloads)
        rows = []
        for t in tasks:
            rows.extend(run_point(t))
            if progress:
                progress(f"point {t['index'] + 1}/{n} {t['point']} done")
    else:
        rows = _run_parallel(tasks, n, workers, workloads, progress)
    failed = sorted({r["point"] for r in rows if r.get("error")})
    if len(failed) == n:
        first = next(r for r in rows if r.get("error"))
        raise WorkloadError(f"every one of the {n} sweep point(s) failed, nothing written; "
                            f"point {first['point']}: {first['error']}")
    points = list(iter_points(loaded.sweep))
    keys = list(loaded.sweep)
    columns = ["point"] + keys + list(LAYER_COLUMNS) + ["error"]
    synthetic = "table3" in loaded.workload or "synthetic" in loaded.workload
    summary = {"title": f"sweep of {', '.join(keys) or 'nothing'}", "config": loaded.resolved(),
               "sweep": loaded.sweep, "points": points,
               "engine": loaded.run.engine, "verified": loaded.run.verify,
               "seeds": {"run_seed": loaded.run.seed}, "synthetic": synthetic,
               "failed_points": failed,
               "wall_s": time.perf_counter() - t0, "workers": workers}
    if synthetic:
        summary["note"] = report.SYNTHETIC_NOTE
    md = [f"# EIE sweep: {summary['title']}", ""]
    if synthetic:
        md += [f"**{report.SYNTHETIC_NOTE}**", ""]
    md.append("| point | " + " | ".join(keys) + " | layer | cycles | time (us) | load eff. | real/total work | error |")
    md.append("|" + "---|" * (len(keys) + 7))
    for r in rows:
        md.append(f"| {r['point']} | " + " | ".join(str(r.get(k, "")) for k in keys) +
                  f" | {r.get('layer', '')} | {r.get('cycles', '')} | "
                  + (f"{r['time_us']:.2f} | {r['load_efficiency']:.3f} | {r['real_over_total_work']:.3f} | |"
                     if not r.get("error") else f" | | | {r['error'][:80]} |"))
    # the bundle's config.yaml must find the workload's files from wherever it is read
    loaded_abs = dataclasses.replace(loaded, workload=absolute_block(loaded.workload, base_dir))
    summary["config"] = loaded_abs.resolved()
    files = {"sweep.csv": report.csv_text(rows, columns), "summary.json": report.json_text(summary),
             "report.md": "\n".join(md) + "\n", "config.yaml": dump_resolved(loaded_abs)}
    report.write_bundle(out, files, force)
    return {"points": len(points), "rows": len(rows), "wall_s": summary["wall_s"], "out": str(out)}
