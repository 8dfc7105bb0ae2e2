"""The op table: every layer type of a :class:`~compressor.graph.net.Net` in one place,
with its shape rule and its numpy forward.

:data:`OPS` maps a layer type to an :class:`Op`: ``shape(lay, in_shapes) -> out_shapes``
(Caffe's shape rules; a weight layer's rule also sets ``lay.weight_shape``) and
``forward(lay, inputs, weights) -> output`` (float32 inference on ``N x C x H x W`` or
``N x D`` blobs, the kernels of :mod:`compressor.graph.kernels`).
:func:`compressor.graph.net.infer_shapes` and :func:`compressor.graph.forward.forward_layer`
(hence :func:`~compressor.graph.forward.forward`) dispatch through it; adding a layer
type is one entry here (and its name in :data:`compressor.graph.net.SUPPORTED_TYPES`).

Shape rules follow Caffe: convolution output ``floor((H + 2p - d(k - 1) - 1) / s) + 1``
(dilation ``d``, 1 unless given); transposed convolution (``Deconvolution``) output
``(H - 1) s - 2p + k + out_pad``; pooling output ``ceil((H + 2p - k) / s) + 1``, reduced
by one when padding would make the last window start inside the padding; global pooling
takes the whole plane.

Layer types beyond Caffe's first set (the compact networks of :mod:`compressor.zoo` need
them; docs/networks.md says how each maps onto EIE): ``Eltwise`` (element-wise sum of
equal-shaped bottoms), ``Clip`` (``min(max(x, lo), hi)``: ReLU6 is ``Clip(0, 6)``),
``PReLU`` (one slope, or one per channel), ``Deconvolution`` (transposed convolution,
weight shape ``(in, out/group, kh, kw)`` as Caffe and ONNX store it), ``ChannelPad`` (zero
channels appended up to ``num_output``: ENet's downsampling shortcut), ``Unpool`` (max
unpooling with the indices of an earlier max pooling, recomputed from that pooling's
input, which is the second bottom) and ``BatchNorm`` (inference-time affine per channel;
:func:`compressor.graph.fold.fold_batchnorm` folds it into the convolution before it).
Dropout is the identity at inference (Caffe scales at training time); Softmax runs over
channels (or ``axis``); LRN is Caffe's cross-channel normalisation.

Imported graphs add (docs/byom.md "Exporter patterns and host ops"): ``MatMul`` (a
fully-connected layer over the last axis, one M x V per leading position), ``Embed`` (a
table look-up as a one-hot M x V), the recurrent ``LSTM`` / ``GRU`` layers
(:mod:`compressor.graph.recurrent`) and the host-side layers of
:mod:`compressor.graph.hostops` (element-wise functions, broadcasting arithmetic,
reductions, reshapes, transposes, slices...). :func:`host_work` counts each layer's host
elements and floating-point operations.

Shape errors are :class:`~compressor.errors.GraphError`, forward errors
:class:`~compressor.errors.ForwardError`, both naming the layer.

The weight layers' rules (and :func:`layer_weights`, :func:`embed_rows`) are in
:mod:`compressor.graph.weight_ops`; this module holds the other layer types' rules and
the table.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import ForwardError, GraphError
from . import hostops, recurrent
from .hostops import host_work
from .kernels import max_unpool, pool2d
from .layer import Layer, pool_out_size
from .weight_ops import (
    Shape,
    WeightSource,
    _conv_forward,
    _conv_shape,
    _deconv_forward,
    _deconv_shape,
    _embed_forward,
    _embed_shape,
    _ip_forward,
    _ip_shape,
    _matmul_forward,
    _matmul_shape,
    _need,
    _need4,
    embed_rows,
    layer_weights,
)

__all__ = ["Op", "OPS", "WeightSource", "layer_weights", "host_work", "WEIGHT_TYPES", "embed_rows"]


@dataclass(frozen=True)
class Op:
    """One layer type: its shape rule and its forward."""

    shape: Callable[[Layer, list[Shape]], list[Shape]]
    forward: Callable[[Layer, list[np.ndarray], WeightSource], np.ndarray]


def _same_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    """One bottom, the top has its shape (ReLU, Dropout, Softmax, LRN)."""
    _need(lay, ins, 1)
    return [ins[0]]



# ---------------------------------------------------------------- activations
def _relu_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    neg = lay.negative_slope
    return np.where(ins[0] > 0, ins[0], neg * ins[0]).astype(np.float32)


def _clip_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    _need(lay, ins, 1)
    if lay.clip is None or not lay.clip[0] < lay.clip[1]:
        raise GraphError(f"layer {lay.name!r} (Clip): needs bounds lo < hi, got {lay.clip}")
    return [ins[0]]


def _clip_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    lo, hi = lay.clip  # type: ignore[misc]
    return np.clip(ins[0], lo, hi).astype(np.float32)


def _per_channel_check(lay: Layer, ins: list[Shape], count: int, ok: Callable[[int, int], bool]) -> list[Shape]:
    _need(lay, ins, 1)
    ch = ins[0][1] if len(ins[0]) > 1 else 1
    if not ok(count, ch):
        raise GraphError(f"layer {lay.name!r} ({lay.type}): {count} parameter(s) per channel for {ch} channels")
    return [ins[0]]


def _prelu_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    return _per_channel_check(lay, ins, len(lay.slopes), lambda count, ch: count in (1, ch))


def _prelu_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    a = np.asarray(lay.slopes, dtype=np.float32)
    if a.size > 1:
        a = a.reshape((1, -1) + (1,) * (ins[0].ndim - 2))
    return np.where(ins[0] > 0, ins[0], a * ins[0]).astype(np.float32)


def _batchnorm_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    return _per_channel_check(lay, ins, len(lay.bn.gamma) if lay.bn else 0, lambda count, ch: count == ch)


def _batchnorm_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    scale, shift = lay.bn.scale_shift()  # type: ignore[union-attr]
    shp = (1, -1) + (1,) * (ins[0].ndim - 2)
    return (ins[0] * scale.reshape(shp) + shift.reshape(shp)).astype(np.float32)


def _softmax_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    _need(lay, ins, 1)
    ax = 1 if lay.axis is None else lay.axis
    if not -len(ins[0]) <= ax < len(ins[0]):
        raise GraphError(f"layer {lay.name!r} (Softmax): axis {ax} out of range for {ins[0]}")
    return [ins[0]]


def _softmax_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    """Softmax over ``lay.axis`` (Caffe's: the channels, axis 1, when unset); the log of
    it when ``lay.op == "log"`` (ONNX LogSoftmax)."""
    ax = 1 if lay.axis is None else lay.axis
    z = ins[0].astype(np.float64)
    z = z - z.max(axis=ax, keepdims=True)
    if lay.op == "log":                     # LogSoftmax
        return (z - np.log(np.exp(z).sum(axis=ax, keepdims=True))).astype(np.float32)
    z = np.exp(z)
    return (z / z.sum(axis=ax, keepdims=True)).astype(np.float32)


def _lrn_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    x = ins[0]
    p = lay.params.one("lrn_param")
    size = 5 if p is None else int(p.one("local_size", 5))
    alpha = 1.0 if p is None else float(p.one("alpha", 1.0))
    beta = 0.75 if p is None else float(p.one("beta", 0.75))
    k = 1.0 if p is None else float(p.one("k", 1.0))
    if p is not None and str(p.one("norm_region", "ACROSS_CHANNELS")) != "ACROSS_CHANNELS":
        raise ForwardError(f"layer {lay.name!r}: only ACROSS_CHANNELS LRN is implemented")
    sq = np.pad(x.astype(np.float64) ** 2, ((0, 0), ((size - 1) // 2, size // 2), (0, 0), (0, 0)))
    csum = np.cumsum(sq, axis=1)
    csum = np.concatenate([np.zeros_like(csum[:, :1]), csum], axis=1)
    win = csum[:, size:] - csum[:, :-size]
    return (x / (k + alpha / size * win) ** beta).astype(np.float32)


def _identity_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    return ins[0]


# ------------------------------------------------------------ pooling and layout
def _pool_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    _need(lay, ins, 1)
    N, C, H, W = _need4(lay, ins)
    pp = lay.pool
    assert pp is not None
    if pp.global_pooling:
        return [(N, C, 1, 1)]
    assert pp.kernel is not None
    (kh, kw), (sh, sw), (ph, pw) = pp.kernel, pp.stride, pp.pad
    if pp.pad_end is not None:
        if pp.ceil_mode:
            raise GraphError(f"layer {lay.name!r}: pad_end needs ceil_mode false")
        eh, ew = pp.pad_end
        if kh > H + ph + eh or kw > W + pw + ew:
            raise GraphError(f"layer {lay.name!r}: pooling kernel {pp.kernel} larger than input {H}x{W}")
        return [(N, C, (H + ph + eh - kh) // sh + 1, (W + pw + ew - kw) // sw + 1)]
    if kh > H + 2 * ph or kw > W + 2 * pw:
        raise GraphError(f"layer {lay.name!r}: pooling kernel {pp.kernel} larger than input {H}x{W}")
    return [(N, C, pool_out_size(H, kh, sh, ph, pp.ceil_mode),
             pool_out_size(W, kw, sw, pw, pp.ceil_mode))]


def _pool_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    return pool2d(ins[0], lay, lay.out_shapes[0][2:])  # type: ignore[arg-type]


def _unpool_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    n = lay.name
    _need(lay, ins, 2)
    pp = lay.pool
    if pp is None or pp.kernel is None or pp.method != "MAX":
        raise GraphError(f"layer {n!r} (Unpool): needs the MAX pooling geometry it undoes")
    if len(ins[0]) != 4 or len(ins[1]) != 4:
        raise GraphError(f"layer {n!r} (Unpool): needs (N, C, H, W) bottoms, got {ins}")
    N, C, H, W = ins[1]
    (kh, kw), (sh, sw), (ph, pw) = pp.kernel, pp.stride, pp.pad
    want = (N, C, pool_out_size(H, kh, sh, ph, pp.ceil_mode), pool_out_size(W, kw, sw, pw, pp.ceil_mode))
    if tuple(ins[0]) != want:
        raise GraphError(f"layer {n!r} (Unpool): input {ins[0]} is not the pooled shape {want} "
                         f"of the second bottom {ins[1]}")
    return [tuple(ins[1])]


def _unpool_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    """The pooled values and, second, the pooling's input (the indices are recomputed)."""
    return max_unpool(ins[0], ins[1], lay)


def _concat_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    n = lay.name
    if not ins:
        raise GraphError(f"layer {n!r} (Concat): no bottoms")
    axis = 1 if lay.concat_axis is None else lay.concat_axis
    ref = ins[0]
    if not -len(ref) <= axis < len(ref):
        raise GraphError(f"layer {n!r}: concat axis {axis} out of range for {ref}")
    axis %= len(ref)
    for s in ins[1:]:
        if len(s) != len(ref) or any(a != b for d, (a, b) in enumerate(zip(s, ref)) if d != axis):
            raise GraphError(f"layer {n!r}: cannot concatenate shapes {ins} along axis {axis}")
    out = list(ref)
    out[axis] = sum(s[axis] for s in ins)
    lay.concat_axis = axis
    return [tuple(out)]


def _concat_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    return np.concatenate(ins, axis=1 if lay.concat_axis is None else lay.concat_axis)


def _eltwise_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    if len(ins) < 2:
        raise GraphError(f"layer {lay.name!r} (Eltwise): needs at least two bottoms")
    if any(s != ins[0] for s in ins[1:]):
        raise GraphError(f"layer {lay.name!r} (Eltwise): bottoms have different shapes {ins}")
    return [ins[0]]


def _eltwise_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    acc = ins[0].astype(np.float32).copy()
    for other in ins[1:]:
        acc += other
    return acc


def _channelpad_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    _need(lay, ins, 1)
    if len(ins[0]) != 4 or lay.num_output is None or lay.num_output < ins[0][1]:
        raise GraphError(f"layer {lay.name!r} (ChannelPad): needs an (N, C, H, W) input and "
                         f"num_output >= C, got {ins[0]} -> {lay.num_output}")
    return [(ins[0][0], lay.num_output, ins[0][2], ins[0][3])]


def _channelpad_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    n_, c_, h_, w_ = ins[0].shape
    y = np.zeros((n_, lay.num_output, h_, w_), dtype=np.float32)
    y[:, :c_] = ins[0]
    return y


def _flatten_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    _need(lay, ins, 1)
    return [(ins[0][0], math.prod(ins[0][1:]))]


def _flatten_forward(lay: Layer, ins: list[np.ndarray], weights: WeightSource) -> np.ndarray:
    return ins[0].reshape(ins[0].shape[0], -1)


OPS: dict[str, Op] = {
    "Convolution": Op(_conv_shape, _conv_forward),
    "Deconvolution": Op(_deconv_shape, _deconv_forward),
    "InnerProduct": Op(_ip_shape, _ip_forward),
    "ReLU": Op(_same_shape, _relu_forward),
    "Clip": Op(_clip_shape, _clip_forward),
    "PReLU": Op(_prelu_shape, _prelu_forward),
    "BatchNorm": Op(_batchnorm_shape, _batchnorm_forward),
    "Softmax": Op(_softmax_shape, _softmax_forward),
    "LRN": Op(_same_shape, _lrn_forward),
    "Dropout": Op(_same_shape, _identity_forward),
    "Pooling": Op(_pool_shape, _pool_forward),
    "Unpool": Op(_unpool_shape, _unpool_forward),
    "Concat": Op(_concat_shape, _concat_forward),
    "Eltwise": Op(_eltwise_shape, _eltwise_forward),
    "ChannelPad": Op(_channelpad_shape, _channelpad_forward),
    "Flatten": Op(_flatten_shape, _flatten_forward),
    "MatMul": Op(_matmul_shape, _matmul_forward),
    "Embed": Op(_embed_shape, _embed_forward),
    **{t: Op(hostops.SHAPES[t], hostops.FORWARDS[t]) for t in hostops.HOST_TYPES},
    **{t: Op(recurrent.recurrent_shape, recurrent.recurrent_forward)
       for t in recurrent.RECURRENT_TYPES},
}
"""Layer type -> :class:`Op` (every type but ``Input``, whose shapes the reader sets)."""

#: the layer types whose weights EIE runs as M x V (:func:`compressor.graph.forward.layer_mxv`)
WEIGHT_TYPES = ("Convolution", "Deconvolution", "InnerProduct", "MatMul", "Embed") + \
    recurrent.RECURRENT_TYPES
