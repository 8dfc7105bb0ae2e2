"""The Deep Compression studies that tell a user *how* to compress a network.

Each function takes a trained :class:`~compressor.training.nn.Network` and MNIST-like
``data`` (``x_train``, ``y_train``, ``x_test``, ``y_test``), leaves the network's weights
as it found them, and returns plain rows (one ``dict`` per measured point) that
``benchmarks/bench_studies.py`` turns into tables and plots:

* :func:`pruning_sensitivity`: accuracy against the fraction of *one* layer pruned (the
  others untouched), with and without masked retraining: the per-layer sensitivity curves
  of the pruning paper (NIPS 2015) that Deep Compression's per-layer densities come from.
* :func:`bits_sensitivity`: accuracy against the weight bits of one layer type (all conv
  layers, or all fc layers, quantized by k-means; the other type left in float), on the
  dense and on the pruned network (Deep Compression Fig. 7: "pruning doesn't hurt
  quantization"; conv layers need more bits than fc layers).
* :func:`init_comparison` and :func:`centroid_distribution`: linear, density and random
  (Forgy) centroid initialisation (Deep Compression sec. 3.2, Fig. 4 and Fig. 8):
  accuracy against bits, and the weights' distribution with each method's initial and
  final centroids.

All quantization here is k-means only (no centroid fine-tuning), so the rows show what
each choice costs before any retraining can hide it. Every random choice takes ``seed``.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from compressor.prune import prune_mask
from compressor.quantize import INITS, initial_centroids, kmeans_1d, quantize_layer
from compressor.schedule import Schedule
from compressor.training.determinism import pinned_blas
from compressor.training.nn import Network, train


@contextlib.contextmanager
def restored(net: Network) -> Iterator[Network]:
    """The body may change ``net``'s weights; they are put back afterwards."""
    saved = net.get_weights()
    try:
        yield net
    finally:
        net.set_weights(saved)


def _test_acc(net: Network, data) -> float:
    return net.accuracy(data.x_test, data.y_test)


def _subset(data, n_train: int | None):
    n = len(data.y_train) if n_train is None else min(int(n_train), len(data.y_train))
    return data.x_train[:n], data.y_train[:n]


def pruning_sensitivity(net: Network, data, fractions: Sequence[float], *,
                        layers: Iterable[str] | None = None, retrain_epochs: int = 0,
                        sched: Schedule | None = None, n_train: int | None = None,
                        seed: int = 0) -> list[dict[str, Any]]:
    """Accuracy with one layer pruned to each fraction in ``fractions`` (0 = nothing pruned).

    Per layer and fraction ``f`` the layer keeps its ``1 - f`` largest magnitudes
    (:func:`compressor.prune.prune_mask`); every other layer stays dense. Row keys:
    ``layer``, ``kind``, ``fraction_pruned``, ``density`` (measured), ``accuracy`` (no
    retraining) and, with ``retrain_epochs > 0``, ``accuracy_retrained``: after that many
    epochs of masked retraining of the whole network on the first ``n_train`` training
    images at ``sched.lr x sched.retrain_lr_factor`` (decayed by ``retrain_lr_decay``).
    """
    fr = [float(f) for f in fractions]
    if any(not 0.0 <= f < 1.0 for f in fr) or fr != sorted(fr):
        raise ValueError(f"fractions must rise within [0, 1), got {fr}")
    if retrain_epochs < 0:
        raise ValueError(f"retrain_epochs must be >= 0, got {retrain_epochs}")
    sched = sched or Schedule()
    names = list(layers) if layers is not None else [l.name for l in net.weighted_layers()]
    xs, ys = _subset(data, n_train)
    rows = []
    with pinned_blas():
        for name in names:
            layer = net.layer(name)
            for i, f in enumerate(fr):
                with restored(net):
                    w = layer.params["weight"]
                    mask = prune_mask(w, density=1.0 - f)
                    w *= mask
                    row = {"layer": name, "kind": layer.kind, "fraction_pruned": f,
                           "density": float(mask.mean()), "accuracy": _test_acc(net, data)}
                    if retrain_epochs:
                        train(net, xs, ys, epochs=retrain_epochs,
                              lr=sched.lr * sched.retrain_lr_factor,
                              lr_decay=sched.retrain_lr_decay, batch_size=sched.batch_size,
                              momentum=sched.momentum, weight_decay=sched.weight_decay,
                              seed=seed + i, masks={name: mask})
                        row["accuracy_retrained"] = _test_acc(net, data)
                rows.append(row)
    return rows


def quantize_weights(w: np.ndarray, bits: int, mask: np.ndarray | None, init: str = "linear",
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(decoded weights, codebook)`` of one layer quantized to ``bits`` by k-means.

    With a pruning ``mask``: the survivors get ``2**bits - 1`` clusters and pruned weights
    the reserved code 0 (0.0), as in a ``.dcmp`` file. Without one: all ``2**bits`` codes
    are clusters of every weight (the paper's Fig. 3 form)."""
    if mask is None:
        codebook, codes = quantize_layer(w, None, bits, init=init, seed=seed, reserve_zero=False)
    else:
        codebook, codes = quantize_layer(w, mask, bits, init=init, seed=seed)
    return codebook[codes].astype(np.float32), codebook


def bits_sensitivity(net: Network, data, bits: Sequence[int], *,
                     masks: dict[str, np.ndarray] | None = None, init: str = "linear",
                     seed: int = 0) -> list[dict[str, Any]]:
    """Accuracy with every layer of one kind quantized to ``b`` bits, for each ``b`` in ``bits``.

    For each kind present (``conv``, ``fc``), that kind's layers are quantized
    (:func:`quantize_weights`) and the other kind stays float. ``masks`` (the pruned
    network's keep-masks) selects the pruned form; without it the network is quantized
    dense. Row keys: ``kind``, ``bits``, ``pruned``, ``accuracy``, ``clusters``.
    """
    if any(not 1 <= int(b) <= 8 for b in bits):
        raise ValueError(f"bits must lie in 1..8, got {list(bits)}")
    kinds = sorted({l.kind for l in net.weighted_layers()})
    rows = []
    for kind in kinds:
        for b in bits:
            with restored(net):
                for layer in net.weighted_layers():
                    if layer.kind == kind:
                        m = None if masks is None else masks[layer.name]
                        layer.params["weight"][...] = quantize_weights(
                            layer.params["weight"], int(b), m, init, seed)[0]
                rows.append({"kind": kind, "bits": int(b), "pruned": masks is not None,
                             "clusters": 2 ** int(b) - (1 if masks is not None else 0),
                             "accuracy": _test_acc(net, data)})
    return rows


def init_comparison(net: Network, data, bits: Sequence[int], *,
                    masks: dict[str, np.ndarray] | None = None,
                    inits: Sequence[str] = INITS, seed: int = 0) -> list[dict[str, Any]]:
    """Accuracy with *every* layer quantized to ``b`` bits by each centroid initialisation.

    Row keys: ``init``, ``bits``, ``accuracy``, ``inertia`` (the summed squared distance
    of the weights to their centroids, over all layers: what k-means minimises)."""
    for name in inits:
        if name not in INITS:
            raise ValueError(f"unknown init {name!r}; choose from {INITS}")
    rows = []
    for b in bits:
        for init in inits:
            inertia = 0.0
            with restored(net):
                for layer in net.weighted_layers():
                    w = layer.params["weight"]
                    m = None if masks is None else masks[layer.name]
                    q, _ = quantize_weights(w, int(b), m, init, seed)
                    sel = np.ones(w.shape, bool) if m is None else m
                    inertia += float(np.sum((w[sel].astype(np.float64) - q[sel]) ** 2))
                    w[...] = q
                rows.append({"init": init, "bits": int(b), "accuracy": _test_acc(net, data),
                             "inertia": inertia})
    return rows


def centroid_distribution(w: np.ndarray, mask: np.ndarray | None, bits: int, *,
                          inits: Sequence[str] = INITS, seed: int = 0) -> dict[str, Any]:
    """The data of a Fig. 4-style plot for one layer: its surviving weights and, per
    initialisation method, the initial centroids and the centroids k-means ends at
    (``2**bits - 1`` clusters with a mask, ``2**bits`` without)."""
    w = np.asarray(w)
    kept = (w[mask] if mask is not None else w.ravel()).astype(np.float64)
    k = 2 ** int(bits) - (1 if mask is not None else 0)
    out: dict[str, Any] = {"weights": kept, "bits": int(bits), "clusters": k, "inits": {}}
    for init in inits:
        c0 = initial_centroids(kept, k, init, seed)
        cen, _, inertia, n_iter = kmeans_1d(kept, k, init, seed)
        out["inits"][init] = {"initial": c0, "final": cen, "inertia": float(inertia),
                              "iterations": int(n_iter)}
    return out
