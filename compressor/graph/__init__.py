"""The network graph every model reader ends in, and its numpy forward pass.

* :mod:`compressor.graph.layer`: :class:`Layer` and its parameters (Caffe's vocabulary);
* :mod:`compressor.graph.net`: :class:`Net` (layers in order, every blob's shape, weight
  shapes) and :func:`infer_shapes`;
* :mod:`compressor.graph.ops`: the op table, each layer type's shape rule and forward
  (the weight layers' in :mod:`compressor.graph.weight_ops`);
* :mod:`compressor.graph.kernels`: the numpy kernels (im2col, convolution, pooling, ...);
* :mod:`compressor.graph.hostops`: the host-side layers of imported graphs (element-wise
  functions, broadcasting arithmetic, reductions, reshapes...) and
  :func:`~compressor.graph.hostops.host_work`, the host elements and flops of any layer;
* :mod:`compressor.graph.recurrent`: LSTM / GRU layers (one M x V of the recurrent matrix
  per time step, the gate math on the host);
* :mod:`compressor.graph.builder`: :class:`NetBuilder`, a Net in code;
* :mod:`compressor.graph.forward`: float32 inference of a Net with given weights
  (:func:`forward`, one layer: :func:`forward_layer`), and the per-layer M x V workloads
  (weight matrix + unrolled inputs) an EIE engine consumes (:func:`layer_mxv`);
* :mod:`compressor.graph.relu`: :func:`eie_relu`, whether EIE's ReLU unit applies the
  activation after a weight layer;
* :mod:`compressor.graph.fold`: BatchNorm folded into the convolution before it.

The Caffe reader (:mod:`compressor.caffe.prototxt`) produces a Net too.
"""
from compressor.graph.builder import NetBuilder
from compressor.graph.forward import forward_layer, layer_mxv
from compressor.graph.net import ConvParams, Layer, Net, PoolParams, infer_shapes
from compressor.graph.relu import EieRelu, eie_relu

__all__ = ["Net", "Layer", "ConvParams", "PoolParams", "NetBuilder", "infer_shapes",
           "forward_layer", "layer_mxv", "EieRelu", "eie_relu"]
