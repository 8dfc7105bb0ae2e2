"""``make bench``: run every paper reproduction and write its tables under ``results/``.

Each benchmark module exposes ``main(outdir)`` and prints its own table with the paper's
value beside the measured one (paper values labelled as such). A failing benchmark is
reported and the run continues; the exit status says whether all of them passed.

    python -m benchmarks.run_all [--only NAME ...] [--list] [--out DIR]
"""
from __future__ import annotations

import argparse
import importlib
import pathlib
import sys
import time
import traceback

from compressor.progress import Progress

# (module, what it reproduces), in the order they run.
BENCHMARKS: list[tuple[str, str]] = [
    ("bench_kmeans_huffman", "k-means (vs scikit-learn, same init) and Huffman throughput, 4096x4096 at 9 %"),
    ("bench_lenet", "Deep Compression Tables 1-3: LeNet-300-100 and LeNet-5 on the MNIST subset (full MNIST in make bench-full)"),
    ("bench_studies", "Deep Compression studies (sensitivity, bits, centroid init), DSD, EIE Fig. 10 on the LeNets"),
    ("bench_table4", "EIE Table IV on the nine Table III layers (synthetic), Fig. 8 and Fig. 11-13 sweeps"),
    ("bench_engines", "numba vs simpy engine: speed on Table III layers, PE sweep 1..256, memory"),
    ("bench_squeezenet", "the authors' compressed SqueezeNet: decode, Table 4-style sizes, EIE per layer"),
    ("bench_squeezenet_chain", "SqueezeNet chained on EIE: 6 package images, per-layer vs one fixed-point format, top-5 vs float"),
    ("bench_networks", "compact networks (SYNTHETIC weights): MobileNet v1/v2, SqueezeNext, SqueezeDet, ENet, SegNet on EIE beside SqueezeNet"),
    ("bench_energy", "energy and area: Table II shares, Fig. 9 with CACTI, Table V EIE columns, Fig. 6/7 vs CPU BLAS/CSR"),
    ("bench_pipeline", "the whole simulation: stage times for Alex-8, whole call vs engine, SqueezeNet wall"),
    ("bench_analytical", "analytical model vs cycle-exact engine: error per Table III layer and design point, speed, failure plot"),
    ("bench_analytical_dram", "analytical model vs cycle-exact engine on layers streamed from DRAM (rule D): cycle error, exact DRAM bytes"),
    ("bench_shootout", "sparse-format shoot-out: encoding x pruning x density x PEs on LeNets, SqueezeNet, NT-LSTM; analytical error"),
    ("bench_confirm", "analytical sweeps/search with their front confirmed cycle-exactly vs cycle-exact runs: time, front error"),
    ("bench_hwprune", "pruning with the simulator in the loop vs magnitude and ESE on LeNet-300-100 ip1 (real weights), 64 PEs"),
    ("bench_sweep", "design-space sweep: 10,000 points (PEs x queue x Spmat width x density) on a 2-worker dask cluster, points/s"),
    ("bench_plots", "eie-plot on a 4-key sweep of 108 points: time of the default plot set, image sizes (<= 2000 px)"),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("results"), help="output folder")
    ap.add_argument("--quiet", action="store_true", help="no progress bar (benchmarks done, ETA)")
    args = ap.parse_args(argv)
    known = [name for name, _ in BENCHMARKS]
    if args.list:
        for name, what in BENCHMARKS:
            print(f"{name:22s} {what}")
        return 0
    selected = BENCHMARKS
    if args.only:
        unknown = sorted(set(args.only) - set(known))
        if unknown:
            print(f"unknown benchmark(s) {unknown}; known: {known}", file=sys.stderr)
            return 2
        selected = [(n, w) for n, w in BENCHMARKS if n in args.only]
    args.out.mkdir(parents=True, exist_ok=True)
    failed, timings = [], []
    bar = Progress(len(selected), desc="make bench", unit="bench", quiet=args.quiet)
    for name, what in selected:
        print(f"\n=== {name}: {what}", flush=True)
        t0 = time.perf_counter()
        try:
            importlib.import_module(f"benchmarks.{name}").main(args.out)
        except Exception as exc:  # report, continue; the exit status says it failed
            traceback.print_exc()
            print(f"!!! {name} failed: {exc}", flush=True)
            failed.append(name)
        timings.append((name, time.perf_counter() - t0))
        print(f"--- {name}: {timings[-1][1]:.1f} s", flush=True)
        bar.update(1)
    bar.close()
    print("\nBenchmark wall times (this run):")
    for name, secs in timings:
        print(f"  {name:22s} {secs:7.1f} s{'   FAILED' if name in failed else ''}")
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
        return 1
    print(f"\nAll {len(selected)} benchmarks done; results in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
