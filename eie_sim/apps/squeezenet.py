"""The authors' compressed SqueezeNet on EIE: its 26 convolution layers, M x V per position.

A convolution with ``out`` filters of ``in x kh x kw`` is the ``(out, in*kh*kw)`` matrix
applied to each output position's unrolled input patch (im2col,
:func:`compressor.graph.forward.layer_workloads`); EIE has no convolution support of its
own, so each position is one independent run of docs/timing.md on the same layout
(:func:`eie_sim.sim.layer.simulate_conv_layer`: laid out once per layer, positions batched
through the fast engine's kernel, every output checked against numpy).

:func:`run_squeezenet` runs every layer on the patches of the numpy forward pass
(``compressor.graph.forward``, seeded synthetic input, ReLU included) and compares the
reassembled output map with the forward pass's own convolution output.
``positions="all"`` simulates every output position; an integer ``N`` a seeded sample of
``N`` positions per layer, whose layer totals are **extrapolated** (mean x positions) and
labelled so (:class:`~eie_sim.sim.results.LayerResult`).
"""
from __future__ import annotations

import math
import pathlib
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from compressor.caffe.authors_format import read_authors
from compressor.caffe.prototxt import load_net
from compressor.errors import AuthorsFormatError
from compressor.graph.forward import SYNTHETIC_SEED, forward, layer_workloads, synthetic_input
from compressor.progress import Progress
from eie_sim.arch import energy as energy_mod
from eie_sim.arch.config import PAPER_CONFIG, ArchConfig
from eie_sim.arch.config_io import ARCH_KEYS, parse_set
from eie_sim.arch.yaml_doc import read_yaml
from eie_sim.errors import WorkloadError
from eie_sim.sim.layer import simulate_conv_layer
from eie_sim.sim.results import LayerResult, network_totals
from eie_sim.sim.stages import prepare_all
from eie_sim.workloads.layer import LayerWorkload

#: where the authors' SqueezeNet files are looked for by default (never copied here)
DEFAULT_SQUEEZENET_DIR = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "squeezenet"
PROTOTXT_NAME = "SqueezeNet_deploy.prototxt"
NET_NAME = "compressed_SqueezeNet.net"



def to_eie_workload(name: str, qlayer, source: dict | None = None) -> LayerWorkload:
    """An ``eie_sim`` layer from a 2-D (kind "fc") ``compressor.model.QuantizedLayer``."""
    codes = np.asarray(qlayer.codes)
    if codes.ndim != 2:
        codes = codes.reshape(codes.shape[0], -1)
    return LayerWorkload(name=name, codes=codes, codebook=np.asarray(qlayer.codebook, np.float32),
                         bias=None if qlayer.bias is None else np.asarray(qlayer.bias, np.float32),
                         bits=int(qlayer.bits), source=dict(source or {}))


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
    layer ``i`` draws from ``np.random.default_rng([seed, i])``."""
    if n is None or n >= total:
        return np.arange(total, dtype=np.int64)
    rng = np.random.default_rng([int(seed), int(layer_index)])
    return np.sort(rng.choice(total, size=n, replace=False)).astype(np.int64)


def _frac_bits_for(max_abs: float, word_bits: int) -> int:
    """Largest fraction bits whose word holds ``max_abs`` after rounding (at least 0)."""
    lim = (1 << (word_bits - 1)) - 1.5
    if max_abs <= 0:
        return word_bits - 1
    return max(0, min(word_bits - 1, math.floor(math.log2(lim / max_abs))))


def choose_config(cfg: ArchConfig, layers: list, outputs: dict[str, np.ndarray],
                  explicit: set[str] | frozenset = frozenset()) -> tuple[ArchConfig, list[dict]]:
    """The configuration the SqueezeNet layers need, and the overrides made (key, old, new, why).

    ``layers``: ``compressor.graph.forward.LayerWorkload`` items; ``outputs``: each layer's
    float output before ReLU. Keys in ``explicit`` (given by the user) are never changed.
    * ``weight_bits``: the codebooks' width (SqueezeNet: 8, 256 entries);
    * ``act_frac_bits``: lowered until every activation (patch value), pre-ReLU output and
      bias fits the word (no saturation);
    * ``weight_frac_bits``: lowered only if a codebook entry would not fit.
    """
    overrides: list[dict] = []

    def change(key, new, why):
        nonlocal cfg
        old = getattr(cfg, key)
        if key in explicit or new == old:
            return
        cfg = cfg.replace(**{key: new})
        overrides.append({"key": key, "old": old, "new": new, "why": why})

    bits = max(int(w.layer.bits) for w in layers)
    if cfg.weight_bits < bits:
        change("weight_bits", bits, f"the layers' codebooks have 2**{bits} = {1 << bits} entries "
               f"(Spmat entries grow to {bits}+{cfg.index_bits} bits: "
               f"{cfg.spmat_width_bits // (bits + cfg.index_bits)} per {cfg.spmat_width_bits}-bit line)")
    act_max = max(max(float(np.abs(w.patches).max(initial=0.0)),
                      float(np.abs(outputs[w.name]).max(initial=0.0)),
                      0.0 if w.layer.bias is None else float(np.abs(w.layer.bias).max(initial=0.0)))
                  for w in layers)
    f = _frac_bits_for(act_max, cfg.word_bits)
    if cfg.act_frac_bits > f:
        change("act_frac_bits", f, f"largest activation / pre-ReLU output / bias magnitude is "
               f"{act_max:.1f}; {cfg.word_bits}-bit words with {f} fraction bits hold "
               f"+-{(1 << (cfg.word_bits - 1)) / (1 << f):g} (step {2.0 ** -f:g})")
    w_max = max(float(np.abs(w.layer.codebook).max()) for w in layers)
    fw = _frac_bits_for(w_max, cfg.word_bits)
    if cfg.weight_frac_bits > fw:
        change("weight_frac_bits", fw, f"largest codebook magnitude is {w_max:.4g}")
    return cfg, overrides


def explicit_arch_keys(config_path: str | None, sets: list[str]) -> set[str]:
    """Architecture keys the user gave (in the config file or with ``--set``)."""
    keys: set[str] = set()
    if config_path:
        data = read_yaml(config_path).data
        if isinstance(data, dict):
            keys |= {k for k in data if k in ARCH_KEYS}
    for item in sets:
        path, _ = parse_set(item)
        if path and path[0] in ARCH_KEYS:
            keys.add(path[0])
    return keys


@dataclass
class SqueezeNetRun:
    """The 26 convolution layers of one image, each as M x V per output position."""

    layers: list[LayerResult]
    config: ArchConfig
    overrides: list[dict]
    positions: int | None             #: None: all positions; N: a sample of N per layer
    seeds: dict[str, Any]
    data_dir: str
    fit: dict[str, Any]
    notes: list[str]
    wall_s: float = 0.0

    @property
    def extrapolated(self) -> bool:
        return any(l.extrapolated for l in self.layers)

    def totals(self) -> dict[str, Any]:
        """:func:`~eie_sim.sim.results.network_totals` of the layers (one image)."""
        return network_totals(self.layers)


def load_squeezenet(data_dir: str | pathlib.Path | None = None):
    """``(net, model)`` from ``DIR/SqueezeNet_deploy.prototxt`` and ``DIR/compressed_SqueezeNet.net``."""
    d = pathlib.Path(data_dir) if data_dir else DEFAULT_SQUEEZENET_DIR
    proto, netf = d / PROTOTXT_NAME, d / NET_NAME
    for f in (proto, netf):
        if not f.is_file():
            raise WorkloadError(f"{f}: SqueezeNet file not found (give the folder holding "
                                f"{PROTOTXT_NAME} and {NET_NAME}: --squeezenet DIR)")
    net = load_net(proto)
    try:
        return net, read_authors(net, netf)
    except AuthorsFormatError as exc:
        raise WorkloadError(f"{netf}: {exc}" if str(netf) not in str(exc) else str(exc)) from None


def run_squeezenet(data_dir: str | pathlib.Path | None = None, cfg: ArchConfig | None = None,
                   positions: int | str | None = None, seed: int = 0, *,
                   explicit: set[str] | frozenset = frozenset(),
                   energy_table: energy_mod.EnergyTable | None = None, check_fit: bool = True,
                   layers: list[str] | None = None,
                   progress: Progress | None = None) -> SqueezeNetRun:
    """Run the authors' compressed SqueezeNet's convolution layers on EIE (one image).

    The numpy forward pass (``compressor.graph.forward.forward`` on the seeded
    ``synthetic_input``) gives each layer's input; its patches are the M x V inputs, one
    per output position. ``positions``: None/``'all'`` or a sample size per layer (seed
    ``seed``). ``cfg`` (default: the paper's design point) is adapted by
    :func:`choose_config` (keys in ``explicit`` are kept). Every layer is fit-checked
    (unless ``check_fit=False``) and every simulated output is checked against numpy and
    against the forward pass's own convolution output.
    """

    t0 = time.perf_counter()
    n_sample = parse_positions(positions)
    d = pathlib.Path(data_dir) if data_dir else DEFAULT_SQUEEZENET_DIR
    net, model = load_squeezenet(d)
    (in_shape,) = net.inputs.values()
    x = synthetic_input(tuple(in_shape), seed=SYNTHETIC_SEED)
    fwd = forward(net, model, x)
    wls = layer_workloads(net, model, x, result=fwd)
    if layers:
        unknown = [n for n in layers if n not in {w.name for w in wls}]
        if unknown:
            raise WorkloadError(f"unknown SqueezeNet layer(s) {unknown}; layers are "
                                f"{[w.name for w in wls]}")
    outputs = {w.name: fwd.layer_outputs[w.name] for w in wls}
    cfg, overrides = choose_config(cfg or PAPER_CONFIG, wls, outputs, explicit)
    run_wls = [w for w in wls if not layers or w.name in layers]

    # lay out every layer once and check that it fits (all refusals reported together)
    src = {"kind": "squeezenet", "file": str(d / NET_NAME)}
    prepared, fit_rows = prepare_all(
        [(to_eie_workload(w.name, w.layer, src), cfg) for w in run_wls], check_fit,
        "choose the override with --set, or --no-fit-check to simulate anyway")
    worst = max(fit_rows, key=lambda r: r["max_entries_per_pe"])
    fit = {"checked": bool(check_fit), "spmat_capacity_entries": cfg.spmat_capacity_entries,
           "max_pointer_value": cfg.max_pointer_value, "worst_layer": worst["layer"],
           "worst_entries_per_pe": worst["max_entries_per_pe"], "layers": fit_rows}

    results = []
    all_names = [w.name for w in wls]
    if progress:
        progress.start(len(run_wls))
    for w, prep in zip(run_wls, prepared):
        i = all_names.index(w.name)
        t1 = time.perf_counter()
        _, c, oh, ow = w.out_shape
        idx = sample_positions(w.patches.shape[0], n_sample, seed, i)
        ref = outputs[w.name][0].reshape(c, oh * ow).T
        res = simulate_conv_layer(prep, w.patches, cfg, idx, relu=True, check_fit=False,
                                  energy_table=energy_table, compare_to=ref,
                                  seeds={"input_seed": SYNTHETIC_SEED, "sample_seed": seed})
        shape = w.layer.meta.get("weight_shape") or [w.layer.codes.shape[0], w.layer.codes.shape[1], 1, 1]
        res.meta.update({"kernel": f"{shape[2]}x{shape[3]}", "out_map": f"{oh}x{ow}",
                         "out_hw": (oh, ow)})
        res.wall_s = time.perf_counter() - t1
        results.append(res)
        if progress:
            progress.update(1)
            progress.note(f"{w.name}: {res.simulated:,} of {res.positions_total:,} positions, "
                          f"{res.cycles_per_position:.1f} cycles/position, {res.wall_s:.1f} s")
    notes = [
        "Input: compressor.graph.forward.synthetic_input (seed "
        f"{SYNTHETIC_SEED}), a smooth seeded random image, not a natural image: activation "
        "densities are those of this input through the network's ReLUs.",
        "Each output position is one independent EIE run of the (out, in*kh*kw) matrix on its "
        "unrolled patch; loading the patch (im2col) into the source registers is not modelled "
        "(I/O mode, as for every layer here); per position: pass cycles + batch store cycles "
        "(+ pass reloads when a layer has several output passes and input batches), the "
        "store and reload cycles counted as starved on every PE (docs/timing.md).",
        "Layer inputs come from the numpy forward pass (float), not from the simulator's own "
        "fixed-point outputs of the previous layer (pooling and concat are not on EIE).",
        f"E{energy_mod.model_note(energy_table)[1:]}; per layer summed over positions.",
    ]
    if n_sample is not None:
        notes.insert(0, f"EXTRAPOLATED: --positions {n_sample}: a seeded sample (seed {seed}) of "
                        f"{n_sample} positions per layer was simulated; every layer total (cycles, "
                        f"time, energy, MACs, reads, stalls, batch cycles, saturations) is the "
                        f"sampled sum x positions / sampled (extrapolated), not a measured sum; "
                        f"per-position values, efficiencies and errors are over the sample.")
    if not check_fit:
        notes.append("--no-fit-check: layers were simulated without the SRAM fit check")
    return SqueezeNetRun(layers=results, config=cfg, overrides=overrides, positions=n_sample,
                         seeds={"input_seed": SYNTHETIC_SEED, "sample_seed": seed},
                         data_dir=str(d), fit=fit, notes=notes, wall_s=time.perf_counter() - t0)
