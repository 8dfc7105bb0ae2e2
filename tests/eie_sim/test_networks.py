"""Named networks (SYNTHETIC weights, paper shapes) on EIE: ``eie-simulate --network``,
the ``network:`` workload block, and the operator mappings (depthwise as a block-diagonal
matrix, transposed convolution on the zero-inserted input, ReLU6 / PReLU / Eltwise on the
host), every simulated output checked against numpy."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from compressor import zoo
from compressor.graph import eie_relu
from eie_sim.apps.networks import operator_handling, run_network
from eie_sim.arch.config import PAPER_CONFIG
from eie_sim.cli.simulate import simulate_main
from eie_sim.sim.columns import units_map


def test_cli_network_mobilenet_v1_reduced_input(tmp_path, capsys):
    out = tmp_path / "mb"
    rc = simulate_main(["--network", "mobilenet_v1", "--input-size", "32", "--positions", "3",
                        "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "| `dw13` | depthwise | 1024 x 9216 |" in text
    assert "SYNTHETIC mobilenet_v1" in (out / "report.md").read_text()
    summ = json.loads((out / "summary.json").read_text())
    assert summ["synthetic"] is True and summ["positions"] == 3 and summ["extrapolated"]
    assert summ["totals"]["layers"] == 28 and summ["totals"]["cycles"] > 0
    assert summ["compressed_total"]["layer"] == "Total" and 0 < summ["compressed_total"]["rate_pqh"] < 0.2
    assert {o["type"] for o in summ["operators"]} >= {"Convolution (depthwise)", "ReLU", "Softmax"}
    for f in ("layers.csv", "per_pe.csv", "compression.csv", "report.md", "cycles.png", "config.yaml"):
        assert (out / f).is_file()
    rows = list(csv.DictReader((out / "layers.csv").open()))
    assert len(rows) == 28 and all(r["synthetic"] == "true" for r in rows)
    # the units map of every summary.json (eie_sim.sim.columns.units_map)
    heads = [next(csv.reader((out / f).open())) for f in ("layers.csv", "per_pe.csv", "positions.csv")]
    assert summ["units"] == units_map(*heads, summ["totals"])
    assert summ["units"]["total_energy_uj"] == "microjoules" and "energy_uj" not in summ["totals"]


def test_enet_runs_with_deconv_prelu_unpool_checked():
    run = run_network("enet", PAPER_CONFIG, positions=2, seed=1, size=(32, 32))
    assert len(run.layers) == 89 and all(l.synthetic for l in run.layers)
    net = zoo.build("enet", (32, 32))
    # PReLU / Eltwise follow: EIE's ReLU is off for those layers, on for none of ENet's
    assert not any(eie_relu(net, l).on_eie for l in net.weight_layers)
    dec = next(l for l in run.layers if l.name == "b4.0/deconv")
    # the zero-inserted input: a 3x3 transposed conv of stride 2 sees at most 4 of 9 taps
    assert dec.cols == 32 * 9 and dec.act_density <= 4 / 9 + 1e-9
    assert all(l.min_error_slack >= 0 for l in run.layers)
    kinds = {o["type"] for o in operator_handling(net)}
    assert {"Deconvolution", "PReLU", "Unpool", "ChannelPad", "Eltwise"} <= kinds


def test_mobilenet_v2_relu6_on_eie_and_depthwise_block_diagonal():
    run = run_network("mobilenet_v2", PAPER_CONFIG.replace(pes=16), positions=2, seed=0,
                      size=(32, 32), layers=["b2/expand", "b2/dw", "b2/project"])
    by = {l.name: l for l in run.layers}
    net = zoo.build("mobilenet_v2", (32, 32))
    assert eie_relu(net, net.layer("b2/expand")).on_eie
    assert not eie_relu(net, net.layer("b2/project")).on_eie
    dw = by["b2/dw"]
    assert dw.rows == 96 and dw.cols == 96 * 9
    assert dw.nnz <= 96 * 9 and dw.meta["depthwise"]
    assert (by["b2/expand"].output_q >= 0).all()            # ReLU applied on EIE
    assert (by["b2/project"].output_q < 0).any()            # linear bottleneck: no ReLU


def test_network_workload_block_and_errors(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("workload:\n  network: squeezedet\n  positions: 2\n  input_size: 64x96\n")
    out = tmp_path / "o"
    assert simulate_main(["--config", str(cfg), "--out", str(out), "--quiet"]) == 0
    summ = json.loads((out / "summary.json").read_text())
    assert summ["network"] == "squeezedet" and summ["input_hw"] == [64, 96]
    capsys.readouterr()
    assert simulate_main(["--network", "resnet50"]) == 2
    assert "unknown network" in capsys.readouterr().err
    bad = tmp_path / "b.yaml"
    bad.write_text("workload:\n  table3: Alex-7\n  positions: 3\n")
    assert simulate_main(["--config", str(bad)]) == 2
    assert "network" in capsys.readouterr().err
    assert simulate_main(["--table3", "Alex-7", "--input-size", "32"]) == 2
    assert "--input-size applies to" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.names())
def test_every_network_at_paper_size_a_few_positions(name):
    run = run_network(name, PAPER_CONFIG, positions=2, seed=0)
    assert all(l.min_error_slack >= 0 for l in run.layers) and run.totals()["cycles"] > 0
    assert np.isfinite(run.totals()["total_energy_uj"])
