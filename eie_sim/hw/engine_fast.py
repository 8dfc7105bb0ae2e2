"""Fast engine: the cycle model of docs/timing.md as one event-driven numba kernel.

``run_pass(pass_layout, layer_layout, x_q, cfg) -> PassStats`` returns exactly the
counters of the cycle-by-cycle model (the simpy engine, ``eie_sim/hw/engine_simpy.py``),
but without visiting cycles one by one. It rests on three facts of the specification:

* **The broadcast order does not depend on timing.** The CCU broadcasts the non-zero
  columns in increasing order, then the bias column; only *when* it broadcasts them
  depends on stalls and batch loads. Every queue receives the same sequence.
* **A PE's pops follow a recurrence** (rule P): if column ``m`` (the m-th broadcast) is
  broadcast in cycle ``b[m]``, PE ``k`` pops it in cycle
  ``p[m,k] = max(p[m-1,k] + L[m-1,k], b[m] + 1)`` with ``L = max(1, entries)``; it works
  on it in cycles ``p+1 .. p+L``. (Before the first column the first term is absent.)
* **The CCU is stalled exactly when the slowest PE has not popped yet.** Queue ``k``
  holds ``(#broadcasts before t) - (#pops of k before t)`` entries at the start of
  cycle ``t``; with ``P[m] = max_k p[m,k]`` (increasing in ``m``) some queue is full
  iff ``nb >= D`` and ``P[nb - D] >= t``. Only a found non-zero waits for that (the
  detector leaves a used-up row even while a queue is full), so a stall lasts until
  ``P[nb - D]`` inclusive and the CCU jumps over it in one step; batch loads are jumps
  as well.

The kernel therefore walks the detector rows (one step per row, one per non-zero), does
O(N) work per broadcast, and then one sequential pass per PE over the entries of the
broadcast columns for the values, Spmat line reads, bypass hits and the cycle of the
last accumulator write (rules S and A), which ends the run (docs/timing.md "End of a
run").
Everything happens in one numba call per pass (compiled with ``cache=True``; the kernel
is :mod:`eie_sim.hw.fast_kernel`, the trace replay :mod:`eie_sim.hw.fast_replay`; this
module is the Python driver).
"""
from __future__ import annotations

import numpy as np

from eie_sim.arch.config import ArchConfig
from eie_sim.hw.counters import PassBatch, PassStats
from eie_sim.hw.fast_kernel import N_PE_COUNTERS, N_SCALARS, _simulate, _simulate_many  # noqa: F401
from eie_sim.hw.fast_replay import _replay
from eie_sim.hw.layout import LayerLayout, PassLayout, streams
from eie_sim.hw.trace import PassTrace
from eie_sim.hw.units import dram as dram_unit


def kernel_arguments(pass_layout: PassLayout, layer_layout: LayerLayout, cfg: ArchConfig):
    """The kernel's arguments before and after the activations, checked and contiguous.

    ``_simulate(*before, x_q, *after)`` runs one vector; :func:`_simulate_many` takes the
    same arguments with a ``(P, cols)`` matrix in place of ``x_q``.
    """
    pl = pass_layout
    if pl.n_pe != cfg.pes:
        raise ValueError(f"pass laid out for {pl.n_pe} PEs but cfg.pes = {cfg.pes}")
    if pl.encoding != cfg.spmat_encoding:
        raise ValueError(f"pass laid out as {pl.encoding} but cfg.spmat_encoding = "
                         f"{cfg.spmat_encoding}")
    before = (np.ascontiguousarray(pl.ptr, dtype=np.int64), pl.column_work(),
              np.ascontiguousarray(pl.entry_start, dtype=np.int64),
              np.ascontiguousarray(pl.code, dtype=np.uint8),
              np.ascontiguousarray(pl.local_row, dtype=np.int32)) + _line_arguments(pl, cfg)
    bias_q_pass = np.ascontiguousarray(
        layer_layout.bias_q[pl.row_offset:pl.row_offset + pl.rows], dtype=np.int64)
    after = (np.ascontiguousarray(layer_layout.codebook_q, dtype=np.int64),
             bias_q_pass, bool(pl.has_bias), int(pl.n_pe), int(pl.cols), int(pl.rows),
             int(cfg.queue_depth), int(cfg.act_regs_per_pe), int(cfg.batch_load_cycles),
             0 if pl.encoding == "nm" else 1, int(cfg.arithmetic_latency), int(cfg.product_shift))
    return before, after + dram_arguments(pl, layer_layout, cfg)


_NO_RECORDS = np.zeros(0, dtype=np.int64)


def _line_arguments(pl, cfg) -> tuple:
    """Rule S's inputs to the kernel: ``(line, mline, epl)``. ``csc`` and ``nm`` store slot
    ``a`` of a PE in line ``a // epl`` (the kernel's closed form: no per-slot arrays);
    ``bitmask`` passes its per-slot code and mask lines (:func:`eie_sim.hw.encodings.slot_lines`)
    and ``epl = 0``."""
    if pl.encoding == "bitmask":
        return pl.spmat_lines(cfg) + (np.int64(0),)
    return _NO_RECORDS, _NO_RECORDS, np.int64(cfg.entries_per_line)


def dram_arguments(pass_layout: PassLayout, layer_layout: LayerLayout, cfg: ArchConfig) -> tuple:
    """The kernel's rule-D arguments: whether the layer streams (docs/dram.md), the DRAM
    records of the pass's columns and the channel's parameters (zeros when it does not)."""
    if not streams(layer_layout, cfg):
        return (False, _NO_RECORDS, _NO_RECORDS, 0, 0, 1, 1, 0.0, 0.0, 0.0, 1.0)
    ptr = np.ascontiguousarray(pass_layout.ptr, dtype=np.int64)
    params = dram_unit.kernel_params(cfg)
    dram_unit.check_streamable(ptr, layer_layout.name, cfg)
    addr, bursts = dram_unit.column_records(ptr, cfg)
    return (True, addr, bursts) + params


def _checked_activations(X_q: np.ndarray, cols: int) -> np.ndarray:
    """``X_q`` as a contiguous int64 ``(P, cols)`` matrix (a vector is one row)."""
    X_q = np.asarray(X_q)
    if X_q.size and not np.issubdtype(X_q.dtype, np.integer):
        raise ValueError(f"x_q must hold integer fixed-point activations, got {X_q.dtype}")
    X_q = np.ascontiguousarray(X_q, dtype=np.int64)
    if X_q.ndim == 1:
        X_q = X_q.reshape(1, -1)
    if X_q.ndim != 2 or X_q.shape[1] != cols:
        raise ValueError(f"x_q: activations of shape {X_q.shape} for a layer with {cols} inputs")
    return X_q


def run_batch(pass_layout: PassLayout, layer_layout: LayerLayout, X_q: np.ndarray,
              cfg: ArchConfig) -> PassBatch:
    """Simulate one output pass for every row of ``X_q`` (int64 ``(P, cols)`` fixed point;
    e.g. the output positions of a convolution), ``cfg.batch`` rows at a time (each batch
    one run, docs/dram.md "Batching"; the batches are independent). One batch runs
    :func:`_simulate` directly, several run in parallel in one numba call."""
    X_q = _checked_activations(X_q, pass_layout.cols)
    before, after = kernel_arguments(pass_layout, layer_layout, cfg)
    B = int(cfg.batch)
    sizes = batch_sizes(X_q.shape[0], B)
    if X_q.shape[0] <= B:
        scalars, counters, acc, _, _, _ = _simulate(*before, X_q, *after)
        return PassBatch.from_kernel(scalars[None, :], counters[None], acc, sizes)
    return PassBatch.from_kernel(*_simulate_many(*before, X_q, B, *after), sizes)


def batch_sizes(P: int, batch: int) -> np.ndarray | None:
    """The vectors of each batch of ``P`` vectors run ``batch`` at a time (the last batch
    may be shorter); None when every batch is one vector."""
    if batch <= 1:
        return None
    sizes = np.full(-(-P // batch), batch, dtype=np.int64)
    if P % batch:
        sizes[-1] = P % batch
    return sizes


def run_pass(pass_layout: PassLayout, layer_layout: LayerLayout, x_q: np.ndarray,
             cfg: ArchConfig) -> PassStats:
    """Simulate one output pass (docs/timing.md) and return its counters and accumulators.

    ``x_q``: int64 fixed-point activations (``act_frac_bits``) of the ``cols`` inputs.
    ``acc[i]`` is the accumulator of global row ``pass_layout.row_offset + i``.
    """
    if np.ndim(x_q) != 1 and not (np.ndim(x_q) == 2 and np.shape(x_q)[0] <= max(1, cfg.batch)):
        raise ValueError(f"x_q must be one vector of {pass_layout.cols} activations (or one "
                         f"batch of at most batch={cfg.batch}), got shape {np.shape(x_q)}")
    return run_batch(pass_layout, layer_layout, x_q, cfg).stats(0)


def run_pass_traced(pass_layout: PassLayout, layer_layout: LayerLayout, x_q: np.ndarray,
                    cfg: ArchConfig) -> tuple[PassStats, PassTrace]:
    """:func:`run_pass` that also records the pass's :class:`~eie_sim.hw.trace.PassTrace`
    (broadcast and pop cycles, the CCU's stalls, batch loads and row moves)."""
    pl = pass_layout
    X = _checked_activations(x_q, pl.cols)
    if X.shape[0] > max(1, cfg.batch):
        raise ValueError(f"a trace is recorded for one batch, not {X.shape[0]} vectors")
    before, after = kernel_arguments(pl, layer_layout, cfg)
    nzc = np.zeros(pl.cols + 1, dtype=np.int64)
    nzc[:pl.cols] = np.count_nonzero(X, axis=0)
    nzc[pl.cols] = X.shape[0]
    columns = np.flatnonzero(nzc[:pl.cols]).astype(np.int64)
    if pl.has_bias:
        columns = np.append(columns, pl.cols)
    scalars, counters, acc, btime, arr_m, tiles = _simulate(*before, X, *after)
    stats = PassBatch.from_kernel(scalars[None, :], counters[None], acc,
                                  batch_sizes(X.shape[0], X.shape[0])).stats(0)
    btime = btime[:columns.size].copy()
    pops, events = _replay(btime, arr_m, columns, nzc, pl.column_work(), pl.has_bias, cfg.pes,
                           pl.cols, cfg.act_regs_per_pe, cfg.batch_load_cycles,
                           np.ascontiguousarray(pl.ptr, dtype=np.int64), nzc)
    return stats, PassTrace(int(scalars[0]), columns, btime, pops, events, tiles)

