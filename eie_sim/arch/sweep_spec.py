"""The ``sweep:`` block beyond architecture lists: workload keys, ``random:`` and ``search:``.

:func:`eie_sim.arch.config_io.check_sweep` calls :func:`check_plan` and
:func:`check_workload_values`; this module builds nothing (docs/config.md, "sweep:").

* **workload keys** (:data:`WORKLOAD_SWEEP_KEYS`): ``workload.weight_density``,
  ``workload.act_density``, ``workload.seed``, ``workload.layers`` take lists like the
  architecture keys and are applied as overrides of the ``workload:`` block (written
  either dotted, ``workload.weight_density: [...]``, or nested, ``workload:
  {weight_density: [...]}``).
* ``random: {samples: N, seed: S}``: N distinct points of the cross product, drawn with
  the seed (the cross product itself may then exceed the point limit; N may not).
* ``search: {method, trials, seed, objectives, population, batch, space}``: a
  multi-objective search with Optuna (NSGA-II, TPE or random sampling) over
  ``space`` (per key a list of choices or a ``{low, high, log, step}`` range; of the
  workload keys only the two densities take a range, ``{low, high, step}`` on a grid of
  ``step`` >= :data:`DENSITY_STEP`), minimising
  latency, energy and/or chip area per inference; the other sweep keys are then not
  allowed.

Point indices: a grid point's index is its position in the cross product (last key
fastest, :func:`point_at`), the same for ``random:`` samples; a search point's index is
its trial number.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from eie_sim.arch.config import ConfigError
from eie_sim.arch.paper import TABLE3

#: workload keys a sweep may vary (applied to the ``workload:`` block)
WORKLOAD_SWEEP_KEYS = ("workload.weight_density", "workload.act_density", "workload.seed",
                       "workload.layers")
#: keys of a sweep block that are not value lists
PLAN_KEYS = ("random", "search")
RANDOM_KEYS = ("samples", "seed")
SEARCH_KEYS = ("method", "trials", "seed", "objectives", "population", "batch", "space")
SEARCH_METHODS = ("nsga2", "tpe", "random")
#: what a search minimises, per inference (one pass through the workload's layers)
OBJECTIVES = {"latency": "time_us", "energy": "total_energy_uj", "area": "chip_area_mm2"}
#: workload keys whose values are fractions (searched as floats)
FRACTION_KEYS = ("workload.weight_density", "workload.act_density")
#: the default (and finest) step of a density range in ``search.space``: each distinct
#: sampled density builds one workload, so a range holds at most 1 / 0.005 + 1 = 201 values
DENSITY_STEP = 0.005

Where = Callable[..., str]


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_workload_value(key: str, value: Any, where: str, workload: dict | None) -> Any:
    """One value of a workload sweep key, checked against the ``workload:`` block."""
    if key in FRACTION_KEYS:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ConfigError(f"{where}: expected a fraction in 0..1, got {value!r}")
        return float(value)
    if key == "workload.seed":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not _int(value) or not 0 <= value < 2 ** 63:
            raise ConfigError(f"{where}: expected an integer >= 0, got {value!r}")
        return value
    # workload.layers: a name or a list of names
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"{where}: expected a layer name or a non-empty list of names, got {value!r:.60}")
    known = _layer_names(workload)
    if known is not None:
        bad = [n for n in names if n not in known]
        if bad:
            raise ConfigError(f"{where}: unknown layer(s) {bad}; the workload has {', '.join(known)}")
    return value if isinstance(value, str) else list(names)


def _layer_names(workload: dict | None) -> list[str] | None:
    """The layer names a ``workload.layers`` value may pick (None: only known when built)."""
    if not workload:
        return None
    if "table3" in workload:
        return list(TABLE3)
    if "synthetic" in workload:
        syn = workload["synthetic"]
        specs = syn if isinstance(syn, list) else [syn]
        return [s.get("name") for s in specs if isinstance(s, dict) and s.get("name")]
    return None


def check_applicable(key: str, workload: dict | None, where: str) -> None:
    """Refuse a workload sweep key the ``workload:`` block cannot take."""
    if not workload:
        raise ConfigError(f"{where}: {key} needs a workload: block")
    kind = next((k for k in ("table3", "synthetic", "npz", "model") if k in workload), None)
    if key == "workload.weight_density" and kind not in ("table3", "synthetic"):
        raise ConfigError(f"{where}: {key} applies to table3 and synthetic workloads "
                          f"(a {kind} workload has its own weights)")
    if key == "workload.act_density" and kind in ("npz", "model") and workload.get("input"):
        raise ConfigError(f"{where}: {key} has no effect with workload.input (a given input)")
    if key == "workload.layers":
        if kind == "npz":
            raise ConfigError(f"{where}: {key} does not apply to an npz workload (one layer)")
        if kind == "synthetic" and not _layer_names(workload):
            raise ConfigError(f"{where}: {key} needs named synthetic layers (name: ...)")


def flatten(values: dict) -> dict:
    """``{workload: {weight_density: [...]}}`` -> ``{"workload.weight_density": [...]}``."""
    out = {}
    for key, vals in values.items():
        if key == "workload" and isinstance(vals, dict):
            for k, v in vals.items():
                out[f"workload.{k}"] = v
        else:
            out[key] = vals
    return out


def _posint(v, where: str, what: str, hi: int) -> int:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not _int(v) or not 1 <= v <= hi:
        raise ConfigError(f"{where}: expected {what} in 1..{hi:,}, got {v!r}")
    return v


def _mapping(v, where: str, keys) -> dict:
    if not isinstance(v, dict):
        raise ConfigError(f"{where}: expected a mapping ({', '.join(keys)}), got {v!r:.60}")
    for k in v:
        if k not in keys:
            raise ConfigError(f"{where}.{k}: unknown key; known keys: {', '.join(keys)}")
    return v


def check_random(v: Any, where: Where, grid_points: int, max_points: int) -> dict:
    """``random: {samples: N, seed: S}``: N (<= the grid and the point limit) points."""
    _mapping(v, where("random"), RANDOM_KEYS)
    if "samples" not in v:
        raise ConfigError(f"{where('random')}: samples: is required (the number of points)")
    n = _posint(v["samples"], where("random", "samples"), "an integer", max_points)
    if n > grid_points:
        raise ConfigError(f"{where('random', 'samples')}: {n:,} samples from a cross product "
                          f"of {grid_points:,} points")
    seed = v.get("seed", 0)
    if not _int(seed) or seed < 0:
        raise ConfigError(f"{where('random', 'seed')}: expected an integer >= 0, got {seed!r}")
    return {"samples": n, "seed": seed}


def check_search(v: Any, where: Where, check_value: Callable[[str, Any, str], Any],
                 known_keys: tuple, max_points: int, float_keys: tuple) -> dict:
    """``search:`` (see the module docstring); returns it with defaults filled in."""
    w = (lambda *k: where("search", *k))
    _mapping(v, w(), SEARCH_KEYS)
    method = v.get("method", "nsga2")
    if method not in SEARCH_METHODS:
        raise ConfigError(f"{w('method')}: expected one of {', '.join(SEARCH_METHODS)}, got {method!r}")
    if "trials" not in v:
        raise ConfigError(f"{w()}: trials: is required (the number of points to run)")
    trials = _posint(v["trials"], w("trials"), "an integer", max_points)
    seed = v.get("seed", 0)
    if not _int(seed) or seed < 0:
        raise ConfigError(f"{w('seed')}: expected an integer >= 0, got {seed!r}")
    objs = v.get("objectives", list(OBJECTIVES))
    objs = [objs] if isinstance(objs, str) else objs
    if not isinstance(objs, list) or not objs or any(o not in OBJECTIVES for o in objs) \
            or len(set(objs)) != len(objs):
        raise ConfigError(f"{w('objectives')}: expected a list of distinct objectives from "
                          f"{', '.join(OBJECTIVES)}, got {objs!r:.60}")
    pop = _posint(v.get("population", min(50, max(2, trials))), w("population"), "an integer", 100_000)
    if pop < 2:
        raise ConfigError(f"{w('population')}: expected an integer >= 2, got {pop}")
    batch = _posint(v.get("batch", pop if method == "nsga2" else 8), w("batch"), "an integer", 100_000)
    space = v.get("space")
    if not isinstance(space, dict) or not space:
        raise ConfigError(f"{w('space')}: expected a mapping of keys to a list of choices or "
                          f"{{low, high, log, step}}")
    out_space: dict[str, Any] = {}
    for key, spec in flatten(space).items():
        if key not in known_keys:
            raise ConfigError(f"{w('space', key)}: unknown key; known keys: {', '.join(known_keys)}")
        if isinstance(spec, list):
            if not spec:
                raise ConfigError(f"{w('space', key)}: empty list of choices")
            vals = [check_value(key, x, w("space", key, i)) for i, x in enumerate(spec)]
            if len({repr(x) for x in vals}) != len(vals):
                raise ConfigError(f"{w('space', key)}: repeated choices {vals}")
            out_space[key] = vals
            continue
        _mapping(spec, w("space", key), ("low", "high", "log", "step"))
        if key.startswith("workload.") and key not in FRACTION_KEYS:
            raise ConfigError(f"{w('space', key)}: {key} takes a list of choices, not a range "
                              f"(ranges: {', '.join(FRACTION_KEYS)} and the architecture keys)")
        if key in FRACTION_KEYS:
            out_space[key] = _density_range(spec, w("space", key),
                                            lambda x, *k: check_value(key, x, w("space", key, *k)))
            continue
        if "low" not in spec or "high" not in spec:
            raise ConfigError(f"{w('space', key)}: a range needs low: and high:")
        lo = check_value(key, spec["low"], w("space", key, "low"))
        hi = check_value(key, spec["high"], w("space", key, "high"))
        if not lo <= hi:
            raise ConfigError(f"{w('space', key)}: low {lo} > high {hi}")
        log = spec.get("log", False)
        if not isinstance(log, bool) or log and lo <= 0:
            raise ConfigError(f"{w('space', key, 'log')}: expected true or false (true needs low > 0)")
        kind = "float" if key in float_keys else "int"
        rng: dict[str, Any] = {"low": lo, "high": hi, "log": log}
        if "step" in spec:
            if log:
                raise ConfigError(f"{w('space', key, 'step')}: a log range takes no step")
            st = spec["step"]
            if isinstance(st, bool) or not isinstance(st, (int, float)) or not st > 0 \
                    or kind == "int" and not float(st).is_integer():
                raise ConfigError(f"{w('space', key, 'step')}: expected a positive "
                                  f"{'integer' if kind == 'int' else 'number'}, got {st!r}")
            rng["step"] = int(st) if kind == "int" else float(st)
        out_space[key] = rng
    return {"method": method, "trials": trials, "seed": seed, "objectives": list(objs),
            "population": pop, "batch": batch, "space": out_space}


def _density_range(spec: dict, where: str, check: Callable) -> dict:
    """A ``{low, high, step}`` range of a density key: sampled on the grid ``low + k *
    step`` (step default and minimum :data:`DENSITY_STEP`; the highest value is the last
    grid value <= high), so each distinct value builds one workload and a search builds at
    most ``(high - low) / step + 1`` of them per key. ``log`` is not taken."""
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"{where}: a range needs low: and high:")
    lo, hi = check(spec["low"], "low"), check(spec["high"], "high")
    if not lo <= hi:
        raise ConfigError(f"{where}: low {lo} > high {hi}")
    if spec.get("log", False) is not False:
        raise ConfigError(f"{where}.log: a density range is sampled on a step grid "
                          f"(step: {DENSITY_STEP} or coarser), not on a log scale")
    st = spec.get("step", DENSITY_STEP)
    if isinstance(st, bool) or not isinstance(st, (int, float)) or not st >= DENSITY_STEP:
        raise ConfigError(f"{where}.step: expected a number >= {DENSITY_STEP} (each distinct "
                          f"density builds one workload), got {st!r}")
    st = float(st)
    k = math.floor((hi - lo) / st + 1e-9)
    return {"low": lo, "high": round(lo + k * st, 9), "log": False, "step": st}


def density_values(spec: dict) -> list[float]:
    """Every value a checked density range can take (its grid)."""
    k = round((spec["high"] - spec["low"]) / spec["step"])
    return [round(spec["low"] + i * spec["step"], 9) for i in range(k + 1)]


def grid_size(grid: dict[str, list]) -> int:
    """The number of points of the cross product of ``grid`` (1 for an empty one)."""
    return math.prod(len(v) for v in grid.values())


def planned_count(grid: dict[str, list], plan: dict) -> int:
    """The number of points a sweep runs: its ``search.trials``, its ``random.samples``
    or its grid (:func:`grid_size`)."""
    if "search" in plan:
        return plan["search"]["trials"]
    if "random" in plan:
        return plan["random"]["samples"]
    return grid_size(grid)


def point_at(grid: dict[str, list], index: int) -> dict:
    """The ``index``-th point of the cross product (last key fastest), without enumerating."""
    keys = list(grid)
    out = {}
    for k in reversed(keys):
        index, r = divmod(index, len(grid[k]))
        out[k] = grid[k][r]
    return {k: out[k] for k in keys}


def sample_indices(n_grid: int, samples: int, seed: int) -> list[int]:
    """``samples`` distinct indices of ``range(n_grid)``, seeded, in increasing order."""
    import random
    return sorted(random.Random(seed).sample(range(n_grid), samples))
