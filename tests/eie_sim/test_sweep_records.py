"""The typed sweep records (SweepPoint, PointResult), the grid count, a database written by
an older version of eie-sweep resumed by this one, and run_sweep's force (the old folder
moved aside while the sweep runs, put back when the run leaves none)."""
import json
import pathlib
import sqlite3

import pytest

import eie_sim.apps.sweep_exec as sweep_exec
from eie_sim.apps.sweep import read_partial, run_sweep
from eie_sim.apps.sweep_db import DB_NAME, SweepDB
from eie_sim.apps.sweep_points import (
    LATER_KEYS,
    PointResult,
    make_point,
    recorded_config,
    stable_hash,
)
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.config_io import count_points, load_config
from eie_sim.arch.sweep_spec import grid_size, planned_count
from eie_sim.sim.columns import LATER_COLUMNS

DATA = pathlib.Path(__file__).parent / "data"
EXPORTED = ("sweep.csv", "points.csv", "pareto.csv")
#: the configurations the database fixtures were written with (by eie-sweep at b03ed18)
WL = ("workload:\n  synthetic: {name: a, rows: 24, cols: 32, weight_density: 0.2, "
      "act_density: 0.6, seed: 3}\nrun: {workers: 1}\n")
CONFIGS = {
    "grid": WL + "sweep:\n  pes: [1, 2]\n  workload.weight_density: [0.1, 0.3]\n"
                 "  queue_depth: [1, 4]\n",
    "search": WL + ("sweep:\n  search:\n    method: random\n    trials: 8\n    batch: 4\n"
                    "    seed: 3\n    space: {pes: [1, 2, 4], workload.weight_density: [0.1, 0.3]}\n"),
}
#: the points each fixture lacks (an interrupted sweep)
MISSING = {"grid": {3, 6, 7}, "search": {5, 6, 7}}


def _rows(db: pathlib.Path) -> tuple[dict, dict]:
    """Per point its database row (wall times left out) and its layer rows' content (the
    :data:`LATER_COLUMNS` left out once checked at their one earlier value)."""
    con = sqlite3.connect(db)
    try:
        pts = {r[0]: r for r in con.execute(
            "SELECT point, params, config, config_hash, error, figures FROM points")}
        lay: dict = {}
        for p, idx, name, cyc, t, e, h, data in con.execute(
                "SELECT * FROM layers ORDER BY point, idx"):
            d = json.loads(data)
            d.pop("wall_s", None)
            for k, v in LATER_COLUMNS.items():     # columns the old code did not write:
                assert d.pop(k, v) == v            # their one value then (one chip, no link)
            lay.setdefault(p, []).append((idx, name, cyc, t, e, h, d))
        return pts, lay
    finally:
        con.close()


def _old_database(folder: pathlib.Path, name: str) -> pathlib.Path:
    folder.mkdir()
    con = sqlite3.connect(folder / DB_NAME)
    con.executescript((DATA / "sweep_db_b03ed18_schema.sql").read_text())    # its tables
    con.executescript((DATA / f"sweep_db_b03ed18_{name}.sql").read_text())    # its rows
    con.close()
    return folder / DB_NAME


@pytest.mark.parametrize("name", ["grid", "search"])
def test_a_database_written_by_the_old_code_resumes(tmp_path, name):
    """An interrupted sweep's database written by eie-sweep before the typed records
    (b03ed18): its sweep hash is this version's (the folder is not refused), only the
    missing points run, and the exported tables are those of a fresh run. The fresh
    run's database rows (swept values, resolved configuration, config hash, error,
    figures, layer rows) are the old code's, point for point."""
    if name == "search":
        pytest.importorskip("optuna")
    old = _old_database(tmp_path / "old", name)
    before_pts, before_layers = _rows(old)
    assert set(before_pts).isdisjoint(MISSING[name]) and len(before_pts) == 8 - len(MISSING[name])
    assert read_partial(tmp_path / "old")["done"] == len(before_pts)
    res = run_sweep(load_config(text=CONFIGS[name]), tmp_path / "old")
    assert res["points"] == 8 and res["ran"] == len(MISSING[name])
    after_pts, after_layers = _rows(old)
    assert all(after_pts[p] == before_pts[p] for p in before_pts)    # the old rows untouched
    run_sweep(load_config(text=CONFIGS[name]), tmp_path / "new")
    for f in EXPORTED:
        assert (tmp_path / "old" / f).read_bytes() == (tmp_path / "new" / f).read_bytes(), f
    fresh_pts, fresh_layers = _rows(tmp_path / "new" / DB_NAME)
    assert {p: fresh_pts[p] for p in before_pts} == before_pts
    assert {p: fresh_layers[p] for p in before_layers} == before_layers
    assert fresh_pts == after_pts and fresh_layers == after_layers


def test_sweep_point_is_resolved_once_with_the_database_hash():
    base = ArchConfig()
    pt = make_point(base, 5, {"pes": 4, "workload.weight_density": 0.2, "weight_bits": 5})
    assert pt.index == 5 and pt.config.pes == 4 and pt.config.weight_bits == 5
    assert pt.config.queue_depth == base.queue_depth
    assert pt.overrides == {"workload.weight_density": 0.2}
    assert pt.workload_key == json.dumps([5, [["workload.weight_density", 0.2]]])
    rec = recorded_config(pt.config)          # the later keys left out at their default
    assert set(pt.config.as_dict()) - set(rec) == set(LATER_KEYS)
    assert pt.config_hash == stable_hash([rec, {"workload.weight_density": 0.2}])
    chips = make_point(base, 7, {"pes": 4, "workload.weight_density": 0.2, "weight_bits": 5,
                                 "chips": 2})
    assert recorded_config(chips.config)["chips"] == 2 and chips.config_hash != pt.config_hash
    # the same architecture with other workload keys: another hash and workload
    other = make_point(base, 6, {"pes": 4, "workload.weight_density": 0.3, "weight_bits": 5})
    assert other.config == pt.config and other.config_hash != pt.config_hash
    assert other.workload_key != pt.workload_key


def test_database_round_trip_of_a_point_result(tmp_path):
    db = SweepDB(tmp_path / DB_NAME, "h", {"x": 1})
    pt = make_point(ArchConfig(), 2, {"queue_depth": 4})
    res = PointResult(2, pt.params, [{"layer": "a", "cycles": 7, "time_us": 0.5}],
                      {"time_us": 0.5}, "", 0.25)
    assert db.add(pt, res) and not db.add(pt, res)          # a point is kept once
    (got,) = db.points()
    db.close()
    assert got == res
    con = sqlite3.connect(tmp_path / DB_NAME)
    (row,) = con.execute("SELECT params, config, config_hash FROM points")
    (lh,) = con.execute("SELECT config_hash FROM layers").fetchone()
    con.close()
    assert json.loads(row[0]) == {"queue_depth": 4} and row[2] == pt.config_hash == lh
    assert json.loads(row[1]) == recorded_config(pt.config)


def test_one_grid_count():
    grid = {"pes": [1, 2, 4], "queue_depth": [1, 8], "workload.seed": [0, 1]}
    assert grid_size(grid) == count_points(grid) == 12 and grid_size({}) == 1
    assert planned_count(grid, {}) == 12
    assert planned_count(grid, {"random": {"samples": 5, "seed": 0}}) == 5
    assert planned_count({}, {"search": {"trials": 9}}) == 9


def test_force_puts_the_old_folder_back_when_the_run_leaves_none(tmp_path, monkeypatch):
    """``run_sweep(force=True)``: an interrupted run that recorded no point leaves the old
    folder as it was (no hidden sibling left); a finished run replaces it."""
    cfg = load_config(text=CONFIGS["grid"])
    out = tmp_path / "o"
    run_sweep(cfg, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(tasks, workloads):
        raise KeyboardInterrupt
    monkeypatch.setattr(sweep_exec, "run_points", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(load_config(text=CONFIGS["grid"].replace("pes: [1, 2]", "pes: [1, 4]")), out,
                  force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]
    monkeypatch.undo()
    run_sweep(load_config(text=CONFIGS["grid"].replace("pes: [1, 2]", "pes: [1, 4]")), out,
              force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]
    assert (out / "points.csv").read_bytes() != before["points.csv"]
