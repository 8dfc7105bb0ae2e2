"""The compact networks of :mod:`compressor.zoo` on EIE, by name, with synthetic weights.

``mobilenet_v1``, ``mobilenet_v2``, ``squeezenext23``, ``squeezedet``, ``enet`` and
``segnet`` are built from their papers' layer shapes (:func:`compressor.zoo.build`), given
seeded synthetic weights pruned to assumed Deep Compression-like densities and quantized
to 4-bit codes (:func:`compressor.zoo.synthetic.synthetic_model`), and run as SqueezeNet
runs (:mod:`eie_sim.apps.squeezenet`): the float forward pass of the quantized network on
a seeded synthetic image gives every parameter layer its input; each layer is one M x V
per output position on the same layout (:func:`eie_sim.sim.layer.simulate_layer` on the
unrolled patches), every simulated output checked bit-exactly against numpy and against
the forward pass's own output of that layer.

How each operator maps onto EIE (docs/networks.md):

* Convolution: ``(out, in*kh*kw)`` matrix x the patch of one output position; dilated and
  asymmetric kernels only change which inputs form the patch;
* depthwise (grouped) convolution: the block-diagonal ``(C, C*kh*kw)`` matrix (each row
  holds its channel's ``kh*kw`` weights; every broadcast activation has work in one PE);
* transposed convolution: the convolution with the rotated, transposed kernel on the
  zero-inserted input (:func:`compressor.graph.forward.zero_insert`); the inserted zeros
  are activations EIE skips, so they cost no MAC cycle;
* ReLU directly after a parameter layer (and nothing else reading it): EIE's ReLU unit;
  ReLU6 = EIE's ReLU + the clip at 6 on the host; PReLU, Eltwise sums, pooling,
  unpooling, concatenation, channel padding, softmax: host-side (not on EIE, not timed);
  the layer before a PReLU or an Eltwise runs with EIE's ReLU off;
* BatchNorm: folded into the weights before compression (the synthetic weights are BN-free).

``positions``: ``None`` runs every output position; ``N`` a seeded sample of ``N`` per layer
(:func:`~eie_sim.apps.squeezenet.sample_positions`), layer totals extrapolated and labelled.
Everything here is **SYNTHETIC**: the weights are random, the densities assumed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from compressor import accounting, zoo
from compressor.errors import CompressorError
from compressor.graph.forward import (
    SYNTHETIC_SEED,
    ForwardResult,
    forward,
    matrix_codes,
    mxv_input,
    patches_at,
    synthetic_input,
)
from compressor.graph.net import Layer, Net, layer_macs
from compressor.model import QuantizedModel
from compressor.zoo.synthetic import (
    DEFAULT_SEED,
    DENSITIES,
    INPUT_SCALE,
    layer_class,
    synthetic_model,
)
from compressor.progress import Progress
from eie_sim.apps.squeezenet import (
    choose_config,
    parse_positions,
    sample_positions,
    to_eie_workload,
)
from eie_sim.arch import energy as energy_mod
from eie_sim.arch.config import PAPER_CONFIG, ArchConfig
from eie_sim.errors import WorkloadError
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.results import LayerResult, network_totals
from eie_sim.sim.stages import prepare_all

__all__ = ["NETWORK_NAMES", "NetworkCase", "NetworkRun", "load_case", "run_case", "run_network",
           "relu_on_eie", "operator_handling", "HANDLING"]

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


def relu_on_eie(net: Net, lay: Layer) -> bool:
    """True when the layer's output is read by exactly one layer, a ReLU (slope 0) or a
    Clip with lower bound 0 (ReLU6): EIE's ReLU unit then applies it."""
    readers = [l for l in net.layers if lay.tops[0] in l.bottoms]
    if len(readers) != 1:
        return False
    r = readers[0]
    return (r.type == "ReLU" and r.negative_slope == 0.0) or (r.type == "Clip" and r.clip is not None
                                                               and r.clip[0] == 0.0)


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
    compressed_md: str = ""           #: those rows as Markdown (accounting.format_markdown)
    compressed_csv: str = ""          #: and as CSV
    build_s: float = 0.0


@dataclass
class NetworkRun:
    """One network on one EIE configuration (one image)."""

    case: NetworkCase
    layers: list[LayerResult]
    config: ArchConfig
    overrides: list[dict]
    positions: int | None
    seeds: dict[str, Any]
    fit: list[dict]
    notes: list[str]
    wall_s: float = 0.0
    synthetic: bool = True

    @property
    def extrapolated(self) -> bool:
        return any(l.extrapolated for l in self.layers)

    def totals(self) -> dict[str, Any]:
        return network_totals(self.layers)

    def top_layers(self, k: int = 5) -> list[dict[str, Any]]:
        """The ``k`` layers with the most cycles and their share of the total."""
        tot = float(sum(l.cycles for l in self.layers)) or 1.0
        ls = sorted(self.layers, key=lambda l: -float(l.cycles))[:k]
        return [{"layer": l.name, "cycles": float(l.cycles), "share": float(l.cycles) / tot,
                 "class": l.meta.get("class", ""), "load_efficiency": l.load_efficiency}
                for l in ls]


def load_case(name: str, size: tuple[int, int] | None = None, weight_seed: int = DEFAULT_SEED,
              progress: Progress | None = None) -> NetworkCase:
    """Build the named network, its synthetic quantized weights, the synthetic image
    (seed ``SYNTHETIC_SEED``) and the float forward pass of the quantized network."""
    t0 = time.perf_counter()
    if name not in NETWORK_NAMES:
        raise WorkloadError(f"unknown network {name!r}; known: {', '.join(NETWORK_NAMES)} "
                            f"(SqueezeNet: --squeezenet)")
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
                       rows, accounting.format_markdown(rows), accounting.csv_text(rows),
                       time.perf_counter() - t0)


def run_case(case: NetworkCase, cfg: ArchConfig | None = None, positions: int | str | None = 64,
             seed: int = 0, *, explicit: set[str] | frozenset = frozenset(),
             energy_table: energy_mod.EnergyTable | None = None, check_fit: bool = True,
             layers: list[str] | None = None,
             progress: Progress | None = None) -> NetworkRun:
    """Every parameter layer of ``case`` on EIE (``positions``: a sample per layer or 'all').

    A layer that does not fit the SRAMs is refused (:class:`LayoutError`, all refusals
    together) unless ``check_fit=False``, which simulates it anyway and records it."""
    t0 = time.perf_counter()
    n_sample = parse_positions(positions)
    net, model, fwd = case.net, case.model, case.fwd
    wls = net.weight_layers
    if layers:
        unknown = [n for n in layers if n not in {l.name for l in wls}]
        if unknown:
            raise WorkloadError(f"unknown {case.name} layer(s) {unknown}; layers are "
                                f"{[l.name for l in wls]}")
    # the fixed-point format every layer needs (the same rules as SqueezeNet's)
    stand_ins, outputs = [], {}
    mxv: dict[str, tuple] = {}
    for lay in wls:
        q = model.layer(lay.name)
        cp, src = mxv_input(lay, fwd.layer_inputs[lay.name])
        mxv[lay.name] = (cp, src)
        stand_ins.append(SimpleNamespace(name=lay.name, layer=q, patches=src))
        outputs[lay.name] = fwd.layer_outputs[lay.name]
    cfg, overrides = choose_config(cfg or PAPER_CONFIG, stand_ins, outputs, explicit)
    run_layers = [l for l in wls if not layers or l.name in layers]

    ews = []
    for lay in run_layers:
        q = model.layer(lay.name)
        codes = matrix_codes(lay, q.codes)
        ew = to_eie_workload(lay.name, SimpleNamespace(codes=codes, codebook=q.codebook, bias=q.bias,
                                                       bits=q.bits),
                             {"kind": "network", "network": case.name, "synthetic": True})
        ew.synthetic = True
        ews.append((ew, cfg))
    prepared, fit = prepare_all(ews, check_fit, "--no-fit-check to simulate anyway")

    results = []
    index = {l.name: i for i, l in enumerate(wls)}
    if progress:
        progress.start(len(run_layers))
    for lay, prep in zip(run_layers, prepared):
        t1 = time.perf_counter()
        cp, src = mxv[lay.name]
        y = outputs[lay.name]
        if y.ndim == 4:
            _, c, oh, ow = y.shape
            ref_all = y[0].reshape(c, oh * ow)
        else:
            c, oh, ow = y.shape[1], 1, 1
            ref_all = y.reshape(1, -1).T
        n_total = oh * ow
        idx = sample_positions(n_total, n_sample, seed, index[lay.name])
        patches = src[:1] if cp is None else patches_at(src, cp, idx)
        ref = ref_all[:, idx].T
        relu = relu_on_eie(net, lay)
        res = simulate_layer(prep, patches, cfg, relu=relu, positions=idx, positions_total=n_total,
                             check_fit=False, energy_table=energy_table, compare_to=ref,
                             seeds={"input_seed": SYNTHETIC_SEED, "sample_seed": seed,
                                    "weight_seed": case.weight_seed})
        res.synthetic = True
        ws = lay.weight_shape
        res.meta.update({"kernel": f"{ws[2]}x{ws[3]}" if ws and len(ws) == 4 else "fc",
                         "out_map": f"{oh}x{ow}", "out_hw": (oh, ow), "type": lay.type,
                         "class": layer_class(net, lay), "relu_on_eie": relu,
                         "depthwise": bool(lay.conv is not None and lay.conv.group > 1),
                         "dense_macs": layer_macs(lay)})
        res.wall_s = time.perf_counter() - t1
        results.append(res)
        if progress:
            progress.update(1)
            progress.note(f"{lay.name}: {res.simulated:,} of {res.positions_total:,} positions, "
                          f"{res.cycles_per_position:.1f} cycles/position, {res.wall_s:.2f} s")
    notes = [
        f"SYNTHETIC: {case.name} built from its paper's layer shapes with seeded random weights "
        f"(seed {case.weight_seed}) pruned to assumed Deep Compression-like densities "
        f"({', '.join(f'{k} {v:.0%}' for k, v in DENSITIES.items())}) and 4-bit k-means codes; "
        f"these numbers describe the architecture, not a trained model.",
        f"Input: a seeded synthetic image (seed {SYNTHETIC_SEED}), {case.size[0]} x {case.size[1]}; "
        f"activation densities are those of this input through the synthetic network.",
        "Each layer runs on the float forward pass's input (not the simulator's fixed-point "
        "output of the layer before); host-side operators (pooling, sums, PReLU, unpooling, "
        "concat, the clip of ReLU6) are not timed (docs/networks.md).",
        f"E{energy_mod.model_note(energy_table)[1:]}.",
    ]
    if n_sample is not None:
        notes.insert(0, f"EXTRAPOLATED: a seeded sample (seed {seed}) of at most {n_sample} output "
                        f"positions per layer was simulated; layer totals are sampled sum x "
                        f"positions / sampled.")
    bad = [r["layer"] for r in fit if not r["fits"]]
    if bad:
        notes.append(f"--no-fit-check: {len(bad)} layer(s) exceed the SRAM sizes and were "
                     f"simulated anyway: {', '.join(bad)}")
    return NetworkRun(case=case, layers=results, config=cfg, overrides=overrides, positions=n_sample,
                      seeds={"input_seed": SYNTHETIC_SEED, "sample_seed": seed,
                             "weight_seed": case.weight_seed},
                      fit=fit, notes=notes, wall_s=time.perf_counter() - t0)


def run_network(name: str, cfg: ArchConfig | None = None, positions: int | str | None = 64,
                seed: int = 0, size: tuple[int, int] | None = None,
                weight_seed: int = DEFAULT_SEED, **kwargs) -> NetworkRun:
    """:func:`load_case` then :func:`run_case`."""
    case = load_case(name, size, weight_seed, kwargs.get("progress"))
    return run_case(case, cfg, positions, seed, **kwargs)

