"""Seeded synthetic weights for the named networks, pruned and quantized like Deep Compression.

No trained weights of these networks are available here, so each parameter layer gets
He-initialised Gaussian weights (``numpy.random.default_rng([seed, layer index])``),
magnitude-pruned to the density of its layer class (:data:`DENSITIES`, **assumed,
Deep Compression-like**), given a small bias (``N(0, 0.05^2)``), then scaled layer by
layer so that its output has unit standard deviation on the synthetic image (a
data-dependent initialisation in one forward pass at half the input size, as trained
batch norm would leave it; without it residual sums grow without bound over 20 blocks),
and quantized to 4-bit codes by
the compressor's k-means (:func:`compressor.quantize.quantize_layer`, linear
initialisation, code 0 = pruned). The weights are
BN-free (batch norm is taken as folded). They exercise the arithmetic, sparsity and
layout of the architecture; they classify nothing.

Density classes (fraction of weights kept) and where each value comes from:

=================  =======  ==============================================================
class              kept     source
=================  =======  ==============================================================
first conv         0.80     Deep Compression Table 4: AlexNet conv1 keeps 84 %
conv k x k (k>1)   0.35     Table 4: AlexNet conv2-conv5 keep 35-38 %
conv 1 x 1         0.30     assumed: a little below k x k (no spatial redundancy to drop)
depthwise          0.70     assumed: 9 weights per channel, each the only tap of its
                            channel at that offset; pruning them removes spatial support
deconvolution      0.35     as conv k x k
fc (hidden)        0.09     Table 4: AlexNet fc6, fc7 keep 9 %
classifier         0.25     Table 4/5: AlexNet fc8 25 %, VGG-16 fc8 23 % (the last
                            parameter layer of a network, fc or convolution)
=================  =======  ==============================================================
"""
from __future__ import annotations

import numpy as np

from ..errors import GraphError
from ..graph import Net
from ..graph.forward import SYNTHETIC_SEED, forward, synthetic_input
from ..graph.net import Layer
from ..model import QuantizedLayer, QuantizedModel
from ..prune import prune_mask
from ..quantize import quantize_layer
from . import NETWORKS, build

__all__ = ["DENSITIES", "DEFAULT_SEED", "WEIGHT_BITS", "INDEX_BITS", "layer_class",
           "synthetic_weights", "synthetic_model", "INPUT_SCALE"]

DENSITIES = {"first conv": 0.80, "conv k x k": 0.35, "conv 1 x 1": 0.30, "depthwise": 0.70,
             "deconvolution": 0.35, "fc": 0.09, "classifier": 0.25}
DEFAULT_SEED = 2016
WEIGHT_BITS = 4          #: EIE's 4-bit weight codes (16-entry codebook)
INDEX_BITS = 4           #: EIE's 4-bit relative index
_RELU_LIKE = ("ReLU", "Clip", "PReLU")
INPUT_SCALE = 1.0        #: synthetic image spread (a normalised image, roughly unit variance)


def layer_class(net: Net, lay: Layer) -> str:
    """The density class of a parameter layer (keys of :data:`DENSITIES`)."""
    wl = net.weight_layers
    if lay is wl[-1]:
        return "classifier"
    if lay is wl[0] and lay.type == "Convolution":
        return "first conv"
    if lay.type == "InnerProduct" or lay.conv is None:   # MatMul, Embed, recurrent: fc-like
        return "fc"
    if lay.type == "Deconvolution":
        return "deconvolution"
    cp = lay.conv
    assert cp is not None
    if cp.group > 1 and cp.group == lay.in_shapes[0][1]:
        return "depthwise"
    return "conv 1 x 1" if cp.kernel == (1, 1) else "conv k x k"


def _followed_by_activation(net: Net, lay: Layer) -> bool:
    readers = [l for l in net.layers if lay.tops[0] in l.bottoms]
    return len(readers) == 1 and readers[0].type in _RELU_LIKE


def synthetic_weights(net: Net, seed: int = DEFAULT_SEED, densities: dict | None = None,
                      calibrate: bool = True
                      ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray | None]], dict[str, np.ndarray]]:
    """``(weights, masks)``: float32 ``(weight, bias)`` per parameter layer, pruned, and the
    keep-masks (see the module docstring)."""
    dens = dict(DENSITIES, **(densities or {}))
    weights, masks = {}, {}
    for i, lay in enumerate(net.weight_layers):
        rng = np.random.default_rng([int(seed), i])
        shape = lay.weight_shape
        assert shape is not None
        fan_in = int(np.prod(shape[1:])) if lay.type != "Deconvolution" else int(shape[0] * shape[2] * shape[3])
        w = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        mask = prune_mask(w, density=dens[layer_class(net, lay)])
        w = np.where(mask, w, 0.0)
        if lay.type == "Deconvolution" and lay.bias_term:
            raise GraphError(f"layer {lay.name!r}: a transposed convolution with a bias cannot be "
                             f"held by a QuantizedLayer (bias per input channel axis); build it "
                             f"with bias=False")
        bias = (0.05 * rng.standard_normal(shape[0])).astype(np.float32) if lay.bias_term else None
        weights[lay.name] = (w.astype(np.float32), bias)
        masks[lay.name] = mask
    if calibrate:
        _calibrate(net, weights)
    return weights, masks


def calibration_net(net: Net) -> Net:
    """A named network (:data:`compressor.zoo.NETWORKS`) at half its input size (at least
    64 pixels a side where the input has them); any other network as it is."""
    (shape,) = net.inputs.values()
    if net.name not in NETWORKS or len(shape) != 4:
        return net
    h, w = shape[2], shape[3]
    return build(net.name, (max(min(h, 64), h // 2), max(min(w, 64), w // 2)))


def _calibrate(net: Net, weights: dict) -> None:
    """Scale each parameter layer (weights and bias) so its output on the half-size
    synthetic image has unit standard deviation, in network order (in place)."""
    small = calibration_net(net)
    (shape,) = small.inputs.values()

    def rescale(lay, y):
        sd = float(np.std(y, dtype=np.float64))
        if sd <= 0 or not np.isfinite(sd):
            return y
        w, b = weights[lay.name]
        weights[lay.name] = (w / np.float32(sd), None if b is None else b / np.float32(sd))
        return (y / np.float32(sd)).astype(np.float32)

    forward(small, weights, synthetic_input(tuple(shape), seed=SYNTHETIC_SEED, scale=INPUT_SCALE),
            on_output=rescale)


def synthetic_model(net: Net, seed: int = DEFAULT_SEED, densities: dict | None = None) -> QuantizedModel:
    """The pruned weights of :func:`synthetic_weights` quantized to 4-bit codes (code 0 =
    pruned), as the :class:`~compressor.model.QuantizedModel` the compressor produces."""
    weights, masks = synthetic_weights(net, seed, densities)
    layers = []
    for lay in net.weight_layers:
        w, b = weights[lay.name]
        codebook, codes = quantize_layer(w, masks[lay.name], WEIGHT_BITS, init="linear", seed=seed)
        kind = "fc" if lay.type == "InnerProduct" else "conv"
        layers.append(QuantizedLayer(lay.name, kind, codes, codebook, b, WEIGHT_BITS, INDEX_BITS,
                                     meta={"synthetic": True, "seed": int(seed),
                                           "class": layer_class(net, lay),
                                           "target_density": dict(DENSITIES, **(densities or {}))[
                                               layer_class(net, lay)],
                                           "layer_type": lay.type}))
    return QuantizedModel(layers, meta={"synthetic": True, "seed": int(seed), "network": net.name,
                                        "densities": "assumed, Deep Compression-like"})
