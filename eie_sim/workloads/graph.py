"""A model with a graph as a workload: the network, its quantized weights and its input.

EIE multiplies a sparse matrix by a vector; a network with convolutions (or any graph that
is not a chain of fully-connected layers) runs as its weight layers through the one
network runner (:func:`eie_sim.sim.runner.run_net`, per-layer mode), each on the input
the numpy forward pass of the whole graph hands it. This module only describes such a
workload (:class:`NetWorkload`) and makes its input (:func:`graph_input`); it runs nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compressor.graph import eie_relu
from compressor.errors import ForwardError
from compressor.graph.forward import check_token_ids, token_ids, token_inputs
from compressor.graph.forward import synthetic_input as image_input
from compressor.graph.net import Net
from compressor.model import QuantizedModel
from eie_sim.errors import WorkloadError
from eie_sim.workloads.synthetic import synthetic_input

__all__ = ["NetWorkload", "graph_input"]


@dataclass
class NetWorkload:
    """A network to run through :func:`eie_sim.sim.runner.run_net`: ``net`` and its
    quantized ``weights``, the input blob ``x``, the weight layers to run (``layers``;
    None: all), where it came from (``source``: the file, its format) and a
    ``description`` for reports."""

    net: Net
    weights: QuantizedModel
    x: np.ndarray
    layers: list[str] | None = None
    source: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    synthetic: bool = False
    network: bool = False        #: never a chain of fc layers (that is Workload's form)
    #: ``"chained"``: every input through the whole graph in fixed point
    #: (:mod:`eie_sim.apps.model_chain`); ``"per-layer"``: each layer on the float forward
    #: pass's input (:func:`eie_sim.sim.runner.run_net`)
    mode: str = "per-layer"
    #: chained mode: ``(label, input blob)`` of every input run (``x`` is the first)
    inputs: list = field(default_factory=list)
    float_net: Net | None = None          #: the float model to compare with (None: ``net``)
    float_weights: Any = None             #: its weights (None: ``weights`` in float)
    float_model: str = ""                 #: what the float model is, for reports

    def layer_names(self) -> list[str]:
        """The weight layers that run, in order."""
        return [l.name for l in self.net.weight_layers if not self.layers or l.name in self.layers]

    def has_conv(self, name: str) -> bool:
        """Whether weight layer ``name`` runs once per output position (a convolution)."""
        return len(self.net.layer(name).out_shapes[0]) == 4

    def describe(self) -> dict[str, Any]:
        return {"description": self.description, "network": False, "mode": self.mode,
                "inputs": [lab for lab, _ in self.inputs], "float_model": self.float_model,
                "graph": {"name": self.net.name, "input_shape": list(self.x.shape)},
                "synthetic": self.synthetic,
                "layers": [{"name": n, "type": self.net.layer(n).type,
                            "weight_shape": list(np.shape(self.weights.layer(n).codes)),
                            "relu": eie_relu(self.net, self.net.layer(n)).on_eie,
                            "out_shape": list(self.net.layer(n).out_shapes[0])}
                           for n in self.layer_names()]}


def graph_input(net: Net, seed: int, act_density: float, x: np.ndarray | None = None,
                source: str = "the input") -> np.ndarray:
    """The graph's input: ``x`` reshaped to the input shape, or a seeded synthetic one (an
    image-like smooth map of spread 1 for (N, C, H, W) inputs,
    :func:`compressor.graph.forward.synthetic_input`; a vector of density ``act_density``
    for (N, D) inputs, :func:`eie_sim.workloads.synthetic.synthetic_input`).

    An input an ``Embed`` layer reads holds **token ids**
    (:func:`compressor.graph.forward.token_inputs`): the synthetic one is seeded integers
    ``0 .. V-1`` (``V``: the table's rows), and a given ``x`` must be integers in range
    (refused otherwise, with the valid range)."""
    name, shape = next(iter(net.inputs.items()))   # (further inputs: a recurrent state, zeros)
    n = int(np.prod(shape))
    vocab = token_inputs(net).get(name)
    if x is not None:
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise WorkloadError(f"{source}: the input must hold numbers, got dtype {x.dtype}")
        x = x.reshape(-1)
        if x.size != n:
            raise WorkloadError(f"{source}: {x.size} values, the graph's input {tuple(shape)} "
                                f"holds {n}")
        if vocab is not None:
            try:
                check_token_ids(x, vocab, source)
            except ForwardError as exc:
                raise WorkloadError(str(exc)) from None
        return x.astype(np.float32).reshape(shape)
    if vocab is not None:
        return token_ids(shape, vocab, seed)
    if len(shape) == 4:
        return image_input(tuple(shape), seed=seed, scale=1.0)
    return synthetic_input(n, act_density, seed).astype(np.float32).reshape(shape)
