"""A model file you bring, end to end on EIE: every input through the whole graph chained in
fixed point, the final outputs compared with the float model's (docs/byom.md).

``eie-simulate --model FILE`` (default ``mode: chained``) runs each input given
(``--input`` files or folders, ``--image`` package images, or one seeded synthetic input;
:mod:`compressor.inputs` checks each input's shape and layout against the graph's; a graph
with several inputs gets them as its first, the others, a recurrent state, at zero)
through :class:`eie_sim.sim.chain.EieChain`: every Convolution / InnerProduct / MatMul
computed by the simulator in fixed point on the previous layers' fixed-point outputs, an
``Embed`` look-up (integer token ids in) as the table's M x V with one one-hot vector per
id (the host makes it; one non-zero activation, EIE's best case), a
recurrent layer's ``W_hh h_{t-1}`` on EIE at every step with its gate arithmetic on the
host, host operators in float in between, every EIE output checked against numpy (bit for
bit) on its own input.

Fixed point: the network-wide choices of :func:`eie_sim.sim.formats.network_format`
(``weight_bits`` raised to the codebooks' width; keys the user set are kept) and per
layer the formats of :func:`eie_sim.sim.formats.calibrate_formats` from the largest float
ranges over the inputs run, with :data:`~eie_sim.arch.fixed_point.DEFAULT_HEADROOM_BITS`
spare integer bits.

The **float model** the outputs are compared with: the ``reference`` file when given
(``--float-model``: e.g. the ``.onnx`` a ``.dcmp`` was compressed from), else the model
file's own weights in float (a dense file: its float weights, before the run quantizes
them; a ``.dcmp``: ``codebook[codes]``). Per input the relative error
``||y_EIE - y_float||_2 / ||y_float||_2`` and, for a classifier, top-1 / top-5 agreement
(:mod:`compressor.accuracy`); the relative error against the same quantized weights in
float (the fixed-point arithmetic alone) is reported beside it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from compressor import accuracy
from compressor.graph.forward import forward
from compressor.graph.net import Net
from compressor.model import QuantizedModel
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import DEFAULT_HEADROOM_BITS, LayerFormat
from eie_sim.errors import WorkloadError
from eie_sim.sim.chain import EieChain
from eie_sim.sim.formats import calibrate_formats, layer_ranges, network_format
from eie_sim.sim.options import SimOptions
from eie_sim.sim.results import LayerResult, NetRun


@dataclass
class ModelInputRun:
    """One input through the chain."""

    label: str
    run: NetRun
    output: np.ndarray             #: EIE's final output
    float_output: np.ndarray       #: the float model's
    rel_error: float               #: vs the float model
    fixed_point_rel_error: float   #: vs the same quantized weights in float


@dataclass
class ModelChainRun:
    """Every input of a chained model run, the agreement over them, the formats used."""

    inputs: list[ModelInputRun]
    agreement: accuracy.Agreement
    config: ArchConfig
    overrides: list[dict]
    formats: dict[str, LayerFormat]
    float_model: str
    notes: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def outputs(self) -> np.ndarray:
        """EIE's final outputs, one row per input: concatenated along the batch axis when
        it is 1 (``(K, ...)``), else stacked (``(K, T, N, ...)`` for a sequence)."""
        return _rows([r.output for r in self.inputs])

    def float_outputs(self) -> np.ndarray:
        return _rows([r.float_output for r in self.inputs])

    def rows(self) -> list[dict[str, Any]]:
        agree = {r["input"]: r for r in self.agreement.rows()}
        out = []
        for r in self.inputs:
            t = r.run.totals()
            a = agree[r.label]
            row = {"input": r.label, "relative_error": r.rel_error,
                   "fixed_point_relative_error": r.fixed_point_rel_error,
                   "cycles": t["cycles"], "time_us": t["time_us"], "total_energy_uj": t["total_energy_uj"],
                   "input_saturations": t["input_saturations"],
                   "output_saturations": t["output_saturations"]}
            if self.agreement.classifier:
                row.update({"float_top5": a["float_top5"], "eie_top5": a["other_top5"],
                            "top1_agree": a["top1_agree"], "top5_agree": a["top5_agree"]})
            out.append(row)
        return out


def _rows(arrays: list[np.ndarray]) -> np.ndarray:
    if all(a.ndim >= 1 and a.shape[0] == 1 for a in arrays):
        return np.concatenate(arrays)
    return np.stack(arrays)


def run_model_chain(net: Net, model: QuantizedModel, inputs: list[tuple[str, np.ndarray]],
                    cfg: ArchConfig, *, float_net: Net | None = None, float_weights=None,
                    float_inputs: list[np.ndarray] | None = None, float_model: str = "",
                    explicit: frozenset[str] | set[str] = frozenset(),
                    options: SimOptions | None = None, source: dict | None = None,
                    on_layer: Callable[[LayerResult], None] | None = None,
                    on_input: Callable[[ModelInputRun], None] | None = None) -> ModelChainRun:
    """Run ``inputs`` (``(label, blob in the graph's layout)``) through ``net`` chained on
    EIE (module docstring). ``float_net``/``float_weights``: the float model (default:
    ``net`` with ``model``'s weights in float); ``float_inputs``: its inputs when its graph
    takes them in another form (default: the same blobs)."""
    t0 = time.perf_counter()
    opt = options or SimOptions()
    if not inputs:
        raise WorkloadError("no inputs to run")
    xs = [x for _, x in inputs]
    first = next(iter(net.inputs))
    fwds = [forward(net, model, {first: x}) for x in xs]
    bits = max(int(model.layer(lay.name).bits) for lay in net.weight_layers)
    cfg, overrides = network_format(cfg, layer_ranges(net, model, xs, fwds), bits,
                                    frozenset(explicit))
    formats, _ = calibrate_formats(net, model, xs, cfg, DEFAULT_HEADROOM_BITS, forwards=fwds)
    chain = EieChain(net, model, cfg, formats, check_fit=opt.check_fit, source=source)
    fnet = float_net or net
    fw = float_weights if float_weights is not None else model
    f_in = float_inputs or xs
    runs = []
    for (label, x), fx, fwd in zip(inputs, f_in, fwds):
        run = chain.run(x, opt, float_result=fwd, progress=on_layer)
        (ref,) = accuracy.final_outputs(fnet, fw, [fx])
        if np.shape(ref) != np.shape(run.output):
            raise WorkloadError(f"the float model's output has shape {np.shape(ref)}, the "
                                f"model's {np.shape(run.output)}")
        r = ModelInputRun(label, run, run.output, np.asarray(ref, np.float32),
                          accuracy.rel_error(run.output, ref),
                          accuracy.rel_error(run.output, run.float_output))
        runs.append(r)
        if on_input:
            on_input(r)
    agree = accuracy.compare_outputs([r.float_output for r in runs], [r.output for r in runs],
                                     [r.label for r in runs])
    notes = [
        "Chained in fixed point: every Convolution / InnerProduct / MatMul runs on EIE on the "
        "previous layers' fixed-point outputs (all output positions), an Embed look-up as the "
        "table's M x V with a one-hot vector per token id (one non-zero activation), a recurrent layer's "
        "W_hh h_{t-1} once per step (rows NAME[tK]) with its gate arithmetic on the host; other "
        "host operators run in float in between; every EIE output is checked against numpy "
        "bit for bit.",
        f"Formats per layer from the largest float ranges over the {len(xs)} input(s) run, "
        f"{DEFAULT_HEADROOM_BITS} headroom bit(s) (eie_sim/sim/formats.py).",
        f"Float model: {float_model or 'the model file weights in float'}; relative error "
        f"||y_EIE - y_float|| / ||y_float|| (L2) of the final output; fixed-point relative "
        f"error: against the same quantized weights in float.",
    ]
    return ModelChainRun(runs, agree, cfg, overrides, formats, float_model, notes,
                         time.perf_counter() - t0)
