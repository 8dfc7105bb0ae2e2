"""A layer's rows split over EIE chips: contiguous row blocks as layers of their own
(the partition of multi-chip EIE, :mod:`eie_sim.sim.multichip`; docs/llm.md)."""
from __future__ import annotations

import numpy as np

from eie_sim.errors import WorkloadError
from eie_sim.hw.csr import CodesCSR
from eie_sim.workloads.layer import LayerWorkload

__all__ = ["chip_rows", "row_slice", "chip_workloads"]


def chip_rows(rows: int, chips: int) -> np.ndarray:
    """int64 ``(chips + 1,)``: chip ``c`` holds rows ``bounds[c] .. bounds[c+1] - 1``
    (contiguous blocks whose sizes differ by at most one row)."""
    if chips < 1:
        raise WorkloadError(f"chips: expected an integer >= 1, got {chips}")
    if chips > rows:
        raise WorkloadError(f"chips={chips} exceeds the layer's {rows} rows: every chip needs "
                            f"at least one row (use at most {rows} chips)")
    return (np.arange(chips + 1, dtype=np.int64) * rows) // chips


def row_slice(codes: CodesCSR, a: int, b: int) -> CodesCSR:
    """Rows ``a .. b-1`` of ``codes`` (views of its arrays where possible)."""
    lo, hi = int(codes.indptr[a]), int(codes.indptr[b])
    return CodesCSR((b - a, codes.cols), codes.indptr[a:b + 1] - lo, codes.indices[lo:hi],
                    codes.data[lo:hi])


def chip_workloads(wl: LayerWorkload, chips: int) -> list[LayerWorkload]:
    """The row block of every chip as its own layer (cached on ``wl`` per chip count, so a
    sweep lays every block out once per layout)."""
    def build():
        b = chip_rows(wl.rows, chips)
        return [LayerWorkload(name=wl.name, codes=row_slice(wl.codes, int(b[c]), int(b[c + 1])),
                              codebook=wl.codebook,
                              bias=None if wl.bias is None else wl.bias[b[c]:b[c + 1]],
                              x=wl.x, synthetic=wl.synthetic,
                              source={**wl.source, "chip": c, "chip_rows": [int(b[c]), int(b[c + 1])]},
                              bits=wl.bits)
                for c in range(chips)]
    return wl.cached("chips", (chips,), build, keep=1)
