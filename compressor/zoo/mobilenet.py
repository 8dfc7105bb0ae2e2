"""MobileNet v1 (Howard et al. 2017, arXiv 1704.04861, Table 1) and MobileNet v2 (Sandler
et al. 2018, arXiv 1801.04381, Table 2), width multiplier 1.0, 224 x 224 input.

Layer shapes as in the papers' tables. Batch normalisation after every convolution is
taken as already folded (the synthetic weights are BN-free, :mod:`compressor.zoo.synthetic`;
real BN weights fold with :func:`compressor.graph.fold.fold_batchnorm`). The classifier is
an InnerProduct on the globally average-pooled features (a 1 x 1 convolution in the
papers, the same matrix). MobileNet v1's Table 1 lists the second-to-last depthwise layer
as "Conv dw / s2" on a 7 x 7 input with a 7 x 7 output; it is stride 1 here (as in the
authors' released model), which the output size requires.
"""
from __future__ import annotations

from ..graph import Net, NetBuilder

__all__ = ["mobilenet_v1", "mobilenet_v2"]

#: MobileNet v1 Table 1 after conv1: (pointwise output channels, depthwise stride)
V1_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
             (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]

#: MobileNet v2 Table 2 bottleneck rows: (expansion t, output channels c, repeats n, stride s)
V2_ROWS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
           (6, 160, 3, 2), (6, 320, 1, 1)]


def mobilenet_v1(size: int = 224, classes: int = 1000) -> Net:
    """MobileNet v1 1.0: 3x3/2 conv 32, 13 depthwise-separable blocks, global average
    pool, fc ``classes``. ReLU after every convolution."""
    b = NetBuilder("mobilenet_v1", (1, 3, size, size))
    x = b.relu("conv1/relu", b.conv("conv1", b.input, 32, 3, stride=2, pad=1))
    c = 32
    for i, (out, s) in enumerate(V1_BLOCKS, start=1):
        x = b.relu(f"dw{i}/relu", b.conv(f"dw{i}", x, c, 3, stride=s, pad=1, group=c))
        x = b.relu(f"pw{i}/relu", b.conv(f"pw{i}", x, out, 1))
        c = out
    x = b.pool("pool", x, "AVE", global_pooling=True)
    b.softmax("prob", b.fc("fc", x, classes))
    return b.build()


def mobilenet_v2(size: int = 224, classes: int = 1000) -> Net:
    """MobileNet v2 1.0: 3x3/2 conv 32, 17 inverted-residual bottlenecks (1x1 expand +
    ReLU6, 3x3 depthwise + ReLU6, linear 1x1 projection; residual sum when stride 1 and
    the channels match), 1x1 conv 1280 + ReLU6, global average pool, fc ``classes``."""
    b = NetBuilder("mobilenet_v2", (1, 3, size, size))
    x = b.relu6("conv1/relu6", b.conv("conv1", b.input, 32, 3, stride=2, pad=1))
    c, k = 32, 0
    for t, out, n, s in V2_ROWS:
        for r in range(n):
            k += 1
            stride = s if r == 0 else 1
            h = x
            mid = c * t
            if t != 1:
                h = b.relu6(f"b{k}/expand/relu6", b.conv(f"b{k}/expand", h, mid, 1))
            h = b.relu6(f"b{k}/dw/relu6", b.conv(f"b{k}/dw", h, mid, 3, stride=stride, pad=1, group=mid))
            h = b.conv(f"b{k}/project", h, out, 1)
            if stride == 1 and c == out:
                h = b.eltwise(f"b{k}/add", [x, h])
            x, c = h, out
    x = b.relu6("conv_last/relu6", b.conv("conv_last", x, 1280, 1))
    x = b.pool("pool", x, "AVE", global_pooling=True)
    b.softmax("prob", b.fc("fc", x, classes))
    return b.build()
