"""The typed sweep records (SweepPoint, PointResult), the grid count, a database written by
an older version of eie-sweep resumed by this one, and run_sweep's force (the old folder
moved aside while the sweep runs, put back when the run leaves none)."""
import json
import pathlib
import sqlite3

import pytest

import eie_sim.apps.sweep_exec as sweep_exec
from eie_sim.apps.sweep import read_partial, run_sweep
from eie_sim.apps.sweep_db import DB_NAME, DB_VERSION, SweepDB, renamed
from eie_sim.sim.columns import LATER_COLUMNS
from eie_sim.sim.sram_fit import NEEDED, PRICED
from eie_sim.apps.sweep_points import PointResult, make_point, stable_hash
from eie_sim.arch.config import LATER_KEYS, ArchConfig
from eie_sim.arch.config_io import count_points, load_config
from eie_sim.arch.sweep_spec import grid_size, planned_count
from eie_sim.errors import BundleError

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
    """Per point its database row (wall times left out; its figures with this version's
    names, :func:`renamed`) and its layer rows' content."""
    con = sqlite3.connect(db)
    try:
        pts = {r[0]: r[:5] + (renamed(json.loads(r[5])),) for r in con.execute(
            "SELECT point, params, config, config_hash, error, figures FROM points")}
        lay: dict = {}
        for p, idx, name, cyc, t, e, h, data in con.execute(
                "SELECT * FROM layers ORDER BY point, idx"):
            d = renamed(json.loads(data))
            d.pop("wall_s", None)
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
    # this version records what each point's SRAMs need (needed_*, priced_*: sim/sram_fit),
    # which the old points lack (empty cells); every other cell is a fresh run's, and
    # fits / fit_handling follow from the old records (check_fit: true)
    for f in EXPORTED:
        old_t, new_t = _table(tmp_path / "old" / f), _table(tmp_path / "new" / f)
        assert [_without_need(r) for r in old_t] == [_without_need(r) for r in new_t], f
        assert all(o[c] == "" for o in old_t if int(o["point"]) in before_pts
                   for c in _need_cols(o))
        assert all(n[c] != "" for n in new_t if not n["error"] for c in _need_cols(n))
    fresh_pts, fresh_layers = _rows(tmp_path / "new" / DB_NAME)
    assert {p: _old_figures(fresh_pts[p]) for p in before_pts} == before_pts
    assert {p: fresh_layers[p] for p in before_layers} == before_layers
    assert {p: _old_figures(r) for p, r in fresh_pts.items()} == \
        {p: _old_figures(r) for p, r in after_pts.items()} and fresh_layers == after_layers
    # migrated to this version: the layers column renamed, the version set; the points
    # the old version recorded keep their text (energy_uj), read with the new names
    con = sqlite3.connect(old)
    cols = [r[1] for r in con.execute("PRAGMA table_info(layers)")]
    (version,) = con.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    (old_figs,) = con.execute("SELECT figures FROM points WHERE point = 0").fetchone()
    con.close()
    assert "total_energy_uj" in cols and "energy_uj" not in cols and version == DB_VERSION == "3"
    assert '"energy_uj"' in old_figs
    header = (tmp_path / "old" / "points.csv").read_text().splitlines()[0].split(",")
    assert "total_energy_uj" in header and "energy_uj" not in header
    assert "pe_total_area_mm2" in header and "pe_area_mm2" not in header


def test_a_database_of_an_unknown_version_is_refused(tmp_path):
    """A sweep.db of a version this one cannot read (a newer eie-sim's): refused with
    what to do, by eie-sweep and by eie-plot's read-only reader, nothing changed."""
    old = _old_database(tmp_path / "old", "grid")
    con = sqlite3.connect(old)
    con.execute("UPDATE meta SET value = '9' WHERE key = 'version'")
    con.commit()
    con.close()
    before = old.read_bytes()
    with pytest.raises(BundleError, match=r"version '9'.*reads versions 1, 2, 3.*--force starts over"):
        run_sweep(load_config(text=CONFIGS["grid"]), tmp_path / "old")
    with pytest.raises(BundleError, match=r"version '9'"):
        read_partial(tmp_path / "old")
    assert old.read_bytes() == before


def test_version_1_names_read_as_this_versions():
    row = {"layer": "a", "energy_uj": 1.0, "energy_spmat_read_uj": 0.5, "pe_area_mm2": 2.0}
    assert list(renamed(row)) == ["layer", "total_energy_uj", "energy_spmat_read_uj",
                                  "pe_total_area_mm2"]
    assert renamed({"total_energy_uj": 1.0}) == {"total_energy_uj": 1.0}


def _table(path: pathlib.Path) -> list[dict]:
    import csv
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _need_cols(row: dict) -> list[str]:
    return [c for c in row if c.split("point_", 1)[-1] in NEEDED + PRICED]


def _without_need(row: dict) -> dict:
    return {c: v for c, v in row.items() if c not in _need_cols(row)}


def _old_figures(row: tuple) -> tuple:
    """A database row with its figures as the old code recorded them (no SRAM need, no
    DRAM energy of a point on chip: columns.LATER_COLUMNS)."""
    figs = {k: v for k, v in row[5].items() if k not in NEEDED + PRICED
            and not (k in LATER_COLUMNS and v == 0.0)}
    return row[:5] + (figs,)


def test_sweep_point_is_resolved_once_with_the_database_hash():
    base = ArchConfig()
    pt = make_point(base, 5, {"pes": 4, "workload.weight_density": 0.2, "weight_bits": 5})
    assert pt.index == 5 and pt.config.pes == 4 and pt.config.weight_bits == 5
    assert pt.config.queue_depth == base.queue_depth
    assert pt.overrides == {"workload.weight_density": 0.2}
    assert pt.workload_key == json.dumps([5, [["workload.weight_density", 0.2]]])
    rec = pt.config.record_dict()             # the later keys left out at their default
    assert set(pt.config.as_dict()) - set(rec) == set(LATER_KEYS)
    assert pt.config_hash == stable_hash([rec, {"workload.weight_density": 0.2}])
    chips = make_point(base, 7, {"pes": 4, "workload.weight_density": 0.2, "weight_bits": 5,
                                 "chips": 2})
    assert chips.config.record_dict()["chips"] == 2 and chips.config_hash != pt.config_hash
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
    assert json.loads(row[1]) == pt.config.record_dict()


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
