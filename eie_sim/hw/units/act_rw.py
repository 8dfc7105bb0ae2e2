"""Activation read/write unit (paper Fig. 4 "Act R/W"; docs/timing.md "Input batches").

Each PE ``k`` owns

* the part of the input vector with ``j mod N == k`` in its activation SRAM, and a
  *source* register file of ``R = act_regs_per_pe`` words that holds the current input
  batch (``N x R`` columns; the central control unit loads batch after batch, see
  :mod:`.ccu`). The PE's local leading-non-zero detector reads the source registers
  (:mod:`.lnzd`).
* a *destination* register file holding the accumulators of the PE's rows of the current
  output pass (global row ``offset + r N + k`` is register ``r``), zeroed before the pass.

Accumulators are wide (Python integers here, int64 in the result); saturation to the
16-bit word and ReLU are applied when the layer writes its outputs back, which the
layer stages do (the engine returns the raw accumulators).
"""
from __future__ import annotations

import numpy as np


class ActRW:
    """Source and destination register files of one PE."""

    def __init__(self, pe: int, n_pe: int, x_q: np.ndarray, regs_per_pe: int, n_rows: int):
        self.pe = pe
        self.regs = regs_per_pe
        #: activation SRAM: the inputs a_j with j mod N == pe (fixed point)
        self.sram = [int(v) for v in np.asarray(x_q)[pe::n_pe]]
        self.source: list[int] = []
        self.load_source_batch(0)
        #: destination registers: the accumulators of this PE's rows (zeroed per pass)
        self.dest = [0] * n_rows

    def load_source_batch(self, batch: int) -> None:
        """Copy input batch ``batch`` (R activations of this PE) into the source registers."""
        words = self.sram[batch * self.regs:(batch + 1) * self.regs]
        self.source = words + [0] * (self.regs - len(words))
