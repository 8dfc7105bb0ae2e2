"""run.confirm_engine: an analytical sweep's Pareto front re-run cycle-exactly (issue 26,
eie_sim/apps/sweep_confirm.py)."""
import csv
import json
import sqlite3

import pytest

from eie_sim.apps import sweep_confirm
from eie_sim.apps.sweep import run_sweep
from eie_sim.apps.sweep_db import DB_NAME, DB_VERSION, SweepDB
from eie_sim.apps.sweep_points import PointResult, PointRun
from eie_sim.arch.config_io import load_config
from eie_sim.cli.sweep import sweep_main
from eie_sim.errors import BundleError

SMALL = ("workload:\n  synthetic:\n    - {name: a, rows: 96, cols: 128, weight_density: 0.1, "
         "act_density: 0.5, seed: 1}\n"
         "run: {workers: 1, check_fit: false}\nsweep:\n  pes: [2, 4, 8, 16]\n  queue_depth: [1, 4]\n")


def _rows(path):
    return list(csv.DictReader(path.open()))


def test_confirmed_front_holds_the_exact_engines_figures(tmp_path):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(SMALL)
    run_sweep(load_config(cfg, ["run.engine=analytical", "run.confirm_engine=fast"]), tmp_path / "a")
    run_sweep(load_config(cfg, ["run.engine=fast"]), tmp_path / "f")
    conf = _rows(tmp_path / "a" / "confirm.csv")
    front = json.loads((tmp_path / "a" / "summary.json").read_text())["pareto_points"]
    assert [int(r["point"]) for r in conf] == front and front
    exact = {int(r["point"]): r for r in _rows(tmp_path / "f" / "points.csv")}
    ana = {int(r["point"]): r for r in _rows(tmp_path / "a" / "points.csv")}
    for r in conf:
        i = int(r["point"])
        # the confirmed figures are the fast engine's, the analytical ones the sweep's
        assert int(r["exact_cycles"]) == int(exact[i]["cycles"])
        assert int(r["analytical_cycles"]) == int(ana[i]["cycles"])
        assert float(r["error_pct_cycles"]) == pytest.approx(
            100 * (int(ana[i]["cycles"]) - int(exact[i]["cycles"])) / int(exact[i]["cycles"]))
        assert float(r["exact_time_us"]) == pytest.approx(float(exact[i]["time_us"]))
    facts = json.loads((tmp_path / "a" / "summary.json").read_text())["confirm"]
    assert facts["engine"] == "fast" and facts["confirmed_now"] == len(front)
    assert facts["front_points"] == front and isinstance(facts["front_differs"], bool)
    assert "Front confirmed with the fast engine" in (tmp_path / "a" / "report.md").read_text()
    # a rerun confirms nothing again; the table is in the database, its version unchanged
    run_sweep(load_config(cfg, ["run.engine=analytical", "run.confirm_engine=fast"]), tmp_path / "a")
    facts2 = json.loads((tmp_path / "a" / "summary.json").read_text())["confirm"]
    assert facts2["confirmed_now"] == 0 and _rows(tmp_path / "a" / "confirm.csv") == conf
    con = sqlite3.connect(tmp_path / "a" / DB_NAME)
    assert con.execute("SELECT COUNT(*) FROM confirm").fetchone()[0] == len(front)
    assert con.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0] == DB_VERSION
    # an edited confirmation is refused
    con.execute("UPDATE confirm SET figures = replace(figures, '\"cycles\": ', '\"cycles\": 1')")
    con.commit()
    con.close()
    with pytest.raises(BundleError, match="confirmed point .* not those recorded"):
        run_sweep(load_config(cfg, ["run.engine=analytical", "run.confirm_engine=fast"]),
                  tmp_path / "a")


def test_confirm_needs_an_analytical_sweep(tmp_path, capsys):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(SMALL)
    rc = sweep_main([str(cfg), "--set", "run.confirm_engine=fast", "--out", str(tmp_path / "o")])
    assert rc == 2 and "run.confirm_engine: fast confirms an analytical sweep" in capsys.readouterr().err
    rc = sweep_main([str(cfg), "--set", "run.confirm_engine=analytical", "--out", str(tmp_path / "o")])
    assert rc == 2 and "confirm_engine" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_front_point_dominated_under_the_exact_figures_is_reported(tmp_path):
    """confirm() with crafted figures: point 1 is on the analytical front but the exact
    figures of point 0 dominate it."""
    cfg = tmp_path / "s.yaml"
    cfg.write_text(SMALL)
    loaded = load_config(cfg, ["run.engine=analytical", "run.confirm_engine=fast"])
    figs = {0: (2.0, 1.0), 1: (1.0, 2.0)}            # latency, energy: both on the front
    exact = {0: (1.0, 1.0), 1: (1.5, 2.0)}           # point 0 dominates point 1
    params = [{"pes": 2, "queue_depth": 1}, {"pes": 2, "queue_depth": 4}]

    def f(t, e):
        return {"time_us": t, "total_energy_uj": e, "chip_area_mm2": 1.0, "cycles": int(100 * t)}
    points = [PointResult(i, params[i], [{}], f(*figs[i]), "", 0.5, True) for i in (0, 1)]
    db = SweepDB(tmp_path / DB_NAME, "h", {})
    ran = []

    def run_points(pts, size, on_result, how):
        assert how.options.engine == "fast"
        for pt in pts:
            ran.append(pt.index)
            on_result(pt, PointResult(pt.index, pt.params, [], f(*exact[pt.index]), "", 0.1))
    rows, facts = sweep_confirm.confirm(loaded, db, points, run_points, PointRun())
    db.close()
    assert ran == [0, 1] and facts["front_differs"] and facts["left_front"] == [1]
    assert facts["dominated_by"] == {"1": [0]}
    assert [r["on_exact_front"] for r in rows] == [True, False]
    assert rows[1]["error_pct_time_us"] == pytest.approx(100 * (1.0 - 1.5) / 1.5)


def test_a_search_confirms_its_front(tmp_path):
    pytest.importorskip("optuna")
    cfg = tmp_path / "s.yaml"
    cfg.write_text(SMALL.split("sweep:")[0] + "sweep:\n  search:\n    method: random\n"
                   "    trials: 6\n    seed: 3\n    objectives: [latency, area]\n    space:\n"
                   "      pes: [2, 4, 8, 16]\n      queue_depth: [1, 2, 8]\n")
    run_sweep(load_config(cfg, ["run.engine=analytical", "run.confirm_engine=simpy"]),
              tmp_path / "a")
    summ = json.loads((tmp_path / "a" / "summary.json").read_text())
    conf = _rows(tmp_path / "a" / "confirm.csv")
    assert summ["confirm"]["engine"] == "simpy" and summ["confirm"]["objectives"] == ["latency", "area"]
    assert [int(r["point"]) for r in conf] == summ["pareto_points"]
    assert all(r["confirm_engine"] == "simpy" and r["exact_cycles"] for r in conf)
    assert "exact_total_energy_uj" not in conf[0]          # not an objective of this search
