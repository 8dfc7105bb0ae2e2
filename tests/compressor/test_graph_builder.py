"""compressor.graph.NetBuilder: the same Net as the prototxt reader, errors at the layer."""
import numpy as np
import pytest

from compressor.caffe.prototxt import parse_net
from compressor.caffe.textformat import parse_text
from compressor.errors import GraphError
from compressor.graph import NetBuilder
from compressor.graph.forward import forward

PROTO = """
name: "tiny"
input: "data"
input_dim: 1 input_dim: 3 input_dim: 9 input_dim: 9
layer { name: "c1" type: "Convolution" bottom: "data" top: "c1"
        convolution_param { num_output: 4 kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "r1" type: "ReLU" bottom: "c1" top: "r1" relu_param { negative_slope: 0.1 } }
layer { name: "dw" type: "Convolution" bottom: "r1" top: "dw"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 group: 4 } }
layer { name: "p1" type: "Pooling" bottom: "dw" top: "p1"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "cat" type: "Concat" bottom: "p1" bottom: "p1" top: "cat" }
layer { name: "fc" type: "InnerProduct" bottom: "cat" top: "fc" inner_product_param { num_output: 5 } }
"""


def _built():
    b = NetBuilder("tiny", (1, 3, 9, 9))
    x = b.conv("c1", b.input, 4, kernel=3, stride=2, pad=1)
    x = b.relu("r1", x, negative_slope=0.1)
    x = b.conv("dw", x, 4, kernel=3, pad=1, group=4)
    x = b.pool("p1", x, "MAX", kernel=2, stride=2)
    x = b.concat("cat", [x, x])
    b.fc("fc", x, 5)
    return b.build()


def test_builder_matches_the_prototxt_reader():
    a, b = parse_net(parse_text(PROTO)), _built()
    assert a.blob_shapes == b.blob_shapes
    assert [l.weight_shape for l in a.layers] == [l.weight_shape for l in b.layers]
    rng = np.random.default_rng(0)
    weights = {l.name: (rng.standard_normal(l.weight_shape).astype(np.float32),
                        rng.standard_normal(l.weight_shape[0]).astype(np.float32))
               for l in a.weight_layers}
    x = rng.standard_normal((1, 3, 9, 9)).astype(np.float32)
    ya, yb = forward(a, weights, x).blobs["fc"], forward(b, weights, x).blobs["fc"]
    assert ya.shape == (1, 5)
    np.testing.assert_array_equal(ya, yb)


def test_builder_errors_name_the_layer():
    b = NetBuilder("t", (1, 3, 4, 4))
    with pytest.raises(GraphError, match="'c'.*divisible by group"):
        b.conv("c", b.input, 4, kernel=1, group=2)
    with pytest.raises(GraphError, match="'k'.*larger than padded input"):
        b.conv("k", b.input, 4, kernel=5)
    with pytest.raises(GraphError, match="bottom blob 'nope'"):
        b.relu("r", "nope")
    b.relu("r", b.input)
    with pytest.raises(GraphError, match="duplicate layer name 'r'"):
        b.relu("r", b.input)
    with pytest.raises(GraphError, match="kernel must be an integer"):
        b.conv("z", b.input, 4, kernel=0)
