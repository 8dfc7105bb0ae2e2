"""The one form every model reader ends in: :class:`ImportedModel`.

An imported model is a graph (:class:`compressor.graph.Net`, or ``None`` when the file
format carries none: a bare ``.npz`` or safetensors file) plus dense float32 weights,
layer name -> ``(weight, bias or None)``, in the graph's order (the file's order without a
graph). Weights follow the project's ``.npz`` convention (:meth:`ImportedModel.arrays`):
``X`` the weight of layer ``X`` (2-D ``(out, in)`` fully connected, 4-D ``(out, in/group,
kh, kw)`` convolution), ``X.bias`` its bias.

Without a graph, only fully-connected (2-D) layers can be run on EIE (as a chain when each
layer's inputs equal the previous layer's outputs, with ReLU between, else each on its own
input); a 4-D weight without a graph has no stride, padding, group or input size and is
refused for simulation (it can still be compressed). See docs/byom.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ModelImportError
from ..graph.net import Net

__all__ = ["ImportedModel"]


@dataclass
class ImportedModel:
    """A model read from a file: graph (or None), weights, where it came from.

    ``source``: the file read; ``format``: ``"onnx"``, ``"safetensors"``, ``"npz"``,
    ``"dcmp"``, ``"caffe"``; ``meta``: JSON-serialisable notes of the reader (what was
    folded, the opset, the order rule...).
    """

    net: Net | None
    weights: dict[str, tuple[np.ndarray, np.ndarray | None]]
    source: str
    format: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.weights:
            raise ModelImportError(f"{self.source}: no layer weights found")
        if self.net is not None:
            names = [lay.name for lay in self.net.weight_layers]
            known = set(names)
            missing = [n for n in names if n not in self.weights]
            extra = [n for n in self.weights if n not in known]
            if missing or extra:
                raise ModelImportError(f"{self.source}: graph and weights disagree (no weights for "
                                       f"{missing}, weights of no layer {extra})")
            self.weights = {n: self.weights[n] for n in names}   # the graph's order
            for lay in self.net.weight_layers:
                w, b = self.weights[lay.name]
                if tuple(w.shape) != tuple(lay.weight_shape or ()):
                    raise ModelImportError(f"{self.source}: layer {lay.name!r}: weight shape "
                                           f"{w.shape}, the graph needs {lay.weight_shape}")
                if b is not None and b.shape != (w.shape[0],):
                    raise ModelImportError(f"{self.source}: layer {lay.name!r}: bias shape "
                                           f"{b.shape}, expected ({w.shape[0]},)")

    @property
    def layer_names(self) -> list[str]:
        return list(self.weights)

    def kind(self, name: str) -> str:
        """``"fc"`` (2-D weight) or ``"conv"`` (4-D)."""
        return "fc" if self.weights[name][0].ndim == 2 else "conv"

    def arrays(self) -> dict[str, np.ndarray]:
        """The weights in the ``.npz`` convention: ``X`` and ``X.bias`` (float32)."""
        out: dict[str, np.ndarray] = {}
        for name, (w, b) in self.weights.items():
            out[name] = np.asarray(w, dtype=np.float32)
            if b is not None:
                out[name + ".bias"] = np.asarray(b, dtype=np.float32)
        return out

    def select(self, names: list[str]) -> "ImportedModel":
        """The model with only the weight layers ``names`` (in the file's order); a model
        with a graph keeps every layer its graph runs (refused)."""
        unknown = [n for n in names if n not in self.weights]
        if unknown:
            raise ModelImportError(f"{self.source}: --layers names {unknown}; the layers are "
                                   f"{self.layer_names}")
        if self.net is not None and set(names) != set(self.weights):
            raise ModelImportError(f"{self.source}: --layers applies to files without a graph; "
                                   "this graph runs every one of its layers")
        meta = dict(self.meta)
        dropped = [n for n in self.weights if n not in names]
        if dropped:
            meta["not_selected"] = dropped
        return ImportedModel(self.net, {n: v for n, v in self.weights.items() if n in names},
                             self.source, self.format, meta)

    def describe(self) -> str:
        kinds = ", ".join(f"{n} {self.kind(n)} {tuple(w.shape)}" for n, (w, _) in self.weights.items())
        graph = f"graph of {len(self.net.layers)} layers" if self.net is not None else "no graph"
        return f"{self.source} ({self.format}, {graph}): {kinds}"
