"""SqueezeNext-23 (Gholami et al. 2018, arXiv 1803.10615), width 1.0, 227 x 227 input.

The 1.0-SqNxt-23 of the paper's Table 1 / Fig. 5: a 7 x 7 / 2 convolution with 64
filters and a 3 x 3 / 2 max pooling, then 21 SqueezeNext blocks in four stages of
[6, 6, 8, 1] blocks with 32, 64, 128 and 256 output channels (the first block of stages
2-4 strides by 2), a 1 x 1 convolution to 128 channels, global average pooling and the
classifier (23 = 21 blocks + the first convolution + the classifier).

One block (paper Fig. 2) on ``C`` input channels: 1 x 1 to ``C/2`` (stride ``s``), 1 x 1 to
``C/4``, 3 x 1 to ``C/2``, 1 x 3 to ``C/2``, 1 x 1 to the block's output channels, ReLU
after each; the shortcut is the identity, or a 1 x 1 convolution (stride ``s``) where the
shape changes; the sum is followed by a ReLU. Where the block's input has fewer channels
than its output, the reductions are taken of the wider of the two (our reading of the
first block of a stage); batch norm is folded (BN-free weights). conv1 is unpadded
(227 -> 111 -> pool 55).
"""
from __future__ import annotations

from ..graph import Net, NetBuilder

__all__ = ["squeezenext23"]

STAGES = [(6, 32, 1), (6, 64, 2), (8, 128, 2), (1, 256, 2)]   #: (blocks, channels, first stride)


def squeezenext23(size: int = 227, classes: int = 1000) -> Net:
    b = NetBuilder("squeezenext23", (1, 3, size, size))
    x = b.relu("conv1/relu", b.conv("conv1", b.input, 64, 7, stride=2))
    x = b.pool("pool1", x, "MAX", kernel=3, stride=2)
    c, k = 64, 0
    for blocks, out, first_stride in STAGES:
        for r in range(blocks):
            k += 1
            s = first_stride if r == 0 else 1
            w = max(c, out)
            p = f"b{k}"
            h = b.relu(f"{p}/r1", b.conv(f"{p}/red1", x, w // 2, 1, stride=s))
            h = b.relu(f"{p}/r2", b.conv(f"{p}/red2", h, w // 4, 1))
            h = b.relu(f"{p}/r3", b.conv(f"{p}/conv3x1", h, w // 2, (3, 1), pad=(1, 0)))
            h = b.relu(f"{p}/r4", b.conv(f"{p}/conv1x3", h, w // 2, (1, 3), pad=(0, 1)))
            h = b.relu(f"{p}/r5", b.conv(f"{p}/expand", h, out, 1))
            sc = x if (s == 1 and c == out) else b.relu(f"{p}/rs", b.conv(f"{p}/shortcut", x, out, 1, stride=s))
            x = b.relu(f"{p}/relu", b.eltwise(f"{p}/add", [h, sc]))
            c = out
    x = b.relu("conv_last/relu", b.conv("conv_last", x, 128, 1))
    x = b.pool("pool", x, "AVE", global_pooling=True)
    b.softmax("prob", b.fc("fc", x, classes))
    return b.build()
