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
        """busy + padding + empty + starved == cycles for every PE (docs/timing.md)."""
        total = self.busy + self.padding + self.empty + self.starved
        if not np.all(total == self.cycles):
            raise AssertionError(f"per-PE cycle classes do not sum to {self.cycles}: {total}")
