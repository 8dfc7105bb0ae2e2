"""compressor.graph.ops (the op table) and the per-layer entries forward_layer / layer_mxv:
one layer computed on its own gives bit for bit what the whole-network forward pass and
layer_workloads give for it."""
from __future__ import annotations

import numpy as np
import pytest

from compressor import zoo
from compressor.errors import ForwardError, GraphError
from compressor.graph import Layer, NetBuilder, forward_layer, infer_shapes, layer_mxv
from compressor.graph.forward import forward, layer_workloads, synthetic_input
from compressor.graph.net import SUPPORTED_TYPES
from compressor.graph.ops import OPS
from compressor.zoo.synthetic import synthetic_model


def test_every_supported_type_has_one_entry():
    assert set(OPS) | {"Input"} == set(SUPPORTED_TYPES)
    assert len(SUPPORTED_TYPES) == len(OPS) + 1


def _mixed_net():
    """A small network using the layer types the zoo networks do not (BatchNorm, LRN,
    Flatten, Dropout, Concat on channels of different producers)."""
    rng = np.random.default_rng(3)
    b = NetBuilder("mixed", (1, 3, 10, 10))
    x = b.conv("c1", b.input, 6, kernel=3, pad=1)
    x = b.batchnorm("bn", x, *(rng.uniform(0.5, 1.5, 6) for _ in range(4)))
    x = b.add(Layer("lrn", "LRN", [x], ["lrn"], 0))
    y = b.prelu("pr", x, [0.1 * k for k in range(6)])
    z = b.clip("cl", x, -1.0, 2.0)
    x = b.concat("cat", [y, z])
    x = b.channel_pad("pad", x, 16)
    x = b.pool("p", x, "AVE", kernel=3, stride=2, pad=1)
    x = b.dropout("drop", x)
    x = b.flatten("flat", x)
    x = b.fc("fc", x, 5)
    b.softmax("prob", x)
    net = b.build()
    weights = {lay.name: (rng.standard_normal(lay.weight_shape).astype(np.float32),
                          rng.standard_normal(lay.weight_shape[0]).astype(np.float32))
               for lay in net.weight_layers}
    return net, weights


def _zoo_case(name):
    net = zoo.build(name, (64, 128) if name == "squeezedet" else (64, 64))
    return net, synthetic_model(net)


@pytest.mark.parametrize("case", ["mixed", "enet", "mobilenet_v2", "squeezedet"])
def test_forward_layer_is_the_forward_pass(case):
    net, weights = _mixed_net() if case == "mixed" else _zoo_case(case)
    res = forward(net, weights)
    assert not any(set(lay.tops) & set(lay.bottoms) for lay in net.layers)   # blobs are final
    types = set()
    for lay in net.layers:
        y = forward_layer(lay, [res.blobs[b] for b in lay.bottoms], weights)
        ref = res.blobs[lay.tops[0]]
        assert y.dtype == ref.dtype and np.array_equal(y, ref), lay.name
        types.add(lay.type)
    if case == "enet":
        assert {"Unpool", "Deconvolution", "Eltwise", "ChannelPad", "PReLU"} <= types
    if case == "mixed":
        assert {"BatchNorm", "LRN", "Flatten", "Concat", "Clip", "Softmax"} <= types


def test_forward_layer_concat_and_multi_input_eltwise():
    b = NetBuilder("m", (1, 2, 4, 4))
    x = b.relu("r", b.input)
    b.eltwise("sum3", [b.input, x, x])
    b.concat("cat", [b.input, x, b.input])
    net = b.build()
    a = synthetic_input((1, 2, 4, 4))
    r = np.maximum(a, 0)
    s = forward_layer(net.layer("sum3"), [a, r, r], {})
    assert np.array_equal(s, (a.copy() + r) + r)
    c = forward_layer(net.layer("cat"), [a, r, a], {})
    assert np.array_equal(c, np.concatenate([a, r, a], axis=1))


def test_forward_layer_refusals():
    b = NetBuilder("m", (1, 2, 4, 4))
    b.relu("r", b.input)
    net = b.build()
    with pytest.raises(ForwardError, match=r"layer 'r': computed \(1, 2, 3, 3\)"):
        forward_layer(net.layer("r"), [np.zeros((1, 2, 3, 3), np.float32)], {})
    odd = Layer("odd", "Frobnicate", ["data"], ["odd"], 0, out_shapes=[(1, 2, 4, 4)])
    with pytest.raises(ForwardError, match="'Frobnicate' has no forward implementation"):
        forward_layer(odd, [np.zeros((1, 2, 4, 4), np.float32)], {})
    with pytest.raises(GraphError, match="'Frobnicate' is not supported"):
        infer_shapes(odd, [(1, 2, 4, 4)])
    with pytest.raises(ForwardError, match="no weights for parameter layer 'c'"):
        b2 = NetBuilder("w", (1, 2, 4, 4))
        b2.conv("c", b2.input, 3, kernel=1)
        forward_layer(b2.build().layer("c"), [np.zeros((1, 2, 4, 4), np.float32)], {})


@pytest.mark.parametrize("name", ["enet", "squeezedet"])
def test_layer_mxv_is_layer_workloads(name):
    net, model = _zoo_case(name)
    res = forward(net, model)
    for wl in layer_workloads(net, model, result=res):
        lay = net.layer(wl.name)
        one = layer_mxv(lay, model, res.layer_inputs[lay.name])
        assert one.name == wl.name and one.out_shape == wl.out_shape
        assert np.array_equal(one.layer.codes, wl.layer.codes)
        assert np.array_equal(one.patches, wl.patches) and one.patches.dtype == np.float32
        assert one.layer.meta == wl.layer.meta
        assert np.array_equal(one.reference(), wl.reference())
        bare = layer_mxv(lay, model)                     # the matrix alone: zero input
        assert np.array_equal(bare.layer.codes, wl.layer.codes)
        assert bare.patches.shape == wl.patches.shape and not bare.patches.any()
