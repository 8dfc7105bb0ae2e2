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

The collection (:class:`LayerTrace`, :func:`collect_trace`, :func:`parse_cycles`, the
states) is in :mod:`eie_sim.output.trace_collect` and importable from here; this module
holds the two writers and the staging of the trace files (:func:`check_trace_path`,
:func:`stage`, :func:`commit`, :func:`discard`).
"""
from __future__ import annotations

import json
import os
import pathlib
import tempfile
from typing import Callable, TextIO

import numpy as np

from compressor.fileio import current_umask
from eie_sim.errors import TraceError
from eie_sim.output import folders
from eie_sim.output.trace_collect import (
    BROADCAST,
    BUSY,
    CCU_STATES,
    DRAM_STALL,
    EMPTY,
    IDLE,
    LOAD,
    MAX_TRACE_EVENTS,
    PADDING,
    PE_STATES,
    ROW_MOVE,
    STALL,
    STARVED,
    STORE,
    LayerTrace,
    collect_trace,
    parse_cycles,
)

__all__ = ["MAX_TRACE_EVENTS", "STARVED", "BUSY", "PADDING", "EMPTY", "DRAM_STALL", "PE_STATES",
           "IDLE", "BROADCAST", "STALL", "ROW_MOVE", "LOAD", "STORE", "CCU_STATES",
           "LayerTrace", "parse_cycles", "collect_trace", "write_perfetto", "write_vcd",
           "check_trace_path", "stage", "commit", "discard"]


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
