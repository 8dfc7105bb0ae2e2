"""Design-space exploration at scale (issue 12): a 10,000-point sweep on a 2-worker dask
LocalCluster, points/s printed.

The sweep: PEs (10 values, 2..1024) x Spmat SRAM width (10, 8..4096 bits) x weight
density (10, 2 %..20 %) x activation queue depth (10, 1..512) over two Table III layers,
NT-We (600 x 4096) and NT-Wd (8791 x 600) at the paper's activation densities
(SYNTHETIC: seeded random matrices at Table III's sizes; the swept weight density
replaces Table III's 10 % / 11 %). Queue depth varies fastest, so consecutive points of a
worker share their layout. Every point runs both layers on the fast engine, checked
against the numpy references, and is committed to the folder's SQLite database; the
exported tables (sweep.csv, points.csv, pareto.csv) are written from it. Points that do
not fit the SRAMs are recorded as failed (their count is printed).

Printed: wall time, points/s of the sweep (workload build, cluster start, simulation,
database and export included), the Pareto front's size, and -- as the reference measured
in the same run -- the points/s of the CI-sized form (``--ci``: 5 x 4 x 3 x 5 = 300 points
of the same grid) on the same cluster setup. No paper value exists for this (EIE has no
sweep speed).

    python -m benchmarks.bench_sweep [OUTDIR] [--ci]
"""
from __future__ import annotations

import json
import pathlib
import shutil
import sys
import time

import yaml

from eie_sim import grid_size, load_config, run_sweep

FULL = {"pes": [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
        "spmat_width_bits": [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
        "workload.weight_density": [0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.14, 0.16, 0.18, 0.2],
        "queue_depth": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]}
CI = {"pes": [4, 16, 64, 256, 1024], "spmat_width_bits": [32, 64, 256, 1024],
      "workload.weight_density": [0.05, 0.1, 0.2], "queue_depth": [1, 2, 8, 32, 128]}


def config_text(grid: dict, workers: int = 2) -> str:
    return yaml.safe_dump({"workload": {"table3": ["NT-We", "NT-Wd"]},
                           "run": {"workers": workers, "executor": "dask", "seed": 0},
                           "sweep": grid}, sort_keys=False)


def run(grid: dict, out: pathlib.Path, quiet: bool = True) -> dict:
    """Run the sweep ``grid`` into ``out`` (started afresh); its figures."""
    if out.exists():
        shutil.rmtree(out)
    loaded = load_config(text=config_text(grid))
    t0 = time.perf_counter()
    res = run_sweep(loaded, out, quiet=quiet)
    wall = time.perf_counter() - t0
    summ = json.loads((out / "summary.json").read_text())
    return {"points": res["points"], "failed": res["failed"], "wall_s": wall,
            "points_per_s": res["points"] / wall, "pareto": len(summ["pareto_points"])}


def main(outdir="results", ci_only: bool = False) -> None:
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, grid in (("ci", CI),) + (() if ci_only else (("full", FULL),)):
        n = grid_size(grid)
        print(f"{name}: {n:,} points ({' x '.join(f'{k} {len(v)}' for k, v in grid.items())}), "
              f"NT-We + NT-Wd (SYNTHETIC), 2-worker dask LocalCluster", flush=True)
        r = run(grid, outdir / f"sweep_{name}", quiet=name == "ci")
        rows.append({"sweep": name, **r})
        print(f"  {r['points']:,} points ({r['failed']:,} failed: do not fit), {r['wall_s']:.1f} s, "
              f"{r['points_per_s']:.1f} points/s, Pareto front {r['pareto']} points", flush=True)
    if len(rows) == 2:
        print(f"full vs CI-sized points/s: {rows[1]['points_per_s'] / rows[0]['points_per_s']:.2f}x "
              f"(cluster start-up amortised over more points)")
    (outdir / "bench_sweep.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(args[0] if args else "results", ci_only="--ci" in sys.argv)
