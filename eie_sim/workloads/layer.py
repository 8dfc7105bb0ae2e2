"""What matrix and which input vector a run uses: :class:`LayerWorkload` and :class:`Workload`.

Every source of a workload (a compressed model file, an ``.npz``, a synthetic spec or the
paper's Table III: :mod:`eie_sim.workloads.files`, :mod:`eie_sim.workloads.synthetic`)
ends in the same form: a (rows, cols) matrix of weight codes, a codebook with
``codebook[0] == 0.0``, an optional bias and an optional input vector.

EIE matrices are (outputs x inputs): Table III's "9216 x 4096" (inputs x outputs) of
Alex-6 is a 4096 x 9216 matrix here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eie_sim.arch.config import INT_RANGES, ArchConfig
from eie_sim.errors import WorkloadError
from eie_sim.hw.csr import CodesCSR
from eie_sim.hw.layout import LayerLayout, build_layer, check_layer_fits, layout_key


@dataclass
class LayerWorkload:
    """One fully-connected layer ``y = W x + b`` with ``W = codebook[codes]``.

    ``codes`` may be given as a dense ``(rows, cols)`` integer matrix or as
    :class:`~eie_sim.hw.csr.CodesCSR`; it is held as ``CodesCSR`` (the dense matrix is
    not kept). Layouts are cached per layout-relevant configuration
    (:func:`~eie_sim.hw.layout.layout_key`), so a sweep over queue depth, SRAM widths,
    clock or energy table lays the layer out once.
    """

    name: str
    codes: CodesCSR                   #: the non-zero codes (0 = pruned), see above
    codebook: np.ndarray              #: float32, codebook[0] == 0.0
    bias: np.ndarray | None = None    #: float32 (rows,) or None
    x: np.ndarray | None = None       #: float64 (cols,) input, or None (supplied by the run)
    synthetic: bool = False
    source: dict[str, Any] = field(default_factory=dict)
    bits: int | None = None           #: bits of the codes as stored (None: from codebook size)
    #: derived data (layouts, prepared layers) keyed by what they depend on; the stages
    #: that build them keep at most a few (:meth:`cached`)
    derived: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.codes, CodesCSR):
            self.codes = CodesCSR.from_dense(self.codes)
        for what in ("codebook", "bias", "x"):   # non-finite numbers refused where they enter
            v = getattr(self, what)
            if v is not None and not np.all(np.isfinite(v)):
                raise WorkloadError(f"layer {self.name!r}: {what} contains NaN or infinity")

    @property
    def rows(self) -> int:
        return self.codes.rows

    @property
    def cols(self) -> int:
        return self.codes.cols

    @property
    def code_bits(self) -> int:
        if self.bits is not None:
            return int(self.bits)
        return max(1, math.ceil(math.log2(max(2, self.codebook.size))))

    @property
    def nnz(self) -> int:
        return self.codes.nnz

    @property
    def weight_density(self) -> float:
        return self.nnz / max(1, self.codes.size)

    def cached(self, kind: str, key: tuple, build, keep: int = 2):
        """``build()`` once per ``(kind, key)``; the ``keep`` most recent of each kind stay."""
        store = self.derived.setdefault(kind, {})
        if key not in store:
            while len(store) >= keep:
                store.pop(next(iter(store)))
            store[key] = build()
        return store[key]

    def check_bits(self, cfg: ArchConfig) -> None:
        """Refuse codes wider than the PE's weight index (``weight_bits``)."""
        lo, hi = INT_RANGES["weight_bits"]
        if self.code_bits > hi:
            raise WorkloadError(
                f"layer {self.name!r}: {self.code_bits}-bit weight codes ({self.codebook.size}-entry "
                f"codebook) cannot run on EIE: weight_bits is {lo}..{hi}; quantize the layer to "
                f"at most {hi} bits")
        if self.code_bits > cfg.weight_bits or self.codebook.size > cfg.codebook_size:
            raise WorkloadError(
                f"layer {self.name!r}: {self.code_bits}-bit weight codes ({self.codebook.size}-entry "
                f"codebook) do not fit weight_bits={cfg.weight_bits} ({cfg.codebook_size}-entry "
                f"codebook); run with --set weight_bits={self.code_bits} or quantize the "
                f"layer to {cfg.weight_bits} bits")

    def layout(self, cfg: ArchConfig, check_fit: bool = True) -> LayerLayout:
        """The per-PE memory images of this layer (:func:`eie_sim.hw.layout.build_layer`),
        built once per :func:`~eie_sim.hw.layout.layout_key`; the SRAM fit check runs for
        every ``cfg``."""
        self.check_bits(cfg)

        def build():
            lay = build_layer(self.codes, self.codebook, self.bias, cfg, name=self.name,
                              check_fit=False)
            lay.meta.update({"synthetic": self.synthetic, "source": dict(self.source)})
            return lay
        lay = self.cached("layout", layout_key(cfg), build)
        if check_fit:
            check_layer_fits(lay, cfg)
        return lay

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "rows": self.rows, "cols": self.cols, "nnz": self.nnz,
                "weight_density": self.weight_density, "bias": self.bias is not None,
                "code_bits": self.code_bits, "synthetic": self.synthetic, **self.source}


@dataclass
class Workload:
    """Layers to run, either independently (each with its own input) or as a network."""

    layers: list[LayerWorkload]
    network: bool = False             #: chain the layers: outputs -> next inputs, ReLU between
    x: np.ndarray | None = None       #: network input (float64) when ``network``
    description: str = ""

    @property
    def synthetic(self) -> bool:
        return any(lay.synthetic for lay in self.layers)

    def describe(self) -> dict[str, Any]:
        return {"description": self.description, "network": self.network,
                "synthetic": self.synthetic, "layers": [l.describe() for l in self.layers]}


