"""Host-side layers of imported graphs: element-wise functions, broadcasting arithmetic,
reductions and data movement, computed in float on the host (EIE runs only the M x V
products, paper Sec. III; the NeuralTalk LSTM's gate non-linearities ran beside it, Sec. VI).

Each layer type has a shape rule and a numpy forward (registered in the op table,
:data:`compressor.graph.ops.OPS`) and a host work count (:func:`host_work`: elements
written and floating-point operations, by the per-element costs of :data:`UNARY_COST`), so
a runner reports host work rather than dropping it:

===============  ===========================================================================
type             what (fields of :class:`~compressor.graph.layer.Layer`)
===============  ===========================================================================
Unary            ``op`` in :data:`UNARY_COST`: sigmoid, tanh, hardsigmoid (``alpha``,
                 ``beta``), hardswish, gelu (erf form), gelu_tanh, silu (``x sigmoid(x)``),
                 exp, log, sqrt, neg, abs, erf, reciprocal, softplus, relu, elu
                 (``alpha``), selu (``alpha``, scale ``beta``), softsign
Binary           ``op`` add / sub / mul / div / max / min / pow of two bottoms (numpy
                 broadcasting, as ONNX's) or of one bottom and a constant (``const``,
                 ``const_shape``; ``const_first``: the constant is the left operand)
Reduce           ``op`` sum / mean / max / min over ``axes`` (all when empty), ``keepdims``
Reshape          to ``dims`` (every size given)
Transpose        permutation ``axes``
Slice            ``starts``, ``ends``, ``axes``, ``steps`` (resolved: 0 <= start <= end, step >= 1)
Gather           constant ``indices`` (shape ``dims``) along ``axis``
Pad              constant ``alpha`` padding, ``dims`` = begins then ends per axis
Expand           broadcast to ``dims``
===============  ===========================================================================

Softmax (any ``axis``) is in :mod:`compressor.graph.ops`. Shapes may have any rank here.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ForwardError, GraphError
from .layer import Layer

__all__ = ["UNARY_COST", "BINARY_OPS", "REDUCE_OPS", "HOST_TYPES", "host_work", "unary",
           "binary"]

Shape = tuple[int, ...]

#: floating-point operations counted per output element of each Unary function (the
#: project's counting convention: one per add, multiply, compare, divide, exp, erf, tanh)
UNARY_COST = {"sigmoid": 3, "tanh": 1, "hardsigmoid": 4, "hardswish": 5, "gelu": 5,
              "gelu_tanh": 9, "silu": 4, "exp": 1, "log": 1, "sqrt": 1, "neg": 1, "abs": 1,
              "erf": 1, "reciprocal": 1, "softplus": 3, "relu": 1, "elu": 3, "selu": 4,
              "softsign": 3}
BINARY_OPS = ("add", "sub", "mul", "div", "max", "min", "pow")
REDUCE_OPS = ("sum", "mean", "max", "min")
HOST_TYPES = ("Unary", "Binary", "Reduce", "Reshape", "Transpose", "Slice", "Gather", "Pad",
              "Expand")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _erf(x):
    from scipy.special import erf
    return erf(x)


def unary(op: str, x: np.ndarray, alpha: float = 0.0, beta: float = 0.0) -> np.ndarray:
    """One element-wise function of :data:`UNARY_COST` in float64, as ONNX defines it."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if op == "sigmoid":
            return _sigmoid(x)
        if op == "tanh":
            return np.tanh(x)
        if op == "hardsigmoid":
            return np.clip(alpha * x + beta, 0.0, 1.0)
        if op == "hardswish":
            return x * np.clip(x / 6.0 + 0.5, 0.0, 1.0)
        if op == "gelu":
            return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
        if op == "gelu_tanh":
            return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
        if op == "silu":
            return x * _sigmoid(x)
        if op == "exp":
            return np.exp(x)
        if op == "log":
            return np.log(x)
        if op == "sqrt":
            return np.sqrt(x)
        if op == "neg":
            return -x
        if op == "abs":
            return np.abs(x)
        if op == "erf":
            return _erf(x)
        if op == "reciprocal":
            return 1.0 / x
        if op == "softplus":
            return np.logaddexp(0.0, x)
        if op == "relu":
            return np.maximum(x, 0.0)
        if op == "elu":
            return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
        if op == "selu":
            return beta * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
        if op == "softsign":
            return x / (1.0 + np.abs(x))
    raise ForwardError(f"unknown element-wise function {op!r}")


def binary(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a op b`` with numpy (= ONNX multidirectional) broadcasting, float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
                "max": np.maximum, "min": np.minimum, "pow": np.power}[op](a, b)


def _err(lay: Layer, msg: str) -> GraphError:
    return GraphError(f"layer {lay.name!r} ({lay.type}): {msg}")


def _one(lay: Layer, ins: list[Shape]) -> Shape:
    if len(ins) != 1:
        raise _err(lay, f"expects 1 bottom, has {len(ins)}")
    return tuple(ins[0])


def _axis(lay: Layer, a: int, rank: int) -> int:
    if not -rank <= a < rank:
        raise _err(lay, f"axis {a} out of range for rank {rank}")
    return a % rank


def _const(lay: Layer) -> np.ndarray:
    n = math.prod(lay.const_shape)
    if len(lay.const) != n:
        raise _err(lay, f"{len(lay.const)} constant values for shape {lay.const_shape}")
    return np.asarray(lay.const, np.float64).reshape(lay.const_shape)


# ---- shape rules ---------------------------------------------------------------------
def unary_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    if lay.op not in UNARY_COST:
        raise _err(lay, f"unknown function {lay.op!r} (known: {', '.join(UNARY_COST)})")
    return [_one(lay, ins)]


def binary_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    if lay.op not in BINARY_OPS:
        raise _err(lay, f"unknown operation {lay.op!r} (known: {', '.join(BINARY_OPS)})")
    shapes = list(ins)
    if len(ins) == 1:
        _const(lay)
        shapes.append(tuple(lay.const_shape))
    elif len(ins) != 2:
        raise _err(lay, f"expects 1 bottom and a constant, or 2 bottoms; has {len(ins)}")
    try:
        out = tuple(int(d) for d in np.broadcast_shapes(*[tuple(x) for x in shapes]))
    except (ValueError, OverflowError):
        raise _err(lay, f"shapes {shapes} do not broadcast") from None
    return [out]


def reduce_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    s = _one(lay, ins)
    if lay.op not in REDUCE_OPS:
        raise _err(lay, f"unknown reduction {lay.op!r} (known: {', '.join(REDUCE_OPS)})")
    axes = {_axis(lay, a, len(s)) for a in lay.axes} if lay.axes else set(range(len(s)))
    if lay.keepdims:
        return [tuple(1 if d in axes else n for d, n in enumerate(s))]
    return [tuple(n for d, n in enumerate(s) if d not in axes)]


def reshape_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    s = _one(lay, ins)
    if any(d < 0 for d in lay.dims) or math.prod(lay.dims) != math.prod(s):
        raise _err(lay, f"cannot reshape {s} to {lay.dims}")
    return [tuple(lay.dims)]


def transpose_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    s = _one(lay, ins)
    if sorted(lay.axes) != list(range(len(s))):
        raise _err(lay, f"permutation {lay.axes} for rank {len(s)}")
    return [tuple(s[a] for a in lay.axes)]


def _slices(lay: Layer, s: Shape) -> tuple[slice, ...]:
    if not (len(lay.starts) == len(lay.ends) == len(lay.axes) == len(lay.steps)):
        raise _err(lay, "starts, ends, axes, steps must have one value per sliced axis")
    sl = [slice(None)] * len(s)
    for st, en, ax, sp in zip(lay.starts, lay.ends, lay.axes, lay.steps):
        if sp < 1 or st < 0 or en < st:
            raise _err(lay, f"slice {st}:{en}:{sp}: non-negative start <= end and step >= 1 "
                       "expected (the importer resolves the others)")
        sl[_axis(lay, ax, len(s))] = slice(st, en, sp)
    return tuple(sl)


def slice_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    s = _one(lay, ins)
    out = tuple(len(range(*sl.indices(n))) for sl, n in zip(_slices(lay, s), s))
    if 0 in out:
        raise _err(lay, f"slicing {s} leaves an empty tensor")
    return [tuple(int(d) for d in out)]


def gather_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    s = _one(lay, ins)
    ax = _axis(lay, 0 if lay.axis is None else lay.axis, len(s))
    if math.prod(lay.dims) != len(lay.indices) or any(not -s[ax] <= i < s[ax] for i in lay.indices):
        raise _err(lay, f"indices {lay.indices} (shape {lay.dims}) out of range for axis {ax} of {s}")
    return [tuple(s[:ax]) + tuple(lay.dims) + tuple(s[ax + 1:])]


def pad_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    s = _one(lay, ins)
    if len(lay.dims) != 2 * len(s) or any(p < 0 for p in lay.dims):
        raise _err(lay, f"pads {lay.dims} for rank {len(s)}: begins then ends, >= 0")
    r = len(s)
    return [tuple(n + lay.dims[d] + lay.dims[r + d] for d, n in enumerate(s))]


def expand_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    s = _one(lay, ins)
    try:
        out = tuple(int(d) for d in np.broadcast_shapes(s, tuple(lay.dims)))
    except (ValueError, OverflowError):
        raise _err(lay, f"{s} does not broadcast to {lay.dims}") from None
    return [out]


# ---- forwards ------------------------------------------------------------------------
def _f32(y) -> np.ndarray:
    return np.asarray(y, dtype=np.float32)


def unary_forward(lay, ins, weights):
    return _f32(unary(lay.op, ins[0], lay.alpha, lay.beta))


def binary_forward(lay, ins, weights):
    if len(ins) == 2:
        return _f32(binary(lay.op, ins[0], ins[1]))
    c = _const(lay)
    return _f32(binary(lay.op, c, ins[0]) if lay.const_first else binary(lay.op, ins[0], c))


def reduce_forward(lay, ins, weights):
    x = ins[0].astype(np.float64)
    axes = tuple(a % x.ndim for a in lay.axes) if lay.axes else None
    fn = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[lay.op]
    return _f32(fn(x, axis=axes, keepdims=lay.keepdims))


def reshape_forward(lay, ins, weights):
    return ins[0].reshape(lay.dims)


def transpose_forward(lay, ins, weights):
    return np.ascontiguousarray(ins[0].transpose(lay.axes))


def slice_forward(lay, ins, weights):
    return np.ascontiguousarray(ins[0][_slices(lay, ins[0].shape)])


def gather_forward(lay, ins, weights):
    idx = np.asarray(lay.indices, dtype=np.int64).reshape(lay.dims)
    return np.take(ins[0], idx, axis=0 if lay.axis is None else lay.axis)


def pad_forward(lay, ins, weights):
    r = ins[0].ndim
    return np.pad(ins[0], [(lay.dims[d], lay.dims[r + d]) for d in range(r)],
                  constant_values=np.float32(lay.alpha))


def expand_forward(lay, ins, weights):
    return np.ascontiguousarray(np.broadcast_to(ins[0], np.broadcast_shapes(ins[0].shape,
                                                                            tuple(lay.dims))))


SHAPES = {"Unary": unary_shape, "Binary": binary_shape, "Reduce": reduce_shape,
          "Reshape": reshape_shape, "Transpose": transpose_shape, "Slice": slice_shape,
          "Gather": gather_shape, "Pad": pad_shape, "Expand": expand_shape}
FORWARDS = {"Unary": unary_forward, "Binary": binary_forward, "Reduce": reduce_forward,
            "Reshape": reshape_forward, "Transpose": transpose_forward, "Slice": slice_forward,
            "Gather": gather_forward, "Pad": pad_forward, "Expand": expand_forward}


# ---- host work -----------------------------------------------------------------------
def host_work(lay: Layer) -> tuple[int, int]:
    """``(elements, flops)`` the host computes for one run of layer ``lay`` (its shapes
    inferred): elements written to its tops, and floating-point operations counted by the
    project's convention (:data:`UNARY_COST` per element of a Unary; one per output element
    of a Binary, per input element of a Reduce, four per element of a Softmax (max,
    subtract, exp, divide) plus the sums; the kernel area per output of a pooling; the
    gate arithmetic of an LSTM / GRU, :func:`compressor.graph.recurrent.gate_flops`; 0
    for pure data movement: Reshape, Transpose, Slice, Gather, Pad, Expand, Concat,
    Flatten, Dropout). Weight layers' M x V products are EIE's, not host work: (0, 0)
    for Convolution, Deconvolution, InnerProduct, MatMul, Embed."""
    from .recurrent import RECURRENT_TYPES, gate_flops
    if not lay.out_shapes:
        return (0, 0)
    out = sum(math.prod(s) for s in lay.out_shapes)
    inp = sum(math.prod(s) for s in lay.in_shapes)
    t = lay.type
    if t in ("Convolution", "Deconvolution", "InnerProduct", "MatMul", "Embed"):
        return (0, 0)
    if t in RECURRENT_TYPES:
        return (out, gate_flops(lay))
    if t == "Unary":
        return (out, out * UNARY_COST.get(lay.op, 1))
    if t in ("Binary", "ReLU", "Eltwise"):
        return (out, out * max(1, len(lay.bottoms) - 1))
    if t in ("Clip", "PReLU", "BatchNorm"):
        return (out, 2 * out)
    if t == "Reduce":
        return (out, inp)
    if t == "Softmax":
        return (out, 4 * out + inp)
    if t == "LRN":
        return (out, 8 * out)
    if t in ("Pooling", "Unpool"):
        pp = lay.pool
        if pp is not None and pp.kernel is not None and not pp.global_pooling:
            return (out, out * pp.kernel[0] * pp.kernel[1])
        return (out, inp)
    return (out, 0)
