"""Leading non-zero detection (paper sec. IV "Activation Queue and Load Balancing",
Fig. 4 "Leading NZero Detect"; docs/timing.md rule B).

The detector sees the input activations as rows of ``N`` banks: activation ``j`` sits
in row ``j // N``, bank ``j % N`` (bank ``k`` is PE ``k``'s source register file). Each
PE's leaf flags whether its source register of the current row holds a non-zero; the
LNZD nodes form a tree of fan-in ``lnzd_fan_in`` (a quadtree for fan-in 4: 64 PEs ->
16 + 4 + 1 = 21 nodes, ``ArchConfig.lnzd_nodes``), each node passing up the
lowest-numbered bank among its children that holds a non-zero after the last emitted
bank. The root sits in the central control unit, which broadcasts what it finds.
"""
from __future__ import annotations

import math


def lnzd_tree_widths(n_banks: int, fan_in: int) -> list[int]:
    """Node count of each tree level above the leaves (64, 4 -> [16, 4, 1])."""
    widths, width = [], n_banks
    while width > 1:
        width = math.ceil(width / fan_in)
        widths.append(width)
    return widths


class LeadingNonZeroDetector:
    """The LNZD tree over the ``N`` banks (source register files of the PEs)."""

    def __init__(self, n_banks: int, fan_in: int, regs_per_bank: int):
        self.n_banks = n_banks
        self.fan_in = fan_in
        self.widths = lnzd_tree_widths(n_banks, fan_in)
        self.nodes = sum(self.widths)   #: LNZD nodes (equals ArchConfig.lnzd_nodes)
        # leaf flags, latched from the source registers: _nonzero[r][bank]
        self._nonzero = [[False] * n_banks for _ in range(regs_per_bank)]

    def latch_sources(self, sources: list[list[int]]) -> None:
        """Latch each bank's non-zero flags from its source registers (after a batch load)."""
        regs = len(self._nonzero)
        self._nonzero = [[sources[b][r] != 0 for b in range(self.n_banks)] for r in range(regs)]

    def scan(self, reg: int, after_bank: int) -> int:
        """First bank ``> after_bank`` whose register ``reg`` is non-zero, or -1 if none.

        Evaluated as the tree does it: leaves output their bank number when valid (and
        ``N`` = "nothing" otherwise), every node passes up the smallest of its children.
        """
        none = self.n_banks
        flags = self._nonzero[reg]
        level = [b if flags[b] and b > after_bank else none for b in range(self.n_banks)]
        f = self.fan_in
        for width in self.widths:
            level = [min(level[i * f:(i + 1) * f]) for i in range(width)]
        found = level[0]
        return -1 if found == none else found
