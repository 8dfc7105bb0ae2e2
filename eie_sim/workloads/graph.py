"""A model with a graph on EIE: every parameter layer as M x V work on its own inputs.

EIE multiplies a sparse matrix by a vector; a network with convolutions (or any graph that
is not a chain of fully-connected layers) runs here as its parameter layers, one after the
other, each on the inputs that the numpy forward pass of the whole graph
(:func:`compressor.graph.forward.forward`, float32, the quantized weights) hands it:

* a fully-connected layer: one input vector;
* a convolution: its ``(out, in/group * kh * kw)`` matrix (block-diagonal over groups) on
  one unrolled patch per output position (im2col, :func:`compressor.graph.forward.layer_workloads`),
  as :func:`eie_sim.sim.layer.simulate_conv_layer` runs SqueezeNet.

Pooling, concatenation, softmax and the like are not EIE operations: they stay in the
forward pass. A layer runs with ReLU on EIE when its output feeds a ReLU and nothing else.
Every simulated output is checked against numpy (on its fixed-point input) and against the
forward pass's own output of that layer (``compare``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compressor.errors import CompressorError
from compressor.graph.forward import forward, layer_workloads
from compressor.graph.forward import synthetic_input as image_input
from compressor.graph.net import Net
from compressor.model import QuantizedModel
from eie_sim.arch.config import ArchConfig
from eie_sim.errors import WorkloadError
from eie_sim.workloads.layer import LayerWorkload
from eie_sim.workloads.synthetic import synthetic_input

__all__ = ["GraphWorkload", "graph_workload", "graph_input", "relu_follows", "MAX_PATCH_VALUES"]

#: the most unrolled input values (sum over the layers run of positions x columns) a graph
#: run builds: the im2col patches are held in memory (2**28 float64 values = 2 GiB)
MAX_PATCH_VALUES = 1 << 28


@dataclass
class GraphWorkload:
    """Parameter layers of a graph with the inputs the forward pass gives them.

    ``layers``: one :class:`LayerWorkload` per layer run (2-D codes); ``patches[name]``:
    float ``(P, cols)`` inputs (P = 1 for a fully-connected layer, the output positions of
    a convolution); ``compare[name]``: the forward pass's ``(P, rows)`` outputs (before
    ReLU); ``relu[name]``: whether EIE applies ReLU to the layer's outputs;
    ``out_shape[name]``: the layer's output blob shape.
    """

    layers: list[LayerWorkload]
    patches: dict[str, np.ndarray]
    compare: dict[str, np.ndarray]
    relu: dict[str, bool]
    out_shape: dict[str, tuple[int, ...]]
    x: np.ndarray
    description: str = ""
    network: bool = False        #: never chained in fixed point: inputs come from the forward pass
    graph: dict[str, Any] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        return any(lay.synthetic for lay in self.layers)

    @property
    def has_conv(self) -> bool:
        return any(p.shape[0] > 1 or len(self.out_shape[n]) == 4 for n, p in self.patches.items())

    def describe(self) -> dict[str, Any]:
        return {"description": self.description, "network": False, "graph": dict(self.graph),
                "synthetic": self.synthetic,
                "layers": [{**l.describe(), "positions": int(self.patches[l.name].shape[0]),
                            "relu": self.relu[l.name], "out_shape": list(self.out_shape[l.name])}
                           for l in self.layers]}


def relu_follows(net: Net, name: str) -> bool:
    """True when layer ``name``'s output feeds a ReLU (slope 0) and no other layer."""
    top = net.layer(name).tops[0]
    users = [lay for lay in net.layers if top in lay.bottoms]
    return bool(users) and all(u.type == "ReLU" and u.negative_slope == 0.0 for u in users)


def graph_input(net: Net, seed: int, act_density: float, x: np.ndarray | None = None,
                source: str = "the input") -> np.ndarray:
    """The graph's input: ``x`` reshaped to the input shape, or a seeded synthetic one (an
    image-like smooth map of spread 1 for (N, C, H, W) inputs,
    :func:`compressor.graph.forward.synthetic_input`; a vector of density ``act_density``
    for (N, D) inputs, :func:`eie_sim.workloads.synthetic.synthetic_input`)."""
    (shape,) = net.inputs.values()
    n = int(np.prod(shape))
    if x is not None:
        x = np.asarray(x, dtype=np.float32).reshape(-1)
        if x.size != n:
            raise WorkloadError(f"{source}: {x.size} values, the graph's input {tuple(shape)} "
                                f"holds {n}")
        return x.reshape(shape)
    if len(shape) == 4:
        return image_input(tuple(shape), seed=seed, scale=1.0)
    return synthetic_input(n, act_density, seed).astype(np.float32).reshape(shape)


def graph_workload(net: Net, model: QuantizedModel, x: np.ndarray, cfg: ArchConfig | None,
                   source: dict[str, Any], layers: list[str] | None = None) -> GraphWorkload:
    """Run the forward pass and unroll every parameter layer (or those in ``layers``).
    Refused before any work when the patches would exceed :data:`MAX_PATCH_VALUES`."""
    total = 0
    for lay in net.weight_layers:
        out = lay.out_shapes[0]
        positions = int(np.prod(out[:1] + out[2:])) if len(out) == 4 else int(out[0])
        cols = int(np.prod(lay.in_shapes[0][1:]))
        if lay.conv is not None:
            cols = int(lay.in_shapes[0][1]) * lay.conv.kernel[0] * lay.conv.kernel[1]
        total += positions * cols
    if total > MAX_PATCH_VALUES:
        raise WorkloadError(f"{source.get('path', 'model')}: running graph {net.name!r} on EIE "
                            f"unrolls {total:,} input values (positions x columns), more than "
                            f"the limit of {MAX_PATCH_VALUES:,}; use a smaller input")
    try:
        fwd = forward(net, model, x)
        wls = layer_workloads(net, model, x, result=fwd)
    except (CompressorError, KeyError) as exc:
        raise WorkloadError(f"{source.get('path', 'model')}: {exc}") from None
    names = [w.name for w in wls]
    if layers:
        unknown = [n for n in layers if n not in names]
        if unknown:
            raise WorkloadError(f"{source.get('path', 'model')}: no layer named {unknown}; "
                                f"layers: {', '.join(names)}")
    out = GraphWorkload([], {}, {}, {}, {}, x, graph={"name": net.name,
                                                      "input_shape": list(x.shape)})
    for w in wls:
        if layers and w.name not in layers:
            continue
        q = w.layer
        lw = LayerWorkload(name=w.name, codes=np.asarray(q.codes), codebook=q.codebook,
                           bias=q.bias, bits=q.bits, synthetic=False,
                           source={**source, "layer_kind": model.layer(w.name).kind,
                                   "weight_shape": list(model.layer(w.name).codes.shape),
                                   **({"codebook": model.layer(w.name).meta["codebook"]}
                                      if "codebook" in model.layer(w.name).meta else {})})
        if cfg is not None:
            lw.check_bits(cfg)
        y = fwd.layer_outputs[w.name]
        ref = y.transpose(0, 2, 3, 1).reshape(-1, y.shape[1]) if y.ndim == 4 else y.reshape(y.shape[0], -1)
        out.layers.append(lw)
        out.patches[w.name] = np.asarray(w.patches, dtype=np.float64)
        out.compare[w.name] = ref
        out.relu[w.name] = relu_follows(net, w.name)
        out.out_shape[w.name] = tuple(w.out_shape)
    return out
