"""Graphs of the project's own networks, for compressed files that name one.

A ``.dcmp`` written by ``eie-compress train`` records ``"model": "lenet300"`` or
``"lenet5"`` but no graph; :func:`known_graph` rebuilds it
(:mod:`compressor.training.networks`: LeNet-300-100 on a flattened 28x28 image; Caffe's
LeNet-5, conv1 20@5x5, max-pool 2/2, conv2 50@5x5, max-pool 2/2, ip1 500, ReLU, ip2 10) so
``eie-simulate --model`` can run its convolutions as M x V per output position.
"""
from __future__ import annotations

from ..graph.builder import NetBuilder
from ..graph.net import Net

__all__ = ["KNOWN_GRAPHS", "known_graph"]

KNOWN_GRAPHS = ("lenet300", "lenet5")


def known_graph(name: str | None) -> Net | None:
    """The graph of one of :data:`KNOWN_GRAPHS`, else None."""
    if name == "lenet300":
        b = NetBuilder("lenet300", (1, 784))
        x = b.relu("relu1", b.fc("ip1", b.input, 300))
        x = b.relu("relu2", b.fc("ip2", x, 100))
        b.fc("ip3", x, 10)
        return b.build()
    if name == "lenet5":
        b = NetBuilder("lenet5", (1, 1, 28, 28))
        x = b.pool("pool1", b.conv("conv1", b.input, 20, kernel=5), "MAX", kernel=2, stride=2)
        x = b.pool("pool2", b.conv("conv2", x, 50, kernel=5), "MAX", kernel=2, stride=2)
        x = b.relu("relu1", b.fc("ip1", x, 500))
        b.fc("ip2", x, 10)
        return b.build()
    return None
