"""Architecture configuration: the EIE design point as one validated, immutable object.

Defaults are the paper's design point (Han et al., ISCA 2016, sec. IV-V and Table II):
64 PEs at 800 MHz, an 8-entry activation queue, 128 KB Spmat SRAM of 64-bit lines,
32 KB pointer SRAM of 16-bit pointers, 64 source + 64 destination activation registers
and a 2 KB activation SRAM per PE, 4-bit weight and relative indices, 16-bit fixed point,
a 4-way LNZD tree, a 3-cycle arithmetic pipeline (decode, multiply, add/write).

This module only describes and checks values; nothing here builds a model. Loading from
YAML (with key paths in every error) lives in :mod:`eie_sim.arch.config_io`; the run
options (:class:`RunOptions`, the ``run:`` block) are declared here beside the
architecture. Each field's range, unit and meaning is its spec (:mod:`eie_sim.arch.schema`).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from eie_sim.arch.schema import check_fields, spec, specs
from eie_sim.errors import ConfigError

#: the timing engines (run.engine; eie_sim.hw.engines builds them)
ENGINE_NAMES: tuple[str, ...] = ("fast", "simpy", "analytical")
#: the cycle-exact engines, those that can confirm an analytical result (run.confirm_engine)
CONFIRM_ENGINES: tuple[str, ...] = ("fast", "simpy")
#: DRAM presets (eie_sim/hw/units/dram.py; docs/dram.md); none: on chip only
DRAM_NAMES: tuple[str, ...] = ("none", "ddr4_3200", "lpddr4_4266", "lpddr5_6400", "hbm2")
#: how a PE's Spmat SRAM stores its column slices (docs/timing.md "Spmat encodings")
SPMAT_ENCODINGS: tuple[str, ...] = ("csc", "bitmask", "nm")
#: which layers stream their weights from DRAM (docs/dram.md)
DRAM_STREAM_NAMES: tuple[str, ...] = ("auto", "always")
#: where eie-sweep runs its points (run.executor; docs/cluster.md)
EXECUTOR_NAMES: tuple[str, ...] = ("local", "dask")
#: what a sweep does with a point whose layers do not fit the per-PE SRAMs (run.unfit_points)
UNFIT_CHOICES: tuple[str, ...] = ("exclude", "resize")

_OURS = "not in the paper (our choice)"


@dataclass(frozen=True)
class ArchConfig:
    """One EIE configuration. Each field's spec says which paper unit it belongs to, its
    range and where the value comes from (docs/config.md is generated from them)."""

    pes: int = spec(64, "int", "processing elements N; row i lives in PE i mod N",
                    range=(1, 1024), source="paper sec. IV, VI")
    clock_mhz: float = spec(800.0, "float", "clock frequency", range=(0.0, 1e5), unit="MHz",
                            source="paper sec. VI (45 nm, 800 MHz)")
    queue_depth: int = spec(8, "int", "activation queue entries **held** (authors' B=8 holds "
                            "7: use 7 for theirs)", range=(1, 65536),
                            source="paper Fig. 8; docs/timing.md choice 1")
    spmat_sram_kb: int = spec(128, "int", "sparse-matrix SRAM per PE", range=(1, 1 << 20),
                              unit="KB", source="paper sec. IV")
    spmat_width_bits: int = spec(64, "int", "Spmat SRAM line width; entries per line = width "
                                 "// entry bits (csc: weight_bits + index_bits)", range=(8, 4096),
                                 source="paper Fig. 9")
    pointer_sram_kb: int = spec(32, "int", "pointer SRAM per PE, even + odd banks",
                                range=(1, 1 << 20), unit="KB", source="paper sec. IV")
    pointer_bits: int = spec(16, "int", "width of one column pointer (released simulator: 32)",
                             range=(8, 64), source="paper sec. IV; reference sheet sec. 2")
    act_regs_per_pe: int = spec(64, "int", "source (and destination) activation registers per "
                                "PE; sets input batches and output passes", range=(1, 1 << 16),
                                source="paper sec. IV")
    act_sram_kb: int = spec(2, "int", "activation SRAM per PE", range=(1, 1 << 20), unit="KB",
                            source="paper sec. IV")
    act_sram_width_bits: int = spec(64, "int", "activation SRAM port width; batch load/store "
                                    "cycles = ceil(act_regs_per_pe x word_bits / width)",
                                    range=(8, 4096), source="not in the paper (our choice, "
                                    "docs/timing.md choice 4)")
    weight_bits: int = spec(4, "int", "weight (codebook) index bits; codebook of 2^bits "
                            "entries, code 0 = pruned", range=(1, 8), source="paper sec. III")
    index_bits: int = spec(4, "int", "relative row index z bits; runs longer than 2^bits - 1 "
                           "need padding entries", range=(1, 8), source="paper sec. III")
    word_bits: int = spec(16, "int", "fixed-point word of weights, activations, outputs",
                          range=(8, 32), source="paper sec. V, Fig. 10")
    act_frac_bits: int = spec(8, "int", "fraction bits of activations and outputs",
                              range=(0, 31), note="< word_bits", source=_OURS)
    weight_frac_bits: int = spec(12, "int", "fraction bits of decoded weights", range=(0, 31),
                                 note="< word_bits", source=_OURS)
    out_frac_bits: int | None = spec(
        None, "int", "fraction bits of outputs, accumulators and bias when they differ from "
        "the inputs' (null: `act_frac_bits`); set per layer by the `fixed_point:` rule",
        range=(0, 31), optional=True, note="< word_bits, <= act + weight fraction bits",
        source='not in the paper (docs/timing.md "Per-layer fixed point")')
    lnzd_fan_in: int = spec(4, "int", "children per LNZD node (64 PEs: 16 + 4 + 1 nodes)",
                            range=(2, 64), source="paper sec. IV")
    arithmetic_latency: int = spec(
        4, "int", "cycles from issue to accumulator write (Spmat read, decode, multiply, "
        "add/write); the run ends 2 cycles after the last write", range=(1, 64),
        source="released simulator (eie-reference.md section 4, rule 6)")
    dram: str = spec("ddr4_3200", "choice", "off-chip DRAM the weights of a layer too large for "
                     "the Spmat/pointer SRAMs stream from (docs/dram.md); `none`: no DRAM, such "
                     "a layer is refused (the paper's on-chip design)", choices=DRAM_NAMES,
                     source="JEDEC/datasheet figures per preset (docs/dram.md)")
    dram_stream: str = spec("auto", "choice", "`auto`: only layers that do not fit on chip "
                            "stream (a layer that fits runs exactly as without DRAM); "
                            "`always`: every layer streams", choices=DRAM_STREAM_NAMES,
                            source=_OURS)
    dram_bandwidth_gbps: float | None = spec(
        None, "float", "peak DRAM bandwidth replacing the preset's (null: the preset's)",
        range=(0.0, 1e5), optional=True, unit="GB/s", shown="null or (0, 1e+05]",
        text="null or a number in (0, 1e+05]", source="preset (docs/dram.md)")
    batch: int = spec(1, "int", "input vectors that share each broadcast and each weight "
                      "fetch (docs/dram.md \"Batching\"): a column is broadcast once with the "
                      "B activations and each of its entries issued once per vector with a "
                      "non-zero there; 1 is the paper's design", range=(1, 1024),
                      source="not in the paper (our choice, docs/dram.md)")
    chips: int = spec(1, "int", "EIE chips, each of `pes` PEs; a layer's rows are split into "
                      "`chips` contiguous blocks, the input broadcast over the link, the outputs "
                      "gathered (docs/llm.md \"Multi-chip EIE\"; 1: the paper's single chip)",
                      range=(1, 1024), source=_OURS)
    link_gbps: float = spec(31.5, "float", "inter-chip link bandwidth, one direction (with "
                            "`chips` > 1)", range=(0.0, 1e6), unit="GB/s",
                            source="PCIe 4.0 x16: 16 GT/s x 16 lanes x 128/130 / 8 (PCI-SIG "
                            "PCIe Base Specification 4.0)")
    link_latency_ns: int = spec(500, "int", "latency of one link transfer (with `chips` > 1)",
                                range=(0, 10 ** 9), unit="ns",
                                source="our choice, of the order of the PCIe DMA latencies "
                                "measured by Neugebauer et al., SIGCOMM 2018")

    spmat_encoding: str = spec("csc", "choice", "how the Spmat SRAM stores a PE's column slice: "
                               "`csc` relative row indices with filler entries (the paper's); "
                               "`bitmask` a mask of the PE's rows + the non-zero codes; `nm` N:M "
                               "groups of the PE's rows, each N (code, offset) slots, no column "
                               "pointers (docs/timing.md \"Spmat encodings\")",
                               choices=SPMAT_ENCODINGS,
                               source="csc: paper sec. III; bitmask, nm: not in the paper (our "
                               "model, issue 26)")
    nm_n: int = spec(2, "int", "`nm` encoding: non-zeros (slots) per group of `nm_m` local rows",
                     range=(1, 64), note="<= nm_m; used only with spmat_encoding: nm",
                     source=_OURS)
    nm_m: int = spec(4, "int", "`nm` encoding: local rows per group (a power of two; offsets "
                     "of log2(nm_m) bits)", range=(1, 64),
                     note="a power of two; used only with spmat_encoding: nm", source=_OURS)

    # ---- derived quantities (all rules in docs/timing.md) -------------------------
    @property
    def nm_offset_bits(self) -> int:
        """Bits of an ``nm`` slot's row offset within its group: log2(nm_m)."""
        return max(0, self.nm_m.bit_length() - 1)

    @property
    def entry_bits(self) -> int:
        """Bits of one stored Spmat entry (slot): ``csc`` weight index v + relative index z;
        ``bitmask`` the weight index alone (the row is in the mask); ``nm`` weight index +
        log2(nm_m) offset bits."""
        if self.spmat_encoding == "bitmask":
            return self.weight_bits
        if self.spmat_encoding == "nm":
            return self.weight_bits + self.nm_offset_bits
        return self.weight_bits + self.index_bits

    @property
    def entries_per_line(self) -> int:
        """Spmat entries in one SRAM line (rule S)."""
        return self.spmat_width_bits // self.entry_bits

    @property
    def spmat_capacity_entries(self) -> int:
        return self.spmat_sram_kb * 1024 * 8 // self.entry_bits

    @property
    def pointer_capacity(self) -> int:
        """Pointers one PE's pointer SRAM holds."""
        return self.pointer_sram_kb * 1024 * 8 // self.pointer_bits

    @property
    def max_pointer_value(self) -> int:
        return (1 << self.pointer_bits) - 1

    @property
    def max_z(self) -> int:
        """Largest zero run one entry can skip; a longer run needs a padding entry."""
        return (1 << self.index_bits) - 1

    @property
    def codebook_size(self) -> int:
        return 1 << self.weight_bits

    @property
    def act_sram_capacity(self) -> int:
        """Activations one PE's activation SRAM holds."""
        return self.act_sram_kb * 1024 * 8 // self.word_bits

    @property
    def batch_load_cycles(self) -> int:
        """Cycles to load one batch of source registers from the activation SRAM."""
        return math.ceil(self.act_regs_per_pe * self.word_bits / self.act_sram_width_bits)

    @property
    def batch_store_cycles(self) -> int:
        """Cycles to write one pass of destination registers to the activation SRAM."""
        return self.batch_load_cycles

    @property
    def lnzd_nodes(self) -> int:
        """Nodes of the LNZD tree (64 PEs, fan-in 4: 16 + 4 + 1 = 21)."""
        nodes, width = 0, self.pes
        while width > 1:
            width = math.ceil(width / self.lnzd_fan_in)
            nodes += width
        return nodes

    @property
    def streams_possible(self) -> bool:
        """A DRAM is attached (``dram`` is not ``none``)."""
        return self.dram != "none"

    @property
    def cycle_ns(self) -> float:
        return 1e3 / self.clock_mhz

    @property
    def output_frac_bits(self) -> int:
        """Fraction bits of outputs, accumulators and bias (``out_frac_bits``, default
        ``act_frac_bits``)."""
        return self.act_frac_bits if self.out_frac_bits is None else self.out_frac_bits

    @property
    def product_shift(self) -> int:
        """Fraction bits a product ``w * a`` drops when rounded to the accumulator:
        ``weight_frac_bits + act_frac_bits - output_frac_bits`` (= ``weight_frac_bits``
        with one format; docs/timing.md rule A)."""
        return self.weight_frac_bits + self.act_frac_bits - self.output_frac_bits

    # ---- checks -------------------------------------------------------------------
    def validate(self) -> "ArchConfig":
        """Raise :class:`ConfigError` naming the first impossible value; return self."""
        check_fields(self)                   # each field's type and range (its spec)
        if self.nm_m & (self.nm_m - 1):
            raise ConfigError(f"nm_m: {self.nm_m} is not a power of two (the offset of a row in "
                              f"its group is log2(nm_m) bits)")
        if self.nm_n > self.nm_m:
            raise ConfigError(f"nm_n: {self.nm_n} non-zeros per group exceed the group's "
                              f"nm_m={self.nm_m} rows (need 1 <= nm_n <= nm_m)")
        if self.entries_per_line < 1:
            what = {"csc": "weight_bits + index_bits", "bitmask": "weight_bits",
                    "nm": "weight_bits + log2(nm_m)"}[self.spmat_encoding]
            raise ConfigError(
                f"spmat_width_bits: {self.spmat_width_bits} bits cannot hold one "
                f"{self.entry_bits}-bit entry ({what})")
        if self.act_frac_bits >= self.word_bits:
            raise ConfigError(
                f"act_frac_bits: {self.act_frac_bits} must be below word_bits ({self.word_bits})")
        if self.weight_frac_bits >= self.word_bits:
            raise ConfigError(
                f"weight_frac_bits: {self.weight_frac_bits} must be below word_bits ({self.word_bits})")
        if self.out_frac_bits is not None:
            o = self.out_frac_bits
            if o >= self.word_bits:
                raise ConfigError(f"out_frac_bits: expected null or an integer in "
                                  f"0..{self.word_bits - 1} (< word_bits), got {o!r}")
            if self.product_shift < 0:
                raise ConfigError(
                    f"out_frac_bits: {o} exceeds weight_frac_bits + act_frac_bits "
                    f"({self.weight_frac_bits} + {self.act_frac_bits}): a product has no more "
                    f"fraction bits than that")
        if self.act_regs_per_pe > self.act_sram_capacity:
            raise ConfigError(
                f"act_regs_per_pe: {self.act_regs_per_pe} registers exceed what act_sram_kb="
                f"{self.act_sram_kb} holds ({self.act_sram_capacity} words)")
        return self

    def replace(self, **changes) -> "ArchConfig":
        """A validated copy with some fields changed (unknown names are an error)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown}; known keys: {sorted(names)}")
        return dataclasses.replace(self, **changes).validate()

    def as_dict(self) -> dict:
        # every field is a scalar: a plain field copy (dataclasses.asdict deep-copies,
        # which cost ~10 % of a LeNet image's simulation)
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def record_dict(self) -> dict:
        """:meth:`as_dict` without the :data:`LATER_KEYS` that hold their defaults: what a
        sweep database stores and hashes, so that a database written before those keys
        existed still resumes (it describes the same configuration)."""
        d = self.as_dict()
        for k, default in LATER_KEYS.items():
            if d[k] == default and type(d[k]) is type(default):
                del d[k]
        return d


@dataclass(frozen=True)
class RunOptions:
    """How to run (not what hardware): engine, cross-check, seeds, outputs (the ``run:``
    block of a configuration file)."""

    engine: str = spec("fast", "choice", "timing engine (numba, or the simpy unit model: "
                       "identical counters by specification; analytical: a closed-form "
                       "estimate, docs/analytical.md)", choices=ENGINE_NAMES)
    verify: bool = spec(False, "bool", "run both engines on every pass; any differing counter "
                        "is an error (with `engine: analytical` in `eie-sweep`: run the full "
                        "analytical engine with the numpy output check instead of the "
                        "estimate-only path, docs/analytical.md)")
    seed: int = spec(0, "int", "seed of synthetic layers/inputs that do not give their own; "
                     "recorded in every report", range=(0, 2 ** 63 - 1),
                     text="an integer >= 0", shown="integer >= 0")
    out: str | None = spec(None, "path", "results bundle directory (`--out` wins)",
                           optional=True, text="a directory path or null")
    relu: bool = spec(True, "bool", "ReLU on the outputs of independent layers (networks: "
                      "between layers, never after the last); `--no-relu` sets it to `false`")
    workers: int = spec(2, "int", "processes of `eie-sweep` (1: in-process), or the workers "
                        "of its dask LocalCluster", range=(1, 256))
    executor: str = spec("local", "choice", "where `eie-sweep` runs its points: local "
                         "processes, or dask.distributed (docs/cluster.md); the results are "
                         "the same", choices=EXECUTOR_NAMES)
    scheduler: str | None = spec(
        None, "address", "with `executor: dask`: the scheduler of a running cluster (null: a "
        "LocalCluster of `workers` workers); set only by `eie-sweep --scheduler ADDR` (which "
        "also sets `executor: dask`); a file or `--set` naming one is refused (docs/cluster.md)",
        optional=True, text="a scheduler address such as tcp://host:8786, or null",
        shown="`tcp://host:port` or null")
    energy_table: str | None = spec(
        None, "path", "YAML energy table replacing `eie_sim/arch/configs/energy_45nm.yaml` "
        "(docs/energy.md); keys left out keep the built-in values, e.g. a file holding "
        "`memory_model: table2` selects the paper-Table-II memory model instead of CACTI",
        optional=True, text="a YAML file path or null")
    check_fit: bool = spec(True, "bool", "refuse layers that exceed the per-PE memories; "
                           "`--no-fit-check` sets it to `false`")
    unfit_points: str = spec(
        "exclude", "choice", "with `check_fit: false`, what a sweep (`eie-sweep`, "
        "`eie_sim.sweep`) does with a point whose layers exceed the per-PE SRAMs: `exclude` "
        "prices it with the configured SRAMs, marks it `fits = false` in every table and "
        "leaves it out of Pareto fronts and search objectives; `resize` prices its energy and "
        "area with the SRAMs it would need (`priced_*` columns) and keeps it on the fronts; "
        "with `check_fit: true` such a point is refused (a failed point); no effect in "
        "`eie-simulate`", choices=UNFIT_CHOICES)
    window: int | None = spec(
        None, "int", "record every layer and count per window of this many cycles: "
        "`windows.csv` and its plots in `report.html` (docs/timeline.md); `--window W` sets "
        "it; needs a results bundle; not for `--lenet`/`--squeezenet` (refused), no effect "
        "in `eie-sweep`", range=(1, 2 ** 40 - 1), optional=True,
        text="an integer >= 1 (cycles) or null", shown="integer >= 1 or null")
    confirm_engine: str | None = spec(
        None, "choice", "null: none; with `engine: analytical` in `eie-sweep`: re-run the points of the "
        "Pareto front with this cycle-exact engine when the sweep or search is done, and "
        "report both results and their error per front point (`confirm.csv`, "
        "`summary.json` `confirm`, docs/analytical.md); not part of the sweep's identity (an "
        "analytical sweep folder is confirmed by rerunning it with this key); no effect in "
        "`eie-simulate`", choices=CONFIRM_ENGINES, optional=True)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


#: keys added after the sweep database's format was fixed (docs/dram.md), with the default
#: that means "as before them" (ArchConfig.record_dict leaves them out at that value)
LATER_KEYS: dict = {"dram": "ddr4_3200", "dram_stream": "auto", "dram_bandwidth_gbps": None,
                    "batch": 1, "chips": 1, "link_gbps": 31.5, "link_latency_ns": 500,
                    "spmat_encoding": "csc", "nm_n": 2, "nm_m": 4}

#: name -> (minimum, maximum) of the integer architecture keys (from their specs)
INT_RANGES: dict[str, tuple[int, int]] = {
    k: s.range for k, s in specs(ArchConfig).items() if s.kind == "int" and not s.optional}

#: the paper's design (sec. IV): every weight on chip, no DRAM to stream from (``dram:
#: none``); the paper benchmarks' scaling studies simulate a layer larger than the SRAMs
#: as if they held it (``check_fit=False``), not streamed
PAPER_CONFIG = ArchConfig(dram="none").validate()
