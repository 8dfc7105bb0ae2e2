"""The network type every reader ends in: layers, blob shapes, weight shapes.

A :class:`Net` is an ordered list of :class:`Layer` objects (Caffe's vocabulary: name,
type, bottoms, tops, convolution / pooling / inner-product parameters) with every blob's
shape inferred by walking the graph in order, and the weight shape ``(out, in/group, kh,
kw)`` of every convolution (``(out, in)`` for InnerProduct). The Caffe prototxt reader
(:mod:`compressor.caffe.prototxt`), the programmatic builder
(:class:`compressor.graph.builder.NetBuilder`) and the model importers all produce one;
:mod:`compressor.graph.forward` runs it in numpy and unrolls its layers into the M x V
work an EIE-style engine consumes.

Shape rules follow Caffe: convolution output ``floor((H + 2p - k) / s) + 1``; pooling
output ``ceil((H + 2p - k) / s) + 1``, reduced by one when padding would make the last
window start inside the padding; global pooling takes the whole plane.

Every graph error is a :class:`~compressor.errors.GraphError` naming the layer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..caffe.textformat import Message
from ..errors import GraphError

__all__ = ["ConvParams", "PoolParams", "Layer", "CaffeLayer", "Net", "SUPPORTED_TYPES",
           "conv_out_size", "pool_out_size", "infer_shapes"]


@dataclass(frozen=True)
class ConvParams:
    """Convolution geometry (Caffe ``convolution_param``)."""

    num_output: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int] = (0, 0)
    group: int = 1
    bias_term: bool = True


@dataclass(frozen=True)
class PoolParams:
    """Pooling geometry (Caffe ``pooling_param``); ``method`` is ``"MAX"`` or ``"AVE"``."""

    method: str
    kernel: tuple[int, int] | None
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int] = (0, 0)
    global_pooling: bool = False


@dataclass
class Layer:
    """One layer of the network (Caffe's vocabulary) with its inferred shapes.

    ``in_shapes`` / ``out_shapes`` are the blob shapes ``(N, C, H, W)`` (or ``(N, D)``)
    of the bottoms / tops; ``weight_shape`` is set for Convolution ``(out, in/group,
    kh, kw)`` and InnerProduct ``(out, in)`` layers, ``None`` otherwise.
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
        """Layers that hold weights (Convolution, InnerProduct), in prototxt order."""
        return [lay for lay in self.layers if lay.has_weights]

CaffeLayer = Layer
"""The name the Caffe reader used first (same class)."""

SUPPORTED_TYPES = ("Convolution", "InnerProduct", "ReLU", "Pooling", "Concat", "Dropout",
                   "Softmax", "LRN", "Flatten", "Input")


def _at(lay: Layer) -> str:
    return f" (line {lay.line})" if lay.line else ""


def conv_out_size(size: int, k: int, s: int, p: int) -> int:
    """Convolution output length: ``floor((size + 2p - k) / s) + 1``."""
    return (size + 2 * p - k) // s + 1


def pool_out_size(size: int, k: int, s: int, p: int) -> int:
    """Caffe pooling output length (ceil mode, last window must start inside the input)."""
    out = int(math.ceil((size + 2 * p - k) / s)) + 1
    if p > 0 and (out - 1) * s >= size + p:
        out -= 1
    return out


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
        oh, ow = conv_out_size(H, kh, sh, ph), conv_out_size(W, kw, sw, pw)
        if oh < 1 or ow < 1:
            raise GraphError(f"layer {n!r}: kernel {cp.kernel} larger than padded input {H}x{W}")
        lay.weight_shape = (cp.num_output, C // cp.group, kh, kw)
        return [(N, cp.num_output, oh, ow)]
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
        return [(N, C, pool_out_size(H, kh, sh, ph), pool_out_size(W, kw, sw, pw))]
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


