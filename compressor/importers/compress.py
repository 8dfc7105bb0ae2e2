"""Compress an :class:`ImportedModel` into a ``.dcmp`` that keeps its graph.

Deep Compression's one-shot path (prune by the given rule, k-means weight sharing, no
retraining: :func:`compressor.pipeline.compress_weights` with ``model=None``) on the
imported weights, in the graph's layer order; the model metadata then records the source
format and, when the model has a graph, the graph itself (``meta.graph``,
:mod:`compressor.importers.graph_json`), so ``eie-simulate --model`` can run its
convolutions. The file is written atomically and read back: it must decode to exactly the
returned model (else :class:`~compressor.errors.RoundTripError`).

A model that is compressed already (a ``.dcmp``) need not be quantized again:
:func:`kept_layers` picks the layers whose requested code width is not below the file's
and whose pruning rule was not given explicitly; :func:`compress_imported` (``keep``)
stores their codes and codebook exactly as they are (Deep Compression sec. 3: the codes
index a shared codebook; re-running k-means on ``codebook[codes]`` would only move it)
and compresses the others.
"""
from __future__ import annotations

import pathlib
import time
from typing import Any, Collection, Mapping

import numpy as np

from .. import fileformat, pipeline
from ..errors import ModelImportError, RoundTripError
from ..model import QuantizedLayer, QuantizedModel
from ..schedule import LayerSpec
from .graph_json import net_to_json
from .model import ImportedModel

__all__ = ["compress_imported", "kept_layers", "save_checked"]


def save_checked(result: pipeline.Result, out: str | pathlib.Path) -> None:
    """Write ``result.model`` to ``out`` (atomically) and read it back: it must decode to
    exactly the saved weights (else :class:`RoundTripError`); sets the file fields."""
    out = pathlib.Path(out)
    fileformat.save(result.model, out)
    back = fileformat.load(out)
    for a, b in zip(result.model.layers, back.layers):
        if not (np.array_equal(a.weights(), b.weights()) and np.array_equal(a.bias, b.bias)):
            raise RoundTripError(f"{out}: layer {a.name} does not decode to the saved weights")
    result.file_path = out
    result.file_bytes = out.stat().st_size


def kept_layers(model: QuantizedModel, specs: Mapping[str, LayerSpec],
                explicit: Collection[str] = ()) -> tuple[dict[str, QuantizedLayer], list[str]]:
    """The layers of the compressed ``model`` to keep as they are, and one line per layer
    saying what happens to it.

    A layer is kept (its codes, codebook, bias and bit width exactly; the relative index
    re-encoded at the spec's ``index_bits``) when the spec's bits are not smaller than the
    layer's and no pruning rule was given for it (``explicit``: layers named by
    ``--density`` / ``--quality``); otherwise it is re-quantized (and pruned by its spec)."""
    keep: dict[str, QuantizedLayer] = {}
    lines = []
    for q in model.layers:
        spec = specs[q.name]
        want = spec.bits_for(q.kind)
        if q.name in explicit:
            lines.append(f"{q.name}: pruned by the rule given and re-quantized with k-means "
                         f"to {want}-bit codes")
        elif want < q.bits:
            lines.append(f"{q.name}: re-quantized with k-means to {want}-bit codes (fewer than "
                         f"the file's {q.bits})")
        else:
            keep[q.name] = QuantizedLayer(
                q.name, q.kind, q.codes.copy(), q.codebook.copy(),
                None if q.bias is None else q.bias.copy(), q.bits, spec.index_bits,
                {**q.meta, "quantization": f"kept: the input file's {q.bits}-bit codes and "
                                           "codebook"})
            lines.append(f"{q.name}: kept the file's {q.bits}-bit codes and codebook (already "
                         f"compressed; {want} bits requested)")
    return keep, lines


def compress_imported(imp: ImportedModel, specs: dict[str, LayerSpec], *, seed: int = 0,
                      kmeans_init: str = "linear", out: str | pathlib.Path | None = None,
                      progress=None, extra_meta: dict[str, Any] | None = None,
                      keep: Mapping[str, QuantizedLayer] | None = None) -> pipeline.Result:
    """Prune + quantize ``imp`` per ``specs`` (one :class:`LayerSpec` per layer); write
    ``out`` when given. ``extra_meta`` is merged into the model metadata. ``keep``: layers
    stored as given (:func:`kept_layers`) instead of being compressed."""
    t0 = time.perf_counter()
    keep = dict(keep or {})
    arrays = imp.arrays()
    todo = [n for n in imp.layer_names if n not in keep]
    source = pathlib.Path(imp.source).name
    done: dict[str, QuantizedLayer] = {}
    if todo:
        sub = {k: arrays[k] for n in todo for k in (n, n + ".bias") if k in arrays}
        part = pipeline.compress_weights(sub, {n: specs[n] for n in todo}, seed=seed,
                                         kmeans_init=kmeans_init, progress=progress, source=source)
        meta = part.model.meta
        done = {q.name: q for q in part.model.layers}
    else:
        meta = {"source_weights": source, "model": None, "seed": int(seed), "retrained": False,
                "pruning": "none (every layer kept)"}
    meta["dense_bytes"] = pipeline.dense_bytes(arrays)
    if keep:
        meta["kept_layers"] = [n for n in imp.layer_names if n in keep]
    model = QuantizedModel([keep[n] if n in keep else done[n] for n in imp.layer_names], meta)
    result = pipeline.Result(model, arrays, {}, pipeline.dense_bytes(arrays))
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
        save_checked(result, out)
    result.seconds = time.perf_counter() - t0
    return result
