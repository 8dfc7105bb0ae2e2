"""Exporter patterns, host-side ops and recurrent layers of the ONNX importer.

Each graph is built with onnx.helper the way an exporter writes it (Keras through tf2onnx:
NHWC transposes, SAME padding; jax2tf: shape arithmetic on constants, -inf paddings and
masks, If on a constant; torch.onnx: Gelu/SiLU patterns, Conv1d, Gather embeddings, LSTM
and GRU nodes). The imported graph's numpy forward pass is checked against the ONNX
reference evaluator and, for the recurrent layers, against the LSTM/GRU equations written
out independently here. No download."""
from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from compressor.errors import ModelImportError  # noqa: E402
from compressor.graph.forward import forward, layer_mxv  # noqa: E402
from compressor.graph.ops import host_work  # noqa: E402
from compressor.importers import as_quantized, net_from_json, net_to_json, read_onnx  # noqa: E402
from tests.compressor.byom_models import save_onnx  # noqa: E402


def _f(name, a, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(a, dtype=dtype), name)


def _i64(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.int64), name)


def _vi(name, shape, elem=TensorProto.FLOAT):
    """A value info; ``shape`` None: one symbolic dimension (the checker needs a shape;
    the reader does not read the outputs' shapes)."""
    if shape is None:
        shape = ["unk"]
    return helper.make_tensor_value_info(name, elem, shape)


def _build(nodes, inputs, outputs, inits, opset=17, name="g"):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="tests")
    m.ir_version = 8
    return m


def _reference(m, feeds):
    from onnx.reference import ReferenceEvaluator
    return [np.asarray(v) for v in ReferenceEvaluator(m).run(None, feeds)]


def _ours(imp, feeds, out_names):
    feeds = {k: imp.net.input_from_file_layout(k, v) for k, v in feeds.items()
             if k in imp.net.inputs}
    res = forward(imp.net, imp.weights, feeds)
    return [res.blobs[n] for n in out_names]


# ---------------------------------------------------------------- Keras / tf2onnx (NHWC)
def keras_cnn(seed=0):
    """tf2onnx's form of a small Keras CNN on NHWC images: Transpose after the input,
    Conv with auto_pad SAME_UPPER (stride 2: asymmetric), MaxPool SAME_UPPER, the
    Transpose back to NHWC before Reshape(-1, K) and MatMul + Add, Softmax."""
    rng = np.random.default_rng(seed)
    k = 6 * 3 * 3
    inits = [_f("conv_w", rng.normal(0, 0.3, (6, 3, 3, 3))), _f("conv_b", rng.normal(0, 0.1, 6)),
             _i64("shape", [-1, k]), _f("dense_w", rng.normal(0, 0.3, (k, 5))),
             _f("dense_b", rng.normal(0, 0.1, 5))]
    nodes = [
        helper.make_node("Transpose", ["input_1"], ["t0"], name="StatefulPartitionedCall/tr", perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["t0", "conv_w", "conv_b"], ["c1"], name="conv2d", kernel_shape=[3, 3],
                         strides=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="max_pooling2d", kernel_shape=[2, 2],
                         strides=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("Transpose", ["p1"], ["t1"], name="tr_back", perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["t1", "shape"], ["f"], name="flatten"),
        helper.make_node("MatMul", ["f", "dense_w"], ["d"], name="dense/MatMul"),
        helper.make_node("Add", ["d", "dense_b"], ["db"], name="dense/BiasAdd"),
        helper.make_node("Softmax", ["db"], ["probs"], name="softmax", axis=-1),
    ]
    return _build(nodes, [_vi("input_1", ["unk__6", 11, 11, 3])], [_vi("probs", ["unk__7", 5])],
                  inits, opset=13)


def test_keras_nhwc_transposes_fold_into_input_and_dense_weight(tmp_path):
    m = keras_cnn()
    imp = read_onnx(save_onnx(m, tmp_path / "k.onnx"))
    net = imp.net
    assert net.inputs == {"input_1": (1, 3, 11, 11)}
    assert net.input_layouts == {"input_1": (0, 3, 1, 2)}
    assert net.file_input_shape("input_1") == (1, 11, 11, 3)
    assert not [lay for lay in net.layers if lay.type in ("Transpose", "Gather")]
    assert net.layer("conv2d").conv.stride == (2, 2)
    assert any("column order" in f for f in imp.meta["folded"])
    x = np.random.default_rng(1).normal(size=(1, 11, 11, 3)).astype(np.float32)
    (ref,) = _reference(m, {"input_1": x})
    (ours,) = _ours(imp, {"input_1": x}, ["probs"])
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
    # stored as graph JSON and read back: the layout travels with it
    back = net_from_json(net_to_json(net))
    assert back.input_layouts == net.input_layouts


def test_transpose_that_cannot_fold_is_a_host_layer(tmp_path):
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[1, 1]),
             helper.make_node("Transpose", ["c"], ["t"], name="tr", perm=[0, 2, 3, 1]),
             helper.make_node("Sigmoid", ["t"], ["y"], name="sig")]
    m = _build(nodes, [_vi("x", [1, 2, 3, 4])], [_vi("y", [1, 3, 4, 5])],
               [_f("w", rng.normal(size=(5, 2, 1, 1)))])
    imp = read_onnx(save_onnx(m, tmp_path / "t.onnx"))
    assert [lay.type for lay in imp.net.layers] == ["Convolution", "Transpose", "Unary"]
    x = rng.normal(size=(1, 2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(_ours(imp, {"x": x}, ["y"])[0], _reference(m, {"x": x})[0],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("auto_pad, pads, stride", [
    ("SAME_UPPER", None, 2), ("SAME_LOWER", None, 2), ("VALID", None, 1), ("NOTSET", [0, 1, 2, 0], 1)])
def test_conv_and_pool_padding_forms(tmp_path, auto_pad, pads, stride):
    rng = np.random.default_rng(0)
    kw = {"auto_pad": auto_pad} if pads is None else {"pads": pads}
    # (onnx 1.x's reference MaxPool sizes SAME_LOWER outputs as floor, against the spec's
    # ceil(in / stride): the max pooling takes SAME_UPPER there)
    kw_max = {"auto_pad": "SAME_UPPER"} if auto_pad == "SAME_LOWER" else kw
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3],
                              strides=[stride, stride], **kw),
             helper.make_node("MaxPool", ["c"], ["p"], name="mp", kernel_shape=[3, 3], strides=[2, 2],
                              **kw_max),
             helper.make_node("AveragePool", ["p"], ["y"], name="ap", kernel_shape=[2, 2],
                              **({"auto_pad": auto_pad} if pads is None else {"pads": [1, 0, 0, 1]}))]
    m = _build(nodes, [_vi("x", [1, 2, 13, 12])], [_vi("y", None)],
               [_f("w", rng.normal(size=(4, 2, 3, 3)))])
    imp = read_onnx(save_onnx(m, tmp_path / "p.onnx"))
    x = rng.normal(size=(1, 2, 13, 12)).astype(np.float32)
    (ref,) = _reference(m, {"x": x})
    (ours,) = _ours(imp, {"x": x}, ["y"])
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------- jax2tf patterns
def jax_mlp():
    """jax2tf's habits: a symbolic leading size, shape arithmetic on constants (Shape,
    Gather, Concat, Cast, Equal, Expand), an If on a constant, a Max with a -inf mask
    and a -inf Pad before a MaxPool."""
    rng = np.random.default_rng(3)
    inits = [_f("w1", rng.normal(0, 0.4, (16, 8))), _f("b1", rng.normal(0, 0.1, 8)),
             _f("mask", np.where(np.arange(8) % 3 == 0, -np.inf, 0.5).astype(np.float32)),
             _i64("zero", 0), _i64("minus1", [-1]), _i64("sixteen", 16),
             _f("w2", rng.normal(0, 0.4, (8, 3))),
             _f("scale", np.float32(2.0))]
    then_g = helper.make_graph([helper.make_node("Mul", ["m", "scale"], ["then_out"], name="then_mul")],
                               "then", [], [_vi("then_out", None)])
    else_g = helper.make_graph([helper.make_node("Neg", ["m"], ["else_out"], name="else_neg")],
                               "else", [], [_vi("else_out", None)])
    nodes = [
        helper.make_node("Pad", ["x", "pads", "ninf"], ["xp"], name="pad", mode="constant"),
        helper.make_node("MaxPool", ["xp"], ["pool"], name="reduce_window", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Shape", ["pool"], ["shp"], name="shape"),
        helper.make_node("Gather", ["shp", "zero"], ["n"], name="take_n", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name="unsq"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["pool", "target"], ["flat"], name="reshape"),
        helper.make_node("MatMul", ["flat", "w1"], ["h"], name="dot_general"),
        helper.make_node("Add", ["h", "b1"], ["hb"], name="add"),
        helper.make_node("Max", ["hb", "mask"], ["m"], name="masked_max"),
        helper.make_node("Cast", ["sixteen"], ["sixteen_f"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("Equal", ["sixteen_f", "sixteen_f"], ["cond"], name="eq"),
        helper.make_node("If", ["cond"], ["branch"], name="cond", then_branch=then_g, else_branch=else_g),
        helper.make_node("Tanh", ["branch"], ["th"], name="tanh"),
        helper.make_node("MatMul", ["th", "w2"], ["y"], name="dot_out"),
    ]
    inits += [_i64("pads", [0, 0, 1, 1, 0, 0, 1, 1]), _f("ninf", np.float32(-np.inf)),
              _i64("axes0", [0])]
    return _build(nodes, [_vi("x", ["b", 1, 6, 6])], [_vi("y", ["b", 3])], inits, opset=13)


def test_jax_shape_arithmetic_inf_masks_and_constant_if(tmp_path):
    m = jax_mlp()
    imp = read_onnx(save_onnx(m, tmp_path / "j.onnx"))
    types = [lay.type for lay in imp.net.layers]
    assert "Pad" not in types                            # the -inf Pad went into the pool
    assert imp.net.layer("reduce_window").pool.pad_end == (1, 1)
    assert any("If) inlined: the then branch" in f for f in imp.meta["folded"])
    assert any("(Shape) evaluated" in f or "(Gather) evaluated" in f for f in imp.meta["folded"])
    x = np.random.default_rng(4).normal(size=(1, 1, 6, 6)).astype(np.float32)
    (ref,) = _reference(m, {"x": x})
    (ours,) = _ours(imp, {"x": x}, ["y"])
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


def test_symbolic_dimension_needs_input_shape(tmp_path):
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3])]
    m = _build(nodes, [_vi("x", [1, 3, "h", "w"])], [_vi("y", None)],
               [_f("w", rng.normal(size=(2, 3, 3, 3)))])
    path = save_onnx(m, tmp_path / "s.onnx")
    with pytest.raises(ModelImportError, match=r"dimension 2 is symbolic \(h\); give its size "
                                               r"with --input-shape x=1x3xNxN"):
        read_onnx(path)
    imp = read_onnx(path, input_shapes={"x": (1, 3, 9, 7)})
    assert imp.net.inputs["x"] == (1, 3, 9, 7)
    with pytest.raises(ModelImportError, match=r"names 'nope', the graph's inputs are \['x'\]"):
        read_onnx(path, input_shapes={"x": (1, 3, 9, 7), "nope": (1,)})


def test_every_problem_is_reported_together_unsupported_ops_first(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 4)).astype(np.float32)
    w[0, 0] = np.inf
    nodes = [helper.make_node("Gemm", ["x", "w"], ["a"], name="fc"),
             helper.make_node("Loop", ["", "", "a"], ["b"], name="loop1",
                              body=helper.make_graph([], "b", [], [])),
             helper.make_node("Relu", ["b"], ["c"], name="after_loop"),
             helper.make_node("NonMaxSuppression", ["x", "x"], ["d"], name="nms"),
             helper.make_node("Conv", ["x", "k"], ["e"], name="conv")]
    m = _build(nodes, [_vi("x", [1, 4]), _vi("s", [1, "t", 4])], [_vi("c", None), _vi("e", None)],
               [_f("w", w), _f("k", np.ones((2, 1, 1)))])
    with pytest.raises(ModelImportError) as info:
        read_onnx(save_onnx(m, tmp_path / "bad.onnx"))
    msg = str(info.value)
    lines = msg.splitlines()
    assert "5 problems (2 unsupported operation(s) first)" in lines[0]
    assert "operation Loop cannot be run" in lines[1] and "'loop1'" in lines[1]
    assert "operation NonMaxSuppression cannot be run" in lines[2]
    assert "dimension 1 is symbolic" in msg                     # the second input
    assert "node 'fc' (Gemm): weight 'w' contains infinity" in msg
    assert "node 'conv' (Conv): input 'x' of shape (1, 4)" in msg
    assert "after_loop" not in msg              # it only reads a failed node's output


# ------------------------------------------------------------------- torch.onnx patterns
def torch_seq_model():
    """torch.onnx's forms: Gather of an embedding table by token ids, MatMul on a 3-D
    tensor (a Linear on a sequence), the Erf form of GELU, SiLU as x * Sigmoid(x),
    HardSwish, HardSigmoid, ReduceMean, Softmax over the last axis, a Conv1d."""
    rng = np.random.default_rng(5)
    inits = [_f("emb.weight", rng.normal(0, 1, (11, 6))), _f("lin.weight_T", rng.normal(0, 0.4, (6, 8))),
             _f("lin.bias", rng.normal(0, 0.1, 8)), _f("sqrt2", np.float32(math.sqrt(2))),
             _f("one", np.float32(1.0)), _f("half", np.float32(0.5)),
             _f("conv1d.weight", rng.normal(0, 0.4, (4, 8, 3))), _f("conv1d.bias", rng.normal(0, 0.1, 4)),
             _i64("perm_axes", [1]), _f("three", np.float32(3.0))]
    nodes = [
        helper.make_node("Gather", ["emb.weight", "tokens"], ["e"], name="/emb/Gather"),
        helper.make_node("MatMul", ["e", "lin.weight_T"], ["l0"], name="/lin/MatMul"),
        helper.make_node("Add", ["lin.bias", "l0"], ["l"], name="/lin/Add"),
        helper.make_node("Div", ["l", "sqrt2"], ["g0"], name="/gelu/Div"),
        helper.make_node("Erf", ["g0"], ["g1"], name="/gelu/Erf"),
        helper.make_node("Add", ["g1", "one"], ["g2"], name="/gelu/Add"),
        helper.make_node("Mul", ["l", "g2"], ["g3"], name="/gelu/Mul"),
        helper.make_node("Mul", ["g3", "half"], ["g"], name="/gelu/Mul_1"),
        helper.make_node("Sigmoid", ["g"], ["s0"], name="/silu/Sigmoid"),
        helper.make_node("Mul", ["g", "s0"], ["s"], name="/silu/Mul"),
        helper.make_node("HardSwish", ["s"], ["hs"], name="/hs/HardSwish"),
        helper.make_node("HardSigmoid", ["hs"], ["hsg"], name="/hsg/HardSigmoid", alpha=1 / 6, beta=0.5),
        helper.make_node("Transpose", ["hsg"], ["ct"], name="/Transpose", perm=[0, 2, 1]),
        helper.make_node("Conv", ["ct", "conv1d.weight", "conv1d.bias"], ["cv"], name="/conv1d/Conv",
                         kernel_shape=[3], pads=[1, 1]),
        helper.make_node("Tanh", ["cv"], ["tv"], name="/Tanh"),
        helper.make_node("ReduceMean", ["tv"], ["pooled"], name="/ReduceMean", axes=[2], keepdims=0),
        helper.make_node("Softmax", ["pooled"], ["y"], name="/Softmax", axis=-1),
    ]
    return _build(nodes, [_vi("tokens", [1, 7], TensorProto.INT64)], [_vi("y", [1, 4])], inits, opset=14)


def test_torch_embedding_gelu_silu_conv1d_and_host_work(tmp_path):
    m = torch_seq_model()
    imp = read_onnx(save_onnx(m, tmp_path / "t.onnx"))
    net = imp.net
    kinds = {lay.name: lay.type for lay in net.weight_layers}
    assert kinds == {"emb": "Embed", "/lin/MatMul": "MatMul", "conv1d": "Convolution"}
    assert net.layer("conv1d").conv.kernel == (1, 3) and net.layer("conv1d").conv.pad == (0, 1)
    assert any("(Add) into /lin/MatMul" in f for f in imp.meta["folded"])
    tokens = np.array([[3, 0, 10, 5, 5, 1, 7]])
    (ref,) = _reference(m, {"tokens": tokens})
    (ours,) = _ours(imp, {"tokens": tokens.astype(np.float32)}, ["y"])
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
    # the GELU Erf chain and x * Sigmoid(x) are folded into one host function each
    unary = [(lay.name, lay.op) for lay in net.layers if lay.type == "Unary"]
    assert unary[:2] == [("/gelu/Mul_1", "gelu"), ("/silu/Mul", "silu")]
    assert any("GELU (Erf form)" in f for f in imp.meta["folded"])
    silu = net.layer("/silu/Mul")
    n = math.prod(silu.out_shapes[0])
    assert host_work(silu) == (n, 4 * n)
    assert host_work(net.layer("/hs/HardSwish")) == (n, 5 * n)
    assert host_work(net.layer("/lin/MatMul")) == (0, 0)
    assert imp.meta["host_flops"] == sum(host_work(lay)[1] for lay in net.layers)
    assert imp.meta["host_layers"] == len(net.layers) - 3


def test_embed_and_matmul_mxv_workloads_reproduce_the_forward(tmp_path):
    imp = read_onnx(save_onnx(torch_seq_model(), tmp_path / "t.onnx"))
    q = as_quantized(imp, 8)
    tokens = np.array([[3, 0, 10, 5, 5, 1, 7]], np.float32)
    res = forward(imp.net, q, {"tokens": tokens})
    for name in ("emb", "/lin/MatMul"):
        lay = imp.net.layer(name)
        wl = layer_mxv(lay, q, res.layer_inputs[name])
        assert wl.patches.shape[0] == 7
        np.testing.assert_allclose(wl.reference(), res.layer_outputs[name], rtol=1e-5, atol=1e-5)
    emb = layer_mxv(imp.net.layer("emb"), q, res.layer_inputs["emb"])
    assert np.all(np.count_nonzero(emb.patches, axis=1) == 1)     # one-hot: one column each


# ------------------------------------------------------------------------ recurrent
def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_lstm(x, W, R, B, h, c):
    """The ONNX LSTM equations (gates i, o, f, c), one direction, written out."""
    H = R.shape[-1]
    ys = []
    for t in range(x.shape[0]):
        g = x[t] @ W.T + h @ R.T + B[:4 * H] + B[4 * H:]
        i, o, f, cc = (g[:, k * H:(k + 1) * H] for k in range(4))
        c = _sig(f) * c + _sig(i) * np.tanh(cc)
        h = _sig(o) * np.tanh(c)
        ys.append(h)
    return np.stack(ys), h, c


def vad_lstm(T=5, N=1, I=6, H=4, seed=7):
    """A voice-activity-detector-like graph: an audio chunk (T, N, I) plus the recurrent
    state (h, c) as inputs, an LSTM, its last state as outputs, a Squeeze + MatMul +
    Sigmoid head on the sequence."""
    rng = np.random.default_rng(seed)
    inits = [_f("W", rng.normal(0, 0.4, (1, 4 * H, I))), _f("R", rng.normal(0, 0.4, (1, 4 * H, H))),
             _f("B", rng.normal(0, 0.2, (1, 8 * H))), _i64("ax1", [1]),
             _f("head", rng.normal(0, 0.5, (H, 1)))]
    nodes = [
        helper.make_node("LSTM", ["x", "W", "R", "B", "", "h0", "c0"], ["Y", "Yh", "Yc"],
                         name="lstm", hidden_size=H),
        helper.make_node("Squeeze", ["Y", "ax1"], ["Ys"], name="squeeze"),
        helper.make_node("MatMul", ["Ys", "head"], ["logit"], name="head"),
        helper.make_node("Sigmoid", ["logit"], ["prob"], name="prob"),
    ]
    m = _build(nodes, [_vi("x", [T, N, I]), _vi("h0", [1, N, H]), _vi("c0", [1, N, H])],
               [_vi("prob", None), _vi("Yh", None), _vi("Yc", None)], inits)
    return m, {k: numpy_helper.to_array(t) for k, t in zip(["W", "R", "B"], inits[:3])}


def test_onnx_lstm_runs_gate_matrices_as_mxv_with_host_gates(tmp_path):
    m, p = vad_lstm()
    imp = read_onnx(save_onnx(m, tmp_path / "vad.onnx"))
    net = imp.net
    assert list(net.inputs) == ["x", "h0", "c0"]
    assert [(lay.name, lay.type) for lay in net.weight_layers] == [
        ("lstm.W_ih", "MatMul"), ("lstm.W_hh", "LSTM"), ("head", "MatMul")]
    assert imp.weights["lstm.W_hh"][0].shape == (16, 4)
    rng = np.random.default_rng(8)
    feeds = {"x": rng.normal(size=(5, 1, 6)).astype(np.float32),
             "h0": rng.normal(size=(1, 1, 4)).astype(np.float32),
             "c0": rng.normal(size=(1, 1, 4)).astype(np.float32)}
    ref = _reference(m, feeds)
    ours = _ours(imp, feeds, ["prob", "Yh", "Yc"])
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    y, h, c = numpy_lstm(feeds["x"].astype(np.float64), p["W"][0], p["R"][0], p["B"][0],
                         feeds["h0"][0].astype(np.float64), feeds["c0"][0].astype(np.float64))
    np.testing.assert_allclose(ours[1][0], h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[2][0], c, rtol=1e-5, atol=1e-6)
    # the recurrent matrix's M x V: one per step, its input the previous hidden state
    q = as_quantized(imp, 8)
    res = forward(net, q, {k: v for k, v in feeds.items()})
    lay = net.layer("lstm.W_hh")
    wl = layer_mxv(lay, q, res.layer_inputs["lstm.W_hh"])
    assert wl.patches.shape == (5, 4)
    np.testing.assert_allclose(wl.patches[0], feeds["h0"][0, 0], rtol=1e-6)
    np.testing.assert_allclose(wl.patches[1:], res.layer_outputs["lstm.W_hh"][:-1, 0], rtol=1e-6)
    Wd, Rb = q.layer("lstm.W_hh").weights(), q.layer("lstm.W_hh").bias
    np.testing.assert_allclose(wl.reference().reshape(5, 16), wl.patches @ Wd.T + Rb, rtol=1e-5,
                               atol=1e-5)
    elems, flops = host_work(lay)
    assert flops == 5 * 1 * 4 * (4 + 3 * 3 + 2 * 1 + 4)
    back = net_from_json(net_to_json(net))           # several inputs, several tops
    assert list(back.inputs) == ["x", "h0", "c0"] and back.layer("lstm.W_hh").tops == lay.tops


def numpy_gru(x, W, R, B, h, reverse=False):
    """ONNX GRU (gates z, r, h; linear_before_reset=1), one direction, written out."""
    H = R.shape[-1]
    Wb, Rb = B[:3 * H], B[3 * H:]
    ys = [None] * x.shape[0]
    for t in (range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])):
        gx, gh = x[t] @ W.T + Wb, h @ R.T + Rb
        z = _sig(gx[:, :H] + gh[:, :H])
        r = _sig(gx[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1 - z) * n + z * h
        ys[t] = h
    return np.stack(ys), h


def test_onnx_bidirectional_gru(tmp_path):
    T, N, I, H = 4, 2, 3, 5
    rng = np.random.default_rng(9)
    W, R, B = (rng.normal(0, 0.5, s).astype(np.float32) for s in
               ((2, 3 * H, I), (2, 3 * H, H), (2, 6 * H)))
    nodes = [helper.make_node("GRU", ["x", "W", "R", "B"], ["Y", "Yh"], name="gru", hidden_size=H,
                              direction="bidirectional", linear_before_reset=1)]
    m = _build(nodes, [_vi("x", [T, N, I])], [_vi("Y", None), _vi("Yh", None)],
               [_f("W", W), _f("R", R), _f("B", B)])
    imp = read_onnx(save_onnx(m, tmp_path / "gru.onnx"))
    assert [lay.name for lay in imp.net.weight_layers] == [
        "gru.W_ih", "gru.W_hh", "gru.W_ih_reverse", "gru.W_hh_reverse"]
    x = rng.normal(size=(T, N, I)).astype(np.float32)
    ref = _reference(m, {"x": x})
    ours = _ours(imp, {"x": x}, ["Y", "Yh"])
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    yf, hf = numpy_gru(x.astype(np.float64), W[0], R[0], B[0], np.zeros((N, H)))
    yr, hr = numpy_gru(x.astype(np.float64), W[1], R[1], B[1], np.zeros((N, H)), reverse=True)
    np.testing.assert_allclose(ours[0][:, 0], yf, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[0][:, 1], yr, rtol=1e-5, atol=1e-6)


def test_gru_linear_before_reset_0_is_refused_with_the_reason(tmp_path):
    H = 2
    nodes = [helper.make_node("GRU", ["x", "W", "R"], ["Y"], name="gru0", hidden_size=H)]
    m = _build(nodes, [_vi("x", [3, 1, 2])], [_vi("Y", None)],
               [_f("W", np.ones((1, 6, 2))), _f("R", np.ones((1, 6, 2)))])
    with pytest.raises(ModelImportError, match=r"node 'gru0' \(GRU\): linear_before_reset=0"):
        read_onnx(save_onnx(m, tmp_path / "g.onnx"))


def test_input_value_fixes_a_sample_rate_input(tmp_path):
    """An input that only selects a branch (a sample rate) is fixed with input_values."""
    rng = np.random.default_rng(0)
    then_g = helper.make_graph([helper.make_node("Gemm", ["x", "w16"], ["o1"], name="g16")],
                               "t", [], [_vi("o1", None)])
    else_g = helper.make_graph([helper.make_node("Gemm", ["x", "w8"], ["o2"], name="g8")],
                               "e", [], [_vi("o2", None)])
    nodes = [helper.make_node("Equal", ["sr", "k16000"], ["is16"], name="eq"),
             helper.make_node("If", ["is16"], ["y"], name="branch", then_branch=then_g,
                              else_branch=else_g)]
    m = _build(nodes, [_vi("x", [1, 4]), _vi("sr", [], TensorProto.INT64)], [_vi("y", None)],
               [_f("w16", rng.normal(size=(4, 3))), _f("w8", rng.normal(size=(4, 2))),
                _i64("k16000", 16000)])
    path = save_onnx(m, tmp_path / "sr.onnx")
    with pytest.raises(ModelImportError, match=r"input 'sr' is an integer scalar .*give its value "
                                               r"with --input-value sr=VALUE"):
        read_onnx(path)
    imp = read_onnx(path, input_values={"sr": np.int64(8000)})
    assert list(imp.net.inputs) == ["x"] and imp.layer_names == ["g8"]
    assert imp.meta["input_values"] == {"sr": 8000}


def test_gelu_tanh_form_chain_and_gelu_op(tmp_path):
    """The tanh form of GELU as tf2onnx writes it (Pow, Mul, Add, Tanh...: host ops one by
    one) and opset 20's Gelu node (approximate="tanh" and "none")."""
    rng = np.random.default_rng(11)
    c = {"three": 3.0, "k": 0.044715, "s": math.sqrt(2 / math.pi), "one": 1.0, "half": 0.5}
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="dense"),
             helper.make_node("Pow", ["h", "three"], ["h3"], name="pow"),
             helper.make_node("Mul", ["h3", "k"], ["h3k"], name="mul_k"),
             helper.make_node("Add", ["h", "h3k"], ["inner"], name="add_inner"),
             helper.make_node("Mul", ["inner", "s"], ["arg"], name="mul_s"),
             helper.make_node("Tanh", ["arg"], ["t"], name="tanh"),
             helper.make_node("Add", ["t", "one"], ["t1"], name="add_one"),
             helper.make_node("Mul", ["h", "t1"], ["ht"], name="mul_x"),
             helper.make_node("Mul", ["ht", "half"], ["g"], name="mul_half"),
             helper.make_node("Gelu", ["g"], ["g2"], name="gelu_tanh", approximate="tanh"),
             helper.make_node("Gelu", ["g2"], ["y"], name="gelu_erf")]
    inits = [_f("w", rng.normal(0, 0.7, (6, 5)))] + [_f(k, np.float32(v)) for k, v in c.items()]
    m = _build(nodes, [_vi("x", [1, 6])], [_vi("y", [1, 5])], inits, opset=20)
    imp = read_onnx(save_onnx(m, tmp_path / "g.onnx"))
    ops = [lay.op for lay in imp.net.layers if lay.type == "Unary"]
    assert ops == ["tanh", "gelu_tanh", "gelu"]
    x = rng.normal(size=(1, 6)).astype(np.float32)
    np.testing.assert_allclose(_ours(imp, {"x": x}, ["y"])[0], _reference(m, {"x": x})[0],
                               rtol=1e-5, atol=1e-6)


def test_bidirectional_lstm_with_state_inputs_after_a_batch_first_transpose(tmp_path):
    """torch.onnx's batch_first LSTM: a Transpose to time-major before the node (a host
    Transpose here), the states (2, N, H) given as graph inputs and sliced per direction."""
    T, N, I, H = 3, 2, 4, 3
    rng = np.random.default_rng(12)
    W, R, B = (rng.normal(0, 0.5, s).astype(np.float32) for s in
               ((2, 4 * H, I), (2, 4 * H, H), (2, 8 * H)))
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], name="to_time_major", perm=[1, 0, 2]),
             helper.make_node("LSTM", ["xt", "W", "R", "B", "", "h0", "c0"], ["Y", "Yh", "Yc"],
                              name="lstm", hidden_size=H, direction="bidirectional")]
    m = _build(nodes, [_vi("x", [N, T, I]), _vi("h0", [2, N, H]), _vi("c0", [2, N, H])],
               [_vi("Y", None), _vi("Yh", None), _vi("Yc", None)],
               [_f("W", W), _f("R", R), _f("B", B)])
    imp = read_onnx(save_onnx(m, tmp_path / "bi.onnx"))
    assert imp.net.layer("lstm.W_hh_reverse").reverse
    feeds = {"x": rng.normal(size=(N, T, I)).astype(np.float32),
             "h0": rng.normal(size=(2, N, H)).astype(np.float32),
             "c0": rng.normal(size=(2, N, H)).astype(np.float32)}
    for a, b in zip(_ours(imp, feeds, ["Y", "Yh", "Yc"]), _reference(m, feeds)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_infinity_in_a_constant_that_is_not_a_mask_is_refused(tmp_path):
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"], name="fc", transB=1),
             helper.make_node("Add", ["h", "c"], ["y"], name="bad_add")]
    m = _build(nodes, [_vi("x", [1, 3])], [_vi("y", [1, 2])],
               [_f("w", np.ones((2, 3))), _f("c", [[np.inf, 0.0], [0.0, 0.0]])])
    with pytest.raises(ModelImportError, match=r"node 'bad_add' \(Add\): constant 'c' holds "
                                               r"infinity; allowed only in a Max or Min"):
        read_onnx(save_onnx(m, tmp_path / "inf.onnx"))


def test_more_host_ops_elu_selu_softsign_sum_mean_logsoftmax_and_constant_forms(tmp_path):
    rng = np.random.default_rng(13)
    nodes = [helper.make_node("Constant", [], ["k"], name="k", value_float=0.25),
             helper.make_node("Gemm", ["x", "w"], ["h"], name="fc", transB=1),
             helper.make_node("Elu", ["h"], ["e"], name="elu", alpha=0.7),
             helper.make_node("Selu", ["h"], ["s"], name="selu"),
             helper.make_node("Softsign", ["h"], ["ss"], name="softsign"),
             helper.make_node("Sum", ["e", "s"], ["sum"], name="sum"),
             helper.make_node("Mean", ["sum", "ss"], ["mean"], name="mean"),
             helper.make_node("Mul", ["mean", "k"], ["mk"], name="scale"),
             helper.make_node("LogSoftmax", ["mk"], ["y"], name="logsoftmax", axis=-1)]
    m = _build(nodes, [_vi("x", [2, 5])], [_vi("y", [2, 4])], [_f("w", rng.normal(size=(4, 5)))],
               opset=13)
    imp = read_onnx(save_onnx(m, tmp_path / "more.onnx"))
    x = rng.normal(size=(2, 5)).astype(np.float32)
    np.testing.assert_allclose(_ours(imp, {"x": x}, ["y"])[0], _reference(m, {"x": x})[0],
                               rtol=1e-5, atol=1e-6)


def test_where_with_a_constant_mask_and_minus_infinity_before_softmax(tmp_path):
    """An attention-style mask: Where(mask, scores, -inf) -> Softmax (jax2tf, torch.onnx)."""
    rng = np.random.default_rng(14)
    mask = np.tril(np.ones((4, 4), bool))
    nodes = [helper.make_node("MatMul", ["x", "w"], ["s"], name="scores"),
             helper.make_node("Where", ["mask", "s", "ninf"], ["m"], name="masked"),
             helper.make_node("Softmax", ["m"], ["y"], name="softmax", axis=-1)]
    m = _build(nodes, [_vi("x", [1, 4, 3])], [_vi("y", [1, 4, 4])],
               [_f("w", rng.normal(size=(3, 4))), numpy_helper.from_array(mask, "mask"),
                _f("ninf", np.float32(-np.inf))])
    imp = read_onnx(save_onnx(m, tmp_path / "w.onnx"))
    x = rng.normal(size=(1, 4, 3)).astype(np.float32)
    ours, ref = _ours(imp, {"x": x}, ["y"])[0], _reference(m, {"x": x})[0]
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-7)
    assert np.all(ours[0][~mask] == 0.0)
    nodes[2] = helper.make_node("Relu", ["m"], ["y"], name="relu")   # not a max: refused
    m2 = _build(nodes, [_vi("x", [1, 4, 3])], [_vi("y", [1, 4, 4])],
                [_f("w", rng.normal(size=(3, 4))), numpy_helper.from_array(mask, "mask"),
                 _f("ninf", np.float32(-np.inf))])
    with pytest.raises(ModelImportError, match=r"node 'masked' \(Where\): constant 'ninf' holds "
                                                r"infinity; as a mask it must feed only Softmax"):
        read_onnx(save_onnx(m2, tmp_path / "w2.onnx"))
