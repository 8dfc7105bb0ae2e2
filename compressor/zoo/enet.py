"""ENet (Paszke et al. 2016, arXiv 1606.02147, Table 1) at 512 x 512, 19 classes.

* initial block: a 3 x 3 / 2 convolution with 13 filters concatenated with a 2 x 2 / 2
  max pooling of the image (16 channels, 256 x 256);
* bottleneck (Fig. 2b): 1 x 1 projection to a quarter of the output channels, PReLU, the
  main convolution (3 x 3; 3 x 3 dilated by 2, 4, 8 or 16; or the asymmetric 5 x 1 then
  1 x 5 pair), PReLU, 1 x 1 expansion; summed with the shortcut, then PReLU (the
  regulariser, spatial dropout, is the identity at inference);
* downsampling bottleneck (1.0, 2.0): the projection is a 2 x 2 / 2 convolution; the
  shortcut is a 2 x 2 / 2 max pooling (indices kept) zero-padded to the output channels;
* upsampling bottleneck (4.0, 5.0): the main convolution is a 3 x 3 / 2 transposed
  convolution (pad 1, output pad 1); the shortcut is a 1 x 1 convolution to the output
  channels and a max unpooling with the indices of the matching downsampling pooling;
* stages 1-3 (encoder): 1.0 + 1.1-1.4 (64 channels, 128 x 128); 2.0-2.8 and 3.1-3.8
  (128 channels, 64 x 64; 2.1 regular, 2.2 dilated 2, 2.3 asymmetric 5, 2.4 dilated 4,
  2.5 regular, 2.6 dilated 8, 2.7 asymmetric 5, 2.8 dilated 16; stage 3 the same);
  stages 4-5 (decoder): 4.0-4.2 (64, 128 x 128), 5.0-5.1 (16, 256 x 256); then the
  "fullconv": a 2 x 2 / 2 transposed convolution to the classes at 512 x 512.

Batch norm folded (BN-free weights); the transposed convolutions carry no bias (a
:class:`~compressor.model.QuantizedLayer` holds one bias per first weight axis, which is
the input axis of a transposed convolution); PReLU slopes are synthetic (0.25, PyTorch's
initial value), one per layer.
"""
from __future__ import annotations

from ..graph import Net, NetBuilder

__all__ = ["enet"]

PRELU = 0.25

#: stage 2/3 bottlenecks after 2.0: (suffix, kind, dilation)
MIDDLE = [(1, "regular", 1), (2, "dilated", 2), (3, "asymmetric", 1), (4, "dilated", 4),
          (5, "regular", 1), (6, "dilated", 8), (7, "asymmetric", 1), (8, "dilated", 16)]


def _bottleneck(b: NetBuilder, name: str, x: str, out: int, kind: str = "regular", dilation: int = 1) -> str:
    mid = out // 4
    h = b.prelu(f"{name}/proj/prelu", b.conv(f"{name}/proj", x, mid, 1, bias=False), PRELU)
    if kind == "asymmetric":
        h = b.conv(f"{name}/conv5x1", h, mid, (5, 1), pad=(2, 0), bias=False)
        h = b.conv(f"{name}/conv1x5", h, mid, (1, 5), pad=(0, 2))
    else:
        h = b.conv(f"{name}/conv", h, mid, 3, pad=dilation, dilation=dilation)
    h = b.prelu(f"{name}/conv/prelu", h, PRELU)
    h = b.conv(f"{name}/expand", h, out, 1, bias=False)
    return b.prelu(f"{name}/prelu", b.eltwise(f"{name}/add", [x, h]), PRELU)


def _down(b: NetBuilder, name: str, x: str, out: int) -> tuple[str, str]:
    """Downsampling bottleneck; returns (output, the pooling's input for the unpooling)."""
    mid = out // 4
    h = b.prelu(f"{name}/proj/prelu", b.conv(f"{name}/proj", x, mid, 2, stride=2, bias=False), PRELU)
    h = b.prelu(f"{name}/conv/prelu", b.conv(f"{name}/conv", h, mid, 3, pad=1), PRELU)
    h = b.conv(f"{name}/expand", h, out, 1, bias=False)
    sc = b.channel_pad(f"{name}/pad", b.pool(f"{name}/pool", x, "MAX", kernel=2, stride=2), out)
    return b.prelu(f"{name}/prelu", b.eltwise(f"{name}/add", [sc, h]), PRELU), x


def _up(b: NetBuilder, name: str, x: str, out: int, pooled_from: str) -> str:
    mid = b.shape(x)[1] // 4
    h = b.prelu(f"{name}/proj/prelu", b.conv(f"{name}/proj", x, mid, 1, bias=False), PRELU)
    h = b.prelu(f"{name}/deconv/prelu", b.deconv(f"{name}/deconv", h, mid, 3, stride=2, pad=1,
                                                 out_pad=1, bias=False), PRELU)
    h = b.conv(f"{name}/expand", h, out, 1, bias=False)
    sc = b.unpool(f"{name}/unpool", b.conv(f"{name}/shortcut", x, out, 1, bias=False), pooled_from, 2, 2)
    return b.prelu(f"{name}/prelu", b.eltwise(f"{name}/add", [sc, h]), PRELU)


def enet(size: int = 512, classes: int = 19) -> Net:
    b = NetBuilder("enet", (1, 3, size, size))
    c = b.conv("initial/conv", b.input, 13, 3, stride=2, pad=1)
    p = b.pool("initial/pool", b.input, "MAX", kernel=2, stride=2)
    x = b.prelu("initial/prelu", b.concat("initial/concat", [c, p]), PRELU)
    x, from1 = _down(b, "b1.0", x, 64)
    for i in range(1, 5):
        x = _bottleneck(b, f"b1.{i}", x, 64)
    x, from2 = _down(b, "b2.0", x, 128)
    for stage in (2, 3):
        for i, kind, d in MIDDLE:
            x = _bottleneck(b, f"b{stage}.{i}", x, 128, kind, d)
    x = _up(b, "b4.0", x, 64, from2)
    for i in (1, 2):
        x = _bottleneck(b, f"b4.{i}", x, 64)
    x = _up(b, "b5.0", x, 16, from1)
    x = _bottleneck(b, "b5.1", x, 16)
    b.deconv("fullconv", x, classes, 2, stride=2, bias=False)
    return b.build()
