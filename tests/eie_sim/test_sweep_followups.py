"""Sweep follow-ups: eie-plot of an unfinished sweep folder (read-only, from sweep.db), the
dask executor shipping each workload to the workers once, and [low, high] density ranges
in a search space (one workload per distinct rounded density)."""
import csv
import dataclasses
import hashlib
import importlib.util
import io
import json
import pathlib
import re
import signal

import pytest
import yaml

from eie_sim.apps.sweep import read_partial, run_sweep
from eie_sim.arch.config_io import load_config
from eie_sim.cli.plot import plot_main
from eie_sim.cli.sweep import sweep_main
from eie_sim.workloads.layer import Workload
from tests.eie_sim.test_sweep_scale import KILL, _count, _start, _write

PNG = b"\x89PNG\r\n\x1a\n"


def _snapshot(folder: pathlib.Path) -> dict:
    """Every file of ``folder``: its bytes' hash and its modification time."""
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir())}


def _csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_plot_of_a_sigkilled_sweep_reads_its_database_and_writes_nothing_there(
        tmp_path, capsys, monkeypatch):
    """A 240-point sweep killed with SIGKILL after >= 20 committed points (sweep.db with its
    -wal and -shm, no sweep.csv): eie-plot draws the points recorded so far, every title
    says "partial sweep: n of 240 points", and the folder is byte-for-byte unchanged (no
    CSV, no -wal/-shm written). The partial tables are the finished sweep's rows of those
    points (the same export code)."""
    import matplotlib.axes
    import matplotlib.figure
    cfg = _write(tmp_path, KILL + "run: {workers: 1}\n")
    out, db = tmp_path / "o", tmp_path / "o" / "sweep.db"
    proc = _start(cfg, out, 1)
    try:
        import time
        deadline = time.monotonic() + 60
        while _count(db) < 20:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the sweep recorded no points in 60 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    n = _count(db)
    assert 20 <= n < 240 and not (out / "sweep.csv").exists()
    before = _snapshot(out)
    assert {"sweep.db", "sweep.db-wal", "sweep.db-shm"} <= set(before)

    titles = []
    real_title, real_sup = matplotlib.axes.Axes.set_title, matplotlib.figure.Figure.suptitle
    monkeypatch.setattr(matplotlib.axes.Axes, "set_title",
                        lambda self, t, *a, **k: (titles.append(t), real_title(self, t, *a, **k))[1])
    monkeypatch.setattr(matplotlib.figure.Figure, "suptitle",
                        lambda self, t, *a, **k: (titles.append(t), real_sup(self, t, *a, **k))[1])
    assert plot_main([str(out), "--out", str(tmp_path / "png")]) == 0
    said = capsys.readouterr().out
    note = f"partial sweep: {n} of 240 points"
    assert note in said
    made = sorted(p.name for p in (tmp_path / "png").iterdir() if p.name != ".eie-sim.json")
    # the heatmaps' keys are the first two that vary among the points recorded so far
    assert {"fig8_load_efficiency_vs_queue_depth.png", "fig9_spmat_width.png",
            "pareto_latency_energy.png"} <= set(made)
    assert len([m for m in made if m.startswith("heatmap_")]) == 2, made
    assert all((tmp_path / "png" / m).read_bytes()[:8] == PNG for m in made)
    # every figure's title (not a small multiple's "key = value" panel label) has the note
    heads = [t for t in titles if not re.fullmatch(r"[\w.]+ = \S+", t)]
    assert len(heads) >= len(made) and all(f"[{note}]" in t for t in heads), heads
    assert _snapshot(out) == before, "eie-plot changed the sweep folder"

    part = read_partial(out)                    # what was plotted
    assert (part["done"], part["total"]) == (n, 240)
    pts = _csv(part["files"]["points.csv"])
    assert len(pts) == n and len(_csv(part["files"]["sweep.csv"])) == 2 * n
    assert _snapshot(out) == before
    # resumed to the end: the recorded points' rows are the finished tables' rows
    res = run_sweep(load_config(cfg), out)
    assert res["points"] == 240 and res["ran"] == 240 - n
    final = {r["point"]: r for r in _csv((out / "points.csv").read_text())}
    assert all(final[r["point"]] == r for r in pts)
    final_rows = {(r["point"], r["layer"]): r for r in _csv((out / "sweep.csv").read_text())}
    assert all(final_rows[(r["point"], r["layer"])] == r
               for r in _csv(part["files"]["sweep.csv"]))


def test_plot_of_a_cleanly_stopped_sweep_and_of_bad_databases(tmp_path, capsys):
    """A finished folder is plotted from its files, without the note. A folder whose
    database was closed cleanly (no -wal: a sweep stopped by Ctrl-C, here a finished one
    with its exports removed and points 4-5 deleted) plots its points without creating
    -wal/-shm; a database
    with no point yet, and a file that is not a database, are clean errors (exit 2)."""
    cfg = _write(tmp_path, KILL.split("sweep:")[0] + "run: {workers: 1}\n"
                 "sweep:\n  pes: [1, 2, 4]\n  queue_depth: [1, 8]\n")
    out = tmp_path / "o"
    run_sweep(load_config(cfg), out)
    assert plot_main([str(out), "--out", str(tmp_path / "done")]) == 0   # finished: no note
    assert "partial" not in capsys.readouterr().out
    for f in ("sweep.csv", "points.csv", "pareto.csv", "summary.json", "report.md",
              "report.html", "config.yaml"):
        (out / f).unlink()
    import sqlite3
    con = sqlite3.connect(out / "sweep.db")
    with con:
        con.execute("DELETE FROM layers WHERE point >= 4")
        con.execute("DELETE FROM points WHERE point >= 4")
    con.close()
    before = _snapshot(out)
    assert set(before) == {"sweep.db", ".eie-sim.json"}
    assert plot_main([str(out), "--out", str(tmp_path / "png")]) == 0
    assert "partial sweep: 4 of 6 points" in capsys.readouterr().out
    assert "pareto_latency_energy.png" in {p.name for p in (tmp_path / "png").iterdir()}
    assert _snapshot(out) == before
    # no point yet
    con = sqlite3.connect(out / "sweep.db")
    with con:
        con.execute("DELETE FROM layers")
        con.execute("DELETE FROM points")
    con.close()
    assert plot_main([str(out), "--out", str(tmp_path / "png3")]) == 2
    err = capsys.readouterr().err
    assert "recorded no point yet" in err and "Traceback" not in err
    assert not (tmp_path / "png3").exists()
    # not a database
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "sweep.db").write_bytes(b"this is not sqlite" * 100)
    assert plot_main([str(bad), "--out", str(tmp_path / "png4")]) == 2
    err = capsys.readouterr().err
    assert "not a readable sweep database" in err and "Traceback" not in err
    assert [p.name for p in bad.iterdir()] == ["sweep.db"]


# ---------------------------------------------------------------- dask: workloads shipped once
#: descriptions of the CountingWorkloads unpickled in this process (each dask worker
#: process has its own list)
_UNPICKLED: list[str] = []


def _rebuild(fields):
    _UNPICKLED.append(fields["description"])
    return CountingWorkload(**fields)


class CountingWorkload(Workload):
    """A Workload that notes every time it is unpickled (in the process unpickling it)."""

    def __reduce__(self):
        return _rebuild, ({f.name: getattr(self, f.name) for f in dataclasses.fields(self)},)


def _unpickled() -> list[str]:
    return list(_UNPICKLED)


def test_dask_ships_each_workload_to_each_worker_once(tmp_path, monkeypatch):
    """How "once" is proved: the sweep's workloads are wrapped in :class:`CountingWorkload`,
    whose unpickling appends to a list in the process that unpickles it. A 24-point sweep
    (2 workloads, 1 point per task, so 24 tasks) runs on a 2-process LocalCluster; before
    the executor closes, every worker process reports its list (``client.run``). Each
    worker unpickled each of the 2 workloads exactly once (2 x 2 in all): shipping per
    task or per point would have unpickled them up to 24 times (measured with the scatter
    bypassed: 32 on one worker). With dask's Active Memory Manager on (its default), its
    ReduceReplicas policy dropped a worker's copy between tasks and the worker fetched it
    again (measured: 2 of 10 runs failed here), so the executor's LocalCluster runs without
    it. The tables are those of the local executor."""
    pytest.importorskip("distributed")
    import eie_sim.apps.sweep as sweep_mod
    from eie_sim.apps import sweep_exec
    real_build = sweep_mod.build_workloads

    def counting_build(*a, **k):         # each workload's description: its key
        return {key: CountingWorkload(**{**{f.name: getattr(w, f.name)
                                             for f in dataclasses.fields(w)}, "description": key})
                if isinstance(w, Workload) else w for key, w in real_build(*a, **k).items()}
    monkeypatch.setattr(sweep_mod, "build_workloads", counting_build)
    seen, tasks, amm = [], [], []
    real_close, real_submit_run = sweep_exec.DaskExecutor.close, sweep_exec.DaskExecutor.run

    def close(self):
        if self.client is not None:
            seen.append(self.client.run(_unpickled))
            amm.append(self.client.amm.running())
        real_close(self)

    def run(self, it, n, on_result):
        tasks.append(sweep_exec.chunk_size(n, self.workers))
        return real_submit_run(self, it, n, on_result)
    monkeypatch.setattr(sweep_exec.DaskExecutor, "close", close)
    monkeypatch.setattr(sweep_exec.DaskExecutor, "run", run)
    text = (KILL.split("sweep:")[0] + "sweep:\n  pes: [1, 2, 4]\n  queue_depth: [1, 2, 4, 8]\n"
            "  workload.weight_density: [0.1, 0.2]\n")
    res = run_sweep(load_config(_write(tmp_path, text + "run: {workers: 2, executor: dask}\n")),
                    tmp_path / "d")
    assert res["points"] == 24 and res["failed"] == 0
    assert tasks == [1]                                   # one point per task: 24 tasks
    (per_worker,) = seen
    assert len(per_worker) == 2, per_worker
    keys = {k for got in per_worker.values() for k in got}
    assert len(keys) == 2, per_worker
    for got in per_worker.values():                       # each workload once per worker
        assert sorted(got) == sorted(keys), per_worker
    assert amm == [False]            # the Active Memory Manager would drop the copies
    assert _UNPICKLED == []                               # the parent unpickled none
    monkeypatch.undo()
    run_sweep(load_config(_write(tmp_path, text + "run: {workers: 1}\n", "l.yaml")), tmp_path / "l")
    for f in ("sweep.csv", "points.csv", "pareto.csv"):
        assert (tmp_path / "d" / f).read_bytes() == (tmp_path / "l" / f).read_bytes(), f


# ---------------------------------------------------------------- density ranges in a search
RANGE_SPACE = {"pes": [2, 4, 8],
               "workload.weight_density": {"low": 0.05, "high": 0.32, "step": 0.05},
               "workload.act_density": {"low": 0.5, "high": 1.0, "step": 0.25}}


def test_search_density_range_builds_one_workload_per_distinct_value(tmp_path, monkeypatch):
    """A random search of 30 trials (batches of 8) over two density ranges (6 x 3 grid
    values): every point's densities are on the grid, each distinct (weight, act) density
    pair was built exactly once (counted at the builder) and the count is summary.json's
    workloads_built; in-process, 2 local worker processes and a dask LocalCluster (new
    workloads handed to running workers batch by batch) give the same tables."""
    pytest.importorskip("optuna")
    import eie_sim.apps.sweep_points as points_mod
    calls = []
    real = points_mod.build_workload

    def counting(block, over, *a, **k):
        calls.append((over.get("workload.weight_density"), over.get("workload.act_density")))
        return real(block, over, *a, **k)
    monkeypatch.setattr(points_mod, "build_workload", counting)
    search = {"search": {"method": "random", "trials": 30, "batch": 8, "seed": 5,
                         "space": RANGE_SPACE}}
    text = KILL.split("sweep:")[0] + yaml.safe_dump({"sweep": search})
    res = run_sweep(load_config(text=text + "run: {workers: 1}\n"), tmp_path / "one")
    assert res["points"] == 30 and res["failed"] == 0
    pts = _csv((tmp_path / "one" / "points.csv").read_text())
    pairs = {(float(p["workload.weight_density"]), float(p["workload.act_density"])) for p in pts}
    wd_grid, ad_grid = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3], [0.5, 0.75, 1.0]
    assert all(w in wd_grid and a in ad_grid for w, a in pairs), pairs
    assert sorted(calls) == sorted(pairs)                 # one build per distinct pair
    assert 1 < len(pairs) <= 18 and res["workloads_built"] == len(pairs)
    summary = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert summary["workloads_built"] == len(pairs)
    assert summary["sweep"]["search"]["space"]["workload.weight_density"] == {
        "low": 0.05, "high": 0.3, "log": False, "step": 0.05}       # high: last grid value
    for r in _csv((tmp_path / "one" / "sweep.csv").read_text()):   # the layers got them
        assert float(r["weight_density"]) == pytest.approx(float(r["workload.weight_density"]),
                                                           abs=0.02)
    calls.clear()
    res2 = run_sweep(load_config(text=text + "run: {workers: 2}\n"), tmp_path / "two")
    assert res2["workloads_built"] == len(pairs) and sorted(calls) == sorted(pairs)
    outs = ["two"]
    if importlib.util.find_spec("distributed") is not None:
        run_sweep(load_config(text=text + "run: {workers: 2, executor: dask}\n"), tmp_path / "dask",
                  processes=False)
        outs.append("dask")
    for d in outs:
        for f in ("sweep.csv", "points.csv", "pareto.csv"):
            assert (tmp_path / d / f).read_bytes() == (tmp_path / "one" / f).read_bytes(), (d, f)


@pytest.mark.parametrize("spec, pattern", [
    ("{low: 0.1, high: 0.3, step: 0.001}",
     r"s\.yaml:\d+: sweep\.search\.space\.workload\.weight_density\.step: expected a number "
     r">= 0\.005"),
    ("{low: 0.1, high: 0.3, log: true}",
     r"s\.yaml:\d+: sweep\.search\.space\.workload\.weight_density\.log: a density range is "
     r"sampled on a step grid"),
    ("{low: 0.3, high: 0.1}", r"s\.yaml:\d+: sweep\.search\.space\.workload\.weight_density: "
     r"low 0\.3 > high 0\.1"),
    ("{low: 0.1, high: 1.5}", r"s\.yaml:\d+: sweep\.search\.space\.workload\.weight_density\.high:"
     r" expected a fraction in 0\.\.1, got 1\.5"),
    ("{low: 0.1}", r"sweep\.search\.space\.workload\.weight_density: a range needs low: and high:"),
    ("{low: 0.1, high: 0.2, stepp: 1}", r"sweep\.search\.space\.workload\.weight_density\.stepp: "
     r"unknown key"),
])
def test_density_range_errors(tmp_path, capsys, spec, pattern):
    cfg = _write(tmp_path, "workload:\n  synthetic:\n    - {name: a, rows: 8, cols: 8, "
                 "weight_density: 0.5}\nsweep:\n  search:\n    trials: 4\n    space:\n"
                 f"      pes: [1, 2]\n      workload.weight_density: {spec}\n", "s.yaml")
    assert sweep_main([str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert re.search(pattern, err) and "Traceback" not in err, err
    assert not (tmp_path / "o").exists()


def test_only_the_density_workload_keys_take_a_range(tmp_path, capsys):
    cfg = _write(tmp_path, "workload:\n  synthetic:\n    - {name: a, rows: 8, cols: 8, "
                 "weight_density: 0.5}\nsweep:\n  search:\n    trials: 4\n    space:\n"
                 "      workload.seed: {low: 1, high: 9}\n", "s.yaml")
    assert sweep_main([str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert re.search(r"s\.yaml:\d+: sweep\.search\.space\.workload\.seed: workload\.seed takes "
                     r"a list of choices, not a range", err), err
    # a list stays a list of choices (two densities, not a range)
    loaded = load_config(text="workload:\n  synthetic: {rows: 8, cols: 8, weight_density: 0.5}\n"
                         "sweep:\n  search: {trials: 4, space: {workload.weight_density: [0.05, 0.4]}}\n")
    assert loaded.plan["search"]["space"]["workload.weight_density"] == [0.05, 0.4]


def test_force_keeps_the_old_folder_when_the_new_run_leaves_none(tmp_path, capsys):
    """--force moves the old results aside; a run where every point fails puts them back
    untouched, a run that succeeds replaces them (and leaves no hidden copy behind)."""
    from eie_sim.output import folders
    out = tmp_path / "out"
    out.mkdir()
    (out / "sweep.csv").write_text("old\n")
    (out / folders.MARKER).write_text(folders.marker_text("eie-sweep", "sweep"))  # ours
    bad = _write(tmp_path, "workload:\n  synthetic:\n    - {name: a, rows: 9000, cols: 64, "
                 "weight_density: 0.5}\npes: 1\nsweep:\n  queue_depth: [1, 2]\n")
    assert sweep_main([str(bad), "--out", str(out), "--force", "--quiet"]) == 2
    assert "every one of the 2 sweep point(s) failed" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [folders.MARKER, "sweep.csv"]
    assert (out / "sweep.csv").read_text() == "old\n"
    good = _write(tmp_path, "workload:\n  synthetic:\n    - {name: a, rows: 90, cols: 64, "
                  "weight_density: 0.5}\npes: 1\nsweep:\n  queue_depth: [1, 2]\n")
    assert sweep_main([str(good), "--out", str(out), "--force", "--quiet"]) == 0
    assert (out / "sweep.db").exists() and (out / "sweep.csv").read_text() != "old\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
