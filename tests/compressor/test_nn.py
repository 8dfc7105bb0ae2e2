"""compressor.training.nn: gradient checks on tiny layers, masked SGD, codebook-tied fine-tuning."""
import numpy as np
import pytest

from compressor.training.networks import build, lenet5, lenet300
from compressor.training.nn import (SGD, CodebookTie, Conv2D, Dense, Flatten, MaxPool2D, Network, ReLU,
                                    Reshape, softmax_cross_entropy, train)


def _to64(layer):
    layer.params = {k: v.astype(np.float64) for k, v in layer.params.items()}
    layer.grads = {k: np.zeros_like(v) for k, v in layer.params.items()}
    return layer


def _numgrad(f, a, eps=1e-6):
    g = np.zeros_like(a)
    it = np.nditer(a, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = a[i]
        a[i] = old + eps
        fp = f()
        a[i] = old - eps
        fm = f()
        a[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def _check_layer(layer, x, rng):
    """Loss = sum(forward(x) * r); compare analytic and numeric gradients."""
    y = layer.forward(x, train=True)
    r = rng.standard_normal(y.shape)
    loss = lambda: float(np.sum(layer.forward(x) * r))
    layer.forward(x, train=True)
    dx = layer.backward(r)
    for key, p in layer.params.items():
        np.testing.assert_allclose(layer.grads[key], _numgrad(loss, p), rtol=1e-5, atol=1e-7)
    if dx is not None:
        np.testing.assert_allclose(dx, _numgrad(loss, x), rtol=1e-5, atol=1e-7)


def test_dense_gradcheck():
    rng = np.random.default_rng(1)
    layer = _to64(Dense(4, 3, name="d", rng=rng))
    layer.params["bias"][:] = rng.standard_normal(3)
    _check_layer(layer, rng.standard_normal((5, 4)), rng)


def test_conv_gradcheck_and_reference():
    rng = np.random.default_rng(2)
    layer = _to64(Conv2D(2, 3, 3, name="c", rng=rng))
    layer.params["bias"][:] = rng.standard_normal(3)
    x = rng.standard_normal((2, 2, 5, 6))
    _check_layer(layer, x, rng)
    # direct-loop reference of the cross-correlation
    w, b = layer.params["weight"], layer.params["bias"]
    ref = np.zeros((2, 3, 3, 4))
    for n in range(2):
        for o in range(3):
            for i in range(3):
                for j in range(4):
                    ref[n, o, i, j] = np.sum(x[n, :, i:i + 3, j:j + 3] * w[o]) + b[o]
    np.testing.assert_allclose(layer.forward(x), ref, rtol=1e-12)


def test_maxpool_gradcheck_and_ties():
    rng = np.random.default_rng(3)
    pool = MaxPool2D(2)
    x = rng.permutation(2 * 3 * 4 * 6).reshape(2, 3, 4, 6).astype(np.float64) * 0.1
    _check_layer(pool, x, rng)
    # ties: the whole gradient goes to one element (the first maximum), never duplicated
    x = np.zeros((1, 1, 2, 2))
    pool.forward(x, train=True)
    dx = pool.backward(np.ones((1, 1, 1, 1)))
    assert dx.sum() == 1.0 and dx[0, 0, 0, 0] == 1.0


def test_relu_flatten_reshape_gradcheck():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 2, 2, 2))
    for layer in (ReLU(), Flatten()):
        _check_layer(layer, x, rng)
    _check_layer(Reshape((2, 4)), rng.standard_normal((3, 8)), rng)


def test_softmax_cross_entropy_gradcheck():
    rng = np.random.default_rng(5)
    z = rng.standard_normal((4, 5))
    y = np.array([0, 3, 4, 3])
    loss, g = softmax_cross_entropy(z, y)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(4), y])))
    np.testing.assert_allclose(g, _numgrad(lambda: softmax_cross_entropy(z, y)[0], z), rtol=1e-6, atol=1e-9)
    # huge logits stay finite
    loss, g = softmax_cross_entropy(np.array([[1e4, 0.0]]), np.array([1]))
    assert np.isfinite(loss) and np.all(np.isfinite(g))


def test_small_network_gradcheck():
    """conv -> pool -> flatten -> dense -> relu -> dense, through the loss."""
    rng = np.random.default_rng(6)
    net = Network([Reshape((1, 6, 6)), Conv2D(1, 2, 3, name="c1", rng=rng), MaxPool2D(2), Flatten(),
                   Dense(8, 5, name="f1", rng=rng), ReLU(), Dense(5, 3, name="f2", rng=rng)])
    for l in net.weighted_layers():
        _to64(l)
        l.params["bias"][:] = rng.standard_normal(l.params["bias"].shape) * 0.1
    x = rng.standard_normal((4, 36))
    y = np.array([0, 1, 2, 1])
    loss = lambda: softmax_cross_entropy(net.forward(x.astype(np.float64)), y)[0]
    _, g = softmax_cross_entropy(net.forward(x, train=True), y)
    net.backward(g)
    for l in net.weighted_layers():
        for key, p in l.params.items():
            np.testing.assert_allclose(l.grads[key], _numgrad(loss, p), rtol=1e-4, atol=1e-8)


def test_model_shapes_and_seeded_init():
    a, b, c = lenet300(0), lenet300(0), lenet300(1)
    assert [l.name for l in a.weighted_layers()] == ["ip1", "ip2", "ip3"]
    assert [l.params["weight"].shape for l in a.weighted_layers()] == [(300, 784), (100, 300), (10, 100)]
    assert a.n_params() == 266_610
    for la, lb, lc in zip(a.weighted_layers(), b.weighted_layers(), c.weighted_layers()):
        np.testing.assert_array_equal(la.params["weight"], lb.params["weight"])
        assert not np.array_equal(la.params["weight"], lc.params["weight"])
    n5 = lenet5(0)
    assert [l.name for l in n5.weighted_layers()] == ["conv1", "conv2", "ip1", "ip2"]
    assert [l.params["weight"].shape for l in n5.weighted_layers()] == [
        (20, 1, 5, 5), (50, 20, 5, 5), (500, 800), (10, 500)]
    assert n5.n_params() == 431_080
    assert n5.forward(np.zeros((2, 784), np.float32)).shape == (2, 10)
    with pytest.raises(ValueError, match="unknown model"):
        build("alexnet")


def _blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = rng.standard_normal((3, 10)) * 3
    return (centers[y] + rng.standard_normal((n, 10))).astype(np.float32), y


def _mlp(seed=0):
    rng = np.random.default_rng(seed)
    return Network([Dense(10, 16, name="a", rng=rng), ReLU(), Dense(16, 3, name="b", rng=rng)])


def test_training_learns_and_is_reproducible():
    x, y = _blobs()
    net = _mlp()
    before = net.accuracy(x, y)
    lines = []
    log = train(net, x, y, epochs=5, lr=0.05, batch_size=32, seed=1, progress=lines.append,
                eval_data=(x, y))
    assert net.accuracy(x, y) > 95.0 > before
    assert len(lines) == 5 and "epoch 5/5" in lines[-1]
    assert log.epochs[-1]["loss"] < log.epochs[0]["loss"]
    net2 = _mlp()
    train(net2, x, y, epochs=5, lr=0.05, batch_size=32, seed=1)
    np.testing.assert_array_equal(net.layer("a").params["weight"], net2.layer("a").params["weight"])


def test_masked_weights_stay_exactly_zero():
    """Pruning rule: gradient masked and mask re-applied, despite momentum and decay."""
    x, y = _blobs()
    net = _mlp()
    rng = np.random.default_rng(9)
    masks = {"a": rng.random((16, 10)) < 0.3, "b": rng.random((3, 16)) < 0.5}
    w_before = net.layer("a").params["weight"].copy()
    train(net, x, y, epochs=3, lr=0.1, momentum=0.9, weight_decay=1e-3, seed=0, masks=masks)
    for name, m in masks.items():
        w = net.layer(name).params["weight"]
        assert np.all(w[~m] == 0.0)
        assert np.count_nonzero(w[m]) == m.sum()
    assert not np.array_equal(net.layer("a").params["weight"][masks["a"]], w_before[masks["a"]])
    with pytest.raises(ValueError, match="shape"):
        SGD(net, masks={"a": np.ones((3, 3), bool)})
    with pytest.raises(KeyError, match="no layer 'zzz'"):
        SGD(net, masks={"zzz": np.ones((3, 3), bool)})


def test_codebook_tie_step_matches_paper_example():
    """Deep Compression Fig. 3: summed gradients per cluster, lr 1."""
    # Paper centroids {3: 2.00, 2: 1.50, 1: 0.00, 0: -1.00}; our code 0 is the pinned
    # pruned value, so the paper's clusters 0..3 become codes 1..4.
    idx = np.array([[3, 0, 2, 1], [1, 1, 0, 3], [0, 3, 1, 0], [3, 1, 2, 2]]) + 1
    grad = np.array([[-0.03, -0.01, 0.03, 0.02], [-0.01, 0.01, -0.02, 0.12],
                     [-0.01, 0.02, 0.04, 0.01], [-0.07, -0.02, 0.01, -0.02]])
    cb = np.array([0.0, -1.0, 0.0, 1.5, 2.0, 0, 0, 0], np.float32)
    tie = CodebookTie(cb, idx)
    w = tie.step(grad, lr=1.0)
    np.testing.assert_allclose(tie.codebook[1:5], [-0.97, -0.04, 1.48, 1.96], atol=1e-6)
    assert tie.codebook[0] == 0.0
    np.testing.assert_array_equal(w, tie.codebook[idx])


def test_tied_training_keeps_codes_and_zero():
    x, y = _blobs()
    net = _mlp()
    train(net, x, y, epochs=2, lr=0.05, seed=0)
    w = net.layer("a").params["weight"]
    mask = np.abs(w) > np.quantile(np.abs(w), 0.5)
    codes = np.zeros(w.shape, np.int64)
    edges = np.quantile(w[mask], [1 / 3, 2 / 3])
    codes[mask] = 1 + np.searchsorted(edges, w[mask])
    cb = np.zeros(4, np.float32)
    for c in (1, 2, 3):
        cb[c] = w[codes == c].mean()
    tie = CodebookTie(cb, codes, lr_scale=0.1)
    cb0 = tie.codebook.copy()
    train(net, x, y, epochs=2, lr=0.05, seed=0, masks={"a": mask}, ties={"a": tie})
    w = net.layer("a").params["weight"]
    np.testing.assert_array_equal(w, tie.codebook[codes])
    assert np.all(w[~mask] == 0.0) and tie.codebook[0] == 0.0
    assert not np.array_equal(tie.codebook, cb0)
    assert net.accuracy(x, y) > 90.0
