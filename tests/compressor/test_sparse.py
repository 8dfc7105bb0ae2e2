"""Relative-index sparse encoding with filler entries (Deep Compression sec. 2, EIE)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from compressor.sparse import ORDERS, SparseStream, decode, encode, flatten


def test_gap_convention_and_fillers_by_hand():
    # 2-bit index: stored value = zeros before the entry (0..3); a filler lands 4 after
    flat = np.zeros(20, dtype=np.uint8)
    flat[[0, 4, 13, 14]] = [5, 6, 7, 1]
    st_ = encode(flat.reshape(1, 20), 2, "csr")
    # entry at 0: 0 zeros; at 4: 3 zeros; at 13: 8 zeros -> fillers at 8 and 12, then 0
    np.testing.assert_array_equal(st_.codes, [5, 6, 0, 0, 7, 1])
    np.testing.assert_array_equal(st_.gaps, [0, 3, 3, 3, 0, 0])
    np.testing.assert_array_equal(st_.positions(), [0, 4, 8, 12, 13, 14])
    assert (st_.n_entries, st_.n_fillers, st_.nnz) == (6, 2, 4)
    np.testing.assert_array_equal(decode(st_).ravel(), flat)


def test_gap_exactly_max_needs_no_filler_and_one_more_needs_one():
    for gap, fillers in [(3, 0), (4, 1), (7, 1), (8, 2)]:
        flat = np.zeros(gap + 1, dtype=np.uint8)
        flat[gap] = 1
        s = encode(flat[None, :], 2, "csr")
        assert s.n_fillers == fillers, gap
        np.testing.assert_array_equal(decode(s).ravel(), flat)


def test_csc_is_column_major():
    codes = np.array([[0, 2], [3, 0]], dtype=np.uint8)
    s = encode(codes, 4, "csc")
    np.testing.assert_array_equal(s.codes, [3, 2])  # column 0 then column 1
    np.testing.assert_array_equal(s.positions(), [1, 2])
    np.testing.assert_array_equal(s.gaps, [1, 0])
    s = encode(codes, 4, "csr")
    np.testing.assert_array_equal(s.codes, [2, 3])
    np.testing.assert_array_equal(s.gaps, [1, 0])


def test_conv_c_order_and_order_checks():
    codes = np.zeros((2, 3, 2, 2), dtype=np.uint8)
    codes[1, 2, 1, 0] = 9
    s = encode(codes, 3, "c")
    assert s.positions()[-1] == np.ravel_multi_index((1, 2, 1, 0), codes.shape)
    np.testing.assert_array_equal(decode(s), codes)
    with pytest.raises(ValueError, match="order 'csc' needs a 2-D"):
        encode(codes, 3, "csc")
    with pytest.raises(ValueError, match="order must be one of .* got 'zigzag'"):
        encode(codes, 3, "zigzag")
    with pytest.raises(ValueError, match=r"index_bits must be in 1\.\.16, got 0"):
        encode(codes, 0, "c")


def test_empty_and_dense():
    z = np.zeros((5, 7), dtype=np.uint8)
    s = encode(z, 4, "csc")
    assert s.n_entries == 0 and s.n_fillers == 0
    np.testing.assert_array_equal(decode(s), z)
    d = np.ones((5, 7), dtype=np.uint8)
    s = encode(d, 1, "csc")
    assert s.n_entries == 35 and np.all(s.gaps == 0)
    np.testing.assert_array_equal(decode(s), d)


def test_decode_rejects_inconsistent_streams():
    good = encode(np.eye(4, dtype=np.uint8), 2, "csr")
    bad = SparseStream(good.codes, good.gaps.copy(), good.n_entries, good.n_fillers, (2, 2), "csr", 2)
    with pytest.raises(ValueError, match="past the end"):
        decode(bad)
    bad = SparseStream(good.codes[:-1], good.gaps, good.n_entries, good.n_fillers, (4, 4), "csr", 2)
    with pytest.raises(ValueError, match="stream says 7 entries but holds 6 codes and 7 gaps"):
        decode(bad)
    bad = SparseStream(good.codes, good.gaps + 4, good.n_entries, good.n_fillers, (4, 4), "csr", 2)
    with pytest.raises(ValueError, match="does not fit"):
        decode(bad)


def test_filler_count_matches_formula():
    rng = np.random.default_rng(0)
    codes = (rng.random((64, 64)) < 0.05).astype(np.uint8) * 3
    for b in range(1, 9):
        s = encode(codes, b, "csc")
        pos = np.flatnonzero(flatten(codes, "csc"))
        gaps = np.diff(np.concatenate([[-1], pos])) - 1
        assert s.n_fillers == int(np.sum(gaps // 2 ** b))
        assert s.gaps.max() < 2 ** b


@st.composite
def sparse_tensor(draw):
    bits = draw(st.integers(1, 8))
    conv = draw(st.booleans())
    if conv:
        shape = tuple(draw(st.lists(st.integers(1, 5), min_size=4, max_size=4)))
        order = "c"
    else:
        shape = (draw(st.integers(1, 30)), draw(st.integers(1, 30)))
        order = draw(st.sampled_from(["csc", "csr"]))
    density = draw(st.floats(0.0, 1.0))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    codes = rng.integers(1, 2 ** bits, size=shape) * (rng.random(shape) < density)
    return codes.astype(np.uint8), order


@settings(max_examples=150, deadline=None)
@given(sparse_tensor(), st.integers(1, 8))
def test_roundtrip_property(tc, index_bits):
    codes, order = tc
    s = encode(codes, index_bits, order)
    assert s.n_entries == s.codes.size == s.gaps.size
    assert s.nnz == np.count_nonzero(codes)
    assert np.all(s.codes[s.gaps == 2 ** index_bits - 1] >= 0)
    assert np.all(s.gaps < 2 ** index_bits)
    np.testing.assert_array_equal(decode(s), codes)


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.uint16, st.tuples(st.integers(1, 12), st.integers(1, 12)),
                  elements=st.sampled_from([0, 0, 0, 1, 255, 256, 65535])),
       st.integers(1, 16), st.sampled_from(ORDERS))
def test_roundtrip_wide_codes_and_indices(codes, index_bits, order):
    s = encode(codes, index_bits, order)
    np.testing.assert_array_equal(decode(s), codes)
