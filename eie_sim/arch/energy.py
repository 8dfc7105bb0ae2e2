"""Energy and area of a simulated layer: counted actions x energy per action (a MODEL).

The timing engines only count actions; this module prices them from a swappable table
(default ``eie_sim/configs/energy_45nm.yaml``; derivation in ``docs/energy.md``):

* each unit of paper Table II (one PE, 45 nm, 800 MHz) is assumed to have drawn its
  listed power while doing one action per cycle, so one action costs
  ``P / f`` (``pJ = mW x 1000 / MHz``):

  ========== =================================== ==========================
  unit       action (counter)                    default energy
  ========== =================================== ==========================
  Act_queue  one queue entry (push + its pop)    0.112 mW / 800 MHz = 0.140 pJ
  PtrRead    one pointer read (pop)              1.807 mW -> 2.259 pJ
  SpmatRead  one Spmat line read + one entry     see below
  ArithmUnit one issued entry (padding too)      1.162 mW -> 1.4525 pJ
  ActRW      one accumulator write (real entry), 1.122 mW -> 1.4025 pJ
             one batch load/store cycle per PE
  LNZD       one cycle of one tree node          0.023 mW -> 0.02875 pJ
  ========== =================================== ==========================

* SpmatRead is split so SRAM width matters (Fig. 9): a line read costs
  ``E_line(w) = sram_read_pj_per_32b x w / 32`` (Table I, 5 pJ per 32 bits) and the
  rest of the unit's Table II energy is charged per issued entry,
  ``E_entry = P_spmat / f - E_line(64) / 8`` (at 64 bits a line holds 8 entries), so at
  one entry per cycle the unit draws exactly its Table II power.
* ``static_fraction`` (default 0): that share of every PE's Table II power is drawn in
  every cycle (clock network, leakage) and the per-action energies shrink by the same
  share. With 0 the model is purely activity-based (an idle PE costs nothing).

Average power = energy / simulated time. The paper's 0.59 W is a paper value, printed
beside ours for comparison only.
"""
from __future__ import annotations

import copy
import math
import pathlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from eie_sim.arch.config import ArchConfig, ConfigError
from eie_sim.arch.yaml_doc import dotted, read_yaml


def _number(v) -> bool:
    """A finite number >= 0 (NaN and infinity are refused)."""
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v >= 0

UNITS = ("act_queue", "ptr_read", "spmat_read", "arithm_unit", "act_rw")
_NUM_KEYS = ("reference_clock_mhz", "lnzd_node_power_mw", "sram_read_pj_per_32b",
             "spmat_reference_width_bits", "spmat_reference_entry_bits", "static_fraction",
             "filler_area_um2", "lnzd_node_area_um2", "paper_chip_power_w", "paper_chip_area_mm2")
_MAP_KEYS = {"unit_power_mw": UNITS, "unit_area_um2": UNITS,
             "reference_memory_kb": ("spmat_sram_kb", "pointer_sram_kb")}


def default_table_path() -> pathlib.Path:
    return pathlib.Path(str(resources.files("eie_sim.arch") / "configs" / "energy_45nm.yaml"))


@dataclass(frozen=True)
class EnergyTable:
    """The source figures (mW, pJ, um^2) of the energy/area model, checked."""

    data: dict
    source: str

    @classmethod
    def load(cls, path: str | pathlib.Path | None = None) -> "EnergyTable":
        path = pathlib.Path(path) if path else default_table_path()
        # the same limits as configuration files (yaml_doc: regular file, size, aliases,
        # nesting, no tags), errors with file:line
        raw = read_yaml(path, "energy table").data
        return cls.from_dict(raw, str(path), over_default=path != default_table_path())

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<dict>", over_default: bool = True) -> "EnergyTable":
        """Check a table; with ``over_default`` missing keys keep the built-in values."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: an energy table is a mapping")
        base = default_table().data if over_default else {}
        data = copy.deepcopy(base)
        for key, value in raw.items():
            if key in _NUM_KEYS:
                if not _number(value):
                    raise ConfigError(f"{source}: {key}: expected a finite number >= 0, got {value!r}")
                data[key] = float(value)
            elif key in _MAP_KEYS:
                if not isinstance(value, dict):
                    raise ConfigError(f"{source}: {key}: expected a mapping of {', '.join(_MAP_KEYS[key])}")
                sub = dict(data.get(key, {}))
                for k, v in value.items():
                    if k not in _MAP_KEYS[key]:
                        raise ConfigError(f"{source}: {dotted((key, k))}: unknown key; known: "
                                          f"{', '.join(_MAP_KEYS[key])}")
                    if not _number(v):
                        raise ConfigError(f"{source}: {key}.{k}: expected a finite number >= 0, got {v!r}")
                    sub[k] = float(v)
                data[key] = sub
            else:
                raise ConfigError(f"{source}: {dotted((key,))}: unknown key; known: "
                                  f"{', '.join(_NUM_KEYS + tuple(_MAP_KEYS))}")
        missing = [k for k in _NUM_KEYS if k not in data] + \
                  [f"{k}.{s}" for k, subs in _MAP_KEYS.items() for s in subs if s not in data.get(k, {})]
        if missing:
            raise ConfigError(f"{source}: energy table misses {', '.join(missing)}")
        if not data["static_fraction"] <= 1.0:
            raise ConfigError(f"{source}: static_fraction: must be in 0..1")
        if data["reference_clock_mhz"] <= 0:
            raise ConfigError(f"{source}: reference_clock_mhz: must be > 0")
        return cls(data, source)

    # ---- derived per-action energies (pJ) -----------------------------------------
    def pj_per_cycle(self, mw: float) -> float:
        """Energy of one cycle at power ``mw`` at the reference clock."""
        return mw * 1000.0 / self.data["reference_clock_mhz"]

    def action_pj(self, cfg: ArchConfig) -> dict[str, float]:
        """Energy (pJ) of one action of each kind for configuration ``cfg``."""
        d = self.data
        dyn = 1.0 - d["static_fraction"]
        p = d["unit_power_mw"]
        line_ref = d["sram_read_pj_per_32b"] * d["spmat_reference_width_bits"] / 32.0
        per_line_ref = d["spmat_reference_width_bits"] / d["spmat_reference_entry_bits"]
        spmat_entry = self.pj_per_cycle(p["spmat_read"]) - line_ref / per_line_ref
        return {
            "queue_entry": dyn * self.pj_per_cycle(p["act_queue"]),
            "pointer_read": dyn * self.pj_per_cycle(p["ptr_read"]),
            "spmat_line_read": dyn * d["sram_read_pj_per_32b"] * cfg.spmat_width_bits / 32.0,
            "spmat_entry": dyn * max(0.0, spmat_entry),
            "arithmetic_entry": dyn * self.pj_per_cycle(p["arithm_unit"]),
            "accumulator_write": dyn * self.pj_per_cycle(p["act_rw"]),
            "act_sram_cycle": dyn * self.pj_per_cycle(p["act_rw"]),
            "lnzd_node_cycle": dyn * self.pj_per_cycle(d["lnzd_node_power_mw"]),
            "static_pe_cycle": d["static_fraction"] * self.pj_per_cycle(sum(p.values())),
        }

    def area_mm2(self, cfg: ArchConfig) -> dict[str, float]:
        """Chip area model: per-PE Table II areas, memories scaled by capacity, + LNZD tree."""
        d = self.data
        a = dict(d["unit_area_um2"])
        ref = d["reference_memory_kb"]
        a["spmat_read"] *= cfg.spmat_sram_kb / ref["spmat_sram_kb"]
        a["ptr_read"] *= cfg.pointer_sram_kb / ref["pointer_sram_kb"]
        pe_um2 = sum(a.values()) + d["filler_area_um2"]
        lnzd = cfg.lnzd_nodes * d["lnzd_node_area_um2"]
        return {"pe_mm2": pe_um2 / 1e6, "lnzd_mm2": lnzd / 1e6,
                "chip_mm2": (cfg.pes * pe_um2 + lnzd) / 1e6,
                "paper_chip_mm2": d["paper_chip_area_mm2"]}


_DEFAULT: EnergyTable | None = None


def default_table() -> EnergyTable:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = EnergyTable.load()
    return _DEFAULT


@dataclass
class ActionCounts:
    """Actions of one layer summed over PEs and passes (from the engines' counters)."""

    cycles: int                 #: layer cycles (passes + stores)
    queue_entries: int          #: broadcasts x PEs (every PE's queue takes each broadcast)
    pointer_reads: int
    spmat_line_reads: int
    issued_entries: int         #: busy + padding (Spmat entry reads, arithmetic)
    accumulator_writes: int     #: busy (real entries)
    act_sram_cycles: int        #: (batch load + batch store cycles) x PEs


def estimate(counts: ActionCounts, cfg: ArchConfig, table: EnergyTable | None = None) -> dict[str, Any]:
    """Energy (pJ per unit, total uJ) and average power (W) of one layer."""
    table = table or default_table()
    e = table.action_pj(cfg)
    parts = {
        "act_queue": counts.queue_entries * e["queue_entry"],
        "ptr_read": counts.pointer_reads * e["pointer_read"],
        "spmat_read": counts.spmat_line_reads * e["spmat_line_read"] + counts.issued_entries * e["spmat_entry"],
        "arithm_unit": counts.issued_entries * e["arithmetic_entry"],
        "act_rw": counts.accumulator_writes * e["accumulator_write"] + counts.act_sram_cycles * e["act_sram_cycle"],
        "lnzd": counts.cycles * cfg.lnzd_nodes * e["lnzd_node_cycle"],
        "static": counts.cycles * cfg.pes * e["static_pe_cycle"],
    }
    total_pj = sum(parts.values())
    time_s = counts.cycles / (cfg.clock_mhz * 1e6)
    return {
        "energy_uj": total_pj * 1e-6,
        "energy_pj_by_unit": parts,
        "spmat_sram_energy_pj": counts.spmat_line_reads * e["spmat_line_read"],
        "avg_power_w": (total_pj * 1e-12 / time_s) if time_s > 0 else 0.0,
        "paper_chip_power_w": table.data["paper_chip_power_w"],
        "action_pj": e,
        "table": table.source,
        "model": "energy model derived from paper Tables I-II (see docs/energy.md)",
    }
