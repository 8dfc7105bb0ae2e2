"""Canonical Huffman coding of the weight-code and gap streams (Deep Compression sec. 4).

The paper Huffman-codes both the quantized weight indices and the sparse index
differences offline, saving 20-30 % more storage. Here:

* :func:`code_lengths` builds optimal prefix-code lengths from symbol frequencies
  (Huffman's algorithm) and, when ``max_length`` is given and the Huffman tree is deeper,
  optimal *length-limited* lengths by the package-merge algorithm (Larmore & Hirschberg,
  1990).
* Codes are canonical (:func:`canonical_codes`): only the lengths need storing, codes of
  equal length are consecutive integers in symbol order, shorter codes come first.
* Bitstreams are packed MSB first into ``uint8`` (the first code's first bit is bit 7 of
  byte 0); the bits after ``n_bits`` in the last byte are zero.

Code lengths are limited to :data:`MAX_CODE_LENGTH` (32) bits by the numba kernels.
"""
from __future__ import annotations

import heapq

import numba
import numpy as np

from .errors import HuffmanError

MAX_CODE_LENGTH = 32
_TABLE_BITS = 11  # decoder lookup table covers codes up to this length


# ---------------------------------------------------------------------- code lengths
def _huffman_lengths(w: np.ndarray) -> np.ndarray:
    """Unlimited Huffman code lengths of positive weights ``w`` (n >= 2): repeatedly
    merge the two lightest nodes (ties: the older node first, deterministic)."""
    n = w.size
    heap = [(f, i, i) for i, f in enumerate(w.tolist())]  # (weight, tie-break, node)
    heapq.heapify(heap)
    parent = np.full(2 * n - 1, -1, dtype=np.int64)
    nxt = n
    while len(heap) > 1:
        f1, _, a = heapq.heappop(heap)
        f2, _, b = heapq.heappop(heap)
        parent[a] = parent[b] = nxt
        heapq.heappush(heap, (f1 + f2, nxt, nxt))
        nxt += 1
    depth = np.zeros(2 * n - 1, dtype=np.int64)
    for node in range(2 * n - 3, -1, -1):  # parents have larger ids than children
        depth[node] = depth[parent[node]] + 1
    return depth[:n]


def _package_merge_lengths(w: np.ndarray, max_length: int) -> np.ndarray:
    """Optimal code lengths of positive weights ``w`` (n >= 2) under ``max_length``.

    Package-merge: level ``max_length`` holds the leaves sorted by weight; each level
    above merges the leaves with the pairwise packages of the level below. Taking the
    first ``2n - 2`` items of the top level, a leaf's code length is the number of levels
    at which it belongs to the taken prefix.
    """
    n = w.size
    order = np.argsort(w, kind="stable")
    leaves = w[order].astype(np.float64)
    levels = []  # per level (top = index 0 after reversing): is-leaf flags of the merged list
    cur_w = leaves
    cur_leaf = np.ones(n, dtype=bool)
    levels.append(cur_leaf)
    for _ in range(max_length - 1):
        n_pack = cur_w.size // 2
        packs = cur_w[0:2 * n_pack:2] + cur_w[1:2 * n_pack:2]
        merged_w = np.concatenate([leaves, packs])
        merged_leaf = np.concatenate([np.ones(n, bool), np.zeros(n_pack, bool)])
        idx = np.argsort(merged_w, kind="stable")  # leaves first among equal weights
        cur_w = merged_w[idx]
        cur_leaf = merged_leaf[idx]
        levels.append(cur_leaf)
    lengths_sorted = np.zeros(n, dtype=np.int64)
    take = 2 * n - 2
    for is_leaf in reversed(levels):  # from the top level down
        if take == 0:
            break
        prefix = is_leaf[:take]
        n_leaves = int(prefix.sum())
        lengths_sorted[:n_leaves] += 1
        take = 2 * (take - n_leaves)
    lengths = np.empty(n, dtype=np.int64)
    lengths[order] = lengths_sorted
    return lengths


def code_lengths(freqs, max_length: int | None = None) -> np.ndarray:
    """Prefix-code lengths (uint8, one per symbol; 0 = symbol absent) from frequencies.

    Symbols of frequency 0 get no code. A single present symbol gets a 1-bit code. With
    ``max_length`` no length exceeds it (package-merge when the plain Huffman tree is
    deeper; optimal among codes so limited). ``max_length`` defaults to
    :data:`MAX_CODE_LENGTH`, the longest code the kernels handle.
    """
    f = np.asarray(freqs)
    if f.ndim != 1:
        raise ValueError("freqs must be 1-D")
    if f.size and (f.min() < 0 or not np.all(np.isfinite(f))):
        raise ValueError("frequencies must be finite and >= 0")
    limit = MAX_CODE_LENGTH if max_length is None else int(max_length)
    if not 1 <= limit <= MAX_CODE_LENGTH:
        raise ValueError(f"max_length must be in 1..{MAX_CODE_LENGTH}, got {max_length}")
    out = np.zeros(f.size, dtype=np.uint8)
    present = np.flatnonzero(f > 0)
    if present.size == 0:
        return out
    if present.size == 1:
        out[present] = 1
        return out
    if present.size > 2 ** limit:
        raise ValueError(f"{present.size} symbols cannot have codes of at most {limit} bits")
    w = f[present]
    lens = _huffman_lengths(w)
    if lens.max() > limit:
        lens = _package_merge_lengths(w, limit)
    out[present] = lens
    return out


def _check_lengths(lengths) -> np.ndarray:
    lens = np.asarray(lengths)
    if lens.ndim != 1:
        raise HuffmanError("code lengths must be 1-D")
    if lens.size and (lens.min() < 0 or lens.max() > MAX_CODE_LENGTH):
        raise HuffmanError(f"code lengths must lie in 0..{MAX_CODE_LENGTH}")
    lens = lens.astype(np.int64)
    used = lens[lens > 0]
    # Kraft: sum 2**-l <= 1, in exact integer arithmetic
    if used.size and int(np.sum(np.left_shift(np.int64(1), MAX_CODE_LENGTH - used))) > 2 ** MAX_CODE_LENGTH:
        raise HuffmanError("code lengths are over-subscribed (Kraft sum > 1): not a prefix code")
    return lens


def canonical_codes(lengths) -> np.ndarray:
    """Canonical code values (uint64; the low ``lengths[s]`` bits are symbol ``s``'s code).

    Symbols are ordered by (length, symbol); the first gets all zeros and each next code
    is the previous plus one, shifted left when the length grows. Absent symbols
    (length 0) get 0.
    """
    lens = _check_lengths(lengths)
    codes = np.zeros(lens.size, dtype=np.uint64)
    order = np.lexsort((np.arange(lens.size), lens))
    code = 0
    prev_len = 0
    first = True
    for s in order:
        ln = int(lens[s])
        if ln == 0:
            continue
        if first:
            code = 0
            first = False
        else:
            code = (code + 1) << (ln - prev_len)
        prev_len = ln
        codes[s] = code
    return codes


# ------------------------------------------------------------------------- encoding
@numba.njit(cache=True)
def _encode_kernel(symbols, codes, lens, out):
    acc = np.uint64(0)
    nacc = 0
    o = 0
    for i in range(symbols.shape[0]):
        s = symbols[i]
        ln = lens[s]
        acc = (acc << np.uint64(ln)) | codes[s]
        nacc += ln
        while nacc >= 8:
            nacc -= 8
            out[o] = np.uint8((acc >> np.uint64(nacc)) & np.uint64(0xFF))
            o += 1
        acc &= (np.uint64(1) << np.uint64(nacc)) - np.uint64(1)
    if nacc > 0:
        out[o] = np.uint8((acc << np.uint64(8 - nacc)) & np.uint64(0xFF))


def encode(symbols, lengths) -> tuple[np.ndarray, int]:
    """Huffman-encode ``symbols`` with the canonical code of ``lengths``.

    Returns ``(packed, n_bits)``: MSB-first packed bytes (``ceil(n_bits / 8)`` of them)
    and the number of meaningful bits. Every symbol must have a code (length > 0).
    """
    lens = _check_lengths(lengths)
    sym = np.ascontiguousarray(np.asarray(symbols).ravel()).astype(np.int64)
    if sym.size == 0:
        return np.zeros(0, dtype=np.uint8), 0
    if sym.min() < 0 or sym.max() >= lens.size:
        raise HuffmanError(f"symbols must lie in 0..{lens.size - 1}")
    sym_lens = lens[sym]
    if sym_lens.min() == 0:
        bad = int(sym[np.argmin(sym_lens)])
        raise HuffmanError(f"symbol {bad} occurs but has no code (length 0)")
    n_bits = int(sym_lens.sum())
    out = np.zeros((n_bits + 7) // 8, dtype=np.uint8)
    _encode_kernel(sym, canonical_codes(lens), lens, out)
    return out, n_bits


# ------------------------------------------------------------------------- decoding
def _decode_tables(lens: np.ndarray):
    """Canonical decoding tables: per length the first code, the count and the offset
    into the (length, symbol)-sorted symbol list; plus a lookup table for short codes."""
    order = np.lexsort((np.arange(lens.size), lens))
    sorted_syms = order[lens[order] > 0].astype(np.int64)
    count = np.bincount(lens, minlength=MAX_CODE_LENGTH + 1).astype(np.int64)
    count[0] = 0
    first = np.zeros(MAX_CODE_LENGTH + 1, dtype=np.int64)
    offset = np.zeros(MAX_CODE_LENGTH + 1, dtype=np.int64)
    code = 0
    off = 0
    for ln in range(1, MAX_CODE_LENGTH + 1):
        code <<= 1
        first[ln] = code
        offset[ln] = off
        code += count[ln]
        off += count[ln]
    # lookup table: for every T-bit window, the symbol and length of a code of length
    # <= T that prefixes it, or length 0 (longer code / invalid: use the slow path)
    tb = _TABLE_BITS
    t_sym = np.zeros(1 << tb, dtype=np.int64)
    t_len = np.zeros(1 << tb, dtype=np.int64)
    codes = canonical_codes(lens)
    for s in sorted_syms:
        ln = int(lens[s])
        if ln > tb:
            break
        base = int(codes[s]) << (tb - ln)
        t_sym[base:base + (1 << (tb - ln))] = s
        t_len[base:base + (1 << (tb - ln))] = ln
    # largest valid ln-bit prefix: the last canonical code (longest length) cut to ln
    max_len = int(lens.max())
    last = int(codes[sorted_syms[-1]])
    limit = np.full(MAX_CODE_LENGTH + 1, -1, dtype=np.int64)
    for ln in range(1, max_len + 1):
        limit[ln] = last >> (max_len - ln)
    return sorted_syms, count, first, offset, limit, max_len, t_sym, t_len


@numba.njit(cache=True)
def _decode_kernel(packed, n_bits, n_symbols, sorted_syms, count, first, offset, limit, max_len,
                   t_sym, t_len, tb, out):
    """Returns (status, index): status 0 ok, 1 ran out of bits in symbol ``index``,
    2 invalid prefix at symbol ``index``, 3 bits left over after the last symbol."""
    pos = 0  # bit position
    n_bytes = packed.shape[0]
    for i in range(n_symbols):
        # fast path: peek tb bits (zeros past the end) through a 24-bit window
        b0 = pos >> 3
        x = 0
        for b in range(3):
            x <<= 8
            if b0 + b < n_bytes:
                x |= packed[b0 + b]
        win = (x >> (24 - (pos & 7) - tb)) & ((1 << tb) - 1)
        ln = t_len[win]
        if ln > 0:
            if pos + ln > n_bits:
                return 1, i
            out[i] = t_sym[win]
            pos += ln
            continue
        # slow path: canonical decoding bit by bit
        code = 0
        ln = 0
        found = False
        while ln < max_len:
            if pos + ln >= n_bits:
                return 1, i
            p = pos + ln
            bit = (packed[p >> 3] >> (7 - (p & 7))) & 1
            code = (code << 1) | bit
            ln += 1
            if code > limit[ln]:
                break  # no code starts with these bits
            d = code - first[ln]
            if d >= 0 and d < count[ln]:
                out[i] = sorted_syms[offset[ln] + d]
                found = True
                break
        if not found:
            return 2, i
        pos += ln
    if pos != n_bits:
        return 3, n_symbols
    return 0, 0


def decode(packed, n_bits: int, lengths, n_symbols: int) -> np.ndarray:
    """Decode ``n_symbols`` symbols from an MSB-first bitstream of ``n_bits`` bits.

    Returns int64 symbols. Raises :class:`~compressor.errors.HuffmanError` (a ``ValueError``) when the stream
    is inconsistent with the code: fewer bytes than ``n_bits`` needs, a bit after the
    first ``n_bits`` (padding of the last byte, or any further byte) is 1, the bits run out
    in the middle of a symbol, a bit pattern is no code's prefix, or bits are left over
    after the last symbol.
    """
    lens = _check_lengths(lengths)
    packed = np.ascontiguousarray(np.asarray(packed, dtype=np.uint8))
    n_bits = int(n_bits)
    n_symbols = int(n_symbols)
    if n_bits < 0 or n_symbols < 0:
        raise HuffmanError("n_bits and n_symbols must be >= 0")
    if packed.size * 8 < n_bits:
        raise HuffmanError(f"stream of {packed.size} bytes cannot hold {n_bits} bits")
    full, rem = divmod(n_bits, 8)
    if (rem and packed[full] & (0xFF >> rem)) or np.any(packed[full + (1 if rem else 0):]):
        raise HuffmanError(f"padding bits after the {n_bits} stream bits are not all 0")
    out = np.zeros(n_symbols, dtype=np.int64)
    if n_symbols == 0:
        if n_bits != 0:
            raise HuffmanError(f"{n_bits} bits left over: no symbols expected")
        return out
    if not np.any(lens > 0):
        raise HuffmanError(f"{n_symbols} symbols expected but the code has no symbols")
    tables = _decode_tables(lens)
    status, idx = _decode_kernel(packed, n_bits, n_symbols, *tables, _TABLE_BITS, out)
    if status == 1:
        raise HuffmanError(f"bitstream of {n_bits} bits ends in the middle of symbol {idx} "
                           f"of {n_symbols}")
    if status == 2:
        raise HuffmanError(f"invalid code (no symbol has this prefix) at symbol {idx} of {n_symbols}")
    if status == 3:
        raise HuffmanError(f"{n_symbols} symbols decoded but bits are left over "
                           f"(stream has {n_bits} bits)")
    return out
