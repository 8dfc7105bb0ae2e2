"""SRAM energy, leakage and area from precomputed CACTI tables (a MODEL; docs/energy.md).

The memories of one EIE PE (paper Fig. 4: the sparse-matrix SRAM of the SpmatRead unit,
the even/odd pointer banks of the PtrRead unit, the activation SRAM of ActRW) are priced
from a table that ``tools/energy_tables.py`` (``make energy-tables``) computed with
hwcomponents-cacti (the Accelergy project's CACTI wrapper): one single-ported SRAM per
point of a grid of capacities (powers of two, KB) x widths (powers of two, bits) at one
technology node, each point giving read and write energy per access (pJ), leakage (mW),
area (um^2) and random cycle time (ns). The tables ship with the package
(``eie_sim/arch/configs/sram_cacti_<node>nm.yaml``) so that runs need no CACTI.

Between grid points every figure is interpolated **log-log bilinearly**: linear in
``(log2 capacity, log2 width)`` on the logarithm of the figure, so grid points come back
exactly and power laws between neighbours are followed. A figure that is 0 at a corner
(leakage rounds to 0 for the smallest arrays) is interpolated linearly in the log
coordinates instead. A point outside the grid is a :class:`ConfigError` (no
extrapolation): regenerate a wider table or select the Table II model.
"""
from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass, field
from importlib import resources

from eie_sim.arch.yaml_doc import read_yaml
from eie_sim.errors import ConfigError

COLUMNS = ("read_pj", "write_pj", "leakage_mw", "area_um2", "cycle_ns")
_META = ("tool", "tool_version", "hwcomponents_version", "generated_utc", "generator",
         "inputs", "wrapper_scaled")


def builtin_table_path(name: str) -> pathlib.Path:
    """A table shipped in ``eie_sim/arch/configs`` (e.g. ``sram_cacti_45nm.yaml``)."""
    return pathlib.Path(str(resources.files("eie_sim.arch") / "configs" / name))


@dataclass(frozen=True)
class SramFigures:
    """One SRAM array: energy per access (pJ), leakage (mW), area (um^2), cycle (ns)."""

    read_pj: float
    write_pj: float
    leakage_mw: float
    area_um2: float
    cycle_ns: float


def _positive(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v > 0


@dataclass(frozen=True)
class SramTable:
    """A checked CACTI grid at one node; :meth:`lookup` interpolates it."""

    tech_node_nm: float
    capacities_kb: tuple[float, ...]
    widths_bits: tuple[int, ...]
    grid: dict            #: (capacity_kb, width_bits) -> SramFigures, or None (cannot exist)
    meta: dict
    source: str
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, path: str | pathlib.Path) -> "SramTable":
        path = pathlib.Path(path)
        return cls.from_dict(read_yaml(path, "CACTI SRAM table").data, str(path))

    @classmethod
    def from_dict(cls, raw, source: str = "<dict>") -> "SramTable":
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: a CACTI SRAM table is a mapping")
        for key in ("tech_node_nm", "columns", "capacities_kb", "widths_bits", "grid"):
            if key not in raw:
                raise ConfigError(f"{source}: {key}: missing")
        if not isinstance(raw["columns"], list) or raw["columns"] != list(COLUMNS):
            raise ConfigError(f"{source}: columns: expected {list(COLUMNS)}")
        if not _positive(raw["tech_node_nm"]):
            raise ConfigError(f"{source}: tech_node_nm: expected a number > 0")
        caps, widths = raw["capacities_kb"], raw["widths_bits"]
        for key, axis in (("capacities_kb", caps), ("widths_bits", widths)):
            if not isinstance(axis, list) or len(axis) < 2 or not all(_positive(v) for v in axis) \
                    or any(b <= a for a, b in zip(axis, axis[1:])):
                raise ConfigError(f"{source}: {key}: expected at least two increasing numbers > 0")
        g = raw["grid"]
        if not isinstance(g, list) or len(g) != len(caps):
            raise ConfigError(f"{source}: grid: expected one row per capacity ({len(caps)})")
        grid = {}
        for i, kb in enumerate(caps):
            row = g[i]
            if not isinstance(row, list) or len(row) != len(widths):
                raise ConfigError(f"{source}: grid[{i}] ({kb:g} KB): expected one entry per "
                                  f"width ({len(widths)}; null if it cannot exist)")
            for j, w in enumerate(widths):
                v = row[j]
                if v is None:
                    grid[(float(kb), int(w))] = None
                    continue
                if not isinstance(v, list) or len(v) != len(COLUMNS) or not all(
                        _positive(x) or (x == 0 and not isinstance(x, bool)) for x in v):
                    raise ConfigError(f"{source}: grid[{i}][{j}] ({kb:g} KB x {w} b): expected {len(COLUMNS)} finite "
                                      f"numbers >= 0 ({', '.join(COLUMNS)})")
                grid[(float(kb), int(w))] = SramFigures(*(float(x) for x in v))
        meta = {k: raw[k] for k in _META if k in raw}
        return cls(float(raw["tech_node_nm"]), tuple(float(c) for c in caps),
                   tuple(int(w) for w in widths), grid, meta, source)

    # ---- interpolation -----------------------------------------------------------
    @staticmethod
    def _bracket(axis: tuple, x: float) -> tuple[int, int, float]:
        """Neighbour indices and the fraction of ``x`` between them in log2 space."""
        for i in range(len(axis) - 1):
            lo, hi = axis[i], axis[i + 1]
            if lo <= x <= hi:
                if x == lo:
                    return i, i, 0.0
                if x == hi:
                    return i + 1, i + 1, 0.0
                return i, i + 1, (math.log2(x) - math.log2(lo)) / (math.log2(hi) - math.log2(lo))
        raise ValueError

    def lookup(self, capacity_kb: float, width_bits: float, what: str = "SRAM") -> SramFigures:
        """The figures of one ``capacity_kb`` x ``width_bits`` array (log-log bilinear)."""
        key = (float(capacity_kb), float(width_bits))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        caps, ws = self.capacities_kb, self.widths_bits
        rng = (f"this table ({self.source}) covers {caps[0]:g}..{caps[-1]:g} KB x "
               f"{ws[0]}..{ws[-1]} bits; regenerate it wider (make energy-tables) or select "
               f"memory_model: table2 (docs/energy.md)")
        try:
            c0, c1, fc = self._bracket(caps, key[0])
            w0, w1, fw = self._bracket(ws, key[1])
        except ValueError:
            raise ConfigError(f"{what}: {capacity_kb:g} KB x {width_bits:g} bits is outside the "
                              f"CACTI table: {rng}") from None
        corners = [(self.grid[(caps[c], ws[w])], wt) for c, w, wt in (
            (c0, w0, (1 - fc) * (1 - fw)), (c0, w1, (1 - fc) * fw),
            (c1, w0, fc * (1 - fw)), (c1, w1, fc * fw)) if wt > 0 or (c, w) == (c0, w0)]
        if any(f is None for f, _ in corners):
            raise ConfigError(f"{what}: {capacity_kb:g} KB x {width_bits:g} bits needs grid points "
                              f"whose width exceeds their capacity; {rng}")
        vals = []
        for col in COLUMNS:
            pts = [(getattr(f, col), wt) for f, wt in corners]
            if all(v > 0 for v, _ in pts):
                vals.append(math.exp(sum(wt * math.log(v) for v, wt in pts)))
            else:
                vals.append(sum(wt * v for v, wt in pts))
        out = SramFigures(*vals)
        self._cache[key] = out
        return out


_BUILTIN: dict[str, SramTable] = {}


def load_table(name_or_path: str, base: pathlib.Path | None = None,
               key: str = "sram_table") -> SramTable:
    """A table by path (relative paths from ``base``, the energy table's folder) or, when
    no such file exists, by the name of one shipped in ``eie_sim/arch/configs``."""
    try:
        p = pathlib.Path(name_or_path)
        if not p.is_absolute() and base is not None and (base / p).exists():
            p = base / p
        exists = p.exists()
    except (OSError, ValueError) as exc:        # a NUL byte, a name too long
        raise ConfigError(f"{key}: {name_or_path!r}: not a usable file name ({exc})") from None
    if not exists:
        builtin = builtin_table_path(p.name)
        if p.name != name_or_path or not builtin.exists():
            raise ConfigError(f"{key}: {name_or_path!r}: no such file (nor a built-in table)")
        if p.name not in _BUILTIN:
            _BUILTIN[p.name] = SramTable.load(builtin)
        return _BUILTIN[p.name]
    return SramTable.load(p)
