"""Magnitude pruning (NIPS 2015 rule: threshold = quality x std of the layer)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from compressor.prune import apply_mask, prune_mask, threshold_for_quality


def test_threshold_is_quality_times_std():
    w = np.array([[-2.0, 0.5], [1.0, 0.5]])
    assert threshold_for_quality(w, 1.5) == pytest.approx(1.5 * np.std(w))
    assert threshold_for_quality(w, 0.0) == 0.0


def test_threshold_nonzero_only_ignores_already_pruned():
    w = np.array([0.0, 0.0, 1.0, -1.0])
    assert threshold_for_quality(w, 1.0, nonzero_only=True) == pytest.approx(1.0)
    assert threshold_for_quality(w, 1.0) == pytest.approx(np.std(w))


def test_quality_mode_removes_below_threshold():
    w = np.array([0.1, -0.2, 3.0, -4.0, 0.05, 2.5])
    t = threshold_for_quality(w, 0.5)
    m = prune_mask(w, quality=0.5)
    np.testing.assert_array_equal(m, np.abs(w) > t)
    assert m.dtype == bool and m.shape == w.shape


def test_quality_zero_only_removes_exact_zeros():
    w = np.array([[0.0, 1e-9], [-1e-9, 0.0]])
    np.testing.assert_array_equal(prune_mask(w, quality=0.0), [[False, True], [True, False]])


def test_density_mode_keeps_largest_fraction():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(100, 50))
    m = prune_mask(w, density=0.09)
    assert m.sum() == round(0.09 * w.size)
    assert np.abs(w[m]).min() >= np.abs(w[~m]).max()


@pytest.mark.parametrize("density,expected", [(0.0, 0), (1.0, 12), (0.5, 6)])
def test_density_edges(density, expected):
    w = np.arange(12, dtype=float).reshape(3, 4) - 5.5
    assert prune_mask(w, density=density).sum() == expected


def test_exactly_one_mode():
    w = np.ones(3)
    with pytest.raises(ValueError, match="give exactly one of quality= or density="):
        prune_mask(w)
    with pytest.raises(ValueError, match="give exactly one of quality= or density="):
        prune_mask(w, quality=1.0, density=0.5)
    with pytest.raises(ValueError, match=r"density must lie in \[0, 1\], got 1.5"):
        prune_mask(w, density=1.5)
    with pytest.raises(ValueError, match="quality must be a finite number >= 0, got -1.0"):
        threshold_for_quality(w, -1.0)


def test_apply_mask_zeroes_exactly():
    w = np.array([-1.5, -0.1, 0.2, 3.0], dtype=np.float32)
    out = apply_mask(w, prune_mask(w, quality=0.5))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [-1.5, 0.0, 0.0, 3.0])
    assert not np.signbit(out[1])  # +0.0, not -0.0
    with pytest.raises(ValueError, match=r"mask shape \(3,\) does not match weight shape \(4,\)"):
        apply_mask(w, np.ones(3, bool))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 500), st.floats(0, 1), st.integers(0, 2**31 - 1))
def test_density_count_property(n, density, seed):
    w = np.random.default_rng(seed).normal(size=n)
    m = prune_mask(w, density=density)
    assert m.sum() == round(density * n)
    if 0 < m.sum() < n:
        assert np.abs(w[m]).min() >= np.abs(w[~m]).max()
