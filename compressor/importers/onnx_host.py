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
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelImportError
from ..graph.layer import Layer, PoolParams
from ..npzio import MAX_ARRAY_ELEMENTS

__all__ = ["HOST_OPS", "CONST_ONLY", "OnnxHostOps"]

_UNARY = {"Sigmoid": "sigmoid", "Tanh": "tanh", "HardSigmoid": "hardsigmoid",
          "HardSwish": "hardswish", "Erf": "erf", "Exp": "exp", "Log": "log", "Sqrt": "sqrt",
          "Neg": "neg", "Abs": "abs", "Reciprocal": "reciprocal", "Softplus": "softplus",
          "Softsign": "softsign"}
_BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Max": "max", "Min": "min",
           "Pow": "pow"}
_REDUCE = {"ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "max", "ReduceMin": "min"}
#: ops evaluated at import time when every input is a constant, and otherwise refused
CONST_ONLY = ("Shape", "Size", "Cast", "CastLike", "Equal", "Less", "Greater", "LessOrEqual",
               "GreaterOrEqual", "Not", "And", "Or", "Range", "ConstantOfShape",
               "Floor", "Ceil", "Round", "Sign", "OneHot", "NonZero", "ReduceProd", "Mod",
               "ArgMax", "ArgMin", "Tile", "ScatterND", "TopK")
HOST_OPS = tuple(_UNARY) + ("Where", "Gelu", "Elu", "Selu", "LogSoftmax", "Sum", "Mean", "Sub", "Mul", "Div", "Max", "Min", "Pow") + tuple(_REDUCE) + (
    "Transpose", "Squeeze", "Unsqueeze", "Slice", "Split", "Gather", "Pad", "Expand", "If",
    "LSTM", "GRU") + CONST_ONLY
_F32_MAX = float(np.finfo(np.float32).max)


class OnnxHostOps:
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

    # ---- layout ---------------------------------------------------------------------------
    def op_Transpose(self, node, i, a):
        out = node.output[0]
        if out in self.input_transposes:
            return
        x = self.alias.get(node.input[0], node.input[0])
        rank = len(self.shape_of(node, x))
        perm = [int(p) for p in a.get("perm", list(range(rank))[::-1])]
        if sorted(perm) != list(range(rank)):
            raise self.err(node, f"perm {perm} for a tensor of rank {rank}")
        if x in self.pending_perm:
            src, p0 = self.pending_perm[x]
            perm = [p0[p] for p in perm]
        else:
            src = self.blob(node, x)
        if perm == list(range(rank)):
            self.set_alias(out, src)
        else:
            self.pending_perm[out] = (src, tuple(perm))

    def materialize_perm(self, node, name: str) -> str:
        src, perm = self.pending_perm.pop(name)
        self.b.host(self.uniq(name + "_transpose"), "Transpose", [src], top=name, axes=tuple(perm))
        return name

    def materialize_cols(self, node, name: str) -> str:
        src, idx = self.colperm.pop(name)
        self.b.host(self.uniq(name + "_columns"), "Gather", [src], top=name, axis=1,
                    indices=tuple(int(v) for v in idx), dims=(len(idx),))
        return name

    def fc_input(self, node, name: str) -> tuple[str, np.ndarray | None]:
        """The input of a Gemm / MatMul and, when it is a flatten of a transposed tensor,
        the column order to fold into the weight."""
        name = self.alias.get(name, name)
        if name in self.colperm and self.uses.get(name, 0) == 1:
            src, idx = self.colperm[name]
            return src, idx
        return self.blob(node, name), None

    def _reshape_to(self, node, i, x_name: str, target: list[int]) -> None:
        out = node.output[0]
        x_name = self.alias.get(x_name, x_name)
        xs = self.shape_of(node, x_name)
        target = list(target)
        if tuple(target) == tuple(xs):
            self.set_alias(out, self.blob(node, x_name))
            return
        flat2 = len(target) == 2 and target[0] == xs[0] and len(xs) >= 2
        if flat2 and x_name in self.pending_perm and self.uses.get(x_name, 0) == 1:
            src, perm = self.pending_perm[x_name]
            if perm[0] == 0:               # a transposed map flattened: fold the order
                ss = self.b.shape(src)
                flat = self.b.flatten(self.uniq(out + "_flat"), src, top=self.uniq(out + "_flat"))
                idx = np.arange(math.prod(ss[1:])).reshape(ss[1:]).transpose(
                    [p - 1 for p in perm[1:]]).reshape(-1)
                self.colperm[out] = (flat, idx)
                self.pending_perm.pop(x_name)
                self.folded.append(f"{node.name or out} ({node.op_type}) of a transposed tensor: "
                                   "folded into the next weight's column order")
                return
        x = self.blob(node, x_name)
        if flat2 and len(xs) == 4:
            self.b.flatten(self.layer_name(node, i), x, top=out)
        else:
            self.host(node, i, "Reshape", [x], dims=tuple(int(d) for d in target))

    def op_Reshape(self, node, i, a):
        xs = self.shape_of(node, node.input[0])
        shape = self._const_ints(node, node.input[1], "shape")
        allow = bool(a.get("allowzero", 0))
        out = [xs[k] if (d == 0 and not allow and k < len(xs)) else d for k, d in enumerate(shape)]
        if out.count(-1) > 1 or any(d < -1 for d in out):
            raise self.err(node, f"reshape to {shape}: at most one -1, no other negative size")
        if -1 in out:
            known = math.prod(d for d in out if d != -1)
            if known == 0 or math.prod(xs) % known:
                raise self.err(node, f"cannot reshape {xs} to {shape}")
            out[out.index(-1)] = math.prod(xs) // known
        if math.prod(out) != math.prod(xs):
            raise self.err(node, f"cannot reshape {xs} ({math.prod(xs)} values) to {shape}")
        self._reshape_to(node, i, node.input[0], out)

    def op_Flatten(self, node, i, a):
        xs = self.shape_of(node, node.input[0])
        axis = int(a.get("axis", 1)) % (len(xs) + 1) if xs else 0
        self._reshape_to(node, i, node.input[0], [math.prod(xs[:axis]), math.prod(xs[axis:])])

    def _axes(self, node, a, rank: int, k: int = 1) -> list[int] | None:
        if "axes" in a:
            axes = [int(v) for v in a["axes"]]
        elif len(node.input) > k and node.input[k]:
            axes = self._const_ints(node, node.input[k], "axes")
        else:
            return None
        if any(not -rank <= v < rank for v in axes):
            raise self.err(node, f"axes {axes} out of range for rank {rank}")
        return sorted(v % rank for v in axes)

    def op_Squeeze(self, node, i, a):
        xs = self.shape_of(node, node.input[0])
        axes = self._axes(node, a, len(xs))
        if axes is None:
            axes = [d for d, n in enumerate(xs) if n == 1]
        if any(xs[d] != 1 for d in axes):
            raise self.err(node, f"squeezing axes {axes} of {xs}: not of size 1")
        self._reshape_to(node, i, node.input[0], [n for d, n in enumerate(xs) if d not in axes])

    def op_Unsqueeze(self, node, i, a):
        xs = list(self.shape_of(node, node.input[0]))
        axes = self._axes(node, a, len(xs) + len(a.get("axes", [])) if "axes" in a else
                          len(xs) + len(self._const_ints(node, node.input[1], "axes")))
        for d in sorted(axes):
            xs.insert(d, 1)
        self._reshape_to(node, i, node.input[0], xs)

    def op_Expand(self, node, i, a):
        x = self.blob(node, node.input[0])
        shape = self._const_ints(node, node.input[1], "shape")
        self.host(node, i, "Expand", [x], dims=tuple(max(d, 1) for d in shape))

    # ---- slicing --------------------------------------------------------------------------
    def _slice_ranges(self, node, a, xs):
        if self.opset >= 10:
            starts = self._const_ints(node, node.input[1], "starts")
            ends = self._const_ints(node, node.input[2], "ends")
            axes = (self._const_ints(node, node.input[3], "axes") if len(node.input) > 3
                    and node.input[3] else list(range(len(starts))))
            steps = (self._const_ints(node, node.input[4], "steps") if len(node.input) > 4
                     and node.input[4] else [1] * len(starts))
        else:
            starts, ends = list(a.get("starts", [])), list(a.get("ends", []))
            axes = list(a.get("axes", range(len(starts))))
            steps = [1] * len(starts)
        if not len(starts) == len(ends) == len(axes) == len(steps):
            raise self.err(node, "starts, ends, axes, steps differ in length")
        return [(ax % len(xs), range(*slice(st, en, sp).indices(xs[ax % len(xs)])))
                for st, en, ax, sp in zip(starts, ends, axes, steps)]

    def _slice_layers(self, node, i, x: str, ranges, top: str) -> None:
        pos = [(ax, r) for ax, r in ranges if r.step > 0]
        neg = [(ax, r) for ax, r in ranges if r.step < 0]
        for ax, r in ranges:
            if len(r) == 0:
                raise self.err(node, f"slice along axis {ax} is empty")
        cur = x
        if pos:
            name = top if not neg else self.uniq(top + "_slice")
            cur = self.b.host(self.layer_name(node, i) if not neg else self.uniq(top + "_s"),
                              "Slice", [cur], top=name, axes=tuple(ax for ax, _ in pos),
                              starts=tuple(r.start for _, r in pos),
                              ends=tuple(r.start + r.step * (len(r) - 1) + 1 for _, r in pos),
                              steps=tuple(r.step for _, r in pos))
        for k, (ax, r) in enumerate(neg):
            name = top if k == len(neg) - 1 else self.uniq(f"{top}_rev{k}")
            cur = self.b.host(self.uniq(f"{top}_gather{k}"), "Gather", [cur], top=name,
                              axis=ax, indices=tuple(r), dims=(len(r),))

    def op_Slice(self, node, i, a):
        x = self.blob(node, node.input[0])
        ranges = self._slice_ranges(node, a, self.b.shape(x))
        if not ranges:
            self.set_alias(node.output[0], x)
            return
        self._slice_layers(node, i, x, ranges, node.output[0])

    def op_Split(self, node, i, a):
        x = self.blob(node, node.input[0])
        xs = self.b.shape(x)
        ax = int(a.get("axis", 0)) % len(xs)
        outs = list(node.output)
        if "split" in a:
            sizes = [int(v) for v in a["split"]]
        elif len(node.input) > 1 and node.input[1]:
            sizes = self._const_ints(node, node.input[1], "split")
        else:
            n = int(a.get("num_outputs", len(outs)))
            step = -(-xs[ax] // n)
            sizes = [min(step, xs[ax] - k * step) for k in range(n)]
        if len(sizes) != len(outs) or sum(sizes) != xs[ax]:
            raise self.err(node, f"split {sizes} of axis {ax} ({xs[ax]}) into {len(outs)} outputs")
        start = 0
        for out, n in zip(outs, sizes):
            if out:
                self.b.host(self.uniq(out), "Slice", [x], top=out, axes=(ax,), starts=(start,),
                            ends=(start + n,), steps=(1,))
            start += n

    def op_Gather(self, node, i, a):
        data, idx = node.input[0], node.input[1]
        axis = int(a.get("axis", 0))
        if data in self.consts and idx not in self.consts:
            table = self.const(node, data, "table")
            if table.ndim != 2 or axis != 0:
                raise self.err(node, f"a Gather of a constant of shape {table.shape} along axis "
                               f"{axis}: only a 2-D table looked up along axis 0 (an embedding)")
            x = self.blob(node, idx)
            name = self.layer_name(node, i, data)
            self.b.embed(name, x, int(table.shape[1]), int(table.shape[0]), bias=False,
                         top=node.output[0])
            self.add_param(name, node.output[0], np.ascontiguousarray(table.T), None)
            return
        x = self.blob(node, data)
        xs = self.b.shape(x)
        ind = self._const_ints(node, idx, "indices")
        c = self.consts[idx]
        self.host(node, i, "Gather", [x], axis=axis % len(xs), dims=tuple(c.shape),
                  indices=tuple(v % xs[axis % len(xs)] if -xs[axis % len(xs)] <= v < 0 else v
                                for v in ind))

    def op_Pad(self, node, i, a):
        x = self.blob(node, node.input[0])
        xs = self.b.shape(x)
        if a.get("mode", "constant") != "constant":
            raise self.err(node, f"mode {a.get('mode')!r}: only constant padding")
        if self.opset >= 11:
            pads = self._const_ints(node, node.input[1], "pads")
            value = 0.0
            if len(node.input) > 2 and node.input[2]:
                v = self.consts.get(node.input[2])
                if v is None:
                    raise self.err(node, "the padding value must be a constant")
                value = float(v.reshape(-1)[0])
            if len(node.input) > 3 and node.input[3]:
                axes = [v % len(xs) for v in self._const_ints(node, node.input[3], "axes")]
                full = [0] * (2 * len(xs))
                for k, ax in enumerate(axes):
                    full[ax], full[len(xs) + ax] = pads[k], pads[len(axes) + k]
                pads = full
        else:
            pads, value = [int(v) for v in a.get("pads", [])], float(a.get("value", 0.0))
        if len(pads) != 2 * len(xs) or any(p < 0 for p in pads):
            raise self.err(node, f"pads {pads} for a tensor of rank {len(xs)} (negative pads "
                           "are not supported)")
        if math.isinf(value) and value < 0:
            # -inf: the padding of a max pooling (JAX's reduce_window); folded into it
            readers = [n for n in self.g.node if node.output[0] in n.input]
            if (len(readers) == 1 and readers[0].op_type == "MaxPool" and len(xs) == 4
                    and pads[0] == pads[1] == pads[4] == pads[5] == 0):
                self.pending_pool_pad[node.output[0]] = (x, (pads[2], pads[3]), (pads[6], pads[7]))
                return
            raise self.err(node, "padding with -inf is supported only right before a MaxPool")
        if not math.isfinite(value):
            raise self.err(node, f"padding value {value}")
        self.host(node, i, "Pad", [x], dims=tuple(pads), alpha=value)

    # ---- element-wise ---------------------------------------------------------------------
    def _unary(self, node, i, op: str, **kw):
        x = self.blob(node, node.input[0])
        self.host(node, i, "Unary", [x], op=op, **kw)

    def op_Gelu(self, node, i, a):
        approx = a.get("approximate", "none")
        self._unary(node, i, "gelu_tanh" if approx == "tanh" else "gelu")

    def op_Elu(self, node, i, a):
        self._unary(node, i, "elu", alpha=float(a.get("alpha", 1.0)))

    def op_Selu(self, node, i, a):
        self._unary(node, i, "selu", alpha=float(a.get("alpha", 1.67326319217681884765625)),
                    beta=float(a.get("gamma", 1.05070102214813232421875)))

    #: ops after which a -inf mask value and float32's lowest give the same result
    _MASK_READERS = ("Softmax", "LogSoftmax", "ReduceMax", "MaxPool", "Max", "ArgMax",
                     "GlobalMaxPool")

    def op_Where(self, node, i, a):
        """``Where`` on a constant condition (a mask): ``x C + y (1 - C)`` as host Binary
        layers. An infinite constant branch (a ``-inf`` mask) is read as float32's extreme
        only when every reader takes a maximum or a softmax (the same result there)."""
        cond, x, y = node.input
        if cond not in self.consts:
            raise self.err(node, "Where on a computed condition cannot be run; only a constant "
                           "mask")
        C = self.consts[cond].astype(bool).astype(np.float64)
        branches = []
        for t in (x, y):
            if t in self.consts:
                v = self.consts[t].astype(np.float64)
                if np.any(np.isinf(v)):
                    readers = [n for n in self.g.node if node.output[0] in n.input]
                    if (not readers or node.output[0] in self.outputs
                            or any(r.op_type not in self._MASK_READERS for r in readers)):
                        raise self.err(node, f"constant {t!r} holds infinity; as a mask it must "
                                       f"feed only {', '.join(self._MASK_READERS)}")
                    v = np.clip(v, -_F32_MAX, _F32_MAX)
                branches.append(("const", v))
            else:
                branches.append(("blob", self.blob(node, t)))
        if all(k == "const" for k, _ in branches):
            raise self.err(node, "both branches constant (folded when the condition is too)")
        (kx, vx), (ky, vy) = branches
        out = node.output[0]
        if kx == "blob" and ky == "blob":
            px = self.b.host(self.uniq(out + "_x"), "Binary", [vx], op="mul",
                             const=tuple(C.reshape(-1)), const_shape=C.shape)
            py = self.b.host(self.uniq(out + "_y"), "Binary", [vy], op="mul",
                             const=tuple((1 - C).reshape(-1)), const_shape=C.shape)
            self.host(node, i, "Binary", [px, py], op="add")
            return
        blob, keep = (vx, C) if kx == "blob" else (vy, 1 - C)
        other = (vy * (1 - C)) if kx == "blob" else (vx * C)      # (infinities clipped above)
        kept = self.b.host(self.uniq(out + "_kept"), "Binary", [blob], op="mul",
                           const=tuple(float(v) for v in keep.reshape(-1)), const_shape=keep.shape)
        self.host(node, i, "Binary", [kept], op="add",
                  const=tuple(float(v) for v in np.asarray(other, np.float32).reshape(-1)),
                  const_shape=tuple(np.shape(other)))

    def op_Sum(self, node, i, a):
        self._nary(node, i, a, "add")

    def op_Mean(self, node, i, a):
        if len(node.input) != 2:
            self._nary(node, i, a, "add")       # one input: itself; more: refused there
            return
        x0, x1 = (self.blob(node, t) for t in node.input)
        tmp = self.b.host(self.uniq(node.output[0] + "_sum"), "Binary", [x0, x1], op="add")
        self.b.host(self.layer_name(node, i), "Binary", [tmp], top=node.output[0], op="mul",
                    const=(0.5,), const_shape=())

    def op_LogSoftmax(self, node, i, a):
        self.op_Softmax(node, i, a, log=True)

    def op_HardSigmoid(self, node, i, a):
        self._unary(node, i, "hardsigmoid", alpha=float(a.get("alpha", 0.2)),
                    beta=float(a.get("beta", 0.5)))

    def _binary(self, node, i, a, op: str):
        x0, x1 = node.input[0], node.input[1]
        c0, c1 = x0 in self.consts, x1 in self.consts
        if not c0 and not c1:
            b0, b1 = self.blob(node, x0), self.blob(node, x1)
            if op == "mul" and self._fold_silu(node, i, b0, b1):
                return
            if op == "add" and self.b.shape(b0) == self.b.shape(b1):
                self.b.eltwise(self.layer_name(node, i), [b0, b1], top=node.output[0])
            else:
                self.host(node, i, "Binary", [b0, b1], op=op)
            return
        cname, xname = (x0, x1) if c0 else (x1, x0)
        c = self.consts[cname]
        if c.dtype.kind not in "fiu":
            raise self.err(node, f"constant {cname!r} of dtype {c.dtype}")
        c = c.astype(np.float64)
        if np.any(np.isinf(c)):
            if op not in ("max", "min"):
                raise self.err(node, f"constant {cname!r} holds infinity; allowed only in a Max "
                               "or Min (masks) or a MaxPool's padding")
            if (op == "max" and np.any(c == np.inf)) or (op == "min" and np.any(c == -np.inf)):
                raise self.err(node, f"{op} with an infinite constant gives infinity")
            c = np.clip(c, -_F32_MAX, _F32_MAX)       # same result for every finite input
        xs = self.shape_of(node, xname)
        try:
            out_shape = tuple(np.broadcast_shapes(xs, c.shape))
        except ValueError:
            raise self.err(node, f"shapes {tuple(xs)} and {c.shape} do not broadcast") from None
        if out_shape == tuple(xs) and c.size >= 1:
            ident = {"add": 0.0, "sub": 0.0, "mul": 1.0, "div": 1.0, "pow": 1.0}.get(op)
            if ((ident is not None and np.all(c == ident) and (op in ("add", "mul") or not c0))
                    or (op == "max" and np.all(c == -_F32_MAX))
                    or (op == "min" and np.all(c == _F32_MAX))):
                self.set_alias(node.output[0], self.blob(node, xname))
                return
            if op in ("add", "sub", "mul", "div") and not (c0 and op in ("sub", "div")):
                if self._fold_affine(node, xname, c, op):
                    return
        x = self.blob(node, xname)
        if op == "mul" and c.size == 1 and float(c.reshape(-1)[0]) == 0.5 \
                and self._fold_gelu(node, i, x):
            return
        if c.size > (1 << 20):
            raise self.err(node, f"constant {cname!r} of {c.size} values is too large for a "
                           "host operation")
        with np.errstate(over="ignore"):
            cf = c.astype(np.float32)
        if not np.all(np.isfinite(cf)):
            raise self.err(node, f"constant {cname!r} holds values too large for float32")
        self.host(node, i, "Binary", [x], op=op, const=tuple(float(v) for v in cf.reshape(-1)),
                  const_shape=tuple(int(d) for d in c.shape), const_first=bool(c0))

    def _single_use(self, blob: str) -> bool:
        return self.uses.get(blob, 0) == 1 and blob not in self.outputs \
            and blob not in self.output_tops

    def _last(self, k: int):
        """The last ``k`` layers added (oldest first), or None."""
        lays = self.b._layers
        return lays[-k:] if len(lays) >= k else None

    def _fold_silu(self, node, i, b0: str, b1: str) -> bool:
        """``x * Sigmoid(x)`` (torch.onnx's SiLU / Swish) as one host SiLU."""
        last = self._last(1)
        if not last:
            return False
        s = last[0]
        if not (s.type == "Unary" and s.op == "sigmoid" and self._single_use(s.tops[0])
                and {b0, b1} == {s.tops[0], s.bottoms[0]}):
            return False
        self.b.pop()
        self.host(node, i, "Unary", [s.bottoms[0]], op="silu")
        self.folded.append(f"{node.name or node.output[0]} (Mul) and {s.name} (Sigmoid): SiLU")
        return True

    def _fold_gelu(self, node, i, y: str) -> bool:
        """``x * (1 + Erf(x / sqrt 2)) * 0.5`` (the Erf form exporters write for GELU) as
        one host GELU: the last four layers Div(sqrt 2) or Mul(1/sqrt 2), Erf, Add(1),
        Mul(x, .), ending in ``y``."""
        last = self._last(4)
        if not last:
            return False
        d, e, a, m = last
        r2 = math.sqrt(2.0)

        def const_is(lay, op, value):
            return (lay.type == "Binary" and lay.op == op and len(lay.bottoms) == 1
                    and len(lay.const) == 1 and not lay.const_first
                    and abs(lay.const[0] - value) <= 1e-6 * abs(value))

        if not (m.tops[0] == y and m.type == "Binary" and m.op == "mul" and len(m.bottoms) == 2
                and (const_is(d, "div", r2) or const_is(d, "mul", 1 / r2))
                and e.type == "Unary" and e.op == "erf" and e.bottoms == [d.tops[0]]
                and const_is(a, "add", 1.0) and a.bottoms == [e.tops[0]]
                and set(m.bottoms) == {d.bottoms[0], a.tops[0]}
                and all(self._single_use(t) for t in (d.tops[0], e.tops[0], a.tops[0], y))):
            return False
        for _ in range(4):
            self.b.pop()
        self.host(node, i, "Unary", [d.bottoms[0]], op="gelu")
        self.folded.append(f"{d.name}, {e.name}, {a.name}, {m.name}, "
                           f"{node.name or node.output[0]}: GELU (Erf form)")
        return True

    def _fold_affine(self, node, x: str, c: np.ndarray, op: str) -> bool:
        """A per-output constant added to / multiplying the output of a weight layer whose
        only reader this node is: folded into its bias / weights (True)."""
        lay = self.fold_target(node, x)
        if lay is None:
            return False
        w, b = self.weights[lay]
        n = w.shape[0]
        kind = self.b._layers[-1].type if self.b._layers else ""
        rank = len(self.b.shape(self.alias.get(x, x)))
        try:
            if kind in ("MatMul", "Embed") or rank != w.ndim:
                if c.size != 1 and (c.shape[-1] != n or math.prod(c.shape) != n):
                    return False
                v = np.full(n, float(c.reshape(-1)[0])) if c.size == 1 else c.reshape(n)
            else:
                v = self._per_output(node, c, n, w.ndim, "constant").astype(np.float64)
        except ModelImportError:
            return False
        if op == "sub":
            v = -v
        if op == "div":
            if np.any(v == 0):
                return False
            v = 1.0 / v
        if op in ("add", "sub"):
            self.set_bias(lay, (np.zeros(n) if b is None else b.astype(np.float64)) + v)
        else:
            wl = self.weights[lay][0].astype(np.float64)
            self.weights[lay][0] = (wl * v.reshape((n,) + (1,) * (wl.ndim - 1))).astype(np.float32)
            if b is not None:
                self.weights[lay][1] = (b.astype(np.float64) * v).astype(np.float32)
        self.set_alias(node.output[0], self.alias.get(x, x))
        self.folded.append(f"{node.name or node.output[0]} ({node.op_type}) into {lay}")
        return True

    def op_Sub(self, node, i, a):
        self._binary(node, i, a, "sub")

    def op_Mul(self, node, i, a):
        self._binary(node, i, a, "mul")

    def op_Div(self, node, i, a):
        self._binary(node, i, a, "div")

    def op_Max(self, node, i, a):
        self._nary(node, i, a, "max")

    def op_Min(self, node, i, a):
        self._nary(node, i, a, "min")

    def op_Pow(self, node, i, a):
        self._binary(node, i, a, "pow")

    def _nary(self, node, i, a, op):
        if len(node.input) == 1:
            self.set_alias(node.output[0], self.blob(node, node.input[0]))
        elif len(node.input) == 2:
            self._binary(node, i, a, op)
        else:
            raise self.err(node, f"{op} of {len(node.input)} inputs: two are supported")

    def _reduce(self, node, i, a, op):
        x = self.blob(node, node.input[0])
        xs = self.b.shape(x)
        axes = self._axes(node, a, len(xs))
        if axes is None and a.get("noop_with_empty_axes", 0):
            self.set_alias(node.output[0], x)
            return
        self.host(node, i, "Reduce", [x], op=op, axes=tuple(axes or ()),
                  keepdims=bool(a.get("keepdims", 1)))

    def op_Softmax(self, node, i, a, log: bool = False):
        x = self.blob(node, node.input[0])
        xs = self.b.shape(x)
        axis = int(a.get("axis", -1 if self.opset >= 13 else 1)) % len(xs)
        if self.opset < 13 and any(d != 1 for d in xs[axis + 1:]):
            raise self.err(node, f"softmax (opset {self.opset}) over the flattened axes {axis}.. "
                           f"of a {xs} tensor: only one axis (the last non-unit one) is supported")
        if axis == 1 and not log:
            self.b.softmax(self.layer_name(node, i), x, top=node.output[0])
        else:
            self.host(node, i, "Softmax", [x], axis=axis, op="log" if log else "")

    # ---- recurrent layers ---------------------------------------------------------------
    def _recurrent(self, node, i, a, kind: str):
        G = 4 if kind == "LSTM" else 3
        H = int(a.get("hidden_size", 0))
        if int(a.get("layout", 0)):
            raise self.err(node, "layout=1 (batch first) is not supported; export with layout 0")
        for k in ("clip", "activation_alpha", "activation_beta"):
            if k in a:
                raise self.err(node, f"attribute {k} is not supported")
        acts = [s.decode() if isinstance(s, bytes) else s for s in a.get("activations", [])]
        default = ["Sigmoid", "Tanh", "Tanh"] if kind == "LSTM" else ["Sigmoid", "Tanh"]
        direction = a.get("direction", "forward")
        dirs = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}.get(direction)
        if dirs is None:
            raise self.err(node, f"direction {direction!r}")
        if acts and [s.lower() for s in acts] != [s.lower() for s in default * len(dirs)]:
            raise self.err(node, f"activations {acts}: only the default {default}")
        if kind == "LSTM" and int(a.get("input_forget", 0)):
            raise self.err(node, "input_forget=1 is not supported")
        if kind == "GRU" and not int(a.get("linear_before_reset", 0)):
            raise self.err(node, "linear_before_reset=0: the reset gate would multiply the "
                           "recurrent matrix's input inside a step; only linear_before_reset=1 "
                           "(PyTorch's and Keras' reset_after GRU) runs as one M x V per step")
        ins = list(node.input) + [""] * (8 - len(node.input))
        x = self.blob(node, ins[0])
        xs = self.b.shape(x)
        W = self.const(node, ins[1], "W")
        R = self.const(node, ins[2], "R")
        D = len(dirs)
        if len(xs) != 3 or W.shape != (D, G * H, xs[2]) or R.shape != (D, G * H, H):
            raise self.err(node, f"input {xs}, W {W.shape}, R {R.shape} do not fit hidden_size "
                           f"{H}, {D} direction(s)")
        T, N, _ = xs
        B = self.const(node, ins[3], "B") if ins[3] else np.zeros((D, 2 * G * H), np.float32)
        if B.shape != (D, 2 * G * H):
            raise self.err(node, f"B of shape {B.shape}; ({D}, {2 * G * H}) expected")
        if ins[4]:
            lens = self._const_ints(node, ins[4], "sequence_lens")
            if any(v != T for v in lens):
                raise self.err(node, f"sequence_lens {lens}: only full sequences ({T} steps)")
        if kind == "LSTM" and ins[7] and np.any(self.const(node, ins[7], "P") != 0):
            raise self.err(node, "peephole weights P are not supported")
        states = []
        for k in (5, 6) if kind == "LSTM" else (5,):
            t = ins[k]
            if not t:
                states.append(None)
            elif t in self.consts:
                if np.any(self.consts[t] != 0):
                    raise self.err(node, f"a constant non-zero initial state {t!r} is not supported")
                states.append(None)
            else:
                s = self.blob(node, t)
                if tuple(self.b.shape(s)) != (D, N, H):
                    raise self.err(node, f"initial state {t!r} of shape {self.b.shape(s)}; "
                                   f"({D}, {N}, {H}) expected")
                states.append(s)
        if kind == "LSTM" and states[0] is None and states[1] is not None:
            raise self.err(node, "an initial cell state without an initial hidden state")
        base = self.layer_name(node, i)
        order = "iofc" if kind == "LSTM" else "zrh"
        ys, hs, cs = [], [], []
        for d, rev in enumerate(dirs):
            sfx = "_reverse" if rev and D == 2 else ""
            wi = self.uniq(f"{base}.W_ih{sfx}")
            gx = self.b.matmul(wi, x, G * H, bias=True, top=wi)
            self.add_param(wi, wi, W[d], B[d, :G * H])
            bots = [gx]
            for s in states:
                if s is None:
                    break
                if D == 1:
                    st = self.b.host(self.uniq(f"{s}_state"), "Reshape", [s], dims=(N, H))
                else:
                    st = self.b.host(self.uniq(f"{s}_state{d}"), "Slice", [s], axes=(0,),
                                     starts=(d,), ends=(d + 1,), steps=(1,))
                    st = self.b.host(self.uniq(f"{s}_state{d}r"), "Reshape", [st], dims=(N, H))
                bots.append(st)
            wh = self.uniq(f"{base}.W_hh{sfx}")
            tops = [wh, self.uniq(wh + ".h")] + ([self.uniq(wh + ".c")] if kind == "LSTM" else [])
            self.b.recurrent(wh, kind, bots, H, order, reverse=rev, tops=tops)
            self.add_param(wh, wh, R[d], B[d, G * H:])
            ys.append(tops[0])
            hs.append(tops[1])
            cs.append(tops[2] if kind == "LSTM" else None)

        def emit(out, parts, shape):
            if not out or not (self.uses.get(out, 0) or out in self.outputs):
                return
            if D == 1:
                self.b.host(self.uniq(out), "Reshape", [parts[0]], top=out, dims=shape)
                return
            rs = [self.b.host(self.uniq(f"{p}_r"), "Reshape", [p], dims=shape) for p in parts]
            ax = 1 if len(shape) == 4 else 0
            self.b.concat(self.uniq(out), rs, axis=ax, top=out)

        emit(node.output[0] if len(node.output) > 0 else "", ys, (T, 1, N, H))
        emit(node.output[1] if len(node.output) > 1 else "", hs, (1, N, H))
        if kind == "LSTM":
            emit(node.output[2] if len(node.output) > 2 else "", cs, (1, N, H))

    def op_LSTM(self, node, i, a):
        self._recurrent(node, i, a, "LSTM")

    def op_GRU(self, node, i, a):
        self._recurrent(node, i, a, "GRU")

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
            return pads[:nd], pads[nd:]
        if auto == "VALID":
            return [0] * nd, [0] * nd
        if auto not in ("SAME_UPPER", "SAME_LOWER"):
            raise self.err(node, f"auto_pad={auto}")
        begins, ends = [], []
        for n, k, s, d in zip(sizes, kernel, strides, dilations):
            out = -(-n // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
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


def _make_unary(fn_name: str):
    def op(self, node, i, a):
        self._unary(node, i, fn_name)
    return op


def _make_reduce(red: str):
    def op(self, node, i, a):
        self._reduce(node, i, a, red)
    return op


for _op, _fn in _UNARY.items():
    if not hasattr(OnnxHostOps, "op_" + _op):
        setattr(OnnxHostOps, "op_" + _op, _make_unary(_fn))
for _op, _red in _REDUCE.items():
    setattr(OnnxHostOps, "op_" + _op, _make_reduce(_red))
