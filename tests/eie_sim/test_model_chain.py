"""eie-simulate --model end to end (eie_sim/apps/model_chain.py): chained in fixed point by
default, outputs.npy equal to a dense numpy fixed-point computation, the float model's
outputs beside them with the agreement, inputs checked against the graph's shape."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

pytest.importorskip("onnx")

from compressor.cli import main as compress_main  # noqa: E402
from compressor.fileformat import load  # noqa: E402
from compressor.importers import graph_of, load_model  # noqa: E402
from eie_sim.arch.fixed_point import quantize, round_product, saturate, to_float  # noqa: E402
from eie_sim.cli.simulate import simulate_main  # noqa: E402
from tests.compressor.byom_models import onnx_cnn, onnx_mlp, save_onnx  # noqa: E402


def _inputs(tmp_path, shape, n, seed=5):
    d = tmp_path / "in"
    d.mkdir()
    rng = np.random.default_rng(seed)
    xs = [rng.normal(0, 1, shape).astype(np.float32) for _ in range(n)]
    for i, x in enumerate(xs):
        np.save(d / f"x{i}.npy", x)
    return d, xs


def _compressed(tmp_path, maker, name):
    src = save_onnx(maker(), tmp_path / f"{name}.onnx")
    assert compress_main(["import", str(src), "--out", str(tmp_path / f"{name}.dcmp"),
                          "--keep-mask", "--bits", "6", "--quiet"]) == 0
    return src, tmp_path / f"{name}.dcmp"


def _numpy_fixed_point_mlp(model, net, x, formats, word):
    """The MLP Gemm-Relu-Gemm-Relu-MatMul+Add in EIE's fixed point, dense numpy: input
    quantized to the layer's input format, each product of codebook_q x x_q rounded to the
    output format (ties up), bias_q added, saturated, ReLU where the graph has one."""
    h = np.asarray(x, np.float64).reshape(-1)
    relu_after = {"fc1": True, "fc2": True, "fc3": False}
    for lay in net.weight_layers:
        f = formats[lay.name]
        q = model.layer(lay.name)
        xq, _ = quantize(h, f["act_frac_bits"], word)
        cbq, _ = quantize(q.codebook, f["weight_frac_bits"], word)
        w = cbq[q.codes]
        shift = f["act_frac_bits"] + f["weight_frac_bits"] - f["out_frac_bits"]
        acc = round_product(w * xq[None, :], shift).sum(axis=1)
        if q.bias is not None:
            acc = acc + quantize(q.bias, f["out_frac_bits"], word)[0]
        acc, _ = saturate(acc, word)
        if relu_after[lay.name]:
            acc = np.maximum(acc, 0)
        h = to_float(acc, f["out_frac_bits"])
    return h


def test_chained_is_the_default_and_outputs_match_numpy_fixed_point(tmp_path, capsys):
    src, dcmp = _compressed(tmp_path, onnx_mlp, "mlp")
    d, xs = _inputs(tmp_path, (1, 20), 3)
    out = tmp_path / "sim"
    assert simulate_main(["--model", str(dcmp), "--input", str(d), "--out", str(out),
                          "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "chained"
    outs, fouts = np.load(out / "outputs.npy"), np.load(out / "float_outputs.npy")
    assert outs.shape == fouts.shape == (3, 5)
    rows = list(csv.DictReader(open(out / "inputs.csv")))
    assert [r["input"] for r in rows] == ["x0.npy", "x1.npy", "x2.npy"]
    model = load(dcmp)
    net = graph_of(model)
    formats = {r["layer"]: r for r in summary["formats"]}
    word = summary["effective_arch"]["word_bits"]
    for i, x in enumerate(xs):
        np.testing.assert_array_equal(outs[i], _numpy_fixed_point_mlp(model, net, x, formats, word))
    # the float model here is the .dcmp decoded in float; the relative errors are theirs
    rel = [float(r["relative_error"]) for r in rows]
    for i in range(3):
        assert rel[i] == pytest.approx(np.linalg.norm(outs[i] - fouts[i]) / np.linalg.norm(fouts[i]),
                                       rel=1e-6)
    assert summary["agreement"]["inputs"] == 3 and summary["agreement"]["classifier"]
    assert 0.0 <= summary["agreement"]["top1_agreement"] <= 1.0
    assert "report.md" in {p.name for p in out.iterdir()}
    assert "top-1 agreement" in (out / "report.md").read_text()


def test_float_model_is_the_original_file_when_given(tmp_path, capsys):
    src, dcmp = _compressed(tmp_path, onnx_cnn, "cnn")
    d, xs = _inputs(tmp_path, (1, 3, 10, 10), 2)
    out = tmp_path / "sim"
    assert simulate_main(["--model", str(dcmp), "--float-model", str(src), "--input",
                          str(d / "x0.npy"), str(d / "x1.npy"), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "cnn.onnx (--float-model)" in summary["float_model"]
    imp = load_model(src)
    from compressor.graph.forward import forward
    fouts = np.load(out / "float_outputs.npy")
    for i, x in enumerate(xs):     # the ONNX file's own float weights
        np.testing.assert_allclose(fouts[i], forward(imp.net, imp.weights, x).blobs["y"][0],
                                   rtol=1e-6)
    # a dense file runs directly: its float weights are the float model
    out2 = tmp_path / "sim2"
    assert simulate_main(["--model", str(src), "--input", str(d), "--out", str(out2),
                          "--quiet"]) == 0
    s2 = json.loads((out2 / "summary.json").read_text())
    assert "the float weights of cnn.onnx" in s2["float_model"]
    np.testing.assert_allclose(np.load(out2 / "float_outputs.npy"), fouts, rtol=1e-6)


def test_wrong_layout_is_refused_with_the_expected_shape(tmp_path, capsys):
    _, dcmp = _compressed(tmp_path, onnx_cnn, "cnn")
    bad = tmp_path / "nhwc.npy"
    np.save(bad, np.zeros((1, 10, 10, 3), np.float32))
    out = tmp_path / "sim"
    for mode in ("chained", "per-layer"):
        assert simulate_main(["--model", str(dcmp), "--input", str(bad), "--mode", mode,
                              "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "input shape (1, 10, 10, 3) does not match the model's input: expected " \
               "(1, 3, 10, 10)" in err
        assert not out.exists()


def test_modes_and_their_options(tmp_path, capsys):
    _, dcmp = _compressed(tmp_path, onnx_cnn, "cnn")
    assert simulate_main(["--model", str(dcmp), "--layers", "conv2", "--quiet"]) == 2
    assert "--mode per-layer" in capsys.readouterr().err
    assert simulate_main(["--model", str(dcmp), "--layers", "conv2", "--mode", "per-layer",
                          "--quiet"]) == 0
    assert simulate_main(["--synthetic", "8,8,0.5,0.5", "--mode", "chained"]) == 2
    assert "--mode applies to --model" in capsys.readouterr().err
    # no input: one seeded synthetic input, labelled so
    out = tmp_path / "syn"
    assert simulate_main(["--model", str(dcmp), "--out", str(out), "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert [r["input"] for r in s["inputs"]] == ["synthetic (seed 0)"]
    assert "SYNTHETIC" in s["notes"][0]


def test_image_inputs(tmp_path, capsys):
    from PIL import Image
    pytest.importorskip("skimage")
    _, dcmp = _compressed(tmp_path, onnx_cnn, "cnn")
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(1)
    Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(d / "a.png")
    out = tmp_path / "sim"
    assert simulate_main(["--model", str(dcmp), "--input", str(d), "--out", str(out),
                          "--image-preprocess", "unit", "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert [r["input"] for r in s["inputs"]] == ["a.png"]


def test_docs_byom_end_to_end_cnn_block_runs(tmp_path, monkeypatch):
    """docs/byom.md's walk-through builds its CNN and its LSTM as written."""
    import pathlib
    import re
    from tests.docblocks import run_blocks
    monkeypatch.chdir(tmp_path)
    # the section holds pasted reports whose own "## " lines are inside code fences: take
    # the python blocks between this section's heading and the next section's
    text = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "byom.md").read_text()
    part = text[text.index("## End to end"):text.index("## Accuracy without retraining")]
    blocks = re.findall(r"```python\n(.*?)```", part, flags=re.S)
    assert len(blocks) == 2
    run_blocks(blocks, "byom end to end")
    imp = load_model(tmp_path / "cnn.onnx")
    assert imp.layer_names == ["conv1", "conv2", "conv3", "fc"]
    assert tuple(imp.net.inputs.values())[0] == (1, 3, 32, 32)
    lstm = load_model(tmp_path / "lstm.onnx")
    assert [(lay.name, lay.type) for lay in lstm.net.weight_layers] == [
        ("lstm.W_ih", "MatMul"), ("lstm.W_hh", "LSTM"), ("head", "MatMul")]
    assert len(list((tmp_path / "seqs").glob("*.npy"))) == 8


def test_lstm_chained_on_eie(tmp_path, capsys):
    """An ONNX LSTM (the importer's W_ih MatMul + W_hh recurrent layer + a MatMul head):
    chained, W_hh h_{t-1} on EIE per step; the fixed point alone moves the outputs little."""
    from tests.compressor.test_onnx_exporters import vad_lstm
    m, _ = vad_lstm(T=6, N=1, I=6, H=8)
    src = save_onnx(m, tmp_path / "vad.onnx")
    d, xs = _inputs(tmp_path, (6, 1, 6), 3)
    dcmp = tmp_path / "vad.dcmp"
    assert compress_main(["import", str(src), "--out", str(dcmp), "--keep-mask", "--bits", "8",
                          "--calibration", str(d), "--quiet"]) == 0
    out = tmp_path / "sim"
    assert simulate_main(["--model", str(dcmp), "--float-model", str(src), "--input", str(d),
                          "--out", str(out), "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    names = [l["layer"] for l in s["first_input_layers"]]
    assert names == ["lstm.W_ih"] + [f"lstm.W_hh[t{t}]" for t in range(6)] + ["head"]
    outs, fouts = np.load(out / "outputs.npy"), np.load(out / "float_outputs.npy")
    assert outs.shape == fouts.shape == (3, 6, 1, 1)
    for r in s["inputs"]:
        assert r["fixed_point_relative_error"] < 0.02
        assert r["relative_error"] < 0.1
