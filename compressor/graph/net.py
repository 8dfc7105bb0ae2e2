"""The network type every reader ends in: layers in order, blob shapes, weight shapes.

A :class:`Net` is an ordered list of :class:`~compressor.graph.layer.Layer` objects
(Caffe's vocabulary, :mod:`compressor.graph.layer`) with every blob's shape inferred by
walking the graph in order (:func:`infer_shapes`, through each layer type's shape rule in
the op table :data:`compressor.graph.ops.OPS`), and the weight shape ``(out, in/group, kh,
kw)`` of every convolution (``(out, in)`` for InnerProduct). The Caffe prototxt reader
(:mod:`compressor.caffe.prototxt`), the programmatic builder
(:class:`compressor.graph.builder.NetBuilder`) and the model importers all produce one;
:mod:`compressor.graph.forward` runs it in numpy and unrolls its layers into the M x V
work an EIE-style engine consumes.

The layer parameter types and size rules are re-exported here from
:mod:`compressor.graph.layer`; :mod:`compressor.graph.ops` lists the layer types and
their rules. Every graph error is a :class:`~compressor.errors.GraphError` naming the layer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import GraphError
from .layer import (
    BatchNormParams,
    CaffeLayer,
    ConvParams,
    Layer,
    PoolParams,
    conv_out_size,
    pool_out_size,
)
from .ops import OPS

__all__ = ["ConvParams", "BatchNormParams", "PoolParams", "Layer", "CaffeLayer", "Net", "SUPPORTED_TYPES",
           "conv_out_size", "pool_out_size", "infer_shapes", "layer_macs", "network_macs"]


@dataclass
class Net:
    """A network: name, input blob shapes, layers in order, every blob's shape.

    ``input_layouts``: per input blob whose file layout differs from the graph's, the
    permutation ``perm`` with ``graph_input = given.transpose(perm)`` (an NHWC image
    given to a graph whose leading Transpose was folded away: ``(0, 3, 1, 2)``); a runner
    checks and converts what users give with :meth:`input_from_file_layout`."""

    name: str
    inputs: dict[str, tuple[int, ...]]
    layers: list[Layer]
    blob_shapes: dict[str, tuple[int, ...]]
    input_layouts: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def file_input_shape(self, name: str) -> tuple[int, ...]:
        """The shape input ``name`` has in the model file's layout (what users give)."""
        shape = self.inputs[name]
        perm = self.input_layouts.get(name)
        if perm is None:
            return tuple(shape)
        out = [0] * len(shape)
        for k, p in enumerate(perm):
            out[p] = shape[k]
        return tuple(out)

    def input_from_file_layout(self, name: str, x):
        """A value given in the file's layout, as the graph's input ``name``."""
        perm = self.input_layouts.get(name)
        return x if perm is None else x.transpose(perm)

    def layer(self, name: str) -> Layer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(f"no layer named {name!r}")

    @property
    def weight_layers(self) -> list[Layer]:
        """Layers that hold weights (Convolution, Deconvolution, InnerProduct), in order."""
        return [lay for lay in self.layers if lay.has_weights]


SUPPORTED_TYPES = ("Convolution", "InnerProduct", "ReLU", "Pooling", "Concat", "Dropout",
                   "Softmax", "LRN", "Flatten", "Input", "Eltwise", "Clip", "PReLU",
                   "Deconvolution", "Unpool", "BatchNorm", "ChannelPad", "MatMul", "Embed",
                   "LSTM", "GRU", "Unary", "Binary", "Reduce", "Reshape", "Transpose", "Slice",
                   "Gather", "Pad", "Expand")


def _at(lay: Layer) -> str:
    return f" (line {lay.line})" if lay.line else ""


def layer_macs(lay: Layer) -> int:
    """Multiply-accumulates of one parameter layer for one image (dense, from the shapes):
    a convolution ``out * in/group * kh * kw`` per output position; a transposed
    convolution ``in * out/group * kh * kw`` per input position (the scatter form; its
    zero-inserted M x V form issues more products, all with zero activations); InnerProduct
    ``out * in``; a MatMul, Embed (dense: the one-hot input's zeros included) or recurrent
    matrix ``out * in`` per position (per time step and batch row); 0 for a layer without
    weights."""
    if lay.weight_shape is None:
        return 0
    w = math.prod(lay.weight_shape)
    if lay.type in ("MatMul", "Embed"):
        return w * math.prod(lay.out_shapes[0][:-1])
    if lay.type in ("LSTM", "GRU"):
        return w * math.prod(lay.in_shapes[0][:2])
    if lay.type == "Convolution":
        return w * lay.out_shapes[0][2] * lay.out_shapes[0][3]
    if lay.type == "Deconvolution":
        return w * lay.in_shapes[0][2] * lay.in_shapes[0][3]
    return w


def network_macs(net: Net) -> int:
    """Dense multiply-accumulates of one image through ``net`` (:func:`layer_macs`)."""
    return sum(layer_macs(lay) for lay in net.weight_layers)


def infer_shapes(lay: Layer, ins: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """The top shapes of ``lay`` given its bottom shapes ``ins``, by the shape rule of its
    type in :data:`compressor.graph.ops.OPS` (which also sets ``lay.weight_shape`` for a
    weight layer and normalises ``lay.concat_axis``); a :class:`GraphError` for a type
    without one."""
    op = OPS.get(lay.type)
    if op is None:
        raise GraphError(f"layer {lay.name!r}{_at(lay)}: layer type {lay.type!r} is not supported "
                         f"(supported: {', '.join(SUPPORTED_TYPES)})")
    return op.shape(lay, ins)
