"""Accuracy budget vs compression on the authors' SqueezeNet, without retraining
(docs/byom.md "Accuracy budget: the trade-off on SqueezeNet").

The float model is the Deep Compression authors' SqueezeNet decoded (``codebook[codes]``:
their pruned, 8-bit weights, in float). For each target, :func:`compressor.accuracy.search_specs`
chooses every layer's density and bits by sensitivity on the calibration images, the model is
compressed with those settings (:func:`compressor.importers.compress_imported`, written and read
back to count its bytes) and its float outputs are compared with the float model's on the
calibration images and on held-out images (package images, :mod:`compressor.inputs`). Two
reference rows: the default one-shot compression (``--quality 1.0``, 4 bits) and the
authors' own file. Every number printed is measured here; the sensitivity is measured once and
shared by the targets (same model, inputs and seed).

    python tools/accuracy_tradeoff.py [--data ../shared/data/squeezenet] [--seed 0]
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compressor import accuracy, inputs  # noqa: E402
from compressor.caffe.authors_format import read_authors  # noqa: E402
from compressor.importers import compress_imported, read_caffe, save_checked  # noqa: E402
from compressor.schedule import LayerSpec  # noqa: E402

CAL = ("chelsea", "coffee", "astronaut", "rocket")
HELD = ("china", "flower", "motorcycle", "camera")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "squeezenet"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-rel-error", type=float, nargs="*", default=[0.05, 0.1, 0.2, 0.4])
    p.add_argument("--target-agreement", type=float, nargs="*", default=[1.0])
    a = p.parse_args(argv)
    d = pathlib.Path(a.data)
    t0 = time.perf_counter()
    imp = read_caffe(d / "SqueezeNet_deploy.prototxt", d / "compressed_SqueezeNet.net")
    net = imp.net
    cal = inputs.package_images(net, list(CAL))
    held = inputs.package_images(net, list(HELD))
    xs_c, xs_h = [x for _, x in cal], [x for _, x in held]
    f_c = accuracy.final_outputs(net, imp.weights, xs_c)
    f_h = accuracy.final_outputs(net, imp.weights, xs_h)
    authors_bytes = (d / "compressed_SqueezeNet.net").stat().st_size
    dense = 4 * sum(w.size + (0 if b is None else b.size) for w, b in imp.weights.values())
    print(f"SqueezeNet v1.0: float model = the authors' weights decoded ({dense:,} bytes as "
          f"float32); calibration {', '.join(CAL)}; held out {', '.join(HELD)}; seed {a.seed}",
          flush=True)

    rows = []
    tmp = pathlib.Path(tempfile.mkdtemp())

    def row(label, specs, met="", note=""):
        res = compress_imported(imp, specs, seed=a.seed, out=None)
        save_checked(res, tmp / "m.dcmp")
        ac = accuracy.compare_outputs(f_c, accuracy.final_outputs(net, res.model, xs_c), list(CAL))
        ah = accuracy.compare_outputs(f_h, accuracy.final_outputs(net, res.model, xs_h), list(HELD))
        nnz = sum(q.nnz for q in res.model.layers)
        bits = sorted({q.bits for q in res.model.layers})
        rows.append((label, met, ac, ah, res.file_bytes, nnz, bits, note))
        print(f"{label}: calibration {ac.summary()}; held out {ah.summary()}; "
              f"{res.file_bytes:,} bytes ({time.perf_counter() - t0:.0f} s)", flush=True)

    row("default import (quality 1.0, 4 bits)", {n: LayerSpec(quality=1.0, bits=4) for n in imp.layer_names})
    sens: dict = {}
    cache: dict = {}
    targets = [("max rel. error", e, None, e) for e in a.max_rel_error] + \
              [("top-1 agreement", t, t, None) for t in a.target_agreement]
    for what, v, ta, mre in targets:
        s = accuracy.search_specs(net, imp.weights, xs_c, list(CAL), target_agreement=ta,
                                  max_rel_error=mre, seed=a.seed, sensitivity=sens, cache=cache)
        sens = s.sensitivity
        row(f"target {what} {v:g}", s.specs, "met" if s.met else "NOT met")
    theirs = read_authors(net, d / "compressed_SqueezeNet.net")
    their_bits = "/".join(map(str, sorted({q.bits for q in theirs.layers})))
    print()
    print("| target (calibration: 4 images) | met on calibration | top-1 agr. calibration | "
          "top-1 agr. held out (4) | top-5 agr. held out | mean rel. error held out | "
          "non-zero weights | bits | file bytes | ratio vs float32 | vs the authors' file |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label, met, ac, ah, fb, nnz, bits, _ in rows:
        print(f"| {label} | {met or 'n/a'} | {ac.top1:.0%} | {ah.top1:.0%} | {ah.top5:.0%} | "
              f"{ah.mean_rel_error:.3f} | {nnz:,} | {'/'.join(map(str, bits))} | {fb:,} | "
              f"{dense / fb:.1f}x | {authors_bytes / fb:.2f}x |")
    print(f"| the authors' compressed file (reference) | | 100% | 100% | 100% | 0.000 | "
          f"{sum(q.nnz for q in theirs.layers):,} | {their_bits} | {authors_bytes:,} | "
          f"{dense / authors_bytes:.1f}x | 1.00x |")
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
