"""Row-index decoders of the PE (the arithmetic unit's address stage; docs/timing.md
"Spmat encodings"), one per ``spmat_encoding``:

* ``csc`` - the relative-index adder of paper sec. III: ``row = previous row + z + 1``,
  restarting at -1 for each column;
* ``bitmask`` - a priority encoder over the column slice's mask: each code slot takes
  the lowest set bit of the current ``W``-bit mask line and clears it; a skip slot (code
  0) passes over a mask line with no set bit;
* ``nm`` - the offset mux: slot ``s`` of a slice is in group ``s // N``, its row is
  ``group x M + offset``; the bias column holds one slot per row.

Each decoder returns the local rows of the slots ``start .. end-1`` of column ``col`` from
what the SRAM stores (codes, ``z``/offset fields, masks), never from the layout's decoded
``local_row`` (the numba engine uses that one: the engine-equality tests compare the two).
"""
from __future__ import annotations

import numpy as np


class CscDecoder:
    """The relative-index adder (paper sec. III)."""

    def __init__(self, zs: list[int]):
        self.zs = zs

    def rows(self, col: int, start: int, end: int) -> list[int]:
        out, row, zs = [], -1, self.zs
        for a in range(start, end):
            row += zs[a] + 1
            out.append(row)
        return out


class BitmaskDecoder:
    """Priority encoder over the ``width``-bit lines of each column slice's mask."""

    def __init__(self, masks: dict[int, int], codes: list[int], width: int):
        self.masks = masks          #: column -> mask of the PE's local rows (bit r: row r)
        self.codes = codes
        self.width = width

    def rows(self, col: int, start: int, end: int) -> list[int]:
        mask, W, out = self.masks.get(col, 0), self.width, []
        line_mask = (1 << W) - 1
        line = 0
        for a in range(start, end):
            bits = (mask >> (line * W)) & line_mask
            if self.codes[a] == 0:                # skip slot: this mask line holds nothing
                if bits:
                    raise ValueError(f"column {col}: a skip slot over a non-empty mask line")
                out.append(line * W)
                line += 1
                continue
            if not bits:
                raise ValueError(f"column {col}: more codes than mask bits")
            low = (bits & -bits).bit_length() - 1     # the priority encoder
            out.append(line * W + low)
            mask &= ~(1 << (line * W + low))
            if not (mask >> (line * W)) & line_mask:
                line += 1
        return out


class NmDecoder:
    """Group counter + offset mux of the N:M encoding."""

    def __init__(self, offsets: list[int], n: int, m: int, bias_col: int):
        self.offsets, self.n, self.m, self.bias_col = offsets, n, m, bias_col

    def rows(self, col: int, start: int, end: int) -> list[int]:
        if col == self.bias_col:
            return list(range(end - start))
        n, m, off = self.n, self.m, self.offsets
        return [(s // n) * m + off[start + s] for s in range(end - start)]


def bitmask_masks(pass_layout, k: int) -> dict[int, int]:
    """The masks PE ``k`` stores for a ``bitmask`` pass: column -> bits of its local rows
    holding a code (the stored image, from the layout's slots)."""
    pl = pass_layout
    lo, hi = int(pl.entry_start[k]), int(pl.entry_start[k + 1])
    code = pl.code[lo:hi]
    local = pl.local_row[lo:hi].astype(np.int64)
    masks: dict[int, int] = {}
    counts = pl.col_entries[k]
    cols = np.repeat(np.arange(pl.n_cols_total), counts)
    for j, r, v in zip(cols.tolist(), local.tolist(), code.tolist()):
        if v:
            masks[j] = masks.get(j, 0) | (1 << r)
    return masks


def decoder_for(pass_layout, k: int, cfg):
    """PE ``k``'s decoder for ``pass_layout`` (its ``encoding``)."""
    pl = pass_layout
    lo, hi = int(pl.entry_start[k]), int(pl.entry_start[k + 1])
    if pl.encoding == "bitmask":
        return BitmaskDecoder(bitmask_masks(pl, k), pl.code[lo:hi].tolist(), cfg.spmat_width_bits)
    if pl.encoding == "nm":
        return NmDecoder(pl.z[lo:hi].tolist(), cfg.nm_n, cfg.nm_m,
                         pl.cols if pl.has_bias else -1)
    return CscDecoder(pl.z[lo:hi].tolist())
