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
from eie_sim.hw.layout import LayerLayout, build_layer


@dataclass
class LayerWorkload:
    """One fully-connected layer ``y = W x + b`` with ``W = codebook[codes]``."""

    name: str
    codes: np.ndarray                 #: (rows, cols) integer codes, 0 = pruned
    codebook: np.ndarray              #: float32, codebook[0] == 0.0
    bias: np.ndarray | None = None    #: float32 (rows,) or None
    x: np.ndarray | None = None       #: float64 (cols,) input, or None (supplied by the run)
    synthetic: bool = False
    source: dict[str, Any] = field(default_factory=dict)
    bits: int | None = None           #: bits of the codes as stored (None: from codebook size)

    @property
    def rows(self) -> int:
        return int(self.codes.shape[0])

    @property
    def cols(self) -> int:
        return int(self.codes.shape[1])

    @property
    def code_bits(self) -> int:
        if self.bits is not None:
            return int(self.bits)
        return max(1, math.ceil(math.log2(max(2, self.codebook.size))))

    @property
    def nnz(self) -> int:
        return int(np.count_nonzero(self.codes))

    @property
    def weight_density(self) -> float:
        return self.nnz / max(1, self.codes.size)

    def nonzeros(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, codes) of the non-zero codes, row-major order."""
        r, c = np.nonzero(self.codes)
        return r.astype(np.int64), c.astype(np.int64), self.codes[r, c].astype(np.int64)

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
        """The per-PE memory images of this layer (:func:`eie_sim.layout.build_layer`)."""
        self.check_bits(cfg)
        lay = build_layer(self.codes, self.codebook, self.bias, cfg, name=self.name,
                          check_fit=check_fit)
        lay.meta.update({"synthetic": self.synthetic, "source": dict(self.source)})
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


