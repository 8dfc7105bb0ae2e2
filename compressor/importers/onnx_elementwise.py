"""The host element-wise operations of ONNX graphs (a mixin of
:class:`~compressor.importers.onnx_host.OnnxHostOps`), run in float by
:mod:`compressor.graph.hostops`: unary functions (Sigmoid, Tanh, GELU, ...), Add / Sub /
Mul / Div / Max / Min / Pow of two tensors or of a tensor and a constant (a per-output
constant after a weight layer is folded into its weights and bias instead; exporters'
SiLU and Erf-form GELU are folded into one host op), ``Where`` on a constant mask,
reductions, Softmax / LogSoftmax, LayerNormalization and OneHot (an ``Embed`` weight layer).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelImportError

__all__ = ["OnnxElementwiseOps", "UNARY", "REDUCE"]

UNARY = {"Sigmoid": "sigmoid", "Tanh": "tanh", "HardSigmoid": "hardsigmoid",
         "HardSwish": "hardswish", "Erf": "erf", "Exp": "exp", "Log": "log", "Sqrt": "sqrt",
         "Neg": "neg", "Abs": "abs", "Reciprocal": "reciprocal", "Softplus": "softplus",
         "Softsign": "softsign"}
_BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Max": "max", "Min": "min",
           "Pow": "pow"}
REDUCE = {"ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "max", "ReduceMin": "min"}
_F32_MAX = float(np.finfo(np.float32).max)


class OnnxElementwiseOps:
    """Host element-wise, reduction and normalisation ops (module docstring)."""

    def op_LayerNormalization(self, node, i, a):
        """Opset 17's LayerNormalization over the axes from ``axis`` on, as host layers:
        mean, centred, mean of squares, ``1 / sqrt(var + eps)``, then the constant scale and
        bias (numpy float64 in each layer)."""
        x = self.blob(node, node.input[0])
        xs = self.b.shape(x)
        axis = int(a.get("axis", -1)) % len(xs)
        eps = float(a.get("epsilon", 1e-5))
        if int(a.get("stash_type", 1)) != 1 or eps <= 0:
            raise self.err(node, "stash_type other than float, or epsilon <= 0")
        if len([t for t in node.output[1:] if t and self.uses.get(t, 0)]):
            raise self.err(node, "the Mean / InvStdDev outputs are used; only Y is supported")
        axes = tuple(range(axis, len(xs)))
        out = node.output[0]
        mean = self.b.host(self.uniq(out + "_mean"), "Reduce", [x], op="mean", axes=axes)
        cen = self.b.host(self.uniq(out + "_centred"), "Binary", [x, mean], op="sub")
        sq = self.b.host(self.uniq(out + "_square"), "Binary", [cen, cen], op="mul")
        var = self.b.host(self.uniq(out + "_var"), "Reduce", [sq], op="mean", axes=axes)
        ve = self.b.host(self.uniq(out + "_var_eps"), "Binary", [var], op="add", const=(eps,),
                         const_shape=())
        inv = self.b.host(self.uniq(out + "_inv_std"), "Unary", [ve], op="sqrt")
        y = self.b.host(self.uniq(out + "_normed"), "Binary", [cen, inv], op="div")
        for k, op in ((1, "mul"), (2, "add")):
            if len(node.input) > k and node.input[k]:
                c = self.const(node, node.input[k], "scale" if k == 1 else "bias").astype(np.float64)
                last = k == 2 or not (len(node.input) > 2 and node.input[2])
                y = self.b.host(self.layer_name(node, i) if last else self.uniq(out + "_scaled"),
                                "Binary", [y], top=out if last else None, op=op,
                                const=tuple(float(v) for v in c.reshape(-1)),
                                const_shape=tuple(c.shape))
        if y != out:
            self.set_alias(out, y)

    def op_OneHot(self, node, i, a):
        """One-hot vectors of computed indices: followed by a MatMul with a constant
        ``(depth, E)`` weight (its only reader), the two are one ``Embed`` of that table;
        otherwise an ``Embed`` of the ``(depth, depth)`` table ``off + (on - off) I``."""
        idx, depth_t, values_t = node.input
        depth = self._const_ints(node, depth_t, "depth")
        if len(depth) != 1 or depth[0] < 1:
            raise self.err(node, f"depth {depth}: one positive integer expected")
        V = depth[0]
        vals = self.consts.get(values_t)
        if vals is None or vals.size != 2:
            raise self.err(node, "values must be a constant [off, on]")
        off, on = (float(v) for v in vals.reshape(-1))
        x = self.blob(node, idx)
        rank = len(self.b.shape(x))
        if int(a.get("axis", -1)) not in (-1, rank):
            raise self.err(node, f"axis {a.get('axis')}: only the last axis (one-hot vectors)")
        out = node.output[0]
        readers = [n for n in self.g.node if out in n.input]
        if (len(readers) == 1 and readers[0].op_type == "MatMul" and readers[0].input[0] == out
                and readers[0].input[1] in self.consts and out not in self.outputs):
            mm = readers[0]
            W = self.const(mm, mm.input[1], "weight")
            if W.ndim == 2 and W.shape[0] == V:
                table = off * W.sum(axis=0, keepdims=True) + (on - off) * W    # (V, E) rows
                self.pending_onehot[out] = (x, table.astype(np.float32), mm.input[1])
                return
        table = np.full((V, V), off, np.float32) + np.float32(on - off) * np.eye(V, dtype=np.float32)
        name = self.layer_name(node, i)
        self.b.embed(name, x, V, V, bias=False, top=out)
        self.add_param(name, out, table.T.copy(), None)


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


def _make_unary(fn_name: str):
    def op(self, node, i, a):
        self._unary(node, i, fn_name)
    return op


def _make_reduce(red: str):
    def op(self, node, i, a):
        self._reduce(node, i, a, red)
    return op


for _op, _fn in UNARY.items():
    if not hasattr(OnnxElementwiseOps, "op_" + _op):
        setattr(OnnxElementwiseOps, "op_" + _op, _make_unary(_fn))
for _op, _red in REDUCE.items():
    setattr(OnnxElementwiseOps, "op_" + _op, _make_reduce(_red))
