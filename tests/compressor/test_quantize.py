"""Trained quantization: k-means weight sharing and centroid fine-tuning (sec. 3)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from compressor.prune import prune_mask
from compressor.quantize import (INITS, assign_to_centroids, centroid_gradients, finetune_centroids,
                                 initial_centroids, kmeans_1d, quantize_layer)

# Deep Compression, Fig. 3 (reference sheet sec. 2)
FIG3_W = np.array([[2.09, -0.98, 1.48, 0.09], [0.05, -0.14, -1.08, 2.12],
                   [-0.91, 1.92, 0.0, -1.03], [1.87, 0.0, 1.53, 1.49]])
FIG3_IDX = np.array([[3, 0, 2, 1], [1, 1, 0, 3], [0, 3, 1, 0], [3, 1, 2, 2]])
FIG3_CENT = np.array([-1.00, 0.00, 1.50, 2.00])
FIG3_GRAD = np.array([[-0.03, -0.01, 0.03, 0.02], [-0.01, 0.01, -0.02, 0.12],
                      [-0.01, 0.02, 0.04, 0.01], [-0.07, -0.02, 0.01, -0.02]])
FIG3_SUMS = np.array([-0.03, 0.04, 0.02, 0.04])
FIG3_TUNED = np.array([-0.97, -0.04, 1.48, 1.96])


def test_fig3_assignment_to_nearest_centroid():
    np.testing.assert_array_equal(assign_to_centroids(FIG3_W, FIG3_CENT), FIG3_IDX)


def test_fig3_grouped_gradient_sums_without_reserved_code():
    g = centroid_gradients(FIG3_IDX, FIG3_GRAD, 4, reserve_zero=False)
    np.testing.assert_allclose(g, FIG3_SUMS, atol=1e-12)


def test_fig3_finetuned_centroids_without_reserved_code():
    new = finetune_centroids(FIG3_CENT, FIG3_IDX, FIG3_GRAD, lr=1.0, reserve_zero=False)
    np.testing.assert_allclose(new, FIG3_TUNED, atol=1e-12)
    assert new.dtype == np.float64
    new32 = finetune_centroids(FIG3_CENT.astype(np.float32), FIG3_IDX, FIG3_GRAD, 1.0, reserve_zero=False)
    assert new32.dtype == np.float32
    np.testing.assert_allclose(new32, FIG3_TUNED, atol=1e-6)


def test_fig3_with_reserved_zero_code():
    """The same example shifted up one code, with code 0 = pruned weights that receive
    gradients too: their sum is dropped and codebook[0] stays exactly 0.0."""
    codes = FIG3_IDX + 1
    codes = np.concatenate([codes, np.zeros((1, 4), int)])
    grad = np.concatenate([FIG3_GRAD, np.full((1, 4), 0.5)])
    cb = np.concatenate([[0.0], FIG3_CENT])
    g = centroid_gradients(codes, grad, 5)
    np.testing.assert_allclose(g, np.concatenate([[0.0], FIG3_SUMS]), atol=1e-12)
    new = finetune_centroids(cb, codes, grad, lr=1.0)
    assert new[0] == 0.0
    np.testing.assert_allclose(new[1:], FIG3_TUNED, atol=1e-12)
    # without the reserved code the pruned group would move
    assert finetune_centroids(cb, codes, grad, 1.0, reserve_zero=False)[0] == pytest.approx(-2.0)


def test_centroid_gradients_rejects_bad_codes():
    with pytest.raises(ValueError, match=r"code 4 at flat index 1 is outside 0\.\.3"):
        centroid_gradients(np.array([0, 4]), np.array([1.0, 1.0]), 4)
    with pytest.raises(ValueError, match=r"codes shape \(2,\) and gradient shape \(1,\) differ"):
        centroid_gradients(np.array([0, 1]), np.array([1.0]), 4)


def test_initialisations():
    v = np.array([0.0, 1.0, 2.0, 3.0, 10.0])
    np.testing.assert_allclose(initial_centroids(v, 3, "linear"), [0.0, 5.0, 10.0])
    np.testing.assert_allclose(initial_centroids(v, 5, "density"), np.quantile(v, [0.1, 0.3, 0.5, 0.7, 0.9]))
    r1 = initial_centroids(v, 3, "random", seed=3)
    assert set(r1) <= set(v) and len(set(r1)) == 3
    np.testing.assert_array_equal(r1, initial_centroids(v, 3, "random", seed=3))
    with pytest.raises(ValueError, match="init must be one of .* got 'nope'"):
        initial_centroids(v, 3, "nope")


def _brute_lloyd(x, c, max_iter=300):
    """Textbook O(nk) Lloyd for comparison (no empty clusters in the cases used)."""
    for _ in range(max_iter):
        lab = np.argmin((x[:, None] - c[None, :]) ** 2, axis=1)
        new = np.array([x[lab == j].mean() if np.any(lab == j) else c[j] for j in range(c.size)])
        if np.array_equal(new, c):
            break
        c = new
    return c


@pytest.mark.parametrize("init", INITS)
def test_kmeans_matches_textbook_lloyd(init):
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-2, 0.3, 300), rng.normal(1, 0.5, 400), rng.normal(4, 0.2, 100)])
    c0 = initial_centroids(x, 3, init, seed=2)
    cen, lab, inertia, n_iter = kmeans_1d(x, 3, c0, tol=0.0)
    ref = _brute_lloyd(x, c0)
    np.testing.assert_allclose(cen, np.sort(ref), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(lab, assign_to_centroids(x, cen))
    assert inertia == pytest.approx(np.sum((x - cen[lab]) ** 2))
    assert 1 <= n_iter <= 300


def test_kmeans_is_a_local_optimum_and_sorted():
    rng = np.random.default_rng(5)
    x = rng.normal(size=5000)
    cen, lab, inertia, _ = kmeans_1d(x, 8, "linear", tol=0.0)
    assert np.all(np.diff(cen) >= 0)
    for j in range(8):
        assert cen[j] == pytest.approx(x[lab == j].mean())


def test_kmeans_empty_clusters_are_relocated():
    # bimodal data (as after magnitude pruning): linear init puts centroids in the gap
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-3, -1, 500), rng.uniform(1, 3, 500)])
    cen, lab, _, _ = kmeans_1d(x, 7, "linear")
    assert len(np.unique(lab)) == 7  # no cluster left empty


def test_kmeans_few_distinct_values():
    cen, lab, inertia, n_iter = kmeans_1d(np.array([1.0, 1.0, 2.0]), 4)
    np.testing.assert_array_equal(cen, [1.0, 2.0, 2.0, 2.0])
    np.testing.assert_array_equal(cen[lab], [1.0, 1.0, 2.0])
    assert inertia == 0.0 and n_iter == 0
    cen, lab, inertia, _ = kmeans_1d(np.array([]), 3)
    assert cen.shape == (3,) and lab.size == 0


def test_kmeans_matches_sklearn_from_same_init():
    sk = pytest.importorskip("sklearn.cluster")
    rng = np.random.default_rng(7)
    w = rng.normal(size=20000)
    x = w[prune_mask(w, density=0.2)]
    for init in INITS:
        c0 = initial_centroids(x, 15, init, seed=0)
        cen, lab, inertia, n_iter = kmeans_1d(x, 15, c0)
        ref = sk.KMeans(15, init=c0[:, None], n_init=1, max_iter=300, tol=1e-4).fit(x[:, None])
        assert inertia == pytest.approx(ref.inertia_, rel=1e-9)
        np.testing.assert_allclose(cen, np.sort(ref.cluster_centers_.ravel()), rtol=1e-9)


@pytest.mark.parametrize("bits", [1, 2, 4, 5, 8])
def test_quantize_layer_contract(bits):
    rng = np.random.default_rng(bits)
    w = rng.normal(size=(40, 30)).astype(np.float32)
    m = prune_mask(w, density=0.3)
    cb, codes = quantize_layer(w, m, bits)
    assert cb.dtype == np.float32 and cb.shape == (2 ** bits,) and cb[0] == 0.0
    assert codes.shape == w.shape and np.issubdtype(codes.dtype, np.integer)
    assert np.all(codes[~m] == 0) and np.all(codes[m] >= 1) and codes.max() < 2 ** bits
    assert np.all(np.diff(cb[1:]) >= 0)
    # every kept weight sits at its nearest centroid among codes 1..
    q = cb[codes]
    d_best = np.min(np.abs(w[m][:, None] - cb[None, 1:]), axis=1)
    np.testing.assert_allclose(np.abs(w[m] - q[m]), d_best, atol=1e-6)


def test_quantize_layer_without_reserved_code():
    w = np.linspace(-1, 1, 64).reshape(8, 8)
    cb, codes = quantize_layer(w, None, 2, reserve_zero=False)
    assert len(np.unique(codes)) == 4
    np.testing.assert_allclose(cb, [-0.75, -0.25, 0.25, 0.75], atol=0.02)
    with pytest.raises(ValueError, match="reserve_zero=False has no code for pruned weights"):
        quantize_layer(w, w > 0, 2, reserve_zero=False)


def test_quantize_layer_all_pruned_and_16_bits():
    w = np.ones((3, 4))
    cb, codes = quantize_layer(w, np.zeros((3, 4), bool), 3)
    assert np.all(codes == 0) and np.all(cb == 0.0)
    cb, codes = quantize_layer(np.arange(12.0).reshape(3, 4) + 1, None, 10)
    assert codes.dtype == np.uint16 and cb.shape == (1024,)
    np.testing.assert_array_equal(cb[codes], np.arange(12.0).reshape(3, 4) + 1)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 6), st.sampled_from(INITS), st.integers(2, 400))
def test_quantize_property_codes_nearest(seed, bits, init, n):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=n)
    m = rng.random(n) < 0.5
    if init == "random" and m.sum() < 2 ** bits - 1:
        init = "linear"
    cb, codes = quantize_layer(w, m, bits, init=init, seed=seed)
    assert cb[0] == 0.0 and np.all(codes[~m] == 0) and np.all(codes[m] > 0)
    if m.any():
        d = np.abs(w[m][:, None] - cb[None, 1:].astype(np.float64))
        chosen = np.abs(w[m] - cb[codes[m]].astype(np.float64))
        np.testing.assert_allclose(chosen, d.min(axis=1), atol=1e-6)
