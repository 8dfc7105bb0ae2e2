"""Plots that scale with the sweep (issue 28): a synthetic 4-key sweep folder of 144 points
(points.csv, sweep.csv, pareto.csv and summary.json as eie-sweep writes them, plus the
per-point ``fits`` column) plotted by eie-plot: every PNG at most 2000 px a side, a handful
of lines per panel with the fixed keys in the title, numeric (log) axes, non-fitting
points hollow and never on a front, the plots folder inside the bundle replaced without
--force but never a folder eie-plot did not write; single-point sweeps, the per-PE legend
and the queue plot's max line."""
from __future__ import annotations

import csv
import itertools
import json
import math
import pathlib

import pytest

from eie_sim.arch.energy import AREA_PARTS, ENERGY_PARTS
from eie_sim.cli.plot import plot_main
from eie_sim.output import folders, report
from eie_sim.output import sweep_figures as sf

KEYS = {"pes": [1, 2, 4, 8, 16, 32, 64, 128, 256], "queue_depth": [1, 2, 4, 8],
        "spmat_width_bits": [32, 64], "clock_mhz": [400.0, 800.0]}
LAYERS = ("a", "b")


def _point(i: int, p: dict) -> dict:
    """Figures of one synthetic point (made-up smooth functions of the keys: the plots'
    input, not a simulation); points of 1 and 2 PEs do not fit their SRAMs."""
    pes, q = p.get("pes", 64), p.get("queue_depth", 8)
    w, mhz = p.get("spmat_width_bits", 64), p.get("clock_mhz", 800.0)
    cycles = int(20000 / pes ** 0.85 * (1 + 0.5 / q) + 300)
    time_us = cycles / mhz
    row = {"point": i, **p, "cycles": cycles, "time_us": time_us}
    parts = {u: (0.01 + 0.002 * k) * (1 + 32 / w) * (1 + 0.01 * pes) for k, u in enumerate(ENERGY_PARTS)}
    row.update({f"energy_{u}_uj": v for u, v in parts.items()})
    row["total_energy_uj"] = sum(parts.values())
    pe_parts = {u: 0.01 * (k + 1) * (1 + w / 256) for k, u in enumerate(AREA_PARTS)}
    row["pe_total_area_mm2"] = sum(pe_parts.values())
    row.update({f"pe_area_{u}_mm2": v for u, v in pe_parts.items()})
    row["lnzd_area_mm2"] = 0.001 * pes
    row["chip_area_mm2"] = pes * row["pe_total_area_mm2"] + row["lnzd_area_mm2"]
    row["avg_power_w"] = row["total_energy_uj"] / time_us
    row["inferences_per_s"] = 1e6 / time_us
    row["inferences_per_j"] = 1e6 / row["total_energy_uj"]
    row["inferences_per_s_per_mm2"] = row["inferences_per_s"] / row["chip_area_mm2"]
    row["fits"] = pes >= 4
    row["error"] = ""
    return row


def make_sweep(folder: pathlib.Path, grid: dict = KEYS, fail: tuple = ()) -> list[dict]:
    """A sweep folder as eie-sweep writes it (the files the plots read), of ``grid``;
    points whose index is in ``fail`` failed. Its points.csv rows."""
    folder.mkdir(parents=True)
    keys = list(grid)
    points = []
    for i, vals in enumerate(itertools.product(*grid.values())):
        r = _point(i, dict(zip(keys, vals)))
        if i in fail:
            r = {"point": i, **dict(zip(keys, vals)), "error": "LayoutError: does not fit"}
        points.append(r)
    pt_cols = list(_point(0, {k: v[0] for k, v in grid.items()}))
    rows = []
    for p in points:
        for n, layer in enumerate(LAYERS):
            r = {"point": p["point"], **{k: p[k] for k in keys}, "layer": layer, "error": p["error"]}
            if not p["error"]:
                w = p.get("spmat_width_bits", 64)
                r.update(cycles=p["cycles"] // (n + 1),
                         load_efficiency=1 - 0.5 / (p.get("queue_depth", 8) + 1),
                         real_over_total_work=1 / (1 + 0.01 * p.get("pes", 64)),
                         spmat_line_reads=int(1e5 * 32 / w), spmat_sram_energy_pj=3e5 * (1 + w / 64),
                         point_fits=p["fits"])
            rows.append(r)
    sw_cols = ["point"] + keys + ["layer", "cycles", "load_efficiency", "real_over_total_work",
                                  "spmat_line_reads", "spmat_sram_energy_pj", "point_fits", "error"]
    ok = [p for p in points if not p["error"]]
    front = [p for p in ok if not any(
        q["time_us"] <= p["time_us"] and q["total_energy_uj"] <= p["total_energy_uj"]
        and q["chip_area_mm2"] <= p["chip_area_mm2"] and q is not p
        and (q["time_us"], q["total_energy_uj"], q["chip_area_mm2"])
        != (p["time_us"], p["total_energy_uj"], p["chip_area_mm2"]) for q in ok)]
    summary = {"swept_keys": keys, "sweep": {k: list(v) for k, v in grid.items()},
               "synthetic": True, "points": len(points),
               "config": {"arch": {"pes": 64, "queue_depth": 8, "spmat_width_bits": 64,
                                   "clock_mhz": 800.0}},
               "units": {"time_us": "microseconds", "total_energy_uj": "microjoules"}}
    files = {"points.csv": report.csv_text(points, pt_cols),
             "sweep.csv": report.csv_text(rows, sw_cols),
             "pareto.csv": report.csv_text(front, pt_cols),      # unfiltered: non-fitting too
             "summary.json": json.dumps(summary),
             folders.MARKER: folders.marker_text("eie-sweep", "sweep")}
    for name, text in files.items():
        (folder / name).write_text(text)
    return points


@pytest.fixture
def captured(monkeypatch):
    """Every figure saved as PNG: its axes' scales, line counts, titles, legend texts."""
    seen = []
    real = sf.png

    def png(fig, *a, **k):
        data = real(fig, *a, **k)                    # drawn (and closed: still readable)
        axes = [ax for ax in fig.axes if ax.get_visible()]
        seen.append({
            "title": (fig._suptitle.get_text() if fig._suptitle else "") + " | "
                     + " | ".join(ax.get_title() for ax in axes),
            "lines": [len([ln for ln in ax.get_lines() if ln.get_label() != "ideal (linear)"])
                      for ax in axes],
            "xscale": [ax.get_xscale() for ax in axes],
            "legend": [" ".join(t.get_text().split()) for lg in fig.legends + [ax.get_legend() for ax in axes if ax.get_legend()]
                       for t in lg.get_texts()],
            "fig": fig})
        return data
    monkeypatch.setattr(sf, "png", png)
    return seen


def _pngs(folder: pathlib.Path) -> dict[str, tuple[int, int]]:
    return {p.name: sf.png_size(p.read_bytes()) for p in folder.iterdir() if p.suffix == ".png"}


def test_a_4_key_sweep_of_144_points_plots_readable_images(tmp_path, capsys, captured):
    """The done-when figure of issue 28: a 4-key sweep of 100+ points: every image at most
    2000 px a side, at most 6 lines per panel, the fixed keys in the titles, PEs on a log
    axis, the default set chosen from the swept keys, written into DIR/plots."""
    sweep = tmp_path / "sw"
    make_sweep(sweep)
    assert plot_main([str(sweep)]) == 0
    out = sweep / "plots"
    sizes = _pngs(out)
    assert sizes and all(w <= 2000 and h <= 2000 for w, h in sizes.values()), sizes
    assert {"pareto_latency_energy.png", "metrics_vs_pes.png", "metrics_vs_queue_depth.png",
            "metrics_vs_spmat_width_bits.png", "metrics_vs_clock_mhz.png",
            "heatmap_queue_depth_vs_pes_latency.png", "heatmap_queue_depth_vs_pes_inferences_per_j.png",
            "energy_by_unit_vs_pes.png", "area_by_unit_vs_pes.png",
            "fig8_load_efficiency_vs_queue_depth.png", "fig9_spmat_width.png",
            "fig11_speedup_vs_pes.png", "fig12_real_work_vs_pes.png",
            "fig13_load_efficiency_vs_pes.png"} == set(sizes)
    assert folders.owner(out) == "eie-plot plots"
    assert len(captured) == len(sizes)
    assert all(n <= sf.MAX_LINES for c in captured for n in c["lines"])
    by_title = {c["title"].split(" vs ")[0][:40]: c for c in captured}
    assert by_title
    metrics = [c for c in captured if "chip area (mm^2) vs pes" in c["title"]][0]
    # x = pes (log), colour = queue_depth (4 values), facets = spmat width, clock fixed at
    # the design point's 800 MHz and said so
    assert set(metrics["xscale"]) == {"log"}
    assert "fixed: clock_mhz=800" in metrics["title"]
    assert "spmat_width_bits = 32" in metrics["title"] and "spmat_width_bits = 64" in metrics["title"]
    assert any(sf.NOT_FIT in t for t in metrics["legend"])
    q = [c for c in captured if "vs queue_depth" in c["title"] and "metrics" not in c["title"]
         and "chip area" in c["title"]][0]
    assert "pes: 6 of 9 values" in q["title"]          # 9 PE counts: 6 lines, said
    fig11 = [c for c in captured if "Fig. 11" in c["title"]][0]
    assert "fixed: queue_depth=8, spmat_width_bits=64, clock_mhz=800" in fig11["title"]
    said = capsys.readouterr().out
    assert str(out / "metrics_vs_pes.png") in said


def test_the_plots_folder_is_replaced_without_force_but_never_a_foreign_one(tmp_path, capsys):
    sweep = tmp_path / "sw"
    make_sweep(sweep, {"pes": [1, 4, 16], "queue_depth": [1, 4]})
    assert plot_main([str(sweep)]) == 0
    first = set(_pngs(sweep / "plots"))
    assert plot_main([str(sweep)]) == 0                     # its own plots: replaced
    assert set(_pngs(sweep / "plots")) == first
    # one plot by name is added; the others are kept
    assert plot_main([str(sweep), "--x", "pes", "--y", "cycles,total_energy_uj",
                      "--color", "queue_depth"]) == 0
    made = set(_pngs(sweep / "plots"))
    assert made == first | {"cycles_total_energy_uj_vs_pes__by_queue_depth.png"}
    # a folder of the user's: never replaced, with --force too
    other = tmp_path / "sw2"
    make_sweep(other, {"pes": [1, 4, 16]})
    (other / "plots").mkdir()
    (other / "plots" / "mine.txt").write_text("keep")
    capsys.readouterr()
    for extra in ([], ["--force"]):
        assert plot_main([str(other), *extra]) == 2
        assert "never replaced" in capsys.readouterr().err
    assert [p.name for p in (other / "plots").iterdir()] == ["mine.txt"]


def test_any_metric_against_any_key_with_fix_and_errors(tmp_path, capsys, captured):
    sweep = tmp_path / "sw"
    make_sweep(sweep)
    out = tmp_path / "p"
    assert plot_main([str(sweep), "--out", str(out), "--x", "pes", "--y", "cycles,energy_uj",
                      "--color", "queue_depth", "--fix", "spmat_width_bits=64"]) == 0
    (name,) = _pngs(out)
    c = captured[-1]
    # energy_uj: the name of earlier versions, read as total_energy_uj; 2 metric rows x 2
    # clock facets; 4 queue depths per panel
    assert c["lines"] == [4, 4, 4, 4] and "fixed: spmat_width_bits=64" in c["title"]
    assert "clock_mhz = 400" in c["title"]
    # a per-layer metric of sweep.csv: layer is one more key
    assert plot_main([str(sweep), "--out", str(out), "--x", "queue_depth", "--y",
                      "load_efficiency", "--facet", "none", "--agg", "mean"]) == 0
    assert "mean over" in captured[-1]["title"]
    capsys.readouterr()
    for args, msg in ((["--x", "pes", "--fix", "pes=3"], "--fix pes=3: no point has pes = 3"),
                      (["--x", "nope"], "--x nope: not a swept key"),
                      (["--x", "pes", "--y", "nope"], "--y nope: no such column"),
                      (["--y", "cycles"], "go with --x"),
                      (["--x", "pes", "--fix", "pes"], "expected KEY=VALUE"),
                      (["--x", "pes", "--fix", "pes=4"], "pes takes one value")):
        assert plot_main([str(sweep), "--out", str(tmp_path / "bad"), *args]) == 2, args
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err, (args, err)
    assert not (tmp_path / "bad").exists()


def test_non_fitting_points_are_hollow_and_never_on_the_front(tmp_path, captured):
    sweep = tmp_path / "sw"
    points = make_sweep(sweep, {"pes": [1, 2, 4, 16, 64], "queue_depth": [1, 8]})
    front = list(csv.DictReader((sweep / "pareto.csv").open()))
    assert any(r["fits"] == "false" for r in front)     # the unfiltered front holds one
    assert plot_main([str(sweep), "--out", str(tmp_path / "p")]) == 0
    fig = [c for c in captured if "latency vs energy" in c["title"]][0]["fig"]
    ax = fig.axes[0]
    by_label = {c.get_label(): c for c in ax.collections}
    ring = [k for k in by_label if k.startswith("Pareto front")][0]
    drawn = {tuple(xy) for xy in by_label[ring].get_offsets().tolist()}
    bad = {(p["time_us"], p["total_energy_uj"]) for p in points if not p["fits"]}
    good = {(float(r["time_us"]), float(r["total_energy_uj"])) for r in front if r["fits"] == "true"}
    assert drawn == good and not drawn & bad
    hollow = [k for k in by_label if k.startswith("does not fit")][0]
    assert {tuple(xy) for xy in by_label[hollow].get_offsets().tolist()} == bad
    # the heatmaps leave them out, and say so
    heat = [c for c in captured if "each cell" in c["title"]]
    assert heat and all("do not fit their SRAMs left out" in c["title"] for c in heat)


def test_a_search_heatmap_bins_sampled_values_on_numeric_axes(tmp_path, captured):
    """A search's points (every PE count sampled once): the heatmap has at most 12 columns
    on a log axis, not one category per sampled value; no Fig. 8-13 and no unit bars."""
    import random
    rng = random.Random(0)
    sweep = tmp_path / "sw"
    make_sweep(sweep, {"pes": [1], "queue_depth": [1]})
    pts = [_point(i, {"pes": rng.randint(8, 1024), "queue_depth": rng.choice([1, 2, 4, 8, 16]),
                      "spmat_width_bits": 64, "clock_mhz": 800.0}) for i in range(120)]
    cols = list(csv.DictReader((sweep / "points.csv").open()).fieldnames)
    (sweep / "points.csv").write_text(report.csv_text(pts, cols))
    (sweep / "pareto.csv").write_text(report.csv_text(pts[:3], cols))
    summ = json.loads((sweep / "summary.json").read_text())
    summ["sweep"] = {"search": {"method": "tpe", "trials": 120}}
    (sweep / "summary.json").write_text(json.dumps(summ))
    notes = []
    from eie_sim.output.plots import plot_results
    made = {pathlib.Path(m).name for m in plot_results(sweep, tmp_path / "p", notes=notes)}
    assert "heatmap_queue_depth_vs_pes_latency.png" in made
    assert not any(m.startswith(("fig", "energy_by_unit", "area_by_unit")) for m in made)
    assert any("not a grid" in n for n in notes)
    heat = [c for c in captured if "each cell" in c["title"]][0]
    ax = heat["fig"].axes[0]
    mesh = [c for c in ax.collections if c.__class__.__name__ == "QuadMesh"][0]
    assert mesh.get_array().shape[1] <= 12 and ax.get_xscale() == "log"
    assert "the lowest of the points in its bin" in heat["title"]
    assert all(w <= 2000 and h <= 2000 for w, h in _pngs(tmp_path / "p").values())


def test_a_single_point_sweep_draws_no_one_dot_plots(tmp_path, capsys):
    sweep = tmp_path / "sw"
    make_sweep(sweep, {"pes": [64]})
    assert plot_main([str(sweep)]) == 0
    said = capsys.readouterr().out
    assert "1 point(s) ran" in said and "one dot says nothing" in said
    assert set(_pngs(sweep / "plots")) == {"energy_by_unit.png", "area_by_unit.png"}
    # a sweep whose only other point failed: the same, the Figs. too
    s2 = tmp_path / "sw2"
    make_sweep(s2, {"pes": [4, 64]}, fail=(0,))
    assert plot_main([str(s2)]) == 0
    said = capsys.readouterr().out
    assert "no Fig. 8-13: 1 point(s) ran" in said
    assert set(_pngs(s2 / "plots")) == {"energy_by_unit.png", "area_by_unit.png"}


def test_per_pe_legend_is_off_the_bars_and_the_queue_max_line_on_top(tmp_path, captured):
    from eie_sim.output.plots import per_pe_plot
    from eie_sim.output.timeline_plots import queue_plot
    from eie_sim.output.windows import LayerWindows
    import numpy as np
    rows = [{"layer": "L", "pe": str(i), "busy": str(100 - i), "padding": "3", "empty": "1",
             "starved": str(i)} for i in range(300)]
    data = per_pe_plot(rows, "L", False)
    fig = captured[-1]["fig"]
    ax = fig.axes[0]
    leg = fig.legends[0].get_window_extent()
    assert not leg.overlaps(ax.get_window_extent())          # below the axes
    assert max(sf.png_size(data)) <= 2000                     # 300 PEs: width capped
    n, w = 4, 5
    lw = LayerWindows("L", np.arange(w) * 10, np.full(w, 10),
                      {"queue_mean": np.full((w, n), 2.0), "queue_max": np.full((w, n), 4.0),
                       "busy": np.zeros((w, n))}, {})
    f = queue_plot([lw], "q", queue_depth=4)
    ax = f.axes[0]
    depth = [ln for ln in ax.get_lines() if ln.get_label().startswith("queue depth")][0]
    mx = [p for p in ax.patches if p.get_label().startswith("max")][0]
    assert mx.get_zorder() > depth.get_zorder()
    assert ax.get_ylim()[1] > 4 * 1.05                         # neither line on the frame
    import matplotlib.pyplot as plt
    plt.close(f)


def test_png_is_capped_at_2000_px():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(40, 3))
    ax.plot([0, 1], [0, 1])
    w, h = sf.png_size(sf.png(fig))
    assert max(w, h) <= 2000 and math.isclose(w / h, 40 / 3, rel_tol=0.2)
