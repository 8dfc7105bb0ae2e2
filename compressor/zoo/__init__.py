"""Named networks built from their papers' layer shapes (the compact networks EIE targets).

:data:`NETWORKS` maps a name to a :class:`Spec`: the builder (returning a
:class:`compressor.graph.Net`, the model type every reader produces), the paper, the
default input size and how the input size can be changed. Weights are synthetic
(:mod:`compressor.zoo.synthetic`); a user with real weights exports the model to ONNX and
reads it with the ONNX importer into the same Net + weights. ``squeezenet`` is not here:
it runs from the authors' own compressed file (``eie_sim.apps.squeezenet``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import GraphError
from ..graph import Net
from .enet import enet
from .mobilenet import mobilenet_v1, mobilenet_v2
from .segnet import segnet
from .squeezedet import squeezedet
from .squeezenext import squeezenext23

__all__ = ["Spec", "NETWORKS", "names", "build", "parse_size"]


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    paper: str
    size: tuple[int, int]            #: default input (height, width)
    builder: Callable[[int, int], Net]
    notes: str = ""


def _square(f):
    def build(h: int, w: int) -> Net:
        if h != w:
            raise GraphError(f"this network takes a square input, got {h} x {w}")
        return f(h)
    return build


NETWORKS: dict[str, Spec] = {s.name: s for s in [
    Spec("mobilenet_v1", "MobileNet v1 1.0-224",
         "Howard et al., MobileNets: Efficient Convolutional Neural Networks for Mobile Vision "
         "Applications, arXiv:1704.04861, 2017 (Table 1)", (224, 224), _square(mobilenet_v1)),
    Spec("mobilenet_v2", "MobileNet v2 1.0-224",
         "Sandler et al., MobileNetV2: Inverted Residuals and Linear Bottlenecks, CVPR 2018 "
         "(arXiv:1801.04381, Table 2)", (224, 224), _square(mobilenet_v2)),
    Spec("squeezenext23", "1.0-SqNxt-23",
         "Gholami et al., SqueezeNext: Hardware-Aware Neural Network Design, CVPR-W 2018 "
         "(arXiv:1803.10615)", (227, 227), _square(squeezenext23)),
    Spec("squeezedet", "SqueezeDet (KITTI)",
         "Wu et al., SqueezeDet: Unified, Small, Low Power Fully Convolutional Neural Networks "
         "for Real-Time Object Detection for Autonomous Driving, CVPR-W 2017 (arXiv:1612.01051)",
         (375, 1242), squeezedet),
    Spec("enet", "ENet (19 classes)",
         "Paszke et al., ENet: A Deep Neural Network Architecture for Real-Time Semantic "
         "Segmentation, arXiv:1606.02147, 2016 (Table 1)", (512, 512), _square(enet)),
    Spec("segnet", "SegNet (VGG-16 encoder, 11 classes)",
         "Badrinarayanan et al., SegNet: A Deep Convolutional Encoder-Decoder Architecture for "
         "Image Segmentation, IEEE TPAMI 2017 (arXiv:1511.00561)", (360, 480), segnet),
]}


def names() -> list[str]:
    return list(NETWORKS)


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``'H'`` (square), ``'HxW'`` or None."""
    if text is None:
        return None
    try:
        parts = [int(p) for p in str(text).lower().split("x")]
    except ValueError:
        raise GraphError(f"input size {text!r}: expected H or HxW (positive integers)") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 1:
        raise GraphError(f"input size {text!r}: expected H or HxW (positive integers)")
    return parts[0], parts[1]


def build(name: str, size: tuple[int, int] | None = None) -> Net:
    """The named network at its paper's input size (or ``size = (H, W)``)."""
    spec = NETWORKS.get(name)
    if spec is None:
        raise GraphError(f"unknown network {name!r}; known: {', '.join(NETWORKS)} (and "
                         f"squeezenet, from the authors' file)")
    h, w = size or spec.size
    try:
        return spec.builder(h, w)
    except GraphError as exc:
        raise GraphError(f"network {name!r} at {h} x {w}: {exc}") from None
