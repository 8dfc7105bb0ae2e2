"""Canonical Huffman coding (Deep Compression sec. 4)."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from compressor.errors import HuffmanError
from compressor.huffman import canonical_codes, code_lengths, decode, encode


def _kraft(lengths):
    l = np.asarray(lengths, dtype=float)
    return float(np.sum(2.0 ** -l[l > 0]))


def test_classic_example():
    # frequencies 45,13,12,16,9,5 -> lengths 1,3,3,3,4,4 (CLRS's example)
    lens = code_lengths([45, 13, 12, 16, 9, 5])
    np.testing.assert_array_equal(lens, [1, 3, 3, 3, 4, 4])
    codes = canonical_codes(lens)
    as_str = [format(int(c), f"0{l}b") for c, l in zip(codes, lens)]
    assert as_str == ["0", "100", "101", "110", "1110", "1111"]


def test_absent_symbols_and_single_symbol():
    lens = code_lengths([0, 7, 0])
    np.testing.assert_array_equal(lens, [0, 1, 0])
    packed, n = encode([1, 1, 1], lens)
    assert n == 3 and packed.tolist() == [0]
    np.testing.assert_array_equal(decode(packed, n, lens, 3), [1, 1, 1])
    assert code_lengths([0, 0]).tolist() == [0, 0]
    assert code_lengths([]).size == 0


def test_empty_stream():
    lens = code_lengths([3, 1])
    packed, n = encode(np.array([], dtype=np.int64), lens)
    assert n == 0 and packed.size == 0
    assert decode(packed, 0, lens, 0).size == 0
    assert decode(np.zeros(0, np.uint8), 0, np.zeros(4, np.uint8), 0).size == 0


def test_msb_first_packing():
    lens = np.array([1, 2, 2])  # codes 0, 10, 11
    packed, n = encode([1, 2, 0, 0, 1], lens)  # 10 11 0 0 10 -> 1011 0010
    assert n == 8 and packed.tolist() == [0b10110010]
    packed, n = encode([2, 2, 2], lens)  # 111111 + 00 padding
    assert n == 6 and packed.tolist() == [0b11111100]


def _brute_limited_cost(freqs, limit):
    best = None
    for lens in itertools.product(range(1, limit + 1), repeat=len(freqs)):
        if sum(2.0 ** -l for l in lens) <= 1.0:
            cost = sum(f * l for f, l in zip(freqs, lens))
            best = cost if best is None else min(best, cost)
    return best


@pytest.mark.parametrize("freqs,limit", [([1, 1, 2, 4, 8, 16], 3), ([1, 2, 3, 5, 8, 13, 21], 4),
                                         ([1, 1, 1, 1, 100], 3), ([5, 1, 1, 1, 1, 1, 1], 3),
                                         ([1, 2, 4, 8, 16, 32], 5)])
def test_length_limited_is_optimal(freqs, limit):
    lens = code_lengths(freqs, max_length=limit)
    assert lens.max() <= limit and _kraft(lens) <= 1.0
    assert int(np.dot(lens, freqs)) == _brute_limited_cost(freqs, limit)


def test_unlimited_huffman_is_optimal_small():
    rng = np.random.default_rng(3)
    for _ in range(20):
        f = rng.integers(1, 50, size=rng.integers(2, 6))
        lens = code_lengths(f)
        assert int(np.dot(lens, f)) == _brute_limited_cost(list(f), len(f) - 1)


def test_fibonacci_frequencies_are_limited_to_32_bits():
    fib = [1, 1]
    while len(fib) < 45:
        fib.append(fib[-1] + fib[-2])
    lens = code_lengths(np.array(fib))
    assert lens.max() == 32 and _kraft(lens) <= 1.0
    assert code_lengths(np.array(fib[:30])).max() == 29  # unlimited when it fits
    rng = np.random.default_rng(0)
    sym = rng.integers(0, 45, 5000)
    packed, n = encode(sym, lens)
    np.testing.assert_array_equal(decode(packed, n, lens, sym.size), sym)
    with pytest.raises(ValueError, match="3 symbols cannot have codes of at most 1 bits"):
        code_lengths([1, 1, 1], max_length=1)


def test_decode_errors():
    lens = np.array([1, 2, 2])
    packed, n = encode([1, 2, 0], lens)  # 10 11 0
    with pytest.raises(HuffmanError, match="middle of symbol"):
        decode(packed, n - 1, lens, 3)
    with pytest.raises(HuffmanError, match="left over"):
        decode(packed, n, lens, 2)
    with pytest.raises(HuffmanError, match="cannot hold"):
        decode(packed[:0], n, lens, 3)
    with pytest.raises(HuffmanError, match="middle of symbol"):
        decode(packed, n, lens, 4)
    # incomplete code: only '0' is valid, a '1' bit is an invalid prefix
    single = np.array([0, 1])
    with pytest.raises(HuffmanError, match="invalid code"):
        decode(np.array([0b01000000], np.uint8), 2, single, 2)
    with pytest.raises(HuffmanError, match="over-subscribed"):
        decode(packed, n, np.array([1, 1, 1]), 3)
    with pytest.raises(HuffmanError, match="no code"):
        encode([0, 1], np.array([0, 1]))
    with pytest.raises(HuffmanError, match="no symbols"):
        decode(packed, n, np.zeros(3, np.uint8), 3)


def test_invalid_long_prefix_detected_in_slow_path():
    # lengths up to 14 bits with an incomplete code: an all-ones pattern is invalid
    lens = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
    packed = np.array([0xFF, 0xFF], np.uint8)
    with pytest.raises(HuffmanError, match="invalid code"):
        decode(packed, 16, lens, 1)
    sym = np.arange(14)
    p, n = encode(sym, lens)
    np.testing.assert_array_equal(decode(p, n, lens, 14), sym)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=300), st.integers(0, 2**31 - 1),
       st.integers(0, 2000), st.one_of(st.none(), st.integers(9, 20)))
def test_roundtrip_property(freqs, seed, n, limit):
    f = np.array(freqs)
    if f.sum() == 0:
        f[0] = 1
    if limit is not None and np.count_nonzero(f) > 2 ** limit:
        limit = None
    lens = code_lengths(f, max_length=limit)
    assert _kraft(lens) <= 1.0 + 1e-12
    assert np.all((lens > 0) == (f > 0))
    rng = np.random.default_rng(seed)
    sym = rng.choice(f.size, size=n, p=f / f.sum())
    packed, nbits = encode(sym, lens)
    assert nbits == int(lens[sym].sum()) and packed.size == (nbits + 7) // 8
    np.testing.assert_array_equal(decode(packed, nbits, lens, n), sym)
    # canonical codes are a prefix code: no code is a prefix of another
    codes = canonical_codes(lens)
    strs = sorted(format(int(c), f"0{l}b") for c, l in zip(codes, lens) if l > 0)
    assert all(not b.startswith(a) for a, b in zip(strs, strs[1:]))
