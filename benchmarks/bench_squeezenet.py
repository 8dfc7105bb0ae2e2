"""The authors' compressed SqueezeNet v1.0: decode + Table 4-style sizes, then its 26
convolution layers on EIE as matrix-vector products, one per output position.

The files are read from ``../shared/data/squeezenet/`` (never copied into the repository);
without them the benchmark prints why it is skipped and returns.

1. ``compressor.caffe.squeezenet``: decode the authors' file, re-encode it in our format (exact
   round trip), the Deep Compression Table 4-style per-layer sizes -> ``OUTDIR/squeezenet/``;
2. ``eie_sim.run_squeezenet`` (the network runner ``eie_sim.run_net``, per-layer mode): each
   layer's ``(out, in*kh*kw)`` matrix on EIE (paper
   design point, ``weight_bits=8`` for the 256-entry codebooks, fixed-point fraction bits
   chosen so that no activation saturates; both overrides printed), once per output
   position, on the patches of the numpy forward pass of the seeded synthetic input
   (ReLU included, so activation sparsity is real). Every output is checked against numpy.
   Per layer: positions, cycles per position (mean, min, max), load efficiency, activation
   and weight density, layer cycles / time / energy; the total for one image.
   ``--positions all`` (default) simulates every position (about 49K; the wall time is
   measured and printed);
   ``--positions N`` a seeded sample of N per layer, totals labelled EXTRAPOLATED.
   -> ``OUTDIR/squeezenet_eie/`` (the network run's bundle, ``eie_sim.netrun_report``:
   layers.csv, per_pe.csv, positions.csv, summary.json, report.md, cycles.png).

    python -m benchmarks.bench_squeezenet [OUTDIR] [--positions all|N] [--seed S] [--data DIR]
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import eie_sim
from compressor.cli import main as compressor_cli
from eie_sim import SQUEEZENET_DIR as DEFAULT_SQUEEZENET_DIR
from eie_sim import SQUEEZENET_NET as NET_NAME
from eie_sim import SQUEEZENET_PROTOTXT as PROTOTXT_NAME


def _say(*a):
    print(*a, flush=True)


def main(outdir="results", positions: str | int = "all", seed: int = 0,
         data_dir: str | pathlib.Path | None = None) -> None:
    outdir = pathlib.Path(outdir)
    d = pathlib.Path(data_dir) if data_dir else DEFAULT_SQUEEZENET_DIR
    proto, netf = d / PROTOTXT_NAME, d / NET_NAME
    if not (proto.is_file() and netf.is_file()):
        _say(f"SKIPPED: the authors' SqueezeNet files are not present ({proto}, {netf}); "
             f"nothing to run")
        return
    outdir.mkdir(parents=True, exist_ok=True)

    # 1. decode, exact round trip through our format, Table 4-style sizes
    _say("## Decode and Table 4-style sizes (eie-compress squeezenet: compressor.caffe.squeezenet)")
    rc = compressor_cli(["squeezenet", "--prototxt", str(proto), "--net", str(netf),
                         "--report-dir", str(outdir / "squeezenet")])
    if rc != 0:
        raise RuntimeError(f"compressor.caffe.squeezenet failed with status {rc}")

    # 2. the 26 convolution layers on EIE, M x V per output position
    _say("\n## SqueezeNet on EIE: every conv layer as M x V per output position")
    t0 = time.perf_counter()
    run = eie_sim.run_squeezenet(d, None, positions, seed)
    wall = time.perf_counter() - t0
    _say("")
    rep = eie_sim.netrun_report
    print(rep.markdown_table(run), end="", flush=True)
    for line in rep.summary_lines(run) + run.notes:
        _say(line)
    _say(f"wall time (forward pass, layouts, simulation and numpy checks): {wall:.1f} s")
    eie_sim.write_bundle(outdir / "squeezenet_eie", rep.bundle_files(run), force=True)
    _say(f"results: {outdir / 'squeezenet_eie'}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_squeezenet",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default="results")
    ap.add_argument("--positions", default="all", metavar="all|N",
                    help="every output position (default) or a seeded sample of N per layer")
    ap.add_argument("--seed", type=int, default=0, help="seed of the position sample")
    ap.add_argument("--data", metavar="DIR", help=f"SqueezeNet folder (default {DEFAULT_SQUEEZENET_DIR})")
    a = ap.parse_args()
    main(a.outdir, a.positions, a.seed, a.data)
    sys.exit(0)
