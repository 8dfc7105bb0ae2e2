"""In-memory form of a quantized (weight-shared) sparse network.

This is the contract between the pipeline stages and the compressed file: a
:class:`QuantizedLayer` holds the exact numbers the file stores, and
``QuantizedLayer.weights()`` is what decoding the file must reproduce bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

LAYER_KINDS = ("fc", "conv")


@dataclass
class QuantizedLayer:
    """One pruned + weight-shared layer.

    * ``kind``: ``"fc"`` (weight shape ``(out, in)``) or ``"conv"``
      (weight shape ``(out, in, kh, kw)``).
    * ``codes``: integer array of the weight tensor's shape; ``codes[i] = c`` means the
      weight is ``codebook[c]``. Code 0 is reserved for pruned weights and
      ``codebook[0] == 0.0`` always (Deep Compression sec. 3; EIE's padding value).
    * ``codebook``: float32, ``2**bits`` entries (unused entries may repeat values).
    * ``bias``: float32 ``(out,)`` or ``None``.
    * codebook and bias values must be finite (NaN and infinity are refused).
    * ``index_bits``: width of the relative (gap) index used by the sparse encoding.
    * ``meta``: free-form, JSON-serialisable metadata (threshold, density, accuracy...).
    """

    name: str
    kind: str
    codes: np.ndarray
    codebook: np.ndarray
    bias: np.ndarray | None
    bits: int
    index_bits: int
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in LAYER_KINDS:
            raise ValueError(f"layer {self.name!r}: kind must be one of {LAYER_KINDS}, got {self.kind!r}")
        expected_ndim = 2 if self.kind == "fc" else 4
        if self.codes.ndim != expected_ndim:
            raise ValueError(
                f"layer {self.name!r}: {self.kind} weights need {expected_ndim} dimensions, "
                f"got shape {self.codes.shape}")
        self.codebook = np.asarray(self.codebook, dtype=np.float32)
        if not 1 <= self.bits <= 16:
            raise ValueError(f"layer {self.name!r}: bits must be in 1..16, got {self.bits}")
        if self.codebook.shape != (2 ** self.bits,):
            raise ValueError(
                f"layer {self.name!r}: codebook must have 2**bits = {2 ** self.bits} entries, "
                f"got {self.codebook.shape}")
        if not np.all(np.isfinite(self.codebook)):
            bad = int(np.flatnonzero(~np.isfinite(self.codebook))[0])
            raise ValueError(f"layer {self.name!r}: codebook entry {bad} is {self.codebook[bad]}; "
                             "codebook values must be finite (no NaN or infinity)")
        if self.codebook[0] != 0.0:
            raise ValueError(f"layer {self.name!r}: codebook[0] must be 0.0 (the pruned value)")
        if self.codes.size and (self.codes.min() < 0 or self.codes.max() >= 2 ** self.bits):
            raise ValueError(f"layer {self.name!r}: codes must lie in 0..{2 ** self.bits - 1}")
        if self.bias is not None:
            self.bias = np.asarray(self.bias, dtype=np.float32)
            if self.bias.shape != (self.codes.shape[0],):
                raise ValueError(
                    f"layer {self.name!r}: bias must have shape ({self.codes.shape[0]},), "
                    f"got {self.bias.shape}")
            if not np.all(np.isfinite(self.bias)):
                bad = int(np.flatnonzero(~np.isfinite(self.bias))[0])
                raise ValueError(f"layer {self.name!r}: bias entry {bad} is {self.bias[bad]}; "
                                 "bias values must be finite (no NaN or infinity)")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.codes.shape)

    def weights(self) -> np.ndarray:
        """The decoded float32 weight tensor (``codebook[codes]``)."""
        return self.codebook[self.codes]

    @property
    def nnz(self) -> int:
        return int(np.count_nonzero(self.codes))

    @property
    def density(self) -> float:
        return self.nnz / max(1, self.codes.size)


@dataclass
class QuantizedModel:
    """An ordered list of layers plus model-level metadata (seed, accuracy, ...)."""

    layers: list[QuantizedLayer]
    meta: dict[str, Any] = field(default_factory=dict)

    def layer(self, name: str) -> QuantizedLayer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(f"no layer named {name!r}; layers are {[l.name for l in self.layers]}")


def to_dense(model: QuantizedModel) -> dict[str, np.ndarray]:
    """Decoded float32 weights in the project's ``.npz`` convention: ``X`` is layer X's
    weight tensor (``codebook[codes]``), ``X.bias`` its bias (absent when it has none)."""
    out: dict[str, np.ndarray] = {}
    for lay in model.layers:
        out[lay.name] = lay.weights()
        if lay.bias is not None:
            out[lay.name + ".bias"] = lay.bias
    return out
