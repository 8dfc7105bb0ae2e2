"""The weight layers of the op table (:data:`compressor.graph.ops.OPS`): the shape rules
and numpy forwards of ``Convolution`` (Caffe's output size, dilation, groups),
``Deconvolution`` (transposed convolution, weight shape ``(in, out/group, kh, kw)``),
``InnerProduct``, ``MatMul`` (one M x V per leading position) and ``Embed`` (a table
look-up, :func:`embed_rows`), the weights of a parameter layer from either source
(:func:`layer_weights`: a :class:`~compressor.model.QuantizedModel` or a name ->
``(weights, bias)`` mapping), and the bottom-count checks every shape rule uses. Shape
errors are :class:`~compressor.errors.GraphError`, forward errors
:class:`~compressor.errors.ForwardError`, both naming the layer.
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from ..errors import ForwardError, GraphError
from ..model import QuantizedModel
from .kernels import conv2d, deconv2d
from .layer import ConvParams, Layer, conv_out_size

__all__ = ["Shape", "WeightSource", "layer_weights", "embed_rows"]

Shape = tuple[int, ...]
WeightSource = QuantizedModel | Mapping[str, tuple[np.ndarray, np.ndarray | None]]



def layer_weights(weights: WeightSource, lay: Layer) -> tuple[np.ndarray, np.ndarray | None]:
    """``(weights, bias)`` of parameter layer ``lay`` as float32, weights in the layer's
    ``weight_shape``: from a :class:`QuantizedModel` (``codebook[codes]``) or a mapping
    layer name -> ``(weights, bias)``."""
    try:
        if isinstance(weights, QuantizedModel):
            q = weights.layer(lay.name)
            w, b = q.weights(), q.bias
        else:
            w, b = weights[lay.name]
    except KeyError as e:
        raise ForwardError(f"no weights for parameter layer {lay.name!r}") from e
    w = np.asarray(w, dtype=np.float32)
    if tuple(w.shape) != tuple(lay.weight_shape):  # type: ignore[arg-type]
        if w.size == int(np.prod(lay.weight_shape)):
            w = w.reshape(lay.weight_shape)  # type: ignore[arg-type]
        else:
            raise ForwardError(f"layer {lay.name!r}: weights have shape {w.shape}, the network "
                               f"needs {lay.weight_shape}")
    if b is not None:
        b = np.asarray(b, dtype=np.float32)
        if b.shape != (lay.weight_shape[0],):  # type: ignore[index]
            raise ForwardError(f"layer {lay.name!r}: bias shape {b.shape}, expected ({lay.weight_shape[0]},)")
    return w, b


def _need(lay: Layer, ins: list[Shape], k: int) -> None:
    if len(ins) != k:
        raise GraphError(f"layer {lay.name!r} ({lay.type}): expects {k} bottom(s), has {len(ins)}")


def _need4(lay: Layer, ins: list[Shape]) -> tuple[int, int, int, int]:
    if len(ins[0]) != 4:
        raise GraphError(f"layer {lay.name!r} ({lay.type}): needs an (N, C, H, W) input, got {ins[0]}")
    return ins[0]  # type: ignore[return-value]


# ------------------------------------------------------------------- weight layers
def _conv_input(lay: Layer, ins: list[Shape]) -> tuple[tuple[int, int, int, int], ConvParams]:
    """The one (N, C, H, W) bottom of a (transposed) convolution and its geometry."""
    _need(lay, ins, 1)
    shape = _need4(lay, ins)
    assert lay.conv is not None
    return shape, lay.conv


def _conv_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    n = lay.name
    (N, C, H, W), cp = _conv_input(lay, ins)
    if C % cp.group:
        raise GraphError(f"layer {n!r}: {C} input channels not divisible by group {cp.group}")
    (kh, kw), (sh, sw), (ph, pw) = cp.kernel, cp.stride, cp.pad
    eh, ew = cp.extent()
    oh, ow = conv_out_size(H, eh, sh, ph), conv_out_size(W, ew, sw, pw)
    if oh < 1 or ow < 1:
        raise GraphError(f"layer {n!r}: kernel {cp.kernel} (dilation {cp.dilation}) larger "
                         f"than padded input {H}x{W}")
    if cp.out_pad != (0, 0):
        raise GraphError(f"layer {n!r}: out_pad applies to Deconvolution only")
    lay.weight_shape = (cp.num_output, C // cp.group, kh, kw)
    return [(N, cp.num_output, oh, ow)]


def _conv_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    w, b = layer_weights(weights, lay)
    return conv2d(ins[0], w, b, lay.conv)  # type: ignore[arg-type]


def _deconv_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    n = lay.name
    (N, C, H, W), cp = _conv_input(lay, ins)
    if C % cp.group or cp.num_output % cp.group:
        raise GraphError(f"layer {n!r}: channels {C} -> {cp.num_output} not divisible by group "
                         f"{cp.group}")
    if cp.dilation != (1, 1):
        raise GraphError(f"layer {n!r}: dilated transposed convolution is not supported")
    (kh, kw), (sh, sw), (ph, pw), (qh, qw) = cp.kernel, cp.stride, cp.pad, cp.out_pad
    if qh >= sh or qw >= sw:
        raise GraphError(f"layer {n!r}: out_pad {cp.out_pad} must be smaller than the stride")
    if ph > kh - 1 or pw > kw - 1:
        raise GraphError(f"layer {n!r}: pad {cp.pad} larger than kernel - 1")
    oh, ow = (H - 1) * sh - 2 * ph + kh + qh, (W - 1) * sw - 2 * pw + kw + qw
    if oh < 1 or ow < 1:
        raise GraphError(f"layer {n!r}: transposed convolution output {oh}x{ow} is empty")
    lay.weight_shape = (C, cp.num_output // cp.group, kh, kw)
    return [(N, cp.num_output, oh, ow)]


def _deconv_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    w, b = layer_weights(weights, lay)
    return deconv2d(ins[0], w, b, lay.conv)  # type: ignore[arg-type]


def _ip_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    _need(lay, ins, 1)
    lay.weight_shape = (lay.num_output, math.prod(ins[0][1:]))  # type: ignore[arg-type]
    return [(ins[0][0], lay.num_output)]  # type: ignore[list-item]


def _ip_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    w, b = layer_weights(weights, lay)
    y = ins[0].reshape(ins[0].shape[0], -1) @ w.T
    if b is not None:
        y = y + b
    return y.astype(np.float32)


def _matmul_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    """``MatMul``: a fully-connected layer over the last axis of an input of any rank >= 2
    (ONNX MatMul by a constant on a sequence ``(T, N, I)``, a time-distributed dense layer):
    one M x V per position of the leading axes."""
    _need(lay, ins, 1)
    if len(ins[0]) < 2 or lay.num_output is None:
        raise GraphError(f"layer {lay.name!r} (MatMul): needs num_output and an input of rank >= 2")
    lay.weight_shape = (lay.num_output, ins[0][-1])
    return [tuple(ins[0][:-1]) + (lay.num_output,)]


def _matmul_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    w, b = layer_weights(weights, lay)
    y = ins[0].astype(np.float32) @ w.T
    if b is not None:
        y = y + b
    return y.astype(np.float32)


def _embed_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    """``Embed``: a table look-up ``table[index]`` (ONNX ``Gather`` of a constant table
    by computed indices), run on EIE as the M x V of the transposed table ``(E, V)`` with a
    one-hot input (one non-zero activation: one column read). Input: indices of any shape
    (stored as float); output: the input's shape + ``(E,)``."""
    _need(lay, ins, 1)
    if lay.num_output is None or lay.axis is None or lay.axis < 1:
        raise GraphError(f"layer {lay.name!r} (Embed): needs num_output (E) and axis (V >= 1)")
    lay.weight_shape = (lay.num_output, lay.axis)
    return [tuple(ins[0]) + (lay.num_output,)]


def embed_rows(lay: Layer, idx: np.ndarray) -> np.ndarray:
    """The one-hot M x V inputs ``(positions, V)`` of an Embed layer's indices."""
    v = int(lay.axis)  # type: ignore[arg-type]
    i = np.asarray(idx).reshape(-1)
    if not np.all(np.isfinite(i)) or np.any(i != np.round(i)) or np.any(i < -v) or np.any(i >= v):
        raise ForwardError(f"layer {lay.name!r} (Embed): indices must be integers in "
                           f"[-{v}, {v})")
    rows = np.zeros((i.size, v), np.float32)
    rows[np.arange(i.size), i.astype(np.int64) % v] = 1.0
    return rows


def _embed_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    w, b = layer_weights(weights, lay)
    i = embed_rows(lay, ins[0]).argmax(axis=1)
    y = w.T[i]
    if b is not None:
        y = y + b
    return y.reshape(tuple(ins[0].shape) + (w.shape[0],)).astype(np.float32)
