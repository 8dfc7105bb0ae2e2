"""eie-sweep and eie-plot: cross products, one CSV of all points, PNG plots, clean errors."""
import csv
import json

import pytest

from eie_sim.apps.sweep import run_sweep
from eie_sim.arch.config_io import load_config
from eie_sim.cli.plot import plot_main
from eie_sim.cli.sweep import sweep_main

SMALL = ("workload:\n  synthetic:\n    - {name: a, rows: 60, cols: 80, weight_density: 0.1, act_density: 0.5, seed: 1}\n"
         "    - {name: b, rows: 30, cols: 40, weight_density: 0.3, act_density: 1.0, seed: 2}\n")


def test_sweep_cross_product_in_worker_processes(tmp_path):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(SMALL + "run: {workers: 2}\nsweep:\n  pes: [2, 4]\n  queue_depth: [1, 8]\n")
    res = run_sweep(load_config(cfg), tmp_path / "out")
    assert res["points"] == 4 and res["rows"] == 8
    rows = list(csv.DictReader((tmp_path / "out" / "sweep.csv").open()))
    assert [(r["point"], r["pes"], r["queue_depth"], r["layer"]) for r in rows] == [
        (str(i), str(p), str(q), n) for i, (p, q) in enumerate([(2, 1), (2, 8), (4, 1), (4, 8)])
        for n in ("a", "b")]
    assert all(r["error"] == "" and int(r["cycles"]) > 0 for r in rows)
    # more queue never hurts load efficiency here; the summary keeps the resolved config
    summ = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summ["sweep"] == {"pes": [2, 4], "queue_depth": [1, 8]} and summ["workers"] == 2
    assert summ["synthetic"] and summ["config"]["arch"]["pes"] == 64


def test_sweep_points_that_do_not_fit_are_recorded(tmp_path):
    cfg = tmp_path / "s.yaml"
    cfg.write_text("workload:\n  synthetic: {rows: 100, cols: 100, weight_density: 0.3}\n"
                   "spmat_sram_kb: 1\ndram: none\nrun: {workers: 1}\nsweep:\n  pes: [1, 8]\n")
    run_sweep(load_config(cfg), tmp_path / "out")
    rows = list(csv.DictReader((tmp_path / "out" / "sweep.csv").open()))
    assert "does not fit 1 PEs" in rows[0]["error"] and rows[-1]["error"] == ""


def test_sweep_and_plot_cli(tmp_path, capsys):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(SMALL + "run: {workers: 1}\nsweep:\n  pes: [1, 2, 4]\n  spmat_width_bits: [32, 64]\n")
    assert sweep_main([str(cfg), "--out", str(tmp_path / "sw")]) == 0
    assert plot_main([str(tmp_path / "sw"), "--out", str(tmp_path / "png")]) == 0
    made = sorted(p.name for p in (tmp_path / "png").iterdir() if p.name != ".eie-sim.json")
    # Fig. 9, 11-13 from sweep.csv; Pareto and heatmaps from points.csv (issue 12); the
    # metrics, energy and area by unit against the swept keys (issue 28)
    assert made == ["area_by_unit_vs_pes.png", "energy_by_unit_vs_pes.png",
                    "fig11_speedup_vs_pes.png", "fig12_real_work_vs_pes.png",
                    "fig13_load_efficiency_vs_pes.png", "fig9_spmat_width.png",
                    "heatmap_spmat_width_bits_vs_pes_inferences_per_j.png",
                    "heatmap_spmat_width_bits_vs_pes_latency.png", "metrics_vs_pes.png",
                    "metrics_vs_spmat_width_bits.png", "pareto_latency_energy.png"]
    assert all((tmp_path / "png" / m).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for m in made)
    capsys.readouterr()


def test_queue_plot_and_per_pe_plot(tmp_path, capsys):
    from eie_sim.cli.simulate import simulate_main
    cfg = tmp_path / "s.yaml"
    cfg.write_text(SMALL + "pes: 4\nrun: {workers: 1}\nsweep:\n  queue_depth: [1, 2, 8]\n")
    assert sweep_main([str(cfg), "--out", str(tmp_path / "sw")]) == 0
    assert plot_main([str(tmp_path / "sw"), "--out", str(tmp_path / "p1")]) == 0
    assert sorted(p.name for p in (tmp_path / "p1").iterdir()) == [".eie-sim.json",
        "area_by_unit_vs_queue_depth.png", "energy_by_unit_vs_queue_depth.png",
        "fig8_load_efficiency_vs_queue_depth.png", "metrics_vs_queue_depth.png",
        "pareto_latency_energy.png"]
    assert simulate_main(["--synthetic", "50,60,0.2,0.5", "--set", "pes=8", "--out", str(tmp_path / "sim")]) == 0
    assert plot_main([str(tmp_path / "sim"), "--out", str(tmp_path / "p2")]) == 0
    assert sorted(p.name for p in (tmp_path / "p2").iterdir()) == [
        ".eie-sim.json", "area_by_unit.png", "energy_by_unit.png", "per_pe_synthetic-50x60.png"]
    capsys.readouterr()


@pytest.mark.parametrize("text, pattern", [
    ("sweep:\n  pes: [1, 2]\n", "no workload: block"),
    (SMALL + "sweep:\n  pez: [1]\n", r"s\.yaml:\d+: sweep\.pez: unknown key"),
    (SMALL + "sweep:\n  pes: [1, 'x']\n", r"sweep\.pes\[1\]: expected an integer"),
])
def test_sweep_errors(tmp_path, capsys, text, pattern):
    import re
    cfg = tmp_path / "s.yaml"
    cfg.write_text(text)
    rc = sweep_main([str(cfg), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and re.search(pattern, err), err
    assert not (tmp_path / "out").exists()


def test_plot_errors(tmp_path, capsys):
    assert plot_main([str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2
    assert "results directory not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert plot_main([str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "not a results bundle" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_bad_point_is_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    # weight_frac_bits 14 cannot hold codebook values beyond +-2 in 16 bits
    # (FixedPointRangeError) and pes 1 with a 1 KB Spmat SRAM does not fit (LayoutError);
    # the other points run
    cfg = tmp_path / "s.yaml"
    cfg.write_text("workload:\n  synthetic: {rows: 100, cols: 60, weight_density: 0.3, bias: true, "
                   "weight_scale: 1}\nspmat_sram_kb: 1\ndram: none\nrun: {workers: 1}\n"
                   "sweep:\n  pes: [1, 4]\n  weight_frac_bits: [8, 14]\n")
    assert sweep_main([str(cfg), "--out", str(tmp_path / "sw")]) == 0
    rows = list(csv.DictReader((tmp_path / "sw" / "sweep.csv").open()))
    by_point = {(r["pes"], r["weight_frac_bits"]): r for r in rows}
    assert by_point[("4", "8")]["error"] == "" and int(by_point[("4", "8")]["cycles"]) > 0
    assert by_point[("4", "14")]["error"].startswith("FixedPointRangeError: ")
    assert by_point[("1", "8")]["error"].startswith("LayoutError: ")
    capsys.readouterr()


def test_plot_refuses_csvs_without_the_needed_columns(tmp_path, capsys):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "sweep.csv").write_text("point,pes,layer\n0,1,a\n")
    assert plot_main([str(tmp_path / "b"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "sweep.csv: not a bundle CSV of this version: missing column(s) cycles" in err
    assert "Traceback" not in err and not (tmp_path / "o").exists()
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "per_pe.csv").write_text("layer,pe,busy\nx,0,1\n")
    assert plot_main([str(tmp_path / "c"), "--out", str(tmp_path / "o")]) == 2
    assert "missing column(s) padding, empty, starved" in capsys.readouterr().err


def test_sweep_bundle_config_has_absolute_workload_paths(tmp_path, capsys):
    import numpy as np
    import yaml
    rng = np.random.default_rng(0)
    (tmp_path / "cfg").mkdir()
    np.savez(tmp_path / "cfg" / "l.npz", weights=rng.normal(size=(8, 6)))
    cfg = tmp_path / "cfg" / "s.yaml"
    cfg.write_text("workload:\n  npz: l.npz\nrun: {workers: 1}\nsweep:\n  pes: [1, 2]\n")
    assert sweep_main([str(cfg), "--out", str(tmp_path / "sw")]) == 0
    conf = yaml.safe_load((tmp_path / "sw" / "config.yaml").read_text())
    assert conf["workload"]["npz"] == str(tmp_path / "cfg" / "l.npz")
    assert load_config(tmp_path / "sw" / "config.yaml").sweep == {"pes": [1, 2]}
    capsys.readouterr()


def test_the_workload_is_built_once_per_sweep(tmp_path, monkeypatch):
    """Generated (or decoded) once in the parent per swept weight_bits, whatever the points."""
    import eie_sim.apps.sweep_points as sweep_mod
    calls = []
    real = sweep_mod.from_block

    def counting(block, cfg, **kw):
        calls.append(cfg.weight_bits)
        return real(block, cfg, **kw)
    monkeypatch.setattr(sweep_mod, "from_block", counting)
    cfg = tmp_path / "s.yaml"
    cfg.write_text("workload:\n  synthetic: {rows: 40, cols: 30, weight_density: 0.3}\n"
                   "run: {workers: 1}\nsweep:\n  pes: [2, 4]\n  queue_depth: [1, 8]\n"
                   "  weight_bits: [4, 5]\n")
    res = run_sweep(load_config(cfg), tmp_path / "out")
    assert res["points"] == 8 and sorted(calls) == [4, 5]
    rows = list(csv.DictReader((tmp_path / "out" / "sweep.csv").open()))
    assert len(rows) == 8 and all(r["error"] == "" for r in rows)
