"""The layout and indexing operations of ONNX graphs (a mixin of
:class:`~compressor.importers.onnx_host.OnnxHostOps`): ``Transpose`` (folded into a graph
input or into the next weight's column order where it can be, else a host layer),
``Reshape`` / ``Flatten`` / ``Squeeze`` / ``Unsqueeze`` / ``Expand``, and ``Slice`` /
``Split`` / ``Gather`` / ``Pad`` (a ``Gather`` of a constant 2-D table by computed indices
is an ``Embed`` weight layer; ``-inf`` padding before a ``MaxPool`` is folded into it).
The data is moved on the host; EIE runs only the M x V products (paper Sec. III).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["OnnxLayoutOps"]


class OnnxLayoutOps:
    """Layout, reshape, slicing and padding ops (module docstring)."""

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
        mode = a.get("mode", "constant")
        if mode not in ("constant", "reflect", "edge"):
            raise self.err(node, f"mode {mode!r}: constant, reflect or edge padding")
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
        if math.isinf(value) and value < 0 and mode == "constant":
            # -inf: the padding of a max pooling (JAX's reduce_window); folded into it
            readers = [n for n in self.g.node if node.output[0] in n.input]
            if (len(readers) == 1 and readers[0].op_type == "MaxPool" and len(xs) == 4
                    and pads[0] == pads[1] == pads[4] == pads[5] == 0):
                self.pending_pool_pad[node.output[0]] = (x, (pads[2], pads[3]), (pads[6], pads[7]))
                return
            raise self.err(node, "padding with -inf is supported only right before a MaxPool")
        if not math.isfinite(value):
            raise self.err(node, f"padding value {value}")
        self.host(node, i, "Pad", [x], dims=tuple(pads), alpha=value,
                  op="" if mode == "constant" else mode)
