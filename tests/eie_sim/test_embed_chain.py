"""Embedding look-ups on EIE (issue 24): a text / file-type classifier that embeds integer
token ids (ONNX Gather of a constant table, or OneHot then MatMul) runs chained in fixed
point and per layer, its ids checked; ``--input-shape`` / ``--input-value`` (and the
``workload:`` keys) reach the importer when eie-simulate reads an ONNX file directly."""
from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from compressor.graph.forward import default_inputs, forward, forward_layer, token_inputs  # noqa: E402
from compressor.importers import as_quantized, read_onnx  # noqa: E402
from eie_sim.arch.config import ArchConfig  # noqa: E402
from eie_sim.arch.fixed_point import quantize, round_product, saturate, to_float  # noqa: E402
from eie_sim.arch.workload_spec import parse_workload  # noqa: E402
from eie_sim.cli.simulate import simulate_main  # noqa: E402
from eie_sim.errors import ConfigError, WorkloadError  # noqa: E402
from eie_sim.sim.chain import EieChain  # noqa: E402
from eie_sim.sim.formats import calibrate_formats  # noqa: E402
from eie_sim.workloads.graph import graph_input  # noqa: E402
from tests.compressor.byom_models import save_onnx  # noqa: E402

V, E, C, T = 13, 8, 4, 6


def text_classifier(kind: str = "gather", time_dim: int | str = T, seed: int = 3):
    """Token ids ``(batch, T)`` -> embedding table ``(V, E)`` (``Gather`` as torch.onnx
    exports nn.Embedding, or ``OneHot`` then ``MatMul`` as jax2tf exports a one-hot
    embedding) -> mean over the tokens -> a dense head (MatMul + Add) -> ``(1, C)``.
    ``time_dim`` a string: a symbolic sequence length (and batch)."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.normal(0, 1, (V, E)).astype(np.float32), "table"),
             numpy_helper.from_array(rng.normal(0, 0.5, (E, C)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(0, 0.1, C).astype(np.float32), "b"),
             numpy_helper.from_array(np.array([1], np.int64), "ax")]
    if kind == "gather":
        nodes = [helper.make_node("Gather", ["table", "tokens"], ["e"], name="embed")]
    else:
        inits += [numpy_helper.from_array(np.array(V, np.int64), "depth"),
                  numpy_helper.from_array(np.array([0.0, 1.0], np.float32), "vals")]
        nodes = [helper.make_node("OneHot", ["tokens", "depth", "vals"], ["oh"], name="onehot",
                                  axis=-1),
                 helper.make_node("MatMul", ["oh", "table"], ["e"], name="embed")]
    nodes += [helper.make_node("ReduceMean", ["e", "ax"], ["m"], name="mean", keepdims=0),
              helper.make_node("MatMul", ["m", "w"], ["l0"], name="head"),
              helper.make_node("Add", ["l0", "b"], ["y"], name="head_add")]
    shape = ["batch", time_dim] if isinstance(time_dim, str) else [1, time_dim]
    g = helper.make_graph(nodes, "text", [helper.make_tensor_value_info("tokens", TensorProto.INT64, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, C])],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)], producer_name="tests")
    m.ir_version = 8
    return m


def _numpy_fixed_point(net, model, ids, formats, word):
    """The graph in EIE's fixed point, dense numpy: the Embed as ``table^T`` times a
    one-hot vector per id (input 1.0 quantized, each product rounded to the output format,
    bias added, saturated), the host layers by their float forward, the MatMul head per
    row as the MLP reference of test_model_chain."""
    blobs = {"tokens": np.asarray(ids, np.float32)}
    for lay in net.layers:
        if lay.type == "Input":
            continue
        ins = [blobs[b] for b in lay.bottoms]
        if lay.type in ("Embed", "InnerProduct"):
            f = formats[lay.name]
            q = model.layer(lay.name)
            cbq, _ = quantize(q.codebook, f["weight_frac_bits"], word)
            w = cbq[q.codes]                                   # (out, in)
            if lay.type == "Embed":
                idx = ins[0].reshape(-1).astype(np.int64) % w.shape[1]
                rows = np.zeros((idx.size, w.shape[1]))
                rows[np.arange(idx.size), idx] = 1.0
            else:
                rows = ins[0].reshape(-1, ins[0].shape[-1]).astype(np.float64)
            xq, _ = quantize(rows, f["act_frac_bits"], word)
            shift = f["act_frac_bits"] + f["weight_frac_bits"] - f["out_frac_bits"]
            acc = round_product(w[None, :, :] * xq[:, None, :], shift).sum(axis=2)
            if q.bias is not None:
                acc = acc + quantize(q.bias, f["out_frac_bits"], word)[0]
            acc, _ = saturate(acc, word)
            y = to_float(acc, f["out_frac_bits"]).astype(np.float32).reshape(lay.out_shapes[0])
        else:
            y = forward_layer(lay, ins, model)
        blobs[lay.tops[0]] = y
    return blobs[net.layers[-1].tops[0]]


@pytest.mark.parametrize("kind", ["gather", "onehot"])
def test_embed_runs_chained_bit_exact_against_numpy_fixed_point(tmp_path, kind):
    src = save_onnx(text_classifier(kind), tmp_path / f"{kind}.onnx")
    d = tmp_path / "ids"
    d.mkdir()
    ids = [np.array([[0, 3, 12, 5, 5, 1]], np.int64), np.array([[7, 7, 2, 11, 0, 9]], np.int32),
           np.array([[-1, 4, 6, 8, 10, 12]], np.int64)]      # -1: the last row, as Gather
    for i, a in enumerate(ids):
        np.save(d / f"t{i}.npy", a)
    out = tmp_path / "sim"
    assert simulate_main(["--model", str(src), "--input", str(d), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "chained"
    outs = np.load(out / "outputs.npy")
    assert outs.shape == (3, C)
    imp = read_onnx(src)
    assert [(lay.name, lay.type) for lay in imp.net.weight_layers] == [("embed", "Embed"),
                                                                       ("head", "InnerProduct")]
    model = as_quantized(imp, summary["effective_arch"]["weight_bits"], 0)
    formats = {r["layer"]: r for r in summary["formats"]}
    assert formats["embed"]["act_frac_bits"] >= 8      # a one-hot input (1.0), not the ids' range
    word = summary["effective_arch"]["word_bits"]
    for i, a in enumerate(ids):
        np.testing.assert_array_equal(outs[i], _numpy_fixed_point(imp.net, model, a, formats, word)[0])


def test_embed_outputs_are_the_gathered_rows_within_the_fixed_point_bound(tmp_path):
    imp = read_onnx(save_onnx(text_classifier(), tmp_path / "t.onnx"))
    q = as_quantized(imp, 6, 0)
    ids = np.array([[0, 3, 12, 5, 5, 1]], np.float32)
    cfg = ArchConfig(weight_bits=6)
    formats, _ = calibrate_formats(imp.net, q, [ids], cfg)
    run = EieChain(imp.net, q, cfg, formats).run(ids)
    emb = next(r for r in run.layers if r.name == "embed")
    # one one-hot vector per id: exactly one non-zero activation each (the LNZD skips V - 1)
    assert emb.simulated == T and np.all(emb.input_nonzeros_pos == 1)
    err = next(e for e in run.errors if e.name == "embed")
    gathered = q.layer("embed").weights().T[ids.astype(np.int64)]      # the float look-up
    fwd = forward(imp.net, q, ids)
    np.testing.assert_allclose(fwd.layer_outputs["embed"], gathered, rtol=0, atol=0)
    f = formats["embed"]
    assert np.isfinite(err.bound)
    assert err.bound <= 2.0 ** -(f.out_frac_bits + 1) + 2.0 ** -(f.weight_frac_bits + 1) + 1e-12
    assert 0 < err.max_abs <= err.bound


def test_token_ids_default_input_and_checks(tmp_path):
    imp = read_onnx(save_onnx(text_classifier("onehot"), tmp_path / "t.onnx"))
    net = imp.net
    assert token_inputs(net) == {"tokens": V}
    x = graph_input(net, seed=4, act_density=0.5)
    assert x.shape == (1, T) and np.all(x == np.round(x)) and x.min() >= 0 and x.max() < V
    np.testing.assert_array_equal(x, graph_input(net, seed=4, act_density=0.5))   # seeded
    np.testing.assert_array_equal(default_inputs(net, 4)["tokens"], x)
    np.testing.assert_array_equal(graph_input(net, 0, 0.5, np.arange(T)), np.arange(T)[None])
    with pytest.raises(WorkloadError, match=r"token id 13 is out of range: the table has 13 "
                                            r"rows, valid ids are 0\.\.12"):
        graph_input(net, 0, 0.5, np.array([0, 1, 2, 13, 4, 5]), "ids.npy")
    with pytest.raises(WorkloadError, match=r"ids.npy: token ids must be integers, got 2\.5"):
        graph_input(net, 0, 0.5, np.array([0, 1, 2.5, 3, 4, 5]), "ids.npy")


def test_user_ids_are_checked_and_per_layer_mode_runs_embed(tmp_path, capsys):
    src = save_onnx(text_classifier(), tmp_path / "t.onnx")
    bad = tmp_path / "bad.npy"
    np.save(bad, np.array([[0, 1, 2, 13, 4, 5]], np.int64))
    out = tmp_path / "sim"
    assert simulate_main(["--model", str(src), "--input", str(bad), "--out", str(out), "--quiet"]) == 2
    assert "token id 13 is out of range" in capsys.readouterr().err and not out.exists()
    assert simulate_main(["--model", str(src), "--input", str(bad), "--mode", "per-layer",
                          "--quiet"]) == 2
    assert "valid ids are 0..12" in capsys.readouterr().err
    good = tmp_path / "ids.npy"
    np.save(good, np.array([[0, 1, 2, 12, 4, 5]], np.int64))
    assert simulate_main(["--model", str(src), "--input", str(good), "--mode", "per-layer",
                          "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    rows = {r["layer"]: r for r in summary["layers"]}
    assert rows["embed"]["positions_simulated"] == T      # one one-hot vector per token
    # no --input: seeded valid ids, chained
    assert simulate_main(["--model", str(src), "--quiet"]) == 0


def test_input_shape_for_a_symbolic_sequence_length(tmp_path, capsys):
    src = save_onnx(text_classifier(time_dim="T"), tmp_path / "sym.onnx")
    assert simulate_main(["--model", str(src), "--quiet"]) == 2
    assert "dimension 1 is symbolic (T)" in capsys.readouterr().err
    ids = tmp_path / "ids.npy"
    np.save(ids, np.array([[1, 2, 3, 4, 5, 6, 7, 8, 9]], np.int64))
    out = tmp_path / "sim"
    assert simulate_main(["--model", str(src), "--input-shape", "tokens=1x9", "--input", str(ids),
                          "--out", str(out), "--quiet"]) == 0
    assert np.load(out / "outputs.npy").shape == (1, C)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["input_shape"] == [1, 9]
    # the same through the workload: block, and the bundle's config.yaml runs again
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"workload:\n  model: {src}\n  input_shape: {{tokens: 1x9}}\n"
                   f"  input: {ids}\n")
    assert simulate_main(["--config", str(cfg), "--quiet"]) == 0
    assert simulate_main(["--config", str(out / "config.yaml"), "--quiet"]) == 0
    cfg.write_text(f"workload:\n  model: {src}\n  input_shape: {{tokens: 1x0}}\n")
    assert simulate_main(["--config", str(cfg), "--quiet"]) == 2
    assert "workload.input_shape.tokens: 1 to 8 sizes, each 1.." in capsys.readouterr().err
    # a wrong rank is the importer's refusal, naming the input
    assert simulate_main(["--model", str(src), "--input-shape", "tokens=9", "--quiet"]) == 2
    assert "has 1 dimensions, the input has 2" in capsys.readouterr().err


def test_input_value_fixes_an_input_at_import(tmp_path, capsys):
    rng = np.random.default_rng(0)
    vi = helper.make_tensor_value_info
    then_g = helper.make_graph([helper.make_node("Gemm", ["x", "w16"], ["o1"], name="g16")],
                               "t", [], [vi("o1", TensorProto.FLOAT, ["u"])])
    else_g = helper.make_graph([helper.make_node("Gemm", ["x", "w8"], ["o2"], name="g8")],
                               "e", [], [vi("o2", TensorProto.FLOAT, ["u"])])
    nodes = [helper.make_node("Equal", ["sr", "k16000"], ["is16"], name="eq"),
             helper.make_node("If", ["is16"], ["y"], name="branch", then_branch=then_g,
                              else_branch=else_g)]
    g = helper.make_graph(nodes, "sr", [vi("x", TensorProto.FLOAT, ["batch", 4]),
                                        vi("sr", TensorProto.INT64, [])],
                          [vi("y", TensorProto.FLOAT, ["u"])],
                          initializer=[numpy_helper.from_array(rng.normal(size=(4, 3)).astype(np.float32), "w16"),
                                       numpy_helper.from_array(rng.normal(size=(4, 2)).astype(np.float32), "w8"),
                                       numpy_helper.from_array(np.array(16000, np.int64), "k16000")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    src = save_onnx(m, tmp_path / "sr.onnx")
    assert simulate_main(["--model", str(src), "--quiet"]) == 2
    assert "--input-value sr=VALUE" in capsys.readouterr().err
    for sr, width in (("16000", 3), ("8000", 2)):
        out = tmp_path / f"sim{sr}"
        assert simulate_main(["--model", str(src), "--input-value", f"sr={sr}",
                              "--input-shape", "x=1x4", "--out", str(out), "--quiet"]) == 0
        assert np.load(out / "outputs.npy").shape == (1, width)
    # only for a file imported for the run
    npz = tmp_path / "m.npz"
    np.savez(npz, fc=rng.normal(size=(3, 4)).astype(np.float32))
    assert simulate_main(["--model", str(npz), "--input-shape", "x=1x4", "--quiet"]) == 2
    assert "apply when an .onnx or .safetensors file is imported" in capsys.readouterr().err
    assert simulate_main(["--npz", str(npz), "--input-shape", "x=1x4", "--quiet"]) == 2
    assert "--input-shape applies to --model" in capsys.readouterr().err


def test_workload_spec_input_shape_and_value_forms():
    s = parse_workload({"model": "m.onnx", "input_shape": {"tokens": "1x9", "state": [2, 1, 64]},
                        "input_value": {"sr": 16000, "v": [1, 2.5]}})
    assert s.input_shape == (("tokens", (1, 9)), ("state", (2, 1, 64)))
    assert s.input_value == (("sr", 16000), ("v", (1, 2.5)))
    assert s.import_args() == ({"tokens": (1, 9), "state": (2, 1, 64)}, {"sr": 16000, "v": [1, 2.5]})
    s2 = parse_workload({"model": "m.onnx", "input_shape": ["tokens=1x9"], "input_value": ["sr=8000",
                                                                                          "v=1,2"]})
    assert s2.input_shape == (("tokens", (1, 9)),) and s2.input_value == (("sr", 8000), ("v", (1, 2)))
    for block, msg in [
        ({"model": "m.onnx", "input_shape": {"tokens": "1xN"}}, r"workload\.input_shape\.tokens: expected sizes"),
        ({"model": "m.onnx", "input_shape": ["tokens"]}, r"workload\.input_shape: expected NAME=VALUE"),
        ({"model": "m.onnx", "input_shape": ["a=1", "a=2"]}, r"workload\.input_shape: input 'a' given twice"),
        ({"model": "m.onnx", "input_value": {"sr": "fast"}}, r"workload\.input_value\.sr: expected a finite number"),
        ({"model": "m.onnx", "input_value": 3}, r"workload\.input_value: expected input name"),
        ({"npz": "m.npz", "input_shape": {"x": "1x4"}}, r"workload\.input_shape: applies to model workloads only"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            parse_workload(block)
