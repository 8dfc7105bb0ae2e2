"""A whole network chained on EIE: every weight layer computed by the simulator in fixed point.

Any :class:`compressor.graph.Net` with a :class:`compressor.model.QuantizedModel` (the
authors' SqueezeNet, a Net built with :class:`~compressor.graph.NetBuilder`, an imported
model) runs image by image::

    formats, ranges = calibrate_formats(net, model, x_cal, cfg)   # per-layer fixed point
    chain = EieChain(net, model, cfg, formats)                    # lays out every layer once
    run = chain.run(x)                                            # one image, (1, C, H, W)
    run.output, run.float_output, run.layers, run.totals()

Walking ``net.layers`` in order (docs/squeezenet.md "Chained run"):

* **Convolution / InnerProduct** (on EIE): the layer's input blob is unrolled
  (``compressor.graph.forward`` im2col: one M x V per output position; a fully-connected
  layer is one vector), quantized to the layer's input format, and every position runs
  through the simulator (:func:`eie_sim.sim.layer.simulate_conv_layer`, batched; every
  output checked bit for bit against numpy and within the fixed-point bound of
  ``W_float @ x_q + b``); the simulator's saturated fixed-point outputs, read back as
  floats, are the layer's output blob. No value of the float forward pass enters.
* **ReLU** right after such a layer (slope 0, reading only that layer's output) is
  **fused**: EIE applies it when it writes the outputs back (the PE's ReLU, paper Fig. 4);
  any other ReLU (leaky, or on a shared blob) runs on the host.
* **Pooling, Concat, Dropout (identity), Softmax, Flatten, LRN** run **on the host** in
  float (EIE has no unit for them), on the dequantized outputs; the next EIE layer
  quantizes the result to its own input format.

Each layer's formats (input, output + bias, weights) are a
:class:`~eie_sim.arch.fixed_point.LayerFormat`; :func:`calibrate_formats` picks them with
the per-layer rule from a calibration input's float ranges (docs/timing.md "Per-layer
fixed point"). A float forward pass of the same image runs beside it for comparison
(:attr:`ChainedRun.float_output`, per-layer errors), never as an input.

**Error bound.** Every EIE output is checked to lie within its fixed-point bound ``B`` of
``W_float @ x + b`` for the float value ``x`` of the chain's own input (the check stage).
With ``e_in`` the largest error of that input against the float network,
``|y_EIE - y_float| <= max_i sum_j |w_ij| e_in + max B`` (ReLU, max and average pooling,
concatenation, dropout and flatten never increase the largest error), so each layer's
:attr:`LayerError.bound` is a guarantee, not an estimate; a saturated output, a Softmax
or an LRN on the way ends it (``inf``).
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from compressor.graph.forward import ForwardResult, forward, layer_workloads
from compressor.graph.net import Net
from compressor.model import QuantizedModel
from eie_sim.arch import energy as energy_mod
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import DEFAULT_HEADROOM_BITS, LayerFormat, layer_format
from eie_sim.errors import ConfigError, WorkloadError
from eie_sim.sim.layer import simulate_conv_layer
from eie_sim.sim.results import LayerResult, network_totals
from eie_sim.sim.stages import prepare_all
from eie_sim.workloads.layer import LayerWorkload

#: layer types the host computes in float between EIE layers
HOST_TYPES = ("Pooling", "Concat", "Dropout", "Softmax", "Flatten", "LRN", "ReLU")
#: host layers whose output error is not bounded by their input error (max norm)
EXPANSIVE_HOST_TYPES = ("Softmax", "LRN")
EIE_TYPES = ("Convolution", "InnerProduct")


# ------------------------------------------------------------------ formats
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


def layer_ranges(net: Net, weights: QuantizedModel, inputs: list[np.ndarray]) -> list[LayerRange]:
    """Per weight layer, the largest input, pre-ReLU output, bias and codebook magnitudes
    over the float forward passes of ``inputs`` (each ``(1, C, H, W)``)."""
    fwds = [forward(net, weights, x) for x in inputs]
    out = []
    for lay in net.weight_layers:
        q = weights.layer(lay.name)
        out.append(LayerRange(
            lay.name,
            max(float(np.abs(f.layer_inputs[lay.name]).max(initial=0.0)) for f in fwds),
            max(float(np.abs(f.layer_outputs[lay.name]).max(initial=0.0)) for f in fwds),
            0.0 if q.bias is None else float(np.abs(q.bias).max(initial=0.0)),
            float(np.abs(q.codebook).max(initial=0.0))))
    return out


def calibrate_formats(net: Net, weights: QuantizedModel, calibration: np.ndarray | list[np.ndarray],
                      cfg: ArchConfig, headroom_bits: int = DEFAULT_HEADROOM_BITS,
                      overrides: Mapping[str, Mapping[str, int]] | None = None,
                      where: Mapping[str, str] | None = None,
                      ) -> tuple[dict[str, LayerFormat], list[LayerRange]]:
    """Per weight layer, its :class:`LayerFormat` by the per-layer rule
    (:func:`~eie_sim.arch.fixed_point.layer_format`) from the ranges of the calibration
    input(s), then ``overrides`` (layer -> some of ``act_frac_bits``, ``out_frac_bits``,
    ``weight_frac_bits``; ``where``: layer -> the text locating it, for errors).

    Raises :class:`ConfigError` for an override of an unknown layer or an impossible
    combination (named with its location)."""
    cal = calibration if isinstance(calibration, list) else [calibration]
    ranges = layer_ranges(net, weights, cal)
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


# ------------------------------------------------------------------ the chain
@dataclass
class LayerError:
    """One EIE layer's output against the float network's same layer on the same image."""

    name: str
    max_abs: float          #: largest |EIE - float| over the layer's outputs
    float_max: float        #: largest |float output| (the scale)
    mean_abs: float
    #: the guaranteed bound on ``max_abs`` propagated through the chain (module docstring,
    #: "Error bound"); ``inf`` after a saturation, a Softmax or an LRN
    bound: float = math.inf

    @property
    def relative(self) -> float:
        return self.max_abs / self.float_max if self.float_max else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"layer": self.name, "max_abs_error": self.max_abs, "float_max": self.float_max,
                "mean_abs_error": self.mean_abs, "relative_error": self.relative,
                "error_bound": self.bound}


@dataclass
class ChainedRun:
    """One image through the network with every weight layer on EIE."""

    layers: list[LayerResult]             #: the EIE layers, in order
    formats: dict[str, LayerFormat]
    output: np.ndarray                    #: the last layer's blob (EIE chain + host ops)
    float_output: np.ndarray              #: the same blob of the float forward pass
    errors: list[LayerError]              #: per EIE layer, against the float pass
    fused_relu: list[str]                 #: ReLU layers applied by EIE on write-back
    host_layers: list[str]                #: layers computed on the host in float
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        """:func:`~eie_sim.sim.results.network_totals` of the EIE layers (one image)."""
        return network_totals(self.layers)

    def top_k(self, k: int = 5) -> tuple[list[int], list[int]]:
        """``(EIE top-k, float top-k)`` class indices of the last blob (largest first;
        ties by lower index)."""
        return top_k(self.output, k), top_k(self.float_output, k)


def top_k(scores: np.ndarray, k: int = 5) -> list[int]:
    """Indices of the ``k`` largest values of a flattened score blob (ties: lower index)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.lexsort((np.arange(s.size), -s))
    return [int(i) for i in order[:k]]


def _fusable_relu(net: Net, i: int) -> bool:
    """Whether layer ``i`` (a weight layer) is followed by a ReLU EIE can apply on
    write-back: slope 0, reading this layer's top, which nothing else reads."""
    lay = net.layers[i]
    if i + 1 >= len(net.layers):
        return False
    nxt = net.layers[i + 1]
    if nxt.type != "ReLU" or nxt.negative_slope != 0.0 or nxt.bottoms != [lay.tops[0]]:
        return False
    if nxt.tops[0] == lay.tops[0]:           # in place: later readers see the ReLU'd blob
        return True
    return not any(lay.tops[0] in other.bottoms for other in net.layers[i + 2:])


class EieChain:
    """A network laid out on EIE layer by layer, ready to run images (:meth:`run`).

    ``formats``: layer -> :class:`LayerFormat` for every weight layer (e.g. from
    :func:`calibrate_formats`; :func:`single_format` for one network-wide format). Every
    weight layer is laid out once here and SRAM-fit checked (``check_fit``), all refusals
    reported together (:class:`LayoutError`).
    """

    def __init__(self, net: Net, weights: QuantizedModel, cfg: ArchConfig,
                 formats: Mapping[str, LayerFormat], *, check_fit: bool = True,
                 source: dict | None = None):
        if len(net.inputs) != 1:
            raise WorkloadError(f"network {net.name!r}: a chained run takes one input blob, "
                                f"the network has {list(net.inputs)}")
        (shape,) = net.inputs.values()
        if shape[0] != 1:
            raise WorkloadError(f"network {net.name!r}: a chained run takes one image (batch "
                                f"1), the input shape is {shape}")
        for lay in net.layers:
            if lay.type not in EIE_TYPES + HOST_TYPES + ("Input",):
                raise WorkloadError(f"layer {lay.name!r}: type {lay.type!r} cannot be chained "
                                    f"(EIE: {', '.join(EIE_TYPES)}; host: {', '.join(HOST_TYPES)})")
        missing = [lay.name for lay in net.weight_layers if lay.name not in formats]
        if missing:
            raise WorkloadError(f"no fixed-point format for weight layer(s) {missing}")
        self.net, self.weights, self.cfg = net, weights, cfg
        self.formats = {lay.name: formats[lay.name] for lay in net.weight_layers}
        self.configs = {n: f.config(cfg) for n, f in self.formats.items()}
        #: per layer max_i sum_j |w_ij| (how far an input error can grow through it)
        self.row_l1: dict[str, float] = {}
        wls = []
        for lay in net.weight_layers:
            q = weights.layer(lay.name)
            w = _matrix(net, weights, lay)
            wl = LayerWorkload(name=lay.name, codes=w.layer.codes, codebook=np.asarray(q.codebook, np.float32),
                               bias=None if q.bias is None else np.asarray(q.bias, np.float32),
                               bits=int(q.bits), source=dict(source or {}, kind="chained"))
            wls.append((wl, self.configs[lay.name]))
            m = wl.codes
            rows = np.repeat(np.arange(m.rows), np.diff(m.indptr))
            absw = np.abs(np.asarray(q.codebook, np.float64))[m.data]
            self.row_l1[lay.name] = float(np.bincount(rows, absw, minlength=m.rows).max(initial=0.0))
        prepared, _ = prepare_all(wls, check_fit)
        self.prepared = {wl.name: prep for (wl, _), prep in zip(wls, prepared)}
        self.check_fit = check_fit

    def run(self, x: np.ndarray, *, engine: str = "fast", verify: bool = False,
            energy_table: energy_mod.EnergyTable | None = None,
            float_result: ForwardResult | None = None,
            progress: Callable[[LayerResult], None] | None = None) -> ChainedRun:
        """One image ``x`` (the input blob's shape) through the chain (module docstring).

        ``float_result``: the float forward pass of ``x`` when already computed.
        ``progress``: called with each EIE layer's result as it finishes."""
        t0 = time.perf_counter()
        net = self.net
        (in_name, in_shape), = net.inputs.items()
        x = np.asarray(x, dtype=np.float32)
        if x.shape != tuple(in_shape):
            raise WorkloadError(f"input has shape {x.shape}, the network expects {in_shape}")
        if not np.all(np.isfinite(x)):
            raise WorkloadError("input contains NaN or infinity")
        fwd = float_result if float_result is not None else forward(net, self.weights, x)
        blobs: dict[str, np.ndarray] = {in_name: x}
        bounds: dict[str, float] = {in_name: 0.0}       # guaranteed max |EIE - float| per blob
        results, errors, fused, host = [], [], [], []
        skip = -1
        for i, lay in enumerate(net.layers):
            if lay.type == "Input" or i == skip:
                continue
            ins = [blobs[b] for b in lay.bottoms]
            if lay.type in EIE_TYPES:
                relu = _fusable_relu(net, i)
                res, y = self._eie_layer(lay, ins[0], relu, engine, verify, energy_table)
                ref = fwd.layer_outputs[lay.name]
                if relu:
                    ref = np.maximum(ref, 0.0)
                    fused.append(net.layers[i + 1].name)
                    skip = i + 1
                d = np.abs(y.astype(np.float64) - ref)
                bound = (self.row_l1[lay.name] * bounds[lay.bottoms[0]]
                         + float(res.meta.get("max_output_bound", math.inf)))
                c = self.configs[lay.name]
                limit = (1 << (c.word_bits - 1)) / (1 << c.output_frac_bits)
                if res.output_saturations or float(np.abs(y).max(initial=0.0)) + bound >= limit:
                    bound = math.inf     # the check held EIE to the saturated float value
                errors.append(LayerError(lay.name, float(d.max(initial=0.0)),
                                         float(np.abs(ref).max(initial=0.0)), float(d.mean()),
                                         bound))
                res.meta.update({"max_abs_error_vs_float": errors[-1].max_abs,
                                 "relative_error_vs_float": errors[-1].relative,
                                 "relu_fused": relu})
                results.append(res)
                if progress:
                    progress(res)
                out_top = net.layers[i + 1].tops[0] if relu else lay.tops[0]
                blobs[out_top] = y
                bounds[out_top] = bound
                if relu and out_top != lay.tops[0]:
                    blobs[lay.tops[0]] = y       # (nothing else reads it: _fusable_relu)
                    bounds[lay.tops[0]] = bound
            else:
                y = host_forward(lay, ins)
                host.append(lay.name)
                blobs[lay.tops[0]] = y
                e_in = max(bounds[b] for b in lay.bottoms)
                bounds[lay.tops[0]] = math.inf if lay.type in EXPANSIVE_HOST_TYPES else e_in
        last = net.layers[-1].tops[0]
        return ChainedRun(results, dict(self.formats), blobs[last], fwd.blobs[last], errors,
                          fused, host, time.perf_counter() - t0)

    def _eie_layer(self, lay, inp: np.ndarray, relu: bool, engine, verify, energy_table):
        c = self.configs[lay.name]
        w = _matrix(self.net, self.weights, lay, inp)
        res = simulate_conv_layer(self.prepared[lay.name], w.patches.astype(np.float64), c,
                                  relu=relu, check_fit=False, engine=engine, verify=verify,
                                  energy_table=energy_table)
        shape = tuple(lay.out_shapes[0])
        if len(shape) == 4:
            _, ch, oh, ow = shape
            y = res.output_map((oh, ow))
            ks = lay.weight_shape
            res.meta.update({"kernel": f"{ks[2]}x{ks[3]}", "out_map": f"{oh}x{ow}",
                             "out_hw": (oh, ow)})
        else:
            y = res.output.reshape(shape)
        return res, y.astype(np.float32)


def _matrix(net: Net, weights: QuantizedModel, lay, inp: np.ndarray | None = None):
    """The layer's M x V workload (``compressor.graph.forward.layer_workloads`` on this
    layer alone): the 2-D code matrix and, given the input blob, its patches."""
    sub = Net(net.name, dict(net.inputs), [lay], dict(net.blob_shapes))
    if inp is None:
        inp = np.zeros(lay.in_shapes[0], dtype=np.float32)
    res = ForwardResult({}, layer_inputs={lay.name: inp})
    (w,) = layer_workloads(sub, weights, result=res)
    return w


def host_forward(lay, ins: list[np.ndarray]) -> np.ndarray:
    """A host-side layer (pooling, concat, ...) in float: the float forward pass's code
    (``compressor.graph.forward.forward``) on a network of this one layer."""
    names = [f"_in{k}" for k in range(len(ins))]
    if len(ins) == 1:
        sub = Net("host", {names[0]: tuple(ins[0].shape)},
                  [_renamed(lay, names)], {names[0]: tuple(ins[0].shape)})
        return forward(sub, {}, ins[0]).blobs[lay.tops[0]]
    # several inputs (Concat): forward() takes one input blob; the layer's own code is a
    # concatenation along its axis
    if lay.type != "Concat":
        raise WorkloadError(f"layer {lay.name!r}: {lay.type} with {len(ins)} inputs on the host")
    return np.concatenate(ins, axis=1 if lay.concat_axis is None else lay.concat_axis)


def _renamed(lay, bottoms: list[str]):
    """A copy of ``lay`` reading ``bottoms`` (its shapes and parameters kept)."""
    return dataclasses.replace(lay, bottoms=list(bottoms))
