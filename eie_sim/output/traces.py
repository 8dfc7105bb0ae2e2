"""Cycle-by-cycle traces of one layer for timeline and waveform viewers (docs/timeline.md).

:func:`collect_trace` turns a layer's recorded :class:`~eie_sim.hw.trace.LayerTimeline`
(or the cycles ``first .. end - 1`` of it) into flat arrays: every PE's work runs (a run
is one state, busy / padding / empty, within the work on one broadcast column; every
other cycle the PE is starved), every PE's queue occupancy as value changes, and the
CCU's state runs (broadcast, stall, row move, batch load, store; idle otherwise). Two
writers render it:

* :func:`write_perfetto`: the Chrome JSON trace-event format, which ui.perfetto.dev (and
  chrome://tracing) opens as it is. Plain JSON, written with the standard library: no
  Perfetto SDK or protobuf dependency for a format the viewer reads natively. One process
  per PE (a slice per work run, named after its column; starved cycles are the gaps; a
  ``queue`` counter track), one for the CCU (a slice per state run, a ``CCU state``
  counter track) and one for the layer (its output passes). One cycle is one microsecond
  of trace time (the format's unit; a real 1.25 ns cycle would be rounded away).
* :func:`write_vcd`: a Value Change Dump through pyvcd for waveform viewers (GTKWave):
  per PE ``state``, ``column`` and ``queue``, the CCU's ``state``, ``broadcast`` (index of
  the broadcast made in the cycle) and ``column``, and the output pass; one timestep per
  cycle.

Both are bounded: a trace holds at most :data:`MAX_TRACE_EVENTS` records (work runs +
queue changes + CCU runs); :func:`collect_trace` refuses more with a
:class:`~eie_sim.errors.TraceError` that names the cap and a narrower cycle range.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import tempfile
from dataclasses import dataclass
from typing import Callable, TextIO

import numpy as np

from compressor.fileio import current_umask
from eie_sim.errors import TraceError
from eie_sim.hw.trace import EVENT_LOAD, EVENT_ROW_MOVE, EVENT_STALL, LayerTimeline
from eie_sim.output import folders

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


# ------------------------------------------------------------------ Perfetto (JSON)
def _column_name(trace: LayerTrace, column: int) -> str:
    return "bias" if column == trace.cols else f"col {column}"


def write_perfetto(trace: LayerTrace, f: TextIO, meta: dict | None = None) -> int:
    """The Chrome JSON trace-event format (ui.perfetto.dev, chrome://tracing); returns the
    number of trace events written. ``ts``/``dur`` are cycles (1 cycle = 1 us)."""
    other = {"layer": trace.layer, "first_cycle": trace.first, "end_cycle": trace.end,
             "layer_cycles": trace.cycles, "pes": trace.n_pe,
             "time_unit": "1 us of trace time = 1 cycle",
             "pe_slice_categories": list(PE_STATES[1:]) + ["(gaps: starved)"],
             "ccu_state_counter": {i: n for i, n in enumerate(CCU_STATES)}, **(meta or {})}
    f.write('{"displayTimeUnit":"ns","otherData":' + json.dumps(other) + ',"traceEvents":[\n')
    n = 0
    sep = ""

    def put(s: str) -> None:
        nonlocal n, sep
        f.write(sep + s)
        sep = ",\n"
        n += 1

    layer_name = json.dumps(f"layer {trace.layer}")
    for pid, name, sort in [(0, layer_name, 0), (1, '"CCU"', 1)] + [
            (2 + k, f'"PE {k}"', 2 + k) for k in range(trace.n_pe)]:
        put(f'{{"ph":"M","pid":{pid},"name":"process_name","args":{{"name":{name}}}}}')
        put(f'{{"ph":"M","pid":{pid},"name":"process_sort_index","args":{{"sort_index":{sort}}}}}')
        tname = '"passes"' if pid == 0 else '"state"' if pid == 1 else '"work"'
        put(f'{{"ph":"M","pid":{pid},"tid":1,"name":"thread_name","args":{{"name":{tname}}}}}')
    for s, e, p in zip(trace.pass_start.tolist(), trace.pass_end.tolist(), trace.pass_index.tolist()):
        put(f'{{"ph":"X","pid":0,"tid":1,"ts":{s},"dur":{e - s},"name":"pass {p}","cat":"pass",'
            f'"args":{{"pass":{p}}}}}')
    # the CCU: a slice per state run, and its state as a counter (0 idle between runs)
    ends = trace.ccu_start + trace.ccu_len
    put(f'{{"ph":"C","pid":1,"name":"CCU state","ts":{trace.first},"args":{{"state":0}}}}')
    shown, shown_until = IDLE, trace.first
    for i, (s, ln, st, c, b, p) in enumerate(zip(
            trace.ccu_start.tolist(), trace.ccu_len.tolist(), trace.ccu_state.tolist(),
            trace.ccu_column.tolist(), trace.ccu_bcast.tolist(), trace.ccu_pass.tolist())):
        if st == BROADCAST:
            put(f'{{"ph":"X","pid":1,"tid":1,"ts":{s},"dur":{ln},"name":"{_column_name(trace, c)}",'
                f'"cat":"broadcast","args":{{"column":{c},"broadcast":{b},"pass":{p}}}}}')
        else:
            put(f'{{"ph":"X","pid":1,"tid":1,"ts":{s},"dur":{ln},"name":"{CCU_STATES[st]}",'
                f'"cat":"{CCU_STATES[st]}","args":{{"pass":{p}}}}}')
        if not (s == shown_until and st == shown):       # the counter changes here
            put(f'{{"ph":"C","pid":1,"name":"CCU state","ts":{s},"args":{{"state":{st}}}}}')
        shown, shown_until = st, s + ln
        if shown_until < trace.end and (i + 1 == ends.size or trace.ccu_start[i + 1] != shown_until):
            put(f'{{"ph":"C","pid":1,"name":"CCU state","ts":{shown_until},"args":{{"state":0}}}}')
            shown = IDLE
    # the PEs: a slice per work run (starved cycles are the gaps), the queue as a counter
    for k, s, ln, st, c, p, b in zip(trace.run_pe.tolist(), trace.run_start.tolist(),
                                     trace.run_len.tolist(), trace.run_state.tolist(),
                                     trace.run_column.tolist(), trace.run_pass.tolist(),
                                     trace.run_bcast.tolist()):
        name = _column_name(trace, c) if st == BUSY else f"{PE_STATES[st]} ({_column_name(trace, c)})"
        put(f'{{"ph":"X","pid":{2 + k},"tid":1,"ts":{s},"dur":{ln},"name":"{name}",'
            f'"cat":"{PE_STATES[st]}","args":{{"column":{c},"pass":{p},"broadcast":{b}}}}}')
    for k, t, v in zip(trace.q_pe.tolist(), trace.q_t.tolist(), trace.q_value.tolist()):
        put(f'{{"ph":"C","pid":{2 + k},"name":"queue","ts":{t},"args":{{"entries":{v}}}}}')
    if trace.dram_start.size:        # the DRAM channel: a slice per tile fetch
        pid = 2 + trace.n_pe
        put(f'{{"ph":"M","pid":{pid},"name":"process_name","args":{{"name":"DRAM"}}}}')
        put(f'{{"ph":"M","pid":{pid},"name":"process_sort_index","args":{{"sort_index":{pid}}}}}')
        for s, ln, i, p in zip(trace.dram_start.tolist(), trace.dram_len.tolist(),
                               trace.dram_tile.tolist(), trace.dram_pass.tolist()):
            put(f'{{"ph":"X","pid":{pid},"tid":1,"ts":{s},"dur":{ln},"name":"tile {i}",'
                f'"cat":"dram fetch","args":{{"tile":{i},"pass":{p}}}}}')
    f.write("\n]}\n")
    return n


# ------------------------------------------------------------------ VCD (pyvcd)
def _bits(v: int) -> int:
    return max(1, int(v).bit_length())


def write_vcd(trace: LayerTrace, f: TextIO, meta: dict | None = None) -> int:
    """A Value Change Dump (one timestep per cycle; ``x`` where a value does not apply:
    a starved PE's column, the CCU's column and broadcast index when it does not
    broadcast); returns the number of value changes written."""
    from vcd import VCDWriter   # pyvcd: imported when a VCD is written

    first, end, N = trace.first, trace.end, trace.n_pe
    col_bits = _bits(trace.cols)
    q_bits = _bits(int(trace.q_value.max(initial=0)))
    b_bits = _bits(int(trace.ccu_bcast.max(initial=0)))
    p_bits = _bits(trace.region_start.size - 1)
    comment = (f"eie-sim layer {trace.layer}, cycles {first}..{end - 1} of {trace.cycles}; one "
               f"timestep = one cycle; pe state: " + ", ".join(f"{i} {n}" for i, n in enumerate(PE_STATES))
               + "; ccu state: " + ", ".join(f"{i} {n}" for i, n in enumerate(CCU_STATES)))
    if meta:
        comment += "; " + ", ".join(f"{k} {v}" for k, v in meta.items())
    X = -1
    # every change as (time, variable, value, priority); later priority wins at one time
    t_parts, var_parts, val_parts, pri_parts = [], [], [], []

    def add(t, var, val, pri):
        t = np.atleast_1d(np.asarray(t, np.int64))
        t_parts.append(t)
        var_parts.append(np.broadcast_to(np.asarray(var, np.int64), t.shape))
        val_parts.append(np.broadcast_to(np.asarray(val, np.int64), t.shape))
        pri_parts.append(np.full(t.shape, pri, np.int64))

    # variables: 0 pass, 1 ccu.state, 2 ccu.broadcast, 3 ccu.column, then per PE k
    # 4 + 3k state, 5 + 3k column, 6 + 3k queue
    V_PASS, V_CS, V_CB, V_CC = 0, 1, 2, 3
    # initial values at `first`
    add([first] * 3, [V_CS, V_CB, V_CC], [IDLE, X, X], 0)
    ks = np.arange(N, dtype=np.int64)
    add(np.full(N, first), 4 + 3 * ks, STARVED, 0)
    add(np.full(N, first), 5 + 3 * ks, X, 0)
    # the pass: from its reload (after the first) to the end of its store
    regions = trace.region_start
    add(first, V_PASS, int(np.flatnonzero(regions <= first)[-1]), 0)
    later = np.flatnonzero(regions > first)
    add(regions[later], V_PASS, later, 1)
    # the CCU: a run sets its state (and column / broadcast index), its end clears them
    e = trace.ccu_start + trace.ccu_len
    add(e, V_CS, IDLE, 1)
    add(e, V_CB, X, 1)
    add(e, V_CC, X, 1)
    add(trace.ccu_start, V_CS, trace.ccu_state, 2)
    add(trace.ccu_start, V_CB, np.where(trace.ccu_bcast >= 0, trace.ccu_bcast, X), 2)
    add(trace.ccu_start, V_CC, np.where(trace.ccu_column >= 0, trace.ccu_column, X), 2)
    # the PEs
    e = trace.run_start + trace.run_len
    add(e, 4 + 3 * trace.run_pe, STARVED, 1)
    add(e, 5 + 3 * trace.run_pe, X, 1)
    add(trace.run_start, 4 + 3 * trace.run_pe, trace.run_state, 2)
    add(trace.run_start, 5 + 3 * trace.run_pe, trace.run_column, 2)
    add(trace.q_t, 6 + 3 * trace.q_pe, trace.q_value, 2)

    t, var, val, pri = (np.concatenate(x) for x in (t_parts, var_parts, val_parts, pri_parts))
    inside = t < end
    t, var, val, pri = t[inside], var[inside], val[inside], pri[inside]
    order = np.lexsort((pri, t, var))              # by variable, time, priority
    t, var, val = t[order], var[order], val[order]
    last = np.r_[(var[1:] != var[:-1]) | (t[1:] != t[:-1]), True]   # the winner at each time
    t, var, val = t[last], var[last], val[last]
    changed = np.r_[True, (var[1:] != var[:-1]) | (val[1:] != val[:-1])]
    t, var, val = t[changed], var[changed], val[changed]
    order = np.argsort(t, kind="stable")
    t, var, val = t[order], var[order], val[order]

    w = VCDWriter(f, timescale="1 ns", date=None, comment=comment, version="eie-sim",
                  init_timestamp=first)
    variables = [w.register_var("eie", "pass", "reg", size=p_bits, init="x"),
                 w.register_var("eie.ccu", "state", "reg", size=3, init="x"),
                 w.register_var("eie.ccu", "broadcast", "reg", size=b_bits, init="x"),
                 w.register_var("eie.ccu", "column", "reg", size=col_bits, init="x")]
    for k in range(N):
        scope = f"eie.pe{k:0{len(str(N - 1))}d}"
        variables += [w.register_var(scope, "state", "reg", size=3, init="x"),
                      w.register_var(scope, "column", "reg", size=col_bits, init="x"),
                      w.register_var(scope, "queue", "reg", size=q_bits, init="x")]
    for ti, vi, xi in zip(t.tolist(), var.tolist(), val.tolist()):
        w.change(variables[vi], ti, "x" if xi < 0 else xi)
    w.close(end)
    return int(t.size)


# ------------------------------------------------------------------ files
def check_trace_path(path: str | pathlib.Path, force: bool, flag: str) -> pathlib.Path:
    """``path`` may be written: its folder exists and is writable, it is not a folder,
    and it does not exist unless ``force`` (checked before anything runs)."""
    path = pathlib.Path(path)
    if path.is_dir():
        raise TraceError(f"{flag} {path}: is a directory; give a file name")
    if path.exists() and not force:
        raise TraceError(f"{flag} {path}: file exists (choose another name, or --force to "
                         f"replace it)")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise TraceError(f"{flag} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise TraceError(f"{flag} {path}: directory {parent} is not writable")
    return path


def stage(path: str | pathlib.Path, write: Callable[[TextIO], object]) -> pathlib.Path:
    """Write a file through ``write`` into a temporary sibling ``.NAME.tmp-PID-XXXX`` of
    ``path`` and return it (renamed into place by :func:`commit`; removed, and the error
    raised, on failure). Siblings left by a killed run are removed first
    (:func:`eie_sim.output.folders.clean_stale`)."""
    path = pathlib.Path(path)
    folders.clean_stale(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-",
                               dir=path.absolute().parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # as an ordinary new file (mkstemp: 0600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            write(f)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    return pathlib.Path(tmp)


def commit(tmp: pathlib.Path, path: str | pathlib.Path) -> None:
    os.replace(tmp, path)


def discard(tmp: pathlib.Path) -> None:
    pathlib.Path(tmp).unlink(missing_ok=True)
