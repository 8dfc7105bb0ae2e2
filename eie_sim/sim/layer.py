"""Run layers and networks on the simulated PE array and check every output against numpy.

:func:`simulate_layer` quantizes the input to fixed point, runs every output pass with
an engine (``run_pass(pass_layout, layer_layout, x_q, cfg) -> PassStats``, docs/timing.md),
adds the layer-level overheads (``batch_store_cycles`` per pass, ``batch_load_cycles`` per
pass after the first when the input has several batches; :mod:`eie_sim.stats`),
saturates and applies ReLU, and then checks:

1. **bit-exact** against the integer reference: numpy on ``codebook_q`` and ``x_q`` with
   the same per-product rounding (docs/timing.md, rule A) and the fixed-point bias;
2. **float error** against ``W_float @ x_float + b`` (``W_float = codebook[codes]``) within
   a bound computed per row from the actual fixed-point errors:
   ``sum_j |w_ij| |x_j - xq_j| + |xq_j| |w_ij - wq_ij|`` + half an output step per
   rounded product + the bias rounding error (ReLU and saturation do not increase it).

Both references are written once, for a batch of ``P`` input vectors
(:func:`integer_reference_batch`, :func:`float_reference_batch`; conv layers use them
with one vector per output position), on per-layer constant arrays cached in the
:class:`PreparedLayer`.

Either mismatch raises :class:`SimulationMismatch`. ``verify=True`` runs both engines
and raises :class:`EngineMismatch` on any counter that differs.
:func:`simulate_network` chains layers (destination registers become the next source,
ReLU between layers, none after the last); :func:`lenet_accuracy` runs MNIST images
through a compressed LeNet-300-100 on the simulator.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from eie_sim.arch import energy as energy_mod
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import quantize, round_product, saturate, to_float, word_limits
from eie_sim.hw.layout import LayerLayout
from eie_sim.hw.counters import (PE_COUNTERS, PassStats, input_batches, layer_cycle_classes,
                    layer_overhead_cycles, load_efficiency)
from eie_sim.workloads.base import LayerWorkload, Workload, WorkloadError

Engine = Callable[..., PassStats]
ENGINE_NAMES = ("fast", "simpy")


class EngineUnavailable(RuntimeError):
    """The requested engine module is not installed/written yet."""


class SimulationMismatch(RuntimeError):
    """A simulated output differs from the numpy reference (bit-exact or beyond the bound)."""


class EngineMismatch(RuntimeError):
    """The two engines disagree on some counter (``--verify``)."""


def get_engine(engine: str | Engine) -> tuple[str, Engine]:
    """``(name, run_pass)`` for ``'fast'``, ``'simpy'`` or a callable."""
    if callable(engine):
        return getattr(engine, "__name__", "custom"), engine
    if engine == "fast":
        modname = "eie_sim.hw.engine_fast"
    elif engine == "simpy":
        modname = "eie_sim.hw.engine_simpy"
    else:
        raise EngineUnavailable(f"unknown engine {engine!r}; choose one of {', '.join(ENGINE_NAMES)}")
    import importlib
    try:
        mod = importlib.import_module(modname)
        fn = mod.run_pass
    except (ImportError, AttributeError) as exc:
        raise EngineUnavailable(f"engine {engine!r} ({modname}.run_pass) is not available: {exc}") from None
    return engine, fn


# ------------------------------------------------------------------ prepared layer
@dataclass
class ReferenceArrays:
    """Per-layer constants of the numpy checks, one value per non-zero weight, sorted by row.

    Built once per :class:`PreparedLayer` (:meth:`PreparedLayer.reference_arrays`) and
    reused for every input vector (LeNet images, conv positions).
    """

    c: np.ndarray            #: int64 column of each non-zero (row-sorted order)
    wq_int: np.ndarray       #: int64 fixed-point weight (codebook_q[code])
    w: np.ndarray            #: float64 weight (codebook[code])
    abs_w: np.ndarray        #: |w|
    err_w: np.ndarray        #: |w - wq|, wq = the fixed-point weight as float
    wq_nonzero: np.ndarray   #: bool wq != 0
    rows_with: np.ndarray    #: int64 rows holding at least one non-zero
    starts: np.ndarray       #: int64 start of each such row's run (np.add.reduceat)
    r: np.ndarray            #: int64 row of each non-zero (row-sorted)
    shape: tuple[int, int]   #: (rows, cols) of the layer
    _dense: dict = field(default_factory=dict, repr=False)

    @property
    def use_dense(self) -> bool:
        """Evaluate weighted row sums as dense matrix products: when the matrix is small
        and not very sparse (conv layers), BLAS beats gathering per non-zero."""
        n = self.shape[0] * self.shape[1]
        return n <= DENSE_REFERENCE_ELEMENTS and n <= 8 * max(1, self.c.size)

    def dense(self, name: str) -> np.ndarray:
        """The (rows, cols) float64 matrix holding the per-non-zero array ``name``."""
        if name not in self._dense:
            m = np.zeros(self.shape)
            m[self.r, self.c] = getattr(self, name)
            self._dense[name] = m
        return self._dense[name]


@dataclass
class PreparedLayer:
    """A layout plus the non-zeros of the original matrix for the numpy checks."""

    layout: LayerLayout
    r: np.ndarray                     #: int64 row of every non-zero weight
    c: np.ndarray                     #: int64 column
    code: np.ndarray                  #: int64 weight code
    codebook: np.ndarray              #: float64 codebook (full 2**weight_bits)
    bias: np.ndarray | None           #: float64 or None
    workload: LayerWorkload | None = None
    reference_from: str = "original matrix"
    _ref: dict = field(default_factory=dict, repr=False)

    def reference_arrays(self, cfg: ArchConfig) -> ReferenceArrays:
        """The cached :class:`ReferenceArrays` for ``cfg``'s weight fraction bits."""
        key = cfg.weight_frac_bits
        if key not in self._ref:
            order = np.argsort(self.r, kind="stable")
            r, code = self.r[order], self.code[order]
            lay = self.layout
            w = self.codebook[code]
            wq = to_float(lay.codebook_q, cfg.weight_frac_bits)[code]
            rows_with, starts = np.unique(r, return_index=True)
            self._ref[key] = ReferenceArrays(
                c=self.c[order], wq_int=lay.codebook_q[code].astype(np.int64), w=w,
                abs_w=np.abs(w), err_w=np.abs(w - wq), wq_nonzero=wq != 0,
                rows_with=rows_with.astype(np.int64), starts=starts.astype(np.int64),
                r=r.astype(np.int64), shape=(lay.rows, lay.cols))
        return self._ref[key]


def prepare(layer: LayerWorkload | LayerLayout | PreparedLayer, cfg: ArchConfig,
            check_fit: bool = True) -> PreparedLayer:
    """Lay out ``layer`` (unless it is a layout) and collect what the checks need."""
    if isinstance(layer, PreparedLayer):
        return layer
    if isinstance(layer, LayerWorkload):
        lay = layer.layout(cfg, check_fit=check_fit)
        r, c, code = layer.nonzeros()
        return PreparedLayer(lay, r, c, code, lay.codebook.astype(np.float64),
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
            codes.append(p.code[real].astype(np.int64))
        r, c, code = (np.concatenate(a) if a else np.zeros(0, np.int64) for a in (rs, cs, codes))
        return PreparedLayer(layer, r, c, code, layer.codebook.astype(np.float64),
                             None if layer.bias is None else layer.bias.astype(np.float64), None,
                             reference_from="layout entries (no original matrix given)")
    raise TypeError(f"expected a LayerWorkload, LayerLayout or PreparedLayer, got {type(layer).__name__}")


# ------------------------------------------------------------------ numpy references
#: most (vectors x non-zeros) elements one step of the batched references holds
REFERENCE_CHUNK_ELEMENTS = 1 << 22
#: largest rows x cols evaluated with dense matrix products (ReferenceArrays.use_dense)
DENSE_REFERENCE_ELEMENTS = 1 << 21


def _row_sums(values: np.ndarray, ref: ReferenceArrays, out: np.ndarray) -> None:
    """``out[:, row] += `` the sum of ``values[:, i]`` over the non-zeros ``i`` of each row."""
    if ref.starts.size:
        out[:, ref.rows_with] += np.add.reduceat(values, ref.starts, axis=1)


def _weighted_row_sums(ref: ReferenceArrays, name: str, V: np.ndarray, out: np.ndarray) -> None:
    """``out[p, i] += sum_j a_ij V[p, j]`` over the non-zeros of row ``i``, ``a`` the
    per-non-zero array ``name`` of ``ref``: a dense product or a gather + row sum, by
    :attr:`ReferenceArrays.use_dense` (the same sum either way)."""
    if ref.use_dense:
        out += V @ ref.dense(name).T
    else:
        _row_sums(V[:, ref.c] * getattr(ref, name), ref, out)


def integer_reference_batch(prep: PreparedLayer, X_q: np.ndarray, cfg: ArchConfig,
                            max_elems: int = REFERENCE_CHUNK_ELEMENTS) -> np.ndarray:
    """int64 ``(P, rows)``: accumulators as the datapath computes them, for each row of
    ``X_q``: ``bias_q`` + the sum of the individually rounded products (rule A)."""
    lay = prep.layout
    X_q = np.asarray(X_q, dtype=np.int64).reshape(-1, lay.cols)
    ref = prep.reference_arrays(cfg)
    P = X_q.shape[0]
    out = np.tile(lay.bias_q.astype(np.int64), (P, 1))
    step = max(1, max_elems // max(1, ref.c.size))
    for a in range(0, P, step):
        prod = round_product(X_q[a:a + step][:, ref.c] * ref.wq_int, cfg.weight_frac_bits)
        _row_sums(prod, ref, out[a:a + step])
    return out


@dataclass
class FloatReference:
    y: np.ndarray        #: float64 (P, rows): W_float @ x + b (no ReLU)
    bound: np.ndarray    #: float64 (P, rows): fixed-point error bound of each output
    mag: np.ndarray      #: float64 (P, rows): sum_j |w_ij x_j| (for float32 comparisons)


def float_reference_batch(prep: PreparedLayer, X: np.ndarray, X_q: np.ndarray,
                          cfg: ArchConfig, max_elems: int = REFERENCE_CHUNK_ELEMENTS) -> FloatReference:
    """``W_float @ x + b`` for each row of ``X`` and the per-output bound of the
    fixed-point computation: ``sum_j |w_ij| |x_j - xq_j| + |xq_j| |w_ij - wq_ij|`` + half
    an output step per rounded product (``xq_j != 0``, ``wq_ij != 0``) + the bias rounding
    error + float64 summation noise (``1e-12 (sum_j |w_ij x_j| + 1)``)."""
    lay = prep.layout
    X = np.asarray(X, dtype=np.float64).reshape(-1, lay.cols)
    Xq = to_float(np.asarray(X_q).reshape(-1, lay.cols), cfg.act_frac_bits)
    ref = prep.reference_arrays(cfg)
    P = X.shape[0]
    y = np.zeros((P, lay.rows))
    bound = np.zeros((P, lay.rows))
    mag = np.zeros((P, lay.rows))
    half = 0.5 ** (cfg.act_frac_bits + 1)
    step = max(1, max_elems // max(1, ref.c.size))
    for a in range(0, P, step):
        x, xq, sl = X[a:a + step], Xq[a:a + step], slice(a, a + step)
        _weighted_row_sums(ref, "w", x, y[sl])
        _weighted_row_sums(ref, "abs_w", np.abs(x), mag[sl])
        _weighted_row_sums(ref, "abs_w", np.abs(x - xq), bound[sl])
        _weighted_row_sums(ref, "err_w", np.abs(xq), bound[sl])
        bnd_half = np.zeros_like(bound[sl])
        _weighted_row_sums(ref, "wq_nonzero", (xq != 0).astype(np.float64), bnd_half)
        bound[sl] += half * bnd_half
    if prep.bias is not None:
        y += prep.bias
        bound += np.abs(prep.bias - to_float(lay.bias_q, cfg.act_frac_bits))
    bound += 1e-12 * (mag + 1.0)
    return FloatReference(y, bound, mag)


def integer_reference(prep: PreparedLayer, x_q: np.ndarray, cfg: ArchConfig) -> np.ndarray:
    """:func:`integer_reference_batch` of one input vector: int64 ``(rows,)``."""
    return integer_reference_batch(prep, np.asarray(x_q)[None, :], cfg)[0]


def float_reference(prep: PreparedLayer, x: np.ndarray, x_q: np.ndarray, cfg: ArchConfig
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``(W_float @ x + b, per-row error bound)`` of one input vector
    (:func:`float_reference_batch` with one row)."""
    fr = float_reference_batch(prep, np.asarray(x)[None, :], np.asarray(x_q)[None, :], cfg)
    return fr.y[0], fr.bound[0]


def check_outputs(prep: PreparedLayer, X: np.ndarray, X_q: np.ndarray, acc: np.ndarray,
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

    ref = integer_reference_batch(prep, X_q, cfg)
    bad = np.argwhere(ref != acc)
    if bad.size:
        i, r = (int(v) for v in bad[0])
        raise SimulationMismatch(
            f"{what}: {len(bad)} of {acc.size} accumulators differ from the integer reference (numpy on "
            f"codebook_q and x_q, {prep.reference_from}); first at {where(i, r)}: engine "
            f"{int(acc[i, r])}, reference {int(ref[i, r])}")
    fr = float_reference_batch(prep, X, X_q, cfg)
    y = np.maximum(fr.y, 0.0) if relu else fr.y
    lo, hi = word_limits(cfg.word_bits)
    y = np.clip(y, lo / (1 << cfg.act_frac_bits), hi / (1 << cfg.act_frac_bits))
    err = np.abs(to_float(out_q, cfg.act_frac_bits) - y)
    over = np.argwhere(err > fr.bound)
    if over.size:
        i, r = (int(v) for v in over[0])
        raise SimulationMismatch(
            f"{what}: {len(over)} outputs differ from W_float @ x + b beyond the fixed-point "
            f"error bound; first at {where(i, r)}: error {err[i, r]:.6g} > bound "
            f"{fr.bound[i, r]:.6g}")
    return fr, err


def error_summary(err: np.ndarray, bound: np.ndarray) -> tuple[float, float, float]:
    """``(max error, the bound at that output, min slack = min(bound - error))``."""
    if not err.size:
        return 0.0, 0.0, 0.0
    i = int(np.argmax(err))
    return float(err.flat[i]), float(bound.flat[i]), float(np.min(bound - err))


# ------------------------------------------------------------------ result
@dataclass
class LayerResult:
    """Everything measured for one layer (arrays per PE are summed over passes).

    Layer level (docs/timing.md "Output passes"): ``cycles`` = pass cycles + batch store
    cycles + pass reload cycles, and ``starved`` counts those overhead cycles as starved
    on every PE, so ``busy + padding + empty + starved == cycles`` for each PE.
    """

    name: str
    rows: int
    cols: int
    pes: int
    clock_mhz: float
    passes: int
    cycles: int
    pass_cycles: list[int]
    busy: np.ndarray
    padding: np.ndarray
    empty: np.ndarray
    starved: np.ndarray
    pointer_reads_pe: np.ndarray
    spmat_line_reads_pe: np.ndarray
    bypass_hits_pe: np.ndarray
    broadcasts: int
    queue_full_stalls: int
    batch_load_cycles: int            #: inside passes + pass reloads (pass_reload_cycles)
    batch_store_cycles: int
    pass_reload_cycles: int           #: batch 0 reloaded for each pass after the first
    max_queue_occupancy: int
    ccu_min_cycles: int               #: cycles the CCU needs without any stall (lower bound)
    critical_pe_cycles: int           #: sum over passes of the busiest PE's work cycles
    nnz: int
    input_nonzeros: int
    input_saturations: int
    output_saturations: int
    max_error: float
    max_error_bound: float            #: the bound of the output with the largest error
    min_error_slack: float            #: min over outputs of (bound - error) >= 0
    output_q: np.ndarray
    output: np.ndarray
    energy: dict[str, Any]
    engine: str
    verified: bool
    synthetic: bool
    seeds: dict[str, Any]
    config: dict[str, Any]
    source: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    # ---- derived ----------------------------------------------------------------
    @property
    def cycle_ns(self) -> float:
        return 1e3 / self.clock_mhz

    @property
    def time_us(self) -> float:
        return self.cycles * self.cycle_ns / 1e3

    @property
    def useful_macs(self) -> int:
        """Real (non-padding) entries processed, bias-column entries included."""
        return int(self.busy.sum())

    @property
    def padding_macs(self) -> int:
        return int(self.padding.sum())

    @property
    def theoretical_cycles(self) -> float:
        """Useful MACs / N (paper sec. VI: workload / peak throughput)."""
        return self.useful_macs / self.pes

    @property
    def theoretical_cycles_padded(self) -> float:
        return (self.useful_macs + self.padding_macs) / self.pes

    @property
    def theoretical_time_us(self) -> float:
        return self.theoretical_cycles * self.cycle_ns / 1e3

    @property
    def theoretical_time_padded_us(self) -> float:
        return self.theoretical_cycles_padded * self.cycle_ns / 1e3

    @property
    def actual_over_theoretical(self) -> float:
        return self.cycles / self.theoretical_cycles if self.theoretical_cycles else math.inf

    @property
    def actual_over_theoretical_padded(self) -> float:
        t = self.theoretical_cycles_padded
        return self.cycles / t if t else math.inf

    @property
    def load_efficiency(self) -> float:
        """1 - starved / (N T) (Fig. 8, 13) at layer level: batch store and pass reload
        cycles are starved cycles of every PE (docs/timing.md)."""
        return load_efficiency(self.starved.sum(), self.pes, self.cycles)

    @property
    def pes_with_rows(self) -> int:
        """PEs that hold at least one row (``min(N, rows)``). With fewer rows than PEs the
        others only ever see empty columns, which count as not starved, so load efficiency
        stays high although only this many PEs do real work (docs/timing.md
        "Per-PE cycle accounting")."""
        return min(self.pes, self.rows)

    @property
    def authors_efficiency(self) -> float:
        """busy / (N T): the released simulator's efficiency counter."""
        return float(self.busy.sum()) / (self.pes * self.cycles)

    @property
    def real_over_total_work(self) -> float:
        """busy / (busy + padding) (Fig. 12)."""
        tot = self.useful_macs + self.padding_macs
        return self.useful_macs / tot if tot else 1.0

    @property
    def padding_share(self) -> float:
        return 1.0 - self.real_over_total_work

    @property
    def empty_cycles(self) -> int:
        return int(self.empty.sum())

    @property
    def pointer_reads(self) -> int:
        return int(self.pointer_reads_pe.sum())

    @property
    def spmat_line_reads(self) -> int:
        return int(self.spmat_line_reads_pe.sum())

    @property
    def bypass_hits(self) -> int:
        return int(self.bypass_hits_pe.sum())

    @property
    def energy_uj(self) -> float:
        return float(self.energy["energy_uj"])

    @property
    def avg_power_w(self) -> float:
        return float(self.energy["avg_power_w"])

    def summary(self) -> dict[str, Any]:
        """Scalar results (the report's per-layer row)."""
        from eie_sim.output.report import layer_row
        return layer_row(self)


# ------------------------------------------------------------------ helpers
def ccu_min_cycles(x_q: np.ndarray, cols: int, cfg: ArchConfig, has_bias: bool) -> int:
    """Cycles the CCU needs for one pass if no queue were ever full (docs/timing.md, rule B).

    A detector row with ``m`` non-zeros costs ``m`` cycles when its last bank is non-zero,
    else ``m + 1``; every input batch after the first costs ``batch_load_cycles``; the
    bias broadcast one cycle. (A layer adds its pass reloads, ``layer_overhead_cycles``.)
    """
    n = cfg.pes
    n_rows = -(-cols // n)
    nz = np.asarray(x_q[:cols]) != 0
    padded = np.zeros(n_rows * n, dtype=bool)
    padded[:cols] = nz
    grid = padded.reshape(n_rows, n)
    m = grid.sum(axis=1)
    last_bank = np.full(n_rows, n - 1)
    last_bank[-1] = (cols - 1) % n
    last_nz = grid[np.arange(n_rows), last_bank]
    cycles = int(m.sum() + np.count_nonzero(~last_nz))
    cycles += (input_batches(cols, cfg) - 1) * cfg.batch_load_cycles
    return cycles + int(has_bias)


def _check_stats(st: PassStats, pass_rows: int, cfg: ArchConfig, what: str) -> None:
    for name in PE_COUNTERS:
        arr = np.asarray(getattr(st, name))
        if arr.shape != (cfg.pes,):
            raise SimulationMismatch(f"{what}: counter {name} has shape {arr.shape}, expected ({cfg.pes},)")
    if np.asarray(st.acc).shape != (pass_rows,):
        raise SimulationMismatch(f"{what}: {np.asarray(st.acc).shape} accumulators for {pass_rows} rows")
    try:
        st.check_accounting()
    except AssertionError as exc:
        raise SimulationMismatch(f"{what}: {exc}") from None


def _run_passes(prep: PreparedLayer, x_q: np.ndarray, cfg: ArchConfig, engine: str | Engine,
                verify: bool | str | Engine) -> tuple[str, list[PassStats], bool]:
    name, run_pass = get_engine(engine)
    other = None
    if verify:
        if verify is True:
            if callable(engine):
                raise EngineUnavailable("verify=True with a custom engine: pass the engine to compare against")
            other = get_engine("simpy" if name == "fast" else "fast")
        else:
            other = get_engine(verify)
    stats = []
    lay = prep.layout
    for i, p in enumerate(lay.passes):
        st = run_pass(p, lay, x_q, cfg)
        _check_stats(st, p.rows, cfg, f"layer {lay.name!r} pass {i} ({name} engine)")
        if other is not None:
            st2 = other[1](p, lay, x_q, cfg)
            diffs = st.differences(st2)
            if diffs:
                raise EngineMismatch(f"layer {lay.name!r} pass {i}: engines {name} and {other[0]} "
                                     f"disagree: " + "; ".join(diffs))
        stats.append(st)
    return name, stats, other is not None


# ------------------------------------------------------------------ layer
def simulate_layer(layer: LayerWorkload | LayerLayout | PreparedLayer, x: np.ndarray | None,
                   cfg: ArchConfig, engine: str | Engine = "fast",
                   verify: bool | str | Engine = False, relu: bool = True, *,
                   x_q: np.ndarray | None = None, check: bool = True, check_fit: bool = True,
                   energy_table: energy_mod.EnergyTable | None = None,
                   seeds: dict | None = None) -> LayerResult:
    """Simulate one layer ``y = ReLU(W x + b)`` and check it against numpy.

    ``x``: float input (``None``: the workload's own ``x``); ``x_q``: an already
    fixed-point input (then ``x`` defaults to its float value). ``engine``: ``'fast'``,
    ``'simpy'`` or a ``run_pass`` callable; ``verify``: True (the other named engine) or
    an engine to compare every pass with. Raises :class:`SimulationMismatch`,
    :class:`EngineMismatch`, :class:`~eie_sim.layout.LayoutError`, ...
    """
    t0 = time.perf_counter()
    prep = prepare(layer, cfg, check_fit=check_fit)
    lay = prep.layout
    wl = prep.workload
    in_sat = 0
    if x_q is None:
        if x is None:
            x = wl.x if wl is not None else None
        if x is None:
            raise WorkloadError(f"layer {lay.name!r}: no input vector given")
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if x.shape != (lay.cols,):
            raise WorkloadError(f"layer {lay.name!r}: input has {x.size} values for {lay.cols} columns")
        if not np.all(np.isfinite(x)):
            raise WorkloadError(f"layer {lay.name!r}: input contains NaN or infinity")
        x_q, in_sat = quantize(x, cfg.act_frac_bits, cfg.word_bits)
    else:
        x_q = np.asarray(x_q, dtype=np.int64).reshape(-1)
        if x_q.shape != (lay.cols,):
            raise WorkloadError(f"layer {lay.name!r}: input has {x_q.size} values for {lay.cols} columns")
        if x is None:
            x = to_float(x_q, cfg.act_frac_bits)
    name, stats, verified = _run_passes(prep, x_q, cfg, engine, verify)

    acc = np.concatenate([np.asarray(s.acc, dtype=np.int64) for s in stats])
    out_q, out_sat = saturate(acc, cfg.word_bits)
    if relu:
        out_q = np.maximum(out_q, 0)
    max_err = max_bound = min_slack = 0.0
    if check:
        fr, err = check_outputs(prep, x[None, :], x_q[None, :], acc[None, :], out_q[None, :],
                                cfg, relu, f"layer {lay.name!r} ({name} engine)")
        err, bound = err[0], fr.bound[0]
        max_err, max_bound, min_slack = error_summary(err, bound)

    def tot(field_name):
        return np.sum([np.asarray(getattr(s, field_name), dtype=np.int64) for s in stats], axis=0)

    n_pass = len(stats)
    store, reload = layer_overhead_cycles(n_pass, lay.cols, cfg)
    cycles, starved = layer_cycle_classes(int(sum(s.cycles for s in stats)), tot("starved"),
                                          store + reload)
    busy, padding, empty = tot("busy"), tot("padding"), tot("empty")
    critical = int(sum(int(np.max(s.busy + s.padding + s.empty)) for s in stats))
    ccu = n_pass * ccu_min_cycles(x_q, lay.cols, cfg, lay.has_bias) + reload
    loads = int(sum(s.batch_load_cycles for s in stats)) + reload
    counts = energy_mod.ActionCounts(
        cycles=cycles, queue_entries=int(sum(s.broadcasts for s in stats)) * cfg.pes,
        pointer_reads=int(tot("pointer_reads").sum()),
        spmat_line_reads=int(tot("spmat_line_reads").sum()),
        issued_entries=int(busy.sum() + padding.sum()), accumulator_writes=int(busy.sum()),
        act_sram_cycles=(loads + store) * cfg.pes)
    energy = energy_mod.estimate(counts, cfg, energy_table)
    seeds = dict(seeds or {})
    if wl is not None and "seed" in wl.source:
        seeds.setdefault("workload_seed", wl.source["seed"])
    return LayerResult(
        name=lay.name, rows=lay.rows, cols=lay.cols, pes=cfg.pes, clock_mhz=cfg.clock_mhz,
        passes=n_pass, cycles=cycles, pass_cycles=[int(s.cycles) for s in stats],
        busy=busy, padding=padding, empty=empty, starved=starved,
        pointer_reads_pe=tot("pointer_reads"), spmat_line_reads_pe=tot("spmat_line_reads"),
        bypass_hits_pe=tot("bypass_hits"), broadcasts=int(sum(s.broadcasts for s in stats)),
        queue_full_stalls=int(sum(s.queue_full_stalls for s in stats)),
        batch_load_cycles=loads, batch_store_cycles=store, pass_reload_cycles=reload,
        max_queue_occupancy=int(max(s.max_queue_occupancy for s in stats)),
        ccu_min_cycles=ccu, critical_pe_cycles=critical, nnz=int(prep.r.size),
        input_nonzeros=int(np.count_nonzero(x_q)), input_saturations=int(in_sat),
        output_saturations=int(out_sat), max_error=max_err, max_error_bound=max_bound,
        min_error_slack=min_slack,
        output_q=out_q, output=to_float(out_q, cfg.act_frac_bits), energy=energy, engine=name,
        verified=verified, synthetic=bool(lay.meta.get("synthetic", False)), seeds=seeds,
        config=cfg.as_dict(), source=dict(lay.meta.get("source", {})),
        wall_s=time.perf_counter() - t0)


# ------------------------------------------------------------------ network
@dataclass
class NetworkResult:
    layers: list[LayerResult]
    output_q: np.ndarray
    output: np.ndarray

    @property
    def cycles(self) -> int:
        return sum(l.cycles for l in self.layers)

    @property
    def time_us(self) -> float:
        return sum(l.time_us for l in self.layers)

    @property
    def energy_uj(self) -> float:
        return sum(l.energy_uj for l in self.layers)

    def totals(self) -> dict[str, Any]:
        L = self.layers
        n = L[0].pes if L else 1
        busy = sum(l.useful_macs for l in L)
        pad = sum(l.padding_macs for l in L)
        starved = sum(int(l.starved.sum()) for l in L)   # layer level: overheads included
        cyc = self.cycles
        theo = busy / n
        return {"layers": len(L), "cycles": cyc, "time_us": self.time_us,
                "theoretical_time_us": sum(l.theoretical_time_us for l in L),
                "theoretical_time_padded_us": sum(l.theoretical_time_padded_us for l in L),
                "actual_over_theoretical": cyc / theo if theo else math.inf,
                "load_efficiency": load_efficiency(starved, n, cyc),
                "real_over_total_work": busy / (busy + pad) if busy + pad else 1.0,
                "useful_macs": busy, "padding_macs": pad,
                "batch_load_cycles": sum(l.batch_load_cycles for l in L),
                "batch_store_cycles": sum(l.batch_store_cycles for l in L),
                "pass_reload_cycles": sum(l.pass_reload_cycles for l in L),
                "energy_uj": self.energy_uj,
                "avg_power_w": (self.energy_uj * 1e-6) / (self.time_us * 1e-6) if cyc else 0.0,
                "max_error": max((l.max_error for l in L), default=0.0),
                "min_error_slack": min((l.min_error_slack for l in L), default=0.0)}


def _as_layers(model) -> list:
    if isinstance(model, Workload):
        return list(model.layers)
    try:
        from compressor.model import QuantizedModel
    except ImportError:  # pragma: no cover
        QuantizedModel = ()
    if QuantizedModel and isinstance(model, QuantizedModel):
        return [LayerWorkload(name=q.name, codes=q.codes, codebook=q.codebook, bias=q.bias,
                              bits=q.bits, source={"kind": "model"})
                for q in model.layers if q.kind == "fc"]
    return list(model)


def simulate_network(model, x: np.ndarray, cfg: ArchConfig, engine: str | Engine = "fast",
                     verify: bool | str | Engine = False, *, check: bool = True,
                     check_fit: bool = True, energy_table=None, seeds: dict | None = None,
                     prepared: list[PreparedLayer] | None = None) -> NetworkResult:
    """Run layers in sequence: each layer's (saturated, ReLU'd) destination registers are
    the next layer's source registers; no ReLU after the last layer.

    ``model``: a :class:`Workload`, a ``QuantizedModel`` (its fc layers) or a list of
    layers/layouts. ``prepared``: layouts built before (reused across inputs).
    """
    layers = prepared if prepared is not None else [prepare(l, cfg, check_fit) for l in _as_layers(model)]
    if not layers:
        raise WorkloadError("no layers to simulate")
    for a, b in zip(layers, layers[1:]):
        if a.layout.rows != b.layout.cols:
            raise WorkloadError(f"layer {b.layout.name!r} has {b.layout.cols} inputs but "
                                f"{a.layout.name!r} gives {a.layout.rows} outputs")
    results = []
    x_q = None
    for i, prep in enumerate(layers):
        last = i == len(layers) - 1
        res = simulate_layer(prep, x if i == 0 else None, cfg, engine, verify, relu=not last,
                             x_q=x_q, check=check, energy_table=energy_table, seeds=seeds)
        results.append(res)
        x_q = res.output_q
    return NetworkResult(results, results[-1].output_q, results[-1].output)


def prepare_network(model, cfg: ArchConfig, check_fit: bool = True) -> list[PreparedLayer]:
    return [prepare(l, cfg, check_fit) for l in _as_layers(model)]


# ------------------------------------------------------------------ LeNet end to end
def lenet_accuracy(model_path, n_images: int, cfg: ArchConfig, engine: str | Engine = "fast",
                   mnist_dir=None, split_seed: int = 0, verify: bool = False,
                   progress: Callable[[str], None] | None = None, *, check_fit: bool = True,
                   energy_table: energy_mod.EnergyTable | None = None) -> dict[str, Any]:
    """Run ``n_images`` MNIST test images through a compressed LeNet-300-100 on the simulator.

    Returns the simulated accuracy (argmax of the simulated fixed-point logits), the numpy
    float accuracy of the same quantized weights on the same images, their agreement, and
    cycles/time/energy per image. Images come from :func:`compressor.data.load_mnist`.
    """
    from compressor.data import load_mnist

    from eie_sim.workloads.base import from_model

    wl = from_model(model_path, cfg)
    if not wl.network or wl.layers[0].cols != 784:
        raise WorkloadError(f"{model_path}: expected a chain of fully-connected layers taking "
                            f"784 inputs (LeNet-300-100), got "
                            f"{[(l.name, l.rows, l.cols) for l in wl.layers]}")
    data = load_mnist(mnist_dir, seed=split_seed)
    n = min(int(n_images), len(data.y_test))
    if n < 1:
        raise WorkloadError("need at least one image")
    xs, ys = data.x_test[:n].astype(np.float64), data.y_test[:n]
    prepared = prepare_network(wl, cfg, check_fit)
    # numpy float forward pass of the same (quantized) weights
    h = xs
    for i, lay in enumerate(wl.layers):
        w = lay.codebook.astype(np.float64)[lay.codes]
        h = h @ w.T + (0.0 if lay.bias is None else lay.bias.astype(np.float64))
        if i < len(wl.layers) - 1:
            h = np.maximum(h, 0.0)
    float_pred = h.argmax(axis=1)
    sim_pred = np.zeros(n, dtype=np.int64)
    cycles, energy = [], []
    t0 = time.perf_counter()
    for k in range(n):
        res = simulate_network(wl, xs[k], cfg, engine, verify, prepared=prepared,
                               energy_table=energy_table)
        sim_pred[k] = int(np.argmax(res.output_q))
        cycles.append(res.cycles)
        energy.append(res.energy_uj)
        if progress and (k + 1) % max(1, n // 10) == 0:
            progress(f"{k + 1}/{n} images")
    return {"model": str(model_path), "images": n, "data_source": data.source,
            "simulated_accuracy": float(np.mean(sim_pred == ys)),
            "numpy_float_accuracy": float(np.mean(float_pred == ys)),
            "agreement": float(np.mean(sim_pred == float_pred)),
            "cycles_per_image_mean": float(np.mean(cycles)),
            "time_us_per_image_mean": float(np.mean(cycles)) / cfg.clock_mhz,
            "energy_uj_per_image_mean": float(np.mean(energy)),
            "engine": get_engine(engine)[0], "wall_s": time.perf_counter() - t0,
            "config": cfg.as_dict(),
            "layers": [l.describe() for l in wl.layers]}


def run_workload(wl: Workload, cfg: ArchConfig, engine: str | Engine = "fast",
                 verify: bool | str | Engine = False, relu: bool = True, *,
                 check_fit: bool = True, energy_table=None, seed: int | None = None
                 ) -> tuple[list[LayerResult], dict[str, Any]]:
    """Run a workload: a network in sequence, or each layer on its own input.

    Returns the layer results and the totals (:meth:`NetworkResult.totals`).
    """
    seeds = {"run_seed": seed} if seed is not None else {}
    if wl.network:
        net = simulate_network(wl, wl.x, cfg, engine, verify, check_fit=check_fit,
                               energy_table=energy_table, seeds=seeds)
        return net.layers, net.totals()
    results = [simulate_layer(lay, None, cfg, engine, verify, relu, check_fit=check_fit,
                              energy_table=energy_table, seeds=seeds) for lay in wl.layers]
    net = NetworkResult(results, results[-1].output_q, results[-1].output)
    return results, net.totals()
