"""The recurrent layers of ONNX graphs (a mixin of
:class:`~compressor.importers.onnx_host.OnnxHostOps`): ``LSTM`` / ``GRU``
(:mod:`compressor.graph.recurrent`) as, per direction, a ``MatMul`` input matrix and a
recurrent layer whose per-step M x V product runs on EIE, the host running the gates.
"""
from __future__ import annotations

import numpy as np

__all__ = ["OnnxRecurrentOps"]


class OnnxRecurrentOps:
    """ONNX LSTM and GRU (module docstring)."""

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
