"""Accuracy without retraining (compressor/accuracy.py) and model inputs (compressor/inputs.py):
agreement on hand-made outputs, the budgeted search meeting its target on calibration data,
the warnings of eie-compress import, and the shape/layout checks of inputs."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")

from compressor import accuracy, inputs  # noqa: E402
from compressor.cli import main as compress_main  # noqa: E402
from compressor.errors import InputError  # noqa: E402
from compressor.fileformat import load  # noqa: E402
from compressor.graph.builder import NetBuilder  # noqa: E402
from compressor.graph.forward import forward  # noqa: E402
from compressor.importers import load_model  # noqa: E402
from tests.compressor.byom_models import onnx_cnn, onnx_mlp, save_onnx  # noqa: E402


def test_agreement_on_a_toy_case():
    f = [np.array([[0.0, 1.0, 5.0, 2.0, 3.0, 4.0]]), np.array([[9.0, 1.0, 0.0, 2.0, 3.0, 4.0]]),
         np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])]
    o = [np.array([[0.0, 1.0, 5.0, 2.0, 3.0, 4.0]]),      # identical
         np.array([[-1.0, 9.5, 0.0, 2.0, 3.0, 4.0]]),     # top-1 changes (1 instead of 0)
         np.array([[1.0, 2.0, 3.0, 4.0, 7.0, 6.0]])]      # top-1 changes (4 instead of 5)
    a = accuracy.compare_outputs(f, o, ["a", "b", "c"])
    assert a.classifier
    assert a.top1 == pytest.approx(1 / 3)
    # float top-1 in the other's top 5: a yes; b: 0 is the smallest of 6 -> not in top 5;
    # c: 5 is in the top 5
    assert a.top5 == pytest.approx(2 / 3)
    assert a.rel_errors[0] == 0.0
    assert a.rel_errors[2] == pytest.approx(2.0 / np.linalg.norm(f[2]))
    assert a.max_rel_error == pytest.approx(np.linalg.norm(o[1] - f[1]) / np.linalg.norm(f[1]))
    assert [r["top1_agree"] for r in a.rows()] == [True, False, False]
    # ties go to the lower index (as eie_sim's top_k)
    assert accuracy.top_k(np.array([1.0, 3.0, 3.0, 0.0]), 2) == [1, 2]
    # a feature map is not a classifier: relative errors only
    m = accuracy.compare_outputs([np.ones((1, 2, 3, 3))], [np.ones((1, 2, 3, 3)) * 1.1], ["x"])
    assert not m.classifier and m.top1 is None
    assert m.rel_errors[0] == pytest.approx(0.1)


def test_warnings_thresholds():
    a = accuracy.compare_outputs([np.array([[1.0, 0.0]])], [np.array([[0.0, 1.0]])], ["x"])
    w = accuracy.warnings_for(a, 0.95, 0.1)
    assert len(w) == 2 and "top-1 agreement" in w[0] and "0.0%" in w[0]
    assert accuracy.warnings_for(accuracy.compare_outputs([np.array([[1.0, 0.0]])],
                                                          [np.array([[1.0, 0.0]])], ["x"])) == []


def _calibration(tmp_path, shape, n=6, seed=3):
    d = tmp_path / "cal"
    d.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(n):
        np.save(d / f"x{i}.npy", rng.normal(0, 1, shape).astype(np.float32))
    return d


def test_runner_from_a_layer_equals_the_full_forward_pass():
    b = NetBuilder("t", (1, 2, 6, 6))
    c1 = b.conv("c1", b.input, 3, kernel=3, pad=1)
    r = b.relu("r1", c1)
    c2 = b.conv("c2", r, 4, kernel=3, pad=1)
    f = b.flatten("f", c2)
    b.fc("fc", f, 3)
    net = b.build()
    rng = np.random.default_rng(0)
    imp_w = {lay.name: (rng.normal(0, 0.3, lay.weight_shape).astype(np.float32),
                        rng.normal(0, 0.1, lay.weight_shape[0]).astype(np.float32))
             for lay in net.weight_layers}
    xs = [rng.normal(0, 1, (1, 2, 6, 6)).astype(np.float32) for _ in range(2)]
    run = accuracy._Runner(net, imp_w, xs)
    w2 = {"c2": (imp_w["c2"][0] * 0.5, imp_w["c2"][1])}
    part = run.outputs("c2", w2)
    full = [forward(net, {**imp_w, **w2}, x).blobs[net.layers[-1].tops[0]] for x in xs]
    for p, q in zip(part, full):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("target", [0.99, 0.8])
def test_target_agreement_is_met_on_the_calibration_data(tmp_path, capsys, target):
    src = save_onnx(onnx_cnn(), tmp_path / "cnn.onnx")
    cal = _calibration(tmp_path, (1, 3, 10, 10), n=10)
    out = tmp_path / "c.dcmp"
    assert compress_main(["import", str(src), "--out", str(out), "--calibration", str(cal),
                          "--target-agreement", str(target), "--seed", "2", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "agreement with the float model" in printed
    model = load(out)
    ag = model.meta["agreement"]
    assert ag["search"]["met"] and ag["search"]["seed"] == 2
    # measured here again, independently, on the calibration inputs
    imp = load_model(src)
    xs = [r[1] for r in inputs.load_inputs([cal], imp.net)]
    a = accuracy.compare_outputs(accuracy.final_outputs(imp.net, imp.weights, xs),
                                 accuracy.final_outputs(imp.net, model, xs), [str(i) for i in range(len(xs))])
    assert a.top1 >= target
    assert ag["measured"]["top1_agreement"] == pytest.approx(a.top1)
    # it compressed something: fewer non-zeros or fewer than 8 bits somewhere
    dense_nnz = sum(int(np.count_nonzero(w)) for w, _ in imp.weights.values())
    assert sum(q.nnz for q in model.layers) < dense_nnz or min(q.bits for q in model.layers) < 8


def test_max_rel_error_budget_on_a_non_classifier_output(tmp_path, capsys):
    src = save_onnx(onnx_mlp(), tmp_path / "mlp.onnx")
    cal = _calibration(tmp_path, (1, 20), n=8)
    out = tmp_path / "m.dcmp"
    assert compress_main(["import", str(src), "--out", str(out), "--calibration", str(cal),
                          "--max-rel-error", "0.05", "--quiet"]) == 0
    model = load(out)
    imp = load_model(src)
    xs = [r[1] for r in inputs.load_inputs([cal], imp.net)]
    a = accuracy.compare_outputs(accuracy.final_outputs(imp.net, imp.weights, xs),
                                 accuracy.final_outputs(imp.net, model, xs), [""] * len(xs))
    assert a.max_rel_error <= 0.05
    assert model.meta["agreement"]["search"]["target"] == {"max_relative_error": 0.05}


def test_default_compression_warns_loudly(tmp_path, capsys):
    """The default compression (quality 1.0, 4 bits) of the small CNN, calibrated on the
    package images (its default for an image input), changes its answers: warned on
    stderr and in the report."""
    pytest.importorskip("skimage")
    pytest.importorskip("sklearn")
    src = save_onnx(onnx_cnn(), tmp_path / "cnn.onnx")
    rep = tmp_path / "rep"
    assert compress_main(["import", str(src), "--out", str(tmp_path / "c.dcmp"),
                          "--report-dir", str(rep), "--quiet"]) == 0
    cap = capsys.readouterr()
    model = load(tmp_path / "c.dcmp")
    ag = model.meta["agreement"]
    assert "8 package images" in ag["calibration"]
    m = ag["measured"]
    assert m["inputs"] == 8 and m["classifier"]
    assert m["top1_agreement"] < 0.95
    assert "eie-compress import: WARNING: top-1 agreement" in cap.err
    assert "**WARNING: top-1 agreement" in cap.out
    assert "**WARNING: top-1 agreement" in (rep / "c.md").read_text()


def test_relative_error_warning_and_synthetic_calibration(tmp_path, capsys):
    src = save_onnx(onnx_mlp(), tmp_path / "mlp.onnx")
    assert compress_main(["import", str(src), "--out", str(tmp_path / "m.dcmp"), "--bits", "2",
                          "--quiet"]) == 0
    cap = capsys.readouterr()
    ag = load(tmp_path / "m.dcmp").meta["agreement"]
    assert ag["calibration"].startswith("SYNTHETIC: 8 seeded")
    assert ag["measured"]["max_relative_error"] > 0.1
    assert "WARNING: relative output error up to" in cap.err


def test_budget_options_are_checked(tmp_path, capsys):
    src = save_onnx(onnx_cnn(), tmp_path / "cnn.onnx")
    assert compress_main(["import", str(src), "--out", str(tmp_path / "c.dcmp"),
                          "--target-agreement", "0.9", "--density", "0.5", "--quiet"]) == 2
    assert "without --density" in capsys.readouterr().err
    assert compress_main(["import", str(src), "--out", str(tmp_path / "c.dcmp"),
                          "--target-agreement", "1.5"]) == 2
    assert not (tmp_path / "c.dcmp").exists()


# ------------------------------------------------------------------ inputs
def _net(tmp_path):
    return load_model(save_onnx(onnx_cnn(), tmp_path / "cnn.onnx")).net


def test_input_shape_and_recorded_layout_are_checked(tmp_path):
    net = _net(tmp_path)
    x = np.arange(300, dtype=np.float32).reshape(1, 3, 10, 10)
    assert np.array_equal(inputs.fit_input(x, net, None, "x")[0], x)
    assert np.array_equal(inputs.fit_input(x[0], net, None, "x")[0], x)   # no batch dim
    assert len(inputs.fit_input(np.concatenate([x, x]), net, None, "x")) == 2   # a stack
    nhwc = x.transpose(0, 2, 3, 1)
    with pytest.raises(InputError, match=r"input shape \(1, 10, 10, 3\) does not match .* "
                                         r"expected \(1, 3, 10, 10\) \(layout NCHW.*looks NHWC"):
        inputs.fit_input(nhwc, net, None, "x.npy")
    # a recorded NHWC layout: the user gives NHWC, the graph gets NCHW
    (got,) = inputs.fit_input(nhwc, net, "NHWC", "x")
    np.testing.assert_array_equal(got, x)
    with pytest.raises(InputError, match=r"expected \(1, 10, 10, 3\) \(layout NHWC.*looks NCHW"):
        inputs.fit_input(x, net, "NHWC", "x")
    # the importer's record on the graph (Net.input_layouts: graph = given.transpose(perm))
    net.input_layouts = {next(iter(net.inputs)): (0, 3, 1, 2)}
    assert inputs.expected_shape(net) == ((1, 10, 10, 3), "NHWC")
    np.testing.assert_array_equal(inputs.fit_input(nhwc, net, None, "x")[0], x)
    with pytest.raises(InputError, match=r"expected \(1, 10, 10, 3\) \(layout NHWC"):
        inputs.fit_input(x, net, None, "x")
    net.input_layouts = {}
    assert inputs.input_layout({"import": {"input_layout": "nhwc"}}) == "NHWC"
    assert inputs.input_layout({}) is None
    with pytest.raises(InputError, match="must hold numbers"):
        inputs.fit_input(np.array(["a"]), net, None, "x")
    with pytest.raises(InputError, match="NaN"):
        inputs.fit_input(np.full((1, 3, 10, 10), np.nan), net, None, "x")


def test_files_folders_and_images(tmp_path):
    from PIL import Image
    net = _net(tmp_path)
    d = tmp_path / "in"
    d.mkdir()
    rng = np.random.default_rng(0)
    np.save(d / "a.npy", rng.normal(0, 1, (2, 3, 10, 10)).astype(np.float32))
    np.savez(d / "b.npz", p=rng.normal(0, 1, (1, 3, 10, 10)), q=rng.normal(0, 1, (3, 10, 10)))
    img = (rng.random((40, 30, 3)) * 255).astype(np.uint8)
    Image.fromarray(img).save(d / "c.png")
    (d / "notes.txt").write_text("ignored")
    rows = inputs.load_inputs([d], net)
    assert [r[0] for r in rows] == ["a.npy[0]", "a.npy[1]", "b.npz:p", "b.npz:q", "c.png"]
    assert all(r[1].shape == (1, 3, 10, 10) and r[1].dtype == np.float32 for r in rows)
    # the image path is SqueezeNet's Caffe convention, scaled: shorter side to
    # round(10 x 256 / 227) = 11, centre crop, BGR minus the means
    np.testing.assert_array_equal(rows[-1][1], inputs.image_to_input(img, (1, 3, 10, 10)))
    ref = inputs.caffe_input(img, 10, 11)
    np.testing.assert_array_equal(rows[-1][1], ref)
    with pytest.raises(InputError, match="no such file"):
        inputs.load_inputs([tmp_path / "missing.npy"], net)
    with pytest.raises(InputError, match="no input files"):
        (tmp_path / "empty").mkdir()
        inputs.load_inputs([tmp_path / "empty"], net)


def test_package_images_are_squeezenets():
    pytest.importorskip("skimage")
    from eie_sim.apps.images import image_input
    b = NetBuilder("img", (1, 3, 227, 227))
    b.fc("fc", b.flatten("f", b.input), 2)
    (row,) = inputs.package_images(b.build(), ["coffee"])
    np.testing.assert_array_equal(row[1], image_input("coffee"))
