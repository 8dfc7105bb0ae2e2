"""Bring your own model, end to end (issue 15; docs/byom.md): ONNX and safetensors files
built here -> eie-compress import -> .dcmp -> eie-simulate --model, and decode -> simulate.

The simulator checks every output against numpy on every run (bit-exact integer
reference, float within the fixed-point bound; for a model run through its graph also
against the forward pass's own output of each layer: ``map_check``) and exits 1 when a
check fails, so exit 0 and the recorded errors are the check."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("safetensors")

from compressor.cli import main as compress_main  # noqa: E402
from compressor.fileformat import load  # noqa: E402
from compressor.fileformat import save as save_dcmp  # noqa: E402
from compressor.model import QuantizedLayer, QuantizedModel  # noqa: E402
from eie_sim.arch.config import ArchConfig  # noqa: E402
from eie_sim.cli.simulate import simulate_main  # noqa: E402
from eie_sim.workloads.files import from_block  # noqa: E402
from eie_sim.workloads.graph import NetWorkload  # noqa: E402
from tests.compressor.byom_models import onnx_cnn, onnx_mlp, safetensors_mlp, save_onnx  # noqa: E402


def _per_layer(args) -> list[str]:
    """These tests check the per-layer runs (layer tables, positions): a --model run gets
    --mode per-layer (the default, chained, is tested in tests/eie_sim/test_model_chain.py)."""
    args = [*map(str, args)]
    return args + ["--mode", "per-layer"] if "--model" in args else args


def _simulate(tmp_path, tag, *args):
    """A run with a results bundle: its layers.csv rows and summary.json."""
    out = tmp_path / f"sim_{tag}"
    rc = simulate_main([*_per_layer(args), "--out", str(out), "--quiet"])
    assert rc == 0
    rows = list(csv.DictReader(open(out / "layers.csv")))
    summary = json.loads((out / "summary.json").read_text())
    for r in rows:                       # the run's own numpy check, as recorded
        assert float(r["max_error"]) <= float(r["max_error_bound"])
    return rows, summary


def _table(capsys, *args):
    """A run without a bundle (faster): exit 0 (every check passed) and the printed
    table's rows as dicts."""
    capsys.readouterr()
    assert simulate_main([*_per_layer(args), "--quiet"]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(head, (c.strip() for c in l.strip("|").split("|")))) for l in lines[2:]]


def _compress(*args):
    assert compress_main(["import", *map(str, args), "--quiet"]) == 0


def test_onnx_mlp_compress_then_simulate(tmp_path, capsys):
    src = save_onnx(onnx_mlp(), tmp_path / "mlp.onnx")
    _compress(src, "--out", tmp_path / "mlp.dcmp")
    model = load(tmp_path / "mlp.dcmp")
    assert [l.name for l in model.layers] == ["fc1", "fc2", "fc3"]
    assert {l.bits for l in model.layers} == {4}           # the one default: EIE's 4 bits
    assert model.meta["source_format"] == "onnx" and model.meta["graph"]["name"] == "mlp"
    rows = _table(capsys, "--model", tmp_path / "mlp.dcmp")
    assert [r["layer"] for r in rows] == ["fc1", "fc2", "fc3"]
    wl = from_block({"model": str(tmp_path / "mlp.dcmp"), "mode": "per-layer"}, ArchConfig(),
                    graphs=True)
    assert wl.network is True                               # fc layers chained in fixed point
    wl = from_block({"model": str(tmp_path / "mlp.dcmp")}, ArchConfig(), graphs=True)
    assert isinstance(wl, NetWorkload) and wl.mode == "chained"     # the default: its graph


def test_onnx_cnn_compress_then_simulate_runs_conv_per_position(tmp_path, capsys):
    src = save_onnx(onnx_cnn(), tmp_path / "cnn.onnx")
    _compress(src, "--out", tmp_path / "cnn.dcmp")
    rows, summary = _simulate(tmp_path, "cnn", "--model", tmp_path / "cnn.dcmp")
    by = {r["layer"]: r for r in rows}
    assert list(by) == ["conv1", "conv2", "fc"]
    assert int(by["conv1"]["positions"]) == 100 and int(by["conv2"]["positions"]) == 9
    assert int(by["fc"]["positions"]) == 1
    assert by["conv1"]["kernel"] == "3x3" and by["conv1"]["out_map"] == "10x10"
    for r in rows:                       # checked against the graph's forward pass too
        assert r["map_check"] != ""
    assert summary["workload"]["graph"]["input_shape"] == [1, 3, 10, 10]
    # the dense ONNX file runs directly as well (quantized to 4 bits for the run)
    rows2 = _table(capsys, "--model", src)
    assert [r["layer"] for r in rows2] == ["conv1", "conv2", "fc"]


def test_safetensors_keep_mask_compress_then_simulate(tmp_path, capsys):
    arrays = safetensors_mlp(tmp_path / "m.safetensors")
    _compress(tmp_path / "m.safetensors", "--out", tmp_path / "m.dcmp", "--keep-mask")
    model = load(tmp_path / "m.dcmp")
    fc1 = model.layer("fc1")
    # --keep-mask: exactly the input's non-zeros survive (no re-pruning)
    np.testing.assert_array_equal(fc1.codes != 0, arrays["fc1.weight"] != 0)
    assert model.layer("fc10").density == 1.0
    rows = _table(capsys, "--model", tmp_path / "m.dcmp")
    assert [r["layer"] for r in rows] == ["fc1", "fc2", "fc10"]
    # without --keep-mask the default rule (--quality 1.0) prunes further
    _compress(tmp_path / "m.safetensors", "--out", tmp_path / "q.dcmp")
    assert load(tmp_path / "q.dcmp").layer("fc1").nnz < fc1.nnz
    assert compress_main(["import", str(tmp_path / "m.safetensors"), "--out",
                          str(tmp_path / "z.dcmp"), "--keep-mask", "--quality", "1"]) == 2


def test_decode_then_simulate_round_trip(tmp_path, capsys):
    src = save_onnx(onnx_mlp(), tmp_path / "mlp.onnx")
    _compress(src, "--out", tmp_path / "mlp.dcmp")
    assert compress_main(["decode", str(tmp_path / "mlp.dcmp"), "--out", str(tmp_path / "d.npz")]) == 0
    cfg = ArchConfig()
    a = from_block({"model": str(tmp_path / "mlp.dcmp")}, cfg, seed=0)
    b = from_block({"npz": str(tmp_path / "d.npz")}, cfg, seed=0)
    for la, lb in zip(a.layers, b.layers, strict=True):    # the very same weights run
        assert la.name == lb.name
        np.testing.assert_array_equal(la.codebook[la.codes.dense()], lb.codebook[lb.codes.dense()])
        np.testing.assert_array_equal(la.bias, lb.bias)
    rows_m = _table(capsys, "--model", tmp_path / "mlp.dcmp")
    rows_n = _table(capsys, "--npz", tmp_path / "d.npz")
    assert [r["cycles"] for r in rows_m] == [r["cycles"] for r in rows_n]
    # the decoded .npz compresses again (same convention for every tool)
    assert compress_main(["npz", str(tmp_path / "d.npz"), "--out", str(tmp_path / "again.dcmp"),
                          "--keep-mask", "--quiet"]) == 0


def test_decode_then_simulate_round_trip_runs_the_convolutions(tmp_path, capsys):
    """decode writes the .dcmp's graph under __graph__, so the dense .npz of a CNN runs its
    convolutions through the graph, with the very cycles of the .dcmp."""
    src = save_onnx(onnx_cnn(), tmp_path / "cnn.onnx")
    _compress(src, "--out", tmp_path / "cnn.dcmp")
    capsys.readouterr()
    assert compress_main(["decode", str(tmp_path / "cnn.dcmp"), "--out", str(tmp_path / "d.npz")]) == 0
    assert "graph 'cnn' under '__graph__'" in capsys.readouterr().out
    with np.load(tmp_path / "d.npz") as z:           # numpy reads it without pickles
        assert json.loads(str(z["__graph__"]))["name"] == "cnn"
    rows_m = _table(capsys, "--model", tmp_path / "cnn.dcmp")
    rows_n = _table(capsys, "--model", tmp_path / "d.npz")
    assert [r["layer"] for r in rows_n] == ["conv1", "conv2", "fc"]
    assert [r["cycles"] for r in rows_m] == [r["cycles"] for r in rows_n]
    assert [r["layer"] for r in _table(capsys, "--npz", tmp_path / "d.npz")] == ["conv1", "conv2", "fc"]


def test_conv_model_without_graph_is_refused_not_skipped(tmp_path, capsys):
    src = save_onnx(onnx_cnn(), tmp_path / "cnn.onnx")
    _compress(src, "--out", tmp_path / "cnn.dcmp")
    assert compress_main(["decode", str(tmp_path / "cnn.dcmp"), "--out", str(tmp_path / "g.npz")]) == 0
    with np.load(tmp_path / "g.npz") as z:           # the same weights without their graph
        np.savez(tmp_path / "d.npz", **{k: z[k] for k in z.files if k != "__graph__"})
    capsys.readouterr()
    assert simulate_main(["--npz", str(tmp_path / "d.npz"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "conv1, conv2 are convolutions and the file holds no graph" in err
    # its fully-connected layer alone may be picked
    assert simulate_main(["--model", str(tmp_path / "d.npz"), "--layers", "fc", "--quiet"]) == 0


def test_npz_default_bits_simulate_first_try(tmp_path, capsys):
    rng = np.random.default_rng(4)
    np.savez(tmp_path / "w.npz", a=rng.normal(size=(16, 12)).astype(np.float32),
             **{"a.bias": rng.normal(size=16).astype(np.float32)},
             b=rng.normal(size=(6, 16)).astype(np.float32))
    assert compress_main(["npz", str(tmp_path / "w.npz"), "--out", str(tmp_path / "w.dcmp"),
                          "--quiet"]) == 0
    assert {l.bits for l in load(tmp_path / "w.dcmp").layers} == {4}
    rows = _table(capsys, "--model", tmp_path / "w.dcmp")
    assert [r["layer"] for r in rows] == ["a", "b"]


def test_lenet5_dcmp_runs_its_convolutions_through_the_known_graph(tmp_path, capsys):
    rng = np.random.default_rng(0)
    layers = []
    for name, shape in (("conv1", (20, 1, 5, 5)), ("conv2", (50, 20, 5, 5)), ("ip1", (500, 800)),
                        ("ip2", (10, 500))):
        codes = rng.integers(1, 16, size=shape) * (rng.random(shape) < 0.1)
        cb = np.concatenate([[0.0], np.linspace(-0.3, 0.3, 15)])
        layers.append(QuantizedLayer(name, "fc" if len(shape) == 2 else "conv", codes, cb,
                                     rng.normal(size=shape[0]) * 0.05, 4, 5))
    save_dcmp(QuantizedModel(layers, {"model": "lenet5"}), tmp_path / "l5.dcmp")
    wl = from_block({"model": str(tmp_path / "l5.dcmp")}, ArchConfig(), seed=0, graphs=True)
    assert isinstance(wl, NetWorkload)
    from compressor.graph import eie_relu, layer_mxv
    from compressor.graph.forward import forward
    fwd = forward(wl.net, wl.weights, wl.x)
    assert {n: layer_mxv(wl.net.layer(n), wl.weights, fwd.layer_inputs[n]).patches.shape
            for n in wl.layer_names()} == {
        "conv1": (576, 25), "conv2": (64, 500), "ip1": (1, 800), "ip2": (1, 500)}
    assert {n: eie_relu(wl.net, wl.net.layer(n)).on_eie for n in wl.layer_names()} == {
        "conv1": False, "conv2": False, "ip1": True, "ip2": False}
    rows = _table(capsys, "--model", tmp_path / "l5.dcmp", "--layers", "conv2,ip1")
    assert [r["layer"] for r in rows] == ["conv2", "ip1"]


def test_wider_codes_raise_weight_bits_unless_the_user_set_it(tmp_path, capsys):
    """A .dcmp with 5-bit codes (eie-compress train's LeNet fc layers) runs with the
    defaults: weight_bits follows the file and the run says so; a weight_bits the user set
    is kept, and the file is then refused naming the layer."""
    rng = np.random.default_rng(1)
    codes = rng.integers(1, 32, size=(24, 40)) * (rng.random((24, 40)) < 0.2)
    cb = np.concatenate([[0.0], np.linspace(-0.5, 0.5, 31)])
    save_dcmp(QuantizedModel([QuantizedLayer("fc", "fc", codes, cb, None, 5, 4)]),
              tmp_path / "w5.dcmp")
    capsys.readouterr()
    assert simulate_main(["--model", str(tmp_path / "w5.dcmp")]) == 0
    assert "weight_bits 4 -> 5" in capsys.readouterr().out
    assert simulate_main(["--model", str(tmp_path / "w5.dcmp"), "--set", "weight_bits=4",
                          "--quiet"]) == 2
    assert "layer 'fc'" in capsys.readouterr().err


def test_docs_byom_python_blocks_run(tmp_path, monkeypatch):
    """docs/byom.md's Python examples run as written (on a CNN built here)."""
    from tests.docblocks import python_blocks, run_blocks
    monkeypatch.chdir(tmp_path)
    save_onnx(onnx_cnn(), tmp_path / "cnn.onnx")
    run_blocks(python_blocks("byom.md", "safetensors"), "byom safetensors")
    ns = run_blocks(python_blocks("byom.md", "In Python"), "byom in Python")
    assert (tmp_path / "cnn.safetensors").exists() and (tmp_path / "cnn.dcmp").exists()
    assert ns["m"].meta["folded"] and load(tmp_path / "cnn.dcmp").meta["graph"]["name"] == "cnn"


def test_graph_run_too_large_is_refused_before_any_work():
    from compressor.graph.builder import NetBuilder
    from eie_sim.errors import WorkloadError
    from eie_sim.sim.runner import NetSource, run_net
    b = NetBuilder("big", (1, 64, 1024, 1024))
    b.conv("c", b.input, 1, kernel=3, pad=1)
    layer = QuantizedLayer("c", "conv", np.ones((1, 64, 3, 3), np.uint8), np.r_[0.0, 1.0], None, 1, 4)
    x = np.broadcast_to(np.float32(0), (1, 64, 1024, 1024))     # refused before it is read
    with pytest.raises(WorkloadError, match=r"unrolls 603,979,776 input values .* more than the limit"):
        run_net(b.build(), QuantizedModel([layer]), x, ArchConfig(),
                about=NetSource(source={"path": "big"}))
