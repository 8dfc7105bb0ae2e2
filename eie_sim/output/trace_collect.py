"""The collection side of a layer's cycle-by-cycle trace (docs/timeline.md; written by
:mod:`eie_sim.output.traces`): the PE and CCU states, :class:`LayerTrace` (flat int64
arrays), :func:`parse_cycles` (``--trace-cycles A:B``) and :func:`collect_trace`, which
turns a layer's recorded :class:`~eie_sim.hw.trace.LayerTimeline` (or the cycles
``first .. end - 1`` of it) into PE work runs, PE queue-occupancy changes, CCU state runs
and DRAM tile waits, refusing more than :data:`MAX_TRACE_EVENTS` records with a
:class:`~eie_sim.errors.TraceError` that names the cap and a narrower cycle range.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from eie_sim.errors import TraceError
from eie_sim.hw.trace import EVENT_LOAD, EVENT_ROW_MOVE, EVENT_STALL, LayerTimeline

#: most records (PE work runs + queue-occupancy changes + CCU state runs) in one trace;
#: about 100 bytes each in the Perfetto JSON, so a trace stays below a few hundred MB
MAX_TRACE_EVENTS = 2_000_000

#: PE states (the VCD ``state`` value; the Perfetto slice category); ``dram stall``: a
#: starved cycle spent waiting for the column's DRAM tile (docs/dram.md rule D)
STARVED, BUSY, PADDING, EMPTY, DRAM_STALL = 0, 1, 2, 3, 4
PE_STATES = ("starved", "busy", "padding", "empty", "dram stall")
#: CCU states (the VCD ``ccu.state`` value and the Perfetto ``CCU state`` counter)
IDLE, BROADCAST, STALL, ROW_MOVE, LOAD, STORE = range(6)
CCU_STATES = ("idle", "broadcast", "stall", "row move", "batch load", "store")
_EVENT_STATE = {EVENT_STALL: STALL, EVENT_LOAD: LOAD, EVENT_ROW_MOVE: ROW_MOVE}


@dataclass
class LayerTrace:
    """Layer cycles ``first .. end - 1`` of one layer, as flat arrays (all int64)."""

    layer: str
    n_pe: int
    cols: int                   #: input columns (column ``cols`` is the bias column)
    cycles: int                 #: the layer's cycles
    first: int                  #: first traced cycle
    end: int                    #: one past the last traced cycle
    run_pe: np.ndarray          #: PE work runs: PE,
    run_start: np.ndarray       #:   first cycle,
    run_len: np.ndarray         #:   cycles,
    run_state: np.ndarray       #:   BUSY / PADDING / EMPTY,
    run_column: np.ndarray      #:   column worked on,
    run_pass: np.ndarray        #:   output pass,
    run_bcast: np.ndarray       #:   index of the broadcast in its pass
    q_pe: np.ndarray            #: queue occupancy: from cycle q_t on, PE q_pe holds
    q_t: np.ndarray             #:   q_value entries (one change at ``first`` per PE,
    q_value: np.ndarray         #:   then only real changes)
    ccu_start: np.ndarray       #: CCU state runs (idle in between): first cycle,
    ccu_len: np.ndarray         #:   cycles,
    ccu_state: np.ndarray       #:   BROADCAST / STALL / ROW_MOVE / LOAD / STORE,
    ccu_column: np.ndarray      #:   the broadcast column (-1 for other states),
    ccu_bcast: np.ndarray       #:   the broadcast's index in its pass (-1),
    ccu_pass: np.ndarray        #:   output pass
    pass_start: np.ndarray      #: each output pass's first and last + 1 cycle (clipped;
    pass_end: np.ndarray        #:   the stores and reloads between passes are outside)
    pass_index: np.ndarray
    region_start: np.ndarray    #: every pass's first cycle with its reload (not clipped)
    #: DRAM tile fetches (docs/dram.md; none for a layer on chip): first cycle, cycles,
    #: tile index in its pass, output pass
    dram_start: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    dram_len: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    dram_tile: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    dram_pass: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def n_events(self) -> int:
        """Records counted against :data:`MAX_TRACE_EVENTS`."""
        return int(self.run_pe.size + self.q_pe.size + self.ccu_start.size + self.dram_start.size)


def parse_cycles(text: str) -> tuple[int, int | None]:
    """``A:B`` (cycles A .. B-1), ``A:`` (from A to the end) or ``:B``."""
    if text.count(":") != 1:
        raise TraceError(f"--trace-cycles {text}: expected A:B (first cycle : one past the "
                         f"last), e.g. 1000:2000")
    a, b = (s.strip() for s in text.split(":"))
    try:
        first = int(a) if a else 0
        end = int(b) if b else None
    except ValueError:
        raise TraceError(f"--trace-cycles {text}: A and B must be integers (cycles)") from None
    if first < 0 or (end is not None and end <= first):
        raise TraceError(f"--trace-cycles {text}: expected 0 <= A < B")
    return first, end


def _clip(start, length, first, end):
    s = np.maximum(start, first)
    e = np.minimum(start + length, end)
    keep = e > s
    return keep, s[keep], (e - s)[keep]


def collect_trace(timeline: LayerTimeline, layer: str, first: int = 0, end: int | None = None,
                  max_events: int | None = None) -> LayerTrace:
    """The trace of layer cycles ``first .. end - 1`` (``end`` None or past the layer: to
    its last cycle). Raises :class:`TraceError` for a range outside the layer and when
    the trace would hold more than ``max_events`` records (default
    :data:`MAX_TRACE_EVENTS`)."""
    max_events = MAX_TRACE_EVENTS if max_events is None else max_events
    T = int(timeline.cycles)
    end = T if end is None else min(int(end), T)
    if not 0 <= first < end:
        raise TraceError(f"layer {layer!r} has {T:,} cycles; --trace-cycles {first}:{end} "
                         f"starts past its end")
    passes, traces = timeline.passes, timeline.traces
    n_pe = passes[0].n_pe
    offsets = timeline.pass_offsets()
    count = 0

    def grow(n):
        nonlocal count
        count += n
        if count > max_events:
            raise TraceError(
                f"layer {layer!r}, cycles {first}:{end}: the trace would hold more than "
                f"{max_events:,} events (the cap, MAX_TRACE_EVENTS); trace a narrower cycle "
                f"range with --trace-cycles A:B (the layer has {T:,} cycles)")

    # ---- the CCU and the passes
    cs, cl, cst, ccol, cb, cp = [], [], [], [], [], []
    ps, pe_, pi = [], [], []
    ds, dl, dt, dp = [], [], [], []

    def ccu(start, length, state, column=None, bcast=None, p=0):
        start = np.atleast_1d(np.asarray(start, dtype=np.int64))
        length = np.broadcast_to(np.asarray(length, dtype=np.int64), start.shape)
        keep, s, n = _clip(start, length, first, end)
        grow(int(s.size))
        cs.append(s)
        cl.append(n)
        cst.append(np.broadcast_to(np.asarray(state, dtype=np.int64), start.shape)[keep])
        ccol.append(np.full(s.size, -1, np.int64) if column is None else np.asarray(column, np.int64)[keep])
        cb.append(np.full(s.size, -1, np.int64) if bcast is None else np.asarray(bcast, np.int64)[keep])
        cp.append(np.full(s.size, p, np.int64))

    for p, (tr, o) in enumerate(zip(traces, offsets)):
        pc = int(tr.cycles)
        if p > 0 and timeline.reload:
            ccu(o - timeline.reload, timeline.reload, LOAD, p=p)
        ev = np.asarray(tr.events, dtype=np.int64).reshape(-1, 3)
        M = int(tr.columns.size)
        starts = np.concatenate([o + tr.broadcast, o + ev[:, 1]])
        lens = np.concatenate([np.ones(M, np.int64), ev[:, 2] - ev[:, 1] + 1])
        states = np.concatenate([np.full(M, BROADCAST, np.int64),
                                 np.array([_EVENT_STATE[int(k)] for k in ev[:, 0]], np.int64)])
        column = np.concatenate([tr.columns, np.full(len(ev), -1, np.int64)])
        bcast = np.concatenate([np.arange(M, dtype=np.int64), np.full(len(ev), -1, np.int64)])
        order = np.argsort(starts, kind="stable")
        ccu(starts[order], lens[order], states[order], column[order], bcast[order], p)
        if timeline.store:
            ccu(o + pc, timeline.store, STORE, p=p)
        tiles = np.asarray(getattr(tr, "tiles", np.zeros((0, 3))), dtype=np.int64).reshape(-1, 3)
        if tiles.size:                   # DRAM tile fetches: start .. arrival - 1
            keep, s, n = _clip(o + tiles[:, 1], tiles[:, 2] - tiles[:, 1], first, end)
            grow(int(s.size))
            ds.append(s)
            dl.append(n)
            dt.append(np.flatnonzero(keep).astype(np.int64))
            dp.append(np.full(s.size, p, np.int64))
        keep, s, n = _clip(np.array([o]), np.array([pc]), first, end)
        if keep[0]:
            ps.append(int(s[0]))
            pe_.append(int(s[0] + n[0]))
            pi.append(p)

    # ---- every PE: its work runs and its queue occupancy
    rp, rs, rl, rst, rc, rpa, rb = [], [], [], [], [], [], []
    qp, qt, qv = [], [], []
    for k in range(n_pe):
        q_times, q_vals = [np.array([0], np.int64)], [np.array([0], np.int64)]
        for p, (tr, pl, o) in enumerate(zip(traces, passes, offsets)):
            cols = np.asarray(tr.columns, dtype=np.int64)
            pops = np.asarray(tr.pops[:, k], dtype=np.int64)
            # queue: +1 from the cycle after a broadcast, -1 from the cycle after the pop
            t = np.concatenate([o + tr.broadcast + 1, o + pops + 1])
            d = np.concatenate([np.ones(cols.size, np.int64), -np.ones(cols.size, np.int64)])
            order = np.argsort(t, kind="stable")
            t, v = t[order], np.cumsum(d[order])
            last = np.r_[t[1:] != t[:-1], True] if t.size else np.zeros(0, bool)
            q_times.append(t[last])
            q_vals.append(v[last])
            # work: cycles pop + 1 .. pop + max(1, entries)
            start = o + pops + 1
            a0 = pl.ptr[k, cols]
            e = pl.ptr[k, cols + 1] - a0
            if cols.size and np.asarray(getattr(tr, "tiles", ())).size:
                # DRAM stalls (rule D): the pop came later than max(end of the previous
                # column, broadcast + 1); cycles base + 1 .. pop waited for the tile
                w = np.maximum(e, 1)
                base = np.maximum(np.r_[-1, pops[:-1] + w[:-1]], tr.broadcast + 1)
                m = np.flatnonzero(pops > base)
                keep, s, n = _clip(o + base[m] + 1, pops[m] - base[m], first, end)
                if s.size:
                    grow(int(s.size))
                    rp.append(np.full(s.size, k, np.int64))
                    rs.append(s)
                    rl.append(n)
                    rst.append(np.full(s.size, DRAM_STALL, np.int64))
                    rc.append(cols[m[keep]])
                    rpa.append(np.full(s.size, p, np.int64))
                    rb.append(m[keep])
            hit = np.flatnonzero((start < end) & (start + np.maximum(e, 1) > first))
            if not hit.size:
                continue
            emp = hit[e[hit] == 0]
            emp = emp[(start[emp] >= first) & (start[emp] < end)]
            ne = hit[e[hit] > 0]
            en = e[ne]
            rep = np.repeat(ne, en)
            within = np.arange(rep.size, dtype=np.int64) - np.repeat(np.cumsum(en) - en, en)
            te = start[rep] + within
            inside = (te >= first) & (te < end)
            rep, within, te = rep[inside], within[inside], te[inside]
            real = pl.code[pl.entry_start[k] + a0[rep] + within] != 0
            if rep.size:
                brk = np.flatnonzero((rep[1:] != rep[:-1]) | (real[1:] != real[:-1])) + 1
                s0 = np.r_[0, brk]
                lens = np.diff(np.r_[s0, rep.size])
            else:
                s0 = lens = np.zeros(0, np.int64)
            n_runs = emp.size + s0.size
            grow(n_runs)
            run_start = np.concatenate([start[emp], te[s0]])
            order = np.argsort(run_start, kind="stable")
            rp.append(np.full(n_runs, k, np.int64))
            rs.append(run_start[order])
            rl.append(np.concatenate([np.ones(emp.size, np.int64), lens])[order])
            rst.append(np.concatenate([np.full(emp.size, EMPTY, np.int64),
                                       np.where(real[s0], BUSY, PADDING)])[order])
            rc.append(np.concatenate([cols[emp], cols[rep[s0]]])[order])
            rpa.append(np.full(n_runs, p, np.int64))
            rb.append(np.concatenate([emp, rep[s0]])[order])
        t = np.concatenate(q_times)
        v = np.concatenate(q_vals)
        before = np.flatnonzero(t <= first)
        v0 = v[before[-1]] if before.size else 0
        mid = (t > first) & (t < end)
        t, v = np.r_[first, t[mid]], np.r_[v0, v[mid]]
        keep = np.r_[True, v[1:] != v[:-1]]
        grow(int(keep.sum()))
        qp.append(np.full(int(keep.sum()), k, np.int64))
        qt.append(t[keep])
        qv.append(v[keep])

    cat = lambda parts: np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)  # noqa: E731
    region = [o - (timeline.reload if p else 0) for p, o in enumerate(offsets)]
    return LayerTrace(layer, n_pe, int(passes[0].cols), T, int(first), int(end),
                      cat(rp), cat(rs), cat(rl), cat(rst), cat(rc), cat(rpa), cat(rb),
                      cat(qp), cat(qt), cat(qv), cat(cs), cat(cl), cat(cst), cat(ccol), cat(cb),
                      cat(cp), np.array(ps, np.int64), np.array(pe_, np.int64),
                      np.array(pi, np.int64), np.array(region, np.int64),
                      cat(ds), cat(dl), cat(dt), cat(dp))
