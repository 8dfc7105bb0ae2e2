"""Sparse-matrix read unit (paper Fig. 4 "SpMat Read"; docs/timing.md rule S).

The unit issues the entries ``p[j] .. p[j+1]-1`` of the current column, one per cycle,
from the PE's Spmat SRAM. The SRAM line is ``spmat_width_bits`` wide and holds
``entries_per_line`` entries (64 bits = 8 entries of 4 + 4 bits); the high pointer bits
select the line, the low bits the entry. A line is read only when an entry's line
differs from the line of the previous entry this PE issued, so consecutive entries,
even across columns, share one read. Reads never stall the pipeline.
"""
from __future__ import annotations


class SpmatReadUnit:
    """Line-read counter of one PE's Spmat SRAM."""

    def __init__(self, entries_per_line: int):
        if entries_per_line < 1:
            raise ValueError("an Spmat line must hold at least one entry")
        self.entries_per_line = entries_per_line
        self.line_reads = 0        #: SRAM line reads (rule S)
        self.last_line = -1        #: line of the last issued entry (-1: none yet)

    def issue(self, start: int, end: int) -> None:
        """Issue entries ``start .. end-1`` (one per cycle) and count the line reads.

        Entries are consecutive addresses, so the lines they touch are the range
        ``start // L .. (end - 1) // L``; the first one is free when it is still the
        line of the previously issued entry.
        """
        if end <= start:
            return                 # an empty column slice issues nothing
        per_line = self.entries_per_line
        first, last = start // per_line, (end - 1) // per_line
        reads = last - first + 1
        if first == self.last_line:
            reads -= 1
        self.line_reads += reads
        self.last_line = last
