"""One result type for every layer, fully-connected or convolution, and network totals.

A :class:`LayerResult` holds the counters of the vectors that ran (one for a
fully-connected layer, one per output position for a convolution) and derives the layer's
figures from them. When only a sample of a convolution's positions ran, every
*extensive* figure (cycles, time, energy, MACs, reads, stalls, batch cycles, saturations)
is the sampled sum x positions / sampled (:meth:`LayerResult.extensive`) and the result
says so (:attr:`LayerResult.extrapolated`); the *intensive* ones (per-position cycles,
efficiencies, densities, errors) are over the vectors that ran.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eie_sim.arch.energy import ENERGY_PARTS, EnergyEstimate
from eie_sim.arch.fixed_point import to_float
from eie_sim.hw.counters import LayerCounters, PECounters, load_efficiency
from eie_sim.hw.trace import LayerTimeline, WindowCounters
from eie_sim.sim.columns import ENERGY_AREA_COLUMNS, LAYER_COLUMNS, energy_area_row, layer_row

__all__ = ["ENERGY_AREA_COLUMNS", "LAYER_COLUMNS", "ErrorSummary", "LayerResult",
           "NetworkResult", "network_totals"]


@dataclass
class ErrorSummary:
    """The check's largest error against the float reference, the bound at that output,
    and the smallest slack ``bound - error`` over all outputs (0 when nothing was checked)."""

    max_error: float = 0.0
    max_error_bound: float = 0.0
    min_error_slack: float = 0.0
    outputs: int = 0              #: outputs checked
    max_bound: float = 0.0        #: the largest bound over all outputs

    @classmethod
    def of(cls, err: np.ndarray, bound: np.ndarray) -> "ErrorSummary":
        if not err.size:
            return cls()
        i = int(np.argmax(err))
        return cls(float(err.flat[i]), float(bound.flat[i]), float(np.min(bound - err)),
                   int(err.size), float(np.max(bound)))

    def merge(self, other: "ErrorSummary") -> "ErrorSummary":
        """Both sets of outputs (the first largest error is kept on ties)."""
        if not other.outputs:
            return self
        if not self.outputs:
            return other
        top = other if other.max_error > self.max_error else self
        return ErrorSummary(top.max_error, top.max_error_bound,
                            min(self.min_error_slack, other.min_error_slack),
                            self.outputs + other.outputs, max(self.max_bound, other.max_bound))


@dataclass
class LayerResult:
    """Everything measured for one layer (counters summed over passes and vectors).

    Layer level (docs/timing.md "Output passes"): each vector's cycles are its pass
    cycles + batch store cycles + pass reload cycles, and ``counters.pe.starved`` counts
    those overhead cycles as starved on every PE, so ``busy + padding + empty + starved``
    equals the cycles of the vectors that ran, for each PE.
    """

    name: str
    rows: int
    cols: int
    pes: int
    clock_mhz: float
    nnz: int
    weight_density: float
    counters: LayerCounters
    positions: np.ndarray             #: int64 indices of the vectors that ran
    positions_total: int              #: vectors of the layer (1 for a fully-connected layer)
    input_nonzeros_pos: np.ndarray    #: int64 non-zero fixed-point inputs of each vector
    float_act_density: float          #: non-zero fraction of the float inputs
    input_saturations: int
    output_saturations: int
    max_error: float
    max_error_bound: float            #: the bound of the output with the largest error
    min_error_slack: float            #: min over outputs of (bound - error) >= 0
    output_q: np.ndarray              #: int64 (vectors, rows), saturated, ReLU'd if asked
    energy: EnergyEstimate            #: energy model of the vectors that ran
    engine: str
    verified: bool
    synthetic: bool
    seeds: dict[str, Any]
    config: dict[str, Any]
    source: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    timeline: LayerTimeline | None = field(default=None, repr=False)   #: when recorded
    windows: WindowCounters | None = field(default=None, repr=False)   #: with run.window

    # ---- vectors and extrapolation ---------------------------------------------------
    @property
    def pe(self) -> PECounters:
        """Per-PE counters summed over passes and the vectors that ran."""
        return self.counters.pe

    @property
    def passes(self) -> int:
        return self.counters.passes

    @property
    def simulated(self) -> int:
        return int(self.positions.size)

    @property
    def extrapolated(self) -> bool:
        """True when only a sample of the positions ran (layer totals = mean x positions)."""
        return self.simulated < self.positions_total

    @property
    def scale(self) -> float:
        return self.positions_total / self.simulated if self.simulated else 0.0

    def extensive(self, value):
        """A sum over the vectors that ran as a layer total: itself when every vector ran,
        else extrapolated (``value x positions / simulated``, float)."""
        return value * self.scale if self.extrapolated else value

    @property
    def output(self) -> np.ndarray:
        """The outputs as floats (``output_q`` / 2**output fraction bits)."""
        return to_float(self.output_q, self.out_frac_bits)

    @property
    def out_frac_bits(self) -> int:
        """Fraction bits of the outputs: ``out_frac_bits``, default ``act_frac_bits``."""
        o = self.config.get("out_frac_bits")
        return int(self.config["act_frac_bits"] if o is None else o)

    def fixed_point_columns(self) -> dict[str, Any]:
        """The layer's fixed-point formats of inputs, outputs (and bias) and weights in Q
        notation, ``Qm.n``: a sign bit, ``m`` integer and ``n`` fraction bits
        (docs/timing.md "Per-layer fixed point")."""
        c = self.config
        w = int(c["word_bits"])
        fi, fo, fw = int(c["act_frac_bits"]), self.out_frac_bits, int(c["weight_frac_bits"])
        return {"in_format": f"Q{w - 1 - fi}.{fi}", "out_format": f"Q{w - 1 - fo}.{fo}",
                "weight_format": f"Q{w - 1 - fw}.{fw}"}

    def output_map(self, out_hw: tuple[int, int]) -> np.ndarray:
        """A convolution's float outputs as ``(1, rows, oh, ow)`` (needs every position)."""
        if self.extrapolated:
            raise ValueError(f"layer {self.name!r}: only {self.simulated} of "
                             f"{self.positions_total} positions were simulated")
        oh, ow = out_hw
        return self.output.reshape(1, oh, ow, self.rows).transpose(0, 3, 1, 2)

    # ---- time ------------------------------------------------------------------------
    @property
    def cycles_simulated(self) -> int:
        return self.counters.cycles

    @property
    def cycles(self) -> float | int:
        """Layer cycles: the exact sum (int), or mean x positions when sampled (float)."""
        return self.extensive(self.cycles_simulated)

    @property
    def cycles_per_position(self) -> float:
        return self.cycles_simulated / self.simulated if self.simulated else 0.0

    @property
    def cycle_ns(self) -> float:
        return 1e3 / self.clock_mhz

    @property
    def time_us(self) -> float:
        return self.cycles * self.cycle_ns / 1e3

    # ---- work --------------------------------------------------------------------------
    @property
    def useful_macs(self):
        """Real (non-padding) entries processed, bias-column entries included."""
        return self.extensive(int(self.pe.busy.sum()))

    @property
    def padding_macs(self):
        return self.extensive(int(self.pe.padding.sum()))

    @property
    def theoretical_cycles(self) -> float:
        """Useful MACs / N (paper sec. VI: workload / peak throughput)."""
        return self.useful_macs / self.pes

    @property
    def theoretical_cycles_padded(self) -> float:
        return (self.useful_macs + self.padding_macs) / self.pes

    @property
    def theoretical_cycles_per_position(self) -> float:
        return self.theoretical_cycles / self.positions_total if self.positions_total else 0.0

    @property
    def theoretical_time_us(self) -> float:
        return self.theoretical_cycles * self.cycle_ns / 1e3

    @property
    def theoretical_time_padded_us(self) -> float:
        return self.theoretical_cycles_padded * self.cycle_ns / 1e3

    @property
    def actual_over_theoretical(self) -> float:
        return self.cycles / self.theoretical_cycles if self.theoretical_cycles else math.inf

    @property
    def actual_over_theoretical_padded(self) -> float:
        t = self.theoretical_cycles_padded
        return self.cycles / t if t else math.inf

    @property
    def load_efficiency(self) -> float:
        """1 - starved / (N T) (Fig. 8, 13) at layer level over the vectors that ran:
        batch store and pass reload cycles are starved cycles of every PE (docs/timing.md)."""
        return load_efficiency(self.pe.starved.sum(), self.pes, self.cycles_simulated)

    @property
    def pes_with_rows(self) -> int:
        """PEs that hold at least one row (``min(N, rows)``). With fewer rows than PEs the
        others only ever see empty columns, which count as not starved, so load efficiency
        stays high although only this many PEs do real work (docs/timing.md
        "Per-PE cycle accounting")."""
        return min(self.pes, self.rows)

    @property
    def authors_efficiency(self) -> float:
        """busy / (N T): the released simulator's efficiency counter."""
        c = self.cycles_simulated
        return float(self.pe.busy.sum()) / (self.pes * c) if c else 0.0

    @property
    def real_over_total_work(self) -> float:
        """busy / (busy + padding) (Fig. 12)."""
        tot = self.useful_macs + self.padding_macs
        return self.useful_macs / tot if tot else 1.0

    @property
    def padding_share(self) -> float:
        """padding / (busy + padding): the share of issued entries that are padding."""
        return 1.0 - self.real_over_total_work

    @property
    def act_density(self) -> float:
        """Mean over vectors of the fixed-point non-zero fraction (what the CCU sees)."""
        return float(self.input_nonzeros_pos.mean()) / self.cols if self.simulated else 0.0

    # ---- energy ------------------------------------------------------------------------
    @property
    def energy_uj(self) -> float:
        return self.extensive(float(self.energy.energy_uj))

    @property
    def avg_power_w(self) -> float:
        return float(self.energy.avg_power_w)

    def energy_area_columns(self) -> dict[str, Any]:
        """Energy by unit (layer totals, uJ) and area by unit per PE and of the chip (mm^2),
        :data:`ENERGY_AREA_COLUMNS` (docs/energy.md)."""
        return energy_area_row(self)

    def to_dict(self) -> dict[str, Any]:
        """The per-layer scalar row, keys :data:`LAYER_COLUMNS` (``layers.csv``, docs/config.md;
        the columns and how each is computed: :data:`eie_sim.sim.columns.LAYER_COLUMN_SPEC`).

        Sums over vectors are layer totals (:meth:`extensive`); the ``*_per_position``
        figures are per vector (a fully-connected layer has one)."""
        return layer_row(self)


@dataclass
class NetworkResult:
    """Layers run one after the other (or independent layers of one workload)."""

    layers: list[LayerResult]

    @property
    def output_q(self) -> np.ndarray:
        return self.layers[-1].output_q

    @property
    def output(self) -> np.ndarray:
        return self.layers[-1].output

    @property
    def cycles(self):
        return sum(l.cycles for l in self.layers)

    @property
    def time_us(self) -> float:
        return sum(l.time_us for l in self.layers)

    @property
    def energy_uj(self) -> float:
        return sum(l.energy_uj for l in self.layers)

    def totals(self) -> dict[str, Any]:
        """:func:`network_totals` of the layers."""
        return network_totals(self.layers)

    def to_dict(self) -> dict[str, Any]:
        return {"totals": self.totals(), "layers": [l.to_dict() for l in self.layers]}


def network_totals(layers: list[LayerResult]) -> dict[str, Any]:
    """Totals over layers (one image through a network), extrapolated layers labelled."""
    L = layers
    n = L[0].pes if L else 1
    busy = sum(l.useful_macs for l in L)
    pad = sum(l.padding_macs for l in L)
    starved = sum(l.extensive(int(l.pe.starved.sum())) for l in L)   # overheads included
    cyc = sum(l.cycles for l in L)
    t_us = sum(l.time_us for l in L)
    e_uj = sum(l.energy_uj for l in L)
    theo = busy / n
    return {"layers": len(L), "extrapolated": any(l.extrapolated for l in L),
            "positions": sum(l.positions_total for l in L),
            "positions_simulated": sum(l.simulated for l in L),
            "cycles": cyc, "time_us": t_us, "images_per_s": 1e6 / t_us if t_us else 0.0,
            "theoretical_time_us": sum(l.theoretical_time_us for l in L),
            "theoretical_time_padded_us": sum(l.theoretical_time_padded_us for l in L),
            "actual_over_theoretical": cyc / theo if theo else math.inf,
            "load_efficiency": load_efficiency(starved, n, cyc),
            "real_over_total_work": busy / (busy + pad) if busy + pad else 1.0,
            "useful_macs": busy, "padding_macs": pad,
            "dense_macs": sum(l.rows * l.cols * l.positions_total for l in L),
            "batch_load_cycles": sum(l.extensive(l.counters.batch_load_cycles) for l in L),
            "batch_store_cycles": sum(l.extensive(l.counters.batch_store_cycles) for l in L),
            "pass_reload_cycles": sum(l.extensive(l.counters.pass_reload_cycles) for l in L),
            "streamed_layers": sum(bool(l.counters.streamed) for l in L),
            "dram_bytes": sum(l.extensive(l.counters.dram_bytes) for l in L),
            "dram_stall_cycles": sum(l.extensive(int(l.pe.dram_stall_cycles.sum())) for l in L),
            "energy_dram_uj": sum(l.extensive(float(l.energy.dram_pj))
                                  for l in L) * 1e-6,
            "total_energy_uj": e_uj,
            "avg_power_w": (e_uj * 1e-6) / (t_us * 1e-6) if t_us else 0.0,
            **_energy_area_totals(L),
            "max_error": max((l.max_error for l in L), default=0.0),
            "min_error_slack": min((l.min_error_slack for l in L), default=0.0),
            "input_saturations": sum(l.extensive(l.input_saturations) for l in L),
            "output_saturations": sum(l.extensive(l.output_saturations) for l in L)}


def _energy_area_totals(layers: list[LayerResult]) -> dict[str, Any]:
    """Energy by unit summed over layers; the area of the (first) layer's design point."""
    rows = [l.energy_area_columns() for l in layers]
    out: dict[str, Any] = {"energy_model": rows[0]["energy_model"] if rows else ""}
    out.update({f"energy_{p}_uj": sum(r[f"energy_{p}_uj"] for r in rows) for p in ENERGY_PARTS})
    for c in ENERGY_AREA_COLUMNS:
        if c.endswith("_mm2"):
            out[c] = rows[0][c] if rows else ""
    return out


def top_k(scores: np.ndarray, k: int = 5) -> list[int]:
    """Indices of the ``k`` largest values of a flattened score blob (ties: lower index)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.lexsort((np.arange(s.size), -s))
    return [int(i) for i in order[:k]]


@dataclass
class NetRun:
    """A network's weight layers on EIE: what :func:`eie_sim.sim.runner.run_net` returns.

    ``mode`` ``"per-layer"``: each layer fed the float network's input of that layer (a
    sample of ``positions`` output positions per layer, or all); ``"chained"``: each layer
    fed the previous layers' EIE fixed-point outputs (host operators in between), with the
    chain's output, the float network's, per-layer errors and formats
    (:mod:`eie_sim.sim.chain`). The descriptive fields (title, source, operators,
    compression) are filled by whoever knows where the network came from (an application)
    and read by :mod:`eie_sim.output.netrun`.
    """

    name: str                                   #: the network's name
    mode: str                                   #: "per-layer" or "chained"
    layers: list[LayerResult]                   #: the EIE layers, in order
    config: Any                                 #: the ArchConfig the layers ran with
    overrides: list[dict] = field(default_factory=list)   #: {key, old, new, why} of the format
    positions: int | None = None                #: None: every position; N: a sample per layer
    seeds: dict[str, Any] = field(default_factory=dict)
    fit: list[dict] = field(default_factory=list)          #: per layer SRAM fit rows
    check_fit: bool = True                      #: False: layers ran without the fit check
    notes: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    synthetic: bool = False                     #: weights not from a trained model
    title: str = ""
    source: dict[str, Any] = field(default_factory=dict)   #: where the network and input came from
    input_hw: tuple[int, int] | None = None
    operators: list[dict] = field(default_factory=list)    #: how each layer type ran
    compression: list[dict] = field(default_factory=list)  #: Table 2 rows of the weights, Total last
    # ---- chained mode
    formats: dict[str, Any] = field(default_factory=dict)  #: layer -> LayerFormat
    output: np.ndarray | None = None            #: the last blob (EIE chain + host operators)
    float_output: np.ndarray | None = None      #: the same blob of the float forward pass
    errors: list = field(default_factory=list)  #: per EIE layer, sim.chain.LayerError
    fused_relu: list[str] = field(default_factory=list)    #: ReLU/Clip layers EIE applied
    host_layers: list[str] = field(default_factory=list)   #: layers computed on the host
    # ---- an LLM decode step (eie_sim.apps.llm)
    llm: dict[str, Any] = field(default_factory=dict)      #: decode-step figures, or empty

    @property
    def extrapolated(self) -> bool:
        return any(l.extrapolated for l in self.layers)

    def totals(self) -> dict[str, Any]:
        """:func:`network_totals` of the EIE layers (one image)."""
        return network_totals(self.layers)

    def top_layers(self, k: int = 5) -> list[dict[str, Any]]:
        """The ``k`` layers with the most cycles and their share of the total."""
        tot = float(sum(l.cycles for l in self.layers)) or 1.0
        ls = sorted(self.layers, key=lambda l: -float(l.cycles))[:k]
        return [{"layer": l.name, "cycles": float(l.cycles), "share": float(l.cycles) / tot,
                 "class": l.meta.get("class", ""), "load_efficiency": l.load_efficiency}
                for l in ls]

    def top_k(self, k: int = 5) -> tuple[list[int], list[int]]:
        """``(EIE top-k, float top-k)`` class indices of the last blob of a chained run
        (largest first; ties by lower index)."""
        if self.output is None or self.float_output is None:
            raise ValueError("top_k needs a chained run (mode='chained')")
        return top_k(self.output, k), top_k(self.float_output, k)
