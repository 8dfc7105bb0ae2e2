"""The walk over an ONNX graph's nodes (in the graph's order; ONNX requires topological
order): :class:`OnnxWalk` holds the constants, the blob aliases, the weights and the
:class:`~compressor.graph.NetBuilder`, with the helpers every operation uses (checked
constants and attributes, unique layer names, folding targets), and dispatches each node to
its ``op_<OpType>`` method (:class:`~compressor.importers.onnx_ops.OnnxOps`); the result is
an :class:`~compressor.importers.model.ImportedModel`. Every problem is a
:class:`~compressor.errors.ModelImportError` naming the file, the node and its op.
"""
from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import Any

import numpy as np

from ..errors import CompressorError, GraphError, ModelImportError
from ..graph.builder import NetBuilder
from ..npzio import MAX_ARRAY_ELEMENTS
from .graph_json import check_blob_sizes
from .model import ImportedModel
from .onnx_ops import SUPPORTED_OPS, OnnxOps

__all__ = ["OnnxWalk"]


class OnnxWalk(OnnxOps):
    """One ONNX ``ModelProto`` (checked: :mod:`compressor.importers.onnx_file`) read into
    an :class:`ImportedModel` by :meth:`read`."""

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
