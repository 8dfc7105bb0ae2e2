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
* Concat along any axis.

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
from typing import Mapping

import numpy as np

from ..errors import ForwardError
from ..model import QuantizedLayer, QuantizedModel
from .net import CaffeLayer, ConvParams, Net

__all__ = [
    "SYNTHETIC_SEED", "synthetic_input", "im2col", "conv2d", "pool2d",
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


def im2col(x: np.ndarray, conv: ConvParams) -> np.ndarray:
    """Patch matrix of a convolution input: shape ``(N * oh * ow, C * kh * kw)``, float32.

    Rows are output positions in ``(n, oy, ox)`` C order; columns are ``(c, ky, kx)`` in C
    order, matching ``weights.reshape(out, -1)`` for ``group == 1`` (for grouped
    convolutions the columns span all input channels; see :func:`layer_workloads`).
    """
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = conv.kernel, conv.stride, conv.pad
    oh = (h + 2 * ph - kh) // sh + 1
    ow = (w + 2 * pw - kw) // sw + 1
    xp = _pad(x, ph, pw, h + 2 * ph, w + 2 * pw, 0.0)
    cols = np.empty((n, oh, ow, c, kh, kw), dtype=np.float32)
    for i in range(kh):
        for j in range(kw):
            sl = xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            cols[:, :, :, :, i, j] = sl.transpose(0, 2, 3, 1)
    return cols.reshape(n * oh * ow, c * kh * kw)


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, conv: ConvParams) -> np.ndarray:
    """Caffe convolution (stride, pad, group) of ``x`` with ``w`` (out, in/group, kh, kw)."""
    n, c, h, wd = x.shape
    (kh, kw), (sh, sw), (ph, pw) = conv.kernel, conv.stride, conv.pad
    oh = (h + 2 * ph - kh) // sh + 1
    ow = (wd + 2 * pw - kw) // sw + 1
    g = conv.group
    og, cg = w.shape[0] // g, c // g
    outs = []
    for k in range(g):
        cols = im2col(x[:, k * cg:(k + 1) * cg], conv)
        outs.append(cols @ w[k * og:(k + 1) * og].reshape(og, -1).T)
    y = np.concatenate(outs, axis=1) if g > 1 else outs[0]
    if b is not None:
        y = y + b
    return y.reshape(n, oh, ow, -1).transpose(0, 3, 1, 2).astype(np.float32)


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


def forward(net: Net, weights: WeightSource, x: np.ndarray | None = None) -> ForwardResult:
    """Run the network on ``x`` (default: :func:`synthetic_input` of the input shape).

    ``weights``: a :class:`QuantizedModel` (decoded with ``codebook[codes]``) or a mapping
    layer name -> ``(weights, bias)``. Only single-input networks are supported.
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
        if t == "Convolution":
            w, b = _weights_for(weights, lay)
            res.layer_inputs[lay.name] = ins[0]
            y = conv2d(ins[0], w, b, lay.conv)  # type: ignore[arg-type]
            res.layer_outputs[lay.name] = y
        elif t == "InnerProduct":
            w, b = _weights_for(weights, lay)
            res.layer_inputs[lay.name] = ins[0]
            y = ins[0].reshape(ins[0].shape[0], -1) @ w.T
            if b is not None:
                y = y + b
            y = y.astype(np.float32)
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


def layer_workloads(net: Net, weights: QuantizedModel, x: np.ndarray | None = None,
                    result: ForwardResult | None = None) -> list[ConvWorkload]:
    """Per parameter layer: (name, 2-D quantized weight matrix, float32 patch matrix).

    Runs :func:`forward` (unless ``result`` is given) and unrolls each layer's input.
    """
    if result is None:
        result = forward(net, weights, x)
    out = []
    for lay in net.weight_layers:
        q = weights.layer(lay.name)
        inp = result.layer_inputs[lay.name]
        if lay.type == "Convolution":
            cp = lay.conv
            assert cp is not None
            patches = im2col(inp, cp)
            codes = q.codes.reshape(q.codes.shape[0], -1)
            if cp.group > 1:
                og, k = codes.shape[0] // cp.group, codes.shape[1]
                full = np.zeros((codes.shape[0], k * cp.group), dtype=codes.dtype)
                for g in range(cp.group):
                    full[g * og:(g + 1) * og, g * k:(g + 1) * k] = codes[g * og:(g + 1) * og]
                codes = full
        else:
            patches = inp.reshape(inp.shape[0], -1).astype(np.float32)
            codes = q.codes.reshape(q.codes.shape[0], -1)
        mat = QuantizedLayer(q.name, "fc", codes, q.codebook, q.bias, q.bits, q.index_bits,
                             meta=dict(q.meta, weight_shape=list(q.codes.shape)))
        out.append(ConvWorkload(lay.name, mat, patches, tuple(lay.out_shapes[0])))
    return out
