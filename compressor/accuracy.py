"""Accuracy of a compressed network without retraining: output agreement with the float
model on calibration inputs, and per-layer density/bits chosen by sensitivity to a budget.

**Agreement** (:func:`compare_outputs`): the final output blob (the last layer's first
top) of the float model and of the other model (compressed, or EIE's fixed-point run) on
the same inputs; a graph with several inputs gets each calibration input as its first
input and zeros for the others (a recurrent state starts at zero). Per input the *relative error* is ``||y - y_float||_2 / ||y_float||_2`` (0 when
both are 0). A *classifier* is a network whose output holds one score per class
(``(1, K)`` or ``(1, K, 1, 1)``, K >= 2; :func:`is_classifier`); for it, *top-1
agreement* is the fraction of inputs whose arg-max class is the float model's, *top-5
agreement* the fraction whose top 5 classes contain the float model's top-1 class (ties:
the lower class index first, as :func:`top_k`).

**Budgeted search** (:func:`search_specs`; Deep Compression's sensitivity analysis, sec.
3, without the retraining): each weight layer is pruned alone to fractions
:data:`DENSITY_STEPS` of its non-zeros (magnitude pruning, weights kept in float) and,
alone, quantized to each of :data:`BITS_STEPS` (k-means, linear init, the run's seed),
every other layer in float; its *sensitivity* is the largest relative output error over
the calibration inputs. A setting ``(f, b)`` of a layer is estimated to cost
``e_prune(f) + e_quant(b)`` and to need ``nnz(f) (b + index bits) / 8 + 2**b x 4`` bytes.
For an error budget ``E`` a greedy assignment starts every layer at ``(1.0, 8 bits)`` and
repeatedly takes the move (one layer to a smaller setting) that saves the most bytes per
unit of estimated error while the summed estimate stays within ``E``. Each assignment is
then **measured** (all layers compressed together, the calibration inputs run) and ``E``
is searched (doubling / halving, then bisection) for the largest budget whose measured
outputs meet the target: ``top-1 agreement >= target_agreement`` and/or every input's
relative error ``<= max_rel_error``. When not even ``(1.0, 8 bits)`` everywhere meets it,
that assignment is returned and the result says the target was missed.

Everything is seeded (k-means ``seed``) and deterministic; the calibration inputs, the
steps and each layer's sensitivities are recorded (:meth:`SearchResult.as_dict`).

The agreement itself (measuring, targets, warnings, calibration inputs) is in
:mod:`compressor.agreement` (its names are importable from here too); this module holds
the budgeted search.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from .agreement import (
    DEFAULT_WARN_AGREEMENT,
    DEFAULT_WARN_REL_ERROR,
    SYNTHETIC_CALIBRATION,
    Agreement,
    Weights,
    _Runner,
    calibration_set,
    compare_outputs,
    final_outputs,
    is_classifier,
    meets,
    rel_error,
    top_k,
    warnings_for,
)
from .graph.net import Net
from .prune import prune_mask
from .quantize import quantize_layer
from .schedule import LayerSpec

__all__ = ["Agreement", "compare_outputs", "is_classifier", "top_k", "final_outputs",
           "SearchResult", "search_specs", "DENSITY_STEPS", "BITS_STEPS", "DEFAULT_WARN_AGREEMENT",
           "DEFAULT_WARN_REL_ERROR", "warnings_for", "meets", "calibration_set", "rel_error",
           "SYNTHETIC_CALIBRATION"]

#: fractions of a layer's non-zero weights the search may keep
DENSITY_STEPS = (1.0, 0.7, 0.5, 0.35, 0.25, 0.18, 0.12, 0.08)
#: code widths the search may give a layer (2**b-entry codebook, code 0 = pruned)
BITS_STEPS = (8, 6, 5, 4, 3, 2)


@dataclass
class SearchResult:
    """The settings chosen per layer and how they were found."""

    specs: dict[str, LayerSpec]
    settings: dict[str, tuple[float, int]]       #: layer -> (fraction of non-zeros, bits)
    measured: Agreement                          #: the chosen assignment on the calibration set
    met: bool
    budget: float                                #: the estimated-error budget chosen
    sensitivity: dict[str, dict[str, dict[str, float]]]   #: layer -> prune/quant -> step -> error
    trials: list[dict[str, Any]]                 #: every assignment measured
    seed: int
    target: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "met": self.met, "budget": self.budget, "seed": self.seed,
                "density_steps": list(DENSITY_STEPS), "bits_steps": list(BITS_STEPS),
                "settings": {n: {"fraction_of_nonzeros": f, "bits": b,
                                 "density": self.specs[n].density, "quality": self.specs[n].quality}
                             for n, (f, b) in self.settings.items()},
                "measured": {k: v for k, v in self.measured.as_dict().items() if k != "per_input"},
                "sensitivity": self.sensitivity, "trials": self.trials}


def _nnz(w: np.ndarray) -> int:
    return int(np.count_nonzero(w))


def _setting_bytes(nnz: int, f: float, b: int, index_bits: int) -> float:
    return round(f * nnz) * (b + index_bits) / 8.0 + (1 << b) * 4.0


def search_specs(net: Net, weights: Weights, inputs: list[np.ndarray], labels: list[str], *,
                 target_agreement: float | None = None, max_rel_error: float | None = None,
                 index_bits: int = 5, seed: int = 0, kmeans_init: str = "linear",
                 fixed_bits: Mapping[str, int] | None = None,
                 fixed_fraction: Mapping[str, float] | None = None,
                 say: Callable[[str], None] | None = None,
                 sensitivity: dict | None = None, cache: dict | None = None) -> SearchResult:
    """Per weight layer, the smallest setting (fraction of non-zeros kept, bits) found by
    the budgeted search (module docstring) whose measured outputs on ``inputs`` meet the
    targets. A non-classifier given only ``target_agreement`` is held to a relative error
    of ``1 - target_agreement``. ``fixed_bits`` / ``fixed_fraction``: layers whose bits /
    density the user set (not searched). ``sensitivity`` (a previous result's, same model,
    inputs and seed) and ``cache`` (a dict kept between calls: the layers' pruned and
    quantized weights) spare the work when several targets are searched."""
    if target_agreement is None and max_rel_error is None:
        raise ValueError("search_specs: give target_agreement and/or max_rel_error")
    say = say or (lambda _m: None)
    fixed_bits, fixed_fraction = dict(fixed_bits or {}), dict(fixed_fraction or {})
    ws = {n: (np.asarray(w, np.float32), None if b is None else np.asarray(b, np.float32))
          for n, (w, b) in weights.items()}
    runner = _Runner(net, ws, inputs)
    float_outs = runner.outputs(None, {})
    names = [lay.name for lay in net.weight_layers]
    nnz = {n: _nnz(ws[n][0]) for n in names}
    cache = cache if cache is not None else {}

    def weights_at(n: str, f: float, b: int | None) -> np.ndarray:
        key = (n, f, -1 if b is None else b)
        if key not in cache:
            w = ws[n][0]
            mask = (w != 0) if f >= 1.0 else prune_mask(w, density=f * nnz[n] / w.size)
            if b is None:
                cache[key] = np.where(mask, w, 0).astype(np.float32)
            else:
                cb, codes = quantize_layer(w, mask, b, init=kmeans_init, seed=seed)
                cache[key] = cb[codes].astype(np.float32)
        return cache[key]

    def err(outs):
        return max(rel_error(o, f) for o, f in zip(outs, float_outs))

    # sensitivity of each layer alone
    sens: dict[str, dict[str, dict[str, float]]] = dict(sensitivity or {})
    fracs = {n: [fixed_fraction[n]] if n in fixed_fraction else list(DENSITY_STEPS) for n in names}
    bitss = {n: [fixed_bits[n]] if n in fixed_bits else list(BITS_STEPS) for n in names}
    for n in names:
        if n in sens and all(str(f) in sens[n]["prune"] for f in fracs[n]) and \
                all(str(b) in sens[n]["quantize"] for b in bitss[n]):
            continue
        b0 = ws[n][1]
        ep = {f: err(runner.outputs(n, {n: (weights_at(n, f, None), b0)})) if f < 1.0 else 0.0
              for f in fracs[n]}
        eq = {b: err(runner.outputs(n, {n: (weights_at(n, 1.0, b), b0)})) for b in bitss[n]}
        sens[n] = {"prune": {str(f): v for f, v in ep.items()},
                   "quantize": {str(b): v for b, v in eq.items()}}
        say(f"sensitivity {n}: prune " + ", ".join(f"{f:g}: {v:.4f}" for f, v in ep.items()) +
            "; bits " + ", ".join(f"{b}: {v:.4f}" for b, v in eq.items()))

    def est(n, f, b):
        return sens[n]["prune"][str(f)] + sens[n]["quantize"][str(b)]

    def assign(budget: float) -> dict[str, tuple[float, int]]:
        cur = {n: (max(fracs[n]), max(bitss[n])) for n in names}
        total = sum(est(n, *cur[n]) for n in names)
        while True:
            best = None
            for n in names:
                cb = _setting_bytes(nnz[n], *cur[n], index_bits)
                ce = est(n, *cur[n])
                for f in fracs[n]:
                    for b in bitss[n]:
                        saved = cb - _setting_bytes(nnz[n], f, b, index_bits)
                        if saved <= 0:
                            continue
                        de = est(n, f, b) - ce
                        if total + de > budget + 1e-15:
                            continue
                        score = saved / max(de, 1e-12)
                        key = (score, saved, -names.index(n), f, b)
                        if best is None or key > best[0]:
                            best = (key, n, f, b, de)
            if best is None:
                return cur
            _, n, f, b, de = best
            cur[n] = (f, b)
            total += de

    def measure(setting) -> Agreement:
        over = {n: (weights_at(n, f, b), ws[n][1]) for n, (f, b) in setting.items()}
        return compare_outputs(float_outs, runner.outputs(None, over), labels)

    trials: list[dict[str, Any]] = []

    def trial(budget):
        s = assign(budget)
        a = measure(s)
        ok = meets(a, target_agreement, max_rel_error)
        size = sum(_setting_bytes(nnz[n], f, b, index_bits) for n, (f, b) in s.items())
        trials.append({"budget": budget, "met": ok, "top1_agreement": a.top1,
                       "max_relative_error": a.max_rel_error, "estimated_bytes": size})
        say(f"budget {budget:.4g}: {a.summary()}; ~{size:,.0f} bytes; "
            f"{'meets' if ok else 'misses'} the target")
        return s, a, ok

    start = max_rel_error if max_rel_error is not None else 0.05
    s, a, ok = trial(start)
    good = (start, s, a) if ok else None
    bad_budget = None if ok else start
    budget = start
    for _ in range(8):                 # double while it passes, halve while it fails
        if good is not None and bad_budget is not None:
            break
        budget = budget * 2 if good is not None else budget / 4
        s, a, ok = trial(budget)
        if ok:
            good = (budget, s, a) if good is None or budget > good[0] else good
        else:
            bad_budget = budget if bad_budget is None else min(bad_budget, budget)
    if good is not None and bad_budget is not None:
        lo, hi = good[0], bad_budget
        for _ in range(3):             # bisection (geometric) between pass and fail
            mid = math.sqrt(lo * hi)
            s, a, ok = trial(mid)
            if ok:
                lo, good = mid, (mid, s, a)
            else:
                hi = mid
    if good is None:
        s = {n: (max(fracs[n]), max(bitss[n])) for n in names}
        a = measure(s)
        good, met = (0.0, s, a), meets(a, target_agreement, max_rel_error)
        trials.append({"budget": 0.0, "met": met, "top1_agreement": a.top1,
                       "max_relative_error": a.max_rel_error, "estimated_bytes": sum(
                           _setting_bytes(nnz[n], f, b, index_bits) for n, (f, b) in s.items())})
    else:
        met = True
    budget, s, a = good
    specs = {}
    for n, (f, b) in s.items():
        w = ws[n][0]
        spec = LayerSpec(quality=0.0, bits=b, index_bits=index_bits) if f >= 1.0 else \
            LayerSpec(density=f * nnz[n] / w.size, bits=b, index_bits=index_bits)
        specs[n] = spec
    target = {k: v for k, v in (("top1_agreement", target_agreement),
                                ("max_relative_error", max_rel_error)) if v is not None}
    return SearchResult(specs, s, a, met, budget, sens, trials, seed, target)
