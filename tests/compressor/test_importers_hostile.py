"""Hostile inputs to the model importers: one test per problem the fuzz harness
(tests/fuzz/importer_cases.py) or a reading of the readers found. Each was a raw Python
exception (or a file read it should not have been) before the fix; each must now be a
one-line ModelImportError naming the file."""
from __future__ import annotations

import json
import struct
import warnings

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("safetensors")

import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from compressor.errors import ModelImportError  # noqa: E402
from compressor.importers import net_to_json, read_onnx, read_safetensors  # noqa: E402
from compressor.importers.graph_json import (  # noqa: E402
    graph_from_text,
    net_from_json,
    read_graph_json,
)
from tests.compressor.byom_models import onnx_cnn, onnx_mlp  # noqa: E402
from tests.fuzz.importer_cases import onnx_mixed, raw_safetensors  # noqa: E402


def _refused(path, match: str):
    with pytest.raises(ModelImportError, match=match) as info:
        read_onnx(path) if str(path).endswith(".onnx") else read_safetensors(path)
    msg = str(info.value)
    assert str(path) in msg and "\n" not in msg
    return msg


def _save(m, tmp_path, name="m.onnx"):
    p = tmp_path / name
    p.write_bytes(m.SerializeToString())
    return p


def _node(m, op, k=0):
    return [n for n in m.graph.node if n.op_type == op][k]


def _set_attr(node, name, value):
    keep = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend(keep)
    node.attribute.append(helper.make_attribute(name, value))


def _init(m, name):
    return [t for t in m.graph.initializer if t.name == name][0]


# ---------------------------------------------------------------------------- ONNX
def test_onnx_name_with_invalid_utf8_is_refused(tmp_path):
    """Was: TypeError (a proto2 string with invalid UTF-8 comes back as bytes)."""
    raw = onnx_mlp().SerializeToString().replace(b"fc1", b"f\xff1", 1)
    p = tmp_path / "m.onnx"
    p.write_bytes(raw)
    _refused(p, r"node.name is not valid UTF-8")


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_onnx_pool_stride_zero_is_refused(tmp_path, op):
    """Was: ZeroDivisionError in the output-size check."""
    m = onnx_mixed()
    _set_attr(_node(m, op), "strides", [1, 0])
    _refused(_save(m, tmp_path), r"strides \[1, 0\]: two integers >= 1")


def test_onnx_string_attribute_with_invalid_utf8_is_refused(tmp_path):
    """Was: UnicodeDecodeError decoding auto_pad."""
    m = onnx_mixed()
    _set_attr(_node(m, "AveragePool"), "auto_pad", b"VAL\xc3ID")
    _refused(_save(m, tmp_path), r"attribute 'auto_pad' is not UTF-8 text")


@pytest.mark.parametrize("make, name", [(onnx_mlp, "b1")])
def test_onnx_bias_with_extra_leading_axes_is_refused(tmp_path, make, name):
    """Was: ValueError from numpy's reshape (a Gemm bias of shape (n, 1, 1)). (An Add
    addend of that shape is now a host broadcasting addition: test_onnx_exporters.py.)"""
    m = make()
    t = _init(m, name)
    n = int(np.prod(t.dims))
    del t.dims[:]
    t.dims.extend([n, 1, 1])
    _refused(_save(m, tmp_path), r"has more than 2 axes; it cannot be folded")


def test_onnx_constant_stored_as_external_data_is_refused(tmp_path, monkeypatch):
    """Was: a Constant node's tensor in external data read from the working directory
    (only initializers were checked)."""
    m = onnx_mixed()
    t = _node(m, "Constant").attribute[0].t
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "w.bin"), ("offset", "0"), ("length", "16")):
        e = t.external_data.add()
        e.key, e.value = k, v
    np.array([0, -1], np.int64).tofile(tmp_path / "w.bin")
    monkeypatch.chdir(tmp_path)
    _refused(_save(m, tmp_path), r"tensor 'shape' .* is stored as external data")


def test_onnx_initializer_stored_as_external_data_is_refused(tmp_path):
    m = onnx_mlp()
    t = _init(m, "w1")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", "../../etc/passwd"
    _refused(_save(m, tmp_path), r"tensor 'w1' .* is stored as external data")


@pytest.mark.parametrize("op, attr, value", [
    ("LeakyRelu", "alpha", float("inf")),         # was accepted: a slope of inf
    ("LeakyRelu", "alpha", float("nan")),         # was accepted: a slope of NaN
    ("BatchNormalization", "epsilon", float("inf")),   # was accepted: weights folded to 0
    ("BatchNormalization", "epsilon", float("nan")),
])
def test_onnx_non_finite_attribute_is_refused(tmp_path, op, attr, value):
    m = onnx_mixed()
    _set_attr(_node(m, op), attr, value)
    _refused(_save(m, tmp_path), rf"attribute '{attr}' = {value}: NaN or infinity is refused")


def test_onnx_batchnorm_variance_plus_epsilon_not_positive_is_refused(tmp_path):
    """Was: a square root of a negative number (a numpy RuntimeWarning) before the refusal."""
    m = onnx_mixed()
    _set_attr(_node(m, "BatchNormalization"), "epsilon", -10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _refused(_save(m, tmp_path), r"variance \+ epsilon \(-10.0\) <= 0")


def test_onnx_clip_bound_that_is_not_one_value_is_refused(tmp_path):
    """Was: IndexError (an empty ``min`` constant)."""
    m = onnx_mixed()
    t = _init(m, "lo")
    t.dims.extend([0])
    t.raw_data = b""
    _refused(_save(m, tmp_path), r"min 'lo' of shape \(0,\): one value expected")


def test_onnx_reshape_shape_that_is_not_integers_is_refused(tmp_path):
    """Was: ValueError from int() of a string shape constant."""
    m = onnx_mixed()
    c = _node(m, "Constant")
    del c.attribute[:]
    c.attribute.append(helper.make_attribute("value", helper.make_tensor(
        "shape", TensorProto.STRING, [2], [b"a", b"b"])))
    _refused(_save(m, tmp_path), r"shape .shape. has dtype object; integers expected")


def test_onnx_hostile_dims_are_refused_before_allocating(tmp_path):
    m = onnx_cnn()
    t = _init(m, "c1")
    del t.dims[:]
    t.dims.extend([2 ** 20, 2 ** 20, 2 ** 20])
    _refused(_save(m, tmp_path), r"the ONNX checker refuses|more than the limit")
    m = onnx_cnn()
    inp = m.graph.input[0].type.tensor_type.shape.dim
    inp[2].dim_value = inp[3].dim_value = 2 ** 20
    _refused(_save(m, tmp_path), r"more than the limit of 268435456")


# ---------------------------------------------------------------------------- graph JSON
def _graph(make=onnx_cnn, tmp_path=None):
    p = tmp_path / "g.onnx"
    p.write_bytes(make().SerializeToString())
    return net_to_json(read_onnx(p).net)


def _L(g, name):
    return [d for d in g["layers"] if d["name"] == name][0]


@pytest.mark.parametrize("edit, match", [
    (lambda g: _L(g, "conv1").pop("conv"), r"a Convolution layer needs its 'conv' parameters"),
    (lambda g: _L(g, "pool1").pop("pool"), r"a Pooling layer needs its 'pool' parameters"),
    (lambda g: _L(g, "relu1").update(type="Deconvolution"),
     r"a Deconvolution layer needs its 'conv' parameters"),
    (lambda g: _L(g, "pool1")["pool"].update(kernel=None),
     r"pool.kernel: missing \(and not global pooling\)"),
])
def test_graph_json_layer_without_its_parameters_is_refused(tmp_path, edit, match):
    """Was: AssertionError in the shape rules (they assume the parameters are there)."""
    g = _graph(tmp_path=tmp_path)
    edit(g)
    with pytest.raises(ModelImportError, match=match):
        net_from_json(g, "m.dcmp: meta.graph")


@pytest.mark.parametrize("edit, match", [
    (lambda g: _L(g, "conv1")["conv"].update(stride=[1, 0]), r"conv.stride: expected an integer in 1"),
    (lambda g: _L(g, "pool1")["pool"].update(stride=[0, 0]), r"pool.stride: expected an integer in 1"),
    (lambda g: _L(g, "conv2")["conv"].update(group=False), r"conv.group: expected an integer"),
    (lambda g: _L(g, "conv2")["conv"].update(group=0), r"conv.group: expected an integer"),
])
def test_graph_json_zero_stride_or_group_is_refused(tmp_path, edit, match):
    """Was: ZeroDivisionError in the output-size arithmetic."""
    g = _graph(tmp_path=tmp_path)
    edit(g)
    with pytest.raises(ModelImportError, match=match):
        net_from_json(g, "m.dcmp: meta.graph")


@pytest.mark.parametrize("edit, match", [
    (lambda g: _L(g, "conv1")["conv"].update(num_output="4"), r"conv.num_output: expected an integer"),
    (lambda g: _L(g, "conv1")["conv"].update(num_output=2 ** 40), r"conv.num_output: expected an integer"),
    (lambda g: _L(g, "conv1")["conv"].update(bias_term=1), r"conv.bias_term: expected true or false"),
    (lambda g: _L(g, "pool1")["pool"].update(method="STOCHASTIC"), r"pool.method: expected"),
    (lambda g: _L(g, "relu1").update(negative_slope="x"), r"negative_slope: expected a finite number"),
    (lambda g: _L(g, "fc").update(num_output=-1), r"num_output: expected an integer"),
])
def test_graph_json_field_of_the_wrong_type_is_refused(tmp_path, edit, match):
    g = _graph(tmp_path=tmp_path)
    edit(g)
    with pytest.raises(ModelImportError, match=match):
        net_from_json(g, "m.dcmp: meta.graph")


def test_read_graph_json_names_the_file_and_keeps_valid_graphs(tmp_path):
    g = _graph(onnx_mixed, tmp_path)
    p = tmp_path / "g.json"
    p.write_text(json.dumps(g))
    net = read_graph_json(p)
    assert [l.name for l in net.weight_layers] == ["conv1", "conv2", "fc3", "fc4"]
    for text, match in ((b'{"version": 1, "a": NaN}', "non-finite number NaN"),
                        (b"\xff{}", "not UTF-8"), (b"[" * 40 + b"]" * 40, "nested deeper"),
                        (b"{}", "not a version-1 graph")):
        p.write_bytes(text)
        with pytest.raises(ModelImportError, match=match) as info:
            read_graph_json(p)
        assert str(info.value).startswith(str(p))
    with pytest.raises(ModelImportError, match="is a directory"):
        read_graph_json(tmp_path)
    with pytest.raises(ModelImportError, match="meta.graph: not valid JSON"):
        graph_from_text("{", "m.dcmp: meta.graph")


# ---------------------------------------------------------------------------- safetensors
def _pair(a, b, dtype, extra):
    head = {"a.weight": {"dtype": dtype, "shape": [2, 2], "data_offsets": a},
            "b.weight": {"dtype": dtype, "shape": [2, 2], "data_offsets": b}}
    return raw_safetensors(head, bytes(max(a[1], b[1]) + extra))


@pytest.mark.parametrize("dtype", ["F32", "BF16"])
@pytest.mark.parametrize("a, b, extra, match", [
    ([0, 16], [0, 16], 0, "overlap the previous tensor"),          # the same bytes twice
    ([0, 16], [8, 24], 0, "overlap the previous tensor"),
    ([0, 16], [20, 36], 0, "leave a gap"),
    ([0, 16], [16, 32], 4, "4 data bytes after the last tensor"),
])
def test_safetensors_overlapping_or_gapped_offsets_are_refused(tmp_path, dtype, a, b, extra, match):
    """Was: accepted when a tensor is BF16 (the reader's own path), refused with the
    library's message otherwise; now the same rule (the ranges tile the data) for both."""
    if dtype == "BF16":                     # 2-byte values: every offset halved
        a, b, extra = [x // 2 for x in a], [x // 2 for x in b], extra // 2
        match = match.replace("4 data", "2 data")
    p = tmp_path / "x.safetensors"
    p.write_bytes(_pair(a, b, dtype, extra))
    _refused(p, match)


def test_safetensors_header_length_lies_are_refused(tmp_path):
    good = raw_safetensors({"a": {"dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]}},
                           bytes(8))
    n = struct.unpack_from("<Q", good)[0]
    p = tmp_path / "x.safetensors"
    for val in (0, n - 1, n + 9, 2 ** 63, 2 ** 64 - 1):
        p.write_bytes(struct.pack("<Q", val) + good[8:])
        _refused(p, "not a safetensors file")


def test_safetensors_graph_without_conv_parameters_is_refused(tmp_path):
    """Was: AssertionError, through the ``eie.graph`` metadata."""
    from safetensors.numpy import save
    p = tmp_path / "g.onnx"
    p.write_bytes(onnx_cnn().SerializeToString())
    imp = read_onnx(p)
    g = net_to_json(imp.net)
    _L(g, "conv2")["type"] = "Pooling"
    s = tmp_path / "c.safetensors"
    s.write_bytes(save(imp.arrays(), metadata={"eie.graph": json.dumps(g)}))
    _refused(s, r"__metadata__ eie.graph: layer .* needs its 'pool' parameters")


def test_valid_models_still_read_the_same(tmp_path):
    """The hardening changes no valid file's result: the seeds of the fuzz corpus."""
    for make in (onnx_mlp, onnx_cnn, onnx_mixed):
        imp = read_onnx(_save(make(), tmp_path))
        assert imp.layer_names and all(np.all(np.isfinite(w)) for w, _ in imp.weights.values())
    m = onnx_mixed()
    onnx.checker.check_model(m)
    assert numpy_helper.to_array(_init(m, "lo")) == 0


def test_onnx_float64_beyond_float32_is_refused(tmp_path):
    """Was: accepted as infinity (a finite float64 1e300 cast to float32)."""
    m = onnx_mlp()
    t = _init(m, "w1")
    a = numpy_helper.to_array(t).astype(np.float64)
    a[0, 0] = 1e300
    t.CopyFrom(numpy_helper.from_array(a, "w1"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _refused(_save(m, tmp_path), r"weight 'w1' holds values too large for float32")


def test_onnx_folding_that_overflows_float32_is_refused(tmp_path):
    """A BatchNormalization whose scale takes a weight past float32's range."""
    m = onnx_mixed()
    t = _init(m, "s3")
    t.CopyFrom(numpy_helper.from_array(np.full(10, 3e38, np.float32), "s3"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _refused(_save(m, tmp_path), r"too large for float32")


def test_safetensors_float64_beyond_float32_is_refused(tmp_path):
    """Was: accepted as infinity (F64 1e300 cast to float32, with a RuntimeWarning)."""
    from safetensors.numpy import save
    p = tmp_path / "x.safetensors"
    p.write_bytes(save({"a": np.array([[1.0, 1e300]]), "a.bias": np.array([1.0])}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(Exception, match=r"array 'a' holds values too large for float32") as info:
            read_safetensors(p)
    assert str(p) in str(info.value)
    p.write_bytes(save({"a": np.ones((1, 2)), "a.bias": np.array([-1e39])}))
    with pytest.raises(Exception, match=r"bias a.bias holds values too large"):
        read_safetensors(p)


def test_onnx_nodes_sharing_one_name_get_numbered_layer_names(tmp_path):
    """Naming used to search r, r_2, r_3... from the start for every node (quadratic: 12,000
    nodes named alike took ~9 s, a larger file hangs); the names given are unchanged."""
    import random

    from tests.fuzz.importer_cases import onnx_scaled
    data, what = onnx_scaled(random.Random(1), 40)
    assert what == "onnx:scaled-names-40"
    p = tmp_path / "n.onnx"
    p.write_bytes(data)
    net = read_onnx(p).net
    assert [l.name for l in net.layers] == ["r"] + [f"r_{k}" for k in range(2, 41)]
    data, what = onnx_scaled(random.Random(0), 40)
    assert what == "onnx:scaled-outputs-40"        # 40 Adds folded into one bias
    p.write_bytes(data)
    imp = read_onnx(p)
    np.testing.assert_allclose(imp.weights["r"][1], np.full(4, 40.0))
    assert len(imp.meta["folded"]) == 40
