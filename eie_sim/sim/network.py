"""Layers in sequence (a network) or side by side (independent layers of one workload)."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from compressor.model import QuantizedModel
from eie_sim.arch.config import ArchConfig
from eie_sim.errors import EngineUnavailable, WorkloadError
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.options import DEFAULT_OPTIONS, SimOptions
from eie_sim.sim.results import LayerResult, NetworkResult
from eie_sim.sim.stages import PreparedLayer, prepare
from eie_sim.workloads.layer import LayerWorkload, Workload


def as_layers(model) -> list:
    """The layers of a :class:`Workload`, a ``QuantizedModel`` (its fc layers) or a list."""
    if isinstance(model, Workload):
        return list(model.layers)
    if isinstance(model, QuantizedModel):
        return [LayerWorkload(name=q.name, codes=q.codes, codebook=q.codebook, bias=q.bias,
                              bits=q.bits, source={"kind": "model"})
                for q in model.layers if q.kind == "fc"]
    return list(model)


def prepare_network(model, cfg: ArchConfig, check_fit: bool = True) -> list[PreparedLayer]:
    """Every layer laid out once (reused across inputs, e.g. MNIST images)."""
    return [prepare(l, cfg, check_fit) for l in as_layers(model)]


def simulate_network(model, x: np.ndarray, cfg: ArchConfig, options: SimOptions | None = None, *,
                     seeds: dict | None = None, prepared: list[PreparedLayer] | None = None,
                     record: Iterable[str] = ()) -> NetworkResult:
    """Run layers in sequence: each layer's (saturated, ReLU'd) destination registers are
    the next layer's source registers; no ReLU after the last layer.

    ``model``: a :class:`Workload`, a ``QuantizedModel`` (its fc layers) or a list of
    layers/layouts. ``options``: :class:`~eie_sim.sim.options.SimOptions` (its ``window``:
    windows of that many cycles for every layer, ``result.windows``). ``prepared``: layouts
    built before (:func:`prepare_network`). ``record``: names of the layers whose whole
    timeline is kept (``result.timeline``).
    """
    opt = options or DEFAULT_OPTIONS
    if getattr(opt.engine, "estimate_only", False):
        raise EngineUnavailable("a network feeds each layer's outputs to the next: the "
                                "estimate-only analytical engine computes none (use engine "
                                "'analytical')")
    if x is not None and not np.all(np.isfinite(np.asarray(x, dtype=np.float64))):
        raise WorkloadError("the network input x contains NaN or infinity")
    layers = prepared if prepared is not None else prepare_network(model, cfg, opt.check_fit)
    if not layers:
        raise WorkloadError("no layers to simulate")
    for a, b in zip(layers, layers[1:]):
        if a.layout.rows != b.layout.cols:
            raise WorkloadError(f"layer {b.layout.name!r} has {b.layout.cols} inputs but "
                                f"{a.layout.name!r} gives {a.layout.rows} outputs")
    results: list[LayerResult] = []
    x_q = None
    for i, prep in enumerate(layers):
        last = i == len(layers) - 1
        res = simulate_layer(prep, x if i == 0 else None, cfg, opt, relu=not last, x_q=x_q,
                             seeds=seeds, record=prep.layout.name in record)
        results.append(res)
        x_q = res.output_q
    return NetworkResult(results)


def run_workload(wl: Workload, cfg: ArchConfig, options: SimOptions | None = None,
                 relu: bool = True, *, seed: int | None = None, record: Iterable[str] = ()
                 ) -> tuple[list[LayerResult], dict[str, Any]]:
    """Run a workload: a network in sequence, or each layer on its own input.

    ``options`` and ``record`` as in :func:`simulate_network`. Returns the layer results
    and the totals (:func:`~eie_sim.sim.results.network_totals`).
    """
    seeds = {"run_seed": seed} if seed is not None else {}
    record = set(record)
    if wl.network:
        net = simulate_network(wl, wl.x, cfg, options, seeds=seeds, record=record)
    else:
        net = NetworkResult([simulate_layer(lay, None, cfg, options, relu=relu, seeds=seeds,
                                            record=lay.name in record)
                             for lay in wl.layers])
    return net.layers, net.totals()
