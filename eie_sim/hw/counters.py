"""Counters of one simulated pass, as produced by either engine (docs/timing.md).

An engine is a function ``run_pass(pass_layout, layer_layout, x_q, cfg) -> PassStats``
(``x_q``: int64 fixed-point activations of the ``cols`` inputs). Both engines must return
equal ``PassStats`` (``PassStats.equal``) for every input; the timing model only counts
actions, the energy tables (``eie_sim/energy.py``) price them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

#: per-PE counter arrays, each int64 of shape (n_pe,)
PE_COUNTERS = ("busy", "padding", "empty", "starved", "pointer_reads",
               "spmat_line_reads", "bypass_hits")


@dataclass
class PassStats:
    """What one pass of one layer did, cycle by cycle, summed up.

    Per PE (int64 arrays of length ``n_pe``):
      ``busy`` cycles issuing a real entry, ``padding`` cycles issuing a padding entry,
      ``empty`` empty-column cycles, ``starved`` all other cycles (so the four sum to
      ``cycles``), ``pointer_reads`` (= queue pops), ``spmat_line_reads``, ``bypass_hits``.
    CCU: ``broadcasts`` (bias included), ``queue_full_stalls`` (cycles the broadcast was
    blocked by a full queue), ``batch_load_cycles`` (cycles loading input batches),
    ``max_queue_occupancy`` (largest number of entries any queue held).
    Values: ``acc`` int64 (rows of the pass,) accumulators before saturation.
    """

    cycles: int
    busy: np.ndarray
    padding: np.ndarray
    empty: np.ndarray
    starved: np.ndarray
    pointer_reads: np.ndarray
    spmat_line_reads: np.ndarray
    bypass_hits: np.ndarray
    broadcasts: int
    queue_full_stalls: int
    batch_load_cycles: int
    max_queue_occupancy: int
    acc: np.ndarray

    def differences(self, other: "PassStats") -> list[str]:
        """Names (with values) of every field where two results differ; [] when equal."""
        diffs = []
        for f in dataclasses.fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                a, b = np.asarray(a), np.asarray(b)
                if a.shape != b.shape or not np.array_equal(a, b):
                    where = np.flatnonzero(a != b)[:5] if a.shape == b.shape else "shape"
                    diffs.append(f"{f.name}: differs at {where}")
            elif a != b:
                diffs.append(f"{f.name}: {a} != {b}")
        return diffs

    def equal(self, other: "PassStats") -> bool:
        return not self.differences(other)

    def check_accounting(self) -> None:
        """busy + padding + empty + starved == cycles and starved >= 0 for every PE
        (docs/timing.md); raises :class:`AccountingError`."""
        check_cycle_classes(self.cycles, self.busy, self.padding, self.empty, self.starved)


class AccountingError(AssertionError):
    """Per-PE cycle classes that do not add up to the cycles (or a negative class)."""


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


def layer_cycle_classes(pass_cycles, pass_starved, overhead):
    """``(layer cycles, layer starved)`` from the sums over passes.

    The one rule for the layer level: the overhead cycles (batch stores and pass reloads,
    :func:`layer_overhead_cycles`) are cycles in which **every PE is starved**, so each
    PE's ``starved`` grows by ``overhead`` and ``busy + padding + empty + starved`` equals
    the layer cycles. ``pass_starved`` may be one PE's count or an array over PEs;
    ``overhead`` may be per run (a number) or per position (an array broadcast against it).
    """
    return pass_cycles + overhead, pass_starved + overhead


def load_efficiency(starved_total, n_pe: int, cycles_total) -> float:
    """``1 - starved / (N T)`` (Fig. 8, 13), ``starved`` summed over the PEs of the layer
    level (:func:`layer_cycle_classes`); 0.0 for no cycles."""
    return 1.0 - float(starved_total) / (n_pe * float(cycles_total)) if cycles_total else 0.0
