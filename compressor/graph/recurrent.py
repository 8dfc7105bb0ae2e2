"""Recurrent layers (LSTM, GRU) as EIE ran NeuralTalk's LSTM (paper Sec. VI): the gate
matrices are M x V products on EIE, the gate non-linearities and the state update are
element-wise work on the host.

An imported recurrent layer is two weight layers of a :class:`~compressor.graph.net.Net`:

* the **input matrix** ``W_ih`` (all gates stacked, ``(G*H, I)``) as a ``MatMul`` layer
  over the input sequence ``(T, N, I)``: one M x V per time step (and batch row), giving
  ``gx = W_ih x_t + b_ih`` for every step at once (it does not depend on the state);
* the **recurrent matrix** ``W_hh`` (``(G*H, H)``, bias ``b_hh``) as an ``LSTM`` or
  ``GRU`` layer (this module) whose bottoms are ``gx`` ``(T, N, G*H)`` and optionally the
  initial hidden state ``h0`` ``(N, H)`` and (LSTM) cell state ``c0`` ``(N, H)``; its
  M x V input at step ``t`` is the previous hidden state ``h_{t-1}``, so the steps run in
  order: ``gh = W_hh h_{t-1} + b_hh`` on EIE, then the gate math on the host
  (:func:`lstm_cell`, :func:`gru_cell`). Its tops are ``Y`` ``(T, N, H)`` (every hidden
  state), the last hidden state ``(N, H)`` and, for an LSTM, the last cell state ``(N, H)``.

The gate order inside the stacked matrices is the layer's ``op``: ``"iofc"`` (ONNX LSTM:
input, output, forget, cell), ``"ifco"`` (PyTorch: input, forget, cell ``g``, output),
``"zrh"`` (ONNX GRU: update, reset, hidden) or ``"rzh"`` (PyTorch GRU: reset, update,
new). A GRU's new-gate product is taken before the reset gate multiplies it (PyTorch's
form, ONNX ``linear_before_reset=1``): ``n = tanh(gx_n + r * gh_n)``, so ``W_hh``'s input
is ``h_{t-1}`` for every gate. ``reverse``: the steps run from ``T-1`` down to 0.

A runner that computes ``gh`` itself (EIE, in fixed point) passes it through the ``mxv``
argument of :func:`recurrent_run`; :func:`recurrent_inputs` gives the hidden states a
float run multiplied (``ForwardResult.layer_inputs`` of the layer).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import GraphError
from .layer import Layer

__all__ = ["RECURRENT_TYPES", "GATE_ORDERS", "lstm_cell", "gru_cell", "recurrent_run",
           "recurrent_inputs", "gate_flops", "recurrent_shape", "recurrent_forward"]

RECURRENT_TYPES = ("LSTM", "GRU")
#: layer type -> the gate orders known (``Layer.op``)
GATE_ORDERS = {"LSTM": ("iofc", "ifco"), "GRU": ("zrh", "rzh")}

Shape = tuple[int, ...]


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _split(g: np.ndarray, order: str) -> dict[str, np.ndarray]:
    parts = np.split(g, len(order), axis=-1)
    return dict(zip(order, parts))


def lstm_cell(gx: np.ndarray, gh: np.ndarray, c: np.ndarray, order: str = "iofc"
              ) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM step's host work: ``gx``, ``gh`` the two M x V results ``(N, 4H)``, ``c``
    the cell state ``(N, H)``; returns ``(h, c)``:
    ``i, f, o = sigmoid(.)``, ``g = tanh(.)``, ``c' = f c + i g``, ``h = o tanh(c')``."""
    s = _split(np.asarray(gx, np.float64) + gh, order)
    i, f, o, g = _sigmoid(s["i"]), _sigmoid(s["f"]), _sigmoid(s["o"]), np.tanh(s["c"])
    c = f * c + i * g
    return o * np.tanh(c), c


def gru_cell(gx: np.ndarray, gh: np.ndarray, h: np.ndarray, order: str = "zrh") -> np.ndarray:
    """One GRU step's host work (linear before reset): ``z, r = sigmoid(gx + gh)``,
    ``n = tanh(gx_n + r gh_n)``, ``h' = (1 - z) n + z h``."""
    sx, sh = _split(np.asarray(gx, np.float64), order), _split(np.asarray(gh, np.float64), order)
    z, r = _sigmoid(sx["z"] + sh["z"]), _sigmoid(sx["r"] + sh["r"])
    n = np.tanh(sx["h"] + r * sh["h"])
    return (1.0 - z) * n + z * h


def recurrent_run(lay: Layer, gx: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                  h0: np.ndarray | None = None, c0: np.ndarray | None = None,
                  mxv: Callable[[np.ndarray], np.ndarray] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Run recurrent layer ``lay`` over ``gx`` ``(T, N, G*H)`` with recurrent matrix ``w``
    ``(G*H, H)`` and bias ``b``. ``mxv(h) -> gh`` (``(N, H) -> (N, G*H)``, bias included)
    replaces the float product ``h @ w.T + b`` (a fixed-point EIE run). Returns ``(Y,
    h_last, c_last or None, h_in)``: ``Y`` ``(T, N, H)``, and ``h_in`` ``(T, N, H)`` the
    hidden state each step multiplied (in time order)."""
    T, N, _ = gx.shape
    H = int(lay.hidden)  # type: ignore[arg-type]
    w64 = np.asarray(w, np.float64)
    b64 = np.zeros(w.shape[0]) if b is None else np.asarray(b, np.float64)

    def product(h):
        return h @ w64.T + b64

    step = product if mxv is None else mxv
    h = np.zeros((N, H)) if h0 is None else np.asarray(h0, np.float64).reshape(N, H)
    c = np.zeros((N, H)) if c0 is None else np.asarray(c0, np.float64).reshape(N, H)
    y = np.zeros((T, N, H))
    h_in = np.zeros((T, N, H))
    for t in (range(T - 1, -1, -1) if lay.reverse else range(T)):
        h_in[t] = h
        gh = np.asarray(step(h), np.float64)
        if lay.type == "LSTM":
            h, c = lstm_cell(gx[t], gh, c, lay.op)
        else:
            h = gru_cell(gx[t], gh, h, lay.op)
        y[t] = h
    return (y.astype(np.float32), h.astype(np.float32),
            c.astype(np.float32) if lay.type == "LSTM" else None, h_in.astype(np.float32))


def recurrent_inputs(lay: Layer, y: np.ndarray, h0: np.ndarray | None) -> np.ndarray:
    """The hidden states ``(T, N, H)`` layer ``lay``'s recurrent matrix multiplied, from
    its output sequence ``y`` and initial state ``h0`` (zeros when None)."""
    T, N, H = y.shape
    h0 = np.zeros((N, H), np.float32) if h0 is None else np.asarray(h0, np.float32).reshape(N, H)
    if lay.reverse:
        return np.concatenate([y[1:], h0[None]], axis=0)
    return np.concatenate([h0[None], y[:-1]], axis=0)


def gate_flops(lay: Layer) -> int:
    """Host floating-point operations of one run (all steps), by the counting convention of
    :data:`compressor.graph.hostops.UNARY_COST`: per hidden unit and step, an LSTM adds
    its 4 gate sums, 3 sigmoids, 2 tanh and 4 for ``f c + i g`` and ``o tanh(c)``; a GRU
    its 3 sums, 2 sigmoids, a tanh, the reset product and 4 for the state update."""
    from .hostops import UNARY_COST
    if not lay.in_shapes or lay.hidden is None:
        return 0
    T, N, _ = lay.in_shapes[0]
    sig, tanh = UNARY_COST["sigmoid"], UNARY_COST["tanh"]
    per = (4 + 3 * sig + 2 * tanh + 4) if lay.type == "LSTM" else (3 + 2 * sig + tanh + 1 + 4)
    return int(T * N * lay.hidden * per)


def recurrent_shape(lay: Layer, ins: list[Shape]) -> list[Shape]:
    n = lay.name
    kinds = RECURRENT_TYPES
    if lay.type not in kinds or lay.op not in GATE_ORDERS[lay.type]:
        raise GraphError(f"layer {n!r} ({lay.type}): gate order {lay.op!r}; known: "
                         f"{GATE_ORDERS.get(lay.type)}")
    H = lay.hidden
    if isinstance(H, bool) or not isinstance(H, int) or H < 1:
        raise GraphError(f"layer {n!r} ({lay.type}): hidden size {H!r}")
    G = len(lay.op)
    most = 3 if lay.type == "LSTM" else 2
    if not 1 <= len(ins) <= most:
        raise GraphError(f"layer {n!r} ({lay.type}): 1 to {most} bottoms (gates, h0"
                         f"{', c0' if most == 3 else ''}), has {len(ins)}")
    if len(ins[0]) != 3 or ins[0][2] != G * H:
        raise GraphError(f"layer {n!r} ({lay.type}): gate input {ins[0]}; (T, N, {G * H}) expected")
    T, N, _ = ins[0]
    for s in ins[1:]:
        if tuple(s) not in ((N, H), (1, N, H)):
            raise GraphError(f"layer {n!r} ({lay.type}): state of shape {s}; ({N}, {H}) expected")
    lay.weight_shape = (G * H, H)
    out = [(T, N, H), (N, H)] + ([(N, H)] if lay.type == "LSTM" else [])
    return out[:len(lay.tops)] if 1 <= len(lay.tops) <= len(out) else out


def recurrent_forward(lay: Layer, ins: list[np.ndarray], weights) -> tuple[np.ndarray, ...]:
    from .ops import layer_weights
    w, b = layer_weights(weights, lay)
    h0 = ins[1] if len(ins) > 1 else None
    c0 = ins[2] if len(ins) > 2 else None
    y, h, c, _ = recurrent_run(lay, ins[0].astype(np.float64), w, b, h0, c0)
    outs = (y, h) + ((c,) if c is not None else ())
    return outs[:len(lay.tops)]
