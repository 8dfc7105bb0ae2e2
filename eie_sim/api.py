"""The public Python API: simulate a matrix or a network, and sweep designs, from a notebook.

Everything here is a thin front to the stage pipeline (:mod:`eie_sim.sim.stages`); the
command-line tools are built on the same functions. See docs/api.md for examples (they
run as tests).
"""
from __future__ import annotations

import itertools
from typing import Any, Iterable

import numpy as np

from compressor.model import QuantizedModel
from eie_sim.arch.config import PAPER_CONFIG, UNFIT_CHOICES, ArchConfig
from eie_sim.arch.config_io import ARCH_KEYS
from eie_sim.errors import ConfigError, WorkloadError
from eie_sim.sim import sram_fit
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.network import as_layers, simulate_network
from eie_sim.sim.options import SimOptions
from eie_sim.sim.results import LayerResult, NetworkResult
from eie_sim.workloads.layer import LayerWorkload, Workload
from eie_sim.workloads.synthetic import quantize_dense


def make_config(base: ArchConfig | None = None, **config) -> ArchConfig:
    """``base`` (default: the paper's design point) with ``config`` keys replaced, validated.
    Unknown keys raise :class:`~eie_sim.errors.ConfigError` naming them."""
    unknown = sorted(set(config) - set(ARCH_KEYS))
    if unknown:
        raise ConfigError(f"unknown architecture key(s) {unknown}; known: {', '.join(ARCH_KEYS)}")
    return (base or PAPER_CONFIG).replace(**config)


def layer(weights_or_codes: np.ndarray, codebook: np.ndarray | None = None,
          bias: np.ndarray | None = None, *, weight_bits: int = 4, name: str = "layer",
          seed: int = 0) -> LayerWorkload:
    """A :class:`LayerWorkload` from a dense float matrix (zeros = pruned; quantized to
    ``2**weight_bits`` shared weights by the compressor's 1-D k-means, seeded) or from
    integer ``codes`` + their ``codebook`` (``codebook[0] == 0``)."""
    w = np.asarray(weights_or_codes)
    if w.ndim != 2:
        raise WorkloadError(f"layer {name!r}: expected a 2-D (outputs x inputs) matrix, got shape {w.shape}")
    if codebook is None:
        if w.dtype.kind not in "biuf" or not np.all(np.isfinite(w)):
            raise WorkloadError(f"layer {name!r}: weights must be finite numbers (no NaN or infinity)")
        codebook, codes = quantize_dense(w, weight_bits, seed)
        source = {"kind": "dense weights", "seed": seed}
    else:
        if not np.issubdtype(w.dtype, np.integer):
            raise WorkloadError(f"layer {name!r}: with a codebook, give integer codes, not {w.dtype}")
        codes = w
        source = {"kind": "codes"}
    return LayerWorkload(name=name, codes=codes, codebook=np.asarray(codebook, np.float32),
                         bias=None if bias is None else np.asarray(bias, np.float32),
                         bits=weight_bits, source=source)


def simulate(weights_or_codes, x: np.ndarray | None = None, *, codebook=None, bias=None,
             engine: str = "fast", verify: bool = False, relu: bool = True,
             check_fit: bool = True, energy_table=None, seed: int = 0,
             config: ArchConfig | None = None, window: int | None = None,
             **arch) -> LayerResult | NetworkResult:
    """Simulate a layer (or a network) on EIE and check every output against numpy.

    ``weights_or_codes``: a dense float matrix (quantized to ``weight_bits`` of the
    configuration), integer codes with ``codebook=``, a :class:`LayerWorkload`, a
    :class:`Workload` or a ``compressor.QuantizedModel`` (its fully-connected layers run
    as a network: then ``x`` is the network's input and a :class:`NetworkResult` comes
    back). ``x``: a float input vector or a ``(P, cols)`` matrix of ``P`` vectors
    (``None``: the workload's own input). ``**arch``: architecture keys (``pes=32``,
    ``queue_depth=4``, ...) over ``config`` (default: the paper's design point).
    ``window``: counters per window of that many cycles (``result.windows``, with the
    recorded ``result.timeline``; one input vector; docs/timeline.md).
    """
    cfg = make_config(config, **arch)
    opt = SimOptions(engine=engine, verify=verify, check_fit=check_fit,
                     energy_table=energy_table, window=window)
    if x is not None:
        try:
            finite = bool(np.all(np.isfinite(np.asarray(x, dtype=np.float64))))
        except (TypeError, ValueError):
            raise WorkloadError(f"x must be a vector or matrix of numbers, got {type(x).__name__}") from None
        if not finite:
            raise WorkloadError("x contains NaN or infinity")
    if isinstance(weights_or_codes, (Workload, QuantizedModel)):
        if isinstance(weights_or_codes, Workload) and not weights_or_codes.network:
            raise WorkloadError("a Workload of independent layers: simulate its layers one by one")
        if x is None and isinstance(weights_or_codes, Workload):
            x = weights_or_codes.x
        if x is None:
            raise WorkloadError("a network needs its input vector x")
        return simulate_network(weights_or_codes, x, cfg, opt)
    lw = weights_or_codes if isinstance(weights_or_codes, LayerWorkload) else layer(
        weights_or_codes, codebook, bias, weight_bits=cfg.weight_bits, seed=seed)
    return simulate_layer(lw, x, cfg, opt, relu=relu)


def sweep(workload, x: np.ndarray | None = None, *, config: ArchConfig | None = None,
          check_fit: bool = True, unfit_points: str = "exclude", energy_table=None,
          engine: str = "fast", **axes: Iterable[Any]) -> list[dict[str, Any]]:
    """Simulate ``workload`` (as :func:`simulate` takes it) at every point of the cross
    product of ``axes`` (architecture keys, each a list of values), in this process.

    Returns one row per point and layer: the point's keys, ``fits`` and ``fit_handling``
    (:mod:`eie_sim.sim.sram_fit`), the layer's :meth:`LayerResult.to_dict` columns, what
    one PE's SRAMs need and were priced with (``needed_*``, ``priced_*``) and ``error``.
    A point that cannot run is recorded as one row with its ``error`` (the first words
    name the error) and the sweep goes on, as ``eie-sweep`` does: an impossible
    configuration, a weight that does not fit the fixed-point word, or -- with
    ``check_fit=True`` -- a layer that does not fit the SRAMs (``fits`` False,
    ``fit_handling`` ``refused``). With ``check_fit=False`` such a point runs: priced with
    the configured SRAMs and marked ``excluded`` (``unfit_points="exclude"``: not a
    candidate design), or priced with the SRAMs it would need (``"resize"``).
    """
    if unfit_points not in UNFIT_CHOICES:
        raise ConfigError(f"unfit_points: expected one of {', '.join(UNFIT_CHOICES)}, got "
                          f"{unfit_points!r}")
    keys = list(axes)
    values = [list(v) for v in axes.values()]
    lw = workload if not isinstance(workload, np.ndarray) else layer(
        workload, weight_bits=(config or PAPER_CONFIG).weight_bits)
    layers = [lw] if isinstance(lw, LayerWorkload) else as_layers(lw)
    rows = []
    for combo in itertools.product(*values):
        point = dict(zip(keys, combo))
        fits, need, priced = None, None, None
        try:
            cfg = make_config(config, **point)
            need = sram_fit.point_need(layers, cfg)
            fits = need.fits(cfg)
            if not fits and check_fit:
                sram_fit.refuse(layers, cfg)
            priced = sram_fit.priced_config(need, cfg, unfit_points)
            res = simulate(lw, x, config=priced, check_fit=False, energy_table=energy_table,
                           engine=engine)
        except sram_fit.POINT_ERRORS as exc:
            error = f"{type(exc).__name__}: {exc}"
            fit = {} if need is None else sram_fit.fit_figures(need, None)
            rows.append({**point, "fits": fits, "fit_handling": sram_fit.handling(
                fits, error, check_fit, unfit_points), **fit, "error": error})
            continue
        head = {**point, "fits": fits,
                "fit_handling": sram_fit.handling(fits, "", check_fit, unfit_points)}
        tail = {**sram_fit.fit_figures(need, priced), "error": ""}
        for r in (res.layers if isinstance(res, NetworkResult) else [res]):
            rows.append({**head, **r.to_dict(), **tail})
    return rows
