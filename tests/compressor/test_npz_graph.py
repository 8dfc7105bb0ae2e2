"""The graph of a weights ``.npz`` (docs/byom.md "npz"): the reserved member ``__graph__``
(graph JSON text, a 0-d unicode array) that ``eie-compress decode`` writes and every npz
reader of the project accepts, bounded and checked like a graph JSON file."""
from __future__ import annotations

import io
import json
import struct
import zipfile

import numpy as np
import pytest

from compressor.cli import main as compress_main
from compressor.errors import ModelImportError, WeightsError
from compressor.fileformat import save as save_dcmp
from compressor.importers import load_model, net_to_json
from compressor.importers.graph_json import MAX_GRAPH_JSON_BYTES
from compressor.importers.known import known_graph
from compressor.model import QuantizedLayer, QuantizedModel
from compressor.npzio import (
    MAX_NPZ_GRAPH_CHARS,
    NPZ_GRAPH_KEY,
    check_weights,
    load_npz_weights,
    load_npz_with_graph,
    read_npz,
)


def _mlp_graph() -> str:
    from compressor.graph.builder import NetBuilder
    b = NetBuilder("mlp", (1, 6))
    b.fc("fc2", b.relu("r", b.fc("fc1", b.input, 4)), 3)
    return json.dumps(net_to_json(b.build()))


def _weights():
    rng = np.random.default_rng(0)
    return {"fc1": rng.normal(size=(4, 6)).astype(np.float32),
            "fc1.bias": rng.normal(size=4).astype(np.float32),
            "fc2": rng.normal(size=(3, 4)).astype(np.float32)}


def test_graph_key_is_read_and_never_a_layer(tmp_path):
    w = _weights()
    np.savez(tmp_path / "m.npz", **w, __graph__=_mlp_graph())
    assert list(load_npz_weights(tmp_path / "m.npz")) == ["fc1", "fc2", "fc1.bias"]
    arrays, text = load_npz_with_graph(tmp_path / "m.npz")
    assert json.loads(text)["name"] == "mlp" and NPZ_GRAPH_KEY not in arrays
    assert list(check_weights({**w, NPZ_GRAPH_KEY: np.array("x")})) == ["fc1", "fc2", "fc1.bias"]
    imp = load_model(tmp_path / "m.npz")
    assert imp.net is not None and imp.net.name == "mlp" and imp.meta["order"] == "graph order"
    np.testing.assert_array_equal(imp.weights["fc2"][0], w["fc2"])
    np.savez(tmp_path / "plain.npz", **w)                    # without the key: no graph
    assert load_model(tmp_path / "plain.npz").net is None
    assert MAX_NPZ_GRAPH_CHARS == MAX_GRAPH_JSON_BYTES       # one limit for graph text


def test_decode_writes_the_known_lenet5_graph(tmp_path, capsys):
    rng = np.random.default_rng(1)
    layers = []
    for name, shape in (("conv1", (20, 1, 5, 5)), ("conv2", (50, 20, 5, 5)), ("ip1", (500, 800)),
                        ("ip2", (10, 500))):
        codes = rng.integers(1, 16, size=shape) * (rng.random(shape) < 0.05)
        cb = np.concatenate([[0.0], np.linspace(-0.3, 0.3, 15)])
        layers.append(QuantizedLayer(name, "fc" if len(shape) == 2 else "conv", codes, cb,
                                     None, 4, 5))
    save_dcmp(QuantizedModel(layers, {"model": "lenet5"}), tmp_path / "l5.dcmp")
    assert compress_main(["decode", str(tmp_path / "l5.dcmp"), "--out",
                          str(tmp_path / "l5.npz")]) == 0
    assert "graph 'lenet5' under '__graph__'" in capsys.readouterr().out
    imp = load_model(tmp_path / "l5.npz")
    assert imp.net is not None
    known = known_graph("lenet5")
    assert [l.name for l in imp.net.weight_layers] == [l.name for l in known.weight_layers]
    assert imp.net.blob_shapes == known.blob_shapes
    # a file without a graph decodes as before: no key
    save_dcmp(QuantizedModel(layers[2:], {}), tmp_path / "fc.dcmp")
    assert compress_main(["decode", str(tmp_path / "fc.dcmp"), "--out",
                          str(tmp_path / "fc.npz")]) == 0
    assert "no graph" in capsys.readouterr().out
    with np.load(tmp_path / "fc.npz") as z:
        assert NPZ_GRAPH_KEY not in z.files


def _npz_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name + ".npy", data)
    return buf.getvalue()


def _npy(a) -> bytes:
    m = io.BytesIO()
    np.save(m, np.asarray(a))
    return m.getvalue()


def _forged(descr: str, shape, data: bytes) -> bytes:
    h = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    h += b" " * (-(10 + len(h) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data


@pytest.mark.parametrize("graph, match", [
    (_npy(np.ones(3, np.float32)), r"'__graph__\.npy': the reserved member '__graph__' holds the "
                                   r"network graph as JSON text.*got dtype float32 shape \(3,\)"),
    (_npy(np.array(["a", "b"])), r"0-d unicode array.*shape \(2,\)"),
    (_npy(np.array(b"{}")), r"0-d unicode array.*got dtype \|S2"),
    # a declared length over the limit is refused before anything is read or allocated
    (_forged(f"<U{MAX_NPZ_GRAPH_CHARS + 1}", (), b"x" * 8), r"at most 67108864 characters"),
    (_forged("<U0", (), b""), r"0-d unicode array"),
])
def test_graph_member_of_the_wrong_kind_is_refused_naming_the_file(tmp_path, graph, match):
    p = tmp_path / "bad.npz"
    p.write_bytes(_npz_bytes({"fc1": _npy(np.ones((2, 3), np.float32)), NPZ_GRAPH_KEY: graph}))
    with pytest.raises(WeightsError, match=match) as e:
        load_npz_weights(p)
    assert str(p) in str(e.value)
    with pytest.raises(ValueError, match=match):             # the bare reader, for every tool
        read_npz(p)


@pytest.mark.parametrize("text, match", [
    ("{not json", r"__graph__: not valid JSON"),
    ("[" * 40 + "]" * 40, r"__graph__: nested deeper than 32 levels"),
    ('{"version": 1, "name": "g", "input": {"name": "x", "shape": [1, 6]}, "layers": '
     '[{"name": "fc1", "type": "InnerProduct", "bottoms": ["x"], "tops": ["y"], '
     '"num_output": -4}]}', r"__graph__: layer 'fc1'\.num_output: expected an integer"),
])
def test_bad_graph_text_is_a_model_import_error_naming_the_file(tmp_path, text, match):
    np.savez(tmp_path / "g.npz", **_weights(), __graph__=text)
    with pytest.raises(ModelImportError, match=match) as e:
        load_model(tmp_path / "g.npz")
    assert str(tmp_path / "g.npz") in str(e.value)


def test_graph_that_disagrees_with_the_weights_is_refused(tmp_path):
    w = _weights()
    w["fc3"] = w.pop("fc2")
    np.savez(tmp_path / "g.npz", **w, __graph__=_mlp_graph())
    with pytest.raises(ModelImportError, match=r"graph and weights disagree"):
        load_model(tmp_path / "g.npz")
