"""Architecture configuration: the EIE design point as one validated, immutable object.

Defaults are the paper's design point (Han et al., ISCA 2016, sec. IV-V and Table II):
64 PEs at 800 MHz, an 8-entry activation queue, 128 KB Spmat SRAM of 64-bit lines,
32 KB pointer SRAM of 16-bit pointers, 64 source + 64 destination activation registers
and a 2 KB activation SRAM per PE, 4-bit weight and relative indices, 16-bit fixed point,
a 4-way LNZD tree, a 3-cycle arithmetic pipeline (decode, multiply, add/write).

This module only describes and checks values; nothing here builds a model. Loading from
YAML (with key paths in every error) lives in :mod:`eie_sim.config_io`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from eie_sim.errors import ConfigError

# name -> (minimum, maximum) for integer fields; checked by ArchConfig.validate().
INT_RANGES: dict[str, tuple[int, int]] = {
    "pes": (1, 1024),
    "queue_depth": (1, 65536),
    "spmat_sram_kb": (1, 1 << 20),
    "spmat_width_bits": (8, 4096),
    "pointer_sram_kb": (1, 1 << 20),
    "pointer_bits": (8, 64),
    "act_regs_per_pe": (1, 1 << 16),
    "act_sram_kb": (1, 1 << 20),
    "act_sram_width_bits": (8, 4096),
    "weight_bits": (1, 8),
    "index_bits": (1, 8),
    "word_bits": (8, 32),
    "act_frac_bits": (0, 31),
    "weight_frac_bits": (0, 31),
    "lnzd_fan_in": (2, 64),
    "arithmetic_latency": (1, 64),
}


@dataclass(frozen=True)
class ArchConfig:
    """One EIE configuration. Field docs say which paper unit each value belongs to."""

    pes: int = 64                  #: number of PEs (N); rows are interleaved i -> PE i mod N
    clock_mhz: float = 800.0       #: clock frequency (paper: 800 MHz, 45 nm)
    queue_depth: int = 8           #: activation queue entries held (authors' B=8 holds 7)
    spmat_sram_kb: int = 128       #: sparse-matrix SRAM per PE (KB)
    spmat_width_bits: int = 64     #: Spmat SRAM line width (bits); 64 b = 8 entries of 8 b
    pointer_sram_kb: int = 32      #: pointer SRAM per PE (KB), even + odd banks together
    pointer_bits: int = 16         #: width of one column pointer (paper 16; released sim 32)
    act_regs_per_pe: int = 64      #: source (and destination) activation registers per PE
    act_sram_kb: int = 2           #: activation SRAM per PE (KB)
    act_sram_width_bits: int = 64  #: activation SRAM port width (bits), sets batch costs
    weight_bits: int = 4           #: weight (codebook) index bits; codebook has 2**bits entries
    index_bits: int = 4            #: relative row index (z) bits
    word_bits: int = 16            #: fixed-point word (activations, weights, outputs)
    act_frac_bits: int = 8         #: fraction bits of activations and outputs
    weight_frac_bits: int = 12     #: fraction bits of decoded weights
    #: fraction bits of the layer's outputs (and its bias) when they differ from its inputs'
    #: (a per-layer format, docs/timing.md "Per-layer fixed point"); None: ``act_frac_bits``
    out_frac_bits: int | None = None
    lnzd_fan_in: int = 4           #: children per leading-non-zero-detection node
    arithmetic_latency: int = 4    #: cycles from issue to accumulator write (Spmat read, decode, multiply, add/write)

    # ---- derived quantities (all rules in docs/timing.md) -------------------------
    @property
    def entry_bits(self) -> int:
        """Bits of one Spmat entry (weight index v + relative index z)."""
        return self.weight_bits + self.index_bits

    @property
    def entries_per_line(self) -> int:
        """Spmat entries in one SRAM line (rule S)."""
        return self.spmat_width_bits // self.entry_bits

    @property
    def spmat_capacity_entries(self) -> int:
        return self.spmat_sram_kb * 1024 * 8 // self.entry_bits

    @property
    def pointer_capacity(self) -> int:
        """Pointers one PE's pointer SRAM holds."""
        return self.pointer_sram_kb * 1024 * 8 // self.pointer_bits

    @property
    def max_pointer_value(self) -> int:
        return (1 << self.pointer_bits) - 1

    @property
    def max_z(self) -> int:
        """Largest zero run one entry can skip; a longer run needs a padding entry."""
        return (1 << self.index_bits) - 1

    @property
    def codebook_size(self) -> int:
        return 1 << self.weight_bits

    @property
    def act_sram_capacity(self) -> int:
        """Activations one PE's activation SRAM holds."""
        return self.act_sram_kb * 1024 * 8 // self.word_bits

    @property
    def batch_load_cycles(self) -> int:
        """Cycles to load one batch of source registers from the activation SRAM."""
        return math.ceil(self.act_regs_per_pe * self.word_bits / self.act_sram_width_bits)

    @property
    def batch_store_cycles(self) -> int:
        """Cycles to write one pass of destination registers to the activation SRAM."""
        return self.batch_load_cycles

    @property
    def lnzd_nodes(self) -> int:
        """Nodes of the LNZD tree (64 PEs, fan-in 4: 16 + 4 + 1 = 21)."""
        nodes, width = 0, self.pes
        while width > 1:
            width = math.ceil(width / self.lnzd_fan_in)
            nodes += width
        return nodes

    @property
    def cycle_ns(self) -> float:
        return 1e3 / self.clock_mhz

    @property
    def output_frac_bits(self) -> int:
        """Fraction bits of outputs, accumulators and bias (``out_frac_bits``, default
        ``act_frac_bits``)."""
        return self.act_frac_bits if self.out_frac_bits is None else self.out_frac_bits

    @property
    def product_shift(self) -> int:
        """Fraction bits a product ``w * a`` drops when rounded to the accumulator:
        ``weight_frac_bits + act_frac_bits - output_frac_bits`` (= ``weight_frac_bits``
        with one format; docs/timing.md rule A)."""
        return self.weight_frac_bits + self.act_frac_bits - self.output_frac_bits

    # ---- checks -------------------------------------------------------------------
    def validate(self) -> "ArchConfig":
        """Raise :class:`ConfigError` naming the first impossible value; return self."""
        for name, (lo, hi) in INT_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name}: expected an integer in {lo}..{hi}, got {value!r}")
            if not lo <= value <= hi:
                raise ConfigError(f"{name}: {value} is outside the allowed range {lo}..{hi}")
        if isinstance(self.clock_mhz, bool) or not isinstance(self.clock_mhz, (int, float)) \
                or not 0 < self.clock_mhz <= 1e5:
            raise ConfigError(f"clock_mhz: expected a number in (0, 100000], got {self.clock_mhz!r}")
        if self.entries_per_line < 1:
            raise ConfigError(
                f"spmat_width_bits: {self.spmat_width_bits} bits cannot hold one "
                f"{self.entry_bits}-bit entry (weight_bits + index_bits)")
        if self.act_frac_bits >= self.word_bits:
            raise ConfigError(
                f"act_frac_bits: {self.act_frac_bits} must be below word_bits ({self.word_bits})")
        if self.weight_frac_bits >= self.word_bits:
            raise ConfigError(
                f"weight_frac_bits: {self.weight_frac_bits} must be below word_bits ({self.word_bits})")
        if self.out_frac_bits is not None:
            o = self.out_frac_bits
            if isinstance(o, bool) or not isinstance(o, int) or not 0 <= o < self.word_bits:
                raise ConfigError(f"out_frac_bits: expected null or an integer in "
                                  f"0..{self.word_bits - 1} (< word_bits), got {o!r}")
            if self.product_shift < 0:
                raise ConfigError(
                    f"out_frac_bits: {o} exceeds weight_frac_bits + act_frac_bits "
                    f"({self.weight_frac_bits} + {self.act_frac_bits}): a product has no more "
                    f"fraction bits than that")
        if self.act_regs_per_pe > self.act_sram_capacity:
            raise ConfigError(
                f"act_regs_per_pe: {self.act_regs_per_pe} registers exceed what act_sram_kb="
                f"{self.act_sram_kb} holds ({self.act_sram_capacity} words)")
        return self

    def replace(self, **changes) -> "ArchConfig":
        """A validated copy with some fields changed (unknown names are an error)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown}; known keys: {sorted(names)}")
        return dataclasses.replace(self, **changes).validate()

    def as_dict(self) -> dict:
        # every field is a scalar: a plain field copy (dataclasses.asdict deep-copies,
        # which cost ~10 % of a LeNet image's simulation)
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


PAPER_CONFIG = ArchConfig().validate()
