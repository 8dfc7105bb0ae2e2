"""Row-decoder logic of each Spmat encoding (ArchConfig ``spmat_encoding``; docs/energy.md
"Spmat encodings"): gate counts, and the energy and area they add to a PE (an ESTIMATE).

The decoder turns a stored slot into the row its product is added to (the units of
:mod:`eie_sim.hw.units.index_decode`). Paper Table II's SpmatRead/ArithmUnit figures
already contain the ``csc`` decoder (the relative-index adder), so the energy model adds
only the *difference* to it: exactly 0 for ``csc`` (the paper's figures are unchanged).

Gate counts in NAND2 gate equivalents (GE), our estimate from textbook structures
(``b = ceil(log2(act_regs_per_pe))`` row bits, ``W = spmat_width_bits``):

* ``csc``: a ``b``-bit adder (row + z + 1, ~6 GE per full adder) and the ``b``-bit row
  register (~6 GE per flip-flop): ``12 b``;
* ``bitmask``: a ``W``-bit mask register with clear (~7 GE per bit), the lowest-set-bit
  isolation ``x & -x`` (~2 GE per bit) and its one-hot to binary encoder
  (``W/2 x log2 W``): ``9 W + W/2 log2 W``;
* ``nm``: the group counter (``b - log2 M`` bits) and slot counter (``log2 N`` bits),
  ~10 GE per bit each (incrementer + flip-flop); the row is ``group x M + offset``, a
  concatenation (``M`` a power of two), plus a ``log2 M``-bit offset register (6 GE/bit).

Per GE: area 0.798 um^2 (the NAND2_X1 cell of the Nangate 45 nm Open Cell Library) and
0.5 fJ per slot decoded (1 fJ per GE switched at an activity of 0.5: an ESTIMATE, not a
measured figure); both scaled to ``tech_node_nm`` like Table II (energy x node/45, area x
(node/45)^2). Leakage of the decoder is not modelled.
"""
from __future__ import annotations

import math

from eie_sim.arch.config import ArchConfig

#: area of one gate equivalent at 45 nm: Nangate 45 nm Open Cell Library, NAND2_X1
GE_AREA_UM2 = 0.798
#: energy of one gate equivalent per decoded slot at 45 nm (ESTIMATE: 1 fJ x activity 0.5)
GE_PJ_PER_SLOT = 0.5e-3


def decoder_gates(cfg: ArchConfig) -> float:
    """NAND2 gate equivalents of ``cfg``'s row decoder (module docstring)."""
    b = max(1, math.ceil(math.log2(max(2, cfg.act_regs_per_pe))))
    if cfg.spmat_encoding == "bitmask":
        w = cfg.spmat_width_bits
        return 9 * w + w / 2 * math.log2(w)
    if cfg.spmat_encoding == "nm":
        off = cfg.nm_offset_bits
        return 10 * (max(0, b - off) + math.ceil(math.log2(max(1, cfg.nm_n)))) + 6 * off
    return 12 * b


def decoder_delta(cfg: ArchConfig, energy_scale: float, area_scale: float) -> tuple[float, float]:
    """``(pJ per issued slot, um^2 per PE)`` the encoding's decoder adds over the ``csc``
    adder that paper Table II includes; ``(0.0, 0.0)`` for ``csc``."""
    if cfg.spmat_encoding == "csc":
        return 0.0, 0.0
    extra = decoder_gates(cfg) - decoder_gates(cfg.replace(spmat_encoding="csc"))
    return extra * GE_PJ_PER_SLOT * energy_scale, extra * GE_AREA_UM2 * area_scale
