"""The numba kernels that write a pass's memory images (paper sec. III-IV, Fig. 2-3).

Row interleaving (row ``i`` -> PE ``i mod N``, local row ``i // N``) and the per-PE CSC
z-encoding with padding entries (a zero run longer than ``max_z`` gets a padding entry,
``v = 0``, ``z = max_z``), written into flat arrays: the column pointers ``ptr``, each
PE's first entry ``entry_start`` and the entries' ``code``, ``z`` and decoded local row.
:mod:`eie_sim.hw.layout` wraps the arrays in :class:`~eie_sim.hw.layout.PassLayout`:
``layout_csr_rows`` is the fast path of ``build_layer`` (a counting sort straight from
the CSR form), ``encode_runs`` the reference path of ``build_pass`` (entries already
sorted by PE, column and local row).
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _images_for(counts):
    """Column pointers, PE starts and the empty entry arrays for ``counts[k, j]`` entries
    (padding included) of column ``j`` in PE ``k``."""
    n_pe, n_cols_total = counts.shape
    ptr = np.zeros((n_pe, n_cols_total + 1), dtype=np.int64)
    entry_start = np.zeros(n_pe + 1, dtype=np.int64)
    for k in range(n_pe):
        s = 0
        for j in range(n_cols_total):
            ptr[k, j] = s
            s += counts[k, j]
        ptr[k, n_cols_total] = s
        entry_start[k + 1] = entry_start[k] + s
    total = entry_start[n_pe]
    return (ptr, entry_start, np.zeros(total, dtype=np.uint8), np.zeros(total, dtype=np.uint8),
            np.zeros(total, dtype=np.int32))


@numba.njit(cache=True)
def encode_runs(pe, col, local, code, n_pe, n_cols_total, max_z):
    """z-encode entries sorted by (pe, col, local row), inserting padding entries.

    Returns (ptr (n_pe, n_cols_total+1) relative to each PE's start, entry_start,
    out_code, out_z, out_local).
    """
    n = pe.shape[0]
    step = max_z + 1
    # pass 1: count entries (real + padding) per (pe, col)
    counts = np.zeros((n_pe, n_cols_total), dtype=np.int64)
    prev_key_pe = -1
    prev_key_col = -1
    prev_local = -1
    for i in range(n):
        if pe[i] != prev_key_pe or col[i] != prev_key_col:
            prev_local = -1
            prev_key_pe = pe[i]
            prev_key_col = col[i]
        zeros = local[i] - prev_local - 1
        counts[pe[i], col[i]] += 1 + zeros // step
        prev_local = local[i]
    ptr, entry_start, out_code, out_z, out_local = _images_for(counts)
    # pass 2: write entries
    w = 0
    prev_key_pe = -1
    prev_key_col = -1
    prev_local = -1
    for i in range(n):
        if pe[i] != prev_key_pe or col[i] != prev_key_col:
            prev_local = -1
            prev_key_pe = pe[i]
            prev_key_col = col[i]
        zeros = local[i] - prev_local - 1
        while zeros > max_z:
            prev_local += step
            out_code[w] = 0
            out_z[w] = max_z
            out_local[w] = prev_local
            w += 1
            zeros -= step
        out_code[w] = code[i]
        out_z[w] = zeros
        out_local[w] = local[i]
        w += 1
        prev_local = local[i]
    return ptr, entry_start, out_code, out_z, out_local


@numba.njit(cache=True, inline="always")
def _place_entry(out_code, out_z, out_local, w, prev, loc, v, max_z):
    """Write one entry at ``w`` after the padding its zero run needs; return the next ``w``."""
    step = max_z + 1
    zeros = loc - prev - 1
    while zeros > max_z:
        prev += step
        out_code[w] = 0
        out_z[w] = max_z
        out_local[w] = prev
        w += 1
        zeros -= step
    out_code[w] = v
    out_z[w] = zeros
    out_local[w] = loc
    return w + 1


@numba.njit(cache=True)
def layout_csr_rows(indptr, indices, data, cols, start, stop, n_pe, bias_nz, has_bias, max_z):
    """The images of ``layout.build_pass`` for rows ``start..stop`` of a CSR code matrix.

    A counting sort instead of ``lexsort``, one PE at a time: scanning PE ``k``'s rows in
    order (and each row's non-zeros by increasing column) visits every (PE, column) bucket
    in increasing local row, which is exactly the (pe, col, local) order ``encode_runs``
    expects; padding is inserted the same way. One pass counts the entries of every
    bucket (padding included), one places them; working on one PE at a time keeps the
    per-column state of the scan small. ``bias_nz[i]`` marks pass row ``i`` as having a
    bias entry (the bias column).
    """
    n_cols_total = cols + (1 if has_bias else 0)
    step = max_z + 1                  # a power of two: 2**index_bits
    shift = 0
    while (1 << shift) < step:
        shift += 1
    counts = np.zeros((n_pe, n_cols_total), dtype=np.int64)
    last = np.empty(n_cols_total, dtype=np.int32)              # local rows are int32
    for k in range(n_pe):
        last[:] = -1
        ck = counts[k]
        loc = 0
        for r in range(start + k, stop, n_pe):
            for e in range(indptr[r], indptr[r + 1]):
                c = indices[e]
                ck[c] += 1 + ((loc - last[c] - 1) >> shift)     # the entry + its padding
                last[c] = loc
            if has_bias and bias_nz[r - start]:
                ck[cols] += 1 + ((loc - last[cols] - 1) >> shift)
                last[cols] = loc
            loc += 1
    ptr, entry_start, out_code, out_z, out_local = _images_for(counts)
    cursor = np.empty(n_cols_total, dtype=np.int64)            # write position per column
    for k in range(n_pe):
        last[:] = -1
        for j in range(n_cols_total):
            cursor[j] = entry_start[k] + ptr[k, j]
        loc = 0
        for r in range(start + k, stop, n_pe):
            for e in range(indptr[r], indptr[r + 1]):
                c = indices[e]
                cursor[c] = _place_entry(out_code, out_z, out_local, cursor[c], last[c], loc,
                                         data[e], max_z)
                last[c] = loc
            if has_bias and bias_nz[r - start]:
                cursor[cols] = _place_entry(out_code, out_z, out_local, cursor[cols],
                                            last[cols], loc, 1, max_z)
                last[cols] = loc
            loc += 1
    return ptr, entry_start, out_code, out_z, out_local
