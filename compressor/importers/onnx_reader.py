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
"""
from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import Any

import numpy as np

from ..errors import CompressorError, GraphError, ModelImportError
from ..fileio import MAX_ARRAY_ELEMENTS, read_regular_file
from ..graph.builder import NetBuilder
from ..graph.net import pool_out_size
from .graph_json import check_blob_sizes
from .model import ImportedModel

__all__ = ["MAX_ONNX_BYTES", "SUPPORTED_OPS", "read_onnx", "onnx_model_from_bytes"]

#: the largest ONNX file read (bytes); protobuf itself stops at 2 GiB
MAX_ONNX_BYTES = 1 << 30

SUPPORTED_OPS = ("Gemm", "MatMul", "Add", "Conv", "BatchNormalization", "Relu", "LeakyRelu",
                 "Clip", "PRelu",
                 "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Flatten",
                 "Reshape", "Concat", "Softmax", "Dropout", "Identity", "Constant")


def onnx_model_from_bytes(raw: bytes, source: str):
    """Parse and check an ONNX ``ModelProto``; :class:`ModelImportError` naming ``source``."""
    try:
        import onnx
        from google.protobuf.message import DecodeError
    except ImportError:  # pragma: no cover - an optional dependency (extra "import")
        raise ModelImportError(f"{source}: reading ONNX needs the 'onnx' package "
                               "(pip install 'eie-sim[import]')") from None
    model = onnx.ModelProto()
    try:
        model.ParseFromString(raw)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelImportError(f"{source}: not an ONNX model ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if not model.HasField("graph"):
        raise ModelImportError(f"{source}: not an ONNX model (no graph)")
    _check_messages(model, source)      # before the checker, which looks for external files
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx.checker.ValidationError and friends
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelImportError(f"{source}: the ONNX checker refuses the model: {first}") from None
    return model


def _check_messages(model, source: str) -> None:
    """Walk every message of the model once: refuse a tensor stored as external data
    anywhere (an initializer, a Constant's value, any attribute: ``onnx.numpy_helper``
    would open the file it names, relative to the working directory), and a string field
    holding invalid UTF-8 (protobuf's Python parser hands such a proto2 ``string`` back as
    ``bytes``, which no name comparison expects), naming the field."""
    from google.protobuf.descriptor import FieldDescriptor
    from onnx import TensorProto
    stack = [(model, "model")]
    while stack:
        msg, at = stack.pop()
        if isinstance(msg, TensorProto) and (msg.data_location == TensorProto.EXTERNAL
                                             or len(msg.external_data)):
            raise ModelImportError(f"{source}: tensor {msg.name!r} ({at}) is stored as external "
                                   "data; save the model as one file (onnx.save_model(..., "
                                   "save_as_external_data=False))")
        for fd, value in msg.ListFields():
            repeated = fd.is_repeated if hasattr(fd, "is_repeated") else \
                fd.label == FieldDescriptor.LABEL_REPEATED
            values = value if repeated else [value]
            if fd.type == FieldDescriptor.TYPE_STRING:
                if any(isinstance(v, bytes) for v in values):
                    raise ModelImportError(f"{source}: not an ONNX model ({at}.{fd.name} is not "
                                           "valid UTF-8 text)")
            elif fd.type == FieldDescriptor.TYPE_MESSAGE:
                stack.extend((v, f"{at}.{fd.name}") for v in values)


class _Reader:
    def __init__(self, model, source: str) -> None:
        import onnx
        from onnx import numpy_helper
        self.onnx, self.nh = onnx, numpy_helper
        self.model, self.source = model, source
        self.g = model.graph
        self.opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                         default=0)
        self.consts: dict[str, np.ndarray] = {}
        self.alias: dict[str, str] = {}
        self.weights: dict[str, list] = {}
        self.producer: dict[str, str] = {}        # blob -> parameter layer whose direct top it is
        self.folded: list[str] = []
        self.biased: set[str] = set()            # layers that gained a bias by folding
        self.names: set[str] = set()
        self.suffix: dict[str, int] = {}          # base name -> the last suffix given
        self.uses: dict[str, int] = {}
        for node in self.g.node:
            for t in node.input:
                if t:
                    self.uses[t] = self.uses.get(t, 0) + 1
        for o in self.g.output:
            self.uses[o.name] = self.uses.get(o.name, 0) + 1
        self.outputs = {o.name for o in self.g.output}
        self.output_tops: set[str] = set()       # blobs that graph outputs are aliases of

    # ---- helpers ----------------------------------------------------------------------
    def err(self, node, msg: str) -> ModelImportError:
        return ModelImportError(f"{self.source}: node {node.name or '(unnamed)'!r} "
                                f"({node.op_type}): {msg}")

    def tensor(self, t, what: str) -> np.ndarray:
        if t.data_location == self.onnx.TensorProto.EXTERNAL or len(t.external_data):
            raise ModelImportError(f"{self.source}: {what} {t.name!r} is stored as external data")
        dims = list(t.dims)
        n = math.prod(dims)
        if n > MAX_ARRAY_ELEMENTS:
            raise ModelImportError(f"{self.source}: {what} {t.name!r} has shape {dims}, more than "
                                   f"the limit of {MAX_ARRAY_ELEMENTS} elements")
        try:
            a = np.array(self.nh.to_array(t))
        except Exception as exc:
            raise ModelImportError(f"{self.source}: {what} {t.name!r} cannot be read ({exc})") from None
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ModelImportError(f"{self.source}: {what} {t.name!r} contains NaN or infinity")
        return a

    def const(self, node, name: str, what: str) -> np.ndarray:
        if name not in self.consts:
            raise self.err(node, f"{what} {name!r} must be a constant (an initializer), it is "
                           "computed by the graph")
        a = self.consts[name]
        if a.dtype.kind != "f":
            raise self.err(node, f"{what} {name!r} has dtype {a.dtype}; weights must be floating point")
        with np.errstate(over="ignore"):
            out = a.astype(np.float32)
        if not np.all(np.isfinite(out)):      # a finite float64 beyond float32's range
            raise self.err(node, f"{what} {name!r} holds values too large for float32")
        return out

    def blob(self, node, name: str) -> str:
        name = self.alias.get(name, name)
        if name in self.consts:
            raise self.err(node, f"input {name!r} is a constant where a computed tensor is expected")
        try:
            self.b.shape(name)
        except GraphError:
            raise self.err(node, f"input {name!r} is not produced by an earlier node") from None
        return name

    def layer_name(self, node, i: int, weight: str | None = None) -> str:
        """A unique layer name: for a parameter layer the stem of its weight initializer
        when it is PyTorch's ``X.weight`` (so names match the model's state dict), else the
        node's name, its output's, or ``Op_i``."""
        stem = weight[:-len(".weight")] if weight and weight.endswith(".weight") else ""
        base = stem or node.name or (node.output[0] if node.output and node.output[0]
                                     else f"{node.op_type}_{i}")
        name, k = base, self.suffix.get(base, 1)
        if name in self.names:               # base_2, base_3...: resumed where the last stopped
            while name in self.names:        # (a count per base: no quadratic walk over
                k += 1                       # thousands of nodes of one name)
                name = f"{base}_{k}"
            self.suffix[base] = k
        self.names.add(name)
        return name

    def attrs(self, node) -> dict[str, Any]:
        """The node's attributes; text must be UTF-8 and numbers finite."""
        out = {}
        for a in node.attribute:
            try:
                v = self.onnx.helper.get_attribute_value(a)
            except Exception as exc:  # an attribute of no known type
                raise self.err(node, f"attribute {a.name!r} cannot be read ({exc})") from None
            if isinstance(v, bytes):
                try:
                    v = v.decode("utf-8")
                except UnicodeDecodeError:
                    raise self.err(node, f"attribute {a.name!r} is not UTF-8 text") from None
            if isinstance(v, (float, list)) and any(
                    isinstance(x, float) and not math.isfinite(x)
                    for x in (v if isinstance(v, list) else [v])):
                raise self.err(node, f"attribute {a.name!r} = {v}: NaN or infinity is refused")
            out[a.name] = v
        return out

    def only_used(self, node, k: int = 1) -> None:
        """Outputs after the first ``k`` must be unused (e.g. Dropout's mask)."""
        for t in node.output[k:]:
            if t and self.uses.get(t, 0):
                raise self.err(node, f"output {t!r} is used; only the first output is supported")

    def add_param(self, name: str, top: str, w: np.ndarray, b: np.ndarray | None) -> None:
        self.weights[name] = [w.astype(np.float32), None if b is None else b.astype(np.float32)]
        self.producer[top] = name

    def fold_target(self, node, x: str) -> str | None:
        """The parameter layer whose output ``x`` is, if this node is its only consumer."""
        top = self.alias.get(x, x)
        lay = self.producer.get(top)
        # this node must be the only reader of the layer's output, under either name
        if lay is None or self.uses.get(x, 0) != 1 or self.uses.get(top, 0) > 1 or \
                top in self.outputs or top in self.output_tops:
            return None
        return lay

    def set_alias(self, name: str, target: str) -> None:
        """``name`` is another name of blob ``target`` (Identity, Dropout, a folded node)."""
        self.alias[name] = target
        if name in self.outputs:         # a graph output under another name: kept in a set,
            self.output_tops.add(target)  # not searched per fold (thousands of outputs)

    def set_bias(self, lay_name: str, bias: np.ndarray) -> None:
        self.weights[lay_name][1] = bias.astype(np.float32)
        self.biased.add(lay_name)

    # ---- the walk ---------------------------------------------------------------------
    def read(self) -> ImportedModel:
        for init in self.g.initializer:
            self.consts[init.name] = self.tensor(init, "initializer")
        inputs = [i for i in self.g.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise ModelImportError(f"{self.source}: the graph has {len(inputs)} inputs "
                                   f"({[i.name for i in inputs]}); one input tensor is supported")
        inp = inputs[0]
        tt = inp.type.tensor_type
        if not inp.type.HasField("tensor_type") or not tt.HasField("shape"):
            raise ModelImportError(f"{self.source}: input {inp.name!r} has no tensor shape")
        shape = []
        for d, dim in enumerate(tt.shape.dim):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                shape.append(int(dim.dim_value))
            elif d == 0:
                shape.append(1)                      # a symbolic batch: one image
            else:
                raise ModelImportError(f"{self.source}: input {inp.name!r} dimension {d} is "
                                       f"symbolic ({dim.dim_param or '?'}); give it a size")
        if len(shape) not in (2, 4):
            raise ModelImportError(f"{self.source}: input {inp.name!r} has shape {shape}; (N, D) or "
                                   "(N, C, H, W) inputs are supported")
        name = self.g.name or pathlib.Path(self.source).stem
        try:
            self.b = NetBuilder(name, shape, inp.name)
        except GraphError as exc:
            raise ModelImportError(f"{self.source}: {exc}") from None
        for i, node in enumerate(self.g.node):
            if node.domain not in ("", "ai.onnx"):
                raise self.err(node, f"operator domain {node.domain!r} is not supported")
            fn = getattr(self, "op_" + node.op_type, None)
            if fn is None:
                raise self.err(node, f"operation {node.op_type} cannot be run here (supported: "
                               f"{', '.join(SUPPORTED_OPS)}; docs/byom.md)")
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    fn(node, i, self.attrs(node))
            except GraphError as exc:
                raise self.err(node, str(exc)) from None
            for lay in (self.producer.get(self.alias.get(t, t)) for t in node.output[:1]):
                if lay is not None and not all(v is None or np.all(np.isfinite(v))
                                               for v in self.weights[lay]):
                    raise self.err(node, f"folding into {lay} gives weights or a bias too large "
                                   "for float32")
        if not self.weights:
            raise ModelImportError(f"{self.source}: no Gemm, MatMul or Conv layer with constant "
                                   "weights: nothing for EIE to run")
        try:
            net = check_blob_sizes(self.b.build(), self.source)
        except ModelImportError:
            raise
        except CompressorError as exc:
            raise ModelImportError(f"{self.source}: {exc}") from None
        by_name = {lay.name: lay for lay in net.layers}   # (Net.layer searches the list)
        for name in self.biased:
            lay = by_name[name]
            lay.bias_term = True
            if lay.conv is not None:
                lay.conv = dataclasses.replace(lay.conv, bias_term=True)
        weights = {k: (v[0], v[1]) for k, v in self.weights.items()}
        meta = {"opset": int(self.opset), "producer": self.model.producer_name or None,
                "folded": list(self.folded)}
        return ImportedModel(net, weights, self.source, "onnx", meta)

    # ---- operations -------------------------------------------------------------------
    def op_Constant(self, node, i, a):
        if "value" not in a:
            raise self.err(node, "only Constant nodes with a tensor 'value' are supported")
        self.consts[node.output[0]] = self.tensor(a["value"], "constant")

    def op_Identity(self, node, i, a):
        if node.input[0] in self.consts:
            self.consts[node.output[0]] = self.consts[node.input[0]]
        else:
            self.set_alias(node.output[0], self.blob(node, node.input[0]))

    def op_Dropout(self, node, i, a):
        self.only_used(node)
        self.set_alias(node.output[0], self.blob(node, node.input[0]))

    def _fc(self, node, i, x: str, w: np.ndarray, bias: np.ndarray | None):
        xs = self.b.shape(x)
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
        x = self.blob(node, node.input[0])
        B = self.const(node, node.input[1], "weight")
        if B.ndim != 2:
            raise self.err(node, f"weight of shape {B.shape}; Gemm needs a 2-D weight")
        w = B if a.get("transB", 0) else B.T
        bias = None
        if len(node.input) > 2 and node.input[2]:
            bias = self._per_output(node, self.const(node, node.input[2], "bias"), w.shape[0], 2, "bias")
        self._fc(node, i, x, np.ascontiguousarray(w), bias)

    def op_MatMul(self, node, i, a):
        x = self.blob(node, node.input[0])
        B = self.const(node, node.input[1], "weight")
        if B.ndim != 2:
            raise self.err(node, f"weight of shape {B.shape}; a 2-D constant weight is supported")
        self._fc(node, i, x, np.ascontiguousarray(B.T), None)

    def op_Add(self, node, i, a):
        ins = list(node.input)
        cidx = [k for k, t in enumerate(ins) if t in self.consts]
        if len(cidx) != 1:
            if len(cidx) == 0:
                tops = [self.blob(node, t) for t in ins]
                self.b.eltwise(self.layer_name(node, i), tops, top=node.output[0])
                return
            raise self.err(node, "an Add of two computed tensors (a residual connection) is not "
                           "supported; only a constant bias after Gemm/MatMul/Conv is folded")
        x = ins[1 - cidx[0]]
        lay = self.fold_target(node, x)
        if lay is None:
            raise self.err(node, "an Add of a constant is folded only into the bias of the Gemm, "
                           "MatMul or Conv right before it (when it is that layer's only consumer)")
        w, b = self.weights[lay]
        c = self.const(node, ins[cidx[0]], "addend")
        add = self._per_output(node, c, w.shape[0], w.ndim, "addend")
        self.set_bias(lay, add if b is None else b + add)
        self.set_alias(node.output[0], self.alias.get(x, x))
        self.folded.append(f"{node.name or node.output[0]} (Add) into {lay}")

    def op_BatchNormalization(self, node, i, a):
        if a.get("training_mode", 0):
            raise self.err(node, "training_mode=1 is not supported (export the model for inference)")
        self.only_used(node)
        x = node.input[0]
        lay = self.fold_target(node, x)
        if lay is None:
            raise self.err(node, "BatchNormalization is folded only into the Conv, Gemm or MatMul "
                           "right before it (when it is that layer's only consumer)")
        scale, beta, mean, var = (self.const(node, t, what).astype(np.float64).reshape(-1)
                                  for t, what in zip(node.input[1:5], ("scale", "B", "mean", "var")))
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
        x = self.blob(node, node.input[0])
        W = self.const(node, node.input[1], "weight")
        if W.ndim != 4:
            raise self.err(node, f"weight of shape {W.shape}; only 2-D convolutions (4-D weights) "
                           "are supported")
        k = self._kernel2(node, a, list(W.shape[2:]))
        if k != tuple(W.shape[2:]):
            raise self.err(node, f"kernel_shape {k} does not match the weight {W.shape}")
        self._ones(node, a, "dilations")
        strides = list(a.get("strides", [1, 1]))
        if len(strides) != 2:
            raise self.err(node, f"strides {strides}: two values expected")
        pad = self._pads(node, a)
        group = int(a.get("group", 1))
        xs = self.b.shape(x)
        if len(xs) != 4 or xs[1] != W.shape[1] * group:
            raise self.err(node, f"input {x!r} of shape {xs} does not fit the weight {W.shape} "
                           f"with group {group}")
        bias = None
        if len(node.input) > 2 and node.input[2]:
            bias = self.const(node, node.input[2], "bias").reshape(-1)
            if bias.shape != (W.shape[0],):
                raise self.err(node, f"bias of shape {bias.shape} for {W.shape[0]} outputs")
        name = self.layer_name(node, i, node.input[1])
        self.b.conv(name, x, int(W.shape[0]), kernel=k, stride=(int(strides[0]), int(strides[1])),
                    pad=pad, group=group, bias=bias is not None, top=node.output[0])
        self.add_param(name, node.output[0], W, bias)

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

    def _pool(self, node, i, a, method: str):
        """Caffe's pooling (ceil-mode size, windows starting in the padding dropped, average
        divided by the window clipped to the padded input) equals ONNX's when the output
        sizes agree and, for an average with padding, ``count_include_pad = 1``; an average
        window that runs past the padded input (ceil mode) is refused."""
        self.only_used(node)
        x = self.blob(node, node.input[0])
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
                    top=node.output[0], ceil_mode=ceil)

    def op_MaxPool(self, node, i, a):
        if a.get("storage_order", 0):
            raise self.err(node, "storage_order=1 is not supported")
        self._pool(node, i, a, "MAX")

    def op_AveragePool(self, node, i, a):
        self._pool(node, i, a, "AVE")

    def _global(self, node, i, method):
        x = self.blob(node, node.input[0])
        self.b.pool(self.layer_name(node, i), x, method, global_pooling=True, top=node.output[0])

    def op_GlobalAveragePool(self, node, i, a):
        self._global(node, i, "AVE")

    def op_GlobalMaxPool(self, node, i, a):
        self._global(node, i, "MAX")

    def op_Flatten(self, node, i, a):
        x = self.blob(node, node.input[0])
        axis = int(a.get("axis", 1))
        if axis != 1:
            raise self.err(node, f"axis={axis}: only Flatten(axis=1) (keep the batch) is supported")
        self.b.flatten(self.layer_name(node, i), x, top=node.output[0])

    def op_Reshape(self, node, i, a):
        x = self.blob(node, node.input[0])
        c = self.consts.get(node.input[1])
        target = [int(v) for v in c.reshape(-1)] if c is not None and c.dtype.kind in "iu" \
            and c.size <= 8 else None
        xs = self.b.shape(x)
        flat = math.prod(xs[1:])
        ok = (target is not None and len(target) == 2 and target[0] in (0, -1, xs[0])
              and target[1] in (-1, flat) and not (target[0] == -1 and target[1] == -1)
              and not (a.get("allowzero", 0) and 0 in target))
        if not ok:
            raise self.err(node, f"reshape to {target} of a {xs} tensor: only a flatten to "
                           "(N, -1) with a constant shape is supported")
        self.b.flatten(self.layer_name(node, i), x, top=node.output[0])

    def op_Concat(self, node, i, a):
        tops = [self.blob(node, t) for t in node.input]
        self.b.concat(self.layer_name(node, i), tops, axis=int(a.get("axis", 1)), top=node.output[0])

    def op_Softmax(self, node, i, a):
        x = self.blob(node, node.input[0])
        xs = self.b.shape(x)
        axis = int(a.get("axis", -1 if self.opset >= 13 else 1))
        axis %= len(xs)
        plane = len(xs) == 2 or math.prod(xs[2:]) == 1
        if axis != 1 or (self.opset < 13 and not plane):
            raise self.err(node, f"softmax along axis {axis} of a {xs} tensor: only the channel "
                           "axis 1 is supported")
        self.b.softmax(self.layer_name(node, i), x, top=node.output[0])


def read_onnx(path: str | pathlib.Path) -> ImportedModel:
    """An ONNX file as an :class:`ImportedModel` (see the module docstring for the ops)."""
    path = pathlib.Path(path)
    try:
        raw = read_regular_file(path, MAX_ONNX_BYTES, ModelImportError, "ONNX model")
    except FileNotFoundError:
        raise ModelImportError(f"{path}: no such file") from None
    except OSError as exc:
        raise ModelImportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    model = onnx_model_from_bytes(raw, str(path))
    return _Reader(model, str(path)).read()
