"""The axes of the sparse-format shoot-out (:mod:`benchmarks.bench_shootout`): Spmat
encodings, pruning rules, the quick and full grids, and the stored bits of a layer.

* **Encodings** (:data:`ENCODINGS`): the paper's CSC with 4-bit relative row indices
  (EIE sec. III-B) and the same with 2- and 8-bit indices (``index_bits``; fewer bits need
  more filler entries, more bits make every entry wider), plus the encodings of issue 26
  that a build may not have yet: a bitmask per column slice and N:M with its metadata
  (arch key ``spmat_encoding``, with ``nm_n``/``nm_m``). :func:`encoding_support` reads the
  installed :class:`~eie_sim.arch.config.ArchConfig` (its fields and the key's choices),
  so an encoding the build does not accept is skipped with a note, and picked up as soon
  as it does.
* **Pruning rules** (:data:`PRUNING_RULES`): unstructured magnitude pruning (Deep
  Compression), N:M along the input dimension, 4x4 blocks and ESE's load-balance-aware
  pruning over the simulated PEs (``compressor.prune``). Each rule is one row of the
  list: a new rule (simulator-in-the-loop pruning, issue 26) is one more entry.
* **Stored bits** (:func:`stored_bits`): what the simulator's own layout stores for the
  weight matrix: every Spmat entry (filler/padding entries included) at ``entry_bits``
  and every column pointer, over all PEs and output passes.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from compressor.prune import balanced_mask, prune_mask, structured_mask
from eie_sim.apps.hw_prune import hw_prune_layer
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.schema import specs
from eie_sim.errors import ConfigError
from eie_sim.hw import layout as layout_mod
from eie_sim.hw.encodings import prune_nm


#: structure prefix of the rule pruning N:M over each PE's local rows (``pe-nm:N:M``)
PE_NM = "pe-nm:"
#: activation registers per PE of the paper's design (output pass = pes x this many rows)
PAPER_ACT_REGS = ArchConfig().act_regs_per_pe

# ------------------------------------------------------------------------------ encodings
@dataclass(frozen=True)
class Encoding:
    """One Spmat encoding: ``kind`` is the value of the arch key ``spmat_encoding``
    (``csc`` is the paper's, the only one before that key exists), ``keys`` further arch
    keys (CSC: ``index_bits``). ``nm``'s ``nm_n``/``nm_m`` come from the pruning rule."""

    name: str
    kind: str
    keys: dict = field(default_factory=dict)


ENCODINGS: tuple[Encoding, ...] = (
    Encoding("csc-i2", "csc", {"index_bits": 2}),
    Encoding("csc-i4", "csc", {"index_bits": 4}),     # the paper's (EIE sec. III-B)
    Encoding("csc-i8", "csc", {"index_bits": 8}),
    Encoding("bitmask", "bitmask"),
    Encoding("nm", "nm"),
)
#: the encoding the analytical model is checked on (the paper's)
REFERENCE_ENCODING = "csc-i4"


def _arch_keys() -> set[str]:
    return {f.name for f in dataclasses.fields(ArchConfig)}


def encoding_support(enc: Encoding) -> str | None:
    """None when the installed simulator accepts ``enc``, else why not (one line)."""
    keys = _arch_keys()
    if enc.kind == "csc":
        missing = sorted(set(enc.keys) - keys)
        return f"ArchConfig has no key(s) {missing}" if missing else None
    if "spmat_encoding" not in keys:
        return "this build's ArchConfig has no `spmat_encoding` key (CSC only)"
    choices = specs(ArchConfig)["spmat_encoding"].choices
    if choices and enc.kind not in choices:
        return f"`spmat_encoding` does not accept {enc.kind!r} (choices: {', '.join(choices)})"
    if enc.kind == "nm" and not {"nm_n", "nm_m"} <= keys:
        return "ArchConfig has no `nm_n`/`nm_m` keys"
    if not callable(getattr(layout_mod, "stored_bits", None)):
        return ("eie_sim.hw.layout has no stored_bits(layout, cfg) to count this encoding's "
                "bits (the shoot-out counts CSC from the layout itself)")
    return None


def encoding_config(base: ArchConfig, enc: Encoding, structure: str | None) -> ArchConfig | str:
    """``base`` set to encoding ``enc``, or a one-line reason it does not apply (``nm``
    needs an N:M-pruned matrix: ``structure`` is the pruning rule's ``"N:M"`` string)."""
    changes = dict(enc.keys)
    if "spmat_encoding" in _arch_keys():
        changes["spmat_encoding"] = enc.kind
    if enc.kind == "nm":
        if not structure or not structure.startswith(PE_NM):
            return ("nm encoding needs a matrix pruned N:M over each PE's local rows "
                    "(the rule `N:M (PE rows)`)")
        n, m = (int(v) for v in structure[len(PE_NM):].split(":"))
        changes.update(nm_n=n, nm_m=m)
    try:
        return base.replace(**changes)
    except ConfigError as exc:
        return f"configuration refused: {exc}"


def stored_bits(wl, cfg: ArchConfig) -> int:
    """Bits the layout stores for ``wl``'s matrix on ``cfg``, over every PE and output
    pass (:func:`eie_sim.hw.layout.stored_bits`: Spmat slots with fillers, padding and
    empty N:M slots, bitmask lines, column pointers); ``wl`` should carry no bias so that
    only the weights are counted."""
    return int(layout_mod.stored_bits(wl.layout(cfg.replace(chips=1), check_fit=False), cfg)["total"])


# ---------------------------------------------------------------------------- pruning rules
def nm_pow2_for_density(density: float) -> str:
    """``"N:M"`` with ``M`` a power of two (what the ``nm`` encoding's log2(M)-bit offsets
    need): exactly ``density`` for the smallest ``M`` of 4..64 that allows it, else the
    nearest ``N:32`` (0.1 -> 3:32, i.e. 9.4 %; the table's density column is the kept
    fraction)."""
    for m in (4, 8, 16, 32, 64):
        n = density * m
        if n >= 1 and abs(n - round(n)) < 1e-9:
            return f"{round(n)}:{m}"
    return f"{max(1, round(density * 32))}:32"


def nm_for_density(density: float) -> str | None:
    """The ``"N:M"`` rule whose ``N/M`` equals ``density`` for the smallest ``M`` of
    4, 8, 10, 16, 20, 32 (2:4 at 50 %, 1:4 at 25 %, 1:10 at 10 %, 1:20 at 5 %), else None."""
    for m in (4, 8, 10, 16, 20, 32):
        n = density * m
        if n >= 1 and abs(n - round(n)) < 1e-9:
            return f"{round(n)}:{m}"
    return None


@dataclass(frozen=True)
class PruningRule:
    """One pruning rule of the shoot-out. ``structure(density, pes)`` gives the
    ``compressor.prune`` structure string (None: unstructured magnitude; ``""``: the rule
    does not apply at that density). ``per_pe``: the mask depends on the PE count, so it
    is made (and, for a network with a dataset, retrained and measured) per PE count.
    ``fixed``: the rule keeps the matrix's own mask (``density`` is ignored)."""

    name: str
    structure: Callable[[float, int], str | None]
    per_pe: bool = False
    fixed: bool = False
    #: simulator in the loop (:func:`eie_sim.apps.hw_prune.hw_prune_layer`): needs the
    #: layer's sample inputs
    loop: bool = False

    def mask(self, w: np.ndarray, density: float, pes: int, old: np.ndarray | None,
             x: np.ndarray | None = None) -> np.ndarray | str:
        """Keep-mask of ``w`` (a subset of ``old`` when given), or a reason it does not
        apply. Balanced pruning spreads over ``min(pes, rows)`` PEs (a layer with fewer
        rows than PEs leaves PEs without rows, which no mask can balance). ``x``: the
        layer's sample inputs (the simulator-in-the-loop rule simulates them)."""
        if self.fixed:
            return old.copy() if old is not None else "needs the matrix's own mask"
        if self.loop:
            if x is None:
                return "needs the layer's sample inputs"
            src = np.where(old, w, 0.0) if old is not None else w
            if old is not None and density * src.size > np.count_nonzero(src):
                density = np.count_nonzero(src) / src.size
            res = hw_prune_layer(src, density, np.atleast_2d(x), ArchConfig(pes=pes, dram="none"),
                                 iterations=LOOP_ITERATIONS, seed=0)
            return res.mask & old if old is not None else res.mask
        st = self.structure(density, pes)
        if st == "":
            return f"no {self.name} rule for density {density:g}"
        if st is None:
            m = prune_mask(np.where(old, w, 0.0) if old is not None else w, density=density)
            return m & old if old is not None else m
        if st.startswith(PE_NM):
            n, m = (int(v) for v in st[len(PE_NM):].split(":"))
            src = np.where(old, w, 0.0) if old is not None else w
            per_pass = pes * PAPER_ACT_REGS
            return prune_nm(src, n, m, pes, rows_per_pass=per_pass) != 0
        if st.startswith("balance:"):
            p = min(pes, w.shape[0])
            return balanced_mask(w, p, density, scope="column", old=old)
        return structured_mask(w, st, density=density, old=old)


PRUNING_RULES: tuple[PruningRule, ...] = (
    PruningRule("unstructured", lambda d, p: None),
    PruningRule("N:M", lambda d, p: nm_for_density(d) or ""),
    # N:M over each PE's local rows (groups of M rows r, r + pes, ...): the pattern the
    # simulator's `nm` encoding stores (docs/timing.md, "Spmat encodings"); needs the PEs
    PruningRule("N:M (PE rows)", lambda d, p: PE_NM + nm_pow2_for_density(d), per_pe=True),
    PruningRule("block 4x4", lambda d, p: "block:4x4"),
    PruningRule("balanced (ESE)", lambda d, p: f"balance:{p}:column", per_pe=True),
    PruningRule("as shipped", lambda d, p: None, fixed=True),
    # the budget moved where the simulated cycles go (docs/hw_prune.md), from magnitude
    PruningRule("sim in the loop", lambda d, p: None, per_pe=True, loop=True),
)
#: steps of the simulator-in-the-loop rule per layer (eie-hwprune's default is 30)
LOOP_ITERATIONS = 15


def rule_named(name: str) -> PruningRule:
    for r in PRUNING_RULES:
        if r.name == name:
            return r
    raise ValueError(f"unknown pruning rule {name!r}; known: {[r.name for r in PRUNING_RULES]}")


# ------------------------------------------------------------------------------------ grids
@dataclass(frozen=True)
class Grid:
    """One shoot-out grid. ``networks``: names of :mod:`benchmarks.shootout_workloads`;
    ``rules``/``encodings``: names from :data:`PRUNING_RULES` / :data:`ENCODINGS`;
    ``queue_depths``: where the analytical model is compared with the cycle-exact engine
    (on :data:`REFERENCE_ENCODING`); the main table runs at the paper's queue depth 8.
    ``dense_epochs``/``retrain_epochs``: LeNet training (dense baseline; masked retraining
    of each pruned network before quantization)."""

    name: str
    networks: tuple[str, ...]
    densities: tuple[float, ...]
    pes: tuple[int, ...]
    queue_depths: tuple[int, ...]
    rules: tuple[str, ...] = tuple(r.name for r in PRUNING_RULES)
    encodings: tuple[str, ...] = tuple(e.name for e in ENCODINGS)
    dense_epochs: dict = field(default_factory=lambda: {"lenet300": 8, "lenet5": 2})
    retrain_epochs: int = 1
    squeezenet_layers: tuple[str, ...] = ("fire9/conv3x3_2", "conv_final")
    n_test: int = 1000


QUICK = Grid("quick", networks=("lenet300", "lenet5", "squeezenet", "nt-lstm"),
             densities=(0.1, 0.25), pes=(16, 64), queue_depths=(2, 8),
             rules=("unstructured", "N:M", "N:M (PE rows)", "balanced (ESE)", "sim in the loop",
                    "as shipped"))
FULL = Grid("full", networks=("lenet300", "lenet5", "squeezenet", "nt-lstm"),
            densities=(0.05, 0.1, 0.25, 0.5), pes=(4, 16, 64, 256), queue_depths=(1, 2, 4, 8, 32),
            dense_epochs={"lenet300": 15, "lenet5": 4}, retrain_epochs=3,
            squeezenet_layers=("fire8/conv3x3_2", "fire9/conv1x1_1", "fire9/conv3x3_2", "conv_final"))
#: a tiny grid for the tests (seconds)
TINY = Grid("tiny", networks=("lenet300", "nt-lstm"), densities=(0.25,), pes=(8,),
            queue_depths=(2, 8), rules=("unstructured", "N:M", "balanced (ESE)"),
            dense_epochs={"lenet300": 2, "lenet5": 1}, retrain_epochs=1)
