"""SegNet (Badrinarayanan et al. 2017, TPAMI, arXiv 1511.00561) at 360 x 480 (CamVid).

Encoder: the 13 convolution layers of VGG-16 (3 x 3, pad 1, with 64, 64 | 128, 128 |
256 x 3 | 512 x 3 | 512 x 3 filters), each followed by batch norm (folded) and ReLU, and
five 2 x 2 / 2 max poolings whose indices are kept. Decoder: the mirror image, each stage
a max unpooling with the corresponding pooling's indices followed by 3 x 3 convolutions
(512 x 3 | 512, 512, 256 | 256, 256, 128 | 128, 64 | 64), then the 3 x 3 classifier
convolution to ``classes`` (11 CamVid classes) and a softmax. With Caffe's ceil-mode
pooling 360 x 480 pools to 180 x 240, 90 x 120, 45 x 60, 23 x 30 and 12 x 15; each
unpooling restores the size its pooling saw.
"""
from __future__ import annotations

from ..graph import Net, NetBuilder

__all__ = ["segnet"]

ENCODER = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]
DECODER = [[512, 512, 512], [512, 512, 256], [256, 256, 128], [128, 64], [64]]


def segnet(height: int = 360, width: int = 480, classes: int = 11) -> Net:
    b = NetBuilder("segnet", (1, 3, height, width))
    x = b.input
    pooled_from = []
    for s, chans in enumerate(ENCODER, start=1):
        for i, c in enumerate(chans, start=1):
            x = b.relu(f"conv{s}_{i}/relu", b.conv(f"conv{s}_{i}", x, c, 3, pad=1))
        pooled_from.append(x)
        x = b.pool(f"pool{s}", x, "MAX", kernel=2, stride=2)
    for s, chans in zip(range(5, 0, -1), DECODER):
        x = b.unpool(f"upsample{s}", x, pooled_from[s - 1], 2, 2)
        for i, c in enumerate(chans, start=1):
            x = b.relu(f"conv{s}_{i}_D/relu", b.conv(f"conv{s}_{i}_D", x, c, 3, pad=1))
    x = b.conv("conv_classifier", x, classes, 3, pad=1)
    b.softmax("prob", x)
    return b.build()
