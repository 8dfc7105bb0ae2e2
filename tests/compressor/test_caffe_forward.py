"""compressor.graph.forward against naive loop implementations of Caffe's definitions."""
import numpy as np
import pytest

from compressor.graph.forward import forward, layer_workloads, synthetic_input
from compressor.caffe.prototxt import parse_net
from compressor.caffe.textformat import parse_text
from compressor.errors import ForwardError
from compressor.model import QuantizedLayer, QuantizedModel

TEXT = """
input: "data" input_dim: 1 input_dim: 4 input_dim: 11 input_dim: 10
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 6 kernel_size: 3 stride: 2 pad: 1 group: 2 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "pa" type: "Pooling" bottom: "conv1" top: "pa"
        pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "e1" type: "Convolution" bottom: "pool1" top: "e1"
        convolution_param { num_output: 3 kernel_size: 1 } }
layer { name: "e3" type: "Convolution" bottom: "pool1" top: "e3"
        convolution_param { num_output: 3 kernel_h: 3 kernel_w: 1 pad_h: 1 } }
layer { name: "cat" type: "Concat" bottom: "e1" bottom: "e3" top: "cat" }
layer { name: "drop" type: "Dropout" bottom: "cat" top: "cat" }
layer { name: "fc1" type: "InnerProduct" bottom: "cat" top: "fc1"
        inner_product_param { num_output: 5 } }
layer { name: "prob" type: "Softmax" bottom: "fc1" top: "prob" }
"""


def _model(net, seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for lay in net.weight_layers:
        codes = rng.integers(0, 16, size=lay.weight_shape)
        cb = np.concatenate([[0.0], rng.normal(scale=0.5, size=15)]).astype(np.float32)
        kind = "conv" if len(lay.weight_shape) == 4 else "fc"
        layers.append(QuantizedLayer(lay.name, kind, codes, cb, rng.normal(size=lay.weight_shape[0]), 4, 4))
    return QuantizedModel(layers)


def naive_conv(x, w, b, stride, pad, group):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    sh, sw = stride
    ph, pw = pad
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, o, oh, ow))
    og = o // group
    for f in range(o):
        g = f // og
        for i in range(oh):
            for j in range(ow):
                win = xp[0, g * cg:(g + 1) * cg, i * sh:i * sh + kh, j * sw:j * sw + kw]
                y[0, f, i, j] = (win * w[f]).sum() + b[f]
    return y


def naive_pool(x, k, s, p, method, oh, ow):
    n, c, h, w = x.shape
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * s - p, j * s - p
            he, we = min(hs + k, h + p), min(ws + k, w + p)
            size = (he - hs) * (we - ws)
            hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
            win = x[:, :, hs:he, ws:we]
            y[:, :, i, j] = win.max(axis=(2, 3)) if method == "MAX" else win.sum(axis=(2, 3)) / size
    return y


def test_forward_matches_naive_definitions():
    net = parse_net(parse_text(TEXT))
    m = _model(net)
    x = synthetic_input(net.inputs["data"], seed=3)
    r = forward(net, m, x)
    c1 = naive_conv(x, m.layer("conv1").weights(), m.layer("conv1").bias, (2, 2), (1, 1), 2)
    np.testing.assert_allclose(r.layer_outputs["conv1"], c1, rtol=1e-5, atol=1e-4)
    relu = np.maximum(c1, 0)
    assert r.blobs["conv1"].shape == (1, 6, 6, 5)
    np.testing.assert_allclose(r.blobs["pool1"], naive_pool(relu, 2, 2, 0, "MAX", 3, 3), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(r.blobs["pa"], naive_pool(relu, 3, 2, 1, "AVE", 4, 3), rtol=1e-5, atol=1e-4)
    p1 = r.blobs["pool1"]
    e3 = naive_conv(p1, m.layer("e3").weights(), m.layer("e3").bias, (1, 1), (1, 0), 1)
    np.testing.assert_allclose(r.layer_outputs["e3"], e3, rtol=1e-5, atol=1e-4)
    assert r.blobs["cat"].shape == (1, 6, 3, 3)
    prob = r.blobs["prob"]
    assert prob.shape == (1, 5) and abs(prob.sum() - 1) < 1e-5
    assert 0 < r.relu_density["relu1"] < 1


def test_pool_ceil_mode_window_overhang():
    # 6 wide, kernel 3 stride 2 -> ceil((6-3)/2)+1 = 3 outputs; the last window overhangs
    net = parse_net(parse_text('input: "d" input_dim: 1 input_dim: 1 input_dim: 6 input_dim: 6\n'
                               'layer { name: "p" type: "Pooling" bottom: "d" top: "p" '
                               'pooling_param { pool: AVE kernel_size: 3 stride: 2 } }'))
    x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6)
    y = forward(net, {}, x).blobs["p"]
    assert y.shape == (1, 1, 3, 3)
    # the overhanging window holds rows/cols 4..5 only and Caffe divides by the clipped 2x2
    assert y[0, 0, 2, 2] == pytest.approx(x[0, 0, 4:, 4:].mean())
    np.testing.assert_allclose(y, naive_pool(x, 3, 2, 0, "AVE", 3, 3))


def test_workloads_reproduce_layer_outputs():
    net = parse_net(parse_text(TEXT))
    m = _model(net, seed=4)
    r = forward(net, m)
    wls = layer_workloads(net, m, result=r)
    assert [w.name for w in wls] == ["conv1", "e1", "e3", "fc1"]
    for w in wls:
        np.testing.assert_allclose(w.reference(), r.layer_outputs[w.name], rtol=1e-5, atol=1e-4)
        assert w.patches.dtype == np.float32 and w.patches.shape[1] == w.layer.codes.shape[1]
    name, mat, patches = wls[0]
    assert name == "conv1" and mat is wls[0].layer and patches is wls[0].patches
    c1 = wls[0]
    # grouped conv: block-diagonal code matrix over all 4 input channels x 3 x 3
    assert c1.layer.codes.shape == (6, 36) and not c1.layer.codes[:3, 18:].any()
    assert c1.patches.shape == (30, 36)
    assert wls[1].patches.shape == (9, 6)      # 1x1: one channel vector per position


def test_synthetic_input_is_seeded_and_smooth():
    a = synthetic_input((1, 3, 64, 64), seed=7)
    assert np.array_equal(a, synthetic_input((1, 3, 64, 64), seed=7))
    assert not np.array_equal(a, synthetic_input((1, 3, 64, 64), seed=8))
    # neighbouring pixels are strongly correlated (smooth), the image is not constant
    d = np.diff(a, axis=3).std() / a.std()
    assert a.std() > 10 and d < 0.3


def test_forward_errors():
    net = parse_net(parse_text(TEXT))
    with pytest.raises(ForwardError, match="no weights for parameter layer 'conv1'"):
        forward(net, {})
    with pytest.raises(ForwardError, match="input has shape"):
        forward(net, _model(net), np.zeros((1, 4, 5, 5), np.float32))


def test_lrn_across_channels_matches_definition():
    net = parse_net(parse_text('input: "d" input_dim: 1 input_dim: 6 input_dim: 2 input_dim: 3\n'
                               'layer { name: "n" type: "LRN" bottom: "d" top: "n" '
                               'lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 k: 2 } }'))
    x = np.random.default_rng(0).normal(size=(1, 6, 2, 3)).astype(np.float32)
    y = forward(net, {}, x).blobs["n"]
    ref = np.empty_like(x)
    for c in range(6):
        lo, hi = max(0, c - 1), min(6, c + 2)
        ref[:, c] = x[:, c] / (2 + 0.5 / 3 * (x[:, lo:hi] ** 2).sum(axis=1)) ** 0.75
    np.testing.assert_allclose(y, ref, rtol=1e-5)
