"""compressor.importers: ONNX and safetensors readers, the graph JSON, exact codebooks.

ONNX graphs are built with onnx.helper; the ONNX reference evaluator (part of the onnx
package) is the oracle of the forward pass of what the reader built. No download."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("safetensors")

from onnx import TensorProto, helper  # noqa: E402

from compressor.errors import ModelImportError, WeightsError  # noqa: E402
from compressor.graph.forward import forward  # noqa: E402
from compressor.importers import (  # noqa: E402
    as_quantized,
    exact_codebook,
    load_model,
    net_from_json,
    net_to_json,
    read_onnx,
)
from compressor.importers.known import known_graph  # noqa: E402
from compressor.importers.safetensors_reader import natural_key  # noqa: E402
from tests.compressor.byom_models import (  # noqa: E402
    _init,
    _model,
    onnx_cnn,
    onnx_mlp,
    onnx_reference,
    safetensors_mlp,
    save_onnx,
)


def _ours(imp, x):
    res = forward(imp.net, imp.weights, x)
    return res.blobs[imp.net.layers[-1].tops[0]]


@pytest.mark.parametrize("make, shape", [(onnx_mlp, (1, 20)), (onnx_cnn, (1, 3, 10, 10))])
def test_onnx_forward_matches_the_reference_evaluator(tmp_path, make, shape):
    m = make()
    imp = read_onnx(save_onnx(m, tmp_path / "m.onnx"))
    x = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    ref = onnx_reference(m, x)
    ours = _ours(imp, x)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
    assert imp.format == "onnx" and imp.meta["opset"] == 17


def test_onnx_mlp_maps_gemm_transb_and_folds_the_matmul_bias(tmp_path):
    m = onnx_mlp()
    imp = read_onnx(save_onnx(m, tmp_path / "m.onnx"))
    assert [l.type for l in imp.net.layers] == ["InnerProduct", "ReLU", "InnerProduct", "ReLU",
                                                "InnerProduct"]
    inits = {t.name: t for t in m.graph.initializer}
    from onnx import numpy_helper
    w1 = numpy_helper.to_array(inits["w1"])        # transB=1: stored (out, in)
    w2 = numpy_helper.to_array(inits["w2"])        # transB=0: stored (in, out)
    b3 = numpy_helper.to_array(inits["b3"])
    np.testing.assert_array_equal(imp.weights["fc1"][0], w1)
    np.testing.assert_array_equal(imp.weights["fc2"][0], w2.T)
    np.testing.assert_array_equal(imp.weights["fc3"][1], b3.reshape(-1))
    assert imp.meta["folded"] == ["fc3_bias (Add) into fc3"]
    assert imp.net.layer("fc3").bias_term


def test_onnx_cnn_geometry_and_batchnorm_fold(tmp_path):
    imp = read_onnx(save_onnx(onnx_cnn(), tmp_path / "c.onnx"))
    c1, c2 = imp.net.layer("conv1"), imp.net.layer("conv2")
    assert c1.conv.pad == (1, 1) and c1.conv.kernel == (3, 3) and c1.bias_term
    assert c2.conv.group == 2 and imp.weights["conv2"][0].shape == (6, 2, 3, 3)
    assert imp.weights["conv1"][1] is not None            # the folded BatchNormalization
    assert "bn1 (BatchNormalization) into conv1" in imp.meta["folded"]
    assert imp.net.layer("gap").pool.global_pooling


def _one_node(tmp_path, node, inits, in_shape=(1, 3, 8, 8), out_shape=(1, 3, 8, 8), opset=17):
    m = _model([node], inits, "x", in_shape, node.output[0], out_shape, "t", opset)
    return save_onnx(m, tmp_path / "t.onnx")


@pytest.mark.parametrize("node, inits, msg", [
    # (Sigmoid, asymmetric pads, dilations, auto_pad and count_include_pad=0 now import:
    # tests/compressor/test_onnx_exporters.py)
    (helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[3, 3], pads=[1, 1, 0, 0],
                      ceil_mode=1), [], r"node 'mp' \(MaxPool\): ceil_mode=1 with asymmetric"),
    (helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="ct", kernel_shape=[2, 2]),
     [("w", (3, 3, 2, 2))], r"\(ConvTranspose\): operation ConvTranspose cannot be run"),
])
def test_onnx_refusals_name_node_and_op(tmp_path, node, inits, msg):
    rng = np.random.default_rng(0)
    path = _one_node(tmp_path, node, [_init(n, rng.normal(size=s)) for n, s in inits])
    with pytest.raises(ModelImportError, match=msg) as err:
        read_onnx(path)
    assert str(path) in str(err.value)


def test_onnx_add_of_two_tensors_is_refused_or_an_eltwise(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="r"),
             helper.make_node("Add", ["x", "a"], ["y"], name="res")]
    m = _model(nodes, [], "x", (1, 4), "y", (1, 4), "t")
    path = save_onnx(m, tmp_path / "t.onnx")
    from compressor.graph.builder import NetBuilder
    if hasattr(NetBuilder, "eltwise"):       # the graph has an element-wise sum: mapped
        with pytest.raises(ModelImportError, match="no Gemm, MatMul or Conv"):
            read_onnx(path)
    else:
        with pytest.raises(ModelImportError, match=r"node 'res' \(Add\): an Add of two computed"):
            read_onnx(path)


def test_onnx_gemm_alpha_is_refused_and_a_bn_not_after_a_layer_runs_on_the_host(tmp_path):
    rng = np.random.default_rng(0)
    node = helper.make_node("Gemm", ["x", "w"], ["y"], name="g", alpha=0.5)
    with pytest.raises(ModelImportError, match=r"alpha=0.5, beta=1.0; only 1.0"):
        read_onnx(_one_node(tmp_path, node, [_init("w", rng.normal(size=(4, 3)))], (1, 4), (1, 3)))
    nodes = [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["n"], name="bn"),
             helper.make_node("Conv", ["n", "w"], ["y"], name="conv", kernel_shape=[1, 1])]
    ins = [_init(n, rng.uniform(0.5, 2.0, 3)) for n in "sbmv"] + [_init("w", rng.normal(size=(3, 3, 1, 1)))]
    m = _model(nodes, ins, "x", (1, 3, 8, 8), "y", (1, 3, 8, 8), "t")
    imp = read_onnx(save_onnx(m, tmp_path / "bn.onnx"))
    assert [lay.type for lay in imp.net.layers] == ["BatchNorm", "Convolution"]
    x = rng.normal(size=(1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(_ours(imp, x), onnx_reference(m, x), rtol=1e-5, atol=1e-5)


def test_onnx_pooling_modes_map_only_where_they_match(tmp_path):
    # floor mode on 7x7 with k=2, s=2: ONNX gives 3, Caffe's ceil mode 4
    node = helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[2, 2], strides=[2, 2])
    path = _one_node(tmp_path, node, [], (1, 1, 7, 7), (1, 1, 3, 3))
    import dataclasses

    from compressor.graph.net import PoolParams
    if "ceil_mode" in {f.name for f in dataclasses.fields(PoolParams)}:
        # the graph has floor-mode pooling: mapped exactly; no weights -> refused for that
        with pytest.raises(ModelImportError, match="no Gemm, MatMul or Conv"):
            read_onnx(path)
    else:
        with pytest.raises(ModelImportError, match=r"output size 3 along H \(ceil_mode=0\) differs"):
            read_onnx(path)


def test_onnx_hostile_files(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff\xff\xff not protobuf at all" * 10)
    with pytest.raises(ModelImportError, match=r"bad.onnx: not an ONNX model"):
        read_onnx(bad)
    with pytest.raises(ModelImportError, match="no such file"):
        read_onnx(tmp_path / "missing.onnx")
    with pytest.raises(ModelImportError, match="is a directory"):
        read_onnx(tmp_path)
    # a model the checker refuses (a node reading a tensor nobody makes)
    g = helper.make_graph([helper.make_node("Relu", ["nope"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    with pytest.raises(ModelImportError, match="the ONNX checker refuses the model"):
        read_onnx(save_onnx(m, tmp_path / "c.onnx"))
    # NaN in an initializer
    node = helper.make_node("Gemm", ["x", "w"], ["y"], name="g", transB=1)
    w = np.ones((3, 4))
    w[1, 2] = np.nan
    with pytest.raises(ModelImportError, match="initializer 'w' contains NaN"):
        read_onnx(_one_node(tmp_path, node, [_init("w", w)], (1, 4), (1, 3)))


def test_graph_json_round_trip(tmp_path):
    for net in (read_onnx(save_onnx(onnx_cnn(), tmp_path / "c.onnx")).net, known_graph("lenet5")):
        obj = json.loads(json.dumps(net_to_json(net)))
        back = net_from_json(obj)
        assert [(l.name, l.type, l.bottoms, l.tops, l.conv, l.pool, l.out_shapes)
                for l in back.layers] == [(l.name, l.type, l.bottoms, l.tops, l.conv, l.pool,
                                           l.out_shapes) for l in net.layers]
    obj["layers"][0]["conv"]["kernel"] = [3]
    with pytest.raises(ModelImportError, match=r"layer 'conv1'.conv.kernel: expected a pair"):
        net_from_json(obj)
    with pytest.raises(ModelImportError, match="not a version-1 graph"):
        net_from_json({"version": 99})


def test_safetensors_names_order_and_dtypes(tmp_path):
    arrays = safetensors_mlp(tmp_path / "m.safetensors")
    imp = load_model(tmp_path / "m.safetensors")
    assert imp.net is None and imp.layer_names == ["fc1", "fc2", "fc10"]   # natural order
    np.testing.assert_array_equal(imp.weights["fc1"][0], arrays["fc1.weight"])
    assert imp.weights["fc10"][1] is None and imp.meta["order"] == "natural order of the names"
    assert sorted(["fc10", "fc2", "fc1"], key=natural_key) == ["fc1", "fc2", "fc10"]
    from safetensors.numpy import save_file
    w = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    save_file({"b": w.astype(np.float16), "a": w[:, :4]}, str(tmp_path / "h.safetensors"),
              metadata={"eie.layers": "b,a"})
    imp = load_model(tmp_path / "h.safetensors")
    assert imp.layer_names == ["b", "a"] and imp.weights["b"][0].dtype == np.float32
    np.testing.assert_array_equal(imp.weights["b"][0], w.astype(np.float16).astype(np.float32))


def _raw_safetensors(header: dict, data: bytes) -> bytes:
    h = json.dumps(header).encode()
    return len(h).to_bytes(8, "little") + h + data


def test_safetensors_bfloat16_is_widened_exactly(tmp_path):
    vals = np.array([[1.5, -2.0], [0.15625, 3.0]], dtype=np.float32)
    bf = (vals.view(np.uint32) >> 16).astype("<u2")
    p = tmp_path / "bf.safetensors"
    p.write_bytes(_raw_safetensors({"l.weight": {"dtype": "BF16", "shape": [2, 2],
                                                 "data_offsets": [0, 8]}}, bf.tobytes()))
    imp = load_model(p)
    np.testing.assert_array_equal(imp.weights["l"][0], vals)


@pytest.mark.parametrize("header, data, msg", [
    ({"l": {"dtype": "I64", "shape": [2, 2], "data_offsets": [0, 32]}}, bytes(32),
     r"no tensor EIE can run; left out: l \(I64 \[2, 2\]: not floating-point"),
    ({"l": {"dtype": "C64", "shape": [2, 2], "data_offsets": [0, 32]}}, bytes(32), "dtype C64"),
    ({"l": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}}, bytes(16),
     r"data_offsets \[0, 64\] do not hold"),
    ({"l": {"dtype": "F32", "shape": [2 ** 20, 2 ** 10], "data_offsets": [0, 16]}}, bytes(16),
     "more than the limit"),
    ({"bn.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(16),
     r"no tensor EIE can run; left out: bn.weight \(shape \[4\]"),
])
def test_safetensors_hostile_headers(tmp_path, header, data, msg):
    p = tmp_path / "x.safetensors"
    p.write_bytes(_raw_safetensors(header, data))
    with pytest.raises((ModelImportError, WeightsError), match=msg):
        load_model(p)
    p.write_bytes(b"\xff" * 8 + b"{}")
    with pytest.raises(ModelImportError, match="not a safetensors file"):
        load_model(p)


def test_safetensors_with_a_graph_in_its_metadata(tmp_path):
    imp = read_onnx(save_onnx(onnx_cnn(), tmp_path / "c.onnx"))
    from safetensors.numpy import save_file
    save_file(imp.arrays(), str(tmp_path / "c.safetensors"),
              metadata={"eie.graph": json.dumps(net_to_json(imp.net))})
    back = load_model(tmp_path / "c.safetensors")
    assert back.net is not None and back.layer_names == ["conv1", "conv2", "fc"]
    x = np.random.default_rng(2).normal(size=(1, 3, 10, 10)).astype(np.float32)
    np.testing.assert_allclose(_ours(back, x), _ours(imp, x), rtol=1e-6, atol=1e-6)


def test_exact_codebook_and_as_quantized(tmp_path):
    w = np.array([[0.0, 0.5, -0.25], [0.5, 0.0, 1.0]], dtype=np.float32)
    codebook, codes = exact_codebook(w, 4)
    assert codebook[0] == 0.0 and codebook.size == 16
    np.testing.assert_array_equal(codebook[codes], w)
    assert exact_codebook(np.arange(1, 40, dtype=np.float32).reshape(3, 13), 4) is None
    imp = load_model(save_onnx(onnx_mlp(), tmp_path / "m.onnx"))
    q = as_quantized(imp, 4, seed=0)
    assert [l.bits for l in q.layers] == [4, 4, 4]
    assert "k-means" in q.layer("fc1").meta["codebook"]      # 320 distinct values


def test_load_model_refuses_unknown_suffix(tmp_path):
    p = tmp_path / "m.pt"
    p.write_bytes(b"x")
    with pytest.raises(ModelImportError, match=r"unknown model format '.pt'"):
        load_model(p)


def test_onnx_layer_names_from_pytorch_weights_and_blob_limit(tmp_path):
    rng = np.random.default_rng(0)
    node = helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["y"], name="/fc1/Gemm",
                            transB=1)
    path = _one_node(tmp_path, node, [_init("fc1.weight", rng.normal(size=(3, 4))),
                                      _init("fc1.bias", rng.normal(size=3))], (1, 4), (1, 3))
    assert read_onnx(path).layer_names == ["fc1"]          # the state dict's name
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="c", kernel_shape=[1, 1])
    path = _one_node(tmp_path, node, [_init("w", rng.normal(size=(2, 3, 1, 1)))],
                     (1, 3, 20000, 20000), (1, 2, 20000, 20000))
    with pytest.raises(ModelImportError, match=r"blob 'x' of shape \(1, 3, 20000, 20000\) holds "
                                               r"1200000000 values, more than the limit"):
        read_onnx(path)


def test_onnx_conv_add_bn_chain_folds_and_matches_the_reference(tmp_path):
    """Conv -> Add (per-channel bias) -> BatchNormalization -> Relu -> AveragePool ->
    Reshape (0, -1) -> Gemm: both folds into the convolution, the forward pass as ONNX's."""
    rng = np.random.default_rng(5)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c", "cb"], ["a"], name="bias"),
        helper.make_node("BatchNormalization", ["a", "s", "b", "m", "v"], ["n"], name="bn"),
        helper.make_node("Relu", ["n"], ["r"], name="relu"),
        helper.make_node("AveragePool", ["r"], ["p"], name="ap", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Reshape", ["p", "shape"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fw"], ["y"], name="fc", transB=1),
    ]
    from onnx import numpy_helper
    inits = [_init("w", rng.normal(0, 0.3, (4, 2, 3, 3))), _init("cb", rng.normal(0, 0.1, (1, 4, 1, 1))),
             _init("s", rng.uniform(0.5, 1.5, 4)), _init("b", rng.normal(0, 0.1, 4)),
             _init("m", rng.normal(0, 0.1, 4)), _init("v", rng.uniform(0.5, 2, 4)),
             numpy_helper.from_array(np.array([0, -1], dtype=np.int64), "shape"),
             _init("fw", rng.normal(0, 0.3, (3, 64)))]
    m = _model(nodes, inits, "x", (1, 2, 16, 16), "y", (1, 3), "chain")
    imp = read_onnx(save_onnx(m, tmp_path / "chain.onnx"))
    assert imp.meta["folded"] == ["bias (Add) into conv", "bn (BatchNormalization) into conv"]
    assert [l.type for l in imp.net.layers] == ["Convolution", "ReLU", "Pooling", "Flatten",
                                                "InnerProduct"]
    x = rng.normal(size=(1, 2, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(_ours(imp, x), onnx_reference(m, x), rtol=1e-5, atol=1e-5)


def test_import_cli_refusals_exit_2_and_write_nothing(tmp_path, capsys):
    from compressor.cli import main
    out = tmp_path / "o.dcmp"
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="sig", kernel_shape=[2, 2])
    path = _one_node(tmp_path, node, [_init("w", np.ones((3, 3, 2, 2)))])
    assert main(["import", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eie-compress import: error: ") and "node 'sig' (ConvTranspose)" in err
    assert main(["import", str(tmp_path / "none.onnx"), "--out", str(out)]) == 2
    assert "none.onnx: no such file" in capsys.readouterr().err
    assert not out.exists()
