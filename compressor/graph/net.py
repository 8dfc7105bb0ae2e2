"""The network type every reader ends in: layers, blob shapes, weight shapes.

A :class:`Net` is an ordered list of :class:`Layer` objects (Caffe's vocabulary: name,
type, bottoms, tops, convolution / pooling / inner-product parameters) with every blob's
shape inferred by walking the graph in order, and the weight shape ``(out, in/group, kh,
kw)`` of every convolution (``(out, in)`` for InnerProduct). The Caffe prototxt reader
(:mod:`compressor.caffe.prototxt`), the programmatic builder
(:class:`compressor.graph.builder.NetBuilder`) and the model importers all produce one;
:mod:`compressor.graph.forward` runs it in numpy and unrolls its layers into the M x V
work an EIE-style engine consumes.

Shape rules follow Caffe: convolution output ``floor((H + 2p - d(k - 1) - 1) / s) + 1``
(dilation ``d``, 1 unless given); transposed convolution (``Deconvolution``) output
``(H - 1) s - 2p + k + out_pad``; pooling
output ``ceil((H + 2p - k) / s) + 1``, reduced by one when padding would make the last
window start inside the padding; global pooling takes the whole plane.

Layer types beyond Caffe's first set (the compact networks of :mod:`compressor.zoo` need
them; docs/networks.md says how each maps onto EIE): ``Eltwise`` (element-wise sum of
equal-shaped bottoms), ``Clip`` (``min(max(x, lo), hi)``: ReLU6 is ``Clip(0, 6)``),
``PReLU`` (one slope, or one per channel), ``Deconvolution`` (transposed convolution,
weight shape ``(in, out/group, kh, kw)`` as Caffe and ONNX store it), ``ChannelPad`` (zero channels
appended up to ``num_output``: ENet's downsampling shortcut), ``Unpool`` (max
unpooling with the indices of an earlier max pooling, recomputed from that pooling's
input, which is the second bottom) and ``BatchNorm`` (inference-time affine per channel;
:func:`compressor.graph.fold.fold_batchnorm` folds it into the convolution before it).

Every graph error is a :class:`~compressor.errors.GraphError` naming the layer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..textmsg import Message
from ..errors import GraphError

__all__ = ["ConvParams", "BatchNormParams", "PoolParams", "Layer", "CaffeLayer", "Net", "SUPPORTED_TYPES",
           "conv_out_size", "pool_out_size", "infer_shapes", "layer_macs", "network_macs"]


@dataclass(frozen=True)
class ConvParams:
    """Convolution geometry (Caffe ``convolution_param``)."""

    num_output: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int] = (0, 0)
    group: int = 1
    bias_term: bool = True
    dilation: tuple[int, int] = (1, 1)     #: kernel dilation (1: none)
    out_pad: tuple[int, int] = (0, 0)      #: Deconvolution only: extra rows/cols at the end

    def extent(self) -> tuple[int, int]:
        """The kernel's span on the input, ``d (k - 1) + 1`` per axis."""
        (kh, kw), (dh, dw) = self.kernel, self.dilation
        return (dh * (kh - 1) + 1, dw * (kw - 1) + 1)


@dataclass(frozen=True)
class BatchNormParams:
    """Inference batch normalisation: ``gamma (x - mean) / sqrt(var + eps) + beta`` per
    channel (float32 arrays of one value per channel)."""

    gamma: tuple[float, ...]
    beta: tuple[float, ...]
    mean: tuple[float, ...]
    var: tuple[float, ...]
    eps: float = 1e-5

    def scale_shift(self):
        """``(scale, shift)`` float64 arrays: ``y = scale x + shift``."""
        g, b, m, v = (np.asarray(a, dtype=np.float64) for a in (self.gamma, self.beta, self.mean, self.var))
        scale = g / np.sqrt(v + self.eps)
        return scale, b - scale * m


@dataclass(frozen=True)
class PoolParams:
    """Pooling geometry (Caffe ``pooling_param``); ``method`` is ``"MAX"`` or ``"AVE"``."""

    method: str
    kernel: tuple[int, int] | None
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int] = (0, 0)
    global_pooling: bool = False
    ceil_mode: bool = True                  #: Caffe's rounding; False: floor (TF "VALID")


@dataclass
class Layer:
    """One layer of the network (Caffe's vocabulary) with its inferred shapes.

    ``in_shapes`` / ``out_shapes`` are the blob shapes ``(N, C, H, W)`` (or ``(N, D)``)
    of the bottoms / tops; ``weight_shape`` is set for Convolution ``(out, in/group,
    kh, kw)``, Deconvolution ``(in, out/group, kh, kw)`` and InnerProduct ``(out, in)``
    layers, ``None`` otherwise.
    """

    name: str
    type: str
    bottoms: list[str]
    tops: list[str]
    line: int
    conv: ConvParams | None = None
    pool: PoolParams | None = None
    num_output: int | None = None           # InnerProduct
    bias_term: bool = True                  # InnerProduct / Convolution
    concat_axis: int | None = None          # Concat (None: axis 1)
    negative_slope: float = 0.0             # ReLU (leaky when > 0)
    clip: tuple[float, float] | None = None  # Clip (lo, hi)
    slopes: tuple[float, ...] = ()          # PReLU: one slope or one per channel
    bn: BatchNormParams | None = None       # BatchNorm
    params: Message = field(default_factory=Message)
    in_shapes: list[tuple[int, ...]] = field(default_factory=list)
    out_shapes: list[tuple[int, ...]] = field(default_factory=list)
    weight_shape: tuple[int, ...] | None = None

    @property
    def has_weights(self) -> bool:
        return self.weight_shape is not None


@dataclass
class Net:
    """A network: name, input blob shapes, layers in order, every blob's shape."""

    name: str
    inputs: dict[str, tuple[int, ...]]
    layers: list[Layer]
    blob_shapes: dict[str, tuple[int, ...]]

    def layer(self, name: str) -> Layer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(f"no layer named {name!r}")

    @property
    def weight_layers(self) -> list[Layer]:
        """Layers that hold weights (Convolution, Deconvolution, InnerProduct), in order."""
        return [lay for lay in self.layers if lay.has_weights]

CaffeLayer = Layer
"""The name the Caffe reader used first (same class)."""

SUPPORTED_TYPES = ("Convolution", "InnerProduct", "ReLU", "Pooling", "Concat", "Dropout",
                   "Softmax", "LRN", "Flatten", "Input", "Eltwise", "Clip", "PReLU",
                   "Deconvolution", "Unpool", "BatchNorm", "ChannelPad")


def _at(lay: Layer) -> str:
    return f" (line {lay.line})" if lay.line else ""


def conv_out_size(size: int, k: int, s: int, p: int) -> int:
    """Convolution output length: ``floor((size + 2p - k) / s) + 1``."""
    return (size + 2 * p - k) // s + 1


def pool_out_size(size: int, k: int, s: int, p: int, ceil_mode: bool = True) -> int:
    """Caffe pooling output length (ceil mode, last window must start inside the input);
    ``ceil_mode=False``: ``floor((size + 2p - k) / s) + 1`` (TensorFlow's VALID pooling)."""
    if not ceil_mode:
        return (size + 2 * p - k) // s + 1
    out = int(math.ceil((size + 2 * p - k) / s)) + 1
    if p > 0 and (out - 1) * s >= size + p:
        out -= 1
    return out


def layer_macs(lay: Layer) -> int:
    """Multiply-accumulates of one parameter layer for one image (dense, from the shapes):
    a convolution ``out * in/group * kh * kw`` per output position; a transposed
    convolution ``in * out/group * kh * kw`` per input position (the scatter form; its
    zero-inserted M x V form issues more products, all with zero activations); InnerProduct
    ``out * in``; 0 for a layer without weights."""
    if lay.weight_shape is None:
        return 0
    w = math.prod(lay.weight_shape)
    if lay.type == "Convolution":
        return w * lay.out_shapes[0][2] * lay.out_shapes[0][3]
    if lay.type == "Deconvolution":
        return w * lay.in_shapes[0][2] * lay.in_shapes[0][3]
    return w


def network_macs(net: Net) -> int:
    """Dense multiply-accumulates of one image through ``net`` (:func:`layer_macs`)."""
    return sum(layer_macs(lay) for lay in net.weight_layers)


def infer_shapes(lay: Layer, ins: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    t, n = lay.type, lay.name

    def need(k: int) -> None:
        if len(ins) != k:
            raise GraphError(f"layer {n!r} ({t}): expects {k} bottom(s), has {len(ins)}")

    def need4() -> tuple[int, int, int, int]:
        if len(ins[0]) != 4:
            raise GraphError(f"layer {n!r} ({t}): needs an (N, C, H, W) input, got {ins[0]}")
        return ins[0]  # type: ignore[return-value]

    if t == "Convolution":
        need(1)
        N, C, H, W = need4()
        cp = lay.conv
        assert cp is not None
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
    if t == "Deconvolution":
        need(1)
        N, C, H, W = need4()
        cp = lay.conv
        assert cp is not None
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
    if t == "Eltwise":
        if len(ins) < 2:
            raise GraphError(f"layer {n!r} (Eltwise): needs at least two bottoms")
        if any(s != ins[0] for s in ins[1:]):
            raise GraphError(f"layer {n!r} (Eltwise): bottoms have different shapes {ins}")
        return [ins[0]]
    if t == "ChannelPad":
        need(1)
        if len(ins[0]) != 4 or lay.num_output is None or lay.num_output < ins[0][1]:
            raise GraphError(f"layer {n!r} (ChannelPad): needs an (N, C, H, W) input and "
                             f"num_output >= C, got {ins[0]} -> {lay.num_output}")
        return [(ins[0][0], lay.num_output, ins[0][2], ins[0][3])]
    if t == "Clip":
        need(1)
        if lay.clip is None or not lay.clip[0] < lay.clip[1]:
            raise GraphError(f"layer {n!r} (Clip): needs bounds lo < hi, got {lay.clip}")
        return [ins[0]]
    if t in ("PReLU", "BatchNorm"):
        need(1)
        ch = ins[0][1] if len(ins[0]) > 1 else 1
        count = len(lay.slopes) if t == "PReLU" else (len(lay.bn.gamma) if lay.bn else 0)
        ok = count in (1, ch) if t == "PReLU" else count == ch
        if not ok:
            raise GraphError(f"layer {n!r} ({t}): {count} parameter(s) per channel for {ch} channels")
        return [ins[0]]
    if t == "Unpool":
        need(2)
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
    if t == "InnerProduct":
        need(1)
        lay.weight_shape = (lay.num_output, math.prod(ins[0][1:]))  # type: ignore[arg-type]
        return [(ins[0][0], lay.num_output)]  # type: ignore[list-item]
    if t == "Pooling":
        need(1)
        N, C, H, W = need4()
        pp = lay.pool
        assert pp is not None
        if pp.global_pooling:
            return [(N, C, 1, 1)]
        assert pp.kernel is not None
        (kh, kw), (sh, sw), (ph, pw) = pp.kernel, pp.stride, pp.pad
        if kh > H + 2 * ph or kw > W + 2 * pw:
            raise GraphError(f"layer {n!r}: pooling kernel {pp.kernel} larger than input {H}x{W}")
        return [(N, C, pool_out_size(H, kh, sh, ph, pp.ceil_mode),
                 pool_out_size(W, kw, sw, pw, pp.ceil_mode))]
    if t == "Concat":
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
    if t in ("ReLU", "Dropout", "Softmax", "LRN"):
        need(1)
        return [ins[0]]
    if t == "Flatten":
        need(1)
        return [(ins[0][0], math.prod(ins[0][1:]))]
    raise GraphError(f"layer {n!r}{_at(lay)}: layer type {t!r} is not supported "
                        f"(supported: {', '.join(SUPPORTED_TYPES)})")


