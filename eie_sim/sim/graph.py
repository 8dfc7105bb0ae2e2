"""Run a :class:`~eie_sim.workloads.graph.GraphWorkload`: each parameter layer on EIE.

A fully-connected layer is one :func:`~eie_sim.sim.layer.simulate_layer` run on its input
vector; a convolution is :func:`~eie_sim.sim.layer.simulate_conv_layer` on every output
position's patch (laid out once, batched through the engine). Every output is checked
against numpy on its fixed-point input and against the graph's forward-pass output of the
layer (``compare_to``; the result's ``map_check``). Inputs come from the float forward pass,
not from the previous layer's fixed-point outputs (pooling, concatenation and the like are
not EIE operations).
"""
from __future__ import annotations

from typing import Any, Iterable

from eie_sim.arch.config import ArchConfig
from eie_sim.sim.layer import simulate_conv_layer, simulate_layer
from eie_sim.sim.results import LayerResult, network_totals
from eie_sim.workloads.graph import GraphWorkload

__all__ = ["run_graph_workload"]


def run_graph_workload(gw: GraphWorkload, cfg: ArchConfig, engine="fast", verify=False, *,
                       check_fit: bool = True, energy_table=None, seed: int | None = None,
                       window: int | None = None, record: Iterable[str] = ()
                       ) -> tuple[list[LayerResult], dict[str, Any]]:
    """Every layer of ``gw`` on EIE; returns the layer results and their totals.
    ``window`` / ``record`` apply to the one-vector (fully-connected) layers."""
    seeds = {"run_seed": seed} if seed is not None else {}
    record = set(record)
    results = []
    for lay in gw.layers:
        X, ref, relu = gw.patches[lay.name], gw.compare[lay.name], gw.relu[lay.name]
        if X.shape[0] == 1 and len(gw.out_shape[lay.name]) == 2:
            res = simulate_layer(lay, X[0], cfg, engine, verify, relu, check_fit=check_fit,
                                 energy_table=energy_table, seeds=seeds, compare_to=ref,
                                 window=window, record=lay.name in record)
        else:
            res = simulate_conv_layer(lay, X, cfg, relu=relu, check_fit=check_fit, engine=engine,
                                      verify=verify, energy_table=energy_table, seeds=seeds,
                                      compare_to=ref)
            shape = lay.source.get("weight_shape") or []
            if len(shape) == 4:
                res.meta.update({"kernel": f"{shape[2]}x{shape[3]}",
                                 "out_map": "x".join(str(v) for v in gw.out_shape[lay.name][2:])})
        results.append(res)
    return results, network_totals(results)
