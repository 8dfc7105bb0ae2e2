"""Build a :class:`~compressor.graph.net.Net` in code, layer by layer.

The model importers and the named networks use this rather than writing a prototxt::

    b = NetBuilder("tiny", (1, 3, 32, 32))
    x = b.conv("conv1", b.input, 16, kernel=3, pad=1)
    x = b.relu("relu1", x)
    x = b.pool("pool1", x, "MAX", kernel=2, stride=2)
    x = b.fc("fc", x, 10)
    net = b.build()

Every method adds one layer, infers its output shape at once (so a mistake is reported at
the layer that makes it, as a :class:`~compressor.errors.GraphError`) and returns the name
of the blob it produced (by default the layer's own name). Layer names must be unique and
every bottom must already exist.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..errors import GraphError
from .net import BatchNormParams, ConvParams, Layer, Net, PoolParams, infer_shapes

__all__ = ["NetBuilder"]


def _pair(v: int | Sequence[int], what: str, name: str, minimum: int) -> tuple[int, int]:
    vals = (v, v) if isinstance(v, int) and not isinstance(v, bool) else tuple(v)  # type: ignore[arg-type]
    if len(vals) != 2 or any(isinstance(x, bool) or not isinstance(x, int) or x < minimum for x in vals):
        raise GraphError(f"layer {name!r}: {what} must be an integer >= {minimum} or a pair of them, "
                         f"got {v!r}")
    return (int(vals[0]), int(vals[1]))


def _conv_params(name: str, num_output, kernel, stride, pad, group, bias, **extra) -> ConvParams:
    """Checked geometry of a (transposed) convolution."""
    if isinstance(num_output, bool) or not isinstance(num_output, int) or num_output < 1:
        raise GraphError(f"layer {name!r}: num_output must be an integer >= 1, got {num_output!r}")
    if isinstance(group, bool) or not isinstance(group, int) or group < 1 or num_output % group:
        raise GraphError(f"layer {name!r}: group {group!r} must be >= 1 and divide num_output "
                         f"{num_output}")
    return ConvParams(num_output, _pair(kernel, "kernel", name, 1), _pair(stride, "stride", name, 1),
                      _pair(pad, "pad", name, 0), group, bool(bias), **extra)


class NetBuilder:
    """Accumulates layers of a network; :meth:`build` returns the Net. The input given
    here is the first; :meth:`add_input` declares more (a recurrent state, a second
    stream)."""

    def __init__(self, name: str, input_shape: Sequence[int], input_name: str = "data") -> None:
        shape = tuple(int(d) for d in input_shape)
        if not shape or any(d < 1 for d in shape):
            raise GraphError(f"network {name!r}: input shape {tuple(input_shape)} must be positive")
        self.name = name
        self.input = input_name
        self._inputs = {input_name: shape}
        self._blobs: dict[str, tuple[int, ...]] = {input_name: shape}
        self._layers: list[Layer] = []
        self._names: set[str] = set()
        self.input_layouts: dict[str, tuple[int, ...]] = {}

    def add_input(self, name: str, shape: Sequence[int],
                  layout: Sequence[int] | None = None) -> str:
        """Declare another input blob (``layout``: see :attr:`Net.input_layouts`)."""
        shape = tuple(int(d) for d in shape)
        if not shape or any(d < 1 for d in shape):
            raise GraphError(f"network {self.name!r}: input {name!r} shape {shape} must be positive")
        if name in self._blobs:
            raise GraphError(f"network {self.name!r}: input {name!r} is already a blob")
        self._inputs[name] = shape
        self._blobs[name] = shape
        if layout is not None:
            self.input_layouts[name] = tuple(int(p) for p in layout)
        return name

    # ---- the general form ---------------------------------------------------------------
    def add(self, layer: Layer) -> str:
        """Add a prepared :class:`Layer` (bottoms must exist); returns its first top."""
        if layer.name in self._names:
            raise GraphError(f"network {self.name!r}: duplicate layer name {layer.name!r}")
        if not layer.tops:
            raise GraphError(f"layer {layer.name!r}: no top blob")
        for b in layer.bottoms:
            if b not in self._blobs:
                raise GraphError(f"layer {layer.name!r}: bottom blob {b!r} is not produced by an "
                                 "earlier layer or the input")
        layer.in_shapes = [self._blobs[b] for b in layer.bottoms]
        layer.out_shapes = infer_shapes(layer, layer.in_shapes)
        if len(layer.out_shapes) != len(layer.tops):
            raise GraphError(f"layer {layer.name!r}: {len(layer.tops)} tops, expected "
                             f"{len(layer.out_shapes)}")
        for t, s in zip(layer.tops, layer.out_shapes):
            self._blobs[t] = s
        self._names.add(layer.name)
        self._layers.append(layer)
        return layer.tops[0]

    def pop(self) -> Layer:
        """Remove the last layer added (an importer folding a pattern of layers into one);
        its tops are forgotten."""
        if not self._layers:
            raise GraphError(f"network {self.name!r}: no layer to remove")
        lay = self._layers.pop()
        self._names.discard(lay.name)
        for t in lay.tops:
            self._blobs.pop(t, None)
        return lay

    def shape(self, blob: str) -> tuple[int, ...]:
        """The inferred shape of a blob made so far."""
        try:
            return self._blobs[blob]
        except KeyError:
            raise GraphError(f"network {self.name!r}: no blob {blob!r}") from None

    def build(self) -> Net:
        if not self._layers:
            raise GraphError(f"network {self.name!r}: no layers")
        return Net(self.name, dict(self._inputs), list(self._layers), dict(self._blobs),
                   dict(self.input_layouts))

    # ---- one method per layer type --------------------------------------------------------
    def conv(self, name: str, bottom: str, num_output: int, kernel: int | Sequence[int],
             stride: int | Sequence[int] = 1, pad: int | Sequence[int] = 0, group: int = 1,
             bias: bool = True, top: str | None = None, dilation: int | Sequence[int] = 1) -> str:
        """Convolution (``group == channels``: depthwise; ``dilation`` > 1: dilated)."""
        cp = _conv_params(name, num_output, kernel, stride, pad, group, bias,
                          dilation=_pair(dilation, "dilation", name, 1))
        return self.add(Layer(name, "Convolution", [bottom], [top or name], 0, conv=cp,
                              bias_term=bool(bias)))

    def deconv(self, name: str, bottom: str, num_output: int, kernel: int | Sequence[int],
               stride: int | Sequence[int] = 1, pad: int | Sequence[int] = 0,
               out_pad: int | Sequence[int] = 0, group: int = 1, bias: bool = True,
               top: str | None = None) -> str:
        """Transposed convolution (Caffe ``Deconvolution``, ONNX ``ConvTranspose``); weights
        ``(in, out/group, kh, kw)``."""
        cp = _conv_params(name, num_output, kernel, stride, pad, group, bias,
                          out_pad=_pair(out_pad, "out_pad", name, 0))
        return self.add(Layer(name, "Deconvolution", [bottom], [top or name], 0, conv=cp,
                              bias_term=bool(bias)))

    def eltwise(self, name: str, bottoms: Sequence[str], top: str | None = None) -> str:
        """Element-wise sum of equal-shaped blobs (residual connections)."""
        return self.add(Layer(name, "Eltwise", list(bottoms), [top or name], 0))

    def clip(self, name: str, bottom: str, lo: float, hi: float, top: str | None = None) -> str:
        """``min(max(x, lo), hi)``."""
        return self.add(Layer(name, "Clip", [bottom], [top or name], 0, clip=(float(lo), float(hi))))

    def relu6(self, name: str, bottom: str, top: str | None = None) -> str:
        """ReLU6 (MobileNet v2): ``Clip(0, 6)``."""
        return self.clip(name, bottom, 0.0, 6.0, top)

    def prelu(self, name: str, bottom: str, slopes: float | Sequence[float] = 0.25,
              top: str | None = None) -> str:
        """PReLU: ``x`` if ``x > 0`` else ``a x``, one slope or one per channel."""
        vals = (float(slopes),) if isinstance(slopes, (int, float)) else tuple(float(v) for v in slopes)
        return self.add(Layer(name, "PReLU", [bottom], [top or name], 0, slopes=vals))

    def batchnorm(self, name: str, bottom: str, gamma, beta, mean, var, eps: float = 1e-5,
                  top: str | None = None) -> str:
        """Inference batch normalisation (fold it with :func:`compressor.graph.fold.fold_batchnorm`)."""
        vals = [tuple(float(v) for v in a) for a in (gamma, beta, mean, var)]
        if len({len(v) for v in vals}) != 1:
            raise GraphError(f"layer {name!r}: gamma, beta, mean, var have different lengths")
        if any(v < 0 for v in vals[3]) or eps <= 0:
            raise GraphError(f"layer {name!r}: variances must be >= 0 and eps > 0")
        return self.add(Layer(name, "BatchNorm", [bottom], [top or name], 0,
                              bn=BatchNormParams(*vals, eps=float(eps))))

    def channel_pad(self, name: str, bottom: str, num_output: int, top: str | None = None) -> str:
        """Zero channels appended up to ``num_output`` channels."""
        return self.add(Layer(name, "ChannelPad", [bottom], [top or name], 0, num_output=int(num_output)))

    def unpool(self, name: str, bottom: str, pooled_from: str, kernel: int | Sequence[int],
               stride: int | Sequence[int], pad: int | Sequence[int] = 0, top: str | None = None) -> str:
        """Max unpooling of ``bottom`` to the shape of ``pooled_from``, the input of the MAX
        pooling (same kernel, stride, pad) whose indices it reuses."""
        pp = PoolParams("MAX", _pair(kernel, "kernel", name, 1), _pair(stride, "stride", name, 1),
                        _pair(pad, "pad", name, 0))
        return self.add(Layer(name, "Unpool", [bottom, pooled_from], [top or name], 0, pool=pp))

    def fc(self, name: str, bottom: str, num_output: int, bias: bool = True,
           top: str | None = None) -> str:
        """InnerProduct over the flattened input."""
        if isinstance(num_output, bool) or not isinstance(num_output, int) or num_output < 1:
            raise GraphError(f"layer {name!r}: num_output must be an integer >= 1, got {num_output!r}")
        return self.add(Layer(name, "InnerProduct", [bottom], [top or name], 0,
                              num_output=num_output, bias_term=bool(bias)))

    def relu(self, name: str, bottom: str, negative_slope: float = 0.0, top: str | None = None) -> str:
        return self.add(Layer(name, "ReLU", [bottom], [top or name], 0,
                              negative_slope=float(negative_slope)))

    def pool(self, name: str, bottom: str, method: str = "MAX", kernel: int | Sequence[int] | None = None,
             stride: int | Sequence[int] = 1, pad: int | Sequence[int] = 0,
             global_pooling: bool = False, top: str | None = None, ceil_mode: bool = True) -> str:
        """MAX or AVE pooling with Caffe's ceil-mode output size (``ceil_mode=False``:
        floor, TensorFlow's VALID), or global pooling."""
        if method not in ("MAX", "AVE"):
            raise GraphError(f"layer {name!r}: pooling method {method!r} (MAX or AVE)")
        if kernel is None and not global_pooling:
            raise GraphError(f"layer {name!r}: pooling needs a kernel unless global_pooling")
        pp = PoolParams(method, None if kernel is None else _pair(kernel, "kernel", name, 1),
                        _pair(stride, "stride", name, 1), _pair(pad, "pad", name, 0), bool(global_pooling),
                        bool(ceil_mode))
        return self.add(Layer(name, "Pooling", [bottom], [top or name], 0, pool=pp))

    def concat(self, name: str, bottoms: Sequence[str], axis: int = 1, top: str | None = None) -> str:
        return self.add(Layer(name, "Concat", list(bottoms), [top or name], 0, concat_axis=axis))

    def flatten(self, name: str, bottom: str, top: str | None = None) -> str:
        return self.add(Layer(name, "Flatten", [bottom], [top or name], 0))

    def softmax(self, name: str, bottom: str, top: str | None = None) -> str:
        return self.add(Layer(name, "Softmax", [bottom], [top or name], 0))

    def matmul(self, name: str, bottom: str, num_output: int, bias: bool = True,
               top: str | None = None) -> str:
        """A fully-connected layer over the last axis (any rank >= 2)."""
        return self.add(Layer(name, "MatMul", [bottom], [top or name], 0,
                              num_output=int(num_output), bias_term=bool(bias)))

    def embed(self, name: str, bottom: str, num_output: int, vocab: int, bias: bool = False,
              top: str | None = None) -> str:
        """A table look-up: ``table[index]`` (weights ``(num_output, vocab)``)."""
        return self.add(Layer(name, "Embed", [bottom], [top or name], 0,
                              num_output=int(num_output), axis=int(vocab), bias_term=bool(bias)))

    def recurrent(self, name: str, kind: str, bottoms: Sequence[str], hidden: int,
                  order: str, reverse: bool = False, tops: Sequence[str] | None = None) -> str:
        """An LSTM or GRU layer (:mod:`compressor.graph.recurrent`): bottoms the gate
        inputs ``(T, N, G*H)`` and optional initial states; tops ``Y``, last ``h``, last
        ``c``."""
        return self.add(Layer(name, kind, list(bottoms), list(tops or [name]), 0,
                              hidden=int(hidden), op=order, reverse=bool(reverse)))

    def host(self, name: str, type_: str, bottoms: Sequence[str], top: str | None = None,
             **fields) -> str:
        """A host-side layer of :mod:`compressor.graph.hostops` (``Unary``, ``Binary``,
        ``Reduce``, ``Reshape``, ``Transpose``, ``Slice``, ``Gather``, ``Pad``, ``Expand``)
        or a Softmax with an axis; ``fields``: its :class:`Layer` fields."""
        return self.add(Layer(name, type_, list(bottoms), [top or name], 0, **fields))

    def dropout(self, name: str, bottom: str, top: str | None = None) -> str:
        """Identity at inference."""
        return self.add(Layer(name, "Dropout", [bottom], [top or name], 0))
