"""Whether EIE's ReLU unit can apply the activation after a weight layer (paper Sec. IV:
each PE applies ``max(0, x)`` as it writes an output activation back).

:func:`eie_relu` is the one rule every caller uses. It follows the *value* a weight layer
writes, not the blob name: walking ``net.layers`` in order after the layer, every layer
that lists the blob among its bottoms reads that value, until a layer writes a top of the
same name (Caffe's in-place layers, e.g. SqueezeNet's ``relu_squeeze1x1`` on
``squeeze1x1``, read and then replace it). Later readers of the name read the new value.
EIE applies the activation when exactly one layer reads the value and that layer is a
ReLU with ``negative_slope == 0`` or a Clip with lower bound 0 (ReLU6, whose upper bound
the host still applies). Anything else (two readers, a leaky ReLU, a Clip with another
lower bound, a PReLU, an Eltwise, no reader) leaves the activation to the host.
"""
from __future__ import annotations

from dataclasses import dataclass

from .layer import Layer
from .net import Net

__all__ = ["EieRelu", "eie_relu", "value_readers"]


@dataclass(frozen=True)
class EieRelu:
    """What EIE's ReLU unit does for one weight layer (:func:`eie_relu`)."""

    on_eie: bool               #: EIE's ReLU unit applies max(0, x) when the PE writes the output back
    absorbed: str | None       #: name of the ReLU/Clip layer EIE applies (None when on_eie is False)
    host_clip: float | None    #: upper bound the host still applies after EIE's ReLU (a Clip(0, hi)'s hi)


_OFF = EieRelu(False, None, None)


def _position(net: Net, lay: Layer) -> int:
    for i, other in enumerate(net.layers):
        if other is lay:
            return i
    for i, other in enumerate(net.layers):
        if other.name == lay.name:
            return i
    raise KeyError(f"layer {lay.name!r} is not in network {net.name!r}")


def value_readers(net: Net, lay: Layer) -> list[Layer]:
    """The layers that read the value ``lay`` writes to its first top: those after ``lay``
    with that blob among their bottoms, up to and including the first one that writes the
    blob again (in place or not; it reads before it writes only when it lists it as a
    bottom)."""
    top = lay.tops[0]
    readers = []
    for later in net.layers[_position(net, lay) + 1:]:
        if top in later.bottoms:
            readers.append(later)
        if top in later.tops:
            break
    return readers


def eie_relu(net: Net, lay: Layer) -> EieRelu:
    """Whether EIE applies the activation that follows weight layer ``lay`` (module
    docstring): on when the layer's output value has exactly one reader, a ReLU of slope
    0 or a Clip with lower bound 0 (``host_clip``: that Clip's upper bound)."""
    readers = value_readers(net, lay)
    if len(readers) != 1:
        return _OFF
    r = readers[0]
    if r.type == "ReLU" and r.negative_slope == 0.0:
        return EieRelu(True, r.name, None)
    if r.type == "Clip" and r.clip is not None and r.clip[0] == 0.0:
        return EieRelu(True, r.name, float(r.clip[1]))
    return _OFF
