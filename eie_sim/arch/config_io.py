"""YAML -> validated :class:`~eie_sim.arch.config.ArchConfig` plus run options and sweeps.

A configuration file is one YAML mapping (reference: ``docs/config.md``)::

    pes: 64                 # flat ArchConfig keys (any subset; the rest keep defaults)
    queue_depth: 8
    run:                    # RunOptions (optional)
      engine: fast          # fast | simpy
      verify: false
      seed: 0
    workload:               # what eie-sweep (and eie-simulate without a workload flag) runs
      table3: [Alex-7]
    sweep:                  # cross product of lists of architecture values
      pes: [16, 32, 64]

Every error is a :class:`~eie_sim.errors.ConfigError` whose message starts with
``file:line: key.path:`` (the line from the YAML node marks when there is one) and says
what is allowed. Validation lives here; nothing here builds a model.
"""
from __future__ import annotations

import dataclasses
import itertools
import pathlib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from eie_sim.arch import fixed_point_spec, schema, sweep_spec
from eie_sim.arch.config import ArchConfig, ConfigError, RunOptions
from eie_sim.arch.workload_spec import WorkloadSpec, parse_workload, unknown_key
from eie_sim.arch.yaml_doc import (
    OverlayDoc,
    YamlDoc,
    dotted,
    dump_yaml,
    parse_yaml,
    read_yaml,
    shown,
)

#: most points of a ``sweep:`` block (its cross product); ``eie-sweep --max-points N`` and
#: ``load_config(..., max_points=N)`` raise it (docs/config.md)
MAX_SWEEP_POINTS = 10_000



ARCH_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ArchConfig))
#: the specs of the architecture keys and of the ``run:`` keys (eie_sim.arch.schema)
ARCH_SPECS: dict[str, schema.Spec] = schema.specs(ArchConfig)
RUN_SPECS: dict[str, schema.Spec] = schema.specs(RunOptions)
#: float architecture keys -> (lo, hi] (what a search samples as a float range)
FLOAT_RANGES: dict[str, tuple[float, float]] = {
    k: s.range for k, s in ARCH_SPECS.items() if s.kind == "float"}
TOP_SECTIONS = ("run", "workload", "sweep", "fixed_point")
#: why ``run.scheduler`` is refused in a file and in ``--set`` (docs/cluster.md "What a
#: config file can and cannot do"): the scheduler sends eie-sweep pickled data, which runs
#: code on this machine, so its address must be typed by the user
SCHEDULER_FROM_COMMAND_LINE = (
    "a dask scheduler is named on the command line only (eie-sweep --scheduler "
    "tcp://HOST:PORT), never in a configuration file or --set: eie-sweep unpickles what the "
    "scheduler sends, so it must be one you chose")


@dataclass
class LoadedConfig:
    """Everything one configuration file (plus overrides) says, checked."""

    arch: ArchConfig
    run: RunOptions
    #: the ``workload:`` block, checked (eie_sim.arch.workload_spec); None: absent
    workload: WorkloadSpec | None = None
    sweep: dict[str, list] = field(default_factory=dict)
    source: str = "<defaults>"
    overrides: list[str] = field(default_factory=list)
    #: a sweep's ``random:`` or ``search:`` block, checked (eie_sim.arch.sweep_spec)
    plan: dict = field(default_factory=dict)
    #: the ``fixed_point:`` block, checked (eie_sim.arch.fixed_point_spec); None: absent
    fixed_point: fixed_point_spec.FixedPointSpec | None = None
    #: the architecture keys the user set (in the file or with ``--set``); the others
    #: kept their defaults
    explicit: frozenset[str] = frozenset()

    def resolved(self) -> dict:
        """The fully resolved configuration as plain data (for reports)."""
        out = {"arch": self.arch.as_dict(), "run": self.run.as_dict(),
               "workload": None if self.workload is None else self.workload.block(),
               "sweep": {**self.sweep, **self.plan},
               "source": self.source, "overrides": list(self.overrides)}
        if self.fixed_point is not None:
            out["fixed_point"] = self.fixed_point.as_dict()
        return out


# ------------------------------------------------------------------ value checks
def check_arch_value(key: str, value: Any, where: str) -> Any:
    """Type and range of one architecture value (its spec); returns it (ints as int,
    floats as float)."""
    if key not in ARCH_SPECS:
        raise ConfigError(f"{where}: unknown architecture key; known keys: {', '.join(ARCH_KEYS)}")
    return schema.check(ARCH_SPECS[key], value, where)


def build_arch(values: dict, doc: YamlDoc | None = None, base: ArchConfig | None = None,
               path_prefix: tuple = ()) -> ArchConfig:
    """An ArchConfig from flat key/values, every value and the combination checked."""
    base = base or ArchConfig()
    where = (lambda k: doc.where(path_prefix + (k,))) if doc else (lambda k: dotted(path_prefix + (k,)))
    checked = {}
    for key, value in values.items():
        if key not in ARCH_KEYS:
            raise unknown_key(where(key), key, ARCH_KEYS + TOP_SECTIONS)
        checked[key] = check_arch_value(key, value, where(key))
    cfg = dataclasses.replace(base, **checked)
    try:
        return cfg.validate()
    except ConfigError as exc:
        msg = str(exc)
        key = msg.split(":", 1)[0]
        if key in ARCH_KEYS:
            loc = where(key) if key in values else (doc.source if doc else "config") + f": {key}"
            raise ConfigError(f"{loc}:{msg.split(':', 1)[1]}") from None
        raise ConfigError(f"{doc.source if doc else 'config'}: {msg}") from None


def build_run(values: Any, doc: YamlDoc | None = None) -> RunOptions:
    where = (lambda k: doc.where(("run", k))) if doc else (lambda k: f"run.{k}")
    if values is None:
        return RunOptions()
    if not isinstance(values, dict):
        loc = doc.where(("run",)) if doc else "run"
        raise ConfigError(f"{loc}: expected a mapping of run options ({', '.join(RUN_SPECS)})")
    values = dict(values)
    for key, value in values.items():
        if key not in RUN_SPECS:
            raise unknown_key(where(key), key, tuple(RUN_SPECS))
        values[key] = schema.check(RUN_SPECS[key], value, where(key), typename=False,
                                   range_message=False)
    if values.get("scheduler") is not None:
        raise ConfigError(f"{where('scheduler')}: refused: {SCHEDULER_FROM_COMMAND_LINE}")
    return RunOptions(**values)


def check_sweep(values: Any, base: ArchConfig, doc: YamlDoc | None = None,
                max_points: int = MAX_SWEEP_POINTS, workload: dict | None = None,
                plan: dict | None = None) -> dict[str, list]:
    """A sweep block: each key an architecture key or a workload key
    (:data:`~eie_sim.arch.sweep_spec.WORKLOAD_SWEEP_KEYS`) with a non-empty list of
    values, at most ``max_points`` points in the cross product (counted before any is
    built); or ``random:`` / ``search:`` (:mod:`eie_sim.arch.sweep_spec`), which go into
    ``plan`` when given. Returns the lists (the grid)."""
    where = (lambda *k: doc.where(("sweep",) + k)) if doc else (lambda *k: dotted(("sweep",) + k))
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where()}: expected a mapping of architecture keys to lists of values")
    known = ARCH_KEYS + sweep_spec.WORKLOAD_SWEEP_KEYS

    def check_value(key, v, loc):
        if key in sweep_spec.WORKLOAD_SWEEP_KEYS:
            sweep_spec.check_applicable(key, workload, loc)
            return sweep_spec.check_workload_value(key, v, loc, workload)
        return check_arch_value(key, v, loc)

    def loc(key, *rest):      # nested workload: {k: ...} keys keep their YAML position
        if key.startswith("workload.") and "workload" in values and isinstance(values["workload"], dict):
            return where("workload", key.split(".", 1)[1], *rest)
        return where(key, *rest)
    out = {}
    flat = sweep_spec.flatten(values)
    for key, vals in flat.items():
        if key in sweep_spec.PLAN_KEYS:
            continue
        if key not in known:
            raise unknown_key(loc(key), key, known + sweep_spec.PLAN_KEYS)
        if not isinstance(vals, list):
            vals = [vals]
        if not vals:
            raise ConfigError(f"{loc(key)}: empty list of values")
        out[key] = [check_value(key, v, loc(key, i)) for i, v in enumerate(vals)]
        if len({repr(v) for v in out[key]}) != len(out[key]):
            raise ConfigError(f"{loc(key)}: repeated values {out[key]}")
    n = sweep_spec.grid_size(out)
    chosen = {}
    if "random" in flat and "search" in flat:
        raise ConfigError(f"{where()}: give random: or search:, not both")
    if "search" in flat:
        if out:
            raise ConfigError(f"{where(next(iter(out)))}: with search:, the keys to vary go in "
                              f"search.space (not beside it)")
        chosen["search"] = sweep_spec.check_search(
            flat["search"], where, check_value, known, max_points,
            tuple(FLOAT_RANGES) + sweep_spec.FRACTION_KEYS)
    elif "random" in flat:
        chosen["random"] = sweep_spec.check_random(flat["random"], where, n, max_points)
    elif n > max_points:
        raise ConfigError(f"{where()}: {n:,} points ({' x '.join(str(len(v)) for v in out.values())}), "
                          f"more than the limit of {max_points:,}; eie-sweep --max-points N "
                          f"allows more (or sample it: random: {{samples: N}})")
    # every point must be a possible configuration (the architecture keys: their own cross
    # product; a random: sample only its points)
    arch_grid = {k: v for k, v in out.items() if k in ARCH_KEYS}
    if "random" in chosen:
        pts = [sweep_spec.point_at(out, i) for i in sweep_spec.sample_indices(
            n, chosen["random"]["samples"], chosen["random"]["seed"])]
        pts = [{k: p[k] for k in arch_grid} for p in pts]
    else:
        pts = iter_points(arch_grid)
    for point in pts:
        try:
            dataclasses.replace(base, **point).validate()
        except ConfigError as exc:
            raise ConfigError(f"{where()}: the point {point} is impossible: {exc}") from None
    if plan is not None:
        plan.clear()
        plan.update(chosen)
    return out


def iter_points(sweep: dict[str, list]):
    """The cross product of a sweep block, in key order (last key varies fastest), one
    point at a time."""
    keys = list(sweep)
    return (dict(zip(keys, combo)) for combo in itertools.product(*(sweep[k] for k in keys)))


def expand_points(sweep: dict[str, list]) -> list[dict]:
    """The cross product of a sweep block as a list (see :func:`iter_points`)."""
    return list(iter_points(sweep))


def count_points(sweep: dict[str, list]) -> int:
    """The number of points of a sweep block (1 without one)."""
    return sweep_spec.grid_size(sweep)


def expand_sweep(loaded: LoadedConfig) -> list[tuple[dict, ArchConfig]]:
    """``(point, ArchConfig)`` for every point of the sweep (one point when none)."""
    return [(p, dataclasses.replace(loaded.arch, **p).validate()) for p in expand_points(loaded.sweep)]


def _label(item) -> tuple[str, str]:
    """(what errors call an override, its ``key=value`` text): a ``--set`` item is a
    string; an override from a command-line flag (``--pes 32``) is ``(label, "key=value")``
    (:func:`load_config`)."""
    if isinstance(item, tuple):
        return item[0], item[1]
    return f"--set {shown(item)}", item


def parse_set(item) -> tuple[tuple[str, ...], Any]:
    """``key=value`` (``run.engine=simpy``, ``sweep.pes=[1,2]``) -> (path, YAML value)."""
    label, item = _label(item)
    if "=" not in item:
        raise ConfigError(f"{label}: expected key=value")
    key, text = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"{label}: empty key")
    try:
        value = parse_yaml(text, label).data if text.strip() else None
    except ConfigError as exc:   # a syntax error, or a refused document (aliases, tags, ...)
        why = str(exc).split(": ", 2)[-1]
        raise ConfigError(f"{label}: cannot parse the value {text[:60]!r} ({why})") from None
    path = tuple(key.split("."))
    if len(path) == 1 and path[0] in RUN_SPECS and path[0] not in ARCH_KEYS:
        path = ("run",) + path
    return path, value


def _apply_set(data: dict, lines: dict, item, source: str = "config",
               set_sources: dict | None = None) -> tuple:
    path, value = parse_set(item)
    label = _label(item)[0]
    if path[0] in ARCH_KEYS and len(path) > 1:
        raise ConfigError(f"{label}: {dotted(path[:1])} is a single value, not a section")
    if path[0] not in ARCH_KEYS + TOP_SECTIONS:
        raise unknown_key(f"{label}: {dotted(path[:1])}", path[0], ARCH_KEYS + TOP_SECTIONS)
    node = data
    for k, p in enumerate(path[:-1]):
        nxt = node.get(p)
        if nxt is None:
            nxt = node[p] = {}
        if not isinstance(nxt, dict):
            here = path[:k + 1]
            got = f"got {nxt!r:.40} ({type(nxt).__name__})"
            if set_sources and here in set_sources:   # an earlier --set made it a value
                raise ConfigError(f"{_label(set_sources[here])[0]}: {dotted(here)}: expected a "
                                  f"mapping of keys, {got}")
            if here in lines:                          # the file made it a value: blame it
                raise ConfigError(f"{source}:{lines[here]}: {dotted(here)}: expected a "
                                  f"mapping of keys, {got}")
            raise ConfigError(f"{label}: {dotted((p,))} is not a section")
        node = nxt
    node[path[-1]] = value
    lines.pop(path, None)
    return path


# ------------------------------------------------------------------ entry points
def load_config(path: str | pathlib.Path | None = None, sets: list | tuple = (),
                text: str | None = None, max_points: int | None = None,
                workload: tuple[str, dict] | None = None) -> LoadedConfig:
    """Read ``path`` (or ``text``; neither: the defaults), apply ``--set`` overrides, check all.

    ``sets``: ``--set`` items (``"pes=32"``) and overrides from command-line flags as
    ``(label, "key=value")`` (``("--pes 32", "pes=32")``: errors then name the flag);
    ``workload``: ``(label, block)``, the ``workload:`` block given by a command-line
    workload flag (``--synthetic ...``), refused when the file has a ``workload:`` block
    too. Raises :class:`ConfigError` naming the file, line and key of the first problem. A
    ``sweep:`` block may have at most ``max_points`` points (default
    :data:`MAX_SWEEP_POINTS`).
    """
    if text is not None:
        doc = parse_yaml(text, "<string>")
    elif path is not None:
        doc = read_yaml(path)
    else:
        doc = YamlDoc({}, {}, "<defaults>")
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{doc.source}: expected a mapping of keys at the top level, "
                          f"got {type(doc.data).__name__}")
    data = dict(doc.data)
    lines = dict(doc.lines)
    set_sources: dict[tuple, Any] = {}
    for item in sets:
        set_sources[_apply_set(data, lines, item, doc.source, set_sources)] = item
    if workload is not None:
        label, block = workload
        if data.get("workload") is not None:
            raise ConfigError(f"{doc.source} has a workload: block and {label} was given; give "
                              f"one of them (remove the block or the flag)")
        data["workload"] = block
        set_sources[("workload",)] = (label, "")
    doc = OverlayDoc(YamlDoc(data, lines, doc.source),
                     {k: _label(v)[0] for k, v in set_sources.items()})
    arch_values = {k: v for k, v in data.items() if k not in TOP_SECTIONS}
    arch = build_arch(arch_values, doc)
    run = build_run(data.get("run"), doc)
    workload = parse_workload(data.get("workload"), lambda *k: doc.where(("workload",) + k),
                              base_dir=pathlib.Path(path).parent if path is not None and text is None
                              else None)
    plan: dict = {}
    sweep = check_sweep(data.get("sweep"), arch, doc,
                        MAX_SWEEP_POINTS if max_points is None else max_points,
                        None if workload is None else workload.block(), plan)
    fixed_point = fixed_point_spec.check_fixed_point(
        data.get("fixed_point"), lambda *k: doc.where(("fixed_point",) + k), arch)
    return LoadedConfig(arch=arch, run=run, workload=workload, sweep=sweep,
                        source=doc.source, overrides=[_label(i)[1] for i in sets], plan=plan,
                        fixed_point=fixed_point, explicit=frozenset(arch_values))


def paper_config_path() -> pathlib.Path:
    """The packaged ``eie_sim/arch/configs/paper.yaml`` (the paper's design point)."""
    return pathlib.Path(str(resources.files("eie_sim.arch") / "configs" / "paper.yaml"))


def dump_resolved(loaded: LoadedConfig) -> str:
    """YAML text of the resolved configuration, loadable again by :func:`load_config`
    (``run.out`` is left out so that rerunning it does not target the same bundle)."""
    data: dict[str, Any] = dict(loaded.arch.as_dict())
    # a rerun must not overwrite this bundle, and a file never names a scheduler
    data["run"] = {**loaded.run.as_dict(), "out": None, "scheduler": None}
    if loaded.workload is not None:
        data["workload"] = loaded.workload.block()
    if loaded.sweep or loaded.plan:
        data["sweep"] = {**loaded.sweep, **loaded.plan}
    if loaded.fixed_point is not None:
        data["fixed_point"] = loaded.fixed_point.as_dict()
    return dump_yaml(data)
