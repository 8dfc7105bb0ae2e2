"""Issue 12: sweeps at scale -- the results database (resume after SIGKILL / Ctrl-C), dask,
workload keys, unique columns with units, per-point figures, random sampling, the Optuna
search against the grid's Pareto front, and the errors of the new sweep blocks."""
import csv
import json
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml

from eie_sim.apps.sweep import covers, pareto_front, run_sweep
from eie_sim.arch.config_io import load_config
from eie_sim.arch.energy import EnergyTable
from eie_sim.cli.sweep import sweep_main

ROOT = pathlib.Path(__file__).resolve().parents[2]
TWO = ("workload:\n  synthetic:\n"
       "    - {name: a, rows: 60, cols: 80, weight_density: 0.1, act_density: 0.5, seed: 1}\n"
       "    - {name: b, rows: 30, cols: 40, weight_density: 0.3, act_density: 1.0, seed: 2}\n")
EXPORTED = ("sweep.csv", "points.csv", "pareto.csv")


def _write(tmp_path, text, name="s.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _rows(path):
    return list(csv.DictReader(open(path, newline="")))


def test_columns_unique_with_units_stable_index_and_point_figures(tmp_path):
    cfg = _write(tmp_path, TWO + "run: {workers: 1}\nsweep:\n  pes: [2, 4]\n"
                 "  queue_depth: [1, 8]\n  workload.weight_density: [0.1, 0.2]\n")
    res = run_sweep(load_config(cfg), tmp_path / "o")
    assert res["points"] == 8 and res["ran"] == 8 and res["failed"] == 0
    head = (tmp_path / "o" / "sweep.csv").read_text().splitlines()[0].split(",")
    assert len(head) == len(set(head)), "duplicate column names"
    assert head[:7] == ["point", "pes", "queue_depth", "workload.weight_density", "fits",
                        "fit_handling", "layer"]
    assert "wall_s" not in head                       # wall times stay out of the tables
    rows = _rows(tmp_path / "o" / "sweep.csv")
    assert [int(r["point"]) for r in rows] == [i for i in range(8) for _ in "ab"]   # 0-based
    pts = _rows(tmp_path / "o" / "points.csv")
    summ = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summ["units"]["time_us"] == "microseconds" and summ["units"]["total_energy_uj"] == "microjoules"
    assert summ["units"]["inferences_per_s_per_mm2"] == "inferences / s / mm^2"
    assert "one pass through the workload's layers" in summ["inference"]
    for p in pts:
        mine = [r for r in rows if r["point"] == p["point"]]
        t = sum(float(r["time_us"]) for r in mine)
        e = sum(float(r["total_energy_uj"]) for r in mine)
        assert float(p["time_us"]) == pytest.approx(t, rel=1e-12)
        assert float(p["total_energy_uj"]) == pytest.approx(e, rel=1e-12)
        assert float(p["inferences_per_s"]) == pytest.approx(1e6 / t)
        assert float(p["inferences_per_j"]) == pytest.approx(1e6 / e)
        assert float(p["avg_power_w"]) == pytest.approx(e / t)
        area = float(p["chip_area_mm2"])
        assert float(p["inferences_per_s_per_mm2"]) == pytest.approx(1e6 / t / area)
        if "chip_area_mm2" in mine[0]:          # the layer rows' chip area when they carry it
            assert area == pytest.approx(float(mine[0]["chip_area_mm2"]))
        else:
            cfg_p = load_config(cfg).arch.__class__(pes=int(p["pes"]))
            assert area == pytest.approx(EnergyTable.load().area_mm2(cfg_p).chip_mm2)
    # the swept weight density is what the layers got (measured nnz / size)
    for r in rows:
        assert float(r["weight_density"]) == pytest.approx(float(r["workload.weight_density"]), abs=0.01)
    # the front is the non-dominated set of points.csv
    vals = {int(p["point"]): (float(p["time_us"]), float(p["total_energy_uj"]), float(p["chip_area_mm2"]))
            for p in pts}
    assert [int(r["point"]) for r in _rows(tmp_path / "o" / "pareto.csv")] == pareto_front(vals)


def test_table3_density_override_and_layers_key(tmp_path):
    cfg = _write(tmp_path, "workload: {table3: [NT-We, NT-Wd]}\nrun: {workers: 1}\n"
                 "sweep:\n  workload.layers: [NT-We]\n  workload.weight_density: [0.05, 0.1]\n")
    run_sweep(load_config(cfg), tmp_path / "o")
    rows = _rows(tmp_path / "o" / "sweep.csv")
    assert [r["layer"] for r in rows] == ["NT-We", "NT-We"]
    nnz = [int(r["nnz"]) for r in rows]
    assert nnz == [round(d * 600 * 4096) for d in (0.05, 0.1)]


def test_random_sample_is_the_grid_at_the_same_indices(tmp_path):
    grid = TWO + "run: {workers: 1}\nsweep:\n  pes: [1, 2, 4, 8]\n  queue_depth: [1, 2, 4, 8]\n"
    run_sweep(load_config(_write(tmp_path, grid, "g.yaml")), tmp_path / "g")
    cfg = _write(tmp_path, grid + "  random: {samples: 5, seed: 7}\n", "r.yaml")
    res = run_sweep(load_config(cfg), tmp_path / "r")
    assert res["points"] == 5
    g = {r["point"]: r for r in _rows(tmp_path / "g" / "points.csv")}
    r = _rows(tmp_path / "r" / "points.csv")
    assert len({x["point"] for x in r}) == 5 and all(x == g[x["point"]] for x in r)
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["seeds"]["random_seed"] == 7


def test_rerun_resumes_and_refuses_another_sweep(tmp_path, capsys):
    cfg = _write(tmp_path, TWO + "run: {workers: 1}\nsweep:\n  pes: [1, 2, 4]\n")
    assert sweep_main([str(cfg), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    first = {f: (tmp_path / "o" / f).read_bytes() for f in EXPORTED}
    assert sweep_main([str(cfg), "--out", str(tmp_path / "o"), "--resume", "--quiet"]) == 0
    assert "(0 run now" in capsys.readouterr().out
    assert first == {f: (tmp_path / "o" / f).read_bytes() for f in EXPORTED}
    other = _write(tmp_path, TWO + "run: {workers: 1}\nsweep:\n  pes: [1, 2, 8]\n", "t.yaml")
    assert sweep_main([str(other), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "holds a different sweep" in err and "Traceback" not in err
    assert first == {f: (tmp_path / "o" / f).read_bytes() for f in EXPORTED}
    assert sweep_main([str(other), "--out", str(tmp_path / "n"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert sweep_main([str(other), "--out", str(tmp_path / "o"), "--force", "--quiet"]) == 0
    assert [r["pes"] for r in _rows(tmp_path / "o" / "points.csv")] == ["1", "2", "8"]


KILL = ("workload:\n  synthetic:\n"
        "    - {name: a, rows: 40, cols: 48, weight_density: 0.2, act_density: 0.6, seed: 3}\n"
        "    - {name: b, rows: 24, cols: 40, weight_density: 0.3, act_density: 1.0, seed: 4}\n"
        "sweep:\n  pes: [1, 2, 4, 8, 16]\n  queue_depth: [1, 2, 4, 8]\n"
        "  spmat_width_bits: [32, 64, 128]\n  workload.weight_density: [0.1, 0.2, 0.3, 0.4]\n")


def _count(db):
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


#: the child: SIGINT back to Python's default handler and unblocked (whatever the test
#: runner left it: ``nohup ... &`` ignores it), and each recorded point held 30 ms (the 240
#: points take >= 7 s, so an interrupt sent after the 40th always finds the sweep running;
#: the recorded data are unchanged)
CHILD = """import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
from eie_sim.apps import sweep_db
add = sweep_db.SweepDB.add
def slow_add(self, point, res):
    time.sleep(0.03)
    return add(self, point, res)
sweep_db.SweepDB.add = slow_add
from eie_sim.cli.sweep import sweep_main
sys.exit(sweep_main(sys.argv[1:]))
"""


def _start(cfg, out, workers, executor="local"):
    env = {**os.environ, "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))}
    return subprocess.Popen([sys.executable, "-c", CHILD, str(cfg), "--out", str(out), "--quiet",
                             "--workers", str(workers), "--executor", executor],
                            cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop_after(proc, db, n_points, sig):
    deadline = time.monotonic() + 240             # a loaded 2-core machine, a dask start
    while _count(db) < n_points:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep recorded too few points in 240 s"
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be stopped"
    if sig == signal.SIGINT:          # Ctrl-C at a terminal: the whole process group
        os.killpg(proc.pid, sig)
    else:                             # kill -9 PID: eie-sweep alone
        proc.send_signal(sig)
    return proc.communicate(timeout=120)


def _interrupt_and_resume(tmp_path, sig, rc, workers, executor="local"):
    cfg = _write(tmp_path, KILL + "run: {workers: 1}\n")
    t0 = time.perf_counter()
    ref = run_sweep(load_config(cfg), tmp_path / "ref")
    assert ref["points"] == 240
    out, db = tmp_path / "o", tmp_path / "o" / "sweep.db"
    p = _start(cfg, out, workers, executor)
    _, err = _stop_after(p, db, 40, sig)
    assert p.returncode == rc, err
    n = _count(db)
    assert 40 <= n < 240 and not (out / "sweep.csv").exists()
    res = run_sweep(load_config(cfg), out)
    assert res["points"] == 240 and res["ran"] == 240 - n
    for f in EXPORTED:
        assert (out / f).read_bytes() == (tmp_path / "ref" / f).read_bytes(), f
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*), COUNT(DISTINCT point) FROM points").fetchone() == (240, 240)
    assert con.execute("SELECT COUNT(*) FROM layers").fetchone()[0] == 480
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    return err, time.perf_counter() - t0


def test_sigkill_then_resume_gives_the_uninterrupted_tables(tmp_path):
    """A 240-point sweep on 2 worker processes killed with a real SIGKILL once some points
    are committed, then resumed: exactly the tables of an uninterrupted run, no point
    lost or duplicated."""
    _, secs = _interrupt_and_resume(tmp_path, signal.SIGKILL, -signal.SIGKILL, 2)
    print(f"kill/resume case: {secs:.1f} s")


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_ctrl_c_then_resume_gives_the_uninterrupted_tables(tmp_path, executor):
    """Ctrl-C (SIGINT to the process group, workers included): exit 130, one line on
    stderr (no worker traceback), the finished points kept; the rerun completes them.
    The child sets its own SIGINT handling (:data:`CHILD`), so this holds under a test
    runner started with SIGINT ignored (``setsid nohup ... &``)."""
    err, _ = _interrupt_and_resume(tmp_path, signal.SIGINT, 130, 2, executor)
    assert err.startswith("eie-sweep: interrupted; the finished points are kept in ")
    assert err.count("\n") == 1 and "Traceback" not in err, err


def test_dask_local_cluster_gives_the_local_table(tmp_path, capsys):
    """2-worker LocalCluster (worker processes, as eie-sweep starts it: ~6 s here) and an
    existing cluster given by its address vs the local executor: the same tables."""
    pytest.importorskip("distributed")
    text = TWO + "sweep:\n  pes: [1, 2, 4, 8]\n  queue_depth: [1, 8]\n  workload.weight_density: [0.1, 0.2]\n"
    local = run_sweep(load_config(_write(tmp_path, text + "run: {workers: 1}\n", "l.yaml")), tmp_path / "l")
    dask = run_sweep(load_config(_write(tmp_path, text + "run: {workers: 2, executor: dask}\n", "d.yaml")),
                     tmp_path / "d")
    assert local["points"] == dask["points"] == 16
    for f in EXPORTED:
        assert (tmp_path / "l" / f).read_bytes() == (tmp_path / "d" / f).read_bytes(), f
    assert json.loads((tmp_path / "d" / "summary.json").read_text())["executor"] == "dask"
    # an existing cluster by its address (run.scheduler; here one of two worker threads)
    from distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as cluster:
        cfg = _write(tmp_path, text + "run: {executor: dask}\n", "a.yaml")   # a file names none
        assert sweep_main([str(cfg), "--out", str(tmp_path / "a"), "--quiet",
                           "--scheduler", cluster.scheduler_address]) == 0
    for f in EXPORTED:
        assert (tmp_path / "l" / f).read_bytes() == (tmp_path / "a" / f).read_bytes(), f


SEARCH_WL = ("workload:\n  synthetic:\n"
             "    - {name: a, rows: 120, cols: 96, weight_density: 0.15, act_density: 0.5, seed: 1}\n"
             "    - {name: b, rows: 48, cols: 120, weight_density: 0.3, act_density: 0.7, seed: 2}\n"
             "run: {workers: 1}\n")
SPACE = {"pes": [1, 2, 4, 8, 16, 32, 64], "queue_depth": [1, 2, 4, 8, 16],
         "spmat_width_bits": [32, 64, 128]}


def _front(d):
    return [(float(r["time_us"]), float(r["total_energy_uj"]), float(r["chip_area_mm2"]))
            for r in _rows(d / "pareto.csv")]


def test_optuna_search_front_covers_the_grid_front(tmp_path):
    """TPE, 60 trials on a 105-point grid (its values as choices): the search's front
    dominates or equals the grid's (every grid-front point weakly dominated)."""
    pytest.importorskip("optuna")
    run_sweep(load_config(text=SEARCH_WL + yaml.safe_dump({"sweep": SPACE})), tmp_path / "g")
    search = {"search": {"method": "tpe", "trials": 60, "seed": 0, "space": SPACE}}
    res = run_sweep(load_config(text=SEARCH_WL + yaml.safe_dump({"sweep": search})), tmp_path / "s")
    assert res["points"] == 60
    g, s = _front(tmp_path / "g"), _front(tmp_path / "s")
    assert covers(s, g)
    # the check is not vacuous: a front does not cover a strictly better one
    assert not covers([(x * 1.01, y, z) for x, y, z in g], g)
    summ = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summ["seeds"]["search_seed"] == 0 and summ["pareto_objectives"] == ["latency", "energy", "area"]
    # every searched point is a grid point with the grid's figures
    grid = {(r["pes"], r["queue_depth"], r["spmat_width_bits"]): r for r in _rows(tmp_path / "g" / "points.csv")}
    for r in _rows(tmp_path / "s" / "points.csv"):
        assert r["time_us"] == grid[(r["pes"], r["queue_depth"], r["spmat_width_bits"])]["time_us"]
    # a resumed search replays its trials from the database: the same tables, nothing run
    again = run_sweep(load_config(text=SEARCH_WL + yaml.safe_dump({"sweep": search})), tmp_path / "s")
    assert again["ran"] == 0
    # eie-plot: the Pareto plot, metrics against each key (the points as a scatter) and
    # heatmaps from points.csv (no Fig. 8-13 and no unit bars: a search is not a grid)
    from eie_sim.cli.plot import plot_main
    assert plot_main([str(tmp_path / "s"), "--out", str(tmp_path / "p")]) == 0
    assert sorted(x.name for x in (tmp_path / "p").iterdir()) == [
        ".eie-sim.json", "heatmap_queue_depth_vs_pes_inferences_per_j.png", "heatmap_queue_depth_vs_pes_latency.png",
        "metrics_vs_pes.png", "metrics_vs_queue_depth.png", "metrics_vs_spmat_width_bits.png",
        "pareto_latency_energy.png"]


@pytest.mark.parametrize("sweep, pattern", [
    ("  workload.weight_density: [0.1, 2]\n", r"s\.yaml:\d+: sweep\.workload\.weight_density\[1\]: expected a fraction"),
    ("  workload:\n    seed: [-1]\n", r"s\.yaml:\d+: sweep\.workload\.seed\[0\]: expected an integer >= 0"),
    ("  workload.layers: [zz]\n", r"sweep\.workload\.layers\[0\]: unknown layer\(s\) \['zz'\]"),
    ("  pes: [1, 2]\n  random: {samples: 3}\n", r"sweep\.random\.samples: 3 samples from a cross product of 2"),
    ("  random: {samples: 1, sede: 2}\n", r"sweep\.random\.sede: unknown key"),
    ("  search: {trials: 4, space: {pes: [1, 2]}, method: grid}\n", r"sweep\.search\.method: expected one of nsga2, tpe, random"),
    ("  search: {trials: 4, space: {pes: {low: 8, high: 2}}}\n", r"sweep\.search\.space\.pes: low 8 > high 2"),
    ("  search: {trials: 4, space: {pez: [1]}}\n", r"sweep\.search\.space\.pez: unknown key"),
    ("  search: {trials: 4, objectives: [speed], space: {pes: [1]}}\n", r"sweep\.search\.objectives: expected a list"),
    ("  pes: [1]\n  search: {trials: 4, space: {pes: [1]}}\n", r"sweep\.pes: with search:, the keys to vary go in search\.space"),
])
def test_new_sweep_block_errors(tmp_path, capsys, sweep, pattern):
    import re
    wl = "workload:\n  synthetic:\n    - {name: a, rows: 8, cols: 8, weight_density: 0.5}\n"
    cfg = _write(tmp_path, wl + "sweep:\n" + sweep)
    assert sweep_main([str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert re.search(pattern, err), err
    assert not (tmp_path / "o").exists()


def test_workload_key_that_does_not_apply_is_refused(tmp_path, capsys):
    import numpy as np
    np.savez(tmp_path / "l.npz", weights=np.ones((4, 4)))
    cfg = _write(tmp_path, "workload: {npz: l.npz}\nsweep:\n  workload.weight_density: [0.1]\n")
    assert sweep_main([str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "applies to table3 and synthetic workloads" in capsys.readouterr().err


def test_covers_and_front_definitions():
    assert pareto_front({0: (1, 2), 1: (2, 1), 2: (2, 2), 3: (1, 2)}) == [0, 1, 3]
    assert covers([(1, 1)], [(1, 2), (2, 1)]) and covers([(1, 2)], [(1, 2)])
    assert not covers([(1, 2)], [(2, 1)])


def test_a_search_resumed_halfway_replays_the_same_trials(tmp_path):
    """Trials lost with the sweep (deleted from the database here) are asked again, with
    the same points, and the tables are the uninterrupted run's."""
    pytest.importorskip("optuna")
    search = {"search": {"method": "nsga2", "trials": 24, "population": 8, "seed": 3, "space": SPACE}}
    text = SEARCH_WL + yaml.safe_dump({"sweep": search})
    run_sweep(load_config(text=text), tmp_path / "ref")
    run_sweep(load_config(text=text), tmp_path / "s")
    con = sqlite3.connect(tmp_path / "s" / "sweep.db")
    with con:
        con.execute("DELETE FROM layers WHERE point >= 11")
        con.execute("DELETE FROM points WHERE point >= 11")
    con.close()
    again = run_sweep(load_config(text=text), tmp_path / "s")
    assert again["points"] == 24 and again["ran"] == 13
    for f in EXPORTED:
        assert (tmp_path / "s" / f).read_bytes() == (tmp_path / "ref" / f).read_bytes(), f


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to find the worker processes")
def test_losing_a_worker_then_resume_gives_the_uninterrupted_tables(tmp_path):
    """A local worker process killed mid-sweep: eie-sweep stops (exit 1, the finished
    points kept); the rerun finishes it with the uninterrupted run's tables."""
    cfg = _write(tmp_path, KILL + "run: {workers: 1}\n")
    run_sweep(load_config(cfg), tmp_path / "ref")
    out, db = tmp_path / "o", tmp_path / "o" / "sweep.db"
    p = _start(cfg, out, 2)
    deadline = time.monotonic() + 60
    while _count(db) < 40:
        assert p.poll() is None and time.monotonic() < deadline + 180
        time.sleep(0.05)
    kids = [int(d) for d in os.listdir("/proc") if d.isdigit() and _ppid(int(d)) == p.pid
            and b"spawn_main" in _cmdline(int(d))]
    assert kids, "no worker process found"
    os.kill(kids[0], signal.SIGKILL)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 1 and "a worker process died" in err, err
    n = _count(db)
    res = run_sweep(load_config(cfg), out)
    assert res["ran"] == 240 - n
    for f in EXPORTED:
        assert (out / f).read_bytes() == (tmp_path / "ref" / f).read_bytes(), f


def _ppid(pid):
    try:
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return b""
