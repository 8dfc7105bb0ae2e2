"""The network graph every model reader ends in, and its numpy forward pass.

* :mod:`compressor.graph.net`: :class:`Net` (layers in order, every blob's shape, weight
  shapes) and the shape rules (:func:`infer_shapes`);
* :mod:`compressor.graph.builder`: :class:`NetBuilder`, a Net in code;
* :mod:`compressor.graph.forward`: float32 inference of a Net with given weights, and the
  per-layer M x V workloads (weight matrix + unrolled inputs) an EIE engine consumes.

The Caffe reader (:mod:`compressor.caffe.prototxt`) produces a Net too.
"""
from compressor.graph.builder import NetBuilder
from compressor.graph.net import ConvParams, Layer, Net, PoolParams, infer_shapes

__all__ = ["Net", "Layer", "ConvParams", "PoolParams", "NetBuilder", "infer_shapes"]
