"""Pointer read unit (paper Fig. 4 "Pointer Read"; docs/timing.md rule P, step 2).

When its PE needs a new column, the unit pops the head ``(j, a_j)`` of the activation
queue and reads the column pointers ``p[j]`` and ``p[j+1]``. The pointers are stored in
two single-ported banks, even addresses in one and odd addresses in the other, so both
are read in the same cycle whatever the parity of ``j``. Every pop is one pointer read
(rule 7 of the released simulator: pointer reads = queue pops).

With ``spmat_encoding: nm`` every column slice has the same number of slots, so the PE
computes ``p[j] = j x slots`` (:class:`ComputedPointers`): no pointer SRAM, no reads.
"""
from __future__ import annotations

import numpy as np

from eie_sim.hw.units.activation_queue import ActivationQueue


class PointerReadUnit:
    """Even/odd pointer banks of one PE and the queue pop that addresses them."""

    def __init__(self, ptr: np.ndarray):
        p = [int(v) for v in np.asarray(ptr).reshape(-1)]
        self.even_bank = p[0::2]   #: p[0], p[2], p[4], ...
        self.odd_bank = p[1::2]    #: p[1], p[3], p[5], ...
        self.reads = 0             #: pointer reads (= queue pops)

    def read_pointers(self, j: int) -> tuple[int, int]:
        """``(p[j], p[j+1])``: one read from each bank."""
        half = j >> 1
        if j & 1:
            start, end = self.odd_bank[half], self.even_bank[half + 1]
        else:
            start, end = self.even_bank[half], self.odd_bank[half]
        return start, end

    def pop_column(self, queue: ActivationQueue) -> tuple[int, int, int, int]:
        """Pop the queue head in this cycle; return ``(j, a_j, p[j], p[j+1])``."""
        j, a = queue.pop()
        start, end = self.read_pointers(j)
        self.reads += 1
        return j, a, start, end


class ComputedPointers:
    """The address generator of the ``nm`` encoding: column ``j < cols`` starts at
    ``j x slots`` and holds ``slots``; the bias column (``j = cols``) holds ``bias_slots``."""

    def __init__(self, slots: int, cols: int, bias_slots: int):
        self.slots, self.cols, self.bias_slots = slots, cols, bias_slots
        self.reads = 0             #: pointer reads: none

    def pop_column(self, queue: ActivationQueue) -> tuple[int, int, int, int]:
        j, a = queue.pop()
        start = j * self.slots
        return j, a, start, start + (self.bias_slots if j == self.cols else self.slots)
