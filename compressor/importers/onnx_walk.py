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
from .onnx_host import CONST_ONLY, OnnxHostOps
from .onnx_ops import OnnxOps

__all__ = ["OnnxWalk", "MAX_INPUT_DIM"]

#: the largest size of one input dimension read (the blob-size limit still applies)
MAX_INPUT_DIM = 1 << 24


class OnnxWalk(OnnxHostOps, OnnxOps):
    """One ONNX ``ModelProto`` (checked: :mod:`compressor.importers.onnx_file`) read into
    an :class:`ImportedModel` by :meth:`read`."""

    def __init__(self, model, source: str, input_shapes=None, input_values=None) -> None:
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
        for o in self.g.output:
            self.uses[o.name] = self.uses.get(o.name, 0) + 1
        self.outputs = {o.name for o in self.g.output}
        self.output_tops: set[str] = set()       # blobs that graph outputs are aliases of
        self.input_shapes = {k: tuple(v) for k, v in (input_shapes or {}).items()}
        self.input_values = dict(input_values or {})
        self.b: NetBuilder | None = None
        self.problems: list[str] = []
        self.unsupported: list[str] = []
        self.seen_problems: set[str] = set()
        self.failed: set[str] = set()            # outputs of nodes that could not be read
        self.pending_perm: dict[str, tuple[str, tuple[int, ...]]] = {}  # blob -> (source, perm)
        self.colperm: dict[str, tuple[str, np.ndarray]] = {}  # flat blob -> (blob, column order)
        self.pending_pool_pad: dict[str, tuple] = {}
        self.input_transposes: set[str] = set()
        self.consts_init: set[str] = set()
        self.index = -1
        self.count_uses(self.g)

    def count_uses(self, graph) -> None:
        """How many node inputs read each name, subgraphs (If branches) included."""
        for node in graph.node:
            for t in node.input:
                if t:
                    self.uses[t] = self.uses.get(t, 0) + 1
            for at in node.attribute:
                if at.type == self.onnx.AttributeProto.GRAPH:
                    self.count_uses(at.g)
                    for o in at.g.output:
                        self.uses[o.name] = self.uses.get(o.name, 0) + 1

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
        if a.dtype.kind == "f" and np.any(np.isnan(a)):
            raise ModelImportError(f"{self.source}: {what} {t.name!r} contains NaN")
        # +-inf is kept: JAX exports use it as the identity of a Max / Min (masks, the
        # padding of a max pooling); where a weight or a host constant needs finite
        # values, const() and host_const() refuse it, naming the node
        return a

    def const(self, node, name: str, what: str) -> np.ndarray:
        if name not in self.consts:
            raise self.err(node, f"{what} {name!r} must be a constant (an initializer), it is "
                           "computed by the graph")
        a = self.consts[name]
        if a.dtype.kind != "f":
            raise self.err(node, f"{what} {name!r} has dtype {a.dtype}; weights must be floating point")
        if np.any(np.isinf(a)):
            raise self.err(node, f"{what} {name!r} contains infinity (allowed only in constants "
                           "that feed a Max, a Min or the padding of a MaxPool)")
        with np.errstate(over="ignore"):
            out = a.astype(np.float32)
        if not np.all(np.isfinite(out)):      # a finite float64 beyond float32's range
            raise self.err(node, f"{what} {name!r} holds values too large for float32")
        return out

    def blob(self, node, name: str) -> str:
        """The computed blob ``name`` (an alias resolved; a pending transpose or column
        permutation made into a host layer here, for a consumer that cannot fold it)."""
        name = self.alias.get(name, name)
        if name in self.pending_perm:
            return self.materialize_perm(node, name)
        if name in self.colperm:
            return self.materialize_cols(node, name)
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
    def problem(self, exc: Exception, unsupported: bool = False) -> None:
        msg = str(exc)
        if msg not in self.seen_problems:
            self.seen_problems.add(msg)
            (self.unsupported if unsupported else self.problems).append(msg)

    def declare_inputs(self) -> None:
        """The graph inputs (not initializers): shapes (``input_shapes`` overrides,
        a symbolic batch read as 1), fixed values (``input_values`` become constants),
        and a Transpose that is an input's only consumer folded into it (the input is
        declared in the transposed shape; ``Net.input_layouts`` records the permutation)."""
        first = True
        for inp in self.g.input:
            if inp.name in self.consts:
                continue
            if inp.name in self.input_values:
                self.consts[inp.name] = np.asarray(self.input_values[inp.name])
                continue
            tt = inp.type.tensor_type
            if not inp.type.HasField("tensor_type") or not tt.HasField("shape"):
                if inp.name not in self.input_shapes:
                    self.failed.add(inp.name)
                    self.problem(ModelImportError(f"{self.source}: input {inp.name!r} has no "
                                                  "tensor shape; give one with --input-shape"))
                    continue
            shape = []
            if inp.name in self.input_shapes:
                shape = [int(d) for d in self.input_shapes[inp.name]]
                if tt.HasField("shape") and len(tt.shape.dim) != len(shape):
                    self.problem(ModelImportError(
                        f"{self.source}: --input-shape {inp.name}={'x'.join(map(str, shape))} "
                        f"has {len(shape)} dimensions, the input has {len(tt.shape.dim)}"))
                    self.failed.add(inp.name)
                    continue
            else:
                bad = False
                for d, dim in enumerate(tt.shape.dim):
                    if dim.HasField("dim_value") and dim.dim_value > 0:
                        shape.append(int(dim.dim_value))
                    elif d == 0:
                        shape.append(1)                      # a symbolic batch: one sample
                    else:
                        bad = True
                        self.problem(ModelImportError(
                            f"{self.source}: input {inp.name!r} dimension {d} is symbolic "
                            f"({dim.dim_param or '?'}); give its size with --input-shape "
                            f"{inp.name}=" + "x".join(str(x.dim_value) if x.dim_value > 0
                                                      else "N" for x in tt.shape.dim)))
                if bad:
                    self.failed.add(inp.name)
                    continue
            if not shape and tt.elem_type not in (self.onnx.TensorProto.FLOAT,
                                                  self.onnx.TensorProto.DOUBLE,
                                                  self.onnx.TensorProto.FLOAT16):
                self.failed.add(inp.name)
                self.problem(ModelImportError(
                    f"{self.source}: input {inp.name!r} is an integer scalar (a setting such as "
                    f"a sample rate, not data); give its value with --input-value "
                    f"{inp.name}=VALUE"))
                continue
            if any(d > MAX_INPUT_DIM for d in shape):
                self.failed.add(inp.name)
                self.problem(ModelImportError(f"{self.source}: input {inp.name!r} has shape "
                                              f"{shape}; sizes above {MAX_INPUT_DIM} are refused"))
                continue
            perm = None
            readers = [n for n in self.g.node if inp.name in n.input]
            if (len(readers) == 1 and readers[0].op_type == "Transpose"
                    and self.uses.get(inp.name, 0) == 1 and inp.name not in self.outputs):
                perm = self.attrs(readers[0]).get("perm", list(range(len(shape)))[::-1])
                if sorted(perm) == list(range(len(shape))):
                    shape = [shape[p] for p in perm]
                    self.input_transposes.add(readers[0].output[0])
                    self.set_alias(readers[0].output[0], inp.name)
                else:
                    perm = None
            try:
                if first:
                    name = self.g.name or pathlib.Path(self.source).stem
                    self.b = NetBuilder(name, shape, inp.name)
                    if perm is not None:
                        self.b.input_layouts[inp.name] = tuple(int(p) for p in perm)
                    first = False
                else:
                    self.b.add_input(inp.name, shape, perm)
            except GraphError as exc:
                self.failed.add(inp.name)
                self.problem(ModelImportError(f"{self.source}: {exc}"))
        unknown = sorted(set(self.input_shapes) | set(self.input_values))
        names = {i.name for i in self.g.input}
        for n in unknown:
            if n not in names:
                self.problem(ModelImportError(f"{self.source}: --input-shape / --input-value "
                                              f"names {n!r}, the graph's inputs are "
                                              f"{sorted(names - set(self.consts_init))}"))

    def walk(self, nodes) -> None:
        """Dispatch every node; a node that fails (or reads a failed node's output) is
        collected, not fatal, so the file's problems are reported together."""
        for node in nodes:
            self.index += 1
            i = self.index
            if node.domain not in ("", "ai.onnx"):
                self.problem(self.err(node, f"operator domain {node.domain!r} is not supported"),
                             unsupported=True)
                self.failed.update(t for t in node.output if t)
                continue
            if not hasattr(self, "op_" + node.op_type) and node.op_type not in CONST_ONLY:
                self.failed.update(t for t in node.output if t)
                self.problem(self.err(node, f"operation {node.op_type} cannot be run here "
                                      "(docs/byom.md lists the operations read)"), unsupported=True)
                continue
            if any(t in self.failed for t in node.input if t):
                self.failed.update(t for t in node.output if t)
                continue
            try:
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    a = self.attrs(node)
                    if self.fold_constant(node, a):
                        continue
                    fn = getattr(self, "op_" + node.op_type, None)
                    if fn is None:
                        raise self.err(node, f"operation {node.op_type} runs only on constant "
                                       "inputs (it is folded at import), here it reads a "
                                       "computed tensor")
                    fn(node, i, a)
            except GraphError as exc:
                self.problem(self.err(node, str(exc)))
                self.failed.update(t for t in node.output if t)
                continue
            except ModelImportError as exc:
                self.problem(exc)
                self.failed.update(t for t in node.output if t)
                continue
            for lay in (self.producer.get(self.alias.get(t, t)) for t in node.output[:1]):
                if lay is not None and not all(v is None or np.all(np.isfinite(v))
                                               for v in self.weights[lay]):
                    self.problem(self.err(node, f"folding into {lay} gives weights or a bias too "
                                          "large for float32"))

    def read(self) -> ImportedModel:
        for init in self.g.initializer:
            try:
                self.consts[init.name] = self.tensor(init, "initializer")
            except ModelImportError as exc:
                self.problem(exc)
                self.failed.add(init.name)
        self.consts_init = set(self.consts)
        self.declare_inputs()
        if self.b is None:
            if not self.problems:
                self.problem(ModelImportError(f"{self.source}: the graph has no input tensor"))
            self.raise_problems()
        self.walk(self.g.node)
        for o in self.g.output:
            if o.name not in self.failed and self.alias.get(o.name, o.name) in self.pending_perm:
                self.materialize_perm(self.g.node[-1], self.alias.get(o.name, o.name))
        if not self.weights and not self.problems and not self.unsupported:
            self.problem(ModelImportError(f"{self.source}: no Gemm, MatMul or Conv layer with constant "
                                          "weights (nor a Gather table, LSTM or GRU): nothing for "
                                          "EIE to run"))
        self.raise_problems()
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
        from ..graph.ops import WEIGHT_TYPES, host_work
        work = [host_work(lay) for lay in net.layers]      # (0, 0) for EIE's M x V layers
        meta = {"opset": int(self.opset), "producer": self.model.producer_name or None,
                "folded": list(self.folded),
                "host_layers": sum(1 for lay in net.layers if lay.type not in WEIGHT_TYPES),
                "recurrent_layers": sum(1 for lay in net.layers if lay.type in ("LSTM", "GRU")),
                "host_flops": int(sum(f for _, f in work))}
        if net.input_layouts:
            meta["input_layouts"] = {k: list(v) for k, v in net.input_layouts.items()}
        if self.input_values:
            meta["input_values"] = {k: np.asarray(v).tolist() for k, v in self.input_values.items()}
        return ImportedModel(net, weights, self.source, "onnx", meta)

    def raise_problems(self) -> None:
        """One error listing every problem found, the unsupported operations first."""
        allp = self.unsupported + self.problems
        if not allp:
            return
        if len(allp) == 1:
            raise ModelImportError(allp[0])
        head = f"{self.source}: {len(allp)} problems"
        if self.unsupported:
            head += f" ({len(self.unsupported)} unsupported operation(s) first)"
        pre = f"{self.source}: "
        lines = [m[len(pre):] if m.startswith(pre) else m for m in allp]
        raise ModelImportError(head + ":\n  " + "\n  ".join(lines))
