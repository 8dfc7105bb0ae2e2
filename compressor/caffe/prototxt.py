"""Caffe network description from a prototxt -> :class:`compressor.graph.net.Net`.

:func:`parse_net` / :func:`load_net` turn a Caffe ``NetParameter`` (parsed by
:func:`compressor.caffe.textformat.parse_text`) into a :class:`Net`: the input blobs and
their shapes, the layer list (name, type, bottoms, tops, convolution / pooling /
inner-product parameters) and, by :func:`compressor.graph.net.infer_shapes`, the shape of
every blob and the weight shape of every parameter layer.

Every error is a :class:`~compressor.errors.PrototxtError` naming the line (syntax) or
the layer (graph).
"""
from __future__ import annotations

import pathlib
from typing import Any

from ..errors import GraphError, PrototxtError
from ..fileio import read_regular_file
from ..graph.net import (
    SUPPORTED_TYPES,
    CaffeLayer,
    ConvParams,
    Net,
    PoolParams,
    conv_out_size,
    infer_shapes,
    pool_out_size,
)
from ..textmsg import Message
from .textformat import parse_text

MAX_PROTOTXT_BYTES = 64 << 20
"""Largest prototxt read (64 MiB)."""

__all__ = ["ConvParams", "PoolParams", "CaffeLayer", "Net", "SUPPORTED_TYPES", "parse_net", "load_net",
           "conv_out_size", "pool_out_size"]


# Caffe's deprecated V1 layer type enums (``layers { type: CONVOLUTION }``).
_V1_TYPES = {
    "CONVOLUTION": "Convolution", "RELU": "ReLU", "POOLING": "Pooling", "CONCAT": "Concat",
    "DROPOUT": "Dropout", "SOFTMAX": "Softmax", "INNER_PRODUCT": "InnerProduct",
    "LRN": "LRN", "FLATTEN": "Flatten", "SOFTMAX_LOSS": "SoftmaxWithLoss",
}
def _pos_int(v: Any, what: str, lay: str, minimum: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise PrototxtError(f"layer {lay!r}: {what} must be an integer >= {minimum}, got {v!r}")
    return v


def _pair(msg: Message, base: str, h: str, w: str, default: int | None, lay: str,
          minimum: int) -> tuple[int, int] | None:
    vals = msg.all(base)
    hv, wv = msg.one(h), msg.one(w)
    if hv is not None or wv is not None:
        if vals:
            raise PrototxtError(f"layer {lay!r}: give either {base} or {h}/{w}, not both")
        if hv is None or wv is None:
            if default is None:
                raise PrototxtError(f"layer {lay!r}: {h} and {w} must be given together")
            hv = default if hv is None else hv
            wv = default if wv is None else wv
        return (_pos_int(hv, h, lay, minimum), _pos_int(wv, w, lay, minimum))
    if not vals:
        return None if default is None else (default, default)
    if len(vals) == 1:
        v = _pos_int(vals[0], base, lay, minimum)
        return (v, v)
    if len(vals) == 2:
        return (_pos_int(vals[0], base, lay, minimum), _pos_int(vals[1], base, lay, minimum))
    raise PrototxtError(f"layer {lay!r}: {base} given {len(vals)} times (2-D layers take 1 or 2)")


def _shape_from(msg: Message, lay: str) -> tuple[int, ...]:
    dims = msg.all("dim")
    if not dims:
        raise PrototxtError(f"layer {lay!r}: shape without dim entries")
    return tuple(_pos_int(d, "dim", lay) for d in dims)


def _conv_params(lay: CaffeLayer) -> ConvParams:
    cp = lay.params.one("convolution_param")
    if not isinstance(cp, Message):
        raise PrototxtError(f"layer {lay.name!r} (line {lay.line}): Convolution without convolution_param")
    n = lay.name
    num_output = _pos_int(cp.one("num_output"), "num_output", n)
    kernel = _pair(cp, "kernel_size", "kernel_h", "kernel_w", None, n, 1)
    if kernel is None:
        raise PrototxtError(f"layer {n!r}: convolution_param has no kernel_size")
    stride = _pair(cp, "stride", "stride_h", "stride_w", 1, n, 1)
    pad = _pair(cp, "pad", "pad_h", "pad_w", 0, n, 0)
    if cp.all("dilation") and any(d != 1 for d in cp.all("dilation")):
        raise PrototxtError(f"layer {n!r}: dilated convolution is not supported")
    group = _pos_int(cp.one("group", 1), "group", n)
    bias_term = cp.one("bias_term", True)
    if num_output % group:
        raise PrototxtError(f"layer {n!r}: num_output {num_output} not divisible by group {group}")
    return ConvParams(num_output, kernel, stride, pad, group, bool(bias_term))


def _pool_params(lay: CaffeLayer) -> PoolParams:
    pp = lay.params.one("pooling_param")
    if not isinstance(pp, Message):
        raise PrototxtError(f"layer {lay.name!r} (line {lay.line}): Pooling without pooling_param")
    n = lay.name
    method = str(pp.one("pool", "MAX"))
    if method not in ("MAX", "AVE"):
        raise PrototxtError(f"layer {n!r}: pooling method {method!r} not supported (MAX, AVE)")
    glob = bool(pp.one("global_pooling", False))
    kernel = _pair(pp, "kernel_size", "kernel_h", "kernel_w", None, n, 1)
    if kernel is None and not glob:
        raise PrototxtError(f"layer {n!r}: pooling_param has no kernel_size and is not global")
    stride = _pair(pp, "stride", "stride_h", "stride_w", 1, n, 1)
    pad = _pair(pp, "pad", "pad_h", "pad_w", 0, n, 0)
    return PoolParams(method, kernel, stride, pad, glob)


def parse_net(msg: Message) -> Net:
    """Build a :class:`Net` from a parsed Caffe ``NetParameter`` and infer all shapes."""
    name = msg.one("name", "")
    inputs: dict[str, tuple[int, ...]] = {}
    in_names = msg.all("input")
    in_dims = msg.all("input_dim")
    in_shapes = msg.all("input_shape")
    if in_names:
        if in_dims:
            if len(in_dims) != 4 * len(in_names):
                raise PrototxtError(f"{len(in_names)} input(s) need {4 * len(in_names)} input_dim "
                                    f"values, found {len(in_dims)}")
            for j, b in enumerate(in_names):
                inputs[b] = tuple(_pos_int(d, "input_dim", b) for d in in_dims[4 * j:4 * j + 4])
        elif in_shapes:
            if len(in_shapes) != len(in_names):
                raise PrototxtError(f"{len(in_names)} input(s) but {len(in_shapes)} input_shape blocks")
            for b, s in zip(in_names, in_shapes):
                inputs[b] = _shape_from(s, b)
        else:
            raise PrototxtError(f"input(s) {in_names} declared without input_dim or input_shape")

    raw_layers = msg.all("layer") + msg.all("layers")
    if msg.all("layer") and msg.all("layers"):
        raise PrototxtError("the prototxt mixes 'layer' and deprecated 'layers' blocks")
    layers: list[CaffeLayer] = []
    blob_shapes: dict[str, tuple[int, ...]] = dict(inputs)
    seen_names: set[str] = set()
    for raw in raw_layers:
        if not isinstance(raw, Message):
            raise PrototxtError("'layer' must be a { ... } block")
        lname = raw.one("name")
        if not isinstance(lname, str) or not lname:
            raise PrototxtError(f"line {raw.line}: layer without a name")
        if lname in seen_names:
            raise PrototxtError(f"line {raw.line}: duplicate layer name {lname!r}")
        seen_names.add(lname)
        ltype = raw.one("type")
        if ltype is None:
            raise PrototxtError(f"layer {lname!r} (line {raw.line}): no type")
        ltype = _V1_TYPES.get(str(ltype), str(ltype))
        lay = CaffeLayer(lname, ltype, [str(b) for b in raw.all("bottom")],
                        [str(t) for t in raw.all("top")], raw.line, params=raw)
        if ltype == "Input":
            ip = raw.one("input_param")
            shapes = ip.all("shape") if isinstance(ip, Message) else []
            if len(shapes) != len(lay.tops):
                raise PrototxtError(f"layer {lname!r}: Input needs one shape per top")
            for tb, s in zip(lay.tops, shapes):
                blob_shapes[tb] = inputs[tb] = _shape_from(s, lname)
            lay.out_shapes = [inputs[tb] for tb in lay.tops]
            layers.append(lay)
            continue
        # phase-specific layers (TRAIN-only data layers, losses) are not part of inference
        if ltype in ("SoftmaxWithLoss", "Accuracy", "Data", "ImageData"):
            raise PrototxtError(f"layer {lname!r}: type {ltype!r} is not an inference layer; "
                                "give a deploy prototxt")
        if ltype == "Convolution":
            lay.conv = _conv_params(lay)
            lay.bias_term = lay.conv.bias_term
        elif ltype == "Pooling":
            lay.pool = _pool_params(lay)
        elif ltype == "Concat":
            cp = raw.one("concat_param")
            lay.concat_axis = 1 if not isinstance(cp, Message) else cp.one("axis", cp.one("concat_dim", 1))
        elif ltype == "ReLU":
            rp = raw.one("relu_param")
            lay.negative_slope = 0.0 if not isinstance(rp, Message) else float(rp.one("negative_slope", 0.0))
        elif ltype == "InnerProduct":
            ipp = raw.one("inner_product_param")
            if not isinstance(ipp, Message):
                raise PrototxtError(f"layer {lname!r}: InnerProduct without inner_product_param")
            lay.num_output = _pos_int(ipp.one("num_output"), "num_output", lname)
            lay.bias_term = bool(ipp.one("bias_term", True))
        if not lay.tops:
            raise PrototxtError(f"layer {lname!r} (line {raw.line}): no top blob")
        for b in lay.bottoms:
            if b not in blob_shapes:
                raise PrototxtError(f"layer {lname!r} (line {raw.line}): bottom blob {b!r} is never "
                                    "produced by an earlier layer or input")
        lay.in_shapes = [blob_shapes[b] for b in lay.bottoms]
        try:
            outs = infer_shapes(lay, lay.in_shapes)
        except GraphError as e:
            raise PrototxtError(str(e)) from e
        if len(lay.tops) != len(outs):
            raise PrototxtError(f"layer {lname!r}: {len(lay.tops)} tops, expected {len(outs)}")
        lay.out_shapes = outs
        for tb, s in zip(lay.tops, outs):
            blob_shapes[tb] = s
        layers.append(lay)
    if not inputs:
        raise PrototxtError("the network declares no input (input/input_dim, input_shape or Input layer)")
    return Net(str(name), inputs, layers, blob_shapes)


def load_net(path: str | pathlib.Path) -> Net:
    """Read and parse a prototxt file into a :class:`Net` (errors name the file)."""
    p = pathlib.Path(path)
    try:
        text = read_regular_file(p, MAX_PROTOTXT_BYTES, PrototxtError, "prototxt").decode("utf-8")
    except OSError as e:
        raise PrototxtError(f"{p}: cannot read: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise PrototxtError(f"{p}: not a text file ({e})") from e
    try:
        return parse_net(parse_text(text))
    except PrototxtError as e:
        raise PrototxtError(f"{p}: {e}") from e
