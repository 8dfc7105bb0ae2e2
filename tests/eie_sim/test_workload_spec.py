"""The workload: block as one typed spec (eie_sim.arch.workload_spec): every kind parses,
every misplaced key is refused naming it, the block round-trips, and a results bundle's
config.yaml runs the same workload again - the networks and LeNet included."""
from __future__ import annotations

import json
import pathlib

import pytest

from eie_sim.arch.config_io import load_config
from eie_sim.arch.workload_spec import KIND_KEYS, WorkloadSpec, parse_workload
from eie_sim.cli.simulate import simulate_main
from eie_sim.errors import ConfigError


@pytest.mark.parametrize("block", [
    {"table3": "Alex-7"}, {"table3": ["Alex-7", "NT-We"], "layers": "Alex-7"},
    {"synthetic": {"rows": 8, "cols": 8, "weight_density": 0.5}},
    {"npz": "a.npz", "input": "x.npy"}, {"model": "m.dcmp", "layers": ["a", "b"], "act_density": 0.3},
    {"network": "enet", "positions": 4, "input_size": "32x32"},
    {"squeezenet": "", "positions": "all"}, {"squeezenet": "d", "images": ["chelsea", "china"]},
    {"lenet": "l.dcmp", "images": 10, "mnist_dir": "m"},
])
def test_every_kind_parses_and_gives_its_block_back(block):
    spec = parse_workload(block)
    assert isinstance(spec, WorkloadSpec) and spec.kind in KIND_KEYS
    again = parse_workload(spec.block())
    assert again == spec                                # the block is the spec's whole content


@pytest.mark.parametrize("block, pattern", [
    ({"table3": "Alex-7", "positions": 3}, r"^workload\.positions: applies to network and squeezenet"),
    ({"synthetic": {"rows": 4}, "input": "x.npy"}, r"^workload\.input: applies to npz and model"),
    ({"table3": "Alex-7", "npz": "a.npz"}, r"give exactly one of"),
    ({"table3": "Alex-99"}, r"^workload\.table3: unknown Table III layer 'Alex-99'"),
    ({"table3": ["Alex-7", "nope"]}, r"^workload\.table3\.1: unknown Table III layer"),
    ({"synthetic": [{"rows": 4, "colz": 4}]}, r"^workload\.synthetic\.0\.colz: unknown key \(did you mean 'cols'\?\)"),
    ({"lenet": "l.dcmp", "images": "chelsea"}, r"^workload\.images: expected a number of MNIST test images"),
    ({"squeezenet": "", "images": "chelsea", "positions": 3}, r"chained run computes every layer"),
    ({"network": "enet", "positions": 0}, r"^workload\.positions: expected 'all' or a number >= 1"),
    ({"model": "m.dcmp", "act_density": 1.5}, r"^workload\.act_density: expected a fraction in 0\.\.1"),
    ({"wokload": 1}, r"^workload\.wokload: unknown key"),
])
def test_misplaced_or_bad_keys_are_refused_naming_the_key(block, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse_workload(block)


def test_config_errors_carry_the_file_and_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("pes: 4\nworkload:\n  table3: Alex-7\n  positions: 3\n")
    with pytest.raises(ConfigError, match=r"c\.yaml:4: workload\.positions: applies to network"):
        load_config(cfg)


def test_relative_paths_are_taken_from_the_config_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    cfg = tmp_path / "sub" / "c.yaml"
    cfg.write_text("workload:\n  model: m.dcmp\n  input: ../x.npy\n")
    spec = load_config(cfg).workload
    assert spec.path("model") == tmp_path / "sub" / "m.dcmp"
    block = spec.absolute().block()
    assert block["model"] == str(tmp_path / "sub" / "m.dcmp")
    assert pathlib.Path(block["input"]).is_absolute()
    assert pathlib.Path(block["input"]).resolve() == (tmp_path / "x.npy").resolve()


def test_a_network_bundle_config_runs_the_same_workload_again(tmp_path, capsys):
    out1, out2 = tmp_path / "a", tmp_path / "b"
    assert simulate_main(["--network", "squeezedet", "--input-size", "32x48", "--positions", "2",
                          "--layers", "fire2/squeeze1x1,fire2/expand1x1", "--out", str(out1), "--quiet"]) == 0
    again = pathlib.Path(out1 / "config.yaml")
    assert "network: squeezedet" in again.read_text()
    assert simulate_main(["--config", str(again), "--out", str(out2), "--quiet"]) == 0
    capsys.readouterr()
    a, b = (json.loads((o / "summary.json").read_text()) for o in (out1, out2))
    assert a["totals"]["cycles"] == b["totals"]["cycles"] and b["input_hw"] == [32, 48]
    assert [l["layer"] for l in b["layers"]] == ["fire2/squeeze1x1", "fire2/expand1x1"]

