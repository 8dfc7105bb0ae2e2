"""Fixed-point formats of a network's weight layers: measured ranges, then formats.

Two rules, both from the float ranges of a calibration input (:class:`LayerRange`):

* **one network-wide format** (:func:`network_format`): the paper's single 16-bit format
  with ``act_frac_bits`` lowered until every activation, pre-ReLU output and bias of the
  network fits (no saturation), ``weight_frac_bits`` lowered only if a codebook entry
  would not fit, and ``weight_bits`` raised to the codebooks' width; keys the user set
  are never changed. The per-layer runs (SqueezeNet, the compact networks) use it.
* **per layer** (:func:`calibrate_formats`): each layer's input, output + bias and weight
  formats by :func:`eie_sim.arch.fixed_point.layer_format` (docs/timing.md "Per-layer
  fixed point"), for the chained run (:mod:`eie_sim.sim.chain`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from compressor.graph.forward import forward
from compressor.graph.net import Net
from compressor.graph.recurrent import RECURRENT_TYPES
from compressor.model import QuantizedModel
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import (
    DEFAULT_HEADROOM_BITS,
    LayerFormat,
    frac_bits_for,
    layer_format,
)
from eie_sim.errors import ConfigError


@dataclass
class LayerRange:
    """The calibration ranges of one weight layer (largest magnitudes seen)."""

    name: str
    in_max: float
    out_max: float        #: pre-ReLU output
    bias_max: float
    weight_max: float     #: codebook

    def as_dict(self) -> dict[str, float]:
        return {"layer": self.name, "in_max": self.in_max, "out_max": self.out_max,
                "bias_max": self.bias_max, "weight_max": self.weight_max}


def layer_ranges(net: Net, weights: QuantizedModel, inputs: list[np.ndarray],
                 forwards: list | None = None) -> list[LayerRange]:
    """Per weight layer, the largest input, pre-ReLU output, bias and codebook magnitudes
    over the float forward passes of ``inputs`` (each ``(1, C, H, W)``; ``forwards``:
    their :class:`~compressor.graph.forward.ForwardResult` when already computed)."""
    first = next(iter(net.inputs))
    fwds = forwards if forwards is not None else [forward(net, weights, {first: x}) for x in inputs]
    out = []
    for lay in net.weight_layers:
        q = weights.layer(lay.name)
        out.append(LayerRange(
            lay.name,
            1.0 if lay.type == "Embed" else     # its M x V input is one-hot (0 or 1)
            max(float(np.abs(f.layer_inputs[lay.name]).max(initial=0.0)) for f in fwds),
            max(_out_max(lay, q, f) for f in fwds),
            0.0 if q.bias is None else float(np.abs(q.bias).max(initial=0.0)),
            float(np.abs(q.codebook).max(initial=0.0))))
    return out


def _out_max(lay, q, f) -> float:
    """The largest pre-ReLU output EIE computes: the layer's output, or for a recurrent
    layer its M x V ``W_hh h_{t-1} + b_hh`` over the hidden states it multiplied."""
    if lay.type in RECURRENT_TYPES:
        h = np.asarray(f.layer_inputs[lay.name], np.float64)
        g = h.reshape(-1, h.shape[-1]) @ q.weights().astype(np.float64).T
        if q.bias is not None:
            g = g + np.asarray(q.bias, np.float64)
        return float(np.abs(g).max(initial=0.0))
    return float(np.abs(f.layer_outputs[lay.name]).max(initial=0.0))


def calibrate_formats(net: Net, weights: QuantizedModel, calibration: np.ndarray | list[np.ndarray],
                      cfg: ArchConfig, headroom_bits: int = DEFAULT_HEADROOM_BITS,
                      overrides: Mapping[str, Mapping[str, int]] | None = None,
                      where: Mapping[str, str] | None = None, forwards: list | None = None,
                      ) -> tuple[dict[str, LayerFormat], list[LayerRange]]:
    """Per weight layer, its :class:`LayerFormat` by the per-layer rule
    (:func:`~eie_sim.arch.fixed_point.layer_format`) from the ranges of the calibration
    input(s), then ``overrides`` (layer -> some of ``act_frac_bits``, ``out_frac_bits``,
    ``weight_frac_bits``; ``where``: layer -> the text locating it, for errors;
    ``forwards``: the float forward passes of the inputs when already computed).

    Raises :class:`ConfigError` for an override of an unknown layer or an impossible
    combination (named with its location)."""
    cal = calibration if isinstance(calibration, list) else [calibration]
    ranges = layer_ranges(net, weights, cal, forwards)
    formats = {r.name: layer_format(r.in_max, r.out_max, r.bias_max, r.weight_max,
                                    cfg.word_bits, headroom_bits) for r in ranges}
    return apply_overrides(formats, overrides, cfg, where), ranges


def apply_overrides(formats: dict[str, LayerFormat],
                    overrides: Mapping[str, Mapping[str, int]] | None, cfg: ArchConfig,
                    where: Mapping[str, str] | None = None) -> dict[str, LayerFormat]:
    """``formats`` with the per-layer overrides applied and checked against ``cfg``."""
    formats = dict(formats)
    for name, ov in (overrides or {}).items():
        loc = (where or {}).get(name, f"fixed_point.layers.{name}")
        if name not in formats:
            raise ConfigError(f"{loc}: no weight layer {name!r} in the network; weight layers: "
                              f"{', '.join(formats)}")
        f = formats[name]
        new = LayerFormat(int(ov.get("act_frac_bits", f.act_frac_bits)),
                          int(ov.get("out_frac_bits", f.out_frac_bits)),
                          int(ov.get("weight_frac_bits", f.weight_frac_bits)))
        try:
            new.config(cfg)
        except ConfigError as exc:
            raise ConfigError(f"{loc}: {exc}") from None
        formats[name] = new
    return formats


def single_format(net: Net, cfg: ArchConfig) -> dict[str, LayerFormat]:
    """Every weight layer in ``cfg``'s one format (inputs and outputs alike)."""
    f = LayerFormat(cfg.act_frac_bits, cfg.act_frac_bits, cfg.weight_frac_bits)
    return {lay.name: f for lay in net.weight_layers}


def biases_rounded_to_zero(weights: QuantizedModel, formats: Mapping[str, LayerFormat]
                           ) -> dict[str, tuple[int, int]]:
    """Per layer ``(non-zero biases that round to 0 in the output format, non-zero biases)``."""
    out = {}
    for name, f in formats.items():
        b = weights.layer(name).bias
        if b is None:
            out[name] = (0, 0)
            continue
        b = np.asarray(b, dtype=np.float64)
        nz = b != 0
        zero = np.floor(b * (1 << f.out_frac_bits) + 0.5) == 0
        out[name] = (int(np.count_nonzero(zero & nz)), int(np.count_nonzero(nz)))
    return out


def network_format(cfg: ArchConfig, ranges: list[LayerRange], bits: int,
                   explicit: frozenset[str] | set[str] = frozenset()
                   ) -> tuple[ArchConfig, list[dict]]:
    """The configuration a network's layers need in one network-wide format, and the
    overrides made (``{key, old, new, why}``); keys in ``explicit`` (set by the user) are
    never changed (module docstring). ``bits``: the widest codebook of the layers run."""
    overrides: list[dict] = []

    def change(key, new, why):
        nonlocal cfg
        old = getattr(cfg, key)
        if key in explicit or new == old:
            return
        cfg = cfg.replace(**{key: new})
        overrides.append({"key": key, "old": old, "new": new, "why": why})

    if cfg.weight_bits < bits:
        change("weight_bits", bits, f"the layers' codebooks have 2**{bits} = {1 << bits} entries "
               f"(Spmat entries grow to {bits}+{cfg.index_bits} bits: "
               f"{cfg.spmat_width_bits // (bits + cfg.index_bits)} per {cfg.spmat_width_bits}-bit line)")
    act_max = max(max(r.in_max, r.out_max, r.bias_max) for r in ranges)
    f = frac_bits_for(act_max, cfg.word_bits)
    if cfg.act_frac_bits > f:
        change("act_frac_bits", f, f"largest activation / pre-ReLU output / bias magnitude is "
               f"{act_max:.1f}; {cfg.word_bits}-bit words with {f} fraction bits hold "
               f"+-{(1 << (cfg.word_bits - 1)) / (1 << f):g} (step {2.0 ** -f:g})")
    w_max = max(r.weight_max for r in ranges)
    fw = frac_bits_for(w_max, cfg.word_bits)
    if cfg.weight_frac_bits > fw:
        change("weight_frac_bits", fw, f"largest codebook magnitude is {w_max:.4g}")
    return cfg, overrides
