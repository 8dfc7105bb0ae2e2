"""16-bit fixed-point arithmetic of the EIE datapath (paper sec. V, Fig. 10).

Weights are decoded from the codebook to ``weight_frac_bits`` fixed point, activations
and outputs use ``act_frac_bits``, all in ``word_bits``-bit two's complement. One product
``w * a`` has ``weight_frac_bits + act_frac_bits`` fraction bits and is rounded back to
``act_frac_bits`` on its own (to nearest, ties towards +inf), so the sum does not depend
on the order of accumulation (docs/timing.md, rule A). Accumulators are wide; the output
is saturated to the word when written back.

Per-layer formats (:class:`LayerFormat`, :func:`layer_format`): a layer's inputs, outputs
and weights may each have their own fraction bits, chosen from the ranges a calibration
input shows; one format for a whole network is the special case ``out = act`` everywhere.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eie_sim.arch.config import ArchConfig
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


# ------------------------------------------------------------------ per-layer formats
#: default headroom of the per-layer rule: integer bits beyond the calibration range of
#: activations and outputs (1: values twice the calibrated ones still fit, up to 4x with
#: the rounding to whole bits; docs/squeezenet.md "Chained run" measures what SqueezeNet's
#: images need)
DEFAULT_HEADROOM_BITS = 1


def frac_bits_for(max_abs: float, word_bits: int, headroom_bits: int = 0) -> int:
    """The largest fraction bits (0 .. ``word_bits - 1``) whose ``word_bits``-bit word holds
    ``max_abs x 2**headroom_bits`` after rounding (docs/timing.md "Per-layer fixed point")."""
    lim = (1 << (word_bits - 1)) - 1.5          # the largest magnitude that rounds inside
    m = float(max_abs) * (2.0 ** headroom_bits)
    if not m > 0:
        return word_bits - 1
    return max(0, min(word_bits - 1, math.floor(math.log2(lim / m))))


@dataclass(frozen=True)
class LayerFormat:
    """One layer's fixed-point formats (fraction bits of a ``word_bits`` word).

    ``act_frac_bits``: the inputs; ``out_frac_bits``: the outputs, the accumulators and the
    bias; ``weight_frac_bits``: the decoded codebook. A product ``w x a`` is rounded to the
    output format by dropping ``weight_frac_bits + act_frac_bits - out_frac_bits`` bits
    (:attr:`eie_sim.arch.config.ArchConfig.product_shift`).
    """

    act_frac_bits: int
    out_frac_bits: int
    weight_frac_bits: int

    def config(self, cfg: ArchConfig) -> ArchConfig:
        """``cfg`` with this layer's formats (validated)."""
        return cfg.replace(act_frac_bits=self.act_frac_bits, out_frac_bits=self.out_frac_bits,
                           weight_frac_bits=self.weight_frac_bits)

    def text(self, word_bits: int) -> str:
        """``in Qm.n, out Qm.n, w Qm.n`` (sign + m integer + n fraction bits)."""
        def q(f: int) -> str:
            return f"Q{word_bits - 1 - f}.{f}"
        return f"in {q(self.act_frac_bits)}, out {q(self.out_frac_bits)}, w {q(self.weight_frac_bits)}"


def layer_format(in_max: float, out_max: float, bias_max: float, weight_max: float,
                 word_bits: int, headroom_bits: int = DEFAULT_HEADROOM_BITS) -> LayerFormat:
    """The per-layer rule (docs/timing.md "Per-layer fixed point").

    * inputs: :func:`frac_bits_for` of the largest input magnitude ``in_max`` with
      ``headroom_bits`` spare integer bits;
    * outputs and bias: the same of ``max(out_max, bias_max)`` (``out_max``: the largest
      pre-ReLU output magnitude), capped at ``act + weight`` fraction bits (a product has
      no more);
    * weights: :func:`frac_bits_for` of the largest codebook magnitude, no headroom (the
      codebook is known exactly).

    The ranges come from a calibration input's float forward pass.
    """
    fi = frac_bits_for(in_max, word_bits, headroom_bits)
    fw = frac_bits_for(weight_max, word_bits, 0)
    fo = min(frac_bits_for(max(out_max, bias_max), word_bits, headroom_bits), fi + fw)
    return LayerFormat(fi, fo, fw)
