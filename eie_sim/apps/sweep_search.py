"""Pareto fronts and the multi-objective search of a ``sweep: search:`` block (Optuna).

**Objectives** (minimised, per inference = one pass through the workload's layers):
``latency`` = the point's time in microseconds, ``energy`` = its energy in microjoules,
``area`` = its chip area in mm^2 (:data:`eie_sim.arch.sweep_spec.OBJECTIVES`).

**Dominance**: a point *a* dominates *b* when it is no worse in every objective and
better in at least one; the Pareto front is the set of points no other point dominates
(points with equal objectives are all kept). A front *A* **dominates or equals** a front
*B* when every point of *B* is weakly dominated (no better in any objective) by some
point of *A* (:func:`covers`).

**Search**: ``optuna`` with ``NSGAIISampler`` (``method: nsga2``, population
``population``), ``TPESampler`` (``tpe``) or ``RandomSampler`` (``random``), every one
seeded with ``search.seed``. Trials are asked ``batch`` at a time, run in parallel, and
told in trial order, so a search with the same seed and batch asks the same points
whatever the executor and however often it was resumed (a resumed search replays the
recorded trials from the database instead of running them). A failed point (its layer
does not fit, say) is told as a failed trial and is on no front.
"""
from __future__ import annotations

from typing import Any, Callable

from eie_sim.arch.sweep_spec import OBJECTIVES
from eie_sim.errors import ConfigError
from eie_sim.sim import sram_fit


def objective_values(figures: dict, objectives: list[str]) -> tuple[float, ...]:
    return tuple(float(figures[OBJECTIVES[o]]) for o in objectives)


def _weakly_dominates(a: tuple, b: tuple) -> bool:
    return all(x <= y for x, y in zip(a, b))


def dominates(a: tuple, b: tuple) -> bool:
    """``a`` is no worse than ``b`` everywhere and better somewhere (minimisation)."""
    return _weakly_dominates(a, b) and any(x < y for x, y in zip(a, b))


def pareto_front(values: dict[int, tuple]) -> list[int]:
    """The keys whose value no other value dominates, in key order."""
    keys = sorted(values, key=lambda k: (values[k], k))
    front: list[int] = []
    for k in keys:                     # sorted lexicographically: a dominator comes first
        v = values[k]
        if not any(dominates(values[f], v) for f in front):
            front.append(k)
    return sorted(front)


def run_front(loaded, points) -> tuple[list[str], list[int]]:
    """A finished run's objectives and the points of its Pareto front: the search's
    objectives (else :data:`OBJECTIVES`) over the points that may be ranked
    (:func:`eie_sim.sim.sram_fit.ranked`: no error, and fitting unless
    ``run.unfit_points`` says otherwise); what export writes and confirmation re-runs."""
    run = loaded.run
    objectives = loaded.plan["search"]["objectives"] if "search" in loaded.plan else list(OBJECTIVES)
    values = {p.index: objective_values(p.figures, objectives) for p in points
              if sram_fit.ranked(p.fits, p.error, run.check_fit, run.unfit_points)}
    return objectives, pareto_front(values)


def covers(front_a: list[tuple], front_b: list[tuple]) -> bool:
    """Front ``a`` dominates or equals front ``b``: every point of ``b`` is weakly
    dominated by a point of ``a``."""
    return all(any(_weakly_dominates(a, b) for a in front_a) for b in front_b)


def _suggest(trial, key: str, spec: Any, float_keys: tuple) -> Any:
    if isinstance(spec, list):
        return trial.suggest_categorical(key, spec)
    if key in float_keys:
        v = trial.suggest_float(key, spec["low"], spec["high"], log=spec["log"],
                                step=spec.get("step"))
        # a density range's grid value (low + k * step) without float noise: the key of
        # its workload (eie_sim.arch.sweep_spec.DENSITY_STEP)
        return round(v, 9) if key.startswith("workload.") else v
    return trial.suggest_int(key, spec["low"], spec["high"], log=spec["log"],
                             step=spec.get("step", 1))


def sampler(search: dict):
    try:
        import optuna
    except ImportError:
        raise ConfigError("sweep.search: needs optuna (pip install optuna)") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    m = search["method"]
    if m == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=search["seed"], population_size=search["population"])
    if m == "tpe":
        return optuna.samplers.TPESampler(seed=search["seed"])
    return optuna.samplers.RandomSampler(seed=search["seed"])


def run_search(search: dict, float_keys: tuple,
               evaluate: Callable[[list[tuple[int, dict]]], dict[int, dict | None]]) -> int:
    """Ask ``search['trials']`` points, ``batch`` at a time; ``evaluate`` runs (or looks
    up) a batch of ``(trial number, point)`` and returns per trial its figures (None: the
    point failed). Returns the number of trials told."""
    import optuna
    from optuna.trial import TrialState
    study = optuna.create_study(directions=["minimize"] * len(search["objectives"]),
                                sampler=sampler(search))
    space = search["space"]
    told = 0
    while told < search["trials"]:
        trials = [study.ask() for _ in range(min(search["batch"], search["trials"] - told))]
        batch = [(t.number, {k: _suggest(t, k, space[k], float_keys) for k in space})
                 for t in trials]
        got = evaluate(batch)
        for t in trials:
            fig = got.get(t.number)
            if fig is None:
                study.tell(t, state=TrialState.FAIL)
            else:
                study.tell(t, list(objective_values(fig, search["objectives"])))
        told += len(trials)
    return told
