"""ONNX models in: a graph of Gemm / MatMul / Conv layers -> :class:`ImportedModel`.

The file is read within a size limit (:data:`MAX_ONNX_BYTES`, regular files only), parsed
with the ``onnx`` package and checked by ``onnx.checker``; every failure is one
:class:`~compressor.errors.ModelImportError` naming the file (and the node, by name and op).
The nodes are walked in the graph's order (ONNX requires topological order) and mapped to
the project's Caffe-vocabulary graph (:class:`compressor.graph.NetBuilder`):

=======================  ===================================================================
ONNX                     here
=======================  ===================================================================
Gemm                     InnerProduct (``transA = 0``, ``alpha = beta = 1``; ``transB`` 0/1)
MatMul (constant B)      InnerProduct, ``W = B.T``; a following ``Add`` of a constant
                         (per output) is folded into the bias
Conv                     Convolution: 2-D kernels, strides, symmetric pads, group;
                         dilations 1, ``auto_pad`` NOTSET or VALID; an ``Add`` of a
                         per-channel constant is folded into the bias
BatchNormalization       folded into the Conv / Gemm / MatMul that feeds it (only consumer):
                         ``s = scale / sqrt(var + eps)``, ``W' = s W``, ``b' = s (b - mean) + B``
Relu, LeakyRelu          ReLU (``negative_slope = alpha``)
MaxPool, AveragePool     Pooling, when the output size and (AveragePool) the divisor equal
                         Caffe's (ceil-mode size; divisor = window clipped to the padded
                         input): see :func:`_pool`
GlobalAveragePool/Max    Pooling with global_pooling
Flatten (axis 1)         Flatten; ``Reshape`` to ``(N, -1)`` likewise
Concat, Softmax          Concat; Softmax over axis 1 (the channels)
Dropout, Identity        nothing (inference); ``Constant`` feeds constants
=======================  ===================================================================

Everything else (an Add of two tensors, Clip/ReLU6, ConvTranspose, Resize, Sigmoid...) is
refused, naming the node and op. Batch dimensions given symbolically are read as 1.
Tensors stored as external data are refused wherever they are (initializers, Constant
values, attributes: the model must be one file); string fields must be UTF-8, float
attributes finite (docs/format.md "Limits of the readers").

The reading is split by concern: :mod:`.onnx_file` (the file, protobuf and checker),
:mod:`.onnx_walk` (the walk over the nodes and its helpers), :mod:`.onnx_ops` (each op
mapped onto the graph).
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
