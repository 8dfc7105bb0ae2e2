"""SqueezeDet (Wu et al. 2017, arXiv 1612.01051) on a 1242 x 375 KITTI-size frame.

The paper's detector: a SqueezeNet v1.1-style trunk (3 x 3 / 2 convolution with 64
filters, 3 x 3 / 2 max poolings after conv1, fire3 and fire5, fire modules 2-9) with two
extra fire modules fire10 and fire11 (squeeze 96, expand 384 + 384), and the ConvDet
layer conv12: a 3 x 3 convolution with ``K (4 + 1 + C)`` outputs, K = 9 anchors per grid
cell and C = 3 KITTI classes, so 72 channels. Poolings are TensorFlow "VALID" (floor)
as in the authors' code, which gives the 22 x 76 output grid of their KITTI
configuration for a 375 x 1242 input. A fire module: 1 x 1 squeeze + ReLU, then 1 x 1 and
3 x 3 (pad 1) expands + ReLU, concatenated.
"""
from __future__ import annotations

from ..graph import Net, NetBuilder

__all__ = ["squeezedet"]

#: fire modules: (name, squeeze, expand 1x1, expand 3x3), max pooling after fire3, fire5
FIRES = [("fire2", 16, 64, 64), ("fire3", 16, 64, 64), ("fire4", 32, 128, 128),
         ("fire5", 32, 128, 128), ("fire6", 48, 192, 192), ("fire7", 48, 192, 192),
         ("fire8", 64, 256, 256), ("fire9", 64, 256, 256), ("fire10", 96, 384, 384),
         ("fire11", 96, 384, 384)]
ANCHORS, CLASSES = 9, 3


def fire(b: NetBuilder, name: str, x: str, s: int, e1: int, e3: int) -> str:
    sq = b.relu(f"{name}/squeeze1x1/relu", b.conv(f"{name}/squeeze1x1", x, s, 1))
    a = b.relu(f"{name}/expand1x1/relu", b.conv(f"{name}/expand1x1", sq, e1, 1))
    c = b.relu(f"{name}/expand3x3/relu", b.conv(f"{name}/expand3x3", sq, e3, 3, pad=1))
    return b.concat(f"{name}/concat", [a, c])


def squeezedet(height: int = 375, width: int = 1242, anchors: int = ANCHORS,
               classes: int = CLASSES) -> Net:
    b = NetBuilder("squeezedet", (1, 3, height, width))
    x = b.relu("conv1/relu", b.conv("conv1", b.input, 64, 3, stride=2))
    x = b.pool("pool1", x, "MAX", kernel=3, stride=2, ceil_mode=False)
    for name, s, e1, e3 in FIRES:
        x = fire(b, name, x, s, e1, e3)
        if name in ("fire3", "fire5"):
            x = b.pool(f"pool{name[-1]}", x, "MAX", kernel=3, stride=2, ceil_mode=False)
    x = b.dropout("drop11", x)
    b.conv("conv12", x, anchors * (4 + 1 + classes), 3, pad=1)
    return b.build()
