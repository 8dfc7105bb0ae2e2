"""Dense-sparse-dense training (DSD; Han et al., "DSD: Dense-Sparse-Dense Training for Deep
Neural Networks", ICLR 2017).

DSD improves accuracy, not size. After the dense baseline (the first D):

1. **S** (:func:`dsd_sparse`): every weighted layer keeps the ``1 - sparsity`` fraction
   of its weights with the largest magnitudes (:func:`compressor.prune.prune_mask`,
   target-density rule); the survivors retrain with the mask held, so pruned weights
   stay exactly 0.0.
2. **D** (:func:`dsd_redense`): the sparsity constraint is removed; the pruned
   connections are restored at 0.0 and the whole network retrains at a lower learning
   rate (:attr:`~compressor.schedule.DSDSchedule.dense_lr_factor` of the dense one).

:func:`dsd_train` runs both and returns a :class:`DSDRecord` (accuracies after each
step, the schedule, the learning rates). :func:`continue_dense` is the control: the same
epochs and learning rates without pruning, so a comparison credits DSD only with what
the sparse step adds. The compressor (:func:`compressor.pipeline.run_model` with
``dsd=``, ``eie-compress train --dsd``) prunes and quantizes the DSD-trained network.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from compressor.prune import prune_mask
from compressor.schedule import DSDSchedule, Schedule
from compressor.training.nn import Network, train

Progress = Callable[[str], None] | None


@dataclass
class DSDRecord:
    """What a DSD run did: the schedule, learning rates and test accuracies (%)."""

    schedule: dict[str, Any]
    accuracy: dict[str, float] = field(default_factory=dict)
    lrs: dict[str, float] = field(default_factory=dict)
    density: dict[str, float] = field(default_factory=dict)   #: per layer, in the S step
    restored: int = 0        #: connections restored at 0.0 in the re-dense step
    seeds: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _seed(seed: int, stage: int) -> int:
    return int(np.random.SeedSequence([seed, 200 + stage]).generate_state(1)[0])


def _acc(net: Network, data) -> float:
    return net.accuracy(data.x_test, data.y_test)


def dsd_sparse(net: Network, data, dsd: DSDSchedule, sched: Schedule, seed: int,
               progress: Progress = None) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The S step: prune every layer to ``1 - dsd.sparsity`` by magnitude, retrain masked.

    Returns the masks and the test accuracy right after pruning (``"pruned"``) and after
    the masked retraining (``"sparse"``)."""
    masks = {}
    for layer in net.weighted_layers():
        w = layer.params["weight"]
        masks[layer.name] = prune_mask(w, density=1.0 - dsd.sparsity)
        w *= masks[layer.name]
    acc = {"pruned": _acc(net, data)}
    if progress is not None:
        progress(f"[dsd] S: {dsd.sparsity:.0%} of each layer pruned; test {acc['pruned']:.2f}% "
                 "before retraining")
    train(net, data.x_train, data.y_train, epochs=dsd.sparse_epochs,
          lr=sched.lr * dsd.sparse_lr_factor, lr_decay=dsd.lr_decay, batch_size=sched.batch_size,
          momentum=sched.momentum, weight_decay=sched.weight_decay, seed=_seed(seed, 1),
          masks=masks, eval_data=(data.x_test, data.y_test), progress=progress, tag="dsd sparse")
    acc["sparse"] = _acc(net, data)
    return masks, acc


def dsd_redense(net: Network, data, dsd: DSDSchedule, sched: Schedule, seed: int,
                progress: Progress = None) -> float:
    """The re-dense step: no mask; the pruned weights (exactly 0.0 after :func:`dsd_sparse`)
    restart from zero and everything retrains at ``lr x dsd.dense_lr_factor``. Returns the
    test accuracy after it."""
    train(net, data.x_train, data.y_train, epochs=dsd.dense_epochs,
          lr=sched.lr * dsd.dense_lr_factor, lr_decay=dsd.lr_decay, batch_size=sched.batch_size,
          momentum=sched.momentum, weight_decay=sched.weight_decay, seed=_seed(seed, 2),
          eval_data=(data.x_test, data.y_test), progress=progress, tag="dsd re-dense")
    return _acc(net, data)


def dsd_train(net: Network, data, dsd: DSDSchedule, sched: Schedule, seed: int,
              progress: Progress = None) -> DSDRecord:
    """The S and re-dense steps of DSD on an already trained dense ``net`` (in place)."""
    dsd.validate()
    rec = DSDRecord(schedule=dataclasses.asdict(dsd),
                    lrs={"sparse": sched.lr * dsd.sparse_lr_factor,
                         "redense": sched.lr * dsd.dense_lr_factor},
                    seeds={"sparse": _seed(seed, 1), "redense": _seed(seed, 2)})
    rec.accuracy["dense"] = _acc(net, data)
    masks, acc = dsd_sparse(net, data, dsd, sched, seed, progress)
    rec.accuracy.update(acc)
    rec.density = {k: float(m.mean()) for k, m in masks.items()}
    restored = 0
    for layer in net.weighted_layers():       # the pruned connections come back at 0.0
        pruned = ~masks[layer.name]
        assert np.all(layer.params["weight"][pruned] == 0.0)
        restored += int(pruned.sum())
    rec.restored = restored
    if progress is not None:
        progress(f"[dsd] D: {restored} connections restored at 0.0; retraining dense at "
                 f"lr {rec.lrs['redense']:.4g}")
    rec.accuracy["dsd"] = dsd_redense(net, data, dsd, sched, seed, progress)
    return rec


def continue_dense(net: Network, data, dsd: DSDSchedule, sched: Schedule, seed: int,
                   progress: Progress = None) -> float:
    """The control of a DSD comparison: the dense ``net`` trains on for the same epochs at the
    same learning rates and batch orders as :func:`dsd_train`, never pruned. Returns the
    test accuracy."""
    for stage, (epochs, factor) in enumerate(((dsd.sparse_epochs, dsd.sparse_lr_factor),
                                              (dsd.dense_epochs, dsd.dense_lr_factor)), start=1):
        train(net, data.x_train, data.y_train, epochs=epochs, lr=sched.lr * factor,
              lr_decay=dsd.lr_decay, batch_size=sched.batch_size, momentum=sched.momentum,
              weight_decay=sched.weight_decay, seed=_seed(seed, stage),
              eval_data=(data.x_test, data.y_test), progress=progress, tag="dense continued")
    return _acc(net, data)
