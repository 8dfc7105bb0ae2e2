"""Sparse-matrix read unit (paper Fig. 4 "SpMat Read"; docs/timing.md rule S).

The unit issues the slots ``p[j] .. p[j+1]-1`` of the current column, one per cycle,
from the PE's Spmat SRAM. The SRAM line is ``spmat_width_bits`` wide; each slot's entry
lies in one line (``csc``: ``entries_per_line`` entries of ``weight_bits + index_bits``,
64 bits = 8 entries of 4 + 4 bits; ``nm``: ``(v, offset)`` entries; ``bitmask``: packed
codes, a skip slot has none) and, for ``bitmask``, its column's mask in a mask line. A
line is read only when the line a slot needs differs from the one the PE read last (one
buffer for entry lines, one for mask lines), so consecutive slots, even across columns,
share one read. Reads never stall the pipeline. The lines of every slot are the layout's
(:meth:`eie_sim.hw.layout.PassLayout.spmat_lines`).
"""
from __future__ import annotations


class SpmatReadUnit:
    """Line-read counter of one PE's Spmat SRAM."""

    def __init__(self, lines: list[int], mask_lines: list[int]):
        self.lines = lines          #: entry line of each slot (-1: nothing stored)
        self.mask_lines = mask_lines   #: mask line of each slot (-1: no mask)
        self.line_reads = 0        #: SRAM line reads (rule S)
        self.last_line = -1        #: buffered entry line (-1: none yet)
        self.last_mask_line = -1   #: buffered mask line (-1: none yet)

    def issue(self, start: int, end: int) -> None:
        """Issue slots ``start .. end-1`` (one per cycle) and count the line reads."""
        for a in range(start, end):
            line = self.lines[a]
            if line >= 0 and line != self.last_line:
                self.line_reads += 1
                self.last_line = line
            mline = self.mask_lines[a]
            if mline >= 0 and mline != self.last_mask_line:
                self.line_reads += 1
                self.last_mask_line = mline
