"""The compact networks of :mod:`compressor.zoo` on EIE, by name, with synthetic weights.

``mobilenet_v1``, ``mobilenet_v2``, ``squeezenext23``, ``squeezedet``, ``enet`` and
``segnet`` are built from their papers' layer shapes (:func:`compressor.zoo.build`), given
seeded synthetic weights pruned to assumed Deep Compression-like densities and quantized
to 4-bit codes (:func:`compressor.zoo.synthetic.synthetic_model`), and run as SqueezeNet
runs, through the one network runner (:func:`eie_sim.sim.runner.run_net`, per-layer
mode): the float forward pass of the quantized network on a seeded synthetic image gives
every parameter layer its input; each layer is one M x V per output position on the same
layout, every simulated output checked bit-exactly against numpy and against the forward
pass's own output of that layer.

How each operator maps onto EIE (docs/networks.md):

* Convolution: ``(out, in*kh*kw)`` matrix x the patch of one output position; dilated and
  asymmetric kernels only change which inputs form the patch;
* depthwise (grouped) convolution: the block-diagonal ``(C, C*kh*kw)`` matrix (each row
  holds its channel's ``kh*kw`` weights; every broadcast activation has work in one PE);
* transposed convolution: the convolution with the rotated, transposed kernel on the
  zero-inserted input (:func:`compressor.graph.forward.zero_insert`); the inserted zeros
  are activations EIE skips, so they cost no MAC cycle;
* a ReLU that is the only reader of a parameter layer's output: EIE's ReLU unit (the
  graph's rule, :func:`compressor.graph.eie_relu`);
  ReLU6 = EIE's ReLU + the clip at 6 on the host; PReLU, Eltwise sums, pooling,
  unpooling, concatenation, channel padding, softmax: host-side (not on EIE, not timed);
  the layer before a PReLU or an Eltwise runs with EIE's ReLU off;
* BatchNorm: folded into the weights before compression (the synthetic weights are BN-free).

``positions``: ``None`` runs every output position; ``N`` a seeded sample of ``N`` per layer
(:func:`~eie_sim.sim.runner.sample_positions`), layer totals extrapolated and labelled.
Everything here is **SYNTHETIC**: the weights are random, the densities assumed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from compressor import accounting, zoo
from compressor.errors import CompressorError
from compressor.graph.forward import (
    SYNTHETIC_SEED,
    ForwardResult,
    forward,
    synthetic_input,
)
from compressor.graph.net import Net
from compressor.model import QuantizedModel
from compressor.zoo.synthetic import (
    DEFAULT_SEED,
    DENSITIES,
    INPUT_SCALE,
    synthetic_model,
)
from eie_sim.arch import energy as energy_mod
from eie_sim.arch.config import PAPER_CONFIG, ArchConfig
from eie_sim.errors import WorkloadError
from eie_sim.sim.options import SimOptions
from eie_sim.sim.results import NetRun
from eie_sim.sim.runner import NetSource, parse_positions, run_net
from eie_sim.workloads.llm import LLM_NAMES

__all__ = ["NETWORK_NAMES", "NetworkCase", "load_case", "run_case", "run_network",
           "operator_handling", "HANDLING"]

NETWORK_NAMES = tuple(zoo.names())

#: how each layer type is handled (the docs table is this)
HANDLING = {
    "Convolution": "EIE: (out, in*kh*kw) x patch, one M x V per output position "
                   "(dilation/asymmetric kernels: the patch gathers other pixels)",
    "Convolution (depthwise)": "EIE: block-diagonal (C, C*kh*kw) matrix x patch per position "
                               "(grouped M x V; each broadcast activation has work in one PE)",
    "Deconvolution": "EIE: stride-1 convolution with the rotated, transposed kernel on the "
                     "zero-inserted input; the inserted zeros are skipped activations",
    "InnerProduct": "EIE: one M x V",
    "ReLU": "EIE's ReLU unit when it directly follows a parameter layer; host-side otherwise",
    "Clip": "ReLU6: EIE's ReLU unit (max(0, x)) + min(x, 6) on the host",
    "PReLU": "host-side (the layer before runs with EIE's ReLU off)",
    "Eltwise": "host-side element-wise sum (residual); the layer before runs with ReLU off",
    "Pooling": "host-side",
    "Unpool": "host-side max unpooling with the pooling's indices (its zeros are then "
              "skipped by EIE in the next layer)",
    "ChannelPad": "host-side (zero channels of ENet's downsampling shortcut)",
    "Concat": "host-side (a layout of the activation memory)",
    "Softmax": "host-side", "Dropout": "identity at inference", "Flatten": "a reshape",
    "BatchNorm": "folded into the preceding layer's weights and bias before compression",
}


def operator_handling(net: Net) -> list[dict[str, Any]]:
    """Per layer type of ``net``: how many layers and how EIE runs them."""
    counts: dict[str, int] = {}
    for lay in net.layers:
        t = lay.type
        if t == "Convolution" and lay.conv is not None and lay.conv.group > 1:
            t = "Convolution (depthwise)"
        counts[t] = counts.get(t, 0) + 1
    return [{"type": t, "layers": n, "handling": HANDLING.get(t, "host-side")}
            for t, n in counts.items()]


@dataclass
class NetworkCase:
    """A named network with its synthetic quantized weights and the float forward pass."""

    name: str
    net: Net
    model: QuantizedModel
    x: np.ndarray
    fwd: ForwardResult
    weight_seed: int
    size: tuple[int, int]
    compressed: list[dict]            #: Table 2 rows (compressor.accounting), Total last
    build_s: float = 0.0


def load_case(name: str, size: tuple[int, int] | None = None, weight_seed: int = DEFAULT_SEED,
              progress=None) -> NetworkCase:
    """Build the named network, its synthetic quantized weights, the synthetic image
    (seed ``SYNTHETIC_SEED``) and the float forward pass of the quantized network."""
    t0 = time.perf_counter()
    if name not in NETWORK_NAMES:
        raise WorkloadError(f"unknown network {name!r}; known: {', '.join(NETWORK_NAMES)}; LLMs "
                            f"(docs/llm.md): {', '.join(LLM_NAMES)} (SqueezeNet: --squeezenet)")
    try:
        net = zoo.build(name, size)
        model = synthetic_model(net, weight_seed)
    except CompressorError as exc:
        raise WorkloadError(str(exc)) from None
    (in_shape,) = net.inputs.values()
    x = synthetic_input(tuple(in_shape), seed=SYNTHETIC_SEED, scale=INPUT_SCALE)
    fwd = forward(net, model, x)
    if progress:
        progress.note(f"{name}: built, weights quantized, forward pass done "
                      f"({time.perf_counter() - t0:.1f} s)")
    rows = accounting.model_table(model)
    return NetworkCase(name, net, model, x, fwd, weight_seed, (int(in_shape[2]), int(in_shape[3])),
                       rows, time.perf_counter() - t0)


def run_case(case: NetworkCase, cfg: ArchConfig | None = None, positions: int | str | None = 64,
             seed: int = 0, *, explicit: frozenset[str] | set[str] = frozenset(),
             options: SimOptions | None = None, layers: list[str] | None = None,
             progress=None) -> NetRun:
    """Every parameter layer of ``case`` on EIE through :func:`eie_sim.sim.runner.run_net`
    (per-layer mode; ``positions``: a sample per layer or 'all'), in the one network-wide
    fixed-point format the layers need (keys in ``explicit`` kept).

    A layer that does not fit the SRAMs is refused (:class:`LayoutError`, all refusals
    together) unless ``options.check_fit`` is False, which simulates it anyway and records it."""
    opt = options or SimOptions()
    n_sample = parse_positions(positions)
    about = NetSource(synthetic=True,
                      seeds={"input_seed": SYNTHETIC_SEED, "sample_seed": seed,
                             "weight_seed": case.weight_seed},
                      source={"kind": "network", "network": case.name, "synthetic": True},
                      title=f"SYNTHETIC {case.name} on EIE (M x V per output position)")
    run = run_net(case.net, case.model, case.x, cfg or PAPER_CONFIG, positions=n_sample,
                  layers=layers, options=opt, seed=seed, fit_format=frozenset(explicit),
                  about=about, float_result=case.fwd, progress=progress)
    run.input_hw = case.size
    run.operators = operator_handling(case.net)
    run.compression = case.compressed
    run.notes = [
        f"SYNTHETIC: {case.name} built from its paper's layer shapes with seeded random weights "
        f"(seed {case.weight_seed}) pruned to assumed Deep Compression-like densities "
        f"({', '.join(f'{k} {v:.0%}' for k, v in DENSITIES.items())}) and 4-bit k-means codes; "
        f"these numbers describe the architecture, not a trained model.",
        f"Input: a seeded synthetic image (seed {SYNTHETIC_SEED}), {case.size[0]} x {case.size[1]}; "
        f"activation densities are those of this input through the synthetic network.",
        "Each layer runs on the float forward pass's input (not the simulator's fixed-point "
        "output of the layer before); host-side operators (pooling, sums, PReLU, unpooling, "
        "concat, the clip of ReLU6) are not timed (docs/networks.md).",
        f"E{energy_mod.model_note(opt.energy_table)[1:]}.",
    ]
    if n_sample is not None:
        run.notes.insert(0, f"EXTRAPOLATED: a seeded sample (seed {seed}) of at most {n_sample} output "
                            f"positions per layer was simulated; layer totals are sampled sum x "
                            f"positions / sampled.")
    bad = [r["layer"] for r in run.fit if not r["fits"]]
    if bad:
        run.notes.append(f"--no-fit-check: {len(bad)} layer(s) exceed the SRAM sizes and were "
                         f"simulated anyway: {', '.join(bad)}")
    return run


def run_network(name: str, cfg: ArchConfig | None = None, positions: int | str | None = 64,
                seed: int = 0, size: tuple[int, int] | None = None,
                weight_seed: int = DEFAULT_SEED, **kwargs) -> NetRun:
    """:func:`load_case` then :func:`run_case`."""
    case = load_case(name, size, weight_seed, kwargs.get("progress"))
    return run_case(case, cfg, positions, seed, **kwargs)

