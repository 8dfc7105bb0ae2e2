"""Numpy inference of a :class:`~compressor.graph.net.Net`, plus per-layer M x V workloads.

Implements, for ``N x C x H x W`` float32 blobs:

* Convolution with stride, padding and groups via im2col: every output position is one
  matrix-vector product of the ``(out, in/group * kh * kw)`` weight matrix with the
  unrolled input patch (a 1x1 convolution is a plain M x V over the channels);
* InnerProduct, ReLU, Dropout (identity at inference), Softmax over channels, Flatten,
  cross-channel LRN;
* MAX / AVE pooling with Caffe's output size (ceil mode, see
  :func:`compressor.graph.net.pool_out_size`) and Caffe's average divisor (the window
  clipped to the padded input), and global pooling;
* Concat along any axis;
* dilated convolution (im2col reads every ``d``-th pixel), transposed convolution
  (:func:`deconv2d`, computed directly by scatter; its M x V form is the convolution of
  the zero-inserted input, :func:`zero_insert` / :func:`deconv_as_conv`), element-wise sum
  (Eltwise), Clip (ReLU6), PReLU, BatchNorm (inference affine) and max unpooling
  (:func:`max_unpool`).

:func:`forward` returns every blob plus each parameter layer's **input** activation;
:func:`im2col` unrolls such an input into the patch matrix; :func:`layer_workloads` packs,
for every parameter layer, the quantized 2-D weight matrix (codes + codebook, kind "fc")
with its float32 patch matrix (one row per output position): the input an M x V engine
such as EIE consumes. Each workload's :meth:`ConvWorkload.reference` reproduces the
layer's forward output exactly as :func:`forward` computes it.

:func:`synthetic_input` makes a fixed, seeded, smooth random image (low-resolution
Gaussian noise, bilinearly upsampled, plus a little pixel noise), scaled like a
mean-subtracted 0..255 image. It is not a natural image; it exercises the arithmetic and
gives realistic-looking ReLU sparsity, not classification results.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from ..errors import ForwardError
from ..model import QuantizedLayer, QuantizedModel
from .net import CaffeLayer, ConvParams, Net

__all__ = [
    "SYNTHETIC_SEED", "synthetic_input", "im2col", "patches_at", "conv2d", "deconv2d",
    "deconv_as_conv", "zero_insert", "deconv_weights_as_conv", "max_unpool", "matrix_codes",
    "mxv_input", "pool2d",
    "ForwardResult", "forward", "ConvWorkload", "layer_workloads",
]

SYNTHETIC_SEED = 1510  # default seed of the synthetic input (arXiv 1510.00149)


def synthetic_input(shape: tuple[int, ...], seed: int = SYNTHETIC_SEED, coarse: int = 8,
                    scale: float = 50.0) -> np.ndarray:
    """Smooth seeded random image of ``shape`` (N, C, H, W), float32.

    ``coarse x coarse`` standard-normal values per channel are bilinearly upsampled to
    ``H x W``, 5 % of independent pixel noise is added, and the result is multiplied by
    ``scale`` (about the spread of a mean-subtracted 0..255 image).
    """
    if len(shape) != 4:
        raise ForwardError(f"synthetic_input needs an (N, C, H, W) shape, got {shape}")
    n, c, h, w = shape
    rng = np.random.default_rng(seed)
    low = rng.standard_normal((n, c, coarse, coarse))
    ys = np.linspace(0, coarse - 1, h)
    xs = np.linspace(0, coarse - 1, w)
    grid = np.arange(coarse)
    rows = np.stack([np.interp(ys, grid, np.eye(coarse)[k]) for k in range(coarse)], axis=1)  # (h, coarse)
    cols = np.stack([np.interp(xs, grid, np.eye(coarse)[k]) for k in range(coarse)], axis=1)  # (w, coarse)
    img = np.einsum("hi,ncij,wj->nchw", rows, low, cols)
    img += 0.05 * rng.standard_normal(img.shape)
    return (scale * img).astype(np.float32)


def _pad(x: np.ndarray, ph: int, pw: int, hp: int, wp: int, value: float) -> np.ndarray:
    """Pad H, W by (ph, pw) at the start and as needed at the end to reach (hp, wp)."""
    n, c, h, w = x.shape
    out = np.full((n, c, max(hp, h + ph), max(wp, w + pw)), value, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out[:, :, :hp, :wp]


def _cols_t(x: np.ndarray, conv: ConvParams) -> tuple[np.ndarray, int, int]:
    """``(N, C * kh * kw, oh * ow)`` float32 unrolled input (rows ``(c, ky, kx)`` in C
    order; written plane by plane, so each copy is contiguous), ``oh``, ``ow``."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = conv.kernel, conv.stride, conv.pad, conv.dilation
    eh, ew = conv.extent()
    oh = (h + 2 * ph - eh) // sh + 1
    ow = (w + 2 * pw - ew) // sw + 1
    xp = _pad(x, ph, pw, h + 2 * ph, w + 2 * pw, 0.0)
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=np.float32)
    for i in range(kh):
        for j in range(kw):
            a, b = i * dh, j * dw
            cols[:, :, i, j] = xp[:, :, a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw]
    return cols.reshape(n, c * kh * kw, oh * ow), oh, ow


def im2col(x: np.ndarray, conv: ConvParams) -> np.ndarray:
    """Patch matrix of a convolution input: shape ``(N * oh * ow, C * kh * kw)``, float32.

    Rows are output positions in ``(n, oy, ox)`` C order; columns are ``(c, ky, kx)`` in C
    order, matching ``weights.reshape(out, -1)`` for ``group == 1`` (for grouped
    convolutions the columns span all input channels; see :func:`layer_workloads`).
    A dilated kernel (``conv.dilation``) reads every ``d``-th input row / column.
    """
    cols, _, _ = _cols_t(x, conv)
    return np.ascontiguousarray(cols.transpose(0, 2, 1)).reshape(-1, cols.shape[1])


def patches_at(x: np.ndarray, conv: ConvParams, positions: np.ndarray) -> np.ndarray:
    """Rows ``positions`` of :func:`im2col` ``(x, conv)`` (image 0 of ``x``) without
    unrolling the whole input: ``(len(positions), C * kh * kw)`` float32. Positions are
    ``oy * ow + ox``."""
    _, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = conv.kernel, conv.stride, conv.pad, conv.dilation
    eh, ew = conv.extent()
    oh = (h + 2 * ph - eh) // sh + 1
    ow = (w + 2 * pw - ew) // sw + 1
    idx = np.asarray(positions, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= oh * ow):
        raise ForwardError(f"positions outside 0..{oh * ow - 1}")
    xp = _pad(x[:1], ph, pw, h + 2 * ph, w + 2 * pw, 0.0)[0]
    rows = (idx // ow)[:, None, None] * sh + (np.arange(kh) * dh)[None, :, None]
    cols = (idx % ow)[:, None, None] * sw + (np.arange(kw) * dw)[None, None, :]
    g = xp[:, rows, cols]                       # (C, P, kh, kw)
    return np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(idx.size, c * kh * kw).astype(np.float32)


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, conv: ConvParams) -> np.ndarray:
    """Caffe convolution (stride, pad, group, dilation) of ``x`` with ``w`` (out, in/group,
    kh, kw): per image and group, ``W (out, in*kh*kw) @ unrolled input (in*kh*kw, oh*ow)``."""
    n, c = x.shape[:2]
    g = conv.group
    og, cg = w.shape[0] // g, c // g
    outs = []
    for k in range(g):
        cols, oh, ow = _cols_t(x[:, k * cg:(k + 1) * cg], conv)
        wk = w[k * og:(k + 1) * og].reshape(og, -1).astype(np.float32)
        outs.append(np.stack([wk @ cols[i] for i in range(n)]))     # (n, og, oh*ow)
    y = np.concatenate(outs, axis=1) if g > 1 else outs[0]
    if b is not None:
        y = y + b.reshape(1, -1, 1).astype(np.float32)
    return y.reshape(n, -1, oh, ow).astype(np.float32, copy=False)


def deconv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, conv: ConvParams) -> np.ndarray:
    """Transposed convolution computed directly (scatter form): every input pixel adds
    ``x[c] * w[c, o]`` into the ``kh x kw`` output window at ``stride x`` its position,
    then ``pad`` rows/cols are cropped at the start (``out_pad`` extra kept at the end).
    ``w``: ``(in, out/group, kh, kw)``."""
    n, c, h, wd = x.shape
    (kh, kw), (sh, sw), (ph, pw), (qh, qw) = conv.kernel, conv.stride, conv.pad, conv.out_pad
    g = conv.group
    cg, og = c // g, w.shape[1]
    fh, fw = (h - 1) * sh + kh + qh, (wd - 1) * sw + kw + qw
    full = np.zeros((n, og * g, fh, fw), dtype=np.float64)
    x64 = x.astype(np.float64)
    for k in range(g):
        xs = x64[:, k * cg:(k + 1) * cg]
        wk = w[k * cg:(k + 1) * cg].astype(np.float64)
        for i in range(kh):
            for j in range(kw):
                full[:, k * og:(k + 1) * og, i:i + sh * (h - 1) + 1:sh, j:j + sw * (wd - 1) + 1:sw] += \
                    np.einsum("nchw,co->nohw", xs, wk[:, :, i, j])
    oh, ow = fh - 2 * ph, fw - 2 * pw
    y = full[:, :, ph:ph + oh, pw:pw + ow]
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y.astype(np.float32)


def deconv_as_conv(conv: ConvParams) -> ConvParams:
    """The stride-1, unpadded convolution that a transposed convolution equals when it runs
    on :func:`zero_insert` of its input (with :func:`deconv_weights_as_conv` weights)."""
    return ConvParams(conv.num_output, conv.kernel, (1, 1), (0, 0), conv.group, conv.bias_term)


def zero_insert(x: np.ndarray, conv: ConvParams) -> np.ndarray:
    """The input of :func:`deconv_as_conv`: ``stride - 1`` zeros between neighbouring
    pixels, ``k - 1 - pad`` zeros around (``+ out_pad`` at the end). Most of it is zero;
    EIE skips zero activations, so the inserted zeros cost no MAC cycles."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (qh, qw) = conv.kernel, conv.stride, conv.pad, conv.out_pad
    th, tw = kh - 1 - ph, kw - 1 - pw
    out = np.zeros((n, c, (h - 1) * sh + 1 + 2 * th + qh, (w - 1) * sw + 1 + 2 * tw + qw), np.float32)
    out[:, :, th:th + (h - 1) * sh + 1:sh, tw:tw + (w - 1) * sw + 1:sw] = x
    return out


def deconv_weights_as_conv(w: np.ndarray, group: int) -> np.ndarray:
    """``(in, out/g, kh, kw)`` transposed-convolution weights (or codes) as the
    ``(out, in/g, kh, kw)`` weights of :func:`deconv_as_conv`: per group, in and out
    swapped and the kernel rotated by 180 degrees."""
    cin, og, kh, kw = w.shape
    cg = cin // group
    parts = []
    for k in range(group):
        wk = w[k * cg:(k + 1) * cg]                       # (cg, og, kh, kw)
        parts.append(wk.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
    return np.ascontiguousarray(np.concatenate(parts, axis=0))


def max_unpool(x: np.ndarray, pooled_from: np.ndarray, lay: CaffeLayer) -> np.ndarray:
    """Max unpooling: each value of ``x`` goes back to where its MAX pooling window of
    ``pooled_from`` (the pooling's input) had its maximum (first maximum in row-major
    window order on ties); every other output is 0 (SegNet's upsampling)."""
    pp = lay.pool
    assert pp is not None and pp.kernel is not None
    n, c, h, w = pooled_from.shape
    (kh, kw), (sh, sw), (ph, pw) = pp.kernel, pp.stride, pp.pad
    oh, ow = x.shape[2], x.shape[3]
    hp, wp = max((oh - 1) * sh + kh, h + ph), max((ow - 1) * sw + kw, w + pw)
    xp = _pad(pooled_from, ph, pw, hp, wp, -np.inf)
    best = np.full((n, c, oh, ow), -np.inf, dtype=np.float32)
    arg = np.zeros((n, c, oh, ow), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            v = xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            better = v > best
            best = np.where(better, v, best)
            arg = np.where(better, i * kw + j, arg)
    out = np.zeros((n, c, hp, wp), dtype=np.float32)
    oy = np.arange(oh)[:, None] * sh + arg // kw
    ox = np.arange(ow)[None, :] * sw + arg % kw
    ni, ci = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    out[ni[:, :, None, None], ci[:, :, None, None], oy, ox] = x
    return out[:, :, ph:ph + h, pw:pw + w]


def pool2d(x: np.ndarray, lay: CaffeLayer, out_hw: tuple[int, int]) -> np.ndarray:
    """Caffe MAX / AVE pooling producing ``out_hw`` (from shape inference)."""
    pp = lay.pool
    assert pp is not None
    n, c, h, w = x.shape
    if pp.global_pooling:
        red = x.max(axis=(2, 3)) if pp.method == "MAX" else x.mean(axis=(2, 3), dtype=np.float64)
        return red.reshape(n, c, 1, 1).astype(np.float32)
    assert pp.kernel is not None
    (kh, kw), (sh, sw), (ph, pw) = pp.kernel, pp.stride, pp.pad
    oh, ow = out_hw
    hp, wp = (oh - 1) * sh + kh, (ow - 1) * sw + kw
    if pp.method == "MAX":
        xp = _pad(x, ph, pw, hp, wp, -np.inf)
        out = np.full((n, c, oh, ow), -np.inf, dtype=np.float32)
        for i in range(kh):
            for j in range(kw):
                np.maximum(out, xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw], out=out)
        return out
    xp = _pad(x, ph, pw, hp, wp, 0.0).astype(np.float64)
    acc = np.zeros((n, c, oh, ow))
    for i in range(kh):
        for j in range(kw):
            acc += xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
    # Caffe divides by the window clipped to the padded input (padding counts, overhang not)
    hs = np.arange(oh) * sh - ph
    ws = np.arange(ow) * sw - pw
    hsize = np.minimum(hs + kh, h + ph) - hs
    wsize = np.minimum(ws + kw, w + pw) - ws
    return (acc / np.outer(hsize, wsize)).astype(np.float32)


def _lrn(x: np.ndarray, lay: CaffeLayer) -> np.ndarray:
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


WeightSource = QuantizedModel | Mapping[str, tuple[np.ndarray, np.ndarray | None]]


def _weights_for(weights: WeightSource, lay: CaffeLayer) -> tuple[np.ndarray, np.ndarray | None]:
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


@dataclass
class ForwardResult:
    """Blobs after the run and, per parameter layer, its input and (pre-ReLU) output.

    ``relu_density[name]`` is the fraction of non-zero values a ReLU layer left.
    """

    blobs: dict[str, np.ndarray]
    layer_inputs: dict[str, np.ndarray] = field(default_factory=dict)
    layer_outputs: dict[str, np.ndarray] = field(default_factory=dict)
    relu_density: dict[str, float] = field(default_factory=dict)


def forward(net: Net, weights: WeightSource, x: np.ndarray | None = None,
            on_output: Callable[[CaffeLayer, np.ndarray], np.ndarray] | None = None) -> ForwardResult:
    """Run the network on ``x`` (default: :func:`synthetic_input` of the input shape).

    ``weights``: a :class:`QuantizedModel` (decoded with ``codebook[codes]``) or a mapping
    layer name -> ``(weights, bias)``. Only single-input networks are supported.
    ``on_output(layer, y)``, when given, is called with each parameter layer's output and
    returns the output to continue with (data-dependent initialisation uses it).
    """
    if len(net.inputs) != 1:
        raise ForwardError(f"forward supports one input blob, the network has {list(net.inputs)}")
    (in_name, in_shape), = net.inputs.items()
    if x is None:
        x = synthetic_input(in_shape)
    x = np.asarray(x, dtype=np.float32)
    if x.shape != tuple(in_shape):
        raise ForwardError(f"input has shape {x.shape}, the network expects {in_shape}")
    blobs: dict[str, np.ndarray] = {in_name: x}
    res = ForwardResult(blobs)
    for lay in net.layers:
        if lay.type == "Input":
            continue
        ins = [blobs[b] for b in lay.bottoms]
        t = lay.type
        if t in ("Convolution", "Deconvolution"):
            w, b = _weights_for(weights, lay)
            res.layer_inputs[lay.name] = ins[0]
            y = (conv2d if t == "Convolution" else deconv2d)(ins[0], w, b, lay.conv)  # type: ignore[arg-type]
            if on_output is not None:
                y = on_output(lay, y)
            res.layer_outputs[lay.name] = y
        elif t == "InnerProduct":
            w, b = _weights_for(weights, lay)
            res.layer_inputs[lay.name] = ins[0]
            y = ins[0].reshape(ins[0].shape[0], -1) @ w.T
            if b is not None:
                y = y + b
            y = y.astype(np.float32)
            if on_output is not None:
                y = on_output(lay, y)
            res.layer_outputs[lay.name] = y
        elif t == "ReLU":
            neg = lay.negative_slope
            y = np.where(ins[0] > 0, ins[0], neg * ins[0]).astype(np.float32)
            res.relu_density[lay.name] = float(np.count_nonzero(y)) / max(1, y.size)
        elif t == "Pooling":
            y = pool2d(ins[0], lay, lay.out_shapes[0][2:])  # type: ignore[arg-type]
        elif t == "Concat":
            y = np.concatenate(ins, axis=lay.concat_axis)
        elif t == "Dropout":
            y = ins[0]  # inference: Caffe's dropout scales at training time, identity here
        elif t == "Softmax":
            z = ins[0].astype(np.float64)
            z = np.exp(z - z.max(axis=1, keepdims=True))
            y = (z / z.sum(axis=1, keepdims=True)).astype(np.float32)
        elif t == "Flatten":
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif t == "LRN":
            y = _lrn(ins[0], lay)
        elif t == "Eltwise":
            acc = ins[0].astype(np.float32).copy()
            for other in ins[1:]:
                acc += other
            y = acc
        elif t == "Clip":
            lo, hi = lay.clip  # type: ignore[misc]
            y = np.clip(ins[0], lo, hi).astype(np.float32)
        elif t == "PReLU":
            a = np.asarray(lay.slopes, dtype=np.float32)
            if a.size > 1:
                a = a.reshape((1, -1) + (1,) * (ins[0].ndim - 2))
            y = np.where(ins[0] > 0, ins[0], a * ins[0]).astype(np.float32)
        elif t == "BatchNorm":
            scale, shift = lay.bn.scale_shift()  # type: ignore[union-attr]
            shp = (1, -1) + (1,) * (ins[0].ndim - 2)
            y = (ins[0] * scale.reshape(shp) + shift.reshape(shp)).astype(np.float32)
        elif t == "ChannelPad":
            n_, c_, h_, w_ = ins[0].shape
            y = np.zeros((n_, lay.num_output, h_, w_), dtype=np.float32)
            y[:, :c_] = ins[0]
        elif t == "Unpool":
            y = max_unpool(ins[0], ins[1], lay)
        else:
            raise ForwardError(f"layer {lay.name!r}: type {t!r} has no forward implementation")
        if tuple(y.shape) != tuple(lay.out_shapes[0]):
            raise ForwardError(f"layer {lay.name!r}: computed {y.shape}, shape inference said "
                               f"{lay.out_shapes[0]}")
        blobs[lay.tops[0]] = y
    return res


@dataclass
class ConvWorkload:
    """One parameter layer as matrix-vector work.

    ``layer``: kind "fc" QuantizedLayer whose codes are the ``(out, in*kh*kw)`` weight
    matrix (block-diagonal over groups for grouped convolutions; codebook and bias as in
    the model). ``patches``: float32 ``(positions, in*kh*kw)``, one unrolled input per
    output position (for InnerProduct: the flattened input, one row per image).
    ``out_shape``: the layer's output blob shape; ``reference()`` reshapes to it.
    """

    name: str
    layer: QuantizedLayer
    patches: np.ndarray
    out_shape: tuple[int, ...]

    def __iter__(self):
        """Unpack as ``name, layer, patches`` (the triple the simulator consumes)."""
        return iter((self.name, self.layer, self.patches))

    def reference(self) -> np.ndarray:
        """``patches @ W.T + bias`` laid out as the layer's output blob (float32)."""
        y = self.patches @ self.layer.weights().T
        if self.layer.bias is not None:
            y = y + self.layer.bias
        y = y.astype(np.float32)
        if len(self.out_shape) == 4:
            n, c, h, w = self.out_shape
            return y.reshape(n, h, w, c).transpose(0, 3, 1, 2)
        return y.reshape(self.out_shape)


def matrix_codes(lay: CaffeLayer, codes: np.ndarray) -> np.ndarray:
    """A parameter layer's weight codes (or weights) as the 2-D M x V matrix EIE stores:
    ``(out, in * kh * kw)`` for a convolution (block-diagonal over groups, so a depthwise
    convolution is a ``(C, C * kh * kw)`` matrix with one ``kh x kw`` block per row), the
    same for a transposed convolution's equivalent convolution (:func:`deconv_as_conv`),
    ``(out, in)`` for InnerProduct."""
    if lay.type == "Deconvolution":
        codes = deconv_weights_as_conv(np.asarray(codes), lay.conv.group)  # type: ignore[union-attr]
    codes = np.asarray(codes)
    mat = codes.reshape(codes.shape[0], -1)
    group = lay.conv.group if lay.conv is not None and lay.type != "InnerProduct" else 1
    if group > 1:
        og, k = mat.shape[0] // group, mat.shape[1]
        full = np.zeros((mat.shape[0], k * group), dtype=mat.dtype)
        for g in range(group):
            full[g * og:(g + 1) * og, g * k:(g + 1) * k] = mat[g * og:(g + 1) * og]
        mat = full
    return mat


def mxv_input(lay: CaffeLayer, inp: np.ndarray) -> tuple[ConvParams | None, np.ndarray]:
    """The convolution geometry and input whose patches are this layer's M x V inputs:
    the layer's own for a Convolution, :func:`deconv_as_conv` on :func:`zero_insert` of the
    input for a Deconvolution, ``(None, flattened input)`` for InnerProduct."""
    if lay.type == "Convolution":
        return lay.conv, inp
    if lay.type == "Deconvolution":
        return deconv_as_conv(lay.conv), zero_insert(inp, lay.conv)  # type: ignore[arg-type]
    return None, inp.reshape(inp.shape[0], -1).astype(np.float32)


def layer_workloads(net: Net, weights: QuantizedModel, x: np.ndarray | None = None,
                    result: ForwardResult | None = None) -> list[ConvWorkload]:
    """Per parameter layer: (name, 2-D quantized weight matrix, float32 patch matrix).

    Runs :func:`forward` (unless ``result`` is given) and unrolls each layer's input
    (:func:`mxv_input`, :func:`matrix_codes`).
    """
    if result is None:
        result = forward(net, weights, x)
    out = []
    for lay in net.weight_layers:
        q = weights.layer(lay.name)
        cp, src = mxv_input(lay, result.layer_inputs[lay.name])
        patches = src if cp is None else im2col(src, cp)
        codes = matrix_codes(lay, q.codes)
        mat = QuantizedLayer(q.name, "fc", codes, q.codebook, q.bias, q.bits, q.index_bits,
                             meta=dict(q.meta, weight_shape=list(q.codes.shape)))
        out.append(ConvWorkload(lay.name, mat, patches, tuple(lay.out_shapes[0])))
    return out
