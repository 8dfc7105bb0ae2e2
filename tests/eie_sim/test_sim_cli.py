"""eie-simulate end to end: bundles, and clear errors with no output left behind."""
import csv
import json

import numpy as np
import pytest

from eie_sim.cli.simulate import simulate_main
from eie_sim.output.report import LAYER_COLUMNS


def run(argv, capsys):
    rc = simulate_main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_synthetic_run_writes_a_complete_bundle(tmp_path, capsys):
    out = tmp_path / "res"
    rc, so, se = run(["--synthetic", "200,300,0.1,0.4,3,bias", "--set", "pes=8", "--out", out], capsys)
    assert rc == 0, se
    assert sorted(p.name for p in out.iterdir()) == [".eie-sim.json", "config.yaml", "layers.csv", "per_pe.csv",
                                                      "report.html", "report.md", "summary.json"]
    rows = list(csv.DictReader((out / "layers.csv").open()))
    assert list(rows[0]) == list(LAYER_COLUMNS) and rows[0]["synthetic"] == "true"
    summ = json.loads((out / "summary.json").read_text())
    assert summ["config"]["arch"]["pes"] == 8 and summ["seeds"] == {"run_seed": 0}
    assert summ["workload"]["layers"][0]["seed"] == 3 and "synthetic" in summ["note"].lower()
    assert "These matrices are synthetic" in (out / "report.md").read_text()
    assert len(list(csv.DictReader((out / "per_pe.csv").open()))) == 8
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp dirs left


def test_config_workload_block_and_rerun_from_resolved_config(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("pes: 4\nrun: {seed: 2}\nworkload:\n  synthetic: {rows: 40, cols: 30, weight_density: 0.2}\n")
    rc, so, se = run(["--config", cfg, "--out", tmp_path / "a"], capsys)
    assert rc == 0, se
    rc, so2, se = run(["--config", tmp_path / "a" / "config.yaml", "--quiet"], capsys)
    assert rc == 0, se
    a = list(csv.DictReader((tmp_path / "a" / "layers.csv").open()))[0]
    assert a["cycles"] in so2


@pytest.mark.parametrize("argv, pattern", [
    (["--config", "{cfg}", "--synthetic", "10,10,0.5,0.5"], r"c\.yaml:2: quee_depth: unknown key"),
    (["--synthetic", "10,10,0.5,0.5", "--set", "pes=-1"], r"--set pes=-1: pes: -1 is outside the allowed range 1\.\.1024"),
    (["--synthetic", "10,10,2.0,0.5"], r"weight_density: expected a fraction in 0\.\.1"),
    (["--npz", "{tmp}/missing.npz"], r"missing\.npz: file not found"),
    (["--model", "{tmp}/missing.dcmp"], r"missing\.dcmp: model file not found"),
    (["--synthetic", "400,400,0.5,0.5", "--set", "pes=2", "--set", "spmat_sram_kb=4", "--set", "dram=none"],
     r"does not fit 2 PEs: Spmat SRAM: a PE needs \d+ entries \(\d+ KB\).*about \d+ PEs would fit it"),
    (["--table3", "Alex-0"], r"unknown Table III layer 'Alex-0'"),
    ([], r"no workload"),
])
def test_bad_input_exits_nonzero_without_output(tmp_path, capsys, argv, pattern):
    (tmp_path / "c.yaml").write_text("pes: 4\nquee_depth: 2\n")
    out = tmp_path / "res"
    argv = [a.format(cfg=tmp_path / "c.yaml", tmp=tmp_path) for a in argv] + ["--out", str(out)]
    rc, so, se = run(argv, capsys)
    assert rc == 2
    assert se.startswith("eie-simulate: error: ") and "Traceback" not in se
    import re
    assert re.search(pattern, se), se
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "c.yaml"]


def test_existing_output_dir_is_left_alone(tmp_path, capsys):
    out = tmp_path / "res"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    rc, so, se = run(["--synthetic", "10,10,0.5,0.5", "--out", out], capsys)
    assert rc == 2 and "holds files not written by eie-sim" in se and "--force" not in se
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    # issue 23: --force replaces only a folder the tools wrote; this one is refused too
    rc, so, se = run(["--synthetic", "10,10,0.5,0.5", "--out", out, "--force"], capsys)
    assert rc == 2 and "never replaced" in se and "--force" not in se
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_too_many_codebook_bits_message(tmp_path, capsys):
    from compressor.fileformat import save
    from compressor.model import QuantizedLayer, QuantizedModel
    codes = np.arange(12 * 8).reshape(12, 8) % 64
    save(QuantizedModel([QuantizedLayer("ip1", "fc", codes, np.linspace(0, 1, 64), None, 6, 4)]),
         tmp_path / "m.dcmp")
    # weight_bits set by the user and too narrow: refused with the fix in the message
    rc, so, se = run(["--model", tmp_path / "m.dcmp", "--set", "weight_bits=4"], capsys)
    assert rc == 2 and "--set weight_bits=6" in se
    # not set: it follows the file, and the run says so
    rc, so, se = run(["--model", tmp_path / "m.dcmp"], capsys)
    assert rc == 0, se
    assert "ip1" in so and "weight_bits 4 -> 6" in so


def test_npz_with_input_and_verify(tmp_path, capsys):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(20, 16)) * (rng.random((20, 16)) < 0.3)
    np.savez(tmp_path / "l.npz", weights=w, bias=rng.normal(size=20) * 0.1)
    np.save(tmp_path / "x.npy", np.abs(rng.normal(size=16)))
    rc, so, se = run(["--npz", tmp_path / "l.npz", "--input", tmp_path / "x.npy", "--verify",
                      "--set", "pes=4", "--out", tmp_path / "o"], capsys)
    assert rc == 0, se
    row = list(csv.DictReader((tmp_path / "o" / "layers.csv").open()))[0]
    assert row["verified"] == "true" and row["synthetic"] == "false"
    np.save(tmp_path / "x5.npy", np.ones(5))
    rc, so, se = run(["--npz", tmp_path / "l.npz", "--input", tmp_path / "x5.npy"], capsys)
    assert rc == 2 and "input has 5 values but the first layer has 16 inputs" in se


# ---- one-line errors instead of tracebacks, refused flags, a reproducing config.yaml ----
def _no_traceback_exit2(rc, se, out):
    assert rc == 2 and se.startswith("eie-simulate: error: ") and "Traceback" not in se
    assert len(se.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_files_are_one_line_errors(tmp_path, capsys):
    out = tmp_path / "o"
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00\x81 not text")
    rc, so, se = run(["--synthetic", "10,10,0.5,0.5", "--energy-table", tmp_path / "bin.yaml",
                      "--out", out], capsys)
    _no_traceback_exit2(rc, se, out)
    assert "not an energy table (not UTF-8 text)" in se
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "s.npz", weights=rng.normal(size=(6, 4)), x=np.array(["a", "b", "c", "d"]))
    rc, so, se = run(["--npz", tmp_path / "s.npz", "--out", out], capsys)
    _no_traceback_exit2(rc, se, out)
    assert "member 'x.npy': dtype <U1 is not a plain number type" in se
    np.savez(tmp_path / "l.npz", weights=rng.normal(size=(6, 4)))
    np.save(tmp_path / "xs.npy", np.array(["1", "2", "3", "4"]))
    rc, so, se = run(["--npz", tmp_path / "l.npz", "--input", tmp_path / "xs.npy", "--out", out], capsys)
    _no_traceback_exit2(rc, se, out)
    assert "xs.npy: dtype <U1 is not a plain number type" in se
    from compressor.fileformat import save
    from compressor.model import QuantizedLayer, QuantizedModel
    codes = np.ones((10, 784), dtype=np.int64)
    save(QuantizedModel([QuantizedLayer("ip1", "fc", codes, np.linspace(0, 0.1, 16), None, 4, 4)]),
         tmp_path / "m.dcmp")
    rc, so, se = run(["--lenet", tmp_path / "m.dcmp", "--mnist-dir", tmp_path / "nowhere",
                      "--out", out], capsys)
    _no_traceback_exit2(rc, se, out)
    assert "MNIST directory does not exist" in se


def test_weight_codes_wider_than_eie_allows(tmp_path, capsys):
    from compressor.fileformat import save
    from compressor.model import QuantizedLayer, QuantizedModel
    codes = np.arange(12 * 8).reshape(12, 8) % 1024
    save(QuantizedModel([QuantizedLayer("ip1", "fc", codes, np.linspace(0, 1, 1024), None, 10, 4)]),
         tmp_path / "m.dcmp")
    rc, so, se = run(["--model", tmp_path / "m.dcmp"], capsys)
    assert rc == 2 and "cannot run on EIE: weight_bits is 1..8" in se
    assert "--set weight_bits=10" not in se


@pytest.mark.parametrize("argv, pattern", [
    (["--synthetic", "10,10,0.5,0.5", "--act-density", "0.2"], r"--act-density applies to --model, --npz"),
    (["--table3", "Alex-8", "--input", "x.npy"], r"--input applies to --model, --npz"),
    (["--synthetic", "10,10,0.5,0.5", "--images", "5"], r"--images applies to --lenet only"),
    (["--table3", "Alex-8", "--mnist-dir", "d"], r"--mnist-dir applies to --lenet only"),
    (["--squeezenet", "--no-relu"], r"--no-relu applies to .* not to --squeezenet"),
    (["--squeezenet", "--input", "x.npy"], r"--input applies to .* not to --squeezenet"),
    (["--lenet", "m.dcmp", "--no-relu"], r"--no-relu applies to .* not to --lenet"),
    (["--config", "{cfg}", "--table3", "Alex-8"], r"c\.yaml has a workload: block and --table3 was given"),
    (["--config", "{cfg}", "--act-density", "0.3"], r"--act-density: applies to npz and model"),
    (["--synthetic", "10,10,0.5,0.5,-3"], r"^eie-simulate: error: --synthetic: seed: expected an integer >= 0"),
])
def test_flags_that_would_be_ignored_are_refused(tmp_path, capsys, argv, pattern):
    import re
    (tmp_path / "c.yaml").write_text("pes: 4\nworkload:\n  synthetic: {rows: 8, cols: 8, weight_density: 0.5}\n")
    out = tmp_path / "o"
    rc, so, se = run([a.format(cfg=tmp_path / "c.yaml") for a in argv] + ["--out", out], capsys)
    _no_traceback_exit2(rc, se, out)
    assert re.search(pattern, se), se


def test_config_yaml_reproduces_a_command_line_workload(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(1)
    work = tmp_path / "work"
    work.mkdir()
    np.savez(work / "l.npz", weights=rng.normal(size=(12, 10)) * (rng.random((12, 10)) < 0.5))
    (work / "t.yaml").write_text("static_fraction: 0.25\n")
    monkeypatch.chdir(work)
    rc, so, se = run(["--npz", "l.npz", "--act-density", "0.3", "--no-relu", "--set", "pes=4",
                      "--seed", "5", "--energy-table", "t.yaml", "--out", tmp_path / "a"], capsys)
    assert rc == 0, se
    import yaml
    conf = yaml.safe_load((tmp_path / "a" / "config.yaml").read_text())
    assert conf["workload"] == {"npz": str(work / "l.npz"), "act_density": 0.3}
    assert conf["run"]["energy_table"] == str(work / "t.yaml")
    assert conf["run"]["relu"] is False and conf["run"]["seed"] == 5
    # rerun from another directory: same numbers
    monkeypatch.chdir(tmp_path)
    rc, so, se = run(["--config", tmp_path / "a" / "config.yaml", "--out", tmp_path / "b"], capsys)
    assert rc == 0, se
    a = list(csv.DictReader((tmp_path / "a" / "layers.csv").open()))[0]
    b = list(csv.DictReader((tmp_path / "b" / "layers.csv").open()))[0]
    for key in ("cycles", "useful_macs", "input_nonzeros", "total_energy_uj", "max_error"):
        assert a[key] == b[key], key


def test_config_paths_do_not_fall_back_to_the_current_directory(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(2)
    np.savez(tmp_path / "l.npz", weights=rng.normal(size=(6, 4)))
    (tmp_path / "cfgdir").mkdir()
    (tmp_path / "cfgdir" / "c.yaml").write_text("workload:\n  npz: l.npz\n")
    monkeypatch.chdir(tmp_path)                         # l.npz exists here, not beside c.yaml
    rc, so, se = run(["--config", tmp_path / "cfgdir" / "c.yaml"], capsys)
    assert rc == 2 and f"{tmp_path / 'cfgdir' / 'l.npz'}: file not found" in se


def test_out_dir_parents_are_created_only_after_a_successful_run(tmp_path, capsys):
    """--out a/b/c works when a/b is missing; a failing run creates nothing."""

    out = tmp_path / "new" / "deeper" / "run"
    assert simulate_main(["--synthetic", "64,64,0.2,0.5", "--set", "pes=4", "--out", str(out), "--quiet"]) == 0
    assert (out / "layers.csv").exists()
    bad = tmp_path / "other" / "run"
    capsys.readouterr()
    assert simulate_main(["--synthetic", "64,64,0.2,0.5", "--set", "pes=0", "--out", str(bad)]) == 2
    assert "pes" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()
