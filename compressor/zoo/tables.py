"""The shape tables of docs/networks.md, generated from the builders (a test holds the
page to this output): one row per parameter layer with its geometry, output blob,
weights and dense multiply-accumulates (:func:`compressor.graph.net.layer_macs`)."""
from __future__ import annotations

import math

from ..graph import Net
from ..graph.net import layer_macs, network_macs
from . import NETWORKS, build

__all__ = ["shape_table", "network_section_table"]


def _geometry(lay) -> str:
    if lay.type == "InnerProduct":
        return "fc"
    cp = lay.conv
    kind = "deconv " if lay.type == "Deconvolution" else ""
    g = f", group {cp.group}" if cp.group > 1 else ""
    d = f", dilation {cp.dilation[0]}" if cp.dilation != (1, 1) else ""
    op = f", out_pad {cp.out_pad[0]}" if cp.out_pad != (0, 0) else ""
    s = f"/{cp.stride[0]}" if cp.stride[0] == cp.stride[1] else f"/{cp.stride}"
    p = cp.pad[0] if cp.pad[0] == cp.pad[1] else f"{cp.pad[0]},{cp.pad[1]}"
    return f"{kind}{cp.kernel[0]}x{cp.kernel[1]}{s} pad {p}{g}{d}{op}"


def shape_table(net: Net) -> str:
    """Markdown: every parameter layer of ``net`` with its shapes, then a total row."""
    lines = ["| layer | geometry | input | output | weights | MACs |", "|---|---|---|---|---|---|"]
    for lay in net.weight_layers:
        i, o = lay.in_shapes[0], lay.out_shapes[0]
        lines.append(f"| {lay.name} | {_geometry(lay)} | {'x'.join(map(str, i[1:]))} | "
                     f"{'x'.join(map(str, o[1:]))} | {math.prod(lay.weight_shape):,} | "
                     f"{layer_macs(lay):,} |")
    total_w = sum(math.prod(l.weight_shape) for l in net.weight_layers)
    lines.append(f"| **total** ({len(net.weight_layers)} layers) | | | | {total_w:,} | "
                 f"{network_macs(net):,} |")
    return "\n".join(lines) + "\n"


def network_section_table(name: str) -> str:
    """:func:`shape_table` of the named network at its paper's input size."""
    if name not in NETWORKS:
        raise KeyError(name)
    return shape_table(build(name))


if __name__ == "__main__":     # python -m compressor.zoo.tables: the tables of docs/networks.md
    for n in NETWORKS:
        print(f"### {n}\n\n" + network_section_table(n))
