"""The graph of a PyTorch recurrent module from its state dict (``torch.nn.LSTM`` /
``torch.nn.GRU`` weights in a safetensors file, which carries no graph).

``P.weight_ih_lK`` ``(G*H, in)`` and ``P.weight_hh_lK`` ``(G*H, H)`` (``_reverse`` for the
second direction; biases ``P.bias_ih_lK``, ``P.bias_hh_lK``) become, per layer ``K`` and
direction, a ``MatMul`` input matrix and an ``LSTM`` / ``GRU`` recurrent layer
(:mod:`compressor.graph.recurrent`) with PyTorch's gate order (``ifco``: i, f, g, o;
``rzh``: r, z, n), the layers stacked (a bidirectional layer's two sequences
concatenated on the feature axis). ``G`` is read from ``W_hh``'s shape (rows / columns: 4
an LSTM, 3 a GRU). The input is the sequence ``(T, N, I)`` (PyTorch's
``batch_first=False``) whose size the user gives (``--input-shape P=TxNxI``); the initial
states are zero. docs/byom.md "Recurrent layers".
"""
from __future__ import annotations

import re

from ..errors import GraphError, ModelImportError
from ..graph.builder import NetBuilder
from ..graph.net import Net

__all__ = ["pytorch_recurrent_graph"]


def pytorch_recurrent_graph(weights: dict, input_shapes: dict, src: str
                            ) -> tuple[Net, dict, list[str]]:
    """``(net, its weights, the file's other layers)`` for the recurrent module named by
    the one key of ``input_shapes`` (its sequence shape ``(T, N, I)``)."""
    if len(input_shapes) != 1:
        raise ModelImportError(f"{src}: give one --input-shape, PREFIX=TxNxI for the recurrent "
                               f"module PREFIX (got {sorted(input_shapes)})")
    (prefix, shape), = input_shapes.items()
    if len(shape) != 3:
        raise ModelImportError(f"{src}: --input-shape {prefix}: the sequence (T, N, I), 3 sizes")
    pat = re.compile(re.escape(prefix) + r"\.weight_hh_l(\d+)$")
    depth = sorted(int(m.group(1)) for m in map(pat.match, weights) if m)
    if not depth or depth != list(range(len(depth))):
        raise ModelImportError(f"{src}: no recurrent module {prefix!r} (layers "
                               f"{prefix}.weight_ih_l0, {prefix}.weight_hh_l0 ...) in the file; "
                               f"its layers are {list(weights)}")
    b = NetBuilder(prefix, shape, prefix)
    x = prefix
    used = []
    try:
        for k in depth:
            outs = []
            dirs = [""] + (["_reverse"] if f"{prefix}.weight_hh_l{k}_reverse" in weights else [])
            for sfx in dirs:
                wi, wh = f"{prefix}.weight_ih_l{k}{sfx}", f"{prefix}.weight_hh_l{k}{sfx}"
                if wi not in weights:
                    raise ModelImportError(f"{src}: {wh} without {wi}")
                R, W = weights[wh][0], weights[wi][0]
                H = R.shape[1]
                G = R.shape[0] // H if H else 0
                if G not in (3, 4) or R.shape[0] != G * H or W.shape[0] != G * H:
                    raise ModelImportError(f"{src}: {wh} {R.shape} / {wi} {W.shape}: not the "
                                           "(4H or 3H, H) matrices of an LSTM or GRU")
                kind = "LSTM" if G == 4 else "GRU"
                gx = b.matmul(wi, x, G * H, bias=weights[wi][1] is not None)
                tops = [wh, wh + ".h"] + ([wh + ".c"] if kind == "LSTM" else [])
                b.recurrent(wh, kind, [gx], H, "ifco" if kind == "LSTM" else "rzh",
                            reverse=bool(sfx), tops=tops)
                outs.append(wh)
                used += [wi, wh]
            x = outs[0] if len(outs) == 1 else b.concat(f"{prefix}.l{k}.out", outs, axis=2)
        net = b.build()
    except GraphError as exc:
        raise ModelImportError(f"{src}: {exc}") from None
    return net, {n: weights[n] for n in used}, [n for n in weights if n not in used]
