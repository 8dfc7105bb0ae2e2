"""Batch normalisation folded into the layer before it (inference-time rewrite of a Net).

EIE has no batch-norm unit: at inference a BatchNorm is the per-channel affine map
``y = s x + t`` (``s = gamma / sqrt(var + eps)``, ``t = beta - s mean``), and when its
input is the output of a Convolution, Deconvolution or InnerProduct that nothing else
reads, it folds exactly into that layer: each output channel's weights are multiplied by
``s`` and its bias becomes ``s b + t``. Pruning and quantization then run on the folded
weights (as Deep Compression would on a BN-free network). A BatchNorm that cannot be
folded (its input is a network input, a non-parameter layer, or a blob other layers also
read) is refused with a :class:`~compressor.errors.GraphError` naming it.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from typing import Mapping

import numpy as np

from ..errors import GraphError
from .net import Net

__all__ = ["fold_batchnorm"]

Weights = Mapping[str, tuple[np.ndarray, np.ndarray | None]]


def fold_batchnorm(net: Net, weights: Weights) -> tuple[Net, dict[str, tuple[np.ndarray, np.ndarray | None]]]:
    """``(net without BatchNorm layers, folded weights)``; ``weights``: layer name ->
    ``(weight, bias or None)`` float arrays. The input objects are not modified."""
    out_w = {k: (np.asarray(w, np.float32).copy(), None if b is None else np.asarray(b, np.float32).copy())
             for k, (w, b) in weights.items()}
    producer = {}
    readers: dict[str, int] = {}
    for lay in net.layers:
        for t in lay.tops:
            producer[t] = lay
        for b in lay.bottoms:
            readers[b] = readers.get(b, 0) + 1
    layers = [copy.copy(lay) for lay in net.layers]
    by_name = {lay.name: lay for lay in layers}
    drop = set()
    for lay in net.layers:
        if lay.type != "BatchNorm":
            continue
        src = producer.get(lay.bottoms[0])
        if src is None or src.type not in ("Convolution", "Deconvolution", "InnerProduct"):
            raise GraphError(f"layer {lay.name!r} (BatchNorm): cannot be folded, its input "
                             f"{lay.bottoms[0]!r} is not the output of a Convolution, "
                             f"Deconvolution or InnerProduct")
        if readers.get(lay.bottoms[0], 0) != 1 or src.name in drop:
            raise GraphError(f"layer {lay.name!r} (BatchNorm): cannot be folded, {lay.bottoms[0]!r} "
                             f"is also read by other layers")
        if src.name not in out_w:
            raise GraphError(f"layer {lay.name!r} (BatchNorm): no weights for {src.name!r}")
        scale, shift = lay.bn.scale_shift()  # type: ignore[union-attr]
        w, b = out_w[src.name]
        w = w.astype(np.float64)
        if src.type == "Deconvolution":
            g = src.conv.group  # type: ignore[union-attr]
            cg, og = w.shape[0] // g, w.shape[1]
            for k in range(g):
                w[k * cg:(k + 1) * cg] *= scale[k * og:(k + 1) * og].reshape(1, og, 1, 1)
        else:
            w *= scale.reshape((-1,) + (1,) * (w.ndim - 1))
        b64 = np.zeros(scale.shape) if b is None else b.astype(np.float64)
        out_w[src.name] = (w.astype(np.float32), (scale * b64 + shift).astype(np.float32))
        folded = by_name[src.name]
        folded.tops = list(lay.tops)
        folded.bias_term = True
        if folded.conv is not None:
            folded.conv = replace(folded.conv, bias_term=True)
        drop.add(lay.name)
    kept = [lay for lay in layers if lay.name not in drop]
    blobs = {}
    for name, shape in net.inputs.items():
        blobs[name] = shape
    for lay in kept:
        for t, s in zip(lay.tops, lay.out_shapes):
            blobs[t] = s
    return Net(net.name, dict(net.inputs), kept, blobs, dict(net.input_layouts)), out_w
