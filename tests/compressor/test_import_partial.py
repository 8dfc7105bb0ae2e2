"""safetensors files EIE can run only in part (PyTorch recurrent naming, Conv1d kernels,
normalisation vectors and counters left out and listed), ``import --layers``, and the
``--input-shape`` / ``--input-value`` options of ``eie-compress import``."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("safetensors")

from onnx import TensorProto, helper  # noqa: E402

from compressor import fileformat  # noqa: E402
from compressor.cli import main  # noqa: E402
from compressor.errors import ModelImportError  # noqa: E402
from compressor.importers import graph_of, load_model  # noqa: E402
from compressor.importers.inputs import parse_input_shape, parse_input_value  # noqa: E402
from tests.compressor.byom_models import save_onnx  # noqa: E402


def torch_vad_state_dict(path, H=8, I=5):
    """A PyTorch state dict of a small voice-activity detector: a Conv1d front end with
    BatchNorm1d, an LSTM, a Linear head."""
    from safetensors.numpy import save_file
    rng = np.random.default_rng(2)
    t = {"frontend.conv.weight": rng.normal(size=(I, 1, 9)), "frontend.conv.bias": rng.normal(size=I),
         "frontend.bn.weight": np.ones(I), "frontend.bn.bias": np.zeros(I),
         "frontend.bn.running_mean": np.zeros(I), "frontend.bn.running_var": np.ones(I),
         "rnn.weight_ih_l0": rng.normal(size=(4 * H, I)), "rnn.weight_hh_l0": rng.normal(size=(4 * H, H)),
         "rnn.bias_ih_l0": rng.normal(size=4 * H), "rnn.bias_hh_l0": rng.normal(size=4 * H),
         "head.weight": rng.normal(size=(1, H)), "head.bias": rng.normal(size=1)}
    arrays = {k: np.asarray(v, np.float32) for k, v in t.items()}
    arrays["frontend.bn.num_batches_tracked"] = np.array(100, np.int64)
    save_file(arrays, str(path))
    return arrays


def test_safetensors_keeps_what_eie_runs_and_lists_the_rest(tmp_path):
    p = tmp_path / "vad.safetensors"
    arrays = torch_vad_state_dict(p)
    imp = load_model(p)
    assert imp.layer_names == ["frontend.conv", "head", "rnn.weight_hh_l0", "rnn.weight_ih_l0"]
    assert imp.weights["frontend.conv"][0].shape == (5, 1, 1, 9)          # Conv1d: kernel height 1
    np.testing.assert_array_equal(imp.weights["rnn.weight_ih_l0"][0], arrays["rnn.weight_ih_l0"])
    np.testing.assert_array_equal(imp.weights["rnn.weight_hh_l0"][1], arrays["rnn.bias_hh_l0"])
    left = " ".join(imp.meta["left_out"])
    for k in ("frontend.bn.weight", "frontend.bn.running_var", "frontend.bn.num_batches_tracked"):
        assert k in left
    assert any("Conv1d kernel (5, 1, 9)" in n for n in imp.meta["notes"])
    sel = load_model(p, layers=["rnn.weight_ih_l0", "rnn.weight_hh_l0"])
    assert sel.layer_names == ["rnn.weight_hh_l0", "rnn.weight_ih_l0"]
    assert sel.meta["not_selected"] == ["frontend.conv", "head"]
    with pytest.raises(ModelImportError, match=r"--layers names \['nope'\]"):
        load_model(p, layers=["nope"])


def test_import_cli_layers_and_left_out(tmp_path, capsys):
    p = tmp_path / "vad.safetensors"
    torch_vad_state_dict(p)
    out = tmp_path / "vad.dcmp"
    assert main(["import", str(p), "--out", str(out), "--layers", "rnn.weight_ih_l0,rnn.weight_hh_l0",
                 "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "left out frontend.bn.running_mean" in text
    assert "not selected (--layers): frontend.conv, head" in text
    assert [q.name for q in fileformat.load(out).layers] == ["rnn.weight_hh_l0", "rnn.weight_ih_l0"]


def _symbolic_conv(tmp_path):
    rng = np.random.default_rng(0)
    w = helper.make_tensor("w", TensorProto.FLOAT, (2, 3, 3, 3), rng.normal(size=54).tolist())
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3])],
                          "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, "a", "b"])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return save_onnx(m, tmp_path / "sym.onnx")


def test_import_cli_input_shape(tmp_path, capsys):
    path = _symbolic_conv(tmp_path)
    out = tmp_path / "o.dcmp"
    assert main(["import", str(path), "--out", str(out)]) == 2
    assert "give its size with --input-shape x=1x3xNxN" in capsys.readouterr().err
    assert not out.exists()
    assert main(["import", str(path), "--out", str(out), "--input-shape", "x=1x3x10x12",
                 "--quiet"]) == 0
    net = graph_of(fileformat.load(out))
    assert net.inputs == {"x": (1, 3, 10, 12)} and net.layer("conv").out_shapes[0] == (1, 2, 8, 10)
    assert main(["import", str(path), "--out", str(tmp_path / "p.dcmp"), "--input-shape",
                 "x=1x3"]) == 2
    assert "has 2 dimensions, the input has 4" in capsys.readouterr().err


@pytest.mark.parametrize("text, want", [("x=1x3x48x48", ("x", (1, 3, 48, 48))),
                                        ("input.1=7", ("input.1", (7,)))])
def test_parse_input_shape(text, want):
    assert parse_input_shape(text) == want


@pytest.mark.parametrize("text", ["x", "x=1x0", "x=1x-3", "=1x2", "x=1x3x"])
def test_parse_input_shape_refuses(text):
    with pytest.raises(ModelImportError, match="input shape"):
        parse_input_shape(text)


def test_parse_input_value():
    name, v = parse_input_value("sr=16000")
    assert name == "sr" and v.dtype == np.int64 and v.shape == () and int(v) == 16000
    assert parse_input_value("t=0.5")[1].dtype == np.float32
    assert parse_input_value("v=1,2,3")[1].tolist() == [1, 2, 3]
    with pytest.raises(ModelImportError, match="input value"):
        parse_input_value("sr=abc")


@pytest.mark.parametrize("layer, msg", [
    ({"name": "u", "type": "Unary", "bottoms": ["data"], "tops": ["u"], "op": "nope"},
     r"unknown function 'nope'"),
    ({"name": "b", "type": "Binary", "bottoms": ["data"], "tops": ["b"], "op": "add",
      "const": [1.0, 2.0], "const_shape": [3]}, r"2 constant values for shape \(3,\)"),
    ({"name": "b", "type": "Binary", "bottoms": ["data"], "tops": ["b"], "op": "add",
      "const": ["x"], "const_shape": [1]}, r"const: expected a finite number"),
    ({"name": "s", "type": "Slice", "bottoms": ["data"], "tops": ["s"], "axes": [1],
      "starts": [-1], "ends": [2], "steps": [1]}, r"non-negative start"),
    ({"name": "r", "type": "Reshape", "bottoms": ["data"], "tops": ["r"], "dims": [5, 5]},
     r"cannot reshape \(1, 6\) to \(5, 5\)"),
    ({"name": "t", "type": "Transpose", "bottoms": ["data"], "tops": ["t"], "axes": [0, 0]},
     r"permutation \(0, 0\)"),
    ({"name": "l", "type": "LSTM", "bottoms": ["data"], "tops": ["l"], "hidden": 2, "op": "iofc"},
     r"gate input \(1, 6\)"),
    ({"name": "g", "type": "Gather", "bottoms": ["data"], "tops": ["g"], "axis": 1,
      "indices": [9], "dims": [1]}, r"out of range"),
])
def test_stored_host_layers_are_checked(layer, msg):
    from compressor.importers import net_from_json
    obj = {"version": 1, "name": "h", "input": {"name": "data", "shape": [1, 6]}, "layers": [layer]}
    with pytest.raises(ModelImportError, match=msg):
        net_from_json(obj)


def test_stored_graph_extra_inputs_and_layouts_are_checked():
    from compressor.importers import net_from_json
    base = {"version": 1, "name": "h", "input": {"name": "data", "shape": [1, 6]},
            "layers": [{"name": "u", "type": "Unary", "bottoms": ["data"], "tops": ["u"], "op": "tanh"}]}
    with pytest.raises(ModelImportError, match=r"extra_inputs\[0\]: expected"):
        net_from_json(dict(base, extra_inputs=[{"name": "h0", "shape": [0]}]))
    with pytest.raises(ModelImportError, match=r"input_layouts.data: expected a permutation"):
        net_from_json(dict(base, input_layouts={"data": [0, 0]}))
