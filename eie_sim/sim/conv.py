"""Convolution layers on EIE: every output position is one M x V of the unrolled layer.

A convolution with ``out`` filters of ``in x kh x kw`` is the ``(out, in*kh*kw)`` matrix
``W`` applied to each output position's unrolled input patch (im2col,
:func:`compressor.caffe_forward.layer_workloads`); a 1 x 1 convolution is a plain M x V
over the channels. EIE has no convolution support of its own, so here each position is
one independent run of docs/timing.md on the same layout:

* the layout is built **once** per layer (:func:`eie_sim.runner.prepare`, with the fit
  check), then :func:`run_pass_batch` runs many activation vectors through the fast
  engine's kernel (``engine_fast._simulate``, the code behind ``run_pass``) inside one
  numba call (positions in parallel, ``prange``); per position it returns exactly what
  ``run_pass`` returns (the tests compare them position by position);
* every output of every simulated position is checked against numpy, vectorized over
  positions, with the runner's own references (:func:`eie_sim.runner.integer_reference_batch`:
  bit-exact, ``bias_q`` + individually rounded products;
  :func:`eie_sim.runner.float_reference_batch`: within the per-row fixed-point error bound
  against ``W_float @ x + b``);
* per position a layer costs ``sum of pass cycles`` + the layer-level overheads of
  :func:`eie_sim.stats.layer_overhead_cycles` (batch stores, pass reloads), exactly as
  :func:`~eie_sim.runner.simulate_layer` counts it: loading the patch into the source
  registers is the CCU's I/O mode before a run and, as for every layer here, not counted;
  im2col itself is not modelled.

:func:`run_squeezenet` runs the 26 convolution layers of the authors' compressed
SqueezeNet (``../shared/data/squeezenet``), each on the patches of the numpy forward pass
(``compressor.caffe_forward``, seeded synthetic input, ReLU included) and compares the
reassembled output map with the forward pass's own convolution output.
``positions="all"`` simulates every output position; an integer ``N`` a seeded sample of
``N`` positions per layer, whose layer totals are **extrapolated** (mean x positions) and
labelled so: every extensive value of a layer row (cycles, time, energy, MACs, reads,
stalls, batch cycles, saturations) is then the sampled sum x positions / sampled; the
intensive ones (per-position cycles, efficiencies, densities, errors) are over the sample.
"""
from __future__ import annotations

import math
import pathlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numba
import numpy as np

from eie_sim.arch import energy as energy_mod
from eie_sim.arch.config import ArchConfig
from eie_sim.hw.engine_fast import N_SCALARS, _simulate, kernel_arguments
from eie_sim.arch.fixed_point import quantize, saturate, to_float, word_limits
from eie_sim.hw.layout import LayerLayout, PassLayout
from eie_sim.sim.layer import PreparedLayer, SimulationMismatch, check_outputs, prepare
from eie_sim.hw.counters import (AccountingError, PassStats, check_cycle_classes, layer_cycle_classes,
                    layer_overhead_cycles, load_efficiency)
from eie_sim.workloads.base import LayerWorkload, WorkloadError

#: where the authors' SqueezeNet files are looked for by default (never copied here)
DEFAULT_SQUEEZENET_DIR = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "squeezenet"
PROTOTXT_NAME = "SqueezeNet_deploy.prototxt"
NET_NAME = "compressed_SqueezeNet.net"


# ------------------------------------------------------------------ batched engine
@numba.njit(cache=True, nogil=True, parallel=True)
def _simulate_many(ptr, entry_start, code, local_row, X_q, codebook_q, bias_q_pass, has_bias,
                   n_pe, cols, pass_rows, queue_depth, regs, batch_load, entries_per_line,
                   latency, weight_frac_bits):
    """``engine_fast._simulate`` for every row of ``X_q`` (one independent run each)."""
    P = X_q.shape[0]
    scalars = np.zeros((P, N_SCALARS), dtype=np.int64)
    counters = np.zeros((P, 7, n_pe), dtype=np.int64)
    acc = np.zeros((P, pass_rows), dtype=np.int64)
    for i in numba.prange(P):
        s, c, a = _simulate(ptr, entry_start, code, local_row, X_q[i], codebook_q, bias_q_pass,
                            has_bias, n_pe, cols, pass_rows, queue_depth, regs, batch_load,
                            entries_per_line, latency, weight_frac_bits)
        scalars[i, :] = s
        counters[i, :, :] = c
        acc[i, :] = a
    return scalars, counters, acc


@dataclass
class BatchPassStats:
    """One output pass run on ``P`` activation vectors: what ``run_pass`` gives, per row.

    ``counters[i, n, k]``: counter ``PE_COUNTERS[n]`` of PE ``k`` for vector ``i``.
    """

    cycles: np.ndarray               #: int64 (P,)
    counters: np.ndarray             #: int64 (P, 7, n_pe), PE_COUNTERS order
    broadcasts: np.ndarray           #: int64 (P,)
    queue_full_stalls: np.ndarray    #: int64 (P,)
    batch_load_cycles: np.ndarray    #: int64 (P,)
    max_queue_occupancy: np.ndarray  #: int64 (P,)
    acc: np.ndarray                  #: int64 (P, pass rows)

    def stats(self, i: int) -> PassStats:
        """Vector ``i`` as the :class:`PassStats` ``run_pass`` would return."""
        c = self.counters[i]
        return PassStats(cycles=int(self.cycles[i]), busy=c[0], padding=c[1], empty=c[2],
                         starved=c[3], pointer_reads=c[4], spmat_line_reads=c[5],
                         bypass_hits=c[6], broadcasts=int(self.broadcasts[i]),
                         queue_full_stalls=int(self.queue_full_stalls[i]),
                         batch_load_cycles=int(self.batch_load_cycles[i]),
                         max_queue_occupancy=int(self.max_queue_occupancy[i]), acc=self.acc[i])


def run_pass_batch(pass_layout: PassLayout, layer_layout: LayerLayout, X_q: np.ndarray,
                   cfg: ArchConfig) -> BatchPassStats:
    """Simulate one output pass for every row of ``X_q`` (int64 ``(P, cols)`` fixed point)."""
    pl = pass_layout
    X_q = np.asarray(X_q)
    if X_q.ndim != 2 or X_q.shape[1] != pl.cols:
        raise ValueError(f"X_q must be (positions, {pl.cols}), got shape {X_q.shape}")
    if X_q.size and not np.issubdtype(X_q.dtype, np.integer):
        raise ValueError(f"X_q must hold integer fixed-point activations, got {X_q.dtype}")
    before, after = kernel_arguments(pl, layer_layout, cfg)
    scalars, counters, acc = _simulate_many(*before, np.ascontiguousarray(X_q, dtype=np.int64), *after)
    return BatchPassStats(cycles=scalars[:, 0].copy(), counters=counters,
                          broadcasts=scalars[:, 1].copy(), queue_full_stalls=scalars[:, 2].copy(),
                          batch_load_cycles=scalars[:, 3].copy(),
                          max_queue_occupancy=scalars[:, 4].copy(), acc=acc)


# ------------------------------------------------------------------ one conv layer
@dataclass
class ConvLayerResult:
    """One layer run as M x V per output position (arrays per simulated position)."""

    name: str
    rows: int                         #: output channels (M x V rows)
    cols: int                         #: in * kh * kw (M x V columns)
    pes: int
    clock_mhz: float
    positions_total: int              #: output positions of the layer
    positions: np.ndarray             #: int64 indices of the simulated positions
    passes: int
    cycles_pos: np.ndarray            #: int64 layer cycles of each simulated position
    input_nonzeros_pos: np.ndarray    #: int64 non-zero fixed-point activations per position
    pe_totals: np.ndarray             #: int64 (7, N): PE_COUNTERS summed over positions;
                                      #: starved at layer level (overhead cycles included)
    broadcasts: int
    queue_full_stalls: int
    batch_load_cycles: int            #: inside passes + pass reloads, simulated positions
    batch_store_cycles: int           #: simulated positions
    pass_reload_cycles: int           #: simulated positions
    max_queue_occupancy: int
    critical_pe_cycles: int           #: sum over positions and passes of the busiest PE's work
    nnz: int
    weight_density: float
    float_act_density: float          #: non-zero fraction of the float patches (simulated positions)
    input_saturations: int            #: patch elements that saturated when quantized
    output_saturations: int
    max_error: float
    max_error_bound: float            #: the bound of the output with the largest error
    min_error_slack: float            #: min over outputs of (bound - error)
    output_q: np.ndarray              #: int64 (simulated positions, rows) after ReLU
    energy: dict[str, Any]            #: energy model of the simulated positions
    config: dict[str, Any]
    seeds: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    # ---- per position / extrapolation ------------------------------------------------
    @property
    def simulated(self) -> int:
        return int(self.positions.size)

    @property
    def extrapolated(self) -> bool:
        """True when only a sample of the positions ran (layer totals = mean x positions)."""
        return self.simulated < self.positions_total

    @property
    def scale(self) -> float:
        return self.positions_total / self.simulated if self.simulated else 0.0

    def extensive(self, value):
        """A sum over the simulated positions as a layer total for one image: itself when
        every position ran, else extrapolated (``value x positions / simulated``, float)."""
        return value * self.scale if self.extrapolated else value

    @property
    def cycles_simulated(self) -> int:
        return int(self.cycles_pos.sum())

    @property
    def cycles_per_position(self) -> float:
        return float(self.cycles_pos.mean()) if self.simulated else 0.0

    @property
    def cycles(self) -> float | int:
        """Layer cycles for one image: the exact sum (int), or mean x positions when sampled."""
        if not self.extrapolated:
            return self.cycles_simulated
        return self.cycles_per_position * self.positions_total

    @property
    def time_us(self) -> float:
        return self.cycles / self.clock_mhz

    @property
    def energy_uj(self) -> float:
        return self.extensive(float(self.energy["energy_uj"]))

    @property
    def avg_power_w(self) -> float:
        return float(self.energy["avg_power_w"])

    @property
    def act_density(self) -> float:
        """Mean over simulated patches of the fixed-point non-zero fraction (what the CCU sees)."""
        return float(self.input_nonzeros_pos.mean()) / self.cols if self.simulated else 0.0

    @property
    def useful_macs(self) -> int:
        return int(self.pe_totals[0].sum())

    @property
    def padding_macs(self) -> int:
        return int(self.pe_totals[1].sum())

    @property
    def load_efficiency(self) -> float:
        """1 - starved / (N T) over all simulated positions, layer level (docs/timing.md)."""
        return load_efficiency(self.pe_totals[3].sum(), self.pes, self.cycles_simulated)

    @property
    def pes_with_rows(self) -> int:
        return min(self.pes, self.rows)


    @property
    def authors_efficiency(self) -> float:
        return float(self.pe_totals[0].sum()) / (self.pes * self.cycles_simulated)

    @property
    def real_over_total_work(self) -> float:
        tot = self.useful_macs + self.padding_macs
        return self.useful_macs / tot if tot else 1.0

    @property
    def theoretical_cycles_per_position(self) -> float:
        """Useful MACs (bias entries included) / N, per simulated position."""
        return self.useful_macs / self.pes / self.simulated if self.simulated else 0.0

    @property
    def actual_over_theoretical(self) -> float:
        t = self.theoretical_cycles_per_position
        return self.cycles_per_position / t if t else math.inf

    def output_map(self, out_hw: tuple[int, int]) -> np.ndarray:
        """Float outputs of all positions as ``(1, rows, oh, ow)`` (needs every position)."""
        if self.extrapolated:
            raise ValueError(f"layer {self.name!r}: only {self.simulated} of "
                             f"{self.positions_total} positions were simulated")
        oh, ow = out_hw
        y = to_float(self.output_q, self.config["act_frac_bits"])
        return y.reshape(1, oh, ow, self.rows).transpose(0, 3, 1, 2)

    def row(self) -> dict[str, Any]:
        """The per-layer scalar row (CSV / JSON / Markdown)."""
        return {
            "layer": self.name, "rows": self.rows, "cols": self.cols,
            "kernel": self.meta.get("kernel", ""), "out_map": self.meta.get("out_map", ""),
            "positions": self.positions_total, "positions_simulated": self.simulated,
            "extrapolated": self.extrapolated, "nnz": self.nnz,
            "weight_density": self.weight_density, "act_density": self.act_density,
            "float_act_density": self.float_act_density,
            "cycles_per_position": self.cycles_per_position,
            "cycles_per_position_min": int(self.cycles_pos.min()) if self.simulated else 0,
            "cycles_per_position_max": int(self.cycles_pos.max()) if self.simulated else 0,
            "theoretical_cycles_per_position": self.theoretical_cycles_per_position,
            "actual_over_theoretical": self.actual_over_theoretical,
            "cycles": self.cycles, "time_us": self.time_us,
            "load_efficiency": self.load_efficiency, "authors_efficiency": self.authors_efficiency,
            "pes_with_rows": self.pes_with_rows,
            "real_over_total_work": self.real_over_total_work,
            "useful_macs": self.extensive(self.useful_macs),
            "padding_macs": self.extensive(self.padding_macs),
            "pointer_reads": self.extensive(int(self.pe_totals[4].sum())),
            "spmat_line_reads": self.extensive(int(self.pe_totals[5].sum())),
            "bypass_hits": self.extensive(int(self.pe_totals[6].sum())),
            "queue_full_stalls": self.extensive(self.queue_full_stalls), "passes": self.passes,
            "batch_load_cycles": self.extensive(self.batch_load_cycles),
            "batch_store_cycles": self.extensive(self.batch_store_cycles),
            "pass_reload_cycles": self.extensive(self.pass_reload_cycles),
            "max_queue_occupancy": self.max_queue_occupancy,
            "input_saturations": self.extensive(self.input_saturations),
            "output_saturations": self.extensive(self.output_saturations),
            "max_error": self.max_error, "max_error_bound": self.max_error_bound,
            "min_error_slack": self.min_error_slack, "map_check": self.meta.get("map_check", ""),
            "energy_uj": self.energy_uj, "avg_power_w": self.avg_power_w,
            "wall_s": self.wall_s,
        }


def to_eie_workload(name: str, qlayer, source: dict | None = None) -> LayerWorkload:
    """An ``eie_sim`` layer from a 2-D (kind "fc") ``compressor.model.QuantizedLayer``."""
    codes = np.asarray(qlayer.codes)
    if codes.ndim != 2:
        codes = codes.reshape(codes.shape[0], -1)
    return LayerWorkload(name=name, codes=codes, codebook=np.asarray(qlayer.codebook, np.float32),
                         bias=None if qlayer.bias is None else np.asarray(qlayer.bias, np.float32),
                         bits=int(qlayer.bits), source=dict(source or {}))


def simulate_conv_layer(layer: LayerWorkload | PreparedLayer, patches: np.ndarray,
                        cfg: ArchConfig, positions: np.ndarray | None = None, *,
                        relu: bool = True, check: bool = True, check_fit: bool = True,
                        energy_table: energy_mod.EnergyTable | None = None,
                        chunk: int = 2048, seeds: dict | None = None,
                        compare_to: np.ndarray | None = None,
                        keep_batches: bool = False) -> ConvLayerResult:
    """Run ``layer`` on the rows ``positions`` (default all) of the float ``patches``.

    The layout is built once (``prepare``; a layer that does not fit raises
    :class:`~eie_sim.layout.LayoutError` unless ``check_fit=False``); positions run in
    chunks of ``chunk``; every output is checked (``check``) and a mismatch raises
    :class:`~eie_sim.runner.SimulationMismatch`. ``compare_to``: float ``(positions,
    rows)`` outputs (before ReLU) of another float32 computation of the same layer, e.g.
    the forward pass's convolution; every simulated output must equal it within the
    fixed-point bound plus float32 rounding (``(cols + 2) 2**-24 (sum |w x| + |b|)``);
    the largest deviation is ``meta['map_check']``. ``keep_batches``: keep the raw
    :class:`BatchPassStats` of every chunk and pass in ``result.meta['batches']`` (tests).
    """
    t0 = time.perf_counter()
    prep = prepare(layer, cfg, check_fit=check_fit)
    lay = prep.layout
    patches = np.asarray(patches)
    if patches.ndim != 2 or patches.shape[1] != lay.cols:
        raise WorkloadError(f"layer {lay.name!r}: patches of shape {patches.shape} for "
                            f"{lay.cols} columns")
    n_total = patches.shape[0]
    idx = np.arange(n_total, dtype=np.int64) if positions is None else np.asarray(positions, np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= n_total):
        raise WorkloadError(f"layer {lay.name!r}: positions outside 0..{n_total - 1}")
    n = cfg.pes
    n_pass = len(lay.passes)
    store, reload = layer_overhead_cycles(n_pass, lay.cols, cfg)   # per position
    cycles_pos = np.zeros(idx.size, dtype=np.int64)
    nz_pos = np.zeros(idx.size, dtype=np.int64)
    out_all = np.zeros((idx.size, lay.rows), dtype=np.int64)
    pe_tot = np.zeros((7, n), dtype=np.int64)
    bcast = stalls = loads = max_occ = critical = 0
    in_sat = out_sat = 0
    float_nz = 0
    max_err = max_bound = 0.0
    min_slack = math.inf
    map_dev = 0.0
    if compare_to is not None:
        compare_to = np.asarray(compare_to)
        if compare_to.shape != (n_total, lay.rows):
            raise WorkloadError(f"layer {lay.name!r}: compare_to has shape {compare_to.shape}, "
                                f"expected ({n_total}, {lay.rows})")
    batches = []
    lo, hi = word_limits(cfg.word_bits)
    for a in range(0, idx.size, chunk):
        sel = idx[a:a + chunk]
        X = np.asarray(patches[sel], dtype=np.float64)
        if not np.all(np.isfinite(X)):
            raise WorkloadError(f"layer {lay.name!r}: patches contain NaN or infinity")
        float_nz += int(np.count_nonzero(X))
        X_q, sat = quantize(X, cfg.act_frac_bits, cfg.word_bits)
        in_sat += sat
        nz_pos[a:a + sel.size] = np.count_nonzero(X_q, axis=1)
        accs = []
        cyc = np.zeros(sel.size, dtype=np.int64)
        for p in lay.passes:
            b = run_pass_batch(p, lay, X_q, cfg)
            work = b.counters[:, 0] + b.counters[:, 1] + b.counters[:, 2]
            try:
                check_cycle_classes(b.cycles, *(b.counters[:, i] for i in range(4)))
            except AccountingError as exc:
                raise SimulationMismatch(f"layer {lay.name!r}: {exc}") from None
            cyc += b.cycles
            pe_tot += b.counters.sum(axis=0)
            bcast += int(b.broadcasts.sum())
            stalls += int(b.queue_full_stalls.sum())
            loads += int(b.batch_load_cycles.sum())
            max_occ = max(max_occ, int(b.max_queue_occupancy.max(initial=0)))
            critical += int(work.max(axis=1).sum())
            accs.append(b.acc)
            if keep_batches:
                batches.append(b)
        acc = np.concatenate(accs, axis=1)
        cycles_pos[a:a + sel.size], _ = layer_cycle_classes(cyc, 0, store + reload)
        out_q, s = saturate(acc, cfg.word_bits)
        out_sat += s
        if relu:
            out_q = np.maximum(out_q, 0)
        out_all[a:a + sel.size] = out_q
        if check:
            fr, err = check_outputs(prep, X, X_q, acc, out_q, cfg, relu,
                                    f"layer {lay.name!r}", positions=sel)
            if err.size:
                i = np.unravel_index(int(np.argmax(err)), err.shape)
                if err[i] > max_err or max_err == 0.0 and max_bound == 0.0:
                    max_err, max_bound = float(err[i]), float(fr.bound[i])
                min_slack = min(min_slack, float(np.min(fr.bound - err)))
            if compare_to is not None:
                other = np.asarray(compare_to[sel], dtype=np.float64)
                if relu:
                    other = np.maximum(other, 0.0)
                other = np.clip(other, lo / (1 << cfg.act_frac_bits), hi / (1 << cfg.act_frac_bits))
                babs = 0.0 if prep.bias is None else np.abs(prep.bias)
                f32 = (lay.cols + 2) * 2.0 ** -24 * (fr.mag + babs + np.abs(fr.y))
                dev = np.abs(to_float(out_q, cfg.act_frac_bits) - other)
                over = np.argwhere(dev > fr.bound + f32)
                if over.size:
                    i, r = (int(v) for v in over[0])
                    raise SimulationMismatch(
                        f"layer {lay.name!r}: {len(over)} outputs differ from the numpy "
                        f"convolution beyond the fixed-point bound plus float32 rounding; first "
                        f"at position {int(sel[i])}, channel {r}: simulated "
                        f"{to_float(out_q[i, r], cfg.act_frac_bits):.6g}, numpy {other[i, r]:.6g}")
                if dev.size:
                    map_dev = max(map_dev, float(dev.max()))
    busy, pad = int(pe_tot[0].sum()), int(pe_tot[1].sum())
    # layer level: every position's overhead cycles are starved cycles of every PE
    _, pe_tot[3] = layer_cycle_classes(0, pe_tot[3], idx.size * (store + reload))
    loads += idx.size * reload
    counts = energy_mod.ActionCounts(
        cycles=int(cycles_pos.sum()), queue_entries=bcast * n,
        pointer_reads=int(pe_tot[4].sum()), spmat_line_reads=int(pe_tot[5].sum()),
        issued_entries=busy + pad, accumulator_writes=busy,
        act_sram_cycles=(loads + idx.size * store) * n)
    energy = energy_mod.estimate(counts, cfg, energy_table)
    wl = prep.workload
    meta: dict[str, Any] = {}
    if compare_to is not None and check:
        meta["map_check"] = map_dev
    if keep_batches:
        meta["batches"] = batches
    return ConvLayerResult(
        name=lay.name, rows=lay.rows, cols=lay.cols, pes=n, clock_mhz=cfg.clock_mhz,
        positions_total=n_total, positions=idx, passes=n_pass, cycles_pos=cycles_pos,
        input_nonzeros_pos=nz_pos, pe_totals=pe_tot, broadcasts=bcast, queue_full_stalls=stalls,
        batch_load_cycles=loads, batch_store_cycles=idx.size * store,
        pass_reload_cycles=idx.size * reload,
        max_queue_occupancy=max_occ, critical_pe_cycles=critical, nnz=int(prep.r.size),
        weight_density=(wl.weight_density if wl is not None else prep.r.size / (lay.rows * lay.cols)),
        float_act_density=float_nz / max(1, idx.size * lay.cols),
        input_saturations=in_sat, output_saturations=out_sat, max_error=max_err,
        max_error_bound=max_bound, min_error_slack=0.0 if math.isinf(min_slack) else min_slack,
        output_q=out_all, energy=energy, config=cfg.as_dict(),
        seeds=dict(seeds or {}), meta=meta, wall_s=time.perf_counter() - t0)


# ------------------------------------------------------------------ SqueezeNet
def parse_positions(text: str | int | None) -> int | None:
    """``'all'``/None -> None (every position); ``'N'`` -> N >= 1 (a sample per layer)."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "all"):
        return None
    try:
        n = int(text)
    except (TypeError, ValueError):
        raise WorkloadError(f"--positions {text!r}: expected 'all' or a number of positions >= 1") from None
    if n < 1:
        raise WorkloadError(f"--positions {n}: expected 'all' or a number of positions >= 1")
    return n


def sample_positions(total: int, n: int | None, seed: int, layer_index: int) -> np.ndarray:
    """All positions (``n`` None or >= total) or a sorted seeded sample of ``n`` of them;
    layer ``i`` draws from ``np.random.default_rng([seed, i])``."""
    if n is None or n >= total:
        return np.arange(total, dtype=np.int64)
    rng = np.random.default_rng([int(seed), int(layer_index)])
    return np.sort(rng.choice(total, size=n, replace=False)).astype(np.int64)


def _frac_bits_for(max_abs: float, word_bits: int) -> int:
    """Largest fraction bits whose word holds ``max_abs`` after rounding (at least 0)."""
    lim = (1 << (word_bits - 1)) - 1.5
    if max_abs <= 0:
        return word_bits - 1
    return max(0, min(word_bits - 1, math.floor(math.log2(lim / max_abs))))


def choose_config(cfg: ArchConfig, layers: list, outputs: dict[str, np.ndarray],
                  explicit: set[str] | frozenset = frozenset()) -> tuple[ArchConfig, list[dict]]:
    """The configuration the SqueezeNet layers need, and the overrides made (key, old, new, why).

    ``layers``: ``compressor.caffe_forward.LayerWorkload`` items; ``outputs``: each layer's
    float output before ReLU. Keys in ``explicit`` (given by the user) are never changed.
    * ``weight_bits``: the codebooks' width (SqueezeNet: 8, 256 entries);
    * ``act_frac_bits``: lowered until every activation (patch value), pre-ReLU output and
      bias fits the word (no saturation);
    * ``weight_frac_bits``: lowered only if a codebook entry would not fit.
    """
    overrides: list[dict] = []

    def change(key, new, why):
        nonlocal cfg
        old = getattr(cfg, key)
        if key in explicit or new == old:
            return
        cfg = cfg.replace(**{key: new})
        overrides.append({"key": key, "old": old, "new": new, "why": why})

    bits = max(int(w.layer.bits) for w in layers)
    if cfg.weight_bits < bits:
        change("weight_bits", bits, f"the layers' codebooks have 2**{bits} = {1 << bits} entries "
               f"(Spmat entries grow to {bits}+{cfg.index_bits} bits: "
               f"{cfg.spmat_width_bits // (bits + cfg.index_bits)} per {cfg.spmat_width_bits}-bit line)")
    act_max = max(max(float(np.abs(w.patches).max(initial=0.0)),
                      float(np.abs(outputs[w.name]).max(initial=0.0)),
                      0.0 if w.layer.bias is None else float(np.abs(w.layer.bias).max(initial=0.0)))
                  for w in layers)
    f = _frac_bits_for(act_max, cfg.word_bits)
    if cfg.act_frac_bits > f:
        change("act_frac_bits", f, f"largest activation / pre-ReLU output / bias magnitude is "
               f"{act_max:.1f}; {cfg.word_bits}-bit words with {f} fraction bits hold "
               f"+-{(1 << (cfg.word_bits - 1)) / (1 << f):g} (step {2.0 ** -f:g})")
    w_max = max(float(np.abs(w.layer.codebook).max()) for w in layers)
    fw = _frac_bits_for(w_max, cfg.word_bits)
    if cfg.weight_frac_bits > fw:
        change("weight_frac_bits", fw, f"largest codebook magnitude is {w_max:.4g}")
    return cfg, overrides


def explicit_arch_keys(config_path: str | None, sets: list[str]) -> set[str]:
    """Architecture keys the user gave (in the config file or with ``--set``)."""
    from eie_sim.arch.config_io import ARCH_KEYS, parse_set, read_yaml
    keys: set[str] = set()
    if config_path:
        data = read_yaml(config_path).data
        if isinstance(data, dict):
            keys |= {k for k in data if k in ARCH_KEYS}
    for item in sets:
        path, _ = parse_set(item)
        if path and path[0] in ARCH_KEYS:
            keys.add(path[0])
    return keys


@dataclass
class SqueezeNetRun:
    """The 26 convolution layers of one image, each as M x V per output position."""

    layers: list[ConvLayerResult]
    config: ArchConfig
    overrides: list[dict]
    positions: int | None             #: None: all positions; N: a sample of N per layer
    seeds: dict[str, Any]
    data_dir: str
    fit: dict[str, Any]
    notes: list[str]
    wall_s: float = 0.0

    @property
    def extrapolated(self) -> bool:
        return any(l.extrapolated for l in self.layers)

    def totals(self) -> dict[str, Any]:
        L = self.layers
        cyc = sum(l.cycles for l in L)
        t_us = sum(l.time_us for l in L)
        e_uj = sum(l.energy_uj for l in L)
        useful = sum(l.extensive(l.useful_macs) for l in L)
        dense = sum(l.rows * l.cols * l.positions_total for l in L)
        return {"layers": len(L), "extrapolated": self.extrapolated,
                "positions": sum(l.positions_total for l in L),
                "positions_simulated": sum(l.simulated for l in L),
                "cycles": cyc, "time_us": t_us, "images_per_s": 1e6 / t_us if t_us else 0.0,
                "energy_uj": e_uj,
                "avg_power_w": (e_uj * 1e-6) / (t_us * 1e-6) if t_us else 0.0,
                "useful_macs": useful, "dense_macs": dense,
                "load_efficiency": load_efficiency(
                    sum(l.extensive(float(l.pe_totals[3].sum())) for l in L), self.config.pes, cyc),
                "max_error": max((l.max_error for l in L), default=0.0),
                "input_saturations": sum(l.extensive(l.input_saturations) for l in L),
                "output_saturations": sum(l.extensive(l.output_saturations) for l in L)}


def load_squeezenet(data_dir: str | pathlib.Path | None = None):
    """``(net, model)`` from ``DIR/SqueezeNet_deploy.prototxt`` and ``DIR/compressed_SqueezeNet.net``."""
    from compressor.authors_format import read_authors
    from compressor.prototxt import load_net
    d = pathlib.Path(data_dir) if data_dir else DEFAULT_SQUEEZENET_DIR
    proto, netf = d / PROTOTXT_NAME, d / NET_NAME
    for f in (proto, netf):
        if not f.is_file():
            raise WorkloadError(f"{f}: SqueezeNet file not found (give the folder holding "
                                f"{PROTOTXT_NAME} and {NET_NAME}: --squeezenet DIR)")
    net = load_net(proto)
    return net, read_authors(net, netf.read_bytes())


def run_squeezenet(data_dir: str | pathlib.Path | None = None, cfg: ArchConfig | None = None,
                   positions: int | str | None = None, seed: int = 0, *,
                   explicit: set[str] | frozenset = frozenset(),
                   energy_table: energy_mod.EnergyTable | None = None, check_fit: bool = True,
                   layers: list[str] | None = None,
                   progress: Callable[[str], None] | None = None) -> SqueezeNetRun:
    """Run the authors' compressed SqueezeNet's convolution layers on EIE (one image).

    The numpy forward pass (``compressor.caffe_forward.forward`` on the seeded
    ``synthetic_input``) gives each layer's input; its patches are the M x V inputs, one
    per output position. ``positions``: None/``'all'`` or a sample size per layer (seed
    ``seed``). ``cfg`` (default: the paper's design point) is adapted by
    :func:`choose_config` (keys in ``explicit`` are kept). Every layer is fit-checked
    (unless ``check_fit=False``) and every simulated output is checked against numpy and
    against the forward pass's own convolution output.
    """
    from compressor.caffe_forward import SYNTHETIC_SEED, forward, layer_workloads, synthetic_input
    from eie_sim.arch.config import PAPER_CONFIG
    from eie_sim.hw.layout import LayoutError, check_layer_fits

    t0 = time.perf_counter()
    n_sample = parse_positions(positions)
    d = pathlib.Path(data_dir) if data_dir else DEFAULT_SQUEEZENET_DIR
    net, model = load_squeezenet(d)
    (in_shape,) = net.inputs.values()
    x = synthetic_input(tuple(in_shape), seed=SYNTHETIC_SEED)
    fwd = forward(net, model, x)
    wls = layer_workloads(net, model, x, result=fwd)
    if layers:
        unknown = [n for n in layers if n not in {w.name for w in wls}]
        if unknown:
            raise WorkloadError(f"unknown SqueezeNet layer(s) {unknown}; layers are "
                                f"{[w.name for w in wls]}")
    outputs = {w.name: fwd.layer_outputs[w.name] for w in wls}
    cfg, overrides = choose_config(cfg or PAPER_CONFIG, wls, outputs, explicit)
    run_wls = [w for w in wls if not layers or w.name in layers]

    # lay out every layer once and check that it fits (all refusals reported together)
    prepared, refusals, fit_rows = [], [], []
    for w in run_wls:
        ew = to_eie_workload(w.name, w.layer, {"kind": "squeezenet", "file": str(d / NET_NAME)})
        prep = prepare(ew, cfg, check_fit=False)
        per_pe = np.sum([p.entries_per_pe for p in prep.layout.passes], axis=0)
        fit_rows.append({"layer": w.name, "max_entries_per_pe": int(per_pe.max()),
                         "padding_entries": int(prep.layout.n_padding)})
        if check_fit:
            try:
                check_layer_fits(prep.layout, cfg)
            except LayoutError as exc:
                refusals.append(str(exc))
        prepared.append(prep)
    if refusals:
        raise LayoutError("; ".join(refusals) + " (choose the override with --set, or "
                          "--no-fit-check to simulate anyway)")
    worst = max(fit_rows, key=lambda r: r["max_entries_per_pe"])
    fit = {"checked": bool(check_fit), "spmat_capacity_entries": cfg.spmat_capacity_entries,
           "max_pointer_value": cfg.max_pointer_value, "worst_layer": worst["layer"],
           "worst_entries_per_pe": worst["max_entries_per_pe"], "layers": fit_rows}

    results = []
    all_names = [w.name for w in wls]
    for w, prep in zip(run_wls, prepared):
        i = all_names.index(w.name)
        t1 = time.perf_counter()
        _, c, oh, ow = w.out_shape
        idx = sample_positions(w.patches.shape[0], n_sample, seed, i)
        ref = outputs[w.name][0].reshape(c, oh * ow).T
        res = simulate_conv_layer(prep, w.patches, cfg, idx, relu=True, check_fit=False,
                                  energy_table=energy_table, compare_to=ref,
                                  seeds={"input_seed": SYNTHETIC_SEED, "sample_seed": seed})
        shape = w.layer.meta.get("weight_shape") or [w.layer.codes.shape[0], w.layer.codes.shape[1], 1, 1]
        res.meta.update({"kernel": f"{shape[2]}x{shape[3]}", "out_map": f"{oh}x{ow}",
                         "out_hw": (oh, ow)})
        res.wall_s = time.perf_counter() - t1
        results.append(res)
        if progress:
            progress(f"{w.name}: {res.simulated:,} of {res.positions_total:,} positions, "
                     f"{res.cycles_per_position:.1f} cycles/position, {res.wall_s:.1f} s")
    notes = [
        "Input: compressor.caffe_forward.synthetic_input (seed "
        f"{SYNTHETIC_SEED}), a smooth seeded random image, not a natural image: activation "
        "densities are those of this input through the network's ReLUs.",
        "Each output position is one independent EIE run of the (out, in*kh*kw) matrix on its "
        "unrolled patch; loading the patch (im2col) into the source registers is not modelled "
        "(I/O mode, as for every layer here); per position: pass cycles + batch store cycles "
        "(+ pass reloads when a layer has several output passes and input batches), the "
        "store and reload cycles counted as starved on every PE (docs/timing.md).",
        "Layer inputs come from the numpy forward pass (float), not from the simulator's own "
        "fixed-point outputs of the previous layer (pooling and concat are not on EIE).",
        "Energy: model derived from paper Tables I-II (docs/energy.md), per layer summed over "
        "positions.",
    ]
    if n_sample is not None:
        notes.insert(0, f"EXTRAPOLATED: --positions {n_sample}: a seeded sample (seed {seed}) of "
                        f"{n_sample} positions per layer was simulated; every layer total (cycles, "
                        f"time, energy, MACs, reads, stalls, batch cycles, saturations) is the "
                        f"sampled sum x positions / sampled (extrapolated), not a measured sum; "
                        f"per-position values, efficiencies and errors are over the sample.")
    if not check_fit:
        notes.append("--no-fit-check: layers were simulated without the SRAM fit check")
    return SqueezeNetRun(layers=results, config=cfg, overrides=overrides, positions=n_sample,
                         seeds={"input_seed": SYNTHETIC_SEED, "sample_seed": seed},
                         data_dir=str(d), fit=fit, notes=notes, wall_s=time.perf_counter() - t0)


# ------------------------------------------------------------------ reports
CONV_COLUMNS: tuple[str, ...] = (
    "layer", "rows", "cols", "kernel", "out_map", "positions", "positions_simulated",
    "extrapolated", "nnz", "weight_density", "act_density", "float_act_density",
    "cycles_per_position", "cycles_per_position_min", "cycles_per_position_max",
    "theoretical_cycles_per_position", "actual_over_theoretical", "cycles", "time_us",
    "load_efficiency", "authors_efficiency", "real_over_total_work", "useful_macs",
    "padding_macs", "pointer_reads", "spmat_line_reads", "bypass_hits", "queue_full_stalls",
    "passes", "batch_load_cycles", "batch_store_cycles", "pass_reload_cycles",
    "pes_with_rows",
    "max_queue_occupancy", "input_saturations", "output_saturations", "max_error",
    "max_error_bound", "min_error_slack", "map_check", "energy_uj", "avg_power_w", "wall_s",
)
POSITION_COLUMNS = ("layer", "position", "oy", "ox", "cycles", "input_nonzeros")


def markdown_table(run: SqueezeNetRun) -> str:
    ext = run.extrapolated
    cyc_h = "layer cycles (extrapolated)" if ext else "layer cycles"
    head = ("| layer | matrix (out x in*k*k) | positions | weight density | act. density | "
            f"cycles/position mean [min, max] | load eff. | busy/(N T) | {cyc_h} | time (us) | energy (uJ) |")
    lines = [head, "|" + "---|" * 11]
    for l in run.layers:
        r = l.row()
        pos = f"{l.positions_total:,}" if not l.extrapolated else f"{l.positions_total:,} ({l.simulated:,} sim.)"
        lines.append(
            f"| `{l.name}` | {l.rows} x {l.cols} ({r['kernel']}) | {pos} | {l.weight_density:.3f} | "
            f"{l.act_density:.3f} | {l.cycles_per_position:.1f} [{r['cycles_per_position_min']}, "
            f"{r['cycles_per_position_max']}] | {l.load_efficiency:.3f} | {l.authors_efficiency:.3f} | "
            f"{l.cycles:,.0f} | {l.time_us:,.1f} | {l.energy_uj:.2f} |")
    t = run.totals()
    lines.append(f"| **total (one image{', extrapolated' if ext else ''})** | | {t['positions']:,} | | | | "
                 f"{t['load_efficiency']:.3f} | | {t['cycles']:,.0f} | {t['time_us']:,.1f} | "
                 f"{t['energy_uj']:.2f} |")
    return "\n".join(lines) + "\n"


def config_lines(run: SqueezeNetRun) -> list[str]:
    c = run.config
    out = [f"EIE: {c.pes} PEs at {c.clock_mhz:g} MHz, queue depth {c.queue_depth}, "
           f"{c.weight_bits}-bit weight codes + {c.index_bits}-bit indices "
           f"({c.entries_per_line} entries per {c.spmat_width_bits}-bit Spmat line), "
           f"{c.word_bits}-bit fixed point (act_frac_bits={c.act_frac_bits}, "
           f"weight_frac_bits={c.weight_frac_bits})"]
    if run.overrides:
        for o in run.overrides:
            out.append(f"override: {o['key']} {o['old']} -> {o['new']} ({o['why']})")
    else:
        out.append("overrides: none")
    f = run.fit
    if f["checked"]:
        out.append(f"fit check: all {len(run.layers)} layers fit (largest: {f['worst_layer']}, "
                   f"{f['worst_entries_per_pe']:,} Spmat entries in one PE of "
                   f"{f['spmat_capacity_entries']:,}; pointers up to {f['max_pointer_value']:,})")
    return out


def totals_line(run: SqueezeNetRun) -> str:
    t = run.totals()
    lab = "EXTRAPOLATED total" if t["extrapolated"] else "total"
    return (f"{lab} for one image ({t['layers']} conv layers, {t['positions']:,} positions, "
            f"{t['positions_simulated']:,} simulated): {t['cycles']:,.0f} cycles, "
            f"{t['time_us']:,.1f} us ({t['images_per_s']:,.0f} images/s), {t['energy_uj']:.2f} uJ "
            f"(energy model, docs/energy.md), average {t['avg_power_w']:.3f} W; saturations: "
            f"inputs {t['input_saturations']:,.0f}, outputs {t['output_saturations']:,.0f}; outputs match "
            f"numpy (bit-exact; float within the fixed-point bound; forward-pass convolution "
            f"within the bound plus float32 rounding)")


def summary_dict(run: SqueezeNetRun, resolved: dict | None = None) -> dict[str, Any]:
    return {"title": "SqueezeNet (authors' compressed v1.0) convolution layers on EIE, "
                     "M x V per output position",
            "engine": "fast (batched: eie_sim.sim.conv)", "data_dir": run.data_dir,
            "positions": "all" if run.positions is None else run.positions,
            "extrapolated": run.extrapolated, "seeds": run.seeds,
            "config": resolved if resolved is not None else {"arch": run.config.as_dict()},
            "effective_arch": run.config.as_dict(), "overrides": run.overrides, "fit": run.fit,
            "totals": run.totals(), "layers": [l.row() for l in run.layers], "notes": run.notes,
            "wall_s": run.wall_s}


def bundle_files(run: SqueezeNetRun, resolved: dict | None = None,
                 resolved_yaml: str | None = None) -> dict[str, str]:
    """``layers.csv``, ``positions.csv``, ``summary.json``, ``report.md`` (+ ``config.yaml``)."""
    from eie_sim.output.report import csv_text, json_text
    pos_rows = []
    for l in run.layers:
        oh, ow = l.meta.get("out_hw", (1, l.positions_total))
        for p, cyc, nz in zip(l.positions.tolist(), l.cycles_pos.tolist(), l.input_nonzeros_pos.tolist()):
            pos_rows.append({"layer": l.name, "position": p, "oy": p // ow, "ox": p % ow,
                             "cycles": cyc, "input_nonzeros": nz})
    summ = summary_dict(run, resolved)
    md = ["# " + summ["title"], ""]
    if run.extrapolated:
        md += [f"**{run.notes[0]}**", ""]
    md += [f"- {line}" for line in config_lines(run)]
    md += [f"- seeds: {run.seeds}", f"- wall time: {run.wall_s:.1f} s", "", markdown_table(run),
           totals_line(run), ""]
    md += [f"- {n}" for n in run.notes if not n.startswith("EXTRAPOLATED")]
    files = {"layers.csv": csv_text([l.row() for l in run.layers], CONV_COLUMNS),
             "positions.csv": csv_text(pos_rows, POSITION_COLUMNS),
             "summary.json": json_text(summ), "report.md": "\n".join(md) + "\n"}
    if resolved_yaml is not None:
        files["config.yaml"] = resolved_yaml
    return files
