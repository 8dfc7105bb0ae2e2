"""``windows.csv``: a layer's counters per window of ``run.window`` cycles, and reading it back.

Long format, one row per *unit* (a PE or the CCU) per window per layer, so that every
number appears exactly once and a column's sum over the rows of a layer is that layer's
total (``layers.csv``):

* ``unit = pe`` rows (``pe`` = 0 .. N-1): busy, padding, empty and starved cycles of the
  PE in the window (they add up to ``cycles``), its queue occupancy's mean and maximum over
  the window's cycles (the occupancy at the start of each cycle, docs/timing.md rule Q);
  the CCU columns are empty;
* one ``unit = ccu`` row per window (``pe`` empty): broadcasts, stall cycles, row-move
  cycles, batch-load cycles (loads inside passes and pass reloads), batch-store cycles and
  idle cycles (everything else: the cycle that loads detector row 0, waiting for the PEs
  to drain, done); the six add up to ``cycles``. The PE columns are empty.

``window`` counts from 0 at the layer's first cycle, ``first_cycle`` is its first cycle
(layer cycles), ``cycles`` its length (``run.window``; the last window of a layer may be
shorter). Layers follow one another in the order of ``layers.csv``.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

from eie_sim.errors import PlotError, WorkloadError

WINDOW_COLUMNS = ("layer", "window", "first_cycle", "cycles", "unit", "pe", "busy", "padding",
                  "empty", "starved", "queue_mean", "queue_max", "broadcasts", "stall_cycles",
                  "row_moves", "load_cycles", "store_cycles", "idle_cycles")
PE_FIELDS = ("busy", "padding", "empty", "starved", "queue_mean", "queue_max")
CCU_FIELDS = ("broadcasts", "stall_cycles", "row_moves", "load_cycles", "store_cycles",
              "idle_cycles")

#: most rows of ``windows.csv`` (windows x (PEs + 1), summed over the layers); a larger
#: ``run.window`` makes fewer
MAX_WINDOW_ROWS = 1_000_000


def window_row_count(results) -> int:
    return sum(r.windows.n_windows * (r.pes + 1) for r in results if r.windows is not None)


def windows_csv(results) -> str:
    """The text of ``windows.csv`` for the layers of ``results`` that carry windows.
    Raises :class:`WorkloadError` above :data:`MAX_WINDOW_ROWS` rows."""
    n = window_row_count(results)
    if n > MAX_WINDOW_ROWS:
        w = next(r.windows.window for r in results if r.windows is not None)
        raise WorkloadError(f"windows of {w} cycles make {n:,} rows of windows.csv, more than "
                            f"the cap of {MAX_WINDOW_ROWS:,}; choose a larger --window (run.window)")
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(WINDOW_COLUMNS)
    for res in results:
        wc = res.windows
        if wc is None:
            continue
        lengths = wc.lengths.tolist()
        qmean = wc.queue_mean
        idle = (wc.lengths - wc.broadcasts - wc.stall_cycles - wc.row_moves - wc.load_cycles
                - wc.store_cycles)
        pe_cols = [wc.busy.tolist(), wc.padding.tolist(), wc.empty.tolist(), wc.starved.tolist()]
        for w in range(wc.n_windows):
            head = [res.name, w, w * wc.window, lengths[w]]
            b, p, e, s = (a[w] for a in pe_cols)
            qm, qx = qmean[w].tolist(), wc.queue_max[w].tolist()
            for k in range(wc.busy.shape[1]):
                wr.writerow(head + ["pe", k, b[k], p[k], e[k], s[k], repr(float(qm[k])), qx[k],
                                    "", "", "", "", "", ""])
            wr.writerow(head + ["ccu", "", "", "", "", "", "", "",
                                int(wc.broadcasts[w]), int(wc.stall_cycles[w]), int(wc.row_moves[w]),
                                int(wc.load_cycles[w]), int(wc.store_cycles[w]), int(idle[w])])
    return buf.getvalue()


@dataclass
class LayerWindows:
    """One layer's windows as arrays (read back from ``windows.csv``)."""

    layer: str
    first: np.ndarray          #: int64 (n_windows,): first cycle of each window
    cycles: np.ndarray         #: int64 (n_windows,)
    pe: dict                   #: PE_FIELDS -> float64 (n_windows, N)
    ccu: dict                  #: CCU_FIELDS -> float64 (n_windows,)

    @property
    def n_windows(self) -> int:
        return int(self.cycles.size)

    @property
    def n_pe(self) -> int:
        return int(self.pe["busy"].shape[1])

    @property
    def total_cycles(self) -> int:
        return int(self.cycles.sum())


def parse_windows(rows: list[dict], source: str = "windows.csv") -> list[LayerWindows]:
    """The layers of ``windows.csv`` rows (``csv.DictReader`` dicts); a
    :class:`~eie_sim.errors.PlotError` naming the row for anything malformed."""
    if rows and (missing := [c for c in WINDOW_COLUMNS if c not in rows[0]]):
        raise PlotError(f"{source}: not a windows.csv of this version: missing column(s) "
                        f"{', '.join(missing)}")
    by_layer: dict[str, list[tuple[int, dict]]] = {}
    for i, r in enumerate(rows, start=2):
        by_layer.setdefault(r["layer"], []).append((i, r))
    out = []
    for name, lrows in by_layer.items():
        try:
            pe_rows = [(i, r) for i, r in lrows if r["unit"] == "pe"]
            ccu_rows = [(i, r) for i, r in lrows if r["unit"] == "ccu"]
            if len(pe_rows) + len(ccu_rows) != len(lrows):
                i = next(i for i, r in lrows if r["unit"] not in ("pe", "ccu"))
                raise ValueError(f"line {i}: unit must be pe or ccu")
            n_w = len(ccu_rows)
            w_idx = np.array([int(r["window"]) for _, r in ccu_rows], np.int64)
            if not np.array_equal(w_idx, np.arange(n_w)):
                raise ValueError("the ccu rows must number the windows 0, 1, ... in order")
            first = np.array([int(r["first_cycle"]) for _, r in ccu_rows], np.int64)
            cycles = np.array([int(r["cycles"]) for _, r in ccu_rows], np.int64)
            ccu = {f: np.array([float(r[f]) for _, r in ccu_rows]) for f in CCU_FIELDS}
            pw = np.array([int(r["window"]) for _, r in pe_rows], np.int64)
            pk = np.array([int(r["pe"]) for _, r in pe_rows], np.int64)
            n_pe = int(pk.max()) + 1 if pk.size else 0
            if pk.size and pk.min() < 0:
                raise ValueError("a negative pe")
            if pk.size != n_w * n_pe or (pk.size and (pw.min() < 0 or pw.max() >= n_w)):
                raise ValueError(f"expected one pe row per PE (0..{n_pe - 1}) and window "
                                 f"(0..{n_w - 1})")
            pe = {}
            for f in PE_FIELDS:
                a = np.full((n_w, n_pe), np.nan)
                a[pw, pk] = [float(r[f]) for _, r in pe_rows]
                if np.isnan(a).any():
                    raise ValueError("a PE is missing from a window (or a value is empty)")
                pe[f] = a
        except (ValueError, KeyError, TypeError) as exc:
            raise PlotError(f"{source}: layer {name!r}: {exc}") from None
        out.append(LayerWindows(name, first, cycles, pe, ccu))
    return out


def read_windows(text: str, source: str = "windows.csv") -> list[LayerWindows]:
    """:func:`parse_windows` of a CSV text."""
    return parse_windows(list(csv.DictReader(io.StringIO(text))), source)
