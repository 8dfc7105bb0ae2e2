"""Simulate one layer: the stages of :mod:`eie_sim.sim.stages`, one after the other.

:func:`simulate_layer` is the whole path of a layer ``y = ReLU(W x + b)`` on EIE, for one
input vector (a fully-connected layer) or many (a convolution's output positions,
:func:`simulate_conv_layer`): prepare -> quantize the inputs -> run the engine on every
output pass -> check every output against numpy -> roll the passes up into the layer's
counters -> price them -> one :class:`~eie_sim.sim.results.LayerResult`. Long runs go
through the middle stages in chunks of vectors (bounded memory); the chunks' counters and
checks are merged, so the result does not depend on the chunk size.
"""
from __future__ import annotations

import functools
import time

import numpy as np

from eie_sim.arch.config import ArchConfig
from eie_sim.errors import WorkloadError
from eie_sim.hw.counters import LayerCounters
from eie_sim.hw.layout import LayerLayout
from eie_sim.sim.multichip import simulate_multichip
from eie_sim.sim.options import DEFAULT_OPTIONS, SimOptions
from eie_sim.sim.results import LayerResult
from eie_sim.sim.stages import (
    PreparedLayer,
    assemble,
    check_outputs,
    count,
    prepare,
    price,
    quantize_inputs,
    run_engine,
    timeline,
)
from eie_sim.workloads.layer import LayerWorkload

#: vectors that go through the engine and the check together (bounds the memory of
#: long convolution runs; the result does not depend on it)
CHUNK_VECTORS = 2048


def simulate_layer(layer: LayerWorkload | LayerLayout | PreparedLayer, x: np.ndarray | None,
                   cfg: ArchConfig, options: SimOptions | None = None, *, relu: bool = True,
                   x_q: np.ndarray | None = None, positions: np.ndarray | None = None,
                   positions_total: int | None = None, compare_to: np.ndarray | None = None,
                   seeds: dict | None = None, record: bool = False,
                   chunk: int = CHUNK_VECTORS) -> LayerResult:
    """Simulate one layer on one input vector or ``P`` of them, and check it against numpy.

    ``x``: float input, a vector or ``(P, cols)`` (``None``: the workload's own ``x``);
    ``x_q``: already fixed-point input (then ``x`` defaults to its float value).
    ``options``: engine, verify, check, check_fit, energy table, window
    (:class:`~eie_sim.sim.options.SimOptions`; default: the fast engine, every check on).
    ``positions``: labels of the ``P`` vectors (a convolution's position indices) and
    ``positions_total`` the layer's number of positions when only these ran (totals are
    then extrapolated). ``compare_to``: ``(P, rows)`` float outputs of another computation
    to hold the simulated ones to (:func:`~eie_sim.sim.stages.check_outputs`). ``record``:
    keep the engines' cycle-by-cycle record (``result.timeline``, one input vector);
    ``options.window``: also bin it into windows of that many cycles (``result.windows``,
    docs/timing.md). ``cfg.chips`` > 1: the rows split over that many chips
    (:mod:`eie_sim.sim.multichip`). Raises :class:`~eie_sim.errors.SimulationMismatch`,
    :class:`~eie_sim.errors.EngineMismatch`, :class:`~eie_sim.errors.LayoutError`,
    :class:`~eie_sim.errors.WorkloadError`.
    """
    opt = options or DEFAULT_OPTIONS
    if cfg.chips > 1:        # rows split over chips, each chip's block simulated as here
        return simulate_multichip(layer, x, cfg, options, simulate=simulate_layer, relu=relu,
                                  x_q=x_q, positions=positions, positions_total=positions_total,
                                  compare_to=compare_to, seeds=seeds, record=record, chunk=chunk)
    window = opt.window
    t0 = time.perf_counter()
    prep = prepare(layer, cfg, check_fit=opt.check_fit)
    inputs = quantize_inputs(prep, cfg, x, x_q, positions)
    if compare_to is not None:
        compare_to = np.asarray(compare_to)
    runs, outs, counts = [], [], []
    chunk = max(cfg.batch, chunk - chunk % cfg.batch)   # whole batches (docs/dram.md)
    for a in range(0, max(1, inputs.size), chunk):
        part = inputs.select(a, a + chunk)
        run = run_engine(prep, part, cfg, opt.engine, opt.verify, record=record or bool(window))
        outs.append(check_outputs(prep, part, run, cfg, relu, opt.check,
                                  None if compare_to is None else compare_to[a:a + chunk]))
        counts.append(count(prep, part, run, cfg))
        runs.append(run)
    out = functools.reduce(lambda a, b: a.merge(b), outs)
    counters: LayerCounters = functools.reduce(LayerCounters.merge, counts)
    energy = price(counters, cfg, opt.energy_table)
    return assemble(prep, inputs, runs[0], out, counters, energy, cfg, positions_total, seeds,
                    time.perf_counter() - t0, timeline(prep, runs[0], counters, cfg), window)


def simulate_conv_layer(layer: LayerWorkload | PreparedLayer, patches: np.ndarray,
                        cfg: ArchConfig, options: SimOptions | None = None,
                        positions: np.ndarray | None = None, *, compare_to: np.ndarray | None = None,
                        **kwargs) -> LayerResult:
    """A convolution as M x V per output position: :func:`simulate_layer` on the rows
    ``positions`` (default all) of the float ``patches`` (``(positions, in*kh*kw)``, the
    unrolled input of each output position, im2col); ``compare_to`` is given for all
    positions. Loading a patch into the source registers (im2col) is not modelled."""
    patches = np.asarray(patches)
    prep = prepare(layer, cfg, check_fit=(options or DEFAULT_OPTIONS).check_fit)
    if patches.ndim != 2 or patches.shape[1] != prep.layout.cols:
        raise WorkloadError(f"layer {prep.layout.name!r}: patches of shape {patches.shape} for "
                            f"{prep.layout.cols} columns")
    n_total = patches.shape[0]
    idx = np.arange(n_total, dtype=np.int64) if positions is None else np.asarray(positions, np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= n_total):
        raise WorkloadError(f"layer {prep.layout.name!r}: positions outside 0..{n_total - 1}")
    if compare_to is not None:
        compare_to = np.asarray(compare_to)
        if compare_to.shape != (n_total, prep.layout.rows):
            raise WorkloadError(f"layer {prep.layout.name!r}: compare_to has shape {compare_to.shape}, "
                                f"expected ({n_total}, {prep.layout.rows})")
        compare_to = compare_to[idx]
    return simulate_layer(prep, patches[idx], cfg, options, positions=idx,
                          positions_total=n_total, compare_to=compare_to, **kwargs)
