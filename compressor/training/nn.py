"""A small numpy trainer for the LeNets: masked SGD, tied-codebook fine-tuning, the loop.

The layers, the loss and the sequential :class:`Network` are in
:mod:`compressor.training.layers` (re-exported here). Training runs with the BLAS pinned
to one thread (:func:`compressor.training.determinism.pinned_blas`), and every matrix
product accumulates in float64 and is rounded to float32, so the result does not depend
on the BLAS kernel or thread count.

Two Deep Compression rules live here:

* **Masked retraining** (pruning, NIPS 2015 / Deep Compression sec. 2): a parameter with
  a mask has its gradient multiplied by the mask *and* the mask re-applied after every
  update (momentum buffer too), so pruned weights stay exactly 0.0 through retraining.
* **Trained quantization** (Deep Compression sec. 3.3): a layer tied to a codebook keeps
  its codes fixed; each step the weight gradient is grouped by code and summed
  (:func:`compressor.quantize.centroid_gradients`), the centroids move by
  :func:`compressor.quantize.finetune_centroids` (code 0 pinned at 0.0) and the weights
  are re-materialised as ``codebook[codes]``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..progress import stage_bar
from ..quantize import finetune_centroids
from .determinism import pinned_blas
from .layers import (F32, Conv2D, Dense, Flatten, Layer, MaxPool2D, Network, ReLU, Reshape,
                     softmax_cross_entropy)

__all__ = ["SGD", "CodebookTie", "TrainLog", "train",
           # re-exported from compressor.training.layers
           "F32", "Conv2D", "Dense", "Flatten", "Layer", "MaxPool2D", "Network", "ReLU",
           "Reshape", "softmax_cross_entropy"]


# ------------------------------------------------------------------ trained quantization
@dataclass
class CodebookTie:
    """A weight tensor tied to a codebook: ``W == codebook[codes]`` at every step.

    Implements Deep Compression sec. 3.3: codes (the cluster assignment) never change;
    the centroid gradient is the sum of the weight gradients over each cluster, and
    ``codebook[0]`` (the pruned value) stays 0.0. ``lr_scale`` scales the network's
    learning rate for the centroid step (centroids receive summed gradients, so a
    smaller step than the weights' is usual).
    """

    codebook: np.ndarray
    codes: np.ndarray
    lr_scale: float = 1.0

    def __post_init__(self) -> None:
        self.codebook = np.asarray(self.codebook, F32).copy()
        self.codes = np.asarray(self.codes)

    def weights(self) -> np.ndarray:
        return self.codebook[self.codes]

    def step(self, grad: np.ndarray, lr: float) -> np.ndarray:
        new = np.asarray(finetune_centroids(self.codebook, self.codes, grad, lr * self.lr_scale), F32)
        new[0] = 0.0  # the pinned pruned value (also guaranteed by finetune_centroids)
        self.codebook = new
        return self.weights()


# --------------------------------------------------------------------------- optimiser
class SGD:
    """SGD with momentum and L2 weight decay, with per-weight masks and codebook ties.

    * ``masks[layer]``: boolean mask of the layer's weight. The gradient (data + decay) is
      multiplied by the mask and after the update the weight and its momentum are
      multiplied by it again, so a pruned weight is exactly 0.0 after every step.
    * ``ties[layer]``: a :class:`CodebookTie`; that weight is not updated by SGD but by
      centroid fine-tuning on the (masked) data gradient, then set to ``codebook[codes]``.
    * Weight decay applies to weights, not biases. Biases are never masked or tied.
    """

    def __init__(self, net: Network, *, momentum: float = 0.9, weight_decay: float = 5e-4,
                 masks: dict[str, np.ndarray] | None = None,
                 ties: dict[str, CodebookTie] | None = None) -> None:
        self.net = net
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.masks = {k: np.asarray(v, bool) for k, v in (masks or {}).items()}
        self.ties = dict(ties or {})
        for name in list(self.masks) + list(self.ties):
            net.layer(name)  # raises KeyError on an unknown name
        for name, m in self.masks.items():
            w = net.layer(name).params["weight"]
            if m.shape != w.shape:
                raise ValueError(f"mask for {name}: shape {m.shape} != weight {w.shape}")
            w *= m
        for name, tie in self.ties.items():
            w = net.layer(name).params["weight"]
            if tie.codes.shape != w.shape:
                raise ValueError(f"codes for {name}: shape {tie.codes.shape} != weight {w.shape}")
            w[...] = tie.weights()
        self.velocity = {(l.name, k): np.zeros_like(v)
                         for l in net.weighted_layers() for k, v in l.params.items()}

    def step(self, lr: float) -> None:
        for layer in self.net.weighted_layers():
            mask = self.masks.get(layer.name)
            for key, p in layer.params.items():
                g = layer.grads[key]
                if key == "weight" and layer.name in self.ties:
                    g = g * mask if mask is not None else g
                    p[...] = self.ties[layer.name].step(g, lr)
                    continue
                if key == "weight":
                    g = g + self.weight_decay * p
                    if mask is not None:
                        g *= mask
                v = self.velocity[(layer.name, key)]
                v *= self.momentum
                v -= lr * g
                p += v
                if key == "weight" and mask is not None:
                    p *= mask
                    v *= mask


@dataclass
class TrainLog:
    epochs: list[dict] = field(default_factory=list)


def train(net: Network, x: np.ndarray, y: np.ndarray, *, epochs: int, lr: float,
          batch_size: int = 64, momentum: float = 0.9, weight_decay: float = 5e-4,
          lr_decay: float = 1.0, seed: int = 0,
          masks: dict[str, np.ndarray] | None = None,
          ties: dict[str, CodebookTie] | None = None,
          eval_data: tuple[np.ndarray, np.ndarray] | None = None,
          progress: Callable[[str], None] | None = None, tag: str = "train") -> TrainLog:
    """Mini-batch training with softmax cross-entropy.

    The batch order of each epoch is a permutation from ``default_rng(seed)``; the
    learning rate of epoch ``e`` is ``lr * lr_decay**e``. ``progress`` (e.g. ``print``)
    receives one line per epoch; a :class:`compressor.progress.TrainingProgress` also
    draws a bar of the stage's mini-batches (count, ETA) on stderr. The BLAS runs on
    one thread throughout (:func:`compressor.training.determinism.pinned_blas`).
    """
    if epochs < 0 or lr <= 0 or batch_size < 1:
        raise ValueError(f"need epochs >= 0, lr > 0, batch_size >= 1 (got {epochs}, {lr}, {batch_size})")
    rng = np.random.default_rng(seed)
    opt = SGD(net, momentum=momentum, weight_decay=weight_decay, masks=masks, ties=ties)
    log = TrainLog()
    x = np.asarray(x, F32)
    with pinned_blas(), stage_bar(progress, epochs * -(-len(x) // batch_size), tag) as bar:
        for epoch in range(epochs):
            _epoch(net, opt, x, y, rng, log, bar, epoch, epochs=epochs, lr=lr, lr_decay=lr_decay,
                   batch_size=batch_size, eval_data=eval_data, progress=progress, tag=tag)
    return log


def _epoch(net, opt, x, y, rng, log, bar, epoch, *, epochs, lr, lr_decay, batch_size, eval_data,
           progress, tag) -> None:
    """One epoch of :func:`train` (mini-batches in a seeded order, then the epoch's line)."""
    t0 = time.perf_counter()
    order = rng.permutation(len(x))
    cur_lr = lr * lr_decay ** epoch
    total, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        idx = order[i:i + batch_size]
        logits = net.forward(x[idx], train=True)
        loss, dlogits = softmax_cross_entropy(logits, y[idx])
        net.backward(dlogits)
        opt.step(cur_lr)
        total += loss * len(idx)
        correct += int((logits.argmax(axis=1) == y[idx]).sum())
        bar.update(1)
    entry = {"epoch": epoch + 1, "lr": cur_lr, "loss": total / len(x),
             "train_acc": 100.0 * correct / len(x), "seconds": time.perf_counter() - t0}
    if eval_data is not None:
        entry["test_acc"] = net.accuracy(*eval_data)
    log.epochs.append(entry)
    if progress is not None:
        msg = (f"[{tag}] epoch {epoch + 1}/{epochs} lr {cur_lr:.4g} loss {entry['loss']:.4f} "
               f"train {entry['train_acc']:.2f}%")
        if "test_acc" in entry:
            msg += f" test {entry['test_acc']:.2f}%"
        progress(msg + f" ({entry['seconds']:.1f} s)")
