"""16-bit fixed-point arithmetic of the EIE datapath (paper sec. V, Fig. 10).

Weights are decoded from the codebook to ``weight_frac_bits`` fixed point, activations
and outputs use ``act_frac_bits``, all in ``word_bits``-bit two's complement. One product
``w * a`` has ``weight_frac_bits + act_frac_bits`` fraction bits and is rounded back to
``act_frac_bits`` on its own (to nearest, ties towards +inf), so the sum does not depend
on the order of accumulation (docs/timing.md, rule A). Accumulators are wide; the output
is saturated to the word when written back.
"""
from __future__ import annotations

import numpy as np

from eie_sim.errors import FixedPointRangeError


def word_limits(word_bits: int) -> tuple[int, int]:
    return -(1 << (word_bits - 1)), (1 << (word_bits - 1)) - 1


def quantize(x, frac_bits: int, word_bits: int) -> tuple[np.ndarray, int]:
    """Round ``x`` to the fixed-point grid, saturating; return (int64 values, #saturated)."""
    lo, hi = word_limits(word_bits)
    q = np.floor(np.asarray(x, dtype=np.float64) * (1 << frac_bits) + 0.5)
    saturated = int(np.count_nonzero((q < lo) | (q > hi)))
    return np.clip(q, lo, hi).astype(np.int64), saturated


def quantize_exact_range(x, frac_bits: int, word_bits: int, what: str) -> np.ndarray:
    """Round to fixed point; a value outside the word's range is an error naming ``what``."""
    q, saturated = quantize(x, frac_bits, word_bits)
    if saturated:
        x = np.asarray(x, dtype=np.float64)
        worst = float(x.flat[np.argmax(np.abs(x))])
        lim = (1 << (word_bits - 1)) / (1 << frac_bits)
        raise FixedPointRangeError(
            f"{what}: value {worst:g} does not fit {word_bits}-bit fixed point with "
            f"{frac_bits} fraction bits (range [-{lim:g}, {lim:g})); "
            f"lower the fraction bits in the config")
    return q


def to_float(q, frac_bits: int) -> np.ndarray:
    return np.asarray(q, dtype=np.float64) / (1 << frac_bits)


def round_product(prod, shift: int):
    """Round a product with ``shift`` extra fraction bits (ties towards +inf)."""
    if shift == 0:
        return prod
    return (prod + (1 << (shift - 1))) >> shift


def saturate(acc, word_bits: int) -> tuple[np.ndarray, int]:
    """Saturate accumulators to the word; return (values, #saturated)."""
    lo, hi = word_limits(word_bits)
    acc = np.asarray(acc, dtype=np.int64)
    n = int(np.count_nonzero((acc < lo) | (acc > hi)))
    return np.clip(acc, lo, hi), n
