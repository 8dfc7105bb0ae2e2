"""Dense imported weights -> a :class:`~compressor.model.QuantizedModel` for simulation.

``eie-simulate`` runs dense files (ONNX, safetensors, ``.npz``) without compressing them:
each layer's zeros are its pruning mask (code 0) and its non-zeros share a codebook of
``2**bits`` entries (EIE's weight index, Deep Compression sec. 3). When a layer holds at
most ``2**bits - 1`` distinct non-zero values (a file decoded by ``eie-compress decode``,
for instance) the codebook is exactly those values, so decode -> simulate runs the very
weights that were compressed; otherwise k-means (:func:`compressor.quantize.quantize_layer`,
linear initialisation, ``seed``) picks it, and the layer's metadata says so.
"""
from __future__ import annotations

import numpy as np

from ..model import QuantizedLayer, QuantizedModel
from ..quantize import quantize_layer
from .model import ImportedModel

__all__ = ["exact_codebook", "quantize_dense_layer", "as_quantized"]


def exact_codebook(w: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(codebook, codes)`` holding ``w`` exactly (``codebook[0] = 0``, the distinct
    non-zero values ascending from 1), or None when it has more than ``2**bits - 1``."""
    w = np.asarray(w, dtype=np.float32)
    vals = np.unique(w[w != 0])
    if vals.size > 2 ** bits - 1:
        return None
    codebook = np.zeros(2 ** bits, dtype=np.float32)
    codebook[1:1 + vals.size] = vals
    if vals.size:                       # unused entries repeat the last value
        codebook[1 + vals.size:] = vals[-1]
    codes = np.zeros(w.shape, dtype=np.uint8 if bits <= 8 else np.uint16)
    nz = w != 0
    codes[nz] = np.searchsorted(vals, w[nz]) + 1
    return codebook, codes


def quantize_dense_layer(name: str, w: np.ndarray, b: np.ndarray | None, bits: int,
                         seed: int = 0) -> QuantizedLayer:
    """One layer: exact codebook when possible, else k-means over the non-zeros."""
    w = np.asarray(w, dtype=np.float32)
    exact = exact_codebook(w, bits)
    if exact is not None:
        codebook, codes = exact
        how = "exact (the layer has at most 2**bits - 1 distinct non-zero values)"
    else:
        codebook, codes = quantize_layer(w, w != 0, bits, init="linear", seed=seed)
        how = f"k-means over the non-zeros (linear init, seed {seed})"
    kind = "fc" if w.ndim == 2 else "conv"
    return QuantizedLayer(name, kind, codes, codebook, b, bits, index_bits=4,
                          meta={"codebook": how, "density": float(np.count_nonzero(w)) / max(1, w.size)})


def as_quantized(imp: ImportedModel, bits: int, seed: int = 0) -> QuantizedModel:
    """Every layer of ``imp`` with ``bits``-bit codes (see the module docstring)."""
    layers = [quantize_dense_layer(n, w, b, bits, seed) for n, (w, b) in imp.weights.items()]
    return QuantizedModel(layers, {"source": imp.source, "source_format": imp.format,
                                   "quantized_for_simulation": {"bits": bits, "seed": seed}})
