"""A whole network chained on EIE: every weight layer computed by the simulator in fixed point.

Any :class:`compressor.graph.Net` with a :class:`compressor.model.QuantizedModel` (the
authors' SqueezeNet, a Net built with :class:`~compressor.graph.NetBuilder`, an imported
model) runs image by image::

    formats, ranges = calibrate_formats(net, model, x_cal, cfg)   # per-layer (sim/formats)
    chain = EieChain(net, model, cfg, formats)                    # lays out every layer once
    run = chain.run(x)                                            # one image -> NetRun
    run.output, run.float_output, run.layers, run.totals()

(:func:`eie_sim.sim.runner.run_net` with ``mode="chained"`` does the last two steps.)

Walking ``net.layers`` in order (docs/squeezenet.md "Chained run"):

* **Convolution / InnerProduct** (on EIE): the layer's input blob is unrolled
  (``compressor.graph.forward`` im2col: one M x V per output position; a fully-connected
  layer is one vector), quantized to the layer's input format, and every position runs
  through the simulator (:func:`eie_sim.sim.layer.simulate_conv_layer`, batched; every
  output checked bit for bit against numpy and within the fixed-point bound of
  ``W_float @ x_q + b``); the simulator's saturated fixed-point outputs, read back as
  floats, are the layer's output blob. No value of the float forward pass enters.
* **MatMul** (an importer's matrix over the last axis, e.g. an LSTM's ``W_ih`` over the
  time steps): one M x V per row of the leading axes, batched like a convolution's
  positions.
* **Embed** (a table look-up: ONNX ``Gather`` of a constant table, or ``OneHot`` then
  ``MatMul``): its input blob holds integer token ids; the host turns each id into a
  one-hot vector of the table size ``V`` (:func:`compressor.graph.ops.embed_rows`) and EIE
  computes the ``E x V`` M x V of the transposed table with it, one per id. Exactly one
  activation of each vector is non-zero, so the LNZD skips all the others and each PE
  reads a single column (EIE's best case: the work is one column of the table, not
  ``E x V``); the output is the table's row (``codebook[code] x 1``, rounded to the output
  format, plus the bias), equal to the float look-up up to the weights' fixed point. An
  id is exact, so its error bound is the layer's own rounding bound alone.
* **LSTM / GRU** (the recurrent matrix ``W_hh``, :mod:`compressor.graph.recurrent`): at
  every time step ``W_hh h_{t-1} + b_hh`` is one M x V on EIE, on the previous step's
  hidden state (the step's input quantized to the layer's input format), and the gate
  arithmetic runs on the host in float (as the paper ran NeuralTalk's LSTM); each step is
  one result (``NAME[tK]``). A graph's further inputs (the initial state) start at zero.
* **ReLU** (slope 0) or a ReLU6 **Clip** that is the only reader of such a layer's output
  (the graph's one rule, :func:`compressor.graph.eie_relu`) is **fused**: EIE applies
  ``max(0, x)`` when it writes the outputs back (the PE's ReLU, paper Fig. 4); a Clip's
  upper bound is then applied on the host. Any other ReLU (leaky, or on a shared blob)
  runs on the host.
* **Pooling, Concat, Dropout (identity), Softmax, Flatten, LRN, Clip** and every other
  weight-free layer of the op table (Eltwise, PReLU, the element-wise ops) run **on the host** in
  float (EIE has no unit for them), on the dequantized outputs; the next EIE layer
  quantizes the result to its own input format.

Each layer's formats (input, output + bias, weights) are a
:class:`~eie_sim.arch.fixed_point.LayerFormat`; :func:`calibrate_formats` picks them with
the per-layer rule from a calibration input's float ranges (docs/timing.md "Per-layer
fixed point"). A float forward pass of the same image runs beside it for comparison
(:attr:`~eie_sim.sim.results.NetRun.float_output`, per-layer errors), never as an input.

**Error bound.** Every EIE output is checked to lie within its fixed-point bound ``B`` of
``W_float @ x + b`` for the float value ``x`` of the chain's own input (the check stage).
With ``e_in`` the largest error of that input against the float network,
``|y_EIE - y_float| <= max_i sum_j |w_ij| e_in + max B`` (ReLU, max and average pooling,
concatenation, dropout and flatten never increase the largest error), so each layer's
:attr:`LayerError.bound` is a guarantee, not an estimate; a saturated output, a Softmax
or an LRN on the way ends it (``inf``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from compressor.graph import eie_relu, forward_layer, layer_mxv
from compressor.graph.forward import ForwardResult, forward, matrix_codes
from compressor.graph.net import Net
from compressor.graph.recurrent import RECURRENT_TYPES, recurrent_run
from compressor.model import QuantizedModel
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import LayerFormat
from eie_sim.errors import WorkloadError
from eie_sim.sim.layer import simulate_conv_layer
from eie_sim.sim.options import DEFAULT_OPTIONS, SimOptions
from eie_sim.sim.results import LayerResult, NetRun, top_k  # noqa: F401  (top_k: re-exported)
from eie_sim.sim.stages import prepare_all
from eie_sim.workloads.layer import LayerWorkload

#: layer types the host computes in float between EIE layers
HOST_TYPES = ("Pooling", "Concat", "Dropout", "Softmax", "Flatten", "LRN", "ReLU", "Clip")
#: host layers whose output error is not bounded by their input error (max norm)
EXPANSIVE_HOST_TYPES = ("Softmax", "LRN")
#: host layers whose largest output error is at most their inputs' largest (max norm):
#: every other weight-free layer of the op table (an Eltwise sum, the element-wise ops an
#: importer adds) also runs on the host, and ends the guaranteed bound (inf)
BOUNDED_HOST_TYPES = tuple(t for t in HOST_TYPES if t not in EXPANSIVE_HOST_TYPES)
EIE_TYPES = ("Convolution", "InnerProduct", "MatMul", "Embed") + RECURRENT_TYPES


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


class EieChain:
    """A network laid out on EIE layer by layer, ready to run images (:meth:`run`).

    ``formats``: layer -> :class:`LayerFormat` for every weight layer (e.g. from
    :func:`~eie_sim.sim.formats.calibrate_formats`; :func:`~eie_sim.sim.formats.single_format`
    for one network-wide format). Every weight layer is laid out once here and SRAM-fit
    checked (``check_fit``), all refusals reported together (:class:`LayoutError`).
    """

    def __init__(self, net: Net, weights: QuantizedModel, cfg: ArchConfig,
                 formats: Mapping[str, LayerFormat], *, check_fit: bool = True,
                 source: dict | None = None):
        shape = next(iter(net.inputs.values()))
        if len(shape) == 4 and shape[0] != 1:
            raise WorkloadError(f"network {net.name!r}: a chained run takes one image (batch "
                                f"1), the input shape is {shape}")
        for lay in net.layers:
            if lay.type not in EIE_TYPES + ("Input",) and lay.has_weights:
                raise WorkloadError(f"layer {lay.name!r}: type {lay.type!r} cannot be chained "
                                    f"(EIE: {', '.join(EIE_TYPES)}; any weight-free layer of "
                                    f"the op table runs on the host); eie-simulate --model "
                                    f"--mode per-layer runs each layer on the float forward "
                                    f"pass's input instead")
        missing = [lay.name for lay in net.weight_layers if lay.name not in formats]
        if missing:
            raise WorkloadError(f"no fixed-point format for weight layer(s) {missing}")
        self.net, self.weights, self.cfg = net, weights, cfg
        self.formats = {lay.name: formats[lay.name] for lay in net.weight_layers}
        self.configs = {n: f.config(cfg) for n, f in self.formats.items()}
        #: per weight layer, the ReLU EIE applies on write-back (compressor.graph.eie_relu)
        self.relu = {lay.name: eie_relu(net, lay) for lay in net.weight_layers}
        #: per layer max_i sum_j |w_ij| (how far an input error can grow through it)
        self.row_l1: dict[str, float] = {}
        wls = []
        for lay in net.weight_layers:
            q = weights.layer(lay.name)
            wl = LayerWorkload(name=lay.name, codes=matrix_codes(lay, q.codes),
                               codebook=np.asarray(q.codebook, np.float32),
                               bias=None if q.bias is None else np.asarray(q.bias, np.float32),
                               bits=int(q.bits), source=dict(source or {}, kind="chained"))
            wls.append((wl, self.configs[lay.name]))
            m = wl.codes
            rows = np.repeat(np.arange(m.rows), np.diff(m.indptr))
            absw = np.abs(np.asarray(q.codebook, np.float64))[m.data]
            self.row_l1[lay.name] = float(np.bincount(rows, absw, minlength=m.rows).max(initial=0.0))
        prepared, self.fit = prepare_all(wls, check_fit)
        self.prepared = {wl.name: prep for (wl, _), prep in zip(wls, prepared)}
        self.check_fit = check_fit

    def run(self, x: np.ndarray, options: SimOptions | None = None, *,
            float_result: ForwardResult | None = None,
            progress: Callable[[LayerResult], None] | None = None) -> NetRun:
        """One image ``x`` (the input blob's shape) through the chain (module docstring).

        ``float_result``: the float forward pass of ``x`` when already computed.
        ``progress``: called with each EIE layer's result as it finishes."""
        t0 = time.perf_counter()
        opt = options or DEFAULT_OPTIONS
        net = self.net
        in_name, in_shape = next(iter(net.inputs.items()))
        x = np.asarray(x, dtype=np.float32)
        if x.shape != tuple(in_shape):
            raise WorkloadError(f"input has shape {x.shape}, the network expects {in_shape}")
        if not np.all(np.isfinite(x)):
            raise WorkloadError("input contains NaN or infinity")
        fwd = float_result if float_result is not None else forward(net, self.weights, {in_name: x})
        # further inputs (a recurrent state) start at zero, as the float pass's
        blobs: dict[str, np.ndarray] = {n: np.zeros(tuple(s), np.float32)
                                        for n, s in net.inputs.items()}
        blobs[in_name] = x
        bounds: dict[str, float] = {n: 0.0 for n in net.inputs}   # max |EIE - float| per blob
        results, errors, fused, host = [], [], [], []
        absorbed: set[str] = set()
        for lay in net.layers:
            if lay.type == "Input" or lay.name in absorbed:
                continue
            ins = [blobs[b] for b in lay.bottoms]
            if lay.type in RECURRENT_TYPES:
                steps, ys = self._recurrent(lay, ins, opt)
                ref = fwd.layer_outputs[lay.name]
                d = np.abs(ys[0].astype(np.float64) - ref)
                errors.append(LayerError(lay.name, float(d.max(initial=0.0)),
                                         float(np.abs(ref).max(initial=0.0)), float(d.mean())))
                for res in steps:
                    res.meta.update({"max_abs_error_vs_float": errors[-1].max_abs,
                                     "relative_error_vs_float": errors[-1].relative})
                    results.append(res)
                if progress:
                    progress(steps[-1])
                for t, v in zip(lay.tops, ys):
                    blobs[t] = v
                    bounds[t] = math.inf
                continue
            if lay.type in EIE_TYPES:
                fuse = self.relu[lay.name]
                res, y = self._eie_layer(lay, ins[0], fuse.on_eie, opt)
                ref = fwd.layer_outputs[lay.name]
                if fuse.on_eie:
                    ref = np.maximum(ref, 0.0)
                d = np.abs(y.astype(np.float64) - ref)
                if lay.type == "Embed":   # exact ids -> exact one-hot; else a wrong row
                    bound = (float(res.meta.get("max_output_bound", math.inf))
                             if bounds[lay.bottoms[0]] == 0.0 else math.inf)
                else:
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
                                 "relu_fused": fuse.on_eie})
                results.append(res)
                if progress:
                    progress(res)
                blobs[lay.tops[0]] = y     # (when fused, only the absorbed layer reads it)
                bounds[lay.tops[0]] = bound
                if fuse.on_eie:
                    reader = net.layer(fuse.absorbed)
                    absorbed.add(reader.name)
                    fused.append(reader.name)
                    if fuse.host_clip is not None:     # ReLU6: the upper bound on the host
                        y = np.minimum(y, np.float32(fuse.host_clip))
                        host.append(reader.name)
                    blobs[reader.tops[0]] = y
                    bounds[reader.tops[0]] = bound
            else:
                y = forward_layer(lay, ins, self.weights)
                host.append(lay.name)
                e_in = max(bounds[b] for b in lay.bottoms)
                for t, v in zip(lay.tops, y if isinstance(y, tuple) else (y,)):
                    blobs[t] = v
                    bounds[t] = e_in if lay.type in BOUNDED_HOST_TYPES else math.inf
        last = net.layers[-1].tops[0]
        return NetRun(name=net.name, mode="chained", layers=results, config=self.cfg,
                      fit=self.fit, check_fit=self.check_fit, formats=dict(self.formats),
                      output=blobs[last],
                      float_output=fwd.blobs[last], errors=errors, fused_relu=fused,
                      host_layers=host, wall_s=time.perf_counter() - t0)

    def _recurrent(self, lay, ins: list[np.ndarray], opt: SimOptions):
        """A recurrent layer: ``W_hh h_{t-1} + b_hh`` on EIE at every step (one M x V on the
        previous step's hidden state, in fixed point), the gate arithmetic on the host
        (:func:`compressor.graph.recurrent.recurrent_run`); one result per step."""
        c = self.configs[lay.name]
        q = self.weights.layer(lay.name)
        w = q.weights().astype(np.float64)
        b = None if q.bias is None else np.asarray(q.bias, np.float64)
        steps: list[LayerResult] = []

        def mxv(h):
            res = simulate_conv_layer(self.prepared[lay.name], np.asarray(h, np.float64), c,
                                      opt.replace(check_fit=False, window=None), relu=False)
            res.name = f"{lay.name}[t{len(steps)}]"
            res.meta.update({"kernel": "fc", "out_map": f"{res.rows}x{h.shape[0]}",
                             "recurrent_step": len(steps)})
            steps.append(res)
            return res.output.reshape(h.shape[0], -1)

        y, h, cl, _ = recurrent_run(lay, ins[0].astype(np.float64), w, b,
                                    ins[1] if len(ins) > 1 else None,
                                    ins[2] if len(ins) > 2 else None, mxv=mxv)
        outs = (y, h) + ((cl,) if cl is not None else ())
        return steps, tuple(np.asarray(o, np.float32) for o in outs[:max(1, len(lay.tops))])

    def _eie_layer(self, lay, inp: np.ndarray, relu: bool, opt: SimOptions):
        c = self.configs[lay.name]
        w = layer_mxv(lay, self.weights, inp)
        res = simulate_conv_layer(self.prepared[lay.name], w.patches.astype(np.float64), c,
                                  opt.replace(check_fit=False, window=None), relu=relu)
        shape = tuple(lay.out_shapes[0])
        if len(shape) == 4 and lay.type == "Convolution":
            _, ch, oh, ow = shape
            y = res.output_map((oh, ow))
            ks = lay.weight_shape
            res.meta.update({"kernel": f"{ks[2]}x{ks[3]}", "out_map": f"{oh}x{ow}",
                             "out_hw": (oh, ow)})
        else:
            y = res.output.reshape(shape)
        return res, y.astype(np.float32)

