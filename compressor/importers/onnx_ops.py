"""The ONNX operations, each mapped onto the project's Caffe-vocabulary graph
(:class:`compressor.graph.NetBuilder`): the table of :mod:`compressor.importers.onnx_reader`
(docs/byom.md "ONNX").

:class:`OnnxOps` holds one ``op_<OpType>(node, i, attrs)`` method per supported operation
(:data:`SUPPORTED_OPS`); it is a mixin of :class:`~compressor.importers.onnx_walk.OnnxWalk`,
whose helpers (``err``, ``blob``, ``const``, ``layer_name``, ``fold_target``...) and state
(the builder ``b``, the constants, the weights) it uses. Folding (BatchNormalization, a
constant Add into the bias of the Gemm / MatMul / Conv before it) and Caffe's pooling rules
are implemented here.
"""
from __future__ import annotations

import numpy as np

from ..graph.net import pool_out_size
from .onnx_host import HOST_OPS

__all__ = ["SUPPORTED_OPS", "OnnxOps"]

SUPPORTED_OPS = ("Gemm", "MatMul", "Add", "Conv", "BatchNormalization", "Relu", "LeakyRelu",
                 "Clip", "PRelu",
                 "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Flatten",
                 "Reshape", "Concat", "Softmax", "Dropout", "Identity", "Constant") + HOST_OPS


class OnnxOps:
    """``op_*``: one method per supported ONNX op (a mixin of
    :class:`~compressor.importers.onnx_walk.OnnxWalk`)."""

    def op_Constant(self, node, i, a):
        if "value" in a:
            self.consts[node.output[0]] = self.tensor(a["value"], "constant")
            return
        for key, dtype in (("value_float", np.float32), ("value_floats", np.float32),
                           ("value_int", np.int64), ("value_ints", np.int64)):
            if key in a:
                self.consts[node.output[0]] = np.asarray(a[key], dtype=dtype)
                return
        raise self.err(node, "only Constant nodes with a tensor or number value are supported")

    def op_Identity(self, node, i, a):
        if node.input[0] in self.consts:
            self.consts[node.output[0]] = self.consts[node.input[0]]
        else:
            self.set_alias(node.output[0], self.blob(node, node.input[0]))

    def op_Dropout(self, node, i, a):
        self.only_used(node)
        self.set_alias(node.output[0], self.blob(node, node.input[0]))

    def _fc(self, node, i, x: str, w: np.ndarray, bias: np.ndarray | None, cols=None):
        xs = self.b.shape(x)
        if cols is not None:            # a transposed map flattened: the weight's columns
            w2 = np.empty_like(w)       # follow the map's own order instead
            w2[:, cols] = w
            w = w2
            self.folded.append(f"the Transpose before {node.name or node.output[0]} "
                               f"({node.op_type}) into its weight's column order")
        if len(xs) > 2 and node.op_type == "MatMul":
            if w.shape[1] != xs[-1]:
                raise self.err(node, f"weight of {w.shape[1]} inputs for an input of {xs[-1]} features")
            name = self.layer_name(node, i, node.input[1])
            self.b.matmul(name, x, int(w.shape[0]), bias=bias is not None, top=node.output[0])
            self.add_param(name, node.output[0], w, bias)
            return
        if len(xs) != 2:
            raise self.err(node, f"input {x!r} has shape {xs}; a 2-D (N, D) input is expected")
        if w.shape[1] != xs[1]:
            raise self.err(node, f"weight of {w.shape[1]} inputs for an input of {xs[1]} features")
        name = self.layer_name(node, i, node.input[1])
        self.b.fc(name, x, int(w.shape[0]), bias=bias is not None, top=node.output[0])
        self.add_param(name, node.output[0], w, bias)

    def _per_output(self, node, c: np.ndarray, n: int, rank: int, what: str) -> np.ndarray:
        """A constant broadcast over one output (rank 2: ``(N, n)``; rank 4: ``(N, n, H, W)``)
        as an ``(n,)`` vector, or an error when it varies along another axis."""
        if c.size == 1:
            return np.full(n, float(c.reshape(-1)[0]), np.float32)
        if any(d != 1 for d in c.shape[:-rank]):
            raise self.err(node, f"{what} of shape {c.shape} has more than {rank} axes; it "
                           "cannot be folded into a bias")
        sq = c.reshape(c.shape[-rank:] if c.ndim > rank else c.shape)
        full = (1,) * (rank - sq.ndim) + sq.shape
        want = [1] * rank
        want[1] = n
        if list(full) != want:
            raise self.err(node, f"{what} of shape {c.shape} is not one value per output "
                           f"({n}); it cannot be folded into a bias")
        return sq.reshape(n).astype(np.float32)

    def op_Gemm(self, node, i, a):
        if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
            raise self.err(node, f"alpha={a.get('alpha', 1.0)}, beta={a.get('beta', 1.0)}; only 1.0 "
                           "is supported (scale the weights)")
        if a.get("transA", 0):
            raise self.err(node, "transA=1 is not supported")
        x, cols = self.fc_input(node, node.input[0])
        B = self.const(node, node.input[1], "weight")
        if B.ndim != 2:
            raise self.err(node, f"weight of shape {B.shape}; Gemm needs a 2-D weight")
        w = B if a.get("transB", 0) else B.T
        bias = None
        if len(node.input) > 2 and node.input[2]:
            bias = self._per_output(node, self.const(node, node.input[2], "bias"), w.shape[0], 2, "bias")
        self._fc(node, i, x, np.ascontiguousarray(w), bias, cols)

    def op_MatMul(self, node, i, a):
        if node.input[1] not in self.consts:
            raise self.err(node, "a MatMul of two computed tensors (attention) cannot run on EIE; "
                           "the second operand must be a constant weight")
        x, cols = self.fc_input(node, node.input[0])
        B = self.const(node, node.input[1], "weight")
        if B.ndim != 2:
            raise self.err(node, f"weight of shape {B.shape}; a 2-D constant weight is supported")
        self._fc(node, i, x, np.ascontiguousarray(B.T), None, cols)

    def op_Add(self, node, i, a):
        """A per-output constant after a weight layer: folded into its bias; otherwise a
        host addition (an Eltwise of two equal-shaped tensors, else a broadcasting Binary)."""
        self._binary(node, i, a, "add")

    def op_BatchNormalization(self, node, i, a):
        if a.get("training_mode", 0):
            raise self.err(node, "training_mode=1 is not supported (export the model for inference)")
        self.only_used(node)
        x = node.input[0]
        lay = self.fold_target(node, x)
        scale, beta, mean, var = (self.const(node, t, what).astype(np.float64).reshape(-1)
                                  for t, what in zip(node.input[1:5], ("scale", "B", "mean", "var")))
        if lay is None:
            # not after a weight layer it can fold into: the per-channel affine on the host
            eps = float(a.get("epsilon", 1e-5))
            if eps <= 0 or np.any(var < 0):
                raise self.err(node, f"variance < 0 or epsilon {eps} <= 0")
            self.b.batchnorm(self.layer_name(node, i), self.blob(node, x), scale, beta, mean, var,
                             eps=eps, top=node.output[0])
            return
        w, b = self.weights[lay]
        n = w.shape[0]
        if any(v.shape != (n,) for v in (scale, beta, mean, var)):
            raise self.err(node, f"parameters are not {n} values (one per output of {lay})")
        eps = float(a.get("epsilon", 1e-5))
        if not np.all(var + eps > 0):
            raise self.err(node, f"variance + epsilon ({eps}) <= 0: the scale would not be finite")
        s = scale / np.sqrt(var + eps)
        w_new = (w.astype(np.float64) * s.reshape((n,) + (1,) * (w.ndim - 1))).astype(np.float32)
        b0 = np.zeros(n) if b is None else b.astype(np.float64)
        if not np.all(np.isfinite(w_new)) or not np.all(np.isfinite(s)):
            raise self.err(node, "folding gives weights too large for float32")
        self.weights[lay][0] = w_new
        self.set_bias(lay, (s * (b0 - mean) + beta).astype(np.float32))
        self.set_alias(node.output[0], self.alias.get(x, x))
        self.folded.append(f"{node.name or node.output[0]} (BatchNormalization) into {lay}")

    def _pads(self, node, a, nd: int = 2) -> tuple[int, int]:
        auto = a.get("auto_pad", "NOTSET")
        if auto not in ("NOTSET", "VALID"):
            raise self.err(node, f"auto_pad={auto} is not supported; export with explicit pads")
        pads = list(a.get("pads", [0] * 2 * nd)) if auto == "NOTSET" else [0] * 2 * nd
        if len(pads) != 2 * nd or pads[:nd] != pads[nd:]:
            raise self.err(node, f"pads {pads}: only symmetric padding (begin = end) is supported")
        return (int(pads[0]), int(pads[1]))

    def _kernel2(self, node, a, default=None) -> tuple[int, int]:
        k = list(a.get("kernel_shape", default or []))
        if len(k) != 2:
            raise self.err(node, f"kernel_shape {k}: only 2-D kernels are supported")
        return (int(k[0]), int(k[1]))

    def _ones(self, node, a, key: str) -> None:
        v = list(a.get(key, []))
        if any(x != 1 for x in v):
            raise self.err(node, f"{key} {v}: only 1 is supported")

    def op_Conv(self, node, i, a):
        """Conv2d, and Conv1d as a convolution of kernel height 1 on ``(N, C, 1, L)``;
        pads explicit or ``auto_pad`` (SAME_UPPER / SAME_LOWER / VALID); asymmetric pads
        become a host zero Pad before it."""
        x = self.blob(node, node.input[0])
        W = self.const(node, node.input[1], "weight")
        if W.ndim not in (3, 4):
            raise self.err(node, f"weight of shape {W.shape}; 1-D or 2-D convolutions (3-D or "
                           "4-D weights) are supported")
        one_d = W.ndim == 3
        nd = W.ndim - 2
        k = [int(v) for v in a.get("kernel_shape", list(W.shape[2:]))]
        if tuple(k) != tuple(W.shape[2:]):
            raise self.err(node, f"kernel_shape {k} does not match the weight {W.shape}")
        strides = [int(v) for v in a.get("strides", [1] * nd)]
        dil = [int(v) for v in a.get("dilations", [1] * nd)]
        if len(strides) != nd or len(dil) != nd or any(v < 1 for v in strides + dil):
            raise self.err(node, f"strides {strides}, dilations {dil}: {nd} values >= 1 expected")
        group = int(a.get("group", 1))
        xs = self.b.shape(x)
        if len(xs) != 2 + nd or xs[1] != W.shape[1] * group:
            raise self.err(node, f"input {x!r} of shape {xs} does not fit the weight {W.shape} "
                           f"with group {group}")
        begins, ends = self.spatial_pads(node, a, list(xs[2:]), k, strides, dil)
        bias = None
        if len(node.input) > 2 and node.input[2]:
            bias = self.const(node, node.input[2], "bias").reshape(-1)
            if bias.shape != (W.shape[0],):
                raise self.err(node, f"bias of shape {bias.shape} for {W.shape[0]} outputs")
        if one_d:
            x, _ = self.to_4d(node, x)
            W = W.reshape(W.shape[0], W.shape[1], 1, W.shape[2])
            k, strides, dil = [1] + k, [1] + strides, [1] + dil
            begins, ends = [0] + begins, [0] + ends
        if begins != ends:
            xs4 = self.b.shape(x)
            x = self.b.host(self.uniq(f"{x}_pad"), "Pad", [x],
                            dims=(0, 0, begins[0], begins[1], 0, 0, ends[0], ends[1]))
            begins = [0, 0]
            self.folded.append(f"asymmetric padding of {node.name or node.output[0]} (Conv) "
                               f"as a host Pad of {tuple(xs4)}")
        name = self.layer_name(node, i, node.input[1])
        top = node.output[0] if not one_d else self.uniq(node.output[0] + "_2d")
        self.b.conv(name, x, int(W.shape[0]), kernel=(k[0], k[1]), stride=(strides[0], strides[1]),
                    pad=(begins[0], begins[1]), group=group, bias=bias is not None, top=top,
                    dilation=(dil[0], dil[1]))
        self.add_param(name, top, W, bias)
        if one_d:
            self.from_4d(top, node.output[0])

    def op_Clip(self, node, i, a):
        x = self.blob(node, node.input[0])
        if self.opset >= 11:
            lo, hi = (self._scalar(node, t, what) if t else None
                      for t, what in zip(list(node.input[1:3]) + [""] * (3 - len(node.input)),
                                         ("min", "max")))
        else:
            lo, hi = a.get("min"), a.get("max")
        if lo == 0.0 and hi is None:
            self.b.relu(self.layer_name(node, i), x, top=node.output[0])
        elif lo is None or hi is None:
            raise self.err(node, f"Clip(min={lo}, max={hi}): only Clip(0, none) (a ReLU) or a "
                           "Clip with both bounds (ReLU6) is supported")
        else:
            self.b.clip(self.layer_name(node, i), x, lo, hi, top=node.output[0])

    def _scalar(self, node, name: str, what: str) -> float:
        c = self.const(node, name, what)
        if c.size != 1:
            raise self.err(node, f"{what} {name!r} of shape {c.shape}: one value expected")
        return float(c.reshape(-1)[0])

    def op_PRelu(self, node, i, a):
        x = self.blob(node, node.input[0])
        slope = self.const(node, node.input[1], "slope").reshape(-1)
        self.b.prelu(self.layer_name(node, i), x, [float(v) for v in slope], top=node.output[0])

    def op_Relu(self, node, i, a):
        x = self.blob(node, node.input[0])
        self.b.relu(self.layer_name(node, i), x, top=node.output[0])

    def op_LeakyRelu(self, node, i, a):
        x = self.blob(node, node.input[0])
        self.b.relu(self.layer_name(node, i), x, negative_slope=float(a.get("alpha", 0.01)),
                    top=node.output[0])

    def _pool(self, node, i, a, method: str, x: str | None = None, top: str | None = None):
        """Caffe's pooling (ceil-mode size, windows starting in the padding dropped, average
        divided by the window clipped to the padded input) equals ONNX's when the output
        sizes agree and, for an average with padding, ``count_include_pad = 1``; an average
        window that runs past the padded input (ceil mode) is refused."""
        self.only_used(node)
        x = self.blob(node, node.input[0]) if x is None else x
        xs = self.b.shape(x)
        if len(xs) != 4:
            raise self.err(node, f"input of shape {xs}; (N, C, H, W) expected")
        k = self._kernel2(node, a)
        self._ones(node, a, "dilations")
        s = [int(v) for v in a.get("strides", [1, 1])]
        if len(s) != 2 or any(v < 1 for v in s):
            raise self.err(node, f"strides {s}: two integers >= 1 expected")
        p = self._pads(node, a)
        ceil = bool(a.get("ceil_mode", 0))
        for d, (size, kk, ss, pp) in enumerate(zip(xs[2:], k, s, p)):
            if ceil:
                want = -(-(size + 2 * pp - kk) // ss) + 1
                if (want - 1) * ss >= size + pp:
                    want -= 1
            else:
                want = (size + 2 * pp - kk) // ss + 1
            ours = pool_out_size(size, kk, ss, pp, ceil)
            if want != ours:
                raise self.err(node, f"output size {want} along {'HW'[d]} (ceil_mode={int(ceil)}) "
                               f"differs from Caffe's ceil-mode pooling ({ours}); pad the input "
                               "or change the kernel/stride so the windows tile it exactly")
            if method == "AVE" and (want - 1) * ss + kk > size + 2 * pp:
                raise self.err(node, "an average window runs past the padded input (ceil mode); "
                               "its divisor is not defined the same way here")
        if method == "AVE" and any(p) and not a.get("count_include_pad", 0):
            raise self.err(node, "count_include_pad=0 with padding: this project's average pooling "
                           "(Caffe's) counts the padding in the divisor; export with "
                           "count_include_pad=1 or without padding")
        self.b.pool(self.layer_name(node, i), x, method, kernel=k, stride=tuple(s), pad=p,
                    top=top or node.output[0], ceil_mode=ceil)

    def op_MaxPool(self, node, i, a):
        if a.get("storage_order", 0):
            raise self.err(node, "storage_order=1 is not supported")
        self.only_used(node)
        self.pool_layer(node, i, a, "MAX")

    def op_AveragePool(self, node, i, a):
        self.pool_layer(node, i, a, "AVE")

    def _global(self, node, i, method):
        x = self.blob(node, node.input[0])
        self.b.pool(self.layer_name(node, i), x, method, global_pooling=True, top=node.output[0])

    def op_GlobalAveragePool(self, node, i, a):
        self._global(node, i, "AVE")

    def op_GlobalMaxPool(self, node, i, a):
        self._global(node, i, "MAX")

    def op_Concat(self, node, i, a):
        tops = [self.blob(node, t) for t in node.input]
        self.b.concat(self.layer_name(node, i), tops, axis=int(a.get("axis", 1)), top=node.output[0])
