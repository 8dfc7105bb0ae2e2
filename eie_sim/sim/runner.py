"""The one network runner: a :class:`compressor.graph.Net` and its quantized weights on EIE.

EIE multiplies a sparse matrix by a vector; a network (convolutions included) runs as its
weight layers, each as M x V work (:func:`compressor.graph.layer_mxv`):

* a fully-connected layer: one input vector;
* a convolution: its ``(out, in/group * kh * kw)`` matrix (block-diagonal over groups; a
  transposed convolution as the equivalent convolution on the zero-inserted input) on one
  unrolled patch per output position (im2col), laid out once and batched through the
  engine (:func:`eie_sim.sim.layer.simulate_layer`).

Two modes (:func:`run_net`):

* ``"per-layer"``: every layer is fed the input that the float forward pass of the whole
  network (:func:`compressor.graph.forward.forward`, the quantized weights) hands it, on
  every output position or a seeded sample of ``positions`` per layer (layer totals then
  **extrapolated** and labelled so); every simulated output is checked against numpy on
  its fixed-point input and against the forward pass's own output of that layer.
* ``"chained"``: every layer is fed the previous layers' EIE fixed-point outputs, host
  operators (pooling, concatenation, ...) in float in between (:class:`~eie_sim.sim.chain.EieChain`).

Where EIE applies the ReLU is one rule of the graph (:func:`compressor.graph.eie_relu`):
a weight layer whose output is read only by a ReLU (or a ReLU6 clip) gets EIE's ReLU on
write-back. Pooling, concatenation, softmax and the like are not EIE operations.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from compressor.graph import eie_relu
from compressor.graph.forward import (
    ForwardResult,
    forward,
    matrix_codes,
    mxv_input,
    patches_at,
)
from compressor.graph.net import Layer, Net, layer_macs
from compressor.model import QuantizedModel
from compressor.zoo.synthetic import layer_class
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import LayerFormat
from eie_sim.errors import WorkloadError
from eie_sim.sim.chain import EieChain
from eie_sim.sim.formats import layer_ranges, network_format, single_format
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.options import DEFAULT_OPTIONS, SimOptions
from eie_sim.sim.results import NetRun
from eie_sim.sim.stages import prepare_all
from eie_sim.workloads.layer import LayerWorkload

__all__ = ["run_net", "NetSource", "MODES", "sample_positions", "parse_positions",
           "MAX_PATCH_VALUES"]

MODES = ("per-layer", "chained")

#: the most unrolled input values (sum over the layers run of positions x columns) one
#: per-layer run builds (2**28 float32 values = 1 GiB)
MAX_PATCH_VALUES = 1 << 28


@dataclass
class NetSource:
    """Where a network came from, recorded in its :class:`~eie_sim.sim.results.NetRun`
    and its layers: ``synthetic`` weights (random, not trained), the ``seeds`` of the run,
    the layers' ``source`` dict (a file, a zoo name) and the run's ``title``."""

    synthetic: bool = False
    seeds: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    title: str = ""


def parse_positions(text: str | int | None) -> int | None:
    """``'all'``/None -> None (every position); ``'N'`` -> N >= 1 (a sample per layer)."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "all"):
        return None
    try:
        n = int(text)
    except (TypeError, ValueError):
        raise WorkloadError(f"--positions {text!r}: expected 'all' or a number of positions >= 1") from None
    if n < 1:
        raise WorkloadError(f"--positions {n}: expected 'all' or a number of positions >= 1")
    return n


def sample_positions(total: int, n: int | None, seed: int, layer_index: int) -> np.ndarray:
    """All positions (``n`` None or >= total) or a sorted seeded sample of ``n`` of them;
    layer ``i`` (its index among the network's weight layers) draws from
    ``np.random.default_rng([seed, i])``."""
    if n is None or n >= total:
        return np.arange(total, dtype=np.int64)
    rng = np.random.default_rng([int(seed), int(layer_index)])
    return np.sort(rng.choice(total, size=n, replace=False)).astype(np.int64)


#: weight layers whose outputs are position-major, channels last: one M x V per position
#: of the leading axes (a MatMul over a sequence; an Embed, one one-hot vector per id)
CHANNELS_LAST_TYPES = ("MatMul", "Embed")


def _out_grid(lay: Layer) -> tuple[int, int, int]:
    """``(channels, out height, out width)`` of a weight layer (fc: ``(outputs, 1, 1)``;
    MatMul / Embed: ``(outputs, positions of the leading axes, 1)``)."""
    out = lay.out_shapes[0]
    if lay.type in CHANNELS_LAST_TYPES:
        return int(out[-1]), int(np.prod(out[:-1])), 1
    if len(out) == 4:
        return int(out[1]), int(out[2]), int(out[3])
    return int(np.prod(out[1:])), 1, 1


def _check_patch_limit(net: Net, run_layers: list[Layer], n: int | None, where: str) -> None:
    """Refuse, before any work, a run whose unrolled inputs exceed :data:`MAX_PATCH_VALUES`."""
    total = 0
    for lay in run_layers:
        _, oh, ow = _out_grid(lay)
        cols = int(np.prod(lay.in_shapes[0][1:]))
        if lay.type in CHANNELS_LAST_TYPES:      # one row per position: V (Embed) or D wide
            cols = int(lay.weight_shape[1]) if lay.weight_shape else cols
        if lay.conv is not None:
            cols = int(lay.in_shapes[0][1]) * lay.conv.kernel[0] * lay.conv.kernel[1]
        total += min(oh * ow, n or oh * ow) * cols
    if total > MAX_PATCH_VALUES:
        raise WorkloadError(f"{where}: running graph {net.name!r} on EIE unrolls {total:,} input "
                            f"values (positions x columns), more than the limit of "
                            f"{MAX_PATCH_VALUES:,}; use a smaller input or sample positions")


def run_net(net: Net, weights: QuantizedModel, x: np.ndarray, cfg: ArchConfig, *,
            mode: str = "per-layer", positions: int | str | None = None,
            layers: Iterable[str] | None = None, options: SimOptions | None = None,
            seed: int = 0, formats: Mapping[str, LayerFormat] | None = None,
            fit_format: frozenset[str] | set[str] | None = None,
            about: NetSource | None = None, record: Iterable[str] = (),
            float_result: ForwardResult | None = None, progress=None) -> NetRun:
    """Run ``net``'s weight layers on EIE for the input blob ``x`` (module docstring).

    ``mode``: ``"per-layer"`` or ``"chained"``. ``positions``: per-layer mode, every output
    position (None/``'all'``) or a seeded sample of that many per layer (``seed``);
    ``layers``: per-layer mode, only these weight layers. ``options``: engine, checks,
    energy table, window (:class:`~eie_sim.sim.options.SimOptions`; a window and
    ``record`` (layer names whose timeline is kept) apply to one-vector layers).
    ``fit_format``: per-layer mode, adapt ``cfg`` to one network-wide fixed-point format
    first (:func:`~eie_sim.sim.formats.network_format`; the set holds the keys the user
    set, never changed); None keeps ``cfg``. ``formats``: chained mode, the per-layer
    formats (default: ``cfg``'s one format). ``about``: where the network came from.
    ``float_result``: the float forward pass of ``x`` when already computed.
    ``progress``: an object with ``start(n)``, ``update(k)`` and ``note(text)``
    (:class:`compressor.progress.Progress`), told of every layer.

    Raises :class:`WorkloadError` (unknown layers, a layer type EIE cannot chain, too
    large an unrolled input) and :class:`~eie_sim.errors.LayoutError` (layers that do
    not fit the SRAMs, all named together, unless ``options.check_fit`` is False).
    """
    t0 = time.perf_counter()
    opt = options or DEFAULT_OPTIONS
    about = about or NetSource()
    if mode not in MODES:
        raise WorkloadError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    names = [lay.name for lay in net.weight_layers]
    wanted = [n.strip() for n in (layers or []) if n.strip()]
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise WorkloadError(f"unknown {net.name} layer(s) {unknown}; layers are {names}")
    n_sample = parse_positions(positions)
    if mode == "per-layer":
        _check_patch_limit(net, [lay for lay in net.weight_layers if not wanted or lay.name in wanted],
                           n_sample, about.source.get("path", net.name))
    x = np.asarray(x, dtype=np.float32)
    if not np.all(np.isfinite(x)):
        raise WorkloadError(f"{net.name}: the input contains NaN or infinity")
    if mode == "chained":
        if wanted or positions not in (None, "all"):
            raise WorkloadError("a chained run computes every layer on every output position: "
                                "give no layers and no position sample")
        chain = EieChain(net, weights, cfg, formats or single_format(net, cfg),
                         check_fit=opt.check_fit, source=about.source)
        if progress:
            progress.start(len(names))
        run = chain.run(x, opt, float_result=float_result,
                        progress=(lambda res: progress.update(1)) if progress else None)
        return _described(run, about, None, t0)
    return _per_layer(net, weights, x, cfg, n_sample, wanted, opt, seed,
                      fit_format, about, set(record), float_result, progress, t0)


def _per_layer(net, weights, x, cfg, n_sample, wanted, opt, seed, fit_format, about, record,
               float_result, progress, t0) -> NetRun:
    wls = net.weight_layers
    run_layers = [lay for lay in wls if not wanted or lay.name in wanted]
    fwd = float_result if float_result is not None else forward(net, weights, x)
    overrides: list[dict] = []
    if fit_format is not None:
        bits = max(int(weights.layer(lay.name).bits) for lay in wls)
        cfg, overrides = network_format(cfg, layer_ranges(net, weights, [x], [fwd]), bits,
                                        frozenset(fit_format))
    ews = []
    for lay in run_layers:
        q = weights.layer(lay.name)
        ew = LayerWorkload(name=lay.name, codes=matrix_codes(lay, q.codes),
                           codebook=np.asarray(q.codebook, np.float32),
                           bias=None if q.bias is None else np.asarray(q.bias, np.float32),
                           bits=int(q.bits), synthetic=about.synthetic,
                           source={**about.source, "layer_kind": q.kind,
                                   "weight_shape": list(np.shape(q.codes)),
                                   **({"codebook": q.meta["codebook"]} if "codebook" in q.meta else {})})
        ew.check_bits(cfg)
        ews.append((ew, cfg))
    prepared, fit = prepare_all(ews, opt.check_fit, "--no-fit-check to simulate anyway")
    index = {name: i for i, name in enumerate(lay.name for lay in wls)}
    if progress:
        progress.start(len(run_layers))
    results = []
    for lay, prep in zip(run_layers, prepared):
        t1 = time.perf_counter()
        cp, src = mxv_input(lay, fwd.layer_inputs[lay.name])
        y = fwd.layer_outputs[lay.name]
        c, oh, ow = _out_grid(lay)
        last = lay.type in CHANNELS_LAST_TYPES
        ref_all = (y.reshape(-1, c).T if last else
                   y[0].reshape(c, oh * ow) if y.ndim == 4 else y.reshape(1, -1).T)
        n_total = oh * ow
        idx = sample_positions(n_total, n_sample, seed, index[lay.name])
        patches = src[idx] if last else src[:1] if cp is None else patches_at(src, cp, idx)
        relu = eie_relu(net, lay).on_eie
        one = n_total == 1 and cp is None
        res = simulate_layer(prep, patches, cfg, opt if one else opt.replace(window=None),
                             relu=relu, positions=idx, positions_total=n_total,
                             compare_to=ref_all[:, idx].T, seeds=about.seeds,
                             record=one and lay.name in record)
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
    run = NetRun(name=net.name, mode="per-layer", layers=results, config=cfg,
                 overrides=overrides, fit=fit, check_fit=opt.check_fit)
    return _described(run, about, n_sample, t0)


def _described(run: NetRun, about: NetSource, n_sample: int | None, t0: float) -> NetRun:
    """``run`` with the descriptive fields of ``about`` and the wall time."""
    run.synthetic, run.seeds, run.title = about.synthetic, dict(about.seeds), about.title
    run.source = dict(about.source)
    run.positions = n_sample
    for res in run.layers:
        res.synthetic = res.synthetic or about.synthetic
    run.wall_s = time.perf_counter() - t0
    return run
