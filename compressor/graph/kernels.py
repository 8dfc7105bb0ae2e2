"""Numpy kernels of the forward pass on ``N x C x H x W`` float32 blobs.

* :func:`im2col` / :func:`patches_at`: a convolution input unrolled into its patch matrix
  (one row per output position; :func:`patches_at` only the rows asked for), dilation
  included (every ``d``-th input row / column);
* :func:`conv2d`: Caffe convolution (stride, padding, groups, dilation) by im2col, one
  matrix product per image and group;
* :func:`deconv2d`: transposed convolution computed directly by scatter; its M x V form
  is the convolution :func:`deconv_as_conv` of the zero-inserted input
  (:func:`zero_insert`) with :func:`deconv_weights_as_conv` weights;
* :func:`pool2d`: MAX / AVE pooling with Caffe's output size (ceil mode, see
  :func:`compressor.graph.layer.pool_out_size`) and Caffe's average divisor (the window
  clipped to the padded input), and global pooling;
* :func:`max_unpool`: max unpooling with the indices recomputed from the pooling's input.

:mod:`compressor.graph.ops` calls them from each layer type's forward rule;
:mod:`compressor.graph.forward` re-exports them.
"""
from __future__ import annotations

import numpy as np

from ..errors import ForwardError
from .layer import ConvParams, Layer

__all__ = ["im2col", "patches_at", "conv2d", "deconv2d", "deconv_as_conv", "zero_insert",
           "deconv_weights_as_conv", "max_unpool", "pool2d"]


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


def max_unpool(x: np.ndarray, pooled_from: np.ndarray, lay: Layer) -> np.ndarray:
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


def pool2d(x: np.ndarray, lay: Layer, out_hw: tuple[int, int]) -> np.ndarray:
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
    if pp.pad_end is not None or not pp.count_pad:
        return _pool_onnx(x, pp, oh, ow, hp, wp)
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


def _pool_onnx(x: np.ndarray, pp, oh: int, ow: int, hp: int, wp: int) -> np.ndarray:
    """Pooling with ONNX's explicit (possibly asymmetric) pads and, for AVE, optionally
    without the padding in the divisor (``count_pad`` false: the window clipped to the
    input, ONNX ``count_include_pad=0``, TensorFlow's SAME)."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = pp.kernel, pp.stride, pp.pad
    if pp.method == "MAX":
        xp = _pad(x, ph, pw, hp, wp, -np.inf)
        out = np.full((n, c, oh, ow), -np.inf, dtype=np.float32)
        for i in range(kh):
            for j in range(kw):
                np.maximum(out, xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw], out=out)
        return out
    xp = _pad(x, ph, pw, hp, wp, 0.0).astype(np.float64)
    inside = _pad(np.ones((1, 1, h, w)), ph, pw, hp, wp, 0.0)
    eh, ew = pp.pad_end if pp.pad_end is not None else pp.pad
    padded = _pad(np.ones((1, 1, h, w)), ph, pw, hp, wp, 1.0)
    padded[:, :, h + ph + eh:] = 0.0              # beyond the declared end padding
    padded[:, :, :, w + pw + ew:] = 0.0
    acc = np.zeros((n, c, oh, ow))
    cnt = np.zeros((1, 1, oh, ow))
    count = padded if pp.count_pad else inside
    for i in range(kh):
        for j in range(kw):
            sl = (slice(None), slice(None), slice(i, i + sh * (oh - 1) + 1, sh),
                  slice(j, j + sw * (ow - 1) + 1, sw))
            acc += xp[sl]
            cnt += count[sl]
    return (acc / np.maximum(cnt, 1.0)).astype(np.float32)
