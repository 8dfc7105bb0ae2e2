"""The exporter patterns and host-side operations of ONNX graphs (a mixin of
:class:`~compressor.importers.onnx_walk.OnnxWalk`, beside :mod:`.onnx_ops`).

What Keras/tf2onnx, jax2tf and ``torch.onnx`` emit around the weight layers:

* **constant folding**: a node whose inputs are all constants (shape arithmetic:
  ``Shape`` of a computed tensor, ``Cast``, ``Gather``, ``Concat``, ``Equal``, ``Expand``,
  ``Slice``, ``Range``, ``ConstantOfShape``...) is evaluated by ``onnx.reference`` at import
  time and becomes a constant; ``If`` on a constant condition is replaced by its taken
  branch;
* **layout transposes**: a ``Transpose`` that is a graph input's only reader is folded
  into the input (declared in the transposed shape, the permutation recorded in
  :attr:`~compressor.graph.net.Net.input_layouts`); a ``Transpose`` before a flatten and a
  ``Gemm`` / ``MatMul`` is folded into the weight's column order; any other ``Transpose``
  is a host layer;
* **reshapes**: ``Reshape`` / ``Squeeze`` / ``Unsqueeze`` / ``Flatten`` to any shape;
* **host element-wise work** (:mod:`compressor.graph.hostops`): Sigmoid, Tanh,
  HardSigmoid, HardSwish, Gelu, Erf, Exp, Log, Sqrt, Neg, Abs, Reciprocal, Softplus;
  Add / Sub / Mul / Div / Max / Min / Pow of two tensors or of a tensor and a constant
  (a per-output constant after a weight layer is folded into its weights and bias instead;
  ``-inf`` / ``+inf`` in a Max / Min constant is the float32 extreme, the same result for
  finite inputs); ReduceSum / ReduceMean / ReduceMax / ReduceMin; Softmax on any axis;
  Slice, Split, Gather by constant indices, Pad, Expand;
* ``Gather`` of a constant 2-D table by computed indices: an ``Embed`` weight layer;
* ``LSTM`` / ``GRU`` (:mod:`compressor.graph.recurrent`): per direction a ``MatMul``
  input matrix and a recurrent layer, the host running the gates.

The work is split by job: :mod:`.onnx_layout` (layouts, reshapes, slicing, padding),
:mod:`.onnx_elementwise` (element-wise host ops, reductions, softmax, normalisation) and
:mod:`.onnx_recurrent` (LSTM / GRU) are mixins of :class:`OnnxHostOps`; this module holds
the constant folding, ``Shape`` / ``Size`` / ``Cast`` / ``If`` and the padding geometry of
convolutions and poolings.
"""
from __future__ import annotations

import math

import numpy as np

from ..graph.layer import Layer, PoolParams
from ..npzio import MAX_ARRAY_ELEMENTS
from .onnx_elementwise import REDUCE, UNARY, OnnxElementwiseOps
from .onnx_layout import OnnxLayoutOps
from .onnx_recurrent import OnnxRecurrentOps

__all__ = ["HOST_OPS", "CONST_ONLY", "OnnxHostOps"]

#: ops evaluated at import time when every input is a constant, and otherwise refused
CONST_ONLY = ("Shape", "Size", "Cast", "CastLike", "Equal", "Less", "Greater", "LessOrEqual",
               "GreaterOrEqual", "Not", "And", "Or", "Range", "ConstantOfShape",
               "Floor", "Ceil", "Round", "Sign", "NonZero", "ReduceProd", "Mod",
               "ArgMax", "ArgMin", "Tile", "ScatterND", "TopK")
HOST_OPS = tuple(UNARY) + ("Where", "OneHot", "LayerNormalization", "Gelu", "Elu", "Selu", "LogSoftmax", "Sum", "Mean", "Sub", "Mul", "Div", "Max", "Min", "Pow") + tuple(REDUCE) + (
    "Transpose", "Squeeze", "Unsqueeze", "Slice", "Split", "Gather", "Pad", "Expand", "If",
    "LSTM", "GRU") + CONST_ONLY


class OnnxHostOps(OnnxLayoutOps, OnnxElementwiseOps, OnnxRecurrentOps):
    """The exporter patterns and host ops (module docstring)."""

    # ---- constants --------------------------------------------------------------------
    def fold_constant(self, node, a) -> bool:
        """Evaluate ``node`` now when every input is a constant; True when done."""
        ins = [t for t in node.input if t]
        if node.op_type in ("Constant", "If") or not ins:
            return False
        if node.op_type in ("Shape", "Size") and ins[0] not in self.consts:
            return False
        if not all(t in self.consts for t in ins):
            return False
        import onnx
        from onnx import helper
        from onnx.reference import ReferenceEvaluator
        feeds = {t: self.consts[t] for t in ins}
        vis = [helper.make_tensor_value_info(t, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
               for t, v in feeds.items()]
        outs = [helper.make_tensor_value_info(t, onnx.TensorProto.UNDEFINED, None)
                for t in node.output if t]
        g = helper.make_graph([node], "fold", vis, outs)
        m = helper.make_model(g, opset_imports=list(self.model.opset_import))
        try:
            res = ReferenceEvaluator(m).run(None, feeds)
        except Exception as exc:
            raise self.err(node, f"cannot be evaluated on its constant inputs "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                           ) from None
        for t, v in zip([t for t in node.output if t], res):
            v = np.asarray(v)
            if v.size > MAX_ARRAY_ELEMENTS:
                raise self.err(node, f"folds to a constant of {v.size} values, more than the "
                               f"limit of {MAX_ARRAY_ELEMENTS}")
            self.consts[t] = v
        self.folded.append(f"{node.name or node.output[0]} ({node.op_type}) evaluated on constants")
        return True

    def _const_ints(self, node, name: str, what: str) -> list[int]:
        if name not in self.consts:
            raise self.err(node, f"{what} {name!r} must be a constant (it is computed by the graph)")
        c = self.consts[name]
        if c.dtype.kind not in "iu":
            raise self.err(node, f"{what} {name!r} has dtype {c.dtype}; integers expected")
        return [int(v) for v in c.reshape(-1)]

    def uniq(self, base: str) -> str:
        name, k = base, self.suffix.get(base, 1)
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.suffix[base] = k
        self.names.add(name)
        return name

    def host(self, node, i, type_: str, bottoms, top: str | None = None, **fields) -> str:
        return self.b.host(self.layer_name(node, i), type_, bottoms,
                           top=top or node.output[0], **fields)

    def shape_of(self, node, name: str) -> tuple[int, ...]:
        name = self.alias.get(name, name)
        if name in self.consts:
            return tuple(self.consts[name].shape)
        if name in self.pending_perm:
            src, perm = self.pending_perm[name]
            s = self.b.shape(src)
            return tuple(s[p] for p in perm)
        if name in self.colperm:
            return self.b.shape(self.colperm[name][0])
        return tuple(self.b.shape(self.blob(node, name)))

    # ---- Shape / Size of computed tensors ---------------------------------------------
    def op_Shape(self, node, i, a):
        s = np.array(self.shape_of(node, node.input[0]), dtype=np.int64)
        start, end = int(a.get("start", 0)), a.get("end")
        self.consts[node.output[0]] = s[start:None if end is None else int(end)]

    def op_Size(self, node, i, a):
        self.consts[node.output[0]] = np.array(math.prod(self.shape_of(node, node.input[0])),
                                               dtype=np.int64)

    def op_Cast(self, node, i, a):
        import onnx
        to = int(a.get("to", 0))
        if to not in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
                      onnx.TensorProto.BFLOAT16):
            raise self.err(node, f"Cast of a computed tensor to {onnx.TensorProto.DataType.Name(to)}"
                           ": only casts to floating point run (the host computes in float)")
        self.set_alias(node.output[0], self.blob(node, node.input[0]))

    # ---- If on a constant condition -----------------------------------------------------
    def op_If(self, node, i, a):
        c = node.input[0]
        if c not in self.consts:
            raise self.err(node, "If on a computed condition cannot be run; only a constant "
                           "condition (its branch is inlined)")
        v = self.consts[c].reshape(-1)
        if v.size != 1:
            raise self.err(node, f"condition of shape {self.consts[c].shape}; one value expected")
        branch = a["then_branch"] if bool(v[0]) else a["else_branch"]
        for init in branch.initializer:
            self.consts[init.name] = self.tensor(init, "initializer")
        self.walk(branch.node)
        for out, bo in zip(node.output, branch.output):
            if not out:
                continue
            src = bo.name
            if src in self.failed:
                self.failed.add(out)
            elif src in self.consts:
                self.consts[out] = self.consts[src]
            else:
                self.set_alias(out, self.alias.get(src, src))
        self.folded.append(f"{node.name or node.output[0]} (If) inlined: the "
                           f"{'then' if bool(v[0]) else 'else'} branch")


    # ---- padding geometry -------------------------------------------------------------------
    def spatial_pads(self, node, a, sizes, kernel, strides, dilations) -> tuple[list[int], list[int]]:
        """``(begins, ends)`` per spatial axis from ``pads`` or ``auto_pad`` (SAME_UPPER:
        the extra padding at the end, SAME_LOWER: at the beginning, VALID: none)."""
        nd = len(sizes)
        auto = a.get("auto_pad", "NOTSET")
        if auto in ("NOTSET", ""):
            pads = [int(v) for v in a.get("pads", [0] * 2 * nd)]
            if len(pads) != 2 * nd or any(p < 0 for p in pads):
                raise self.err(node, f"pads {pads}: {2 * nd} values >= 0 expected")
            # at most the kernel's extent (a pooling: less; ONNX Runtime's rule too): the
            # padded input is allocated, and exporters never pad more
            ext = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)] * 2
            over = [p for p, e in zip(pads, ext) if p > e or (p == e and node.op_type != "Conv")]
            if over:
                raise self.err(node, f"pads {pads} for a kernel of extent {ext[:nd]}: each pad "
                               "must be smaller than the kernel (at most its extent for a Conv)")
            return pads[:nd], pads[nd:]
        if auto == "VALID":
            return [0] * nd, [0] * nd
        if auto not in ("SAME_UPPER", "SAME_LOWER"):
            raise self.err(node, f"auto_pad={auto}")
        begins, ends = [], []
        for n, k, s, d in zip(sizes, kernel, strides, dilations):
            out = -(-n // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
            if total > 2 * n:
                raise self.err(node, f"auto_pad={auto} pads {total} around an input of {n} "
                               f"(kernel {k}, stride {s}): a kernel over twice the input")
            small = total // 2
            begins.append(small if auto == "SAME_UPPER" else total - small)
            ends.append(total - begins[-1])
        return begins, ends

    def to_4d(self, node, x: str) -> tuple[str, bool]:
        """A 1-D map ``(N, C, L)`` as ``(N, C, 1, L)`` (a host reshape), for Conv1d and
        1-D pooling; returns the blob and whether it was reshaped."""
        xs = self.b.shape(x)
        if len(xs) == 4:
            return x, False
        if len(xs) != 3:
            raise self.err(node, f"input of shape {xs}; (N, C, L) or (N, C, H, W) expected")
        r = self.b.host(self.uniq(f"{x}_as2d"), "Reshape", [x], dims=(xs[0], xs[1], 1, xs[2]))
        return r, True

    def from_4d(self, y4: str, out: str) -> None:
        n, c, _, w = self.b.shape(y4)
        self.b.host(self.uniq(f"{out}_as1d"), "Reshape", [y4], top=out, dims=(n, c, w))

    def pool_layer(self, node, i, a, method: str) -> None:
        """A pooling with ONNX's explicit or automatic (possibly asymmetric) pads and floor
        rounding; ceil_mode=1 goes through the Caffe rules (:meth:`_pool`)."""
        name = self.alias.get(node.input[0], node.input[0])
        extra_b, extra_e = (0, 0), (0, 0)
        if name in self.pending_pool_pad:
            x, extra_b, extra_e = self.pending_pool_pad.pop(name)
        else:
            x = self.blob(node, name)
        x4, flat = self.to_4d(node, x)
        xs = self.b.shape(x4)
        k = [int(v) for v in a.get("kernel_shape", [])]
        if flat and len(k) == 1:
            k = [1] + k
        s = [int(v) for v in a.get("strides", [1] * len(k))]
        if flat and len(s) == 1:
            s = [1] + s
        if len(k) != 2:
            raise self.err(node, f"kernel_shape {k}: only 1-D or 2-D kernels are supported")
        if len(s) != 2 or any(v < 1 for v in k + s):
            raise self.err(node, f"strides {s}: two integers >= 1 expected")
        self._ones(node, a, "dilations")
        sizes = [xs[2] - 0, xs[3]]
        if flat and "pads" in a and len(a["pads"]) == 2:
            a = dict(a, pads=[0, a["pads"][0], 0, a["pads"][1]])
        begins, ends = self.spatial_pads(node, a, sizes, k, s, [1, 1])
        begins = [b + e for b, e in zip(begins, extra_b)]
        ends = [b + e for b, e in zip(ends, extra_e)]
        ceil = bool(a.get("ceil_mode", 0))
        count_pad = bool(a.get("count_include_pad", 0))
        top = node.output[0] if not flat else self.uniq(node.output[0] + "_2d")
        if ceil:
            if begins != ends or (method == "AVE" and any(begins) and not count_pad):
                raise self.err(node, "ceil_mode=1 with asymmetric padding, or without the padding "
                               "in the average's divisor, is not supported")
            a2 = dict(a, pads=begins + ends, auto_pad="NOTSET", kernel_shape=k, strides=s)
            a2.pop("dilations", None)
            self._pool(node, i, a2, method, x=x4, top=top)
        else:
            pp = PoolParams(method, (k[0], k[1]), (s[0], s[1]), (begins[0], begins[1]), False,
                            False, None if begins == ends and (count_pad or not any(begins))
                            else (ends[0], ends[1]), count_pad or method == "MAX")
            self.b.add(Layer(self.layer_name(node, i), "Pooling", [x4], [top], 0, pool=pp))
        if flat:
            self.from_4d(top, node.output[0])
