"""ONNX models in: a graph of Gemm / MatMul / Conv / Gather / LSTM / GRU layers and the
host work around them -> :class:`ImportedModel`.

The file is read within a size limit (:data:`MAX_ONNX_BYTES`, regular files only), parsed
with the ``onnx`` package and checked by ``onnx.checker``. The nodes are walked in the
graph's order (ONNX requires topological order) and mapped to the project's graph
(:class:`compressor.graph.NetBuilder`); every problem of the walk is collected and
reported in one :class:`~compressor.errors.ModelImportError` naming the file, the
unsupported operations first, then each other refusal naming its node and op:

=======================  ===================================================================
ONNX                     here
=======================  ===================================================================
Gemm                     InnerProduct (``transA = 0``, ``alpha = beta = 1``; ``transB`` 0/1)
MatMul (constant B)      InnerProduct, ``W = B.T`` (a ``MatMul`` layer on a 3-D or larger
                         input); a following per-output constant Add / Sub / Mul / Div is
                         folded into the bias / weights
Conv                     Convolution: 2-D, or 1-D as kernel height 1; strides, dilations,
                         group; pads or ``auto_pad`` (asymmetric: a host zero Pad first)
BatchNormalization       folded into the Conv / Gemm / MatMul that feeds it (only consumer):
                         ``s = scale / sqrt(var + eps)``, ``W' = s W``, ``b' = s (b - mean) + B``;
                         elsewhere a host BatchNorm
Relu, LeakyRelu          ReLU (``negative_slope = alpha``)
MaxPool, AveragePool     Pooling: floor mode with any (asymmetric, automatic) padding and
                         ``count_include_pad``; ceil mode by Caffe's rules (:func:`_pool`)
GlobalAveragePool/Max    Pooling with global_pooling
Flatten, Reshape...      Flatten (a 4-D map to ``(N, -1)``) or a host Reshape
Concat, Softmax          Concat; Softmax on any axis
Dropout, Identity        nothing (inference); ``Constant`` feeds constants
Gather (constant table)  Embed (an M x V with a one-hot input); OneHot likewise
LSTM, GRU                per direction a MatMul input matrix and a recurrent layer
                         (:mod:`compressor.graph.recurrent`; :mod:`.onnx_recurrent`)
element-wise, shapes     host layers and constant folding: :mod:`.onnx_host`,
                         :mod:`.onnx_layout`, :mod:`.onnx_elementwise`
=======================  ===================================================================

Everything else (ConvTranspose, Resize, Loop, a MatMul of two computed tensors...) is
refused, naming the node and op. A symbolic batch dimension is read as 1, other symbolic
dimensions take ``input_shapes``. Tensors stored as external data are refused wherever
they are (initializers, Constant values, attributes: the model must be one file); string
fields must be UTF-8, float attributes finite, constants free of NaN (infinity only as a
Max / Min mask or a MaxPool's padding; docs/format.md "Limits of the readers").

The reading is split by concern: :mod:`.onnx_file` (the file, protobuf and checker),
:mod:`.onnx_walk` (the inputs, the walk over the nodes and its helpers), :mod:`.onnx_ops`
(the weight layers, activations and pooling), :mod:`.onnx_host` (constant folding,
padding geometry) with its mixins :mod:`.onnx_layout` (layouts, reshapes, slicing, padding),
:mod:`.onnx_elementwise` (element-wise host ops) and :mod:`.onnx_recurrent` (LSTM / GRU).
docs/byom.md "Exporter patterns, host ops and
recurrent layers".
"""
from __future__ import annotations

import pathlib

from .model import ImportedModel
from .onnx_file import MAX_ONNX_BYTES, onnx_model_from_bytes, read_onnx_model
from .onnx_ops import SUPPORTED_OPS
from .onnx_walk import OnnxWalk

__all__ = ["MAX_ONNX_BYTES", "SUPPORTED_OPS", "read_onnx", "onnx_model_from_bytes"]


def read_onnx(path: str | pathlib.Path, input_shapes: dict[str, tuple] | None = None,
              input_values: dict | None = None) -> ImportedModel:
    """An ONNX file as an :class:`ImportedModel` (see the module docstring for the ops).

    ``input_shapes``: input name -> shape, for inputs with symbolic dimensions (the CLI's
    ``--input-shape NAME=1x3x48x48``); ``input_values``: input name -> a fixed value (an
    integer scalar such as a sample rate that only selects an ``If`` branch), which makes
    that input a constant of the graph."""
    return OnnxWalk(read_onnx_model(path), str(path), input_shapes, input_values).read()
