"""Whether a layer's memory images fit one PE's SRAMs (paper sec. IV sizes), what it would
need, and whether its weights stream from DRAM instead (docs/dram.md). The Spmat bits and
pointers of every encoding come from :func:`eie_sim.hw.encodings.stored_bits`."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from eie_sim.arch.config import INT_RANGES, ArchConfig
from eie_sim.errors import LayoutError
from eie_sim.hw.encodings import stored_bits
from eie_sim.hw.units import dram

if TYPE_CHECKING:
    from eie_sim.hw.layout import LayerLayout


def pointer_fit_advice(layout: LayerLayout, cfg: ArchConfig) -> str:
    """What more PEs do for the pointer SRAM: every PE stores ``cols (+ bias) + 1``
    pointers per output pass, and more PEs only help by cutting the number of passes
    (``ceil(rows / (N R))``)."""
    per_pass = layout.passes[0].n_cols_total + 1
    max_passes = cfg.pointer_capacity // per_pass
    if max_passes == 0:
        return (f"more PEs do not help (a single output pass already needs {per_pass} "
                f"pointers in every PE)")
    regs = cfg.act_regs_per_pe
    need_pes = math.ceil(layout.rows / (max_passes * regs))
    if need_pes > INT_RANGES["pes"][1]:
        return (f"more PEs do not help within pes <= {INT_RANGES['pes'][1]} (at most "
                f"{max_passes} output pass(es) fit)")
    passes = math.ceil(layout.rows / (need_pes * regs))
    return (f"more PEs help only by cutting output passes: about {need_pes} PEs run it in "
            f"{passes} pass(es), which fits")


@dataclass(frozen=True)
class SramNeed:
    """What one PE's memories must hold for a layer (or the largest of several layers:
    :meth:`most`), against the per-PE SRAMs of paper sec. IV. Capacities are the smallest
    whole number of KB that holds the image (``*_kb``); ``pointer_bits`` the narrowest
    pointer that addresses every entry of a PE (at least 1)."""

    spmat_entries: int            #: Spmat entries of the fullest PE (all passes)
    pointers: int                 #: column pointers per PE (all passes)
    act_words: int                #: activations per PE (the longer of input and output)
    spmat_sram_kb: int            #: Spmat SRAM needed per PE
    pointer_bits: int             #: pointer width needed
    pointer_sram_kb: int          #: pointer SRAM needed per PE (at ``max(pointer_bits, cfg's)``)
    act_sram_kb: int              #: activation SRAM needed per PE

    def weights_fit(self, cfg: ArchConfig) -> bool:
        """The weights (Spmat entries and column pointers) fit ``cfg``'s SRAMs and pointer
        width: the layer runs on chip; otherwise it streams from a DRAM (docs/dram.md)."""
        return (self.spmat_sram_kb <= cfg.spmat_sram_kb
                and (self.pointers == 0 or self.spmat_entries <= cfg.max_pointer_value)
                and self.pointers <= cfg.pointer_capacity)

    def fits(self, cfg: ArchConfig) -> bool:
        """The layer runs as ``cfg`` is built (what :func:`check_layer_fits` checks, but for
        the buffer-half check of a streamed column slice): its activations fit the
        activation SRAM, and its weights fit the Spmat/pointer SRAMs or a DRAM is attached
        to stream them (``dram`` not ``none``)."""
        return (self.act_words <= cfg.act_sram_capacity
                and (cfg.dram != "none" or self.weights_fit(cfg)))

    def sized(self, cfg: ArchConfig) -> dict[str, int]:
        """The capacities (and pointer width) ``cfg`` would need to hold it: each of
        ``spmat_sram_kb``, ``pointer_bits``, ``pointer_sram_kb``, ``act_sram_kb`` raised to
        the need where it falls short, never lowered."""
        bits = max(cfg.pointer_bits, self.pointer_bits)
        ptr_kb = -(-self.pointers * bits // (8 * 1024))
        return {"spmat_sram_kb": max(cfg.spmat_sram_kb, self.spmat_sram_kb),
                "pointer_bits": bits,
                "pointer_sram_kb": max(cfg.pointer_sram_kb, ptr_kb),
                "act_sram_kb": max(cfg.act_sram_kb, self.act_sram_kb)}

    @staticmethod
    def most(needs: "list[SramNeed]") -> "SramNeed":
        """The largest need of each memory over several layers (the layers run one after
        the other in the same SRAMs, so they must hold the largest)."""
        return SramNeed(*(max(getattr(n, f.name) for n in needs)
                          for f in dataclasses.fields(SramNeed)))

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def sram_need(layout: LayerLayout, cfg: ArchConfig) -> SramNeed:
    """What one PE's memories must hold for ``layout`` laid out on ``cfg``'s PEs (the Spmat
    bits and pointers of :func:`~eie_sim.hw.encodings.stored_bits`; ``nm`` stores no
    pointers)."""
    n = cfg.pes
    entries = np.zeros(n, dtype=np.int64)
    for p in layout.passes:
        entries += p.entries_per_pe
    worst = int(entries.max())
    sb = stored_bits(layout, cfg)
    pointers = sb["pe_pointers"]
    words = max(math.ceil(layout.cols / n), math.ceil(layout.rows / n))
    bits = max(1, worst.bit_length()) if pointers else 1
    return SramNeed(spmat_entries=worst, pointers=pointers, act_words=words,
                    spmat_sram_kb=-(-sb["pe_spmat_bits"] // (8 * 1024)),
                    pointer_bits=bits,
                    pointer_sram_kb=-(-pointers * max(bits, cfg.pointer_bits) // (8 * 1024)),
                    act_sram_kb=-(-words * cfg.word_bits // (8 * 1024)))


def fit_problems(layout: LayerLayout, cfg: ArchConfig) -> tuple[list[str], list[str]]:
    """``(weights, other)``: why the layer does not fit the per-PE SRAMs (paper sec. IV
    sizes). ``weights``: the Spmat SRAM, the pointer width and the pointer SRAM, which a
    DRAM removes by streaming (docs/dram.md); ``other``: the activation SRAM."""
    n = cfg.pes
    problems = []
    need = sram_need(layout, cfg)
    worst = need.spmat_entries
    if need.spmat_sram_kb > cfg.spmat_sram_kb:
        need_kb = need.spmat_sram_kb
        if cfg.spmat_encoding == "csc":
            fit_pes = math.ceil(n * worst / cfg.spmat_capacity_entries)  # entries/PE ~ 1/N
            problems.append(
                f"Spmat SRAM: a PE needs {worst} entries ({need_kb} KB) but spmat_sram_kb="
                f"{cfg.spmat_sram_kb} holds {cfg.spmat_capacity_entries}; about "
                f"{fit_pes} PEs would fit it (or spmat_sram_kb >= {need_kb})")
        else:
            pe_bits = stored_bits(layout, cfg)["pe_spmat_bits"]
            fit_pes = math.ceil(n * pe_bits / (cfg.spmat_sram_kb * 8 * 1024))
            problems.append(
                f"Spmat SRAM: a PE needs {pe_bits} bits ({need_kb} KB, spmat_encoding "
                f"{cfg.spmat_encoding}) but spmat_sram_kb={cfg.spmat_sram_kb}; about "
                f"{fit_pes} PEs would fit it (or spmat_sram_kb >= {need_kb})")
    if need.pointers and worst > cfg.max_pointer_value:
        problems.append(
            f"pointer width: a PE holds {worst} entries but {cfg.pointer_bits}-bit pointers "
            f"address at most {cfg.max_pointer_value}; set pointer_bits >= "
            f"{math.ceil(math.log2(worst + 1))} or use more PEs (about "
            f"{math.ceil(n * worst / cfg.max_pointer_value)})")
    pointers = need.pointers
    if pointers > cfg.pointer_capacity:
        need_kb = math.ceil(pointers * cfg.pointer_bits / 8 / 1024)
        problems.append(
            f"pointer SRAM: {pointers} column pointers ({need_kb} KB) per PE "
            f"({len(layout.passes)} output pass(es) x {layout.passes[0].n_cols_total + 1}) but "
            f"pointer_sram_kb={cfg.pointer_sram_kb} holds {cfg.pointer_capacity}; "
            + pointer_fit_advice(layout, cfg) + f" (or pointer_sram_kb >= {need_kb})")
    other = []
    for what, length in (("input", layout.cols), ("output", layout.rows)):
        per_pe = math.ceil(length / n)
        if per_pe > cfg.act_sram_capacity:
            other.append(
                f"activation SRAM: the {length}-long {what} vector needs {per_pe} words per PE "
                f"but act_sram_kb={cfg.act_sram_kb} holds {cfg.act_sram_capacity}; about "
                f"{math.ceil(length / cfg.act_sram_capacity)} PEs would fit it")
    return problems, other


def streams(layout: LayerLayout, cfg: ArchConfig) -> bool:
    """Whether the layer's weights stream from DRAM (docs/dram.md): a DRAM is attached
    (``dram`` not ``none``) and ``dram_stream: always`` or the weights do not fit the
    Spmat/pointer SRAMs. Cached per configuration on the layout."""
    if cfg.dram == "none":
        return False
    if cfg.dram_stream == "always":
        hit = True
    else:
        key = ("streams", cfg.spmat_sram_kb, cfg.pointer_sram_kb, cfg.pointer_bits,
               cfg.entry_bits, cfg.spmat_encoding, cfg.spmat_width_bits)
        hit = layout.meta.get(key)
        if hit is None:
            hit = layout.meta[key] = bool(fit_problems(layout, cfg)[0])
    if hit and cfg.spmat_encoding != "csc":
        raise LayoutError(f"layer {layout.name!r}: its weights would stream from DRAM, which is "
                          f"modelled for spmat_encoding: csc only (not {cfg.spmat_encoding}); "
                          f"use more PEs or larger SRAMs, or dram_stream: auto")
    return hit


def check_layer_fits(layout: LayerLayout, cfg: ArchConfig) -> None:
    """Refuse a layer whose memory images exceed the per-PE SRAMs (paper sec. IV sizes).
    With a DRAM (``dram`` not ``none``) weights that do not fit are streamed instead
    (:func:`streams`); a column slice larger than a buffer half is refused when run."""
    weights, other = fit_problems(layout, cfg)
    problems = other if cfg.dram != "none" else weights + other
    if streams(layout, cfg):
        for p in layout.passes:
            try:
                dram.check_streamable(p.ptr, layout.name, cfg)
            except LayoutError as exc:
                problems.append(str(exc).split(": ", 1)[1])
                break
    if problems:
        raise LayoutError(f"layer {layout.name!r} ({layout.rows} x {layout.cols}) does not fit "
                          f"{cfg.pes} PEs: " + "; ".join(problems)
                          + ("" if cfg.dram != "none" or not weights else
                             " (or attach a DRAM to stream the weights: dram: ddr4_3200)"))
