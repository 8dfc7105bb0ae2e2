"""The columns of ``layers.csv``: one ordered spec, name -> how to compute it.

:data:`LAYER_COLUMN_SPEC` lists every column of a layer's row (docs/config.md) with the
function that computes it from a :class:`~eie_sim.sim.results.LayerResult`; a few
entries give several columns at once (the fixed-point formats, energy and area by unit).
:data:`LAYER_COLUMNS` (the CSV header) and :func:`layer_row` (``LayerResult.to_dict``)
both come from it. Sums over vectors are layer totals (``LayerResult.extensive``); the
``*_per_position`` figures are per vector.
"""
from __future__ import annotations

from typing import Any, Callable

from eie_sim.arch.energy import AREA_PARTS, ENERGY_PARTS

#: the unit of a column or ``summary.json`` key, by the ending of its name (the first
#: that matches): the one table behind the ``units`` map of every ``summary.json``
#: (eie-simulate's bundles and eie-sweep's folders; docs/cluster.md "Columns and units")
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("inferences_per_s_per_mm2", "inferences / s / mm^2"),
    ("inferences_per_s", "inferences / s"), ("inferences_per_j", "inferences / J"),
    ("images_per_s", "images / s"), ("_per_s", "per second"), ("wall_s", "seconds"),
    ("_us", "microseconds"), ("_uj", "microjoules"), ("_pj", "picojoules"),
    ("_w", "watts"), ("_mm2", "mm^2"), ("_mhz", "MHz"), ("_bits", "bits"), ("_kb", "KB"),
    ("cycles", "clock cycles"), ("density", "fraction 0..1"),
    ("macs", "multiply-accumulates"))
#: per-PE counters (per_pe.csv, windows.csv) whose names do not end in their unit
UNIT_NAMES = {"busy": "clock cycles", "padding": "clock cycles", "empty": "clock cycles",
              "starved": "clock cycles"}
#: a key that is the mean over images of a per-image figure (LeNet's summary)
PER_IMAGE_MEAN = "_per_image_mean"


def unit_of(name: str) -> str:
    """The unit of a column or summary key (:data:`UNIT_SUFFIXES`; ``""``: none)."""
    if name.endswith(PER_IMAGE_MEAN):
        base = unit_of(name[:-len(PER_IMAGE_MEAN)])
        return f"{base} per image (mean over the images)" if base else ""
    if name in UNIT_NAMES:
        return UNIT_NAMES[name]
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    return ""


def units_map(*names) -> dict[str, str]:
    """``name -> unit`` of every name (columns, summary keys) that has one, in order."""
    out: dict[str, str] = {}
    for group in names:
        for n in group:
            if n not in out and unit_of(n):
                out[n] = unit_of(n)
    return out


#: energy by unit (layer totals, uJ) and area by unit per PE and of the chip (mm^2)
ENERGY_AREA_COLUMNS: tuple[str, ...] = (
    ("energy_model",) + tuple(f"energy_{p}_uj" for p in ENERGY_PARTS) + ("pe_total_area_mm2",)
    + tuple(f"pe_area_{p}_mm2" for p in AREA_PARTS) + ("lnzd_area_mm2", "chip_area_mm2"))

#: the fixed-point formats of a row (``LayerResult.fixed_point_columns``)
FIXED_POINT_COLUMNS: tuple[str, ...] = ("in_format", "out_format", "weight_format")


def energy_area_row(r) -> dict[str, Any]:
    """The :data:`ENERGY_AREA_COLUMNS` of layer result ``r`` (docs/energy.md)."""
    e = r.energy
    row: dict[str, Any] = {"energy_model": e.memory_model}
    row.update({f"energy_{p}_uj": r.extensive(float(e.energy_pj_by_unit.get(p, 0.0))) * 1e-6
                for p in ENERGY_PARTS})
    row["pe_total_area_mm2"] = e.area.pe_mm2
    row.update({f"pe_area_{p}_mm2": e.area.pe_parts_mm2.get(p, "") for p in AREA_PARTS})
    row["lnzd_area_mm2"] = e.area.lnzd_mm2
    row["chip_area_mm2"] = e.area.chip_mm2
    return row


def _attr(name: str) -> Callable:
    return lambda r: getattr(r, name)


def _cfg(key: str) -> Callable:
    return lambda r: r.config[key]


def _meta(key: str) -> Callable:
    return lambda r: r.meta.get(key, "")


def _pe_total(counter: str) -> Callable:
    """A per-PE counter summed over PEs, as a layer total."""
    return lambda r: r.extensive(int(getattr(r.pe, counter).sum()))


def _layer_total(counter: str) -> Callable:
    """A layer counter as a layer total."""
    return lambda r: r.extensive(getattr(r.counters, counter))


def _cycles_pos(reduce: str) -> Callable:
    """The least or most cycles of one vector (0 when none ran)."""
    def get(r):
        cp = r.counters.cycles_per_vector()
        if not cp.size:
            return 0
        v = getattr(cp, reduce)()
        return int(v) if r.counters.run_vectors is None else float(v)
    return get


def _dram(get: Callable, zero=0) -> Callable:
    """A DRAM figure as a layer total; exactly ``zero`` for a layer on chip."""
    return lambda r: r.extensive(get(r)) if r.counters.streamed else zero


def _per_vector(r, total) -> float:
    """A layer total per input vector (the layer's vectors: positions)."""
    return float(total) / r.positions_total if r.positions_total else 0.0


#: ``(column or columns, compute)`` in the order of ``layers.csv``; a group's function
#: returns a mapping holding its columns
LAYER_COLUMN_SPEC: tuple[tuple[str | tuple[str, ...], Callable[[Any], Any]], ...] = (
    ("layer", _attr("name")),
    *((k, _attr(k)) for k in ("rows", "cols", "nnz")),
    ("kernel", _meta("kernel")), ("out_map", _meta("out_map")),
    *((k, _attr(k)) for k in ("synthetic", "pes", "clock_mhz")),
    ("queue_depth", _cfg("queue_depth")), ("spmat_width_bits", _cfg("spmat_width_bits")),
    *((k, _attr(k)) for k in ("engine", "verified", "passes")),
    ("positions", _attr("positions_total")), ("positions_simulated", _attr("simulated")),
    *((k, _attr(k)) for k in (
        "extrapolated", "weight_density", "act_density", "float_act_density", "cycles",
        "time_us", "cycles_per_position")),
    ("cycles_per_position_min", _cycles_pos("min")),
    ("cycles_per_position_max", _cycles_pos("max")),
    *((k, _attr(k)) for k in (
        "theoretical_cycles_per_position", "theoretical_time_us", "theoretical_time_padded_us",
        "actual_over_theoretical", "actual_over_theoretical_padded", "load_efficiency",
        "authors_efficiency", "pes_with_rows", "real_over_total_work", "useful_macs",
        "padding_macs")),
    ("empty_cycles", _pe_total("empty")), ("starved_cycles", _pe_total("starved")),
    ("queue_full_stalls", _layer_total("queue_full_stalls")),
    ("pointer_reads", _pe_total("pointer_reads")),
    ("spmat_line_reads", _pe_total("spmat_line_reads")),
    ("bypass_hits", _pe_total("bypass_hits")), ("broadcasts", _layer_total("broadcasts")),
    ("input_nonzeros", lambda r: r.extensive(int(r.input_nonzeros_pos.sum()))),
    *((k, _layer_total(k)) for k in ("batch_load_cycles", "batch_store_cycles",
                                     "pass_reload_cycles")),
    ("max_queue_occupancy", lambda r: r.counters.max_queue_occupancy),
    ("dram", lambda r: r.config.get("dram", "none") if r.counters.streamed else "none"),
    ("dram_stall_cycles", _dram(lambda r: int(r.pe.dram_stall_cycles.sum()))),
    *((k, _dram(lambda r, k=k: getattr(r.counters, k)))
      for k in ("dram_bytes", "dram_row_activations", "dram_tiles")),
    ("energy_dram_uj", _dram(lambda r: float(r.energy.dram_pj) * 1e-6, 0.0)),
    ("dram_gbps", lambda r: r.counters.dram_bytes / (r.cycles_simulated * 1e3 / r.clock_mhz)
     if r.counters.dram_bytes and r.cycles_simulated else 0.0),
    ("batch", lambda r: r.config.get("batch", 1)),
    ("total_energy_uj_per_vector", lambda r: _per_vector(r, r.energy_uj)),
    ("dram_bytes_per_vector", lambda r: _per_vector(r, _dram(lambda q: q.counters.dram_bytes)(r))),
    *((k, _layer_total(k)) for k in ("ccu_min_cycles", "critical_pe_cycles")),
    ("input_saturations", lambda r: r.extensive(r.input_saturations)),
    ("output_saturations", lambda r: r.extensive(r.output_saturations)),
    (FIXED_POINT_COLUMNS, lambda r: r.fixed_point_columns()),
    *((k, _attr(k)) for k in ("max_error", "max_error_bound", "min_error_slack")),
    ("map_check", _meta("map_check")),
    ("total_energy_uj", _attr("energy_uj")), ("avg_power_w", _attr("avg_power_w")),
    ("spmat_sram_energy_pj", lambda r: r.extensive(r.energy.spmat_sram_energy_pj)),
    (ENERGY_AREA_COLUMNS, energy_area_row),
    ("workload_seed", lambda r: r.seeds.get("workload_seed", "")), ("wall_s", _attr("wall_s")),
    # multi-chip EIE (eie_sim.sim.multichip; one chip: 1, 1.0, 0, 0)
    ("chips", lambda r: r.meta.get("chips", 1)),
    ("chip_balance", lambda r: r.meta.get("chip_balance", 1.0)),
    ("link_bytes", lambda r: r.extensive(r.meta.get("link_bytes", 0))),
    ("link_cycles", lambda r: r.extensive(r.meta.get("link_cycles", 0))),
)

#: columns added after the sweep database format, with the value every row recorded
#: before them had (one chip, no link): a resumed older database exports them so

#: the keys of ``LayerResult.to_dict``, in the order of ``layers.csv``
LAYER_COLUMNS: tuple[str, ...] = tuple(
    c for names, _ in LAYER_COLUMN_SPEC for c in ((names,) if isinstance(names, str) else names))


#: the columns a result of the estimate-only analytical engine cannot fill
#: (``hw/engines.estimate_engine``, docs/analytical.md "Estimate-only sweeps"): NaN in its
#: rows. Bypass hits need the entries' order within a slice, the rest the outputs.
ESTIMATE_ABSENT = ("bypass_hits", "output_saturations", "max_error", "max_error_bound",
                   "min_error_slack")


def layer_row(r) -> dict[str, Any]:
    """The per-layer scalar row of layer result ``r``, keys :data:`LAYER_COLUMNS`."""
    row: dict[str, Any] = {}
    for names, compute in LAYER_COLUMN_SPEC:
        if isinstance(names, str):
            row[names] = compute(r)
        else:
            group = compute(r)
            row.update((c, group[c]) for c in names)
    if r.meta.get("estimate_only"):
        row.update((c, float("nan")) for c in ESTIMATE_ABSENT)
    return row


#: columns added after the sweep database's format was fixed (docs/dram.md), each with
#: its value for a layer on chip at batch 1 as a function of the rest of the row: a
#: sweep database stores a row without them when they hold that value
#: (:func:`compact_row`) and :func:`fill_row` puts them back, so a database written
#: before they existed still resumes and exports the same tables as a fresh run
LATER_COLUMNS: dict[str, Callable[[dict], Any]] = {
    "dram": lambda row: "none",
    "dram_stall_cycles": lambda row: 0, "dram_bytes": lambda row: 0,
    "dram_row_activations": lambda row: 0, "dram_tiles": lambda row: 0,
    "energy_dram_uj": lambda row: 0.0, "dram_gbps": lambda row: 0.0, "batch": lambda row: 1,
    "total_energy_uj_per_vector": lambda row: (float(row["total_energy_uj"]) / row["positions"]
                                               if row.get("positions") else 0.0),
    "dram_bytes_per_vector": lambda row: 0.0,
    "chips": lambda row: 1, "chip_balance": lambda row: 1.0, "link_bytes": lambda row: 0,
    "link_cycles": lambda row: 0,
}


def compact_row(row: dict) -> dict:
    """``row`` without the :data:`LATER_COLUMNS` that hold their on-chip, batch-1 value."""
    out = dict(row)
    for c, neutral in LATER_COLUMNS.items():
        if c in out:
            v, n = out[c], neutral(row)
            if v == n and type(v) is type(n):
                del out[c]
    return out


def fill_row(row: dict) -> dict:
    """``row`` with every missing :data:`LATER_COLUMNS` entry at its on-chip value, in
    :data:`LAYER_COLUMNS` order (the inverse of :func:`compact_row`)."""
    if all(c in row for c in LATER_COLUMNS) or "total_energy_uj" not in row:
        return row
    full = {**{c: f(row) for c, f in LATER_COLUMNS.items() if c not in row}, **row}
    return {**{c: full[c] for c in LAYER_COLUMNS if c in full},
            **{c: v for c, v in full.items() if c not in LAYER_COLUMNS}}


def _energy_part(c: str) -> bool:
    return c.startswith("energy_") and c.endswith("_uj")


def fill_figures(figs: dict, rows: list) -> dict:
    """A sweep point's figures recorded before an energy part of :data:`LATER_COLUMNS`
    existed (``energy_dram_uj``): the part summed over the point's :func:`fill_row`-ed
    layer rows (its on-chip value), in the order the point's figures put the energy parts
    (the layer rows' order, after ``cycles``, ``time_us``, ``total_energy_uj``)."""
    if not rows or not isinstance(rows[0], dict):
        return figs
    first = rows[0]
    if all(c in figs for c in first if c in LATER_COLUMNS and _energy_part(c)):
        return figs
    head = {k: figs[k] for k in ("cycles", "time_us", "total_energy_uj") if k in figs}
    parts = {c: figs[c] if c in figs else sum(float(r.get(c) or 0.0) for r in rows)
             for c in first if _energy_part(c)}
    return {**head, **parts, **{k: v for k, v in figs.items() if k not in head and k not in parts}}

