"""Output agreement of a compressed network with its float model on calibration inputs
(the measurement the budgeted search of :mod:`compressor.accuracy` is judged by; the rules
are in that module's docstring): the final output blob of a network for each input
(:func:`final_outputs`, with :class:`_Runner`'s forward passes that re-run only the layers
from a given weight layer on), the per-input relative error and a classifier's top-1 / top-5
agreement (:class:`Agreement`, :func:`compare_outputs`), whether targets are met
(:func:`meets`), the warnings an agreement calls for (:func:`warnings_for`) and the
calibration inputs (:func:`calibration_set`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from . import inputs as _in
from .graph.forward import forward_layer
from .graph.net import Net

__all__ = ["Agreement", "compare_outputs", "is_classifier", "top_k", "final_outputs",
           "DEFAULT_WARN_AGREEMENT", "DEFAULT_WARN_REL_ERROR", "warnings_for", "meets",
           "calibration_set", "rel_error", "SYNTHETIC_CALIBRATION", "Weights"]

#: a classifier's top-1 agreement below this, or a relative error above
#: :data:`DEFAULT_WARN_REL_ERROR`, is warned about
DEFAULT_WARN_AGREEMENT = 0.95
DEFAULT_WARN_REL_ERROR = 0.10

Weights = Mapping[str, tuple[np.ndarray, np.ndarray | None]]


def top_k(scores: np.ndarray, k: int = 5) -> list[int]:
    """Indices of the ``k`` largest values of a flattened score blob (ties: lower index)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.lexsort((np.arange(s.size), -s))
    return [int(i) for i in order[:k]]


def is_classifier(shape: tuple[int, ...]) -> bool:
    """One score per class: ``(1, K)`` or ``(1, K, 1, 1)`` with K >= 2."""
    shape = tuple(int(v) for v in shape)
    return len(shape) >= 2 and shape[0] == 1 and shape[1] >= 2 and all(v == 1 for v in shape[2:])


def rel_error(y: np.ndarray, ref: np.ndarray) -> float:
    """``||y - ref||_2 / ||ref||_2`` (0 when both are 0, inf when only ``ref`` is)."""
    y = np.asarray(y, np.float64).ravel()
    ref = np.asarray(ref, np.float64).ravel()
    d, n = float(np.linalg.norm(y - ref)), float(np.linalg.norm(ref))
    if n == 0.0:
        return 0.0 if d == 0.0 else math.inf
    return d / n


@dataclass
class Agreement:
    """Outputs of a model against the float model's on the same inputs (module docstring)."""

    labels: list[str]
    rel_errors: list[float]
    classifier: bool
    float_top: list[list[int]] = field(default_factory=list)    #: per input, float top-5
    other_top: list[list[int]] = field(default_factory=list)    #: per input, the other's top-5

    @property
    def inputs(self) -> int:
        return len(self.labels)

    @property
    def top1(self) -> float | None:
        if not self.classifier or not self.labels:
            return None
        return sum(f[0] == o[0] for f, o in zip(self.float_top, self.other_top)) / self.inputs

    @property
    def top5(self) -> float | None:
        if not self.classifier or not self.labels:
            return None
        return sum(f[0] in o for f, o in zip(self.float_top, self.other_top)) / self.inputs

    @property
    def mean_rel_error(self) -> float:
        return float(np.mean(self.rel_errors)) if self.rel_errors else 0.0

    @property
    def max_rel_error(self) -> float:
        return float(np.max(self.rel_errors)) if self.rel_errors else 0.0

    def rows(self) -> list[dict[str, Any]]:
        """One row per input: its label, relative error and (classifier) top-5 both ways."""
        out = []
        for i, lab in enumerate(self.labels):
            r: dict[str, Any] = {"input": lab, "relative_error": self.rel_errors[i]}
            if self.classifier:
                r.update({"float_top5": " ".join(map(str, self.float_top[i])),
                          "other_top5": " ".join(map(str, self.other_top[i])),
                          "top1_agree": self.float_top[i][0] == self.other_top[i][0],
                          "top5_agree": self.float_top[i][0] in self.other_top[i]})
            out.append(r)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "classifier": self.classifier, "top1_agreement": self.top1,
                "top5_agreement": self.top5, "mean_relative_error": self.mean_rel_error,
                "max_relative_error": self.max_rel_error, "per_input": self.rows()}

    def summary(self) -> str:
        """One line: agreement (classifier) and relative errors."""
        head = (f"top-1 agreement {self.top1:.1%}, top-5 agreement {self.top5:.1%}; "
                if self.classifier else "")
        return (f"{head}relative output error mean {self.mean_rel_error:.4f}, max "
                f"{self.max_rel_error:.4f} over {self.inputs} input(s)")


def compare_outputs(float_outs: list[np.ndarray], outs: list[np.ndarray], labels: list[str],
                    k: int = 5) -> Agreement:
    """:class:`Agreement` of ``outs`` against ``float_outs`` (same inputs, same order)."""
    if len(float_outs) != len(outs) or len(outs) != len(labels):
        raise ValueError("compare_outputs: as many outputs as float outputs and labels")
    cls = bool(float_outs) and is_classifier(np.shape(float_outs[0]))
    a = Agreement(list(labels), [rel_error(o, f) for o, f in zip(outs, float_outs)], cls)
    if cls:
        a.float_top = [top_k(f, k) for f in float_outs]
        a.other_top = [top_k(o, k) for o in outs]
    return a


def _output_blob(net: Net) -> str:
    """The final output: the last layer's first top."""
    return net.layers[-1].tops[0]


def final_outputs(net: Net, weights, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """The final output blob (the last layer's top) of ``net`` for each input."""
    return [_Runner(net, weights, [x]).outputs(None, {})[0] for x in inputs]


class _Runner:
    """Forward passes that re-run only the layers from a given weight layer on (the blobs
    before it are kept from one float pass: one snapshot per weight layer)."""

    def __init__(self, net: Net, weights, inputs: list[np.ndarray]):
        self.net, self.weights, self.inputs = net, weights, inputs
        self.order = [lay for lay in net.layers if lay.type != "Input"]
        self.start = {lay.name: i for i, lay in enumerate(self.order) if lay.has_weights}
        self.snaps: list[dict[str, dict[str, np.ndarray]]] = []
        self.out = _output_blob(net)

    def _start(self, x) -> dict[str, np.ndarray]:
        """The input blobs: ``x`` the first; any further input (a recurrent state) zeros."""
        names = list(self.net.inputs)
        blobs = {names[0]: np.asarray(x, np.float32)}
        for n in names[1:]:
            blobs[n] = np.zeros(tuple(self.net.inputs[n]), np.float32)
        return blobs

    @staticmethod
    def _run(lay, blobs, ws) -> None:
        y = forward_layer(lay, [blobs[b] for b in lay.bottoms], ws)
        for t, v in zip(lay.tops, y if isinstance(y, tuple) else (y,)):
            blobs[t] = v

    def _snapshots(self) -> None:
        for x in self.inputs:
            blobs = self._start(x)
            snap = {}
            for lay in self.order:
                if lay.has_weights:
                    snap[lay.name] = dict(blobs)
                self._run(lay, blobs, self.weights)
            self.snaps.append(snap)

    def outputs(self, from_layer: str | None, override: Mapping[str, tuple]) -> list[np.ndarray]:
        """Final outputs with ``override`` weights, re-running from ``from_layer`` (None:
        the whole network)."""
        ws = {**self.weights, **override} if override else self.weights
        if from_layer is None:
            out = []
            for x in self.inputs:
                blobs = self._start(x)
                for lay in self.order:
                    self._run(lay, blobs, ws)
                out.append(blobs[self.out])
            return out
        if not self.snaps:
            self._snapshots()
        i0 = self.start[from_layer]
        out = []
        for snap in self.snaps:
            blobs = dict(snap[from_layer])
            for lay in self.order[i0:]:
                self._run(lay, blobs, ws)
            out.append(blobs[self.out])
        return out


def meets(a: Agreement, target_agreement: float | None, max_rel_error: float | None) -> bool:
    """Whether ``a`` meets the targets given (top-1 agreement of a classifier; every
    input's relative error)."""
    ok = True
    if target_agreement is not None:
        ok = ok and (a.top1 if a.classifier else 1.0) >= target_agreement - 1e-12
        if not a.classifier and max_rel_error is None:
            ok = ok and a.max_rel_error <= 1.0 - target_agreement + 1e-12
    if max_rel_error is not None:
        ok = ok and a.max_rel_error <= max_rel_error
    return ok


def warnings_for(a: Agreement, warn_agreement: float = DEFAULT_WARN_AGREEMENT,
                 warn_rel_error: float = DEFAULT_WARN_REL_ERROR) -> list[str]:
    """The warnings an agreement calls for (empty when none)."""
    out = []
    if a.classifier and a.top1 is not None and a.top1 < warn_agreement:
        out.append(f"top-1 agreement with the float model is {a.top1:.1%} over {a.inputs} "
                   f"calibration input(s), below {warn_agreement:.0%}: this compression changes "
                   f"the model's answers (give --target-agreement to choose densities and bits "
                   f"by sensitivity, or prune less / use more bits)")
    if a.max_rel_error > warn_rel_error:
        out.append(f"relative output error up to {a.max_rel_error:.3f} (mean "
                   f"{a.mean_rel_error:.3f}) over {a.inputs} calibration input(s), above "
                   f"{warn_rel_error:g}" + ("" if a.classifier else
                                             ": give --max-rel-error to bound it"))
    return out


#: synthetic calibration inputs of a graph whose input is not an image, when none are given
SYNTHETIC_CALIBRATION = 8


def calibration_set(net: Net, layout: str | None, paths: list | None, preprocess: str = "caffe",
                    seed: int = 0) -> tuple[list[str], list[np.ndarray], str]:
    """``(labels, input blobs, description)`` of the calibration inputs: the files/folders
    ``paths`` (:func:`compressor.inputs.load_inputs`, layout checked), else the package
    images for an image graph (:func:`compressor.inputs.package_images`), else
    :data:`SYNTHETIC_CALIBRATION` seeded standard-normal inputs (``seed``)."""
    if paths:
        rows = _in.load_inputs(list(paths), net, layout, preprocess)
        desc = f"{len(rows)} input(s) from {', '.join(map(str, paths))}"
    elif _in.is_image_input(net):
        rows = _in.package_images(net, None, preprocess)
        desc = (f"the {len(rows)} package images ({', '.join(r[0] for r in rows)}; "
                f"compressor.inputs, preprocessing {preprocess!r})")
    else:
        shape = next(iter(net.inputs.values()))
        rng = np.random.default_rng([int(seed), 24])
        rows = [(f"synthetic-{i}", rng.standard_normal(tuple(shape)).astype(np.float32))
                for i in range(SYNTHETIC_CALIBRATION)]
        desc = (f"SYNTHETIC: {len(rows)} seeded standard-normal inputs (seed [{seed}, 24]); "
                f"give --calibration for real ones")
    if not rows:
        raise ValueError("no calibration inputs")
    if len(net.inputs) > 1:
        desc += (f"; feeding input {next(iter(net.inputs))!r}, the others "
                 f"({', '.join(list(net.inputs)[1:])}) zeros")
    return [r[0] for r in rows], [r[1] for r in rows], desc
