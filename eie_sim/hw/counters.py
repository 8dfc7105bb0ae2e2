"""The counters of the PE array: one pass of one vector, one pass of many, one layer.

An engine is a function ``run_pass(pass_layout, layer_layout, x_q, cfg) -> PassStats``
(``x_q``: int64 fixed-point activations of the ``cols`` inputs). Both engines must return
equal :class:`PassStats` for every input; the timing model only counts actions, the
energy tables (``eie_sim/arch/energy.py``) price them.

* :class:`PECounters`: the seven per-PE counters by name (never by index);
* :class:`PassStats`: one output pass of one input vector (what an engine returns);
* :class:`PassBatch`: one output pass of ``P`` input vectors (the batched kernel's
  result, or ``P`` engine runs stacked);
* :class:`LayerCounters` and :func:`roll_up`: **the one roll-up** of passes and vectors
  into a layer (docs/timing.md "Output passes" and "Per-PE cycle accounting"), used for
  fully-connected and convolution layers alike, by the benchmarks and the engines' own
  speed checks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eie_sim.errors import AccountingError

#: the per-PE counters, in the order of the fast kernel's ``(7, N)`` output
PE_COUNTERS = ("busy", "padding", "empty", "starved", "pointer_reads",
               "spmat_line_reads", "bypass_hits", "dram_stall_cycles")
#: the CCU-level scalars of one pass, in the order of the fast kernel's scalar output
PASS_SCALARS = ("cycles", "broadcasts", "queue_full_stalls", "batch_load_cycles",
                "max_queue_occupancy", "dram_bytes", "dram_row_activations", "dram_tiles")
#: counters a result may leave out (0 then): those of the DRAM stream (docs/dram.md)
OPTIONAL_COUNTERS = ("dram_stall_cycles", "dram_bytes", "dram_row_activations", "dram_tiles")


def _differences(a_obj, b_obj, names) -> list[str]:
    """``'name: ...'`` for every named field where two objects differ."""
    diffs = []
    for name in names:
        a, b = getattr(a_obj, name), getattr(b_obj, name)
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            a, b = np.asarray(a), np.asarray(b)
            if a.shape != b.shape or not np.array_equal(a, b):
                where = np.argwhere(a != b)[:5].tolist() if a.shape == b.shape else "shape"
                diffs.append(f"{name}: differs at {where}")
        elif a != b:
            diffs.append(f"{name}: {a} != {b}")
    return diffs


@dataclass
class PECounters:
    """The per-PE counters (docs/timing.md, "Per-PE cycle accounting"), int64 arrays of
    one shape: ``(N,)`` for one run or a total, ``(P, N)`` for ``P`` input vectors.

    ``busy`` cycles issuing a real entry, ``padding`` cycles issuing a padding entry,
    ``empty`` empty-column cycles, ``starved`` all other cycles (the four sum to the
    cycles), ``pointer_reads`` (= queue pops), ``spmat_line_reads``, ``bypass_hits``,
    ``dram_stall_cycles`` (of the starved cycles, those spent waiting for a column's DRAM
    tile, docs/dram.md rule D).
    """

    busy: np.ndarray
    padding: np.ndarray
    empty: np.ndarray
    starved: np.ndarray
    pointer_reads: np.ndarray
    spmat_line_reads: np.ndarray
    bypass_hits: np.ndarray
    dram_stall_cycles: np.ndarray

    @classmethod
    def from_stacked(cls, arr: np.ndarray) -> "PECounters":
        """From an array ``(..., 8, N)`` in :data:`PE_COUNTERS` order (the fast kernel's)."""
        return cls(*(np.asarray(arr[..., i, :], dtype=np.int64) for i in range(len(PE_COUNTERS))))

    @classmethod
    def zeros(cls, n_pe: int) -> "PECounters":
        return cls(*(np.zeros(n_pe, dtype=np.int64) for _ in PE_COUNTERS))

    def map(self, fn) -> "PECounters":
        """``fn`` applied to every counter (e.g. ``lambda a: a.sum(axis=0)``)."""
        return PECounters(*(fn(getattr(self, n)) for n in PE_COUNTERS))

    def __add__(self, other: "PECounters") -> "PECounters":
        return PECounters(*(getattr(self, n) + getattr(other, n) for n in PE_COUNTERS))

    @property
    def work(self) -> np.ndarray:
        """``busy + padding + empty``: the cycles a PE is not starved."""
        return self.busy + self.padding + self.empty

    def differences(self, other: "PECounters") -> list[str]:
        return _differences(self, other, PE_COUNTERS)

    def check(self, cycles) -> None:
        """``busy + padding + empty + starved == cycles``, every class ``>= 0``
        (:func:`check_cycle_classes`)."""
        check_cycle_classes(cycles, self.busy, self.padding, self.empty, self.starved)


@dataclass
class PassStats:
    """What one pass of one layer did for one input vector, cycle by cycle, summed up.

    ``pe``: the :class:`PECounters` of the ``N`` PEs (arrays ``(N,)``).
    CCU: ``broadcasts`` (bias included), ``queue_full_stalls`` (cycles the broadcast was
    blocked by a full queue), ``batch_load_cycles`` (cycles loading input batches),
    ``max_queue_occupancy`` (largest number of entries any queue held).
    DRAM stream (docs/dram.md; 0 for a layer on chip): ``dram_bytes`` (bytes fetched),
    ``dram_row_activations``, ``dram_tiles`` (tiles fetched).
    Values: ``acc`` int64 (rows of the pass,) accumulators before saturation.
    """

    cycles: int
    pe: PECounters
    broadcasts: int
    queue_full_stalls: int
    batch_load_cycles: int
    max_queue_occupancy: int
    acc: np.ndarray
    dram_bytes: int = 0
    dram_row_activations: int = 0
    dram_tiles: int = 0

    @classmethod
    def build(cls, **values) -> "PassStats":
        """From flat keyword arguments: the :data:`PASS_SCALARS`, ``acc`` and the
        :data:`PE_COUNTERS` arrays (how a custom engine or a test states its result); the
        :data:`OPTIONAL_COUNTERS` may be left out (0)."""
        zeros = np.zeros_like(np.asarray(values["busy"], dtype=np.int64))
        pe = PECounters(*(np.asarray(values.pop(n) if n in values or n not in OPTIONAL_COUNTERS
                                     else zeros, dtype=np.int64) for n in PE_COUNTERS))
        return cls(pe=pe, **values)

    def differences(self, other: "PassStats") -> list[str]:
        """Names (with values) of every counter where two results differ; [] when equal."""
        return (_differences(self, other, PASS_SCALARS) + self.pe.differences(other.pe)
                + _differences(self, other, ("acc",)))

    def equal(self, other: "PassStats") -> bool:
        return not self.differences(other)

    def check_accounting(self) -> None:
        """busy + padding + empty + starved == cycles and every class >= 0 for every PE
        (docs/timing.md); raises :class:`AccountingError`."""
        self.pe.check(self.cycles)


@dataclass
class PassBatch:
    """One output pass run on ``P`` input vectors: per run what ``run_pass`` returns.

    A run is one vector, or with ``batch: B`` one batch of up to ``B`` vectors
    (docs/dram.md "Batching"; ``group_sizes`` says how many, None: one each). Scalars are
    int64 ``(runs,)``, ``pe`` holds ``(runs, N)`` arrays, ``acc`` is ``(P, rows)``.
    """

    cycles: np.ndarray
    pe: PECounters
    broadcasts: np.ndarray
    queue_full_stalls: np.ndarray
    batch_load_cycles: np.ndarray
    max_queue_occupancy: np.ndarray
    acc: np.ndarray
    dram_bytes: np.ndarray | None = None
    dram_row_activations: np.ndarray | None = None
    dram_tiles: np.ndarray | None = None
    group_sizes: np.ndarray | None = None    #: vectors of each run (None: 1 each)

    @property
    def size(self) -> int:
        """Runs (vectors, or batches of vectors)."""
        return int(self.cycles.shape[0])

    @property
    def vectors(self) -> int:
        return int(self.acc.shape[0])

    def _acc_slice(self, i: int) -> slice:
        if self.group_sizes is None:
            return slice(i, i + 1)
        lo = int(self.group_sizes[:i].sum())
        return slice(lo, lo + int(self.group_sizes[i]))

    @classmethod
    def from_kernel(cls, scalars: np.ndarray, counters: np.ndarray, acc: np.ndarray,
                    group_sizes: np.ndarray | None = None) -> "PassBatch":
        """From the fast kernel's arrays: scalars ``(P, 8)`` in :data:`PASS_SCALARS` order,
        counters ``(P, 8, N)`` in :data:`PE_COUNTERS` order, acc ``(P, rows)``."""
        cols = {n: np.ascontiguousarray(scalars[:, i]) for i, n in enumerate(PASS_SCALARS)}
        return cls(pe=PECounters.from_stacked(counters), acc=acc, group_sizes=group_sizes, **cols)

    @classmethod
    def from_stats(cls, stats: list[PassStats]) -> "PassBatch":
        """Stack the :class:`PassStats` of ``P`` vectors (engines run one vector a call)."""
        cols = {n: np.array([getattr(s, n) for s in stats], dtype=np.int64) for n in PASS_SCALARS}
        pe = PECounters(*(np.stack([np.asarray(getattr(s.pe, n), dtype=np.int64) for s in stats])
                          for n in PE_COUNTERS))
        accs = [np.asarray(s.acc, dtype=np.int64) for s in stats]
        if all(a.ndim == 1 for a in accs):
            return cls(pe=pe, acc=np.stack(accs), **cols)
        accs = [np.atleast_2d(a) for a in accs]          # runs of batches of vectors
        return cls(pe=pe, acc=np.concatenate(accs), **cols,
                   group_sizes=np.array([a.shape[0] for a in accs], dtype=np.int64))

    def stats(self, i: int) -> PassStats:
        """Run ``i`` as the :class:`PassStats` ``run_pass`` would return (``acc``: one
        vector's ``(rows,)``, or a batch's ``(vectors, rows)``)."""
        acc = self.acc[i] if self.group_sizes is None else self.acc[self._acc_slice(i)]
        return PassStats(pe=self.pe.map(lambda a: a[i]), acc=acc,
                         **{n: int(getattr(self, n)[i]) for n in PASS_SCALARS})

    def differences(self, other: "PassBatch") -> list[str]:
        return (_differences(self, other, PASS_SCALARS) + self.pe.differences(other.pe)
                + _differences(self, other, ("acc",)))

    def validate(self, pass_rows: int, n_pe: int) -> None:
        """Shapes as promised and the per-PE accounting of every vector; raises
        :class:`AccountingError` naming what is wrong."""
        P = self.size
        for n in PASS_SCALARS:
            if np.shape(getattr(self, n)) != (P,):
                raise AccountingError(f"{n} has shape {np.shape(getattr(self, n))}, expected ({P},)")
        for n in PE_COUNTERS:
            if np.shape(getattr(self.pe, n)) != (P, n_pe):
                raise AccountingError(f"counter {n} has shape {np.shape(getattr(self.pe, n))}, "
                                      f"expected ({P}, {n_pe})")
        V = P if self.group_sizes is None else int(self.group_sizes.sum())
        if np.shape(self.acc) != (V, pass_rows):
            raise AccountingError(f"{np.shape(self.acc)} accumulators for {V} vectors x {pass_rows} rows")
        self.pe.check(self.cycles)


def check_cycle_classes(cycles, busy, padding, empty, starved) -> None:
    """``busy + padding + empty + starved == cycles`` and every class ``>= 0``, per PE.

    Works on one pass (``cycles`` a number, classes of shape ``(N,)``) and on batches
    (``cycles`` of shape ``(P,)``, classes ``(P, N)``). Raises :class:`AccountingError`.
    """
    cycles = np.asarray(cycles)
    classes = {"busy": busy, "padding": padding, "empty": empty, "starved": starved}
    for name, arr in classes.items():
        arr = np.asarray(arr)
        if arr.size and arr.min() < 0:
            raise AccountingError(f"negative {name} cycles {int(arr.min())} on some PE")
    total = sum(np.asarray(a) for a in classes.values())
    expect = cycles[..., None] if cycles.ndim else cycles
    if not np.all(total == expect):
        raise AccountingError(f"per-PE cycle classes do not sum to the cycles {cycles}: {total}")


# ---- layer level (docs/timing.md "Output passes" and "Per-PE cycle accounting") ------
def input_batches(cols: int, cfg) -> int:
    """Input batches of ``N x R`` columns a layer's activations are scanned in (rule B)."""
    n_rows = -(-cols // cfg.pes)
    return max(1, -(-n_rows // cfg.act_regs_per_pe))


def layer_overhead_cycles(n_passes: int, cols: int, cfg) -> tuple[int, int]:
    """``(store, reload)``: the layer-level cycles outside every pass.

    ``store = passes x batch_store_cycles`` (destination registers written back after each
    pass); ``reload = (passes - 1) x batch_load_cycles`` when the input has more than one
    batch (each pass after the first restarts the scan at input batch 0, which must be
    loaded again; with one batch the source registers still hold it).
    """
    store = n_passes * cfg.batch_store_cycles
    reload = (n_passes - 1) * cfg.batch_load_cycles if input_batches(cols, cfg) > 1 else 0
    return store, reload


def load_efficiency(starved_total, n_pe: int, cycles_total) -> float:
    """``1 - starved / (N T)`` (Fig. 8, 13), ``starved`` summed over the PEs of the layer
    level (:func:`roll_up`); 0.0 for no cycles."""
    return 1.0 - float(starved_total) / (n_pe * float(cycles_total)) if cycles_total else 0.0


def ccu_min_cycles(X_q: np.ndarray, cols: int, cfg, has_bias: bool) -> np.ndarray:
    """Cycles the CCU needs for one pass of each row of ``X_q`` if no queue were ever full
    (docs/timing.md, rule B): int64 ``(P,)``.

    Cycle 0 loads detector row 0; a row with ``m`` non-zeros costs ``m`` cycles when its
    bank ``N - 1`` is non-zero, else ``m + 1`` (every row is ``N`` banks wide, the last
    one included); every input batch after the first costs ``batch_load_cycles``; the bias
    broadcast one cycle. (A layer adds its pass reloads, :func:`layer_overhead_cycles`.)
    """
    n = cfg.pes
    X_q = np.asarray(X_q).reshape(-1, cols)
    n_rows = -(-cols // n)
    padded = np.zeros((X_q.shape[0], n_rows * n), dtype=bool)
    padded[:, :cols] = X_q != 0
    grid = padded.reshape(-1, n_rows, n)
    cycles = 1 + grid.sum(axis=(1, 2)) + np.count_nonzero(~grid[:, :, n - 1], axis=1)
    cycles += (input_batches(cols, cfg) - 1) * cfg.batch_load_cycles
    return (cycles + int(has_bias)).astype(np.int64)


@dataclass
class LayerCounters:
    """One layer's counters, rolled up over its output passes and its ``P`` input vectors.

    The layer level (docs/timing.md "Output passes"): each vector costs its pass cycles
    plus the overhead cycles outside every pass (batch stores, pass reloads:
    :func:`layer_overhead_cycles`), and those overhead cycles are cycles in which **every
    PE is starved**, so for each PE ``busy + padding + empty + starved == cycles``.
    """

    passes: int
    cycles_pos: np.ndarray          #: int64 (runs,) layer cycles of each run: an input
                                    #: vector, or a batch of them (``run_vectors``)
    pass_cycles: np.ndarray         #: int64 (passes,) cycles of each pass, summed over vectors
    pe: PECounters                  #: (N,) summed over passes and vectors, starved at layer level
    broadcasts: int
    queue_full_stalls: int
    batch_load_cycles: int          #: inside passes + pass reloads
    batch_store_cycles: int
    pass_reload_cycles: int         #: batch 0 reloaded for each pass after the first
    max_queue_occupancy: int
    critical_pe_cycles: int         #: sum over passes and vectors of the busiest PE's work
    ccu_min_cycles: int             #: cycles the CCU needs without any stall (lower bound)
    dram_bytes: int = 0             #: bytes streamed from DRAM (docs/dram.md)
    dram_row_activations: int = 0   #: DRAM rows opened
    dram_tiles: int = 0             #: tiles fetched
    streamed: bool = False          #: the layer's weights streamed from DRAM
    run_vectors: np.ndarray | None = None   #: int64 (runs,) vectors of each run (None: 1)

    @property
    def vectors(self) -> int:
        """Input vectors that ran (in all runs)."""
        return self.positions if self.run_vectors is None else int(self.run_vectors.sum())

    def cycles_per_vector(self) -> np.ndarray:
        """Layer cycles of each input vector: a run's cycles, shared evenly by the vectors
        of its batch (float with ``batch > 1``, else the int64 ``cycles_pos``)."""
        if self.run_vectors is None:
            return self.cycles_pos
        return np.repeat(self.cycles_pos / self.run_vectors, self.run_vectors)

    @property
    def positions(self) -> int:
        return int(self.cycles_pos.size)

    @property
    def cycles(self) -> int:
        return int(self.cycles_pos.sum())

    def merge(self, other: "LayerCounters") -> "LayerCounters":
        """The counters of both sets of vectors (same layer, same configuration)."""
        return LayerCounters(
            passes=self.passes, cycles_pos=np.concatenate([self.cycles_pos, other.cycles_pos]),
            pass_cycles=self.pass_cycles + other.pass_cycles, pe=self.pe + other.pe,
            broadcasts=self.broadcasts + other.broadcasts,
            queue_full_stalls=self.queue_full_stalls + other.queue_full_stalls,
            batch_load_cycles=self.batch_load_cycles + other.batch_load_cycles,
            batch_store_cycles=self.batch_store_cycles + other.batch_store_cycles,
            pass_reload_cycles=self.pass_reload_cycles + other.pass_reload_cycles,
            max_queue_occupancy=max(self.max_queue_occupancy, other.max_queue_occupancy),
            critical_pe_cycles=self.critical_pe_cycles + other.critical_pe_cycles,
            ccu_min_cycles=self.ccu_min_cycles + other.ccu_min_cycles,
            dram_bytes=self.dram_bytes + other.dram_bytes,
            dram_row_activations=self.dram_row_activations + other.dram_row_activations,
            dram_tiles=self.dram_tiles + other.dram_tiles,
            streamed=self.streamed or other.streamed,
            run_vectors=None if self.run_vectors is None and other.run_vectors is None else
            np.concatenate([self._runs(), other._runs()]))

    def _runs(self) -> np.ndarray:
        if self.run_vectors is None:
            return np.ones(self.cycles_pos.size, dtype=np.int64)
        return self.run_vectors

    def check(self) -> None:
        """The layer-level accounting holds for every PE (raises :class:`AccountingError`)."""
        self.pe.check(self.cycles)


def roll_up(batches: list[PassBatch], cols: int, cfg, X_q: np.ndarray | None = None,
            has_bias: bool = False, streamed: bool = False) -> LayerCounters:
    """**The** roll-up of a layer's passes (one :class:`PassBatch` per output pass, all on
    the same ``P`` vectors) into :class:`LayerCounters`, by the rule of docs/timing.md.

    ``X_q`` (the ``(P, cols)`` fixed-point inputs) gives :attr:`LayerCounters.ccu_min_cycles`
    (0 without it). With ``batch > 1`` a run is a batch of vectors (``group_sizes``) and
    the CCU's lower bound is that of the batch's non-zero columns.
    """
    n_pass = len(batches)
    if not n_pass:
        raise ValueError("a layer has at least one output pass")
    P = batches[0].size
    store, reload = layer_overhead_cycles(n_pass, cols, cfg)
    overhead = store + reload
    cycles_pos = sum(b.cycles for b in batches) + overhead
    pe = PECounters.zeros(cfg.pes)
    for b in batches:
        pe = pe + b.pe.map(lambda a: a.sum(axis=0))
    pe.starved = pe.starved + P * overhead           # overhead cycles: every PE starved
    sizes = batches[0].group_sizes
    ccu = 0
    if X_q is not None:
        X_q = np.asarray(X_q).reshape(-1, cols)
        if sizes is not None:               # a run sees the union of its batch's non-zeros
            starts = np.r_[0, np.cumsum(sizes)[:-1]]
            X_q = np.add.reduceat(X_q != 0, starts, axis=0)
        ccu = int(n_pass * ccu_min_cycles(X_q, cols, cfg, has_bias).sum()) + P * reload
    return LayerCounters(
        passes=n_pass, cycles_pos=np.asarray(cycles_pos, dtype=np.int64).reshape(P),
        pass_cycles=np.array([int(b.cycles.sum()) for b in batches], dtype=np.int64), pe=pe,
        broadcasts=int(sum(b.broadcasts.sum() for b in batches)),
        queue_full_stalls=int(sum(b.queue_full_stalls.sum() for b in batches)),
        batch_load_cycles=int(sum(b.batch_load_cycles.sum() for b in batches)) + P * reload,
        batch_store_cycles=P * store, pass_reload_cycles=P * reload,
        max_queue_occupancy=int(max(int(b.max_queue_occupancy.max(initial=0)) for b in batches)),
        critical_pe_cycles=int(sum(int(b.pe.work.max(axis=1).sum()) for b in batches)),
        ccu_min_cycles=ccu, streamed=streamed,
        run_vectors=None if sizes is None else np.asarray(sizes, dtype=np.int64),
        **{n: int(sum(int(getattr(b, n).sum()) for b in batches if getattr(b, n) is not None))
           for n in ("dram_bytes", "dram_row_activations", "dram_tiles")})
