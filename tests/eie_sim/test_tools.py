"""The tools agree (issue 28, "consistent tools"): one flag per architecture key on every
tool that reads a configuration, help text on every option of every tool, a quick sweep
without YAML, eie-simulate refusing a sweep: block, totals named as totals, one spelling
of each unit's name, a units map in every summary.json."""
import argparse
import csv
import json
import re

import pytest

import eie_sim.cli.plot as plot_cli
from eie_sim.arch import schema
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.energy import AREA_PARTS, ENERGY_COLUMN_PARTS, UNITS
from eie_sim.cli import hwprune as hwprune_cli
from eie_sim.cli import simulate as simulate_cli
from eie_sim.cli import sweep as sweep_cli
from eie_sim.cli.common import _load
from eie_sim.cli.simulate import simulate_main
from eie_sim.cli.sweep import sweep_main
from eie_sim.errors import ConfigError
from eie_sim.output.energy_plots import energy_area_markdown, energy_bars
from eie_sim.sim.columns import LAYER_COLUMNS, unit_of, units_map

#: the paper's unit names (Table II): only docs/energy.md's comparison table uses them
PAPER_NAMES = ("Act_queue", "PtrRead", "SpmatRead", "ArithmUnit", "ActRW")


def _plot_parser() -> argparse.ArgumentParser:
    """eie-plot's parser: its builder where it has one, else the one ``--help`` makes."""
    if hasattr(plot_cli, "_build_parser"):
        return plot_cli._build_parser()
    made = []
    real = plot_cli._parser

    def recording(*a, **k):
        made.append(real(*a, **k))
        return made[-1]
    plot_cli._parser = recording
    try:
        with pytest.raises(SystemExit):
            plot_cli._plot(["--help"])
    finally:
        plot_cli._parser = real
    return made[0]


def _parsers() -> dict[str, argparse.ArgumentParser]:
    return {"eie-simulate": simulate_cli._build_parser(), "eie-sweep": sweep_cli._build_parser(),
            "eie-plot": _plot_parser(), "eie-hwprune": hwprune_cli._build_parser()}


@pytest.mark.parametrize("tool", ["eie-simulate", "eie-sweep", "eie-plot", "eie-hwprune"])
def test_every_option_of_every_tool_has_help(tool, capsys):
    parser = _parsers()[tool]
    capsys.readouterr()
    bare = [a.option_strings[0] if a.option_strings else a.dest for a in parser._actions
            if not (a.help and a.help.strip()) or a.help == argparse.SUPPRESS]
    assert bare == [], f"{tool}: options without help text: {bare}"


@pytest.mark.parametrize("tool", ["eie-simulate", "eie-sweep", "eie-hwprune"])
def test_every_architecture_key_is_a_flag_with_help_from_its_spec(tool):
    parser = _parsers()[tool]
    flags = {a.dest: a for a in parser._actions}
    dflt = schema.defaults(ArchConfig)
    for key, s in schema.specs(ArchConfig).items():
        a = flags[f"arch_{key}"]
        assert a.option_strings == ["--" + key.replace("_", "-")]
        assert schema.allowed(s) in a.help and s.doc.replace("**", "").replace("`", "")[:30] in a.help
        assert (s.unit in a.help) if s.unit else True
        assert "default" in a.help and str(dflt[key] if dflt[key] is not None else "null")[:3] in a.help
    assert "--pes" in parser.format_help() and "--queue-depth" in parser.format_help()


def test_an_architecture_flag_is_the_same_as_set():
    p = simulate_cli._build_parser()
    by_flag = _load(p.parse_args(["--pes", "32", "--queue-depth", "4", "--clock-mhz", "1000",
                                  "--out-frac-bits", "null", "--synthetic", "8,8,0.5,0.5"]))
    by_set = _load(p.parse_args(["--set", "pes=32", "--set", "queue_depth=4", "--set",
                                 "clock_mhz=1000", "--synthetic", "8,8,0.5,0.5"]))
    assert by_flag.arch == by_set.arch and by_flag.arch.pes == 32 and by_flag.arch.clock_mhz == 1000.0
    assert by_flag.explicit == by_set.explicit | {"out_frac_bits"}
    with pytest.raises(ConfigError, match=r"^--pes 0: pes: 0 is outside the allowed range 1\.\.1024$"):
        _load(p.parse_args(["--pes", "0"]))
    with pytest.raises(ConfigError, match=r"^--spmat-width-bits x: spmat_width_bits: expected an integer"):
        _load(p.parse_args(["--spmat-width-bits", "x"]))
    with pytest.raises(ConfigError, match=r"--pes 3 and --set pes=4: give the key once"):
        _load(p.parse_args(["--pes", "3", "--set", "pes=4"]))


def test_architecture_flags_override_the_file(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("pes: 4\nqueue_depth: 2\n")
    rc = simulate_main(["--config", str(cfg), "--pes", "8", "--synthetic", "16,16,0.5,0.5",
                        "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    arch = json.loads((tmp_path / "o" / "summary.json").read_text())["config"]["arch"]
    assert arch["pes"] == 8 and arch["queue_depth"] == 2


@pytest.mark.parametrize("sweep", ["sweep:\n  pes: [1, 2]\n",
                                   "sweep:\n  random: {samples: 1}\n  pes: [1, 2]\n"])
def test_simulate_refuses_a_sweep_block(tmp_path, capsys, sweep):
    cfg = tmp_path / "s.yaml"
    cfg.write_text("workload:\n  synthetic: {rows: 8, cols: 8, weight_density: 0.5}\n" + sweep)
    rc = simulate_main(["--config", str(cfg), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and not (tmp_path / "o").exists()
    assert re.search(r"s\.yaml has a sweep: block \(pes.*\); eie-simulate runs one design point: "
                     r"run the sweep with eie-sweep .*s\.yaml --out DIR", err), err
    rc = simulate_main(["--synthetic", "8,8,0.5,0.5", "--set", "sweep.pes=[1,2]"])
    assert rc == 2 and "eie-sweep" in capsys.readouterr().err
    # dropping the block runs the point
    rc = simulate_main(["--config", str(cfg), "--set", "sweep=null", "--quiet"])
    assert rc == 0, capsys.readouterr().err


def test_a_sweep_without_yaml_is_the_sweep_of_its_yaml(tmp_path, capsys):
    """eie-sweep's workload flags and --sweep give the points (and tables) of the same sweep
    written as a configuration file."""
    rc = sweep_main(["--synthetic", "24,32,0.2,0.6,3", "--sweep", "pes=1,2", "--sweep",
                     "workload.weight_density=0.1,0.3", "--queue-depth", "4", "--workers", "1",
                     "--quiet", "--out", str(tmp_path / "flags")])
    assert rc == 0, capsys.readouterr().err
    cfg = tmp_path / "s.yaml"
    cfg.write_text("queue_depth: 4\nrun: {workers: 1}\nworkload:\n  synthetic: {rows: 24, cols: 32, "
                   "weight_density: 0.2, act_density: 0.6, seed: 3}\nsweep:\n  pes: [1, 2]\n"
                   "  workload.weight_density: [0.1, 0.3]\n")
    rc = sweep_main([str(cfg), "--quiet", "--out", str(tmp_path / "yaml")])
    assert rc == 0, capsys.readouterr().err
    for f in ("sweep.csv", "points.csv", "pareto.csv"):
        assert (tmp_path / "flags" / f).read_bytes() == (tmp_path / "yaml" / f).read_bytes(), f
    pts = list(csv.DictReader((tmp_path / "flags" / "points.csv").open()))
    assert [(p["pes"], p["workload.weight_density"]) for p in pts] == [
        ("1", "0.1"), ("1", "0.3"), ("2", "0.1"), ("2", "0.3")]
    summ = json.loads((tmp_path / "flags" / "summary.json").read_text())
    assert summ["config"]["arch"]["queue_depth"] == 4
    assert summ["config"]["workload"] == {"synthetic": {"rows": 24, "cols": 32, "weight_density": 0.2,
                                                        "act_density": 0.6, "seed": 3}}


@pytest.mark.parametrize("argv, pattern", [
    ([], r"nothing to sweep: give CONFIG\.yaml or a workload flag"),
    (["{cfg}", "--table3", "Alex-7"], r"c\.yaml has a workload: block and --table3 Alex-7 was given"),
    (["--synthetic", "8,8,0.5,0.5", "--sweep", "pes"], r"--sweep pes: expected KEY=V1,V2"),
    (["--synthetic", "8,8,0.5,0.5", "--sweep", "pes=1,0"],
     r"--sweep pes=1,0: sweep\.pes\[1\]: 0 is outside the allowed range"),
    (["--synthetic", "8,8,0.5,0.5", "--sweep", "bogus=1,2"], r"sweep\.bogus: unknown key"),
    (["--synthetic", "8,8,0.5,0.5", "--input", "x.npy"], r"workload\.input: applies to npz and model"),
    (["{cfg}", "--layers", "a"], r"--layers applies to a workload flag"),
])
def test_sweep_flag_errors(tmp_path, capsys, argv, pattern):
    (tmp_path / "c.yaml").write_text("workload:\n  table3: [Alex-8]\nsweep:\n  pes: [1, 2]\n")
    argv = [a.format(cfg=tmp_path / "c.yaml") for a in argv] + ["--out", str(tmp_path / "o")]
    rc = sweep_main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and re.search(pattern, err), err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ column names
def _layer_row():
    from eie_sim.sim.network import run_workload
    from eie_sim.sim.options import SimOptions
    from eie_sim.workloads.layer import Workload
    from eie_sim.workloads.synthetic import synthetic_layer
    wl = Workload([synthetic_layer(64, 48, 0.2, 0.5, seed=1, bias=True)], network=False)
    results, totals = run_workload(wl, ArchConfig(pes=4), SimOptions(), True, seed=0)
    return results[0].to_dict(), totals


def test_summing_the_parts_never_counts_a_total():
    """Every ``energy_<x>_uj`` column is a part and they sum to ``total_energy_uj``; every
    ``pe_area_<x>_mm2`` column is a part of one PE and they sum to ``pe_total_area_mm2``."""
    row, totals = _layer_row()
    for r in (row, totals):
        assert "energy_uj" not in r and "pe_area_mm2" not in r
        parts = [c for c in r if re.fullmatch(r"energy_.+_uj", c)]
        assert sorted(parts) == sorted(f"energy_{p}_uj" for p in ENERGY_COLUMN_PARTS)
        assert sum(r[c] for c in parts) == pytest.approx(r["total_energy_uj"], rel=1e-12)
        areas = [c for c in r if re.fullmatch(r"pe_area_.+_mm2", c)]
        assert areas == [f"pe_area_{p}_mm2" for p in AREA_PARTS]
        assert sum(r[c] for c in areas) == pytest.approx(r["pe_total_area_mm2"], rel=1e-12)
    assert "energy_uj" not in LAYER_COLUMNS and "total_energy_uj" in LAYER_COLUMNS


def test_one_spelling_of_each_unit_in_tables_and_plots():
    row, _ = _layer_row()
    md = energy_area_markdown([row])
    svg = energy_bars([row], fmt="svg").decode()
    for text in (md, svg):
        assert all(u in text for u in UNITS) and not any(n in text for n in PAPER_NAMES)
    assert "lnzd" in md and "static" in md


def test_units_map_of_every_summary(tmp_path, capsys):
    assert unit_of("total_energy_uj") == "microjoules" and unit_of("pe_total_area_mm2") == "mm^2"
    assert unit_of("time_us_per_image_mean").startswith("microseconds per image")
    assert unit_of("busy") == "clock cycles" and unit_of("layer") == ""
    rc = simulate_main(["--synthetic", "32,32,0.3,0.5", "--pes", "4", "--out", str(tmp_path / "o"),
                        "--quiet"])
    assert rc == 0, capsys.readouterr().err
    summ = json.loads((tmp_path / "o" / "summary.json").read_text())
    cols = next(csv.reader((tmp_path / "o" / "layers.csv").open()))
    per_pe = next(csv.reader((tmp_path / "o" / "per_pe.csv").open()))
    assert summ["units"] == units_map(cols, per_pe, summ["totals"])
    assert summ["units"]["total_energy_uj"] == "microjoules"
    assert summ["units"]["energy_spmat_read_uj"] == "microjoules" and summ["units"]["busy"] == "clock cycles"
    rc = sweep_main(["--synthetic", "16,16,0.5,0.5", "--sweep", "pes=1,2", "--workers", "1",
                     "--quiet", "--out", str(tmp_path / "s")])
    assert rc == 0, capsys.readouterr().err
    summ = json.loads((tmp_path / "s" / "summary.json").read_text())
    pts = next(csv.reader((tmp_path / "s" / "points.csv").open()))
    rows = next(csv.reader((tmp_path / "s" / "sweep.csv").open()))
    assert summ["units"] == units_map(rows, pts)
    assert summ["units"]["point_total_energy_uj"] == "microjoules"


def test_units_map_of_a_lenet_summary(tmp_path, capsys):
    """eie-simulate --lenet's summary.json (no CSV) has its units map too, per image."""
    import numpy as np

    from compressor.fileformat import save
    from compressor.model import QuantizedLayer, QuantizedModel
    rng = np.random.default_rng(0)
    layers = []
    for name, (o, i), d in (("ip1", (300, 784), 0.08), ("ip2", (100, 300), 0.09),
                            ("ip3", (10, 100), 0.26)):
        codes = rng.integers(1, 16, size=(o, i)) * (rng.random((o, i)) < d)
        cb = np.concatenate([[0.0], np.linspace(-0.25, 0.25, 15)])
        layers.append(QuantizedLayer(name, "fc", codes, cb, rng.normal(size=o) * 0.05, 4, 4))
    save(QuantizedModel(layers), tmp_path / "lenet.dcmp")
    rc = simulate_main(["--lenet", str(tmp_path / "lenet.dcmp"), "--images", "3",
                        "--out", str(tmp_path / "o")])
    assert rc == 0, capsys.readouterr().err
    summ = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summ["units"]["total_energy_uj_per_image_mean"] == "microjoules per image (mean over the images)"
    assert summ["units"]["time_us_per_image_mean"].startswith("microseconds per image")
    assert "energy_uj_per_image_mean" not in summ and summ["total_energy_uj_per_image_mean"] > 0
