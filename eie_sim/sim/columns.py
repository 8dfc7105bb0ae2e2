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

#: energy by unit (layer totals, uJ) and area by unit per PE and of the chip (mm^2)
ENERGY_AREA_COLUMNS: tuple[str, ...] = (
    ("energy_model",) + tuple(f"energy_{p}_uj" for p in ENERGY_PARTS) + ("pe_area_mm2",)
    + tuple(f"pe_area_{p}_mm2" for p in AREA_PARTS) + ("lnzd_area_mm2", "chip_area_mm2"))

#: the fixed-point formats of a row (``LayerResult.fixed_point_columns``)
FIXED_POINT_COLUMNS: tuple[str, ...] = ("in_format", "out_format", "weight_format")


def energy_area_row(r) -> dict[str, Any]:
    """The :data:`ENERGY_AREA_COLUMNS` of layer result ``r`` (docs/energy.md)."""
    e = r.energy
    row: dict[str, Any] = {"energy_model": e.memory_model}
    row.update({f"energy_{p}_uj": r.extensive(float(e.energy_pj_by_unit.get(p, 0.0))) * 1e-6
                for p in ENERGY_PARTS})
    row["pe_area_mm2"] = e.area.pe_mm2
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
        cp = r.counters.cycles_pos
        return int(getattr(cp, reduce)()) if cp.size else 0
    return get


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
    *((k, _layer_total(k)) for k in ("ccu_min_cycles", "critical_pe_cycles")),
    ("input_saturations", lambda r: r.extensive(r.input_saturations)),
    ("output_saturations", lambda r: r.extensive(r.output_saturations)),
    (FIXED_POINT_COLUMNS, lambda r: r.fixed_point_columns()),
    *((k, _attr(k)) for k in ("max_error", "max_error_bound", "min_error_slack")),
    ("map_check", _meta("map_check")),
    ("energy_uj", _attr("energy_uj")), ("avg_power_w", _attr("avg_power_w")),
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
LATER_COLUMNS: dict[str, Any] = {"chips": 1, "chip_balance": 1.0, "link_bytes": 0,
                                 "link_cycles": 0}

#: the keys of ``LayerResult.to_dict``, in the order of ``layers.csv``
LAYER_COLUMNS: tuple[str, ...] = tuple(
    c for names, _ in LAYER_COLUMN_SPEC for c in ((names,) if isinstance(names, str) else names))


def layer_row(r) -> dict[str, Any]:
    """The per-layer scalar row of layer result ``r``, keys :data:`LAYER_COLUMNS`."""
    row: dict[str, Any] = {}
    for names, compute in LAYER_COLUMN_SPEC:
        if isinstance(names, str):
            row[names] = compute(r)
        else:
            group = compute(r)
            row.update((c, group[c]) for c in names)
    return row
