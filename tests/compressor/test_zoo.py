"""The named networks of compressor.zoo (paper shapes) and the layer types they brought
(transposed and dilated convolution, max unpooling, Eltwise, Clip, PReLU, BatchNorm and
its folding, ChannelPad, floor-mode pooling), each against a direct numpy computation."""
from __future__ import annotations

import numpy as np
import pytest

from compressor import zoo
from compressor.errors import GraphError
from compressor.graph import NetBuilder
from compressor.graph.fold import fold_batchnorm
from compressor.graph.forward import (
    conv2d,
    deconv2d,
    deconv_as_conv,
    deconv_weights_as_conv,
    forward,
    im2col,
    layer_workloads,
    patches_at,
    synthetic_input,
    zero_insert,
)
from compressor.graph.net import ConvParams, network_macs
from compressor.zoo.synthetic import DENSITIES, INPUT_SCALE, layer_class, synthetic_model


def _params(net):
    return sum(int(np.prod(l.weight_shape)) for l in net.weight_layers)


# ------------------------------------------------------------------ paper shapes
def test_mobilenet_v1_shapes_macs_params():
    net = zoo.build("mobilenet_v1")
    assert net.layer("pw13").out_shapes[0] == (1, 1024, 7, 7)
    assert net.layer("conv1").out_shapes[0] == (1, 32, 112, 112)
    assert net.layer("dw13").conv.group == 1024
    assert network_macs(net) == pytest.approx(569e6, rel=0.01)        # paper: 569 M mult-adds
    assert _params(net) == pytest.approx(4.2e6, rel=0.01)             # paper: 4.2 M


def test_mobilenet_v2_shapes_macs_params():
    net = zoo.build("mobilenet_v2")
    assert net.layer("conv_last").out_shapes[0] == (1, 1280, 7, 7)
    assert net.layer("b17/project").out_shapes[0] == (1, 320, 7, 7)
    assert sum(l.type == "Eltwise" for l in net.layers) == 10          # residual bottlenecks
    assert network_macs(net) == pytest.approx(300e6, rel=0.02)        # paper: 300 M
    assert _params(net) == pytest.approx(3.4e6, rel=0.03)             # paper: 3.4 M


def test_squeezenext_squeezedet_enet_segnet_shapes():
    sq = zoo.build("squeezenext23")
    assert sum(l.type == "Eltwise" for l in sq.layers) == 21           # 21 blocks
    assert _params(sq) == pytest.approx(0.72e6, rel=0.03)              # paper: 0.72 M
    det = zoo.build("squeezedet")
    assert det.layer("conv12").out_shapes[0] == (1, 72, 22, 76)        # 9 anchors x (4+1+3), 22x76 grid
    en = zoo.build("enet")
    assert en.layer("initial/concat").out_shapes[0] == (1, 16, 256, 256)
    assert en.layer("b1.4/prelu").out_shapes[0] == (1, 64, 128, 128)
    assert en.layer("b3.8/prelu").out_shapes[0] == (1, 128, 64, 64)
    assert en.layer("b2.2/conv").conv.dilation == (2, 2)
    assert en.layer("b3.8/conv").conv.dilation == (16, 16)
    assert en.layer("b2.3/conv5x1").conv.kernel == (5, 1)
    assert en.layer("b4.2/prelu").out_shapes[0] == (1, 64, 128, 128)
    assert en.layer("b5.1/prelu").out_shapes[0] == (1, 16, 256, 256)
    assert en.layer("fullconv").out_shapes[0] == (1, 19, 512, 512)
    assert _params(en) == pytest.approx(0.37e6, rel=0.03)              # paper: 0.37 M
    seg = zoo.build("segnet")
    vgg = [(64, 3), (64, 64), (128, 64), (128, 128), (256, 128), (256, 256), (256, 256),
           (512, 256), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
    enc = [l for l in seg.weight_layers if not l.name.endswith("_D") and l.name != "conv_classifier"]
    assert [l.weight_shape for l in enc] == [(o, i, 3, 3) for o, i in vgg]   # VGG-16 conv layers
    assert seg.layer("upsample4").out_shapes[0] == (1, 512, 45, 60)
    assert seg.layers[-1].out_shapes[0] == (1, 11, 360, 480)


def test_registry_errors_and_sizes():
    with pytest.raises(GraphError, match="unknown network"):
        zoo.build("resnet")
    with pytest.raises(GraphError, match="square"):
        zoo.build("mobilenet_v1", (224, 200))
    assert zoo.parse_size("64") == (64, 64) and zoo.parse_size("32x48") == (32, 48)
    with pytest.raises(GraphError):
        zoo.parse_size("big")
    assert zoo.build("mobilenet_v1", (64, 64)).layer("pw13").out_shapes[0] == (1, 1024, 2, 2)


def test_synthetic_model_densities_seeded_and_in_range():
    net = zoo.build("mobilenet_v2", (64, 64))
    m1, m2 = synthetic_model(net, seed=3), synthetic_model(net, seed=3)
    assert all(np.array_equal(a.codes, b.codes) for a, b in zip(m1.layers, m2.layers))
    for lay in net.weight_layers:
        q = m1.layer(lay.name)
        assert q.bits == 4 and q.density == pytest.approx(DENSITIES[layer_class(net, lay)], abs=0.01)
    assert layer_class(net, net.layer("b2/dw")) == "depthwise"
    res = forward(net, m1, synthetic_input((1, 3, 64, 64), scale=INPUT_SCALE))
    assert all(np.isfinite(v).all() and np.abs(v).max() < 100 for v in res.layer_outputs.values())


# ------------------------------------------------------------------ new layer types vs numpy
def _brute_deconv(x, w, b, k, s, p, q, g):
    _, c, h, wd = x.shape
    og = w.shape[1]
    oh, ow = (h - 1) * s - 2 * p + k + q, (wd - 1) * s - 2 * p + k + q
    full = np.zeros((1, og * g, oh + 2 * p + k, ow + 2 * p + k))
    cg = c // g
    for ci in range(c):
        gi = ci // cg
        for iy in range(h):
            for ix in range(wd):
                full[0, gi * og:(gi + 1) * og, iy * s:iy * s + k, ix * s:ix * s + k] += x[0, ci, iy, ix] * w[ci]
    return full[:, :, p:p + oh, p:p + ow] + b.reshape(1, -1, 1, 1)


@pytest.mark.parametrize("k,s,p,q,g", [(3, 2, 1, 1, 1), (2, 2, 0, 0, 1), (3, 2, 1, 0, 2), (4, 3, 1, 2, 1)])
def test_deconv_direct_and_as_zero_inserted_conv(k, s, p, q, g):
    rng = np.random.default_rng(k * 10 + s)
    cp = ConvParams(6, (k, k), (s, s), (p, p), g, True, out_pad=(q, q))
    x = rng.standard_normal((1, 4, 5, 6)).astype(np.float32)
    w = rng.standard_normal((4, 6 // g, k, k)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    ref = _brute_deconv(x, w, b, k, s, p, q, g)
    assert np.allclose(deconv2d(x, w, b, cp), ref, atol=1e-4)
    y = conv2d(zero_insert(x, cp), deconv_weights_as_conv(w, g), b, deconv_as_conv(cp))
    assert np.allclose(y, ref, atol=1e-4)


def test_dilated_conv_and_patches_at():
    rng = np.random.default_rng(0)
    cp = ConvParams(3, (3, 3), (1, 1), (2, 2), 1, True, dilation=(2, 2))
    x = rng.standard_normal((1, 2, 7, 7)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    xp = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    ref = np.einsum("ocij,cyxij->oyx", w, np.stack([np.stack([xp[0, :, i:i + 7, j:j + 7]
                                                              for j in range(0, 5, 2)], -1)
                                                    for i in range(0, 5, 2)], -2))
    assert np.allclose(conv2d(x, w, None, cp)[0], ref, atol=1e-4)
    idx = np.array([0, 5, 48, 20])
    assert np.array_equal(patches_at(x, cp, idx), im2col(x, cp)[idx])
    cp2 = ConvParams(3, (2, 3), (2, 1), (1, 0))
    assert np.array_equal(patches_at(x, cp2, np.arange(8)), im2col(x, cp2)[:8])


def _net_with_all_ops():
    b = NetBuilder("ops", (1, 2, 6, 6))
    c = b.conv("c", b.input, 4, 3, pad=1)
    bn = b.batchnorm("bn", c, [1, 2, 3, 4], [0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [1, 2, 3, 4])
    p = b.pool("p", bn, "MAX", kernel=2, stride=2)
    u = b.unpool("u", p, bn, 2, 2)
    e = b.eltwise("e", [u, bn])
    r = b.relu6("r6", e)
    pr = b.prelu("pr", r, [0.1, 0.2, 0.3, 0.4])
    cpd = b.channel_pad("cp", pr, 6)
    b.deconv("d", cpd, 3, 3, stride=2, pad=1, out_pad=1, bias=False)
    return b.build()


def test_new_ops_forward_against_numpy():
    net = _net_with_all_ops()
    rng = np.random.default_rng(1)
    W = {"c": (rng.standard_normal((4, 2, 3, 3)).astype(np.float32), rng.standard_normal(4).astype(np.float32)),
         "d": (rng.standard_normal((6, 3, 3, 3)).astype(np.float32), None)}
    r = forward(net, W)
    bl = r.blobs
    g, be, mu, var = (np.array(v, np.float64).reshape(1, -1, 1, 1) for v in
                      ([1, 2, 3, 4], [0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [1, 2, 3, 4]))
    assert np.allclose(bl["bn"], g * (bl["c"] - mu) / np.sqrt(var + 1e-5) + be, atol=1e-4)
    # unpool: each 2x2 window keeps only its maximum, in place
    x = bl["bn"]
    for c in range(4):
        for i in range(3):
            for j in range(3):
                win, uw = x[0, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2], bl["u"][0, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                a = np.unravel_index(np.argmax(win), win.shape)
                assert uw[a] == win[a] and np.count_nonzero(uw) <= 1
    assert np.allclose(bl["e"], bl["u"] + bl["bn"])
    assert np.allclose(bl["r6"], np.clip(bl["e"], 0, 6))
    a = np.array([0.1, 0.2, 0.3, 0.4]).reshape(1, -1, 1, 1)
    assert np.allclose(bl["pr"], np.where(bl["r6"] > 0, bl["r6"], a * bl["r6"]))
    assert bl["cp"].shape == (1, 6, 6, 6) and not bl["cp"][:, 4:].any()
    assert bl["d"].shape == (1, 3, 12, 12)
    # BatchNorm folded into the convolution gives the same network output
    net2, W2 = fold_batchnorm(net, W)
    assert "bn" not in [l.name for l in net2.layers]
    assert np.allclose(forward(net2, W2).blobs["d"], bl["d"], atol=1e-3)


def test_fold_refuses_and_shape_errors():
    b = NetBuilder("bad", (1, 2, 4, 4))
    p = b.pool("p", b.input, "MAX", kernel=2, stride=2)
    b.batchnorm("bn", p, [1, 1], [0, 0], [0, 0], [1, 1])
    with pytest.raises(GraphError, match="cannot be folded"):
        fold_batchnorm(b.build(), {})
    b = NetBuilder("bad2", (1, 2, 4, 4))
    c = b.conv("c", b.input, 3, 1)
    with pytest.raises(GraphError, match="different shapes"):
        b.eltwise("e", [c, b.input])
    with pytest.raises(GraphError, match="out_pad"):
        b.deconv("d", c, 2, 3, stride=2, out_pad=2)
    with pytest.raises(GraphError, match="pooled shape"):
        b.unpool("u", c, b.input, 2, 2)


def test_floor_pooling_and_deconv_workload_matches_forward():
    b = NetBuilder("w", (1, 3, 9, 9))
    x = b.pool("pf", b.input, "MAX", kernel=3, stride=2, ceil_mode=False)
    assert b.shape(x) == (1, 3, 4, 4)
    x = b.conv("c", x, 4, 3, pad=2, dilation=2)
    b.deconv("d", x, 5, 3, stride=2, pad=1, out_pad=1, bias=False)
    net = b.build()
    m = synthetic_model(net, seed=5)
    res = forward(net, m)
    for wl in layer_workloads(net, m, result=res):
        assert np.allclose(wl.reference(), res.layer_outputs[wl.name], atol=1e-4)


def test_docs_shape_tables_are_the_builders_output():
    import pathlib

    from compressor.zoo.tables import shape_table
    page = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "networks.md").read_text()
    for name in zoo.names():
        assert shape_table(zoo.build(name)) in page, f"docs/networks.md: {name} table is stale"
