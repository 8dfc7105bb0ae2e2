"""One layer of a network graph and its parameters, and the convolution / pooling size rules.

:class:`Layer` is Caffe's vocabulary (name, type, bottoms, tops, convolution / pooling /
inner-product parameters, the text-format message it came from) plus the shapes that
:func:`compressor.graph.net.infer_shapes` fills in. Sizes follow Caffe: convolution output
``floor((H + 2p - d(k - 1) - 1) / s) + 1`` (:func:`conv_out_size` on the dilated extent);
pooling output ``ceil((H + 2p - k) / s) + 1``, reduced by one when padding would make the
last window start inside the padding (:func:`pool_out_size`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..textmsg import Message

__all__ = ["ConvParams", "BatchNormParams", "PoolParams", "Layer", "CaffeLayer",
           "conv_out_size", "pool_out_size"]


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
    #: padding at the end of H, W when it differs from ``pad`` (ONNX asymmetric pads,
    #: ``auto_pad=SAME_UPPER``); only with ``ceil_mode=False``. None: ``pad`` at both ends
    pad_end: tuple[int, int] | None = None
    #: AVE: whether padded positions count in the divisor (Caffe: yes; ONNX
    #: ``count_include_pad=0`` and TensorFlow's SAME pooling: no)
    count_pad: bool = True


@dataclass
class Layer:
    """One layer of the network (Caffe's vocabulary) with its inferred shapes.

    ``in_shapes`` / ``out_shapes`` are the blob shapes ``(N, C, H, W)`` (or ``(N, D)``,
    or any rank for the host layers of imported graphs) of the bottoms / tops;
    ``weight_shape`` is set for Convolution ``(out, in/group, kh, kw)``, Deconvolution
    ``(in, out/group, kh, kw)``, InnerProduct / MatMul / Embed ``(out, in)`` and LSTM /
    GRU ``(gates * H, H)`` (the recurrent matrix) layers, ``None`` otherwise.
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
    # ---- host-side layers of imported graphs (compressor.graph.hostops) and recurrent
    # layers (compressor.graph.recurrent); every field a plain value, stored by graph_json
    op: str = ""                            # Unary / Binary / Reduce: which function
    alpha: float = 0.0                      # Unary: HardSigmoid's alpha, LeakyRelu-like slopes
    beta: float = 0.0                       # Unary: HardSigmoid's beta
    axis: int | None = None                 # Softmax / Gather / Embed: the axis
    axes: tuple[int, ...] = ()              # Reduce axes; Transpose permutation; Slice axes
    dims: tuple[int, ...] = ()              # Reshape / Expand target shape; Pad pads (begins, ends)
    starts: tuple[int, ...] = ()            # Slice
    ends: tuple[int, ...] = ()              # Slice
    steps: tuple[int, ...] = ()             # Slice
    indices: tuple[int, ...] = ()           # Gather: constant indices
    keepdims: bool = True                   # Reduce
    const: tuple[float, ...] = ()           # Binary with one bottom: the constant operand
    const_shape: tuple[int, ...] = ()       # its shape (broadcast against the bottom)
    const_first: bool = False               # Binary: the constant is the first operand
    hidden: int | None = None               # LSTM / GRU: hidden size H
    reverse: bool = False                   # LSTM / GRU: runs from the last step to the first
    params: Message = field(default_factory=Message)
    in_shapes: list[tuple[int, ...]] = field(default_factory=list)
    out_shapes: list[tuple[int, ...]] = field(default_factory=list)
    weight_shape: tuple[int, ...] | None = None

    @property
    def has_weights(self) -> bool:
        return self.weight_shape is not None


CaffeLayer = Layer
"""The name the Caffe reader used first (same class)."""


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
