"""Honest design points (issue 28): every sweep point says whether its layers fit the
per-PE SRAMs and what they would need; a point that does not fit is left out of the
Pareto front and marked (run.unfit_points: exclude, the default) or priced with the
SRAMs it would need (resize); eie_sim.sweep records such points like eie-sweep."""
import csv
import json
import sqlite3

import numpy as np
import pytest

import eie_sim
from eie_sim.apps.sweep import run_sweep
from eie_sim.apps.sweep_db import DB_NAME, DB_VERSION, SweepDB
from eie_sim.apps.sweep_search import pareto_front
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.config_io import load_config
from eie_sim.errors import ConfigError, LayoutError
from eie_sim.hw.layout import check_layer_fits, sram_need
from eie_sim.sim import sram_fit
from eie_sim.workloads.synthetic import synthetic_layer

#: one layer of ~15,000 entries: 15 KB of 8-bit entries at 1 PE; spmat_sram_kb: 4 holds it
#: from 4 PEs on. At 1 PE it is the cheapest point per inference when priced with the
#: too-small 4 KB SRAM -- the issue's case of a point that must not shape the front.
WL = ("workload:\n  synthetic: {name: a, rows: 128, cols: 400, weight_density: 0.3, "
      "act_density: 0.5, seed: 1}\nspmat_sram_kb: 4\ndram: none\n")


def _sweep(tmp_path, name: str, run: str) -> tuple[list[dict], list[dict], dict]:
    cfg = load_config(text=WL + f"run: {{workers: 1, {run}}}\nsweep:\n  pes: [1, 2, 4, 16]\n")
    run_sweep(cfg, tmp_path / name)
    pts = list(csv.DictReader((tmp_path / name / "points.csv").open()))
    par = list(csv.DictReader((tmp_path / name / "pareto.csv").open()))
    return pts, par, json.loads((tmp_path / name / "summary.json").read_text())


def test_sram_need_agrees_with_the_fit_check():
    lay = synthetic_layer(128, 400, 0.3, 0.5, seed=1, bias=True)
    for pes in (1, 2, 4, 16):
        for kb, bits, ptr_kb in ((4, 16, 32), (64, 16, 1), (64, 8, 32), (128, 16, 32)):
            cfg = ArchConfig(pes=pes, spmat_sram_kb=kb, pointer_bits=bits,
                             pointer_sram_kb=ptr_kb).validate()
            layout = lay.layout(cfg, check_fit=False)
            need = sram_need(layout, cfg)
            try:
                check_layer_fits(layout, cfg)
                refused = False
            except LayoutError:
                refused = True
            assert need.fits(cfg) == (not refused), (pes, kb, bits, ptr_kb)
            # the sized configuration holds it, and is never smaller than the design's
            sized = cfg.replace(**need.sized(cfg))
            check_layer_fits(layout, sized)
            assert sized.spmat_sram_kb >= cfg.spmat_sram_kb
            assert sized.spmat_sram_kb == max(cfg.spmat_sram_kb, need.spmat_sram_kb)


def test_a_point_that_does_not_fit_is_marked_and_off_the_front(tmp_path):
    """check_fit: false as configs/sweep_pes.yaml has it: the 1- and 2-PE points run, but
    they are marked in every table and the cheapest of them is not on the front."""
    pts, par, summ = _sweep(tmp_path, "ex", "check_fit: false")
    by_pes = {r["pes"]: r for r in pts}
    assert [by_pes[p]["fits"] for p in ("1", "2", "4", "16")] == ["false", "false", "true", "true"]
    assert [by_pes[p]["fit_handling"] for p in ("1", "2", "4", "16")] == [
        "excluded", "excluded", "", ""]
    assert all(r["error"] == "" for r in pts)                  # they did run
    # a point that overflows its 4 KB SRAM is the cheapest per inference and would shape
    # the front if it counted ...
    assert min(pts, key=lambda r: float(r["total_energy_uj"]))["pes"] in ("1", "2")
    every = pareto_front({int(r["point"]): tuple(float(r[c]) for c in (
        "time_us", "total_energy_uj", "chip_area_mm2")) for r in pts})
    assert set(every) & {0, 1}
    assert {r["pes"] for r in par} <= {"4", "16"} and par    # ... but it is on no front
    assert int(by_pes["1"]["needed_spmat_sram_kb"]) > 4 >= int(by_pes["4"]["needed_spmat_sram_kb"])
    assert by_pes["1"]["priced_spmat_sram_kb"] == "4"
    assert summ["fit"]["excluded_points"] == [0, 1] and summ["fit"]["not_fitting_points"] == [0, 1]
    assert summ["units"]["needed_spmat_sram_kb"] == "KB"
    assert summ["baselines"]["pes"]["value"] == 4 and "pes = 1" in summ["baselines"]["pes"]["why"]
    rows = list(csv.DictReader((tmp_path / "ex" / "sweep.csv").open()))
    assert [r["fit_handling"] for r in rows] == ["excluded", "excluded", "", ""]
    md = (tmp_path / "ex" / "report.md").read_text()
    assert "does not fit" in md
    con = sqlite3.connect(tmp_path / "ex" / DB_NAME)
    try:
        assert [f for (f,) in con.execute("SELECT fits FROM points ORDER BY point")] == [0, 0, 1, 1]
        assert con.execute("SELECT value FROM meta WHERE key = 'version'").fetchone() == (DB_VERSION,) == ("3",)
    finally:
        con.close()


def test_resize_prices_a_point_with_the_srams_it_needs(tmp_path):
    ex, _, _ = _sweep(tmp_path, "ex", "check_fit: false")
    rs, par, summ = _sweep(tmp_path, "rs", "check_fit: false, unfit_points: resize")
    one_ex, one_rs = ex[0], rs[0]
    assert one_rs["fit_handling"] == "resized" and one_rs["fits"] == "false"
    assert int(one_rs["priced_spmat_sram_kb"]) == int(one_rs["needed_spmat_sram_kb"]) > 4
    assert one_rs["cycles"] == one_ex["cycles"]                       # timing unchanged
    assert float(one_rs["chip_area_mm2"]) > float(one_ex["chip_area_mm2"])   # bigger SRAM
    assert float(one_rs["total_energy_uj"]) != float(one_ex["total_energy_uj"])
    assert rs[3] == {**ex[3]}                                       # a fitting point: same row
    assert summ["fit"]["resized_points"] == [0, 1] and summ["fit"]["excluded_points"] == []
    # a resized point is a candidate again (it is on the front when nothing beats it)
    front = {r["point"] for r in par}
    assert front and all(r["fit_handling"] in ("", "resized") for r in par) and front >= {"3"}


def test_check_fit_true_refuses_and_records_what_is_needed(tmp_path):
    pts, par, summ = _sweep(tmp_path, "cf", "check_fit: true")
    assert [r["fit_handling"] for r in pts] == ["refused", "refused", "", ""]
    assert pts[0]["error"].startswith("LayoutError: layer 'a'") and pts[0]["fits"] == "false"
    assert int(pts[0]["needed_spmat_sram_kb"]) > 4 and summ["failed_points"] == [0, 1]
    assert {r["pes"] for r in par} <= {"4", "16"}


def test_unfit_points_is_a_checked_run_key(tmp_path):
    with pytest.raises(ConfigError, match=r"run\.unfit_points: expected one of exclude, resize"):
        load_config(text="run: {unfit_points: drop}\n")
    assert load_config(text="run: {unfit_points: resize}\n").run.unfit_points == "resize"


def test_a_folder_of_an_older_version_is_named_as_such(tmp_path):
    """An older eie-sweep's check_fit: false sweep records no unfit_points: resuming it is
    refused with what is missing (not 'a different sweep')."""
    path = tmp_path / DB_NAME
    SweepDB(path, "old", {"identity": {"check_fit": False}}).close()
    with pytest.raises(ConfigError, match="older version of eie-sweep .*unfit_points"):
        SweepDB(path, "new", {"identity": {"check_fit": False, "unfit_points": "exclude"}})


def test_api_sweep_records_points_that_do_not_fit(tmp_path):
    """eie_sim.sweep goes on past a point that does not fit (it raised before)."""
    rng = np.random.default_rng(0)
    W = (rng.random((128, 400)) < 0.3) * rng.standard_normal((128, 400))
    x = rng.random(400)
    rows = eie_sim.sweep(W, x, pes=[1, 4], spmat_sram_kb=[4])
    assert [r["pes"] for r in rows] == [1, 4]
    assert rows[0]["fits"] is False and rows[0]["fit_handling"] == "refused"
    assert rows[0]["error"].startswith("LayoutError:") and "cycles" not in rows[0]
    assert rows[0]["needed_spmat_sram_kb"] > 4
    assert rows[1]["fits"] is True and rows[1]["error"] == "" and rows[1]["cycles"] > 0
    ex = eie_sim.sweep(W, x, pes=[1], spmat_sram_kb=[4], check_fit=False)
    rs = eie_sim.sweep(W, x, pes=[1], spmat_sram_kb=[4], check_fit=False, unfit_points="resize")
    assert ex[0]["fit_handling"] == "excluded" and rs[0]["fit_handling"] == "resized"
    assert ex[0]["cycles"] == rs[0]["cycles"] and rs[0]["priced_spmat_sram_kb"] > 4
    assert rs[0]["chip_area_mm2"] > ex[0]["chip_area_mm2"]
    with pytest.raises(ConfigError, match="unfit_points"):
        eie_sim.sweep(W, x, pes=[1], unfit_points="drop")


def test_baseline_says_why_it_starts_where_it_starts():
    rows = [{"point": 0, "pes": "1", "error": "", "fit_handling": "excluded"},
            {"point": 1, "pes": "2", "error": "LayoutError: layer 'a' (1 x 1) does not fit 2 "
             "PEs: ...", "fit_handling": "refused"},
            {"point": 2, "pes": "8", "error": "", "fit_handling": ""},
            {"point": 3, "pes": "32", "error": "", "fit_handling": ""}]
    b = sram_fit.baseline(rows, "pes")
    assert b["value"] == 8
    assert "pes = 1: does not fit the SRAMs (excluded" in b["why"]
    assert "pes = 2: does not fit the SRAMs (refused" in b["why"]
    assert sram_fit.baseline(rows[2:], "pes")["why"].endswith("(the smallest swept)")
    assert sram_fit.baseline(rows[:1], "pes") is None


def test_a_search_counts_a_point_that_does_not_fit_as_a_failed_trial(tmp_path):
    pytest.importorskip("optuna")
    cfg = load_config(text=WL + "run: {workers: 1, check_fit: false}\nsweep:\n  search:\n"
                      "    method: random\n    trials: 8\n    batch: 4\n    seed: 1\n"
                      "    space: {pes: [1, 2, 4, 16]}\n")
    run_sweep(cfg, tmp_path / "s")
    pts = list(csv.DictReader((tmp_path / "s" / "points.csv").open()))
    par = list(csv.DictReader((tmp_path / "s" / "pareto.csv").open()))
    assert {r["fit_handling"] for r in pts if r["pes"] in ("1", "2")} == {"excluded"}
    assert any(r["pes"] in ("1", "2") for r in pts) and par
    assert all(r["fit_handling"] == "" for r in par)


def test_with_a_dram_a_point_whose_weights_do_not_fit_streams_and_ranks(tmp_path):
    """The default design has a DRAM (docs/dram.md): the 1-PE point's weights, too large
    for its Spmat SRAM, stream from it; the point is priced with that traffic (DRAM bytes
    and energy), so it fits as built and ranks like the others."""
    cfg = load_config(text=WL.replace("dram: none\n", "") +
                      "run: {workers: 1, check_fit: false}\nsweep:\n  pes: [1, 16]\n")
    run_sweep(cfg, tmp_path / "d")
    pts = {r["pes"]: r for r in csv.DictReader((tmp_path / "d" / "points.csv").open())}
    assert pts["1"]["fits"] == "true" and pts["1"]["fit_handling"] == ""
    assert float(pts["1"]["energy_dram_uj"]) > 0 and float(pts["16"]["energy_dram_uj"]) == 0
