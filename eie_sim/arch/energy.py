"""Energy and area of a simulated layer: counted actions x energy per action (a MODEL).

The timing engines only count actions; this module prices them from a swappable table
(default ``eie_sim/arch/configs/energy_45nm.yaml``; sources, rules and limits in
``docs/energy.md``). Two memory models, selected by the table's ``memory_model`` key:

* ``cacti`` (default): the SRAMs of a PE are priced per access from CACTI
  (:mod:`eie_sim.arch.memory_model`, a precomputed table interpolated in capacity and
  width): a Spmat line read from ``spmat_sram_kb`` x ``spmat_width_bits``; a pointer read
  reads both even/odd banks, each ``pointer_sram_kb / 2`` x ``pointer_bits``; a batch load
  (store) cycle reads (writes) the ``act_sram_kb`` x ``act_sram_width_bits`` activation
  SRAM. Their leakage is drawn every cycle; their area is CACTI's. The logic of every unit
  keeps paper Table II (below); the logic share of a memory unit is what is left of its
  Table II figure after CACTI's memory at the Table II design point (floored at 0).
* ``table2``: every unit from paper Table II at its one design point, the Spmat line read
  from Table I scaled linearly with the width, memory areas linearly with capacity.

Table II figures (one PE, 45 nm, 800 MHz) become energies per action by assuming each
unit did one action per cycle: ``pJ = mW x 1000 / MHz`` (Act_queue 0.140 pJ per queue
entry, PtrRead 2.259 pJ per pointer read, SpmatRead 6.194 pJ per entry, ArithmUnit
1.4525 pJ per issued entry, ActRW 1.4025 pJ per accumulator write, LNZD 0.02875 pJ per
node-cycle). At another ``tech_node_nm`` they scale by the stated rule: energy per action
x (node / 45), area x (node / 45)^2; the clock changes time, not energy per action.

Average power = energy / simulated time. The paper's 0.59 W and 40.8 mm^2 are paper
values, printed beside ours for comparison only.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import pathlib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from eie_sim.arch.config import ArchConfig, ConfigError
from eie_sim.arch.decoder_logic import decoder_delta
from eie_sim.arch.memory_model import SramTable, load_table
from eie_sim.arch.yaml_doc import dotted, read_yaml


def _number(v) -> bool:
    """A finite number >= 0 (NaN and infinity are refused)."""
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v >= 0

UNITS = ("act_queue", "ptr_read", "spmat_read", "arithm_unit", "act_rw")
#: the on-chip parts an energy estimate is split into (``energy_<part>_uj`` columns); the
#: off-chip DRAM's energy (bits streamed, docs/dram.md) is ``EnergyEstimate.dram_pj``
#: (the ``energy_dram_uj`` column); all of them sum to the total
ENERGY_PARTS = UNITS + ("lnzd", "static")
#: every ``energy_<part>_uj`` column: the on-chip parts and the DRAM (they sum to the
#: ``total_energy_uj`` column)
ENERGY_COLUMN_PARTS = ENERGY_PARTS + ("dram",)
#: the DRAM types priced per bit (``dram_pj_per_bit``; ArchConfig ``dram``)
DRAM_TYPES = ("ddr4_3200", "lpddr4_4266", "lpddr5_6400", "hbm2")
#: the per-PE parts of the area (``pe_area_<part>_mm2`` columns)
AREA_PARTS = UNITS + ("filler",)
MEMORY_MODELS = ("cacti", "table2")
_NUM_KEYS = ("reference_clock_mhz", "lnzd_node_power_mw", "sram_read_pj_per_32b",
             "spmat_reference_width_bits", "spmat_reference_entry_bits", "static_fraction",
             "filler_area_um2", "lnzd_node_area_um2", "paper_chip_power_w", "paper_chip_area_mm2",
             "tech_node_nm", "reference_tech_node_nm", "pointer_reference_bits",
             "act_sram_reference_width_bits")
_STR_KEYS = {"memory_model": MEMORY_MODELS, "sram_table": None, "reference_sram_table": None}
_MAP_KEYS = {"unit_power_mw": UNITS, "unit_area_um2": UNITS,
             "reference_memory_kb": ("spmat_sram_kb", "pointer_sram_kb", "act_sram_kb"),
             "dram_pj_per_bit": DRAM_TYPES}


def default_table_path() -> pathlib.Path:
    return pathlib.Path(str(resources.files("eie_sim.arch") / "configs" / "energy_45nm.yaml"))


@dataclass(frozen=True)
class EnergyTable:
    """The source figures (mW, pJ, um^2) of the energy/area model, checked."""

    data: dict
    source: str
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, path: str | pathlib.Path | None = None) -> "EnergyTable":
        path = pathlib.Path(path) if path else default_table_path()
        # the same limits as configuration files (yaml_doc: regular file, size, aliases,
        # nesting, no tags), errors with file:line
        raw = read_yaml(path, "energy table").data
        return cls.from_dict(raw, str(path), over_default=path != default_table_path(),
                             base=path.parent)

    @classmethod
    def builtin(cls, memory_model: str = "cacti") -> "EnergyTable":
        """The built-in table with the given memory model (``cacti`` or ``table2``)."""
        return cls.from_dict({"memory_model": memory_model}, f"built-in ({memory_model})")

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<dict>", over_default: bool = True,
                  base: pathlib.Path | None = None) -> "EnergyTable":
        """Check a table; with ``over_default`` missing keys keep the built-in values.
        A relative ``sram_table`` is looked up beside the table file (``base``), then
        among the built-in tables."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: an energy table is a mapping")
        base_data = default_table().data if over_default else {}
        data = copy.deepcopy(base_data)
        for key, value in raw.items():
            if key in _NUM_KEYS:
                if not _number(value):
                    raise ConfigError(f"{source}: {key}: expected a finite number >= 0, got {value!r}")
                data[key] = float(value)
            elif key in _STR_KEYS:
                allowed = _STR_KEYS[key]
                if not isinstance(value, str) or not value or (allowed and value not in allowed):
                    want = f"one of {', '.join(allowed)}" if allowed else "a file name"
                    raise ConfigError(f"{source}: {key}: expected {want}, got {value!r}")
                data[key] = value
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
                                  f"{', '.join(_NUM_KEYS + tuple(_STR_KEYS) + tuple(_MAP_KEYS))}")
        missing = [k for k in _NUM_KEYS + tuple(_STR_KEYS) if k not in data] + \
                  [f"{k}.{s}" for k, subs in _MAP_KEYS.items() for s in subs if s not in data.get(k, {})]
        if missing:
            raise ConfigError(f"{source}: energy table misses {', '.join(missing)}")
        if not data["static_fraction"] <= 1.0:
            raise ConfigError(f"{source}: static_fraction: must be in 0..1")
        for key in ("reference_clock_mhz", "tech_node_nm", "reference_tech_node_nm",
                    "spmat_reference_entry_bits"):
            if data[key] <= 0:
                raise ConfigError(f"{source}: {key}: must be > 0")
        table = cls(data, source)
        if data["memory_model"] == "cacti":
            sram = load_table(data["sram_table"], base)
            if sram.tech_node_nm != data["tech_node_nm"]:
                raise ConfigError(f"{source}: sram_table: {data['sram_table']} is a "
                                  f"{sram.tech_node_nm:g} nm table but tech_node_nm is "
                                  f"{data['tech_node_nm']:g}")
            table._cache["sram"] = sram
            ref = load_table(data["reference_sram_table"], base, "reference_sram_table")
            if ref.tech_node_nm != data["reference_tech_node_nm"]:
                raise ConfigError(f"{source}: reference_sram_table: {data['reference_sram_table']} "
                                  f"is a {ref.tech_node_nm:g} nm table but reference_tech_node_nm "
                                  f"is {data['reference_tech_node_nm']:g}")
            table._cache["reference_sram"] = ref
        return table

    # ---- the two scaling rules and the memories -------------------------------------
    @property
    def memory_model(self) -> str:
        return self.data["memory_model"]

    @property
    def sram(self) -> SramTable | None:
        """The CACTI table (``memory_model: cacti``), else None."""
        return self._cache.get("sram")

    @property
    def energy_scale(self) -> float:
        """Table II/I energy per action at ``tech_node_nm``: x (node / Table II node)."""
        return self.data["tech_node_nm"] / self.data["reference_tech_node_nm"]

    @property
    def area_scale(self) -> float:
        """Table II logic area at ``tech_node_nm``: x (node / Table II node)^2."""
        return self.energy_scale ** 2

    def pj_per_cycle(self, mw: float) -> float:
        """Energy of one cycle at power ``mw`` at the reference clock."""
        return mw * 1000.0 / self.data["reference_clock_mhz"]

    def memories(self, cfg: ArchConfig) -> dict[str, Any]:
        """CACTI figures of the PE's memories for ``cfg`` (``cacti`` model only):
        ``spmat`` (one array), ``pointer_bank`` (one of two), ``act_sram``."""
        s = self.sram
        if s is None:
            raise ConfigError(f"{self.source}: memory_model is {self.memory_model}, not cacti")
        return {"spmat": s.lookup(cfg.spmat_sram_kb, cfg.spmat_width_bits,
                                  "Spmat SRAM (spmat_sram_kb x spmat_width_bits)"),
                "pointer_bank": s.lookup(cfg.pointer_sram_kb / 2, cfg.pointer_bits,
                                         "pointer bank (pointer_sram_kb / 2 x pointer_bits)"),
                "act_sram": s.lookup(cfg.act_sram_kb, cfg.act_sram_width_bits,
                                     "activation SRAM (act_sram_kb x act_sram_width_bits)")}

    def _reference_memories(self) -> dict[str, Any]:
        """CACTI figures of the Table II PE's memories at the Table II node (where the logic
        shares come from, before they are scaled to ``tech_node_nm``)."""
        d, s = self.data, self._cache["reference_sram"]
        ref = d["reference_memory_kb"]
        return {"spmat": s.lookup(ref["spmat_sram_kb"], d["spmat_reference_width_bits"],
                                  "reference Spmat SRAM"),
                "pointer_bank": s.lookup(ref["pointer_sram_kb"] / 2, d["pointer_reference_bits"],
                                         "reference pointer bank"),
                "act_sram": s.lookup(ref["act_sram_kb"], d["act_sram_reference_width_bits"],
                                     "reference activation SRAM")}

    # ---- derived per-action energies (pJ) -----------------------------------------
    def action_pj(self, cfg: ArchConfig) -> dict[str, float]:
        """Energy (pJ) of one action of each kind for configuration ``cfg``."""
        key = ("action", cfg)
        if key not in self._cache:
            self._cache[key] = (self._action_cacti(cfg) if self.memory_model == "cacti"
                                else self._action_table2(cfg))
        return dict(self._cache[key])

    def _action_table2(self, cfg: ArchConfig) -> dict[str, float]:
        d, k = self.data, self.energy_scale
        dyn = (1.0 - d["static_fraction"]) * k
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
            "act_sram_read": dyn * self.pj_per_cycle(p["act_rw"]),
            "act_sram_write": dyn * self.pj_per_cycle(p["act_rw"]),
            "lnzd_node_cycle": dyn * self.pj_per_cycle(d["lnzd_node_power_mw"]),
            "static_pe_cycle": k * d["static_fraction"] * self.pj_per_cycle(sum(p.values())),
        }

    def _action_cacti(self, cfg: ArchConfig) -> dict[str, float]:
        d, k = self.data, self.energy_scale
        dyn = (1.0 - d["static_fraction"]) * k
        p = d["unit_power_mw"]
        m, ref = self.memories(cfg), self._reference_memories()
        per_line_ref = d["spmat_reference_width_bits"] / d["spmat_reference_entry_bits"]
        # logic shares of the memory units: Table II per action minus CACTI's memory there
        spmat_logic = max(0.0, self.pj_per_cycle(p["spmat_read"]) - ref["spmat"].read_pj / per_line_ref)
        ptr_logic = max(0.0, self.pj_per_cycle(p["ptr_read"]) - 2 * ref["pointer_bank"].read_pj)
        leak_mw = m["spmat"].leakage_mw + 2 * m["pointer_bank"].leakage_mw + m["act_sram"].leakage_mw
        return {
            "queue_entry": dyn * self.pj_per_cycle(p["act_queue"]),
            "pointer_read": 2 * m["pointer_bank"].read_pj + dyn * ptr_logic,
            "spmat_line_read": m["spmat"].read_pj,
            "spmat_entry": dyn * spmat_logic,
            "arithmetic_entry": dyn * self.pj_per_cycle(p["arithm_unit"]),
            "accumulator_write": dyn * self.pj_per_cycle(p["act_rw"]),   # register file (flops)
            "act_sram_read": m["act_sram"].read_pj,
            "act_sram_write": m["act_sram"].write_pj,
            "lnzd_node_cycle": dyn * self.pj_per_cycle(d["lnzd_node_power_mw"]),
            # SRAM leakage at the design's clock + the static share of the logic
            "static_pe_cycle": leak_mw * 1000.0 / cfg.clock_mhz
                               + k * d["static_fraction"] * self.pj_per_cycle(sum(p.values())),
        }

    # ---- area ---------------------------------------------------------------------
    def area_mm2(self, cfg: ArchConfig) -> "AreaEstimate":
        """Chip area model: per-PE unit areas + filler, chip = N x PE + the LNZD tree.

        ``table2``: Table II unit areas, SpmatRead and PtrRead scaled linearly with their
        memory's capacity. ``cacti``: CACTI's area of each memory + the unit's Table II
        logic (its area minus CACTI's memory at the Table II design point, floored at 0);
        both x (node / 45)^2 for Table II figures."""
        key = ("area", cfg)
        if key in self._cache:
            return self._cache[key].copy()
        d, ka = self.data, self.area_scale
        a = {u: v * ka for u, v in d["unit_area_um2"].items()}
        ref = d["reference_memory_kb"]
        if self.memory_model == "cacti":
            m, r = self.memories(cfg), self._reference_memories()
            mem = {"spmat_read": (m["spmat"].area_um2, r["spmat"].area_um2),
                   "ptr_read": (2 * m["pointer_bank"].area_um2, 2 * r["pointer_bank"].area_um2),
                   "act_rw": (m["act_sram"].area_um2, r["act_sram"].area_um2)}
            for unit, (now, at_ref) in mem.items():
                a[unit] = now + max(0.0, d["unit_area_um2"][unit] - at_ref) * ka
        else:
            a["spmat_read"] *= cfg.spmat_sram_kb / ref["spmat_sram_kb"]
            a["ptr_read"] *= cfg.pointer_sram_kb / ref["pointer_sram_kb"]
        a["spmat_read"] += decoder_delta(cfg, self.energy_scale, ka)[1]   # 0 for csc
        a["filler"] = d["filler_area_um2"] * ka
        pe_um2 = sum(a.values())
        lnzd = cfg.lnzd_nodes * d["lnzd_node_area_um2"] * ka
        out = AreaEstimate(pe_mm2=pe_um2 / 1e6, lnzd_mm2=lnzd / 1e6,
                           chip_mm2=(cfg.pes * pe_um2 + lnzd) / 1e6,
                           pe_parts_mm2={u: v / 1e6 for u, v in a.items()},
                           paper_chip_mm2=d["paper_chip_area_mm2"], memory_model=self.memory_model)
        self._cache[key] = out
        return out.copy()


@dataclass(frozen=True)
class AreaEstimate:
    """Chip area of one design point (:meth:`EnergyTable.area_mm2`), mm^2."""

    pe_mm2: float                       #: one PE: its units + filler
    lnzd_mm2: float                     #: the chip's LNZD tree
    chip_mm2: float                     #: N x PE + the LNZD tree
    pe_parts_mm2: dict[str, float]      #: one PE by part, keys :data:`AREA_PARTS`
    paper_chip_mm2: float               #: the paper's 40.8 mm^2 (for comparison only)
    memory_model: str                   #: ``cacti`` or ``table2``

    def copy(self) -> "AreaEstimate":
        """An equal estimate with its own parts mapping."""
        return dataclasses.replace(self, pe_parts_mm2=dict(self.pe_parts_mm2))


@dataclass(frozen=True)
class EnergyEstimate:
    """Energy, average power and area of one layer's counted actions (:func:`estimate`)."""

    energy_uj: float                        #: total energy
    energy_pj_by_unit: dict[str, float]     #: energy by part (pJ), keys :data:`ENERGY_PARTS`
    spmat_sram_energy_pj: float             #: of which Spmat SRAM line reads (pJ)
    avg_power_w: float                      #: energy / simulated time
    paper_chip_power_w: float               #: the paper's 0.59 W (for comparison only)
    action_pj: dict[str, float]             #: energy of one action of each kind (pJ)
    area: AreaEstimate                      #: the design point's area
    memory_model: str                       #: ``cacti`` or ``table2``
    table: str                              #: the energy table's source
    model: str                              #: :func:`model_note`
    dram_pj: float = 0.0                    #: the off-chip DRAM: bits streamed x pJ/bit


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
    act_sram_store_cycles: int = 0   #: of those, batch store cycles x PEs (SRAM writes)
    dram_bytes: int = 0         #: bytes streamed from DRAM (docs/dram.md)


def estimate(counts: ActionCounts, cfg: ArchConfig, table: EnergyTable | None = None) -> EnergyEstimate:
    """Energy (pJ per unit, total uJ), average power (W) and area (mm^2) of one layer."""
    table = table or default_table()
    e = table.action_pj(cfg)
    decode_pj = decoder_delta(cfg, table.energy_scale, table.area_scale)[0]   # 0 for csc
    stores = min(counts.act_sram_store_cycles, counts.act_sram_cycles)
    parts = {
        "act_queue": counts.queue_entries * e["queue_entry"],
        "ptr_read": counts.pointer_reads * e["pointer_read"],
        "spmat_read": counts.spmat_line_reads * e["spmat_line_read"]
                      + counts.issued_entries * (e["spmat_entry"] + decode_pj),
        "arithm_unit": counts.issued_entries * e["arithmetic_entry"],
        "act_rw": counts.accumulator_writes * e["accumulator_write"]
                  + (counts.act_sram_cycles - stores) * e["act_sram_read"] + stores * e["act_sram_write"],
        "lnzd": counts.cycles * cfg.lnzd_nodes * e["lnzd_node_cycle"],
        "static": counts.cycles * cfg.pes * e["static_pe_cycle"],
    }
    dram_pj = counts.dram_bytes * 8 * (table.data["dram_pj_per_bit"][cfg.dram]
                                       if counts.dram_bytes else 0.0)
    total_pj = sum(parts.values()) + dram_pj
    time_s = counts.cycles / (cfg.clock_mhz * 1e6)
    return EnergyEstimate(
        energy_uj=total_pj * 1e-6,
        energy_pj_by_unit=parts,
        dram_pj=dram_pj,
        spmat_sram_energy_pj=counts.spmat_line_reads * e["spmat_line_read"],
        avg_power_w=(total_pj * 1e-12 / time_s) if time_s > 0 else 0.0,
        paper_chip_power_w=table.data["paper_chip_power_w"],
        action_pj=e,
        area=table.area_mm2(cfg),
        memory_model=table.memory_model,
        table=table.source,
        model=model_note(table),
    )


def model_note(table: EnergyTable | None = None) -> str:
    """One line naming the energy model in use (reports print it beside the figures)."""
    table = table or default_table()
    return (f"energy model: logic from paper Table II, memories from "
            f"{'CACTI' if table.memory_model == 'cacti' else 'Tables I-II'} (docs/energy.md)")
