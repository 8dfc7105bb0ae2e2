"""One sweep point: its workload, its run, and the figures architects compare.

A point is a mapping of swept keys to values: architecture keys (``pes``, ...) and
workload keys (``workload.weight_density``, ``workload.act_density``, ``workload.seed``,
``workload.layers``; :mod:`eie_sim.arch.sweep_spec`). The workload keys are overrides of
the ``workload:`` block: :func:`build_workload` applies them (a ``table3:`` layer with an
overridden density is the same Table III size at that density, labelled
``density_override`` in its source; the point's ``workload.*`` columns say so in
``sweep.csv``). Workloads are built in the parent once per distinct
(``weight_bits``, workload keys) combination (:func:`workload_key`) and shipped to the
workers once.

Per point (:func:`point_figures`), for one **inference** = one pass through the
workload's layers: cycles, time (us), energy (uJ, and by unit when the layer rows carry
``energy_<unit>_uj``), average power (W), chip area (mm^2: the layer rows'
``chip_area_mm2`` when present, else :meth:`eie_sim.arch.energy.EnergyTable.area_mm2`),
inferences/s, inferences/J and inferences/s/mm^2.

The records a point travels as: :class:`SweepPoint` (built once per point in the parent,
:func:`make_point`: its index, swept values, resolved architecture, workload key and
configuration hash), :class:`PointTask` (a point and :class:`PointRun`, how every point
runs) to the workers, and :class:`PointResult` back (what the executors hand over, the
database stores and returns, and the export reads). A point's simulation is
:func:`simulate_point`, the one call from a sweep point into the simulator.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from typing import Any

import numba

from compressor.progress import Progress
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.config_io import LoadedConfig, RunOptions, iter_points
from eie_sim.arch.energy import EnergyTable, default_table
from eie_sim.arch.paper import TABLE3
from eie_sim.arch.sweep_spec import grid_size, point_at, sample_indices
from eie_sim.errors import WorkloadError
from eie_sim.hw.engines import estimate_engine
from eie_sim.sim import sram_fit
from eie_sim.sim.network import run_workload
from eie_sim.sim.options import SimOptions
from eie_sim.workloads.files import from_block
from eie_sim.workloads.layer import Workload
from eie_sim.workloads.synthetic import synthetic_layer, table3_layer, table3_names

#: what makes one point fail without stopping the sweep (recorded in its ``error`` column)
POINT_ERRORS = sram_fit.POINT_ERRORS
#: per-layer columns kept out of ``sweep.csv`` (they differ from run to run)
VOLATILE_COLUMNS = ("wall_s",)


def split_point(point: dict) -> tuple[dict, dict]:
    """(architecture keys, workload keys) of a point."""
    arch = {k: v for k, v in point.items() if not k.startswith("workload.")}
    return arch, {k: v for k, v in point.items() if k.startswith("workload.")}


def workload_key(weight_bits: int, overrides: dict) -> str:
    """The key of the workload a point runs (its ``weight_bits`` and workload keys)."""
    return json.dumps([weight_bits, sorted(overrides.items())])


def stable_hash(obj: Any) -> str:
    """SHA-256 (hex, first 16 digits) of ``obj`` as canonical JSON."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True, eq=False)
class SweepPoint:
    """One point of a sweep, resolved once in the parent (:func:`make_point`).

    ``params``: the swept keys and values in the sweep's key order (the database's
    ``params``, the tables' key columns); ``config``: the base architecture with the
    point's architecture keys (validated where the point runs: an impossible one is a
    failed point); ``workload_key``: :func:`workload_key`; ``config_hash``: the database's
    ``config_hash``, :func:`stable_hash` of the resolved architecture and the workload
    keys."""

    index: int
    params: dict
    config: ArchConfig
    workload_key: str
    config_hash: str

    @property
    def overrides(self) -> dict:
        """The point's workload keys (overrides of the ``workload:`` block)."""
        return split_point(self.params)[1]


def make_point(base: ArchConfig, index: int, params: dict) -> SweepPoint:
    """The :class:`SweepPoint` of the swept values ``params`` at ``index``."""
    arch, over = split_point(params)
    cfg = dataclasses.replace(base, **arch)
    return SweepPoint(index, params, cfg, workload_key(cfg.weight_bits, over),
                      stable_hash([cfg.record_dict(), over]))


def planned_points(loaded: LoadedConfig) -> list[SweepPoint] | None:
    """The points of a grid or random sweep (index: the position in the cross product);
    None for a search."""
    if "search" in loaded.plan:
        return None
    if "random" in loaded.plan:
        r = loaded.plan["random"]
        pts = [(i, point_at(loaded.sweep, i))
               for i in sample_indices(grid_size(loaded.sweep), r["samples"], r["seed"])]
    else:
        pts = enumerate(iter_points(loaded.sweep))
    return [make_point(loaded.arch, i, p) for i, p in pts]


def expected_point(loaded: LoadedConfig, planned: list[SweepPoint] | None = None):
    """What a recorded point must be: ``f(index, params) -> SweepPoint`` (None: no point
    of this sweep has that index). A grid or random sweep: its planned point at that
    index (``planned``: :func:`planned_points`, computed when not given); a search: the
    point of ``params`` when the index is a trial number and ``params`` names exactly the
    search's keys (the search itself checks, when it asks that trial again, that it asks
    those values). The database compares the recorded values and hashes with it."""
    if "search" in loaded.plan:
        search = loaded.plan["search"]
        keys = set(search["space"])

        def of_search(index: int, params: dict) -> SweepPoint | None:
            if not (0 <= index < search["trials"]) or set(params) != keys:
                return None
            try:
                return make_point(loaded.arch, index, params)
            except (TypeError, ValueError):
                return None
        return of_search
    by_index = {p.index: p for p in (planned if planned is not None else planned_points(loaded))}
    return lambda index, params: by_index.get(index)


@dataclasses.dataclass(frozen=True)
class PointRun:
    """How every point of a sweep runs (its ``run:`` block): the simulation options
    (engine, cross-check, SRAM fit check, energy table: :class:`~eie_sim.sim.options.SimOptions`),
    ReLU on independent layers, and the seed."""

    options: SimOptions = SimOptions()
    relu: bool = True
    seed: int = 0
    #: with ``options.check_fit`` False: ``exclude`` or ``resize`` (:mod:`eie_sim.sim.sram_fit`)
    unfit_points: str = "exclude"

    @property
    def energy_table(self) -> EnergyTable | None:
        return self.options.energy_table

    @classmethod
    def from_options(cls, run: RunOptions) -> "PointRun":
        table = EnergyTable.load(run.energy_table) if run.energy_table else None
        if run.engine == "analytical":   # docs/analytical.md "Estimate-only sweeps"
            opts = (SimOptions(engine="analytical", check=True, check_fit=run.check_fit,
                               energy_table=table) if run.verify else
                    SimOptions(engine=estimate_engine(), check=False, check_fit=run.check_fit,
                               energy_table=table))
            return cls(opts, run.relu, run.seed, run.unfit_points)
        return cls(SimOptions(engine=run.engine, verify=run.verify, check_fit=run.check_fit,
                              energy_table=table), run.relu, run.seed, run.unfit_points)


@dataclasses.dataclass(frozen=True)
class PointTask:
    """What a worker gets per point: the point and how it runs."""

    point: SweepPoint
    run: PointRun


@dataclasses.dataclass
class PointResult:
    """A finished point: its layer rows (:meth:`eie_sim.sim.results.LayerResult.to_dict`),
    per-inference figures (:func:`point_figures`, with the SRAM need and pricing of
    :func:`eie_sim.sim.sram_fit.fit_figures`), the message of why it failed (``""``:
    it did not), its wall time (None where the database has none) and whether its layers
    fit the SRAMs (None: not known, a point whose workload failed or one recorded by an
    older version)."""

    index: int
    params: dict
    rows: list[dict]
    figures: dict[str, Any]
    error: str
    wall_s: float | None = None
    fits: bool | None = None


def build_workload(block: dict, over: dict, weight_bits: int, seed: int,
                   base_dir: str | None) -> Workload:
    """The ``workload:`` block with a point's workload keys applied (module docstring)."""
    seed = over.get("workload.seed", seed)
    wd, ad = over.get("workload.weight_density"), over.get("workload.act_density")
    layers = over.get("workload.layers")
    cfg = ArchConfig(weight_bits=weight_bits)
    if "table3" in block:
        out = []
        for n in table3_names(layers if layers is not None else block["table3"]):
            if wd is None and ad is None:
                out.append(table3_layer(n, seed=seed, weight_bits=weight_bits))
                continue
            t = TABLE3[n]
            lay = synthetic_layer(t["outputs"], t["inputs"],
                                  t["weight_density"] if wd is None else wd,
                                  t["act_density"] if ad is None else ad, seed=seed, bias=True,
                                  weight_bits=weight_bits, name=n)
            lay.source["table3"] = dict(t)
            lay.source["density_override"] = {"weight_density": wd, "act_density": ad}
            out.append(lay)
        ov = ", ".join(f"{k.split('.', 1)[-1]}={v}" for k, v in over.items()) or "none"
        return Workload(out, network=False, description=f"Table III layers "
                        f"{', '.join(l.name for l in out)} (synthetic, seed {seed}, "
                        f"overrides: {ov})")
    block = dict(block)
    if "synthetic" in block:
        syn = block["synthetic"]
        specs = [dict(s) for s in (syn if isinstance(syn, list) else [syn])]
        if layers is not None:
            want = [layers] if isinstance(layers, str) else layers
            specs = [s for s in specs if s.get("name") in want]
        for s in specs:
            if wd is not None:
                s["weight_density"] = wd
            if ad is not None:
                s["act_density"] = ad
            if "workload.seed" in over:
                s["seed"] = seed
        block["synthetic"] = specs if isinstance(syn, list) or len(specs) != 1 else specs[0]
    else:
        if ad is not None:
            block["act_density"] = ad
        if layers is not None:
            block["layers"] = layers
    return from_block(block, cfg, seed=seed, base_dir=base_dir)


def build_workloads(block: dict, points, seed: int, base_dir: str | None,
                    quiet: bool = True) -> dict[str, Any]:
    """Every workload the :class:`SweepPoint` ``points`` need, built once: workload key ->
    Workload (or the message of why it cannot be built); ``quiet=False``: a progress bar
    over them."""
    need: dict[str, SweepPoint] = {}
    for pt in points:
        need.setdefault(pt.workload_key, pt)
    out: dict[str, Any] = {}
    with Progress(len(need), desc="workloads", unit="wl", quiet=quiet) as bar:
        for key, pt in need.items():
            try:
                out[key] = build_workload(block, pt.overrides, pt.config.weight_bits, seed,
                                          base_dir)
            except WorkloadError as exc:
                out[key] = f"{type(exc).__name__}: {exc}"
            bar.update(1)
    return out


def point_figures(rows: list[dict], cfg: ArchConfig, table: EnergyTable | None) -> dict[str, Any]:
    """Per inference (one pass through the layers) from the point's layer rows."""
    t_us = sum(float(r["time_us"]) for r in rows)
    e_uj = sum(float(r["total_energy_uj"]) for r in rows)
    fig: dict[str, Any] = {"cycles": sum(r["cycles"] for r in rows), "time_us": t_us,
                           "total_energy_uj": e_uj}
    first = rows[0]
    for c in first:      # energy by unit, when the layer rows carry it (summed over layers)
        if c.startswith("energy_") and c.endswith("_uj") and c != "total_energy_uj":
            fig[c] = sum(float(r.get(c) or 0.0) for r in rows)
    for c in first:      # area by unit: a property of the chip, the same on every layer row
        if c.endswith("_mm2") and c != "chip_area_mm2" and isinstance(first[c], (int, float)):
            fig[c] = first[c]
    if isinstance(first.get("chip_area_mm2"), (int, float)):
        fig["chip_area_mm2"], fig["area_source"] = float(first["chip_area_mm2"]), "layer rows"
    else:
        fig["chip_area_mm2"] = (table or default_table()).area_mm2(cfg).chip_mm2
        fig["area_source"] = "EnergyTable.area_mm2"
    fig["avg_power_w"] = e_uj / t_us if t_us else 0.0           # uJ / us = W
    fig["inferences_per_s"] = 1e6 / t_us if t_us else 0.0
    fig["inferences_per_j"] = 1e6 / e_uj if e_uj else 0.0
    fig["inferences_per_s_per_mm2"] = fig["inferences_per_s"] / fig["chip_area_mm2"]
    return fig


def simulate_point(point: SweepPoint, wl: Workload, run: PointRun,
                   priced: ArchConfig | None = None) -> list[dict]:
    """The layer rows of ``wl`` run on the point's architecture (validated by
    :func:`run_point`): the one call from a sweep point into the simulator
    (:func:`eie_sim.sim.network.run_workload`). ``priced``: the configuration to run and
    price it with when it differs from the point's only in its SRAM capacities and pointer
    width (:func:`eie_sim.sim.sram_fit.priced_config`: the timing does not depend on
    them, so the cycles are the point's)."""
    opt = run.options
    if wl.network and getattr(opt.engine, "estimate_only", False):
        opt = opt.replace(engine="analytical")    # a network needs each layer's outputs
    results, _ = run_workload(wl, priced or point.config, opt, run.relu, seed=run.seed)
    return [r.to_dict() for r in results]


def run_point(task: PointTask, workloads: dict[str, Any]) -> PointResult:
    """One point: every layer of its workload on its configuration (runs in a worker).

    A point whose configuration is impossible, or whose workload cannot be built, laid
    out or run on it (:data:`POINT_ERRORS`) has ``error`` set and no rows; the sweep goes
    on with the other points. Whether its layers fit the SRAMs is recorded (``fits``, the
    ``needed_*`` figures) and handled by ``run.check_fit`` and ``run.unfit_points``
    (:mod:`eie_sim.sim.sram_fit`).
    """
    t0 = time.perf_counter()
    pt = task.point
    res = PointResult(pt.index, pt.params, [], {}, "")
    try:
        pt.config.validate()
        wl = workloads[pt.workload_key]
        if isinstance(wl, str):
            res.error = wl
        else:
            need = sram_fit.point_need(wl.layers, pt.config)
            res.fits = need.fits(pt.config)
            res.figures = sram_fit.fit_figures(need, None)
            if not res.fits and task.run.options.check_fit:
                sram_fit.refuse(wl.layers, pt.config)
            priced = sram_fit.priced_config(need, pt.config, task.run.unfit_points)
            res.rows = simulate_point(pt, wl, task.run, priced)
            res.figures = {**point_figures(res.rows, priced, task.run.energy_table),
                           **sram_fit.fit_figures(need, priced)}
    except POINT_ERRORS as exc:
        res.rows, res.error = [], f"{type(exc).__name__}: {exc}"
    res.wall_s = time.perf_counter() - t0
    return res


def run_points(tasks: list[PointTask], workloads: dict[str, Any]) -> list[PointResult]:
    """:func:`run_point` on each of ``tasks`` (one dask task holds a few points).

    The points are the sweep's parallelism: numba's own threads (the ``parallel=True``
    numpy-reference kernel) are held to one meanwhile -- with one thread per worker a
    small layer runs about 10x faster than with the thread pool contending for the
    cores the other workers use (measured on 2 cores)."""
    prev = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return [run_point(t, workloads) for t in tasks]
    finally:
        numba.set_num_threads(prev)
