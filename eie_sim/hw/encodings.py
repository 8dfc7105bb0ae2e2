"""The Spmat encodings (ArchConfig ``spmat_encoding``; docs/timing.md "Spmat encodings").

Every encoding is laid out as the same thing the engines consume: per PE a stream of
*slots* stored column slice after column slice, one slot per PE cycle (rule P), each with
a weight code (0: a slot that writes nothing: filler, empty N:M slot or mask skip) and
the local row it writes. What differs is what the SRAM stores and how a PE decodes a row:

* ``csc`` (paper sec. III; :mod:`eie_sim.hw.layout_images`): ``(v, z)`` entries, ``z``
  the zeros before the entry; a run longer than ``2**index_bits - 1`` needs a filler.
  Decoder: the relative-index adder ``row += z + 1``.
* ``bitmask``: per column slice a mask of the PE's ``R = ceil(rows / N)`` local rows and
  the packed codes of its non-zeros (no filler). The masks live in the Spmat SRAM beside
  the codes, ``W // R`` masks per ``W``-bit line (``R <= W``; a mask never straddles a
  line) or ``ceil(R / W)`` whole lines each (``R > W``). The decoder is a priority
  encoder over the current mask line, one non-zero per cycle; a mask line with no
  non-zero before the slice's last one costs a *skip* slot (only possible when R > W).
  Column pointers still locate the codes.
* ``nm``: groups of ``M = nm_m`` consecutive local rows of a column slice hold at most
  ``N = nm_n`` non-zeros, each group exactly ``N`` slots ``(v, offset)`` (empty slots
  ``v = 0``). Every slice has ``ceil(R / M) * N`` slots, so its start is computed
  (``j x slots``), not read: no pointer SRAM. Decoder: ``row = group x M + offset``.
  The bias column stores one slot per local row.

This module builds the ``bitmask`` and ``nm`` images (numba), the Spmat line of each slot
(rule S), the stored bits (:func:`stored_bits`) and the decode back to a matrix
(:func:`decode_layer`, the round trip the tests check).
"""
from __future__ import annotations

import numba
import numpy as np

from eie_sim.errors import LayoutError
from eie_sim.hw.layout_images import _images_for
from eie_sim.hw.units.index_decode import decoder_for


def mask_rows(rows: int, n_pe: int) -> int:
    """The mask width of a pass: local rows of the fullest PE, ``ceil(rows / N)``."""
    return max(1, -(-rows // n_pe))


@numba.njit(cache=True)
def encode_bitmask(pe, col, local, code, n_pe, n_cols_total, R, W):
    """Slots of the ``bitmask`` encoding from entries sorted by (pe, col, local row).
    Returns (ptr, entry_start, code, z (zeros), local_row) like ``encode_runs``."""
    n = pe.shape[0]
    counts = np.zeros((n_pe, n_cols_total), dtype=np.int64)
    i = 0
    while i < n:                      # one (pe, col) run at a time
        e = i
        while e < n and pe[e] == pe[i] and col[e] == col[i]:
            e += 1
        c = e - i
        if R > W:                     # skip slots: empty mask lines before the last non-zero
            prev_line = -1
            for q in range(i, e):
                ln = local[q] // W
                if ln > prev_line:
                    c += ln - prev_line - 1
                    prev_line = ln
        counts[pe[i], col[i]] = c
        i = e
    ptr, entry_start, out_code, out_z, out_local = _images_for(counts)
    w = 0
    i = 0
    while i < n:
        e = i
        while e < n and pe[e] == pe[i] and col[e] == col[i]:
            e += 1
        prev_line = -1
        for q in range(i, e):
            if R > W:
                ln = local[q] // W
                for s in range(prev_line + 1, ln):
                    out_code[w] = 0
                    out_local[w] = s * W
                    w += 1
                prev_line = ln
            out_code[w] = code[q]
            out_local[w] = local[q]
            w += 1
        i = e
    return ptr, entry_start, out_code, out_z, out_local


@numba.njit(cache=True)
def encode_nm(pe, col, local, code, n_pe, cols, has_bias, R, N, M):
    """Slots of the ``nm`` encoding from entries sorted by (pe, col, local row). Returns
    (ptr, entry_start, code, z (offsets), local_row, bad) with ``bad`` = (pe, col, group,
    non-zeros) of the first group holding more than N non-zeros, or -1s."""
    G = (R + M - 1) // M
    n_cols_total = cols + (1 if has_bias else 0)
    counts = np.zeros((n_pe, n_cols_total), dtype=np.int64)
    for k in range(n_pe):
        for j in range(cols):
            counts[k, j] = G * N
        if has_bias:
            counts[k, cols] = R
    ptr, entry_start, out_code, out_z, out_local = _images_for(counts)
    bad = np.full(4, -1, dtype=np.int64)
    for k in range(n_pe):             # every slot starts empty: code 0 at its group's row
        for j in range(cols):
            base = entry_start[k] + ptr[k, j]
            for s in range(G * N):
                out_local[base + s] = (s // N) * M
        if has_bias:
            base = entry_start[k] + ptr[k, cols]
            for s in range(R):
                out_local[base + s] = s
    i = 0
    while i < pe.shape[0]:
        k = pe[i]
        j = col[i]
        base = entry_start[k] + ptr[k, j]
        if j == cols:                 # the bias column: the slot of its row
            out_code[base + local[i]] = code[i]
            i += 1
            continue
        g = local[i] // M
        e = i
        while e < pe.shape[0] and pe[e] == k and col[e] == j and local[e] // M == g:
            e += 1
        if e - i > N:
            if bad[0] < 0:
                bad[0] = k
                bad[1] = j
                bad[2] = g
                bad[3] = e - i
        else:
            for q in range(i, e):
                s = base + g * N + (q - i)
                out_code[s] = code[q]
                out_z[s] = local[q] - g * M
                out_local[s] = local[q]
        i = e
    return ptr, entry_start, out_code, out_z, out_local, bad


def nm_violation_error(name: str, bad, row_offset: int, n_pe: int, cfg) -> LayoutError:
    """The :class:`LayoutError` of an N:M group with too many non-zeros."""
    k, j, g, count = (int(v) for v in bad)
    M = cfg.nm_m
    rows = [row_offset + (g * M + r) * n_pe + k for r in range(M)]
    return LayoutError(
        f"layer {name!r}: column {j}, PE {k}, group {g} (global rows "
        f"{', '.join(map(str, rows))}) holds {count} non-zeros but spmat_encoding: nm allows "
        f"nm_n={cfg.nm_n} per group of nm_m={M} rows; prune the layer to {cfg.nm_n}:{M} along "
        f"each PE's rows (eie_sim.hw.encodings.prune_nm) or use another spmat_encoding")


def prune_nm(weights: np.ndarray, n: int, m: int, pes: int, rows_per_pass: int | None = None
             ) -> np.ndarray:
    """A copy of the dense ``(rows, cols)`` matrix keeping, in every group of ``m``
    consecutive local rows of each PE's column slice (rows ``r, r + pes, ...``), the ``n``
    entries of largest magnitude (ties: the lower row) - the pattern ``nm`` stores.
    ``rows_per_pass`` (``pes x act_regs_per_pe``; None: one pass) restarts the groups at
    every output pass as the layout does."""
    w = np.array(weights, copy=True)
    rows = w.shape[0]
    per = rows_per_pass or rows
    for start in range(0, rows, per):
        for k in range(pes):
            idx = np.arange(start + k, min(rows, start + per), pes)
            for g in range(0, idx.size, m):
                grp = idx[g:g + m]
                block = np.abs(w[grp])                            # (<= m, cols)
                order = np.argsort(-block, axis=0, kind="stable")
                drop = order[n:]                                  # ranks n.. of each column
                cols = np.broadcast_to(np.arange(w.shape[1]), drop.shape)
                w[grp[drop], cols] = 0
    return w


def slot_lines(pl, cfg) -> tuple[np.ndarray, np.ndarray]:
    """``(line, mask_line)``, int64 per slot: the Spmat line holding the slot's code entry
    (-1: a skip slot, nothing stored) and the line holding its mask (-1: no mask). Rule S
    counts a read whenever the line a PE needs differs from its buffered one (one buffer
    for entry lines, one for mask lines)."""
    n = pl.n_entries
    rel = np.arange(n, dtype=np.int64)
    rel -= np.repeat(pl.entry_start[:-1], pl.entries_per_pe)       # slot index within its PE
    epl = cfg.entries_per_line
    if pl.encoding != "bitmask":
        # no masks: a read-only view of -1 (no memory per slot; LLM-scale layers hold
        # tens of millions of slots)
        rel //= epl
        return rel, np.broadcast_to(np.int64(-1), (n,))
    stored = pl.code != 0
    cum = np.cumsum(stored, dtype=np.int64)
    before_pe = np.concatenate([[0], cum])[pl.entry_start[:-1]]
    cidx = cum - 1 - np.repeat(before_pe, pl.entries_per_pe)
    line = np.where(stored, cidx // epl, -1)
    R, W = mask_rows(pl.rows, pl.n_pe), cfg.spmat_width_bits
    cols = pl.columns()
    if R <= W:
        mline = cols // (W // R)
    else:
        mline = cols * (-(-R // W)) + pl.local_row.astype(np.int64) // W
    return line.astype(np.int64), mline.astype(np.int64)


def mask_lines_per_pe(pl, cfg) -> int:
    """Spmat lines of one PE's masks in a pass (``bitmask``)."""
    R, W = mask_rows(pl.rows, pl.n_pe), cfg.spmat_width_bits
    if R <= W:
        return -(-pl.n_cols_total // (W // R))
    return pl.n_cols_total * -(-R // W)


def pass_pe_bits(pl, cfg) -> tuple[np.ndarray, int]:
    """``(spmat bits of each PE, column pointers per PE)`` of one pass."""
    enc = pl.encoding
    if enc == "bitmask":
        cum = np.concatenate([[0], np.cumsum(pl.code != 0, dtype=np.int64)])
        stored = cum[pl.entry_start[1:]] - cum[pl.entry_start[:-1]]
        bits = stored * cfg.weight_bits + mask_lines_per_pe(pl, cfg) * cfg.spmat_width_bits
        return bits.astype(np.int64), pl.n_cols_total + 1
    bits = pl.entries_per_pe.astype(np.int64) * cfg.entry_bits
    return bits, (0 if enc == "nm" else pl.n_cols_total + 1)


def stored_bits(layout, cfg) -> dict:
    """What a layer's weights occupy on ``cfg``'s PEs (all PEs, all output passes):
    ``spmat_bits`` (entries, masks: whole mask lines), ``pointer_bits`` (column pointers x
    ``pointer_bits``; 0 for ``nm``), ``total``, the fullest PE's ``pe_spmat_bits`` and
    ``pe_pointers``, ``nnz`` and ``bits_per_nonzero`` (``total / nnz``; bias excluded
    from ``nnz``, its entries included in the bits). ``layout``: a
    :class:`~eie_sim.hw.layout.LayerLayout` or anything with ``.layout(cfg, check_fit=)``
    (a workload)."""
    if not hasattr(layout, "passes"):
        layout = layout.layout(cfg, check_fit=False)
    pe_bits = np.zeros(layout.n_pe, dtype=np.int64)
    pointers = 0
    for p in layout.passes:
        b, ptrs = pass_pe_bits(p, cfg)
        pe_bits += b
        pointers += ptrs
    spmat = int(pe_bits.sum())
    ptr_bits = pointers * layout.n_pe * cfg.pointer_bits
    total = spmat + ptr_bits
    return {"spmat_bits": spmat, "pointer_bits": ptr_bits, "total": total,
            "pe_spmat_bits": int(pe_bits.max()), "pe_pointers": pointers,
            "nnz": int(layout.nnz),
            "bits_per_nonzero": total / layout.nnz if layout.nnz else float("nan")}


def decode_layer(layout, cfg) -> tuple[np.ndarray, np.ndarray]:
    """Decode the stored images back: ``(codes (rows, cols) uint8, bias rows (rows,) bool)``,
    each slice's rows found by the PE's own decoder (:mod:`eie_sim.hw.units.index_decode`:
    relative-index adder, priority encoder over the masks, N:M offsets), not from the
    layout's ``local_row``. The round trip ``decode_layer(build_layer(W)) == W`` is tested."""
    codes = np.zeros((layout.rows, layout.cols), dtype=np.uint8)
    bias = np.zeros(layout.rows, dtype=bool)
    for p in layout.passes:
        for k in range(p.n_pe):
            lo, hi = int(p.entry_start[k]), int(p.entry_start[k + 1])
            dec = decoder_for(p, k, cfg)
            code = p.code[lo:hi]
            for j in range(p.n_cols_total):
                a0, a1 = int(p.ptr[k, j]), int(p.ptr[k, j + 1])
                rows = dec.rows(j, a0, a1)
                for a, r in zip(range(a0, a1), rows):
                    if code[a] == 0:
                        continue
                    g = p.row_offset + r * p.n_pe + k
                    if j == p.cols:
                        bias[g] = True
                    else:
                        codes[g, j] = code[a]
    return codes, bias
