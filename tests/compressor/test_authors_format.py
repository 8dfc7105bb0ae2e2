"""compressor.caffe.authors_format on small synthetic networks (always runnable)."""
import numpy as np
import pytest

from compressor.caffe.authors_format import (encode_flat_stream, param_layers, read_authors,
                                             read_authors_records, write_authors)
from compressor.caffe.prototxt import parse_net
from compressor.caffe.textformat import parse_text
from compressor.errors import AuthorsFormatError
from compressor.model import QuantizedLayer, QuantizedModel

NET = parse_net(parse_text("""
input: "data" input_dim: 1 input_dim: 2 input_dim: 6 input_dim: 6
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 5 kernel_size: 3 } }
layer { name: "relu_conv1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "ip1" type: "InnerProduct" bottom: "conv1" top: "ip1"
        inner_product_param { num_output: 7 } }
layer { name: "fc2" type: "InnerProduct" bottom: "ip1" top: "fc2"
        inner_product_param { num_output: 3 } }
"""))


def _model(seed=0, density=0.3):
    rng = np.random.default_rng(seed)
    layers = []
    for lay in param_layers(NET):
        bits = 8 if "conv" in lay.name else 4
        shape = lay.weight_shape
        codes = rng.integers(1, 2 ** bits, size=shape)
        codes[rng.random(shape) > density] = 0
        cb = np.concatenate([[0.0], rng.normal(size=2 ** bits - 1)]).astype(np.float32)
        kind = "conv" if len(shape) == 4 else "fc"
        layers.append(QuantizedLayer(lay.name, kind, codes, cb, rng.normal(size=shape[0]), bits, 4))
    return QuantizedModel(layers)


def test_param_layers_skip_weightless_conv_names():
    assert [lay.name for lay in param_layers(NET)] == ["conv1", "ip1", "fc2"]


def test_flat_stream_fillers():
    codes = np.zeros(40, dtype=np.uint8)
    codes[[0, 16, 17, 39]] = [3, 4, 5, 6]
    c, idx = encode_flat_stream(codes)
    # gaps 1, 16, 1, 22 -> the 22-gap needs one filler (advances 16) then value 5
    assert idx.tolist() == [0, 15, 0, 15, 5]
    assert c.tolist() == [3, 4, 5, 0, 6]
    assert (np.cumsum(idx.astype(int) + 1) - 1).tolist() == [0, 16, 17, 33, 39]


@pytest.mark.parametrize("seed, density", [(0, 0.3), (1, 0.02), (2, 1.0), (3, 0.0)])
def test_round_trip_exact(seed, density):
    m = _model(seed, density)
    blob = write_authors(m, NET)
    back = read_authors(NET, blob)
    for a, b in zip(m.layers, back.layers):
        assert a.name == b.name and a.kind == b.kind and a.bits == b.bits
        assert np.array_equal(a.codes, b.codes)
        assert np.array_equal(a.codebook, b.codebook) and np.array_equal(a.bias, b.bias)
        assert np.array_equal(a.weights(), b.weights())
        assert b.meta["entries"] == encode_flat_stream(a.codes)[0].size
    assert write_authors(back, NET) == blob


def test_layer_sizes_and_nibble_padding():
    m = _model(5, 0.5)
    blob = write_authors(m, NET)
    recs = read_authors_records(NET, blob)
    assert 4 * len(recs) + sum(r.nbytes for r in recs) == len(blob)
    assert recs[1].bits == 4 and recs[1].codebook.size == 16
    assert recs[0].bits == 8 and recs[0].codebook.size == 256


def test_errors_are_clear():
    blob = write_authors(_model(), NET)
    with pytest.raises(AuthorsFormatError, match=r"layer 'fc2': file ends inside the index stream"):
        read_authors(NET, blob[:-1])
    with pytest.raises(AuthorsFormatError, match=r"3 bytes left over after the last layer \('fc2'\)"):
        read_authors(NET, blob + b"abc")
    bad = bytearray(blob)
    bad[12:16] = np.float32(0.5).tobytes()          # conv1 codebook[0]
    with pytest.raises(AuthorsFormatError, match=r"layer 'conv1': codebook\[0\] at offset 12"):
        read_authors(NET, bytes(bad))
    bad = bytearray(blob)
    bad[0:4] = np.uint32(10 ** 6).tobytes()
    with pytest.raises(AuthorsFormatError, match=r"layer 'conv1': header word 0 .* 1000000 entries"):
        read_authors(NET, bytes(bad))
    with pytest.raises(AuthorsFormatError, match="less than the 12-byte header"):
        read_authors(NET, blob[:5])
    other = parse_net(parse_text(NET_TEXT_WRONG))
    with pytest.raises(AuthorsFormatError, match="layer 'conv1': .*prototxt does not describe it"):
        read_authors(other, blob)


def test_write_rejects_wrong_widths():
    m = _model()
    lay = m.layers[1]
    m.layers[1] = QuantizedLayer(lay.name, "fc", lay.codes, np.concatenate([lay.codebook] * 16),
                                 lay.bias, 8, 4)
    with pytest.raises(AuthorsFormatError, match="stores 4-bit codes"):
        write_authors(m, NET)


NET_TEXT_WRONG = """
input: "data" input_dim: 1 input_dim: 2 input_dim: 6 input_dim: 6
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 4 kernel_size: 3 } }
layer { name: "ip1" type: "InnerProduct" bottom: "conv1" top: "ip1"
        inner_product_param { num_output: 7 } }
layer { name: "fc2" type: "InnerProduct" bottom: "ip1" top: "fc2"
        inner_product_param { num_output: 3 } }
"""
