"""``make bench``: run every paper reproduction that exists and write results/.

Each benchmark module exposes ``main(outdir) -> None`` and prints its own table with the
paper's value beside the measured one.
"""
from __future__ import annotations

import importlib
import pathlib
import sys
import time

# (module, what it reproduces); run in this order.
BENCHMARKS: list[tuple[str, str]] = []


def main() -> int:
    outdir = pathlib.Path("results")
    outdir.mkdir(exist_ok=True)
    failed = []
    for name, what in BENCHMARKS:
        print(f"\n=== {name}: {what}", flush=True)
        t0 = time.perf_counter()
        try:
            importlib.import_module(f"benchmarks.{name}").main(outdir)
        except Exception as exc:  # report and continue; exit status says it failed
            print(f"!!! {name} failed: {exc!r}", flush=True)
            failed.append(name)
        print(f"--- {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    if not BENCHMARKS:
        print("No benchmarks are built yet.")
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
        return 1
    print(f"\nAll {len(BENCHMARKS)} benchmarks done; results in {outdir}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
