"""The simulation of one layer as explicit stages, each one function of one input type.

A newcomer can follow one weight from the compressor to a cycle count by reading these in
order (:func:`eie_sim.sim.layer.simulate_layer` only calls them one after the other)::

    workload --prepare--> PreparedLayer       layout over the PEs + the non-zeros (hw/layout)
             --quantize_inputs--> LayerInputs  float inputs -> 16-bit fixed point (P vectors)
             --run_engine--> EngineRun         one PassBatch per output pass (hw/engines)
             --check_outputs--> OutputCheck    saturate, ReLU, bit-exact + bounded-float numpy check
             --count--> LayerCounters          the one roll-up of passes and vectors (hw/counters)
             --price--> EnergyEstimate         counted actions x energy table (arch/energy)
             --assemble--> LayerResult         one result type, FC and conv alike (sim/results)

A fully-connected layer is one input vector (``P = 1``); a convolution is one vector per
output position (``P`` positions, possibly a sample). The stages do no I/O and print
nothing; reports are written from the :class:`~eie_sim.sim.results.LayerResult` by
:mod:`eie_sim.output`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from eie_sim.arch import energy as energy_mod
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import quantize, saturate, to_float, word_limits
from eie_sim.errors import (
    AccountingError,
    EngineMismatch,
    EngineUnavailable,
    LayoutError,
    SimulationMismatch,
    WorkloadError,
)
from eie_sim.hw.counters import LayerCounters, PassBatch, input_batches, roll_up
from eie_sim.hw.csr import CodesCSR
from eie_sim.hw.engines import Engine, get_engine
from eie_sim.hw.layout import LayerLayout, check_layer_fits, streams
from eie_sim.hw.trace import LayerTimeline, PassTrace
from eie_sim.sim.references import FloatReference, references_batch
from eie_sim.sim.results import ErrorSummary, LayerResult
from eie_sim.workloads.chips import chip_workloads
from eie_sim.workloads.layer import LayerWorkload


# ------------------------------------------------------------------ 1. prepare
@dataclass
class PreparedLayer:
    """A layout plus the layer's non-zeros (:class:`CodesCSR`) for the numpy checks."""

    layout: LayerLayout
    codes: CodesCSR                   #: the non-zero weight codes, row by row
    codebook: np.ndarray              #: float64 codebook (full 2**weight_bits)
    bias: np.ndarray | None           #: float64 or None
    workload: LayerWorkload | None = None
    reference_from: str = "original matrix"

    @property
    def nnz(self) -> int:
        return self.codes.nnz


def prepare(layer: LayerWorkload | LayerLayout | PreparedLayer, cfg: ArchConfig,
            check_fit: bool = True) -> PreparedLayer:
    """Lay out ``layer`` (unless it is a layout; a workload's layout is cached per
    :func:`~eie_sim.hw.layout.layout_key`) and collect what the checks need."""
    if isinstance(layer, PreparedLayer):
        return layer
    if isinstance(layer, LayerWorkload):
        lay = layer.layout(cfg, check_fit=check_fit)
        return PreparedLayer(lay, layer.codes, lay.codebook.astype(np.float64),
                             None if layer.bias is None else layer.bias.astype(np.float64), layer)
    if isinstance(layer, LayerLayout):
        if layer.n_pe != cfg.pes:
            raise WorkloadError(f"layer {layer.name!r} was laid out for {layer.n_pe} PEs, cfg has {cfg.pes}")
        rs, cs, codes = [], [], []
        for p in layer.passes:
            cols = p.columns()
            real = (p.code != 0) & (cols < p.cols)
            rs.append(p.global_rows()[real])
            cs.append(cols[real])
            codes.append(p.code[real])
        r, c, code = (np.concatenate(a) for a in (rs, cs, codes))
        order = np.lexsort((c, r))                      # row-major, as CodesCSR wants it
        csr = CodesCSR.from_coo(r[order], c[order], code[order], (layer.rows, layer.cols))
        return PreparedLayer(layer, csr, layer.codebook.astype(np.float64),
                             None if layer.bias is None else layer.bias.astype(np.float64), None,
                             reference_from="layout entries (no original matrix given)")
    raise TypeError(f"expected a LayerWorkload, LayerLayout or PreparedLayer, got {type(layer).__name__}")


def prepare_all(layers: list[tuple[LayerWorkload, ArchConfig]], check_fit: bool = True,
                hint: str = "") -> tuple[list[PreparedLayer], list[dict[str, Any]]]:
    """Stage 1 for the layers of a network: each laid out once, each checked against the
    SRAMs; every refusal is reported together in one :class:`LayoutError` (ending with
    ``hint``) when ``check_fit``. Returns the prepared layers and one fit row per layer
    (``layer``, ``max_entries_per_pe``, ``padding_entries``, ``fits``, ``why``)."""
    prepared, rows, refusals = [], [], []
    for wl, cfg in layers:
        prep = prepare(wl, cfg, check_fit=False)
        # with chips > 1 every chip holds its row block (eie_sim.sim.multichip)
        lays = [prep.layout] if cfg.chips == 1 else _chip_layouts(wl, cfg)
        per_pe = max(int(np.sum([p.entries_per_pe for p in lay.passes], axis=0).max())
                     for lay in lays)
        row = {"layer": wl.name, "max_entries_per_pe": per_pe,
               "padding_entries": sum(int(lay.n_padding) for lay in lays), "fits": True, "why": ""}
        try:
            for lay in lays:
                check_layer_fits(lay, cfg.replace(chips=1))
        except LayoutError as exc:
            row.update(fits=False, why=str(exc))
            refusals.append(str(exc))
        rows.append(row)
        prepared.append(prep)
    if refusals and check_fit:
        raise LayoutError("; ".join(refusals) + (f" ({hint})" if hint else ""))
    return prepared, rows


def _chip_layouts(wl: LayerWorkload, cfg: ArchConfig) -> list[LayerLayout]:
    """The layouts of a layer's row blocks on ``cfg.chips`` chips (sim/multichip)."""
    one = cfg.replace(chips=1)
    return [p.layout(one, check_fit=False) for p in chip_workloads(wl, cfg.chips)]


# ------------------------------------------------------------------ 2. inputs
@dataclass
class LayerInputs:
    """The ``P`` input vectors of one run, float and fixed point."""

    X: np.ndarray                 #: float64 (P, cols)
    X_q: np.ndarray               #: int64 (P, cols), act_frac_bits fraction bits
    saturations: int              #: inputs that saturated when quantized
    float_nonzeros: int           #: non-zero float inputs (before quantization)
    positions: np.ndarray | None = None   #: int64 (P,) labels for messages (conv positions)

    @property
    def size(self) -> int:
        return int(self.X_q.shape[0])

    def select(self, a: int, b: int) -> "LayerInputs":
        """Vectors ``a .. b-1`` (one chunk of a long run; the counts stay with the whole run)."""
        pos = None if self.positions is None else self.positions[a:b]
        return LayerInputs(self.X[a:b], self.X_q[a:b], 0, 0, pos)


def quantize_inputs(prep: PreparedLayer, cfg: ArchConfig, x: np.ndarray | None = None,
                    x_q: np.ndarray | None = None,
                    positions: np.ndarray | None = None) -> LayerInputs:
    """Float inputs (a vector or ``(P, cols)``; ``None``: the workload's own ``x``) to
    fixed point, or already fixed-point ``x_q`` (then ``x`` is its float value).
    Refuses wrong sizes and non-finite values (:class:`WorkloadError`)."""
    lay = prep.layout
    name = lay.name
    if x_q is None:
        if x is None and prep.workload is not None:
            x = prep.workload.x
        if x is None:
            raise WorkloadError(f"layer {name!r}: no input vector given")
        X = np.asarray(x, dtype=np.float64)
        X = X.reshape(1, -1) if X.ndim == 1 else X
        if X.ndim != 2 or X.shape[1] != lay.cols:
            raise WorkloadError(f"layer {name!r}: input of shape {np.shape(x)} for {lay.cols} columns")
        if not np.all(np.isfinite(X)):
            raise WorkloadError(f"layer {name!r}: input contains NaN or infinity")
        X_q, sat = quantize(X, cfg.act_frac_bits, cfg.word_bits)
    else:
        X_q = np.asarray(x_q, dtype=np.int64)
        X_q = X_q.reshape(1, -1) if X_q.ndim == 1 else X_q
        if X_q.ndim != 2 or X_q.shape[1] != lay.cols:
            raise WorkloadError(f"layer {name!r}: input of shape {np.shape(x_q)} for {lay.cols} columns")
        X = to_float(X_q, cfg.act_frac_bits) if x is None else np.asarray(x, np.float64).reshape(X_q.shape)
        sat = 0
    if positions is not None:
        positions = np.asarray(positions, dtype=np.int64)
    return LayerInputs(X, np.asarray(X_q, dtype=np.int64), int(sat), int(np.count_nonzero(X)), positions)


# ------------------------------------------------------------------ 3. engine
@dataclass
class EngineRun:
    """The engine's counters and accumulators: one :class:`PassBatch` per output pass."""

    engine: str
    batches: list[PassBatch]
    verified: bool
    traces: list[PassTrace] | None = None   #: per pass, when recorded (one vector)
    estimate_only: bool = False   #: no accumulators (hw/engines.estimate_engine)

    @property
    def acc(self) -> np.ndarray:
        """int64 ``(P, rows)``: the accumulators of every pass, in row order."""
        return np.concatenate([b.acc for b in self.batches], axis=1)


def run_engine(prep: PreparedLayer, inputs: LayerInputs, cfg: ArchConfig,
               engine: "str | Engine" = "fast", verify: "bool | str | Engine" = False,
               record: bool = False) -> EngineRun:
    """Run every output pass of the layout on every input vector (docs/timing.md).

    ``verify``: True (the other named engine) or an engine to compare every pass with;
    any counter that differs raises :class:`EngineMismatch`. Counters whose per-PE
    classes do not add up raise :class:`SimulationMismatch`. ``record``: also record
    every pass's :class:`~eie_sim.hw.trace.PassTrace` (one input vector only; compared
    between the engines too when verifying).
    """
    eng = get_engine(engine)
    other = None
    if verify:
        other = eng.other() if verify is True else get_engine(verify)
    lay = prep.layout
    if record and inputs.size != 1:
        raise WorkloadError(f"layer {lay.name!r}: a trace (windows, timeline) is recorded for "
                            f"one input vector, not {inputs.size}")
    batches, traces = [], []
    for i, p in enumerate(lay.passes):
        b, tr = eng.run(p, lay, inputs.X_q, cfg, record)
        traces.append(tr)
        try:
            b.validate(p.rows, cfg.pes)
        except AccountingError as exc:
            raise SimulationMismatch(f"layer {lay.name!r} pass {i} ({eng.name} engine): {exc}") from None
        if other is not None:
            b2, tr2 = other.run(p, lay, inputs.X_q, cfg, record)
            diffs = b.differences(b2) + (tr.differences(tr2) if record else [])
            if diffs:
                raise EngineMismatch(f"layer {lay.name!r} pass {i}: engines {eng.name} and "
                                     f"{other.name} disagree: " + "; ".join(diffs))
        batches.append(b)
    return EngineRun(eng.name, batches, other is not None, traces if record else None,
                     eng.estimate_only)


# ------------------------------------------------------------------ 4. check
@dataclass
class OutputCheck:
    """The layer's outputs and what their numpy check found."""

    output_q: np.ndarray          #: int64 (P, rows) saturated (and ReLU'd) outputs (output_frac_bits)
    saturations: int              #: outputs that saturated
    errors: ErrorSummary          #: largest error against the float reference, its bound, slack
    map_check: float | None = None   #: largest deviation from ``compare_to`` (when given)

    def merge(self, other: "OutputCheck") -> "OutputCheck":
        """Both chunks of vectors, in order."""
        mc = None if self.map_check is None else max(self.map_check, other.map_check or 0.0)
        return OutputCheck(np.concatenate([self.output_q, other.output_q]),
                           self.saturations + other.saturations, self.errors.merge(other.errors), mc)


def verify_against_numpy(prep: PreparedLayer, X: np.ndarray, X_q: np.ndarray, acc: np.ndarray,
                  out_q: np.ndarray, cfg: ArchConfig, relu: bool, what: str,
                  positions: np.ndarray | None = None) -> tuple[FloatReference, np.ndarray]:
    """The numpy check of every run, for ``P`` input vectors at once (arrays ``(P, rows)``).

    (i) the accumulators must equal the integer reference bit for bit; (ii) the saturated
    (and ReLU'd) outputs must lie within the fixed-point error bound of ``W_float @ x + b``.
    Raises :class:`SimulationMismatch` naming the first failing output (with its position
    label from ``positions`` when given); returns the float reference and the errors.
    """
    def where(i: int, r: int) -> str:
        return f"row {r}" if positions is None else f"position {int(positions[i])}, row {r}"

    ref, fr = references_batch(prep, X, X_q, cfg)
    bad = np.argwhere(ref != acc)
    if bad.size:
        i, r = (int(v) for v in bad[0])
        raise SimulationMismatch(
            f"{what}: {len(bad)} of {acc.size} accumulators differ from the integer reference (numpy on "
            f"codebook_q and x_q, {prep.reference_from}); first at {where(i, r)}: engine "
            f"{int(acc[i, r])}, reference {int(ref[i, r])}")
    err = np.abs(to_float(out_q, cfg.output_frac_bits) - _as_output(fr.y, cfg, relu))
    over = np.argwhere(~(err <= fr.bound))          # a NaN error is a mismatch too
    if over.size:
        i, r = (int(v) for v in over[0])
        raise SimulationMismatch(
            f"{what}: {len(over)} outputs differ from W_float @ x + b beyond the fixed-point "
            f"error bound; first at {where(i, r)}: error {err[i, r]:.6g} > bound "
            f"{fr.bound[i, r]:.6g}")
    return fr, err


def _as_output(y: np.ndarray, cfg: ArchConfig, relu: bool) -> np.ndarray:
    """What the datapath makes of an exact float result: ReLU (if any), then saturation to
    the word (neither increases the error of the fixed-point result)."""
    y = np.maximum(y, 0.0) if relu else y
    lo, hi = word_limits(cfg.word_bits)
    f = cfg.output_frac_bits
    return np.clip(y, lo / (1 << f), hi / (1 << f))


def check_outputs(prep: PreparedLayer, inputs: LayerInputs, run: EngineRun, cfg: ArchConfig,
                  relu: bool = True, check: bool = True,
                  compare_to: np.ndarray | None = None) -> OutputCheck:
    """Saturate the accumulators to the word, apply ReLU, and (``check``) hold every output
    to numpy (:func:`verify_against_numpy`).

    ``compare_to``: float ``(P, rows)`` outputs (before ReLU) of another float32
    computation of the same layer, e.g. a convolution's forward pass; every simulated
    output must equal it within the fixed-point bound plus float32 rounding
    (``(cols + 2) 2**-24 (sum |w x| + |b| + |y|)``); the largest deviation is
    ``map_check``.
    """
    lay = prep.layout
    if check and run.estimate_only:
        raise EngineUnavailable(f"layer {lay.name!r}: the estimate-only analytical engine "
                                f"computes no outputs to check (check=False, or the full "
                                f"analytical engine)")
    acc = run.acc
    out_q, out_sat = saturate(acc, cfg.word_bits)
    if relu:
        out_q = np.maximum(out_q, 0)
    errors = ErrorSummary()
    map_dev = None
    if check:
        fr, err = verify_against_numpy(prep, inputs.X, inputs.X_q, acc, out_q, cfg, relu,
                                       f"layer {lay.name!r} ({run.engine} engine)", inputs.positions)
        errors = ErrorSummary.of(err, fr.bound)
        if compare_to is not None:
            map_dev = _compare(prep, inputs, out_q, fr, np.asarray(compare_to), cfg, relu)
    return OutputCheck(out_q, int(out_sat), errors, map_dev)


def _compare(prep: PreparedLayer, inputs: LayerInputs, out_q: np.ndarray, fr: FloatReference,
             other: np.ndarray, cfg: ArchConfig, relu: bool) -> float:
    """Largest deviation from another float computation of the layer (see check_outputs)."""
    lay = prep.layout
    if other.shape != out_q.shape:
        raise WorkloadError(f"layer {lay.name!r}: compare_to has shape {other.shape}, "
                            f"expected {out_q.shape}")
    other = _as_output(np.asarray(other, dtype=np.float64), cfg, relu)
    babs = 0.0 if prep.bias is None else np.abs(prep.bias)
    f32 = (lay.cols + 2) * 2.0 ** -24 * (fr.mag + babs + np.abs(fr.y))
    dev = np.abs(to_float(out_q, cfg.output_frac_bits) - other)
    over = np.argwhere(dev > fr.bound + f32)
    if over.size:
        i, r = (int(v) for v in over[0])
        pos = i if inputs.positions is None else int(inputs.positions[i])
        raise SimulationMismatch(
            f"layer {lay.name!r}: {len(over)} outputs differ from the numpy convolution beyond "
            f"the fixed-point bound plus float32 rounding; first at position {pos}, channel {r}: "
            f"simulated {to_float(out_q[i, r], cfg.output_frac_bits):.6g}, numpy {other[i, r]:.6g}")
    return float(dev.max()) if dev.size else 0.0


# ------------------------------------------------------------------ 5. count
def count(prep: PreparedLayer, inputs: LayerInputs, run: EngineRun, cfg: ArchConfig) -> LayerCounters:
    """The layer's counters: :func:`eie_sim.hw.counters.roll_up` of the passes."""
    lay = prep.layout
    return roll_up(run.batches, lay.cols, cfg, inputs.X_q, lay.has_bias, streams(lay, cfg))


# ------------------------------------------------------------------ 6. price
def price(counters: LayerCounters, cfg: ArchConfig,
          table: energy_mod.EnergyTable | None = None) -> energy_mod.EnergyEstimate:
    """Energy of the counted actions (docs/energy.md): every broadcast enters all ``N``
    queues, every issued entry (real or padding) is one arithmetic operation, every real
    one an accumulator write, the activation SRAM is busy in batch load and store cycles."""
    pe = counters.pe
    busy = int(pe.busy.sum())
    counts = energy_mod.ActionCounts(
        cycles=counters.cycles, queue_entries=counters.broadcasts * cfg.pes,
        pointer_reads=int(pe.pointer_reads.sum()), spmat_line_reads=int(pe.spmat_line_reads.sum()),
        issued_entries=busy + int(pe.padding.sum()), accumulator_writes=busy,
        act_sram_cycles=(counters.batch_load_cycles + counters.batch_store_cycles) * cfg.pes,
        act_sram_store_cycles=counters.batch_store_cycles * cfg.pes,
        dram_bytes=counters.dram_bytes)
    return energy_mod.estimate(counts, cfg, table)


# ------------------------------------------------------------------ 7. assemble
def timeline(prep: PreparedLayer, run: EngineRun, counters: LayerCounters,
             cfg: ArchConfig) -> LayerTimeline | None:
    """The layer's recorded :class:`~eie_sim.hw.trace.LayerTimeline` (None unless the
    engine run recorded traces)."""
    if run.traces is None:
        return None
    # per pass: the store after it, the reload before it (after the first) when the
    # input has several batches (hw/counters.layer_overhead_cycles)
    reload = cfg.batch_load_cycles if input_batches(prep.layout.cols, cfg) > 1 else 0
    return LayerTimeline(run.traces, prep.layout.passes, cfg.batch_store_cycles, reload,
                         counters.cycles)


def assemble(prep: PreparedLayer, inputs: LayerInputs, run: EngineRun, out: OutputCheck,
             counters: LayerCounters, energy: energy_mod.EnergyEstimate, cfg: ArchConfig,
             positions_total: int | None = None, seeds: dict | None = None,
             wall_s: float = 0.0, timeline: LayerTimeline | None = None,
             window: int | None = None) -> LayerResult:
    """The :class:`LayerResult` of the stages' outputs (over every vector of the run).

    ``positions_total``: how many vectors the layer has in all (a convolution's output
    positions) when only a sample of them ran; default: the vectors that ran.
    """
    lay = prep.layout
    wl = prep.workload
    P = inputs.size
    seeds = dict(seeds or {})
    if wl is not None and "seed" in wl.source:
        seeds.setdefault("workload_seed", wl.source["seed"])
    nnz = prep.nnz
    positions = inputs.positions if inputs.positions is not None else np.arange(P, dtype=np.int64)
    return LayerResult(
        name=lay.name, rows=lay.rows, cols=lay.cols, pes=cfg.pes, clock_mhz=cfg.clock_mhz,
        nnz=nnz, weight_density=wl.weight_density if wl is not None else nnz / (lay.rows * lay.cols),
        counters=counters, positions=positions,
        positions_total=P if positions_total is None else int(positions_total),
        input_nonzeros_pos=np.count_nonzero(inputs.X_q, axis=1).astype(np.int64),
        float_act_density=inputs.float_nonzeros / max(1, P * lay.cols),
        input_saturations=inputs.saturations, output_saturations=out.saturations,
        max_error=out.errors.max_error, max_error_bound=out.errors.max_error_bound,
        min_error_slack=out.errors.min_error_slack, output_q=out.output_q, energy=energy,
        engine=run.engine, verified=run.verified, synthetic=bool(lay.meta.get("synthetic", False)),
        seeds=seeds, config=cfg.as_dict(), source=dict(lay.meta.get("source", {})),
        meta={"max_output_bound": out.errors.max_bound,
              **({"estimate_only": True} if run.estimate_only else {}),
              **({} if out.map_check is None else {"map_check": out.map_check})}, wall_s=wall_s,
        timeline=timeline, windows=timeline.windows(window) if timeline and window else None)
