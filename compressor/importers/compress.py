"""Compress an :class:`ImportedModel` into a ``.dcmp`` that keeps its graph.

Deep Compression's one-shot path (prune by the given rule, k-means weight sharing, no
retraining: :func:`compressor.pipeline.compress_weights` with ``model=None``) on the
imported weights, in the graph's layer order; the model metadata then records the source
format and, when the model has a graph, the graph itself (``meta.graph``,
:mod:`compressor.importers.graph_json`), so ``eie-simulate --model`` can run its
convolutions. The file is written atomically and read back: it must decode to exactly the
returned model (else :class:`~compressor.errors.RoundTripError`).
"""
from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from .. import fileformat, pipeline
from ..errors import ModelImportError, RoundTripError
from ..schedule import LayerSpec
from .graph_json import net_to_json
from .model import ImportedModel

__all__ = ["compress_imported"]


def compress_imported(imp: ImportedModel, specs: dict[str, LayerSpec], *, seed: int = 0,
                      kmeans_init: str = "linear", out: str | pathlib.Path | None = None,
                      progress=None, extra_meta: dict[str, Any] | None = None) -> pipeline.Result:
    """Prune + quantize ``imp`` per ``specs`` (one :class:`LayerSpec` per layer); write
    ``out`` when given. ``extra_meta`` is merged into the model metadata."""
    result = pipeline.compress_weights(imp.arrays(), specs, seed=seed, kmeans_init=kmeans_init,
                                       progress=progress, source=pathlib.Path(imp.source).name)
    meta = result.model.meta
    meta["source_format"] = imp.format
    if imp.meta:
        meta["import"] = dict(imp.meta)
    if imp.net is not None:
        try:
            meta["graph"] = net_to_json(imp.net)
        except ModelImportError as exc:
            meta["graph_note"] = f"graph not stored: {exc}"
    meta.update(extra_meta or {})
    if out is not None:
        out = pathlib.Path(out)
        fileformat.save(result.model, out)
        back = fileformat.load(out)
        for a, b in zip(result.model.layers, back.layers):
            if not (np.array_equal(a.weights(), b.weights()) and np.array_equal(a.bias, b.bias)):
                raise RoundTripError(f"{out}: layer {a.name} does not decode to the saved weights")
        result.file_path = out
        result.file_bytes = out.stat().st_size
    return result
