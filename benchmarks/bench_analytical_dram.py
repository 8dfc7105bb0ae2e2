"""The analytical model on layers streamed from DRAM (rule D, docs/dram.md) against the
cycle-exact fast engine (docs/analytical.md "DRAM streaming").

All layers are SYNTHETIC (seeded random matrices and inputs), every case with
``dram_stream: always``:

1. the Table III layers Alex-8, NT-We and NT-LSTM (``table3_layer``, seed 0), 8 input
   vectors at 40 % activations (seed 0), PEs {8, 16, 64} x queue {2, 8} x DRAM
   {ddr4_3200, hbm2, lpddr4_4266} x batch {1, 4}, the paper's SRAMs (1-2 tiles a pass);
2. three smaller layers (512 x 1024 at 10 % weights, 1024 x 512 at 20 %, 768 x 768 at
   5 %; 4 vectors at their activation density, seeds 1-3) with 1 KB or 4 KB Spmat SRAMs
   (2-56 tiles a pass), PEs {4, 16} x queue {2, 8} x DRAM {ddr4_3200, hbm2} x bandwidth
   {preset, 2 GB/s} x batch {1, 4}.

Per case: both engines' layer cycles and DRAM stall cycles, the cycle and energy error of
the analytical engine, and whether DRAM bytes, tiles, row activations, Spmat line reads,
empty cycles and broadcasts equal the fast engine's. ``main(outdir)`` writes
``bench_analytical_dram.csv`` and ``bench_analytical_dram.md``.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import pathlib

import numpy as np

from eie_sim.arch.config import ArchConfig
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.options import SimOptions
from eie_sim.workloads.synthetic import synthetic_layer, table3_layer

EXACT = ("dram_bytes", "dram_tiles", "dram_row_activations", "spmat_line_reads", "empty_cycles",
         "broadcasts")


def _inputs(cols: int, n: int, density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ((rng.random((n, cols)) < density) * rng.standard_normal((n, cols))).astype(np.float32)


def cases():
    """``(group, layer, X, cfg keys)`` of every case (module docstring)."""
    for name in ("Alex-8", "NT-We", "NT-LSTM"):
        lay = table3_layer(name, seed=0)
        X = _inputs(lay.cols, 8, 0.4, 0)
        for pes, q, dram, batch in itertools.product((8, 16, 64), (2, 8),
                                                     ("ddr4_3200", "hbm2", "lpddr4_4266"), (1, 4)):
            yield "table3", lay, X, {"pes": pes, "queue_depth": q, "dram": dram, "batch": batch}
    for seed, (rows, cols, wd, ad) in enumerate([(512, 1024, 0.1, 0.5), (1024, 512, 0.2, 0.8),
                                                 (768, 768, 0.05, 0.3)], start=1):
        lay = synthetic_layer(rows, cols, wd, ad, seed=seed, bias=True)
        X = _inputs(cols, 4, ad, seed)
        for pes, q, dram, batch, kb, bw in itertools.product((4, 16), (2, 8), ("ddr4_3200", "hbm2"),
                                                             (1, 4), (1, 4), (None, 2.0)):
            yield "small SRAMs", lay, X, {"pes": pes, "queue_depth": q, "dram": dram,
                                          "batch": batch, "spmat_sram_kb": kb,
                                          "dram_bandwidth_gbps": bw}


def measure() -> list[dict]:
    rows = []
    for group, lay, X, keys in cases():
        cfg = ArchConfig(dram_stream="always", **keys)
        f = simulate_layer(lay, X, cfg, SimOptions(engine="fast", check=False, check_fit=False)).to_dict()
        a = simulate_layer(lay, X, cfg, SimOptions(engine="analytical", check=False,
                                                   check_fit=False)).to_dict()
        rows.append({"group": group, "layer": lay.name, **keys, "tiles": f["dram_tiles"],
                     "fast_cycles": f["cycles"], "analytical_cycles": a["cycles"],
                     "cycle_error_pct": 100 * (a["cycles"] - f["cycles"]) / f["cycles"],
                     "energy_error_pct": 100 * (a["total_energy_uj"] - f["total_energy_uj"])
                     / f["total_energy_uj"],
                     "fast_dram_stall": f["dram_stall_cycles"],
                     "analytical_dram_stall": a["dram_stall_cycles"],
                     "exact_counts_equal": all(a[k] == f[k] for k in EXACT)})
    return rows


def _summary(rows: list[dict], label: str) -> str:
    e = np.abs([r["cycle_error_pct"] for r in rows])
    en = np.abs([r["energy_error_pct"] for r in rows])
    return (f"| {label} | {len(rows)} | {e.mean():.2f} % | {np.median(e):.2f} % | "
            f"{np.percentile(e, 90):.2f} % | {e.max():.2f} % | {en.max():.3f} % | "
            f"{sum(r['exact_counts_equal'] for r in rows)} |")


def markdown(rows: list[dict]) -> str:
    out = [("| cases | n | mean abs. cycle error | median | p90 | max | max abs. energy error | "
            "bytes, tiles, activations, lines, empty, broadcasts equal |"),
           "|---|---|---|---|---|---|---|---|", _summary(rows, "all")]
    for key, vals in (("group", ("table3", "small SRAMs")), ("queue_depth", (2, 8)),
                      ("batch", (1, 4)), ("dram", ("ddr4_3200", "hbm2", "lpddr4_4266"))):
        for v in vals:
            sel = [r for r in rows if r[key] == v]
            if sel:
                out.append(_summary(sel, f"{key} = {v}"))
    return "\n".join(out) + "\n"


def main(outdir) -> list[dict]:
    out = pathlib.Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    rows = measure()
    with (out / "bench_analytical_dram.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        w.writeheader()
        w.writerows(rows)
    md = markdown(rows)
    (out / "bench_analytical_dram.md").write_text(md)
    print(md)
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outdir", help="folder for bench_analytical_dram.csv/.md")
    main(p.parse_args().outdir)
