"""The authors' compressed SqueezeNet chained on EIE: natural images through the whole
network, every convolution computed by the simulator in fixed point (all positions) and
fed, after host-side pooling and concatenation, to the next layer.

Images: the photographs shipped inside scikit-image and scikit-learn (default six:
chelsea, coffee, astronaut, rocket, china, flower; no download). Two fixed-point rules on
the same images (docs/squeezenet.md "Chained run"):

1. **per layer** (default of ``fixed_point:``): each layer's input / output / weight formats
   from its ranges on two other package images (motorcycle, camera: not among the images
   run) with 1 headroom bit;
2. **one network-wide format** (``fixed_point: {rule: single}``): the format the
   per-layer-less SqueezeNet run picks (``act_frac_bits`` from the largest value of any
   layer), for comparison.

Per image: the float network's top-5 classes (ImageNet-1k indices), the chained EIE run's,
top-1 agreement, top-5 overlap, cycles, time and energy of the 26 convolutions, wall time.
Per layer: formats, biases rounded to zero (one format vs per layer), the largest error
against the float pass, saturations. -> ``OUTDIR/squeezenet_chain/`` (per layer) and
``OUTDIR/squeezenet_chain_single/``.

    python -m benchmarks.bench_squeezenet_chain [OUTDIR] [--images a,b|all] [--data DIR]
"""
from __future__ import annotations

import argparse
import pathlib
import time

import eie_sim
from eie_sim import DEFAULT_IMAGES, FixedPointSpec, parse_images
from eie_sim import SQUEEZENET_DIR as DEFAULT_SQUEEZENET_DIR
from eie_sim import SQUEEZENET_NET as NET_NAME
from eie_sim import SQUEEZENET_PROTOTXT as PROTOTXT_NAME


def _say(*a):
    print(*a, flush=True)


def main(outdir="results", images: list[str] | None = None,
         data_dir: str | pathlib.Path | None = None) -> dict:
    outdir = pathlib.Path(outdir)
    d = pathlib.Path(data_dir) if data_dir else DEFAULT_SQUEEZENET_DIR
    if not ((d / PROTOTXT_NAME).is_file() and (d / NET_NAME).is_file()):
        _say(f"SKIPPED: the authors' SqueezeNet files are not present in {d}; nothing to run")
        return {}
    try:
        import skimage  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as exc:
        _say(f"SKIPPED: the images ship with scikit-image and scikit-learn (pip install "
             f".[bench]): {exc}")
        return {}
    images = list(images or DEFAULT_IMAGES)
    out = {}
    for label, spec, sub in (("per-layer formats (calibrated on motorcycle + camera, 1 headroom bit)",
                              FixedPointSpec(), "squeezenet_chain"),
                             ("one network-wide format", FixedPointSpec(rule="single"),
                              "squeezenet_chain_single")):
        _say(f"\n## SqueezeNet chained on EIE, {label}: {len(images)} images, all positions")
        t0 = time.perf_counter()
        run = eie_sim.run_squeezenet_chain(
            images, d, spec=spec,
            on_image=lambda im: _say(f"{im.name}: float top-5 {im.float_top5}, EIE top-5 "
                                     f"{im.eie_top5}, top-1 {'agrees' if im.top1_agree else 'DIFFERS'}"
                                     f", {im.wall_s:.1f} s"))
        wall = time.perf_counter() - t0
        _say("")
        rep = eie_sim.chained_images_report
        print(rep.images_table(run), flush=True)
        print(rep.formats_table(run), flush=True)
        for line in rep.summary_lines(run) + run.notes:
            _say(line)
        per_image = wall / max(1, len(images))
        _say(f"wall time: {wall:.1f} s for {len(images)} images ({per_image:.1f} s per image: "
             f"forward pass, simulation of every position and numpy checks)")
        eie_sim.write_bundle(outdir / sub, rep.bundle_files(run), force=True)
        _say(f"results: {outdir / sub}")
        out[sub] = run
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_squeezenet_chain",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default="results")
    ap.add_argument("--images", metavar="a,b|all", help=f"images (default {','.join(DEFAULT_IMAGES)})")
    ap.add_argument("--data", metavar="DIR", help=f"SqueezeNet folder (default {DEFAULT_SQUEEZENET_DIR})")
    a = ap.parse_args()
    main(a.outdir, parse_images(a.images), a.data)
