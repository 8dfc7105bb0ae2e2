"""Throughput of the compressor's kernels on an AlexNet-fc7-sized layer.

A 4096 x 4096 layer of seeded Gaussian weights is magnitude-pruned to 9 % density (fc7
of AlexNet: 17M weights, 9 % kept; Deep Compression Table 4) and weight-shared with
5-bit codes (31 clusters + the pruned code) and a 4-bit relative index, as the paper's
AlexNet fc layers.

* k-means: our 1-D kernel (``compressor.quantize.kmeans_1d``) and, when scikit-learn is
  installed, ``sklearn.cluster.KMeans`` from the SAME initial centroids (linear init,
  ``n_init=1``, same ``max_iter`` and ``tol``), timed in the same run. Both are Lloyd's
  algorithm, so their inertias must agree within 0.1 %; the script fails otherwise.
* Huffman: encode and decode throughput on that layer's weight-code and gap streams
  (CSC relative-index entries, fillers included), checked to decode exactly.

Every kernel, ours and scikit-learn's alike, is timed by the same rule
(:data:`TIMING_RULE`): one untimed warm-up call on the full input (numba compilation or
cache load, first-touch allocations, library initialisation), then ``REPEATS`` timed
calls; the best is reported, the median is recorded beside it.

Pruning comes from the public API (``compressor.prune_mask``); the k-means kernel, its
initialisation and the Huffman and relative-index coders are imported from their modules
(``compressor.quantize``, ``compressor.huffman``, ``compressor.sparse``) on purpose:
they are what is timed.
"""
from __future__ import annotations

import csv
import pathlib
import time

import numpy as np

from compressor import huffman, prune_mask, sparse

# the kernels themselves, timed on purpose (see the docstring)
from compressor.quantize import (
    DEFAULT_MAX_ITER,
    DEFAULT_TOL,
    initial_centroids,
    kmeans_1d,
)

SHAPE = (4096, 4096)
DENSITY = 0.09
BITS = 5
INDEX_BITS = 4
SEED = 2016
REPEATS = 3
MAX_REL_INERTIA_DIFF = 1e-3


TIMING_RULE = (f"each kernel (ours and sklearn alike): 1 untimed warm-up call on the full input, "
               f"then best of {REPEATS} timed calls (median also recorded)")


def _timed(fn, repeats=REPEATS):
    """The one timing rule of this benchmark: warm-up call, then best (and median) of
    ``repeats`` timed calls. Returns ``(best, median, output of the last call)``."""
    fn()  # warm-up, untimed
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times)), out


def main(outdir: pathlib.Path) -> None:
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    w = rng.normal(0.0, 0.01, size=SHAPE).astype(np.float32)
    mask = prune_mask(w, density=DENSITY)
    kept = w[mask].astype(np.float64)
    k = 2 ** BITS - 1
    c0 = initial_centroids(kept, k, "linear")
    print(f"layer {SHAPE[0]}x{SHAPE[1]}, {kept.size} weights kept ({100 * kept.size / w.size:.1f} %), "
          f"{BITS}-bit codes ({k} clusters), linear init, max_iter={DEFAULT_MAX_ITER}, tol={DEFAULT_TOL}")
    print(f"timing rule: {TIMING_RULE}")

    rows = []
    t_ours, med_ours, (cen, labels, inertia, n_iter) = _timed(lambda: kmeans_1d(kept, k, c0))
    rows.append({"kernel": "k-means (ours, numba 1-D)", "items": kept.size, "seconds": t_ours,
                 "median_seconds": med_ours, "items_per_s": kept.size / t_ours, "MB_per_s": "",
                 "inertia": inertia, "n_iter": n_iter})
    print(f"k-means ours   : {t_ours * 1e3:9.1f} ms  {kept.size / t_ours / 1e6:8.2f} M weights/s  "
          f"inertia {inertia:.6e}  {n_iter} iterations")
    try:
        from sklearn.cluster import KMeans
    except ImportError:
        KMeans = None
        print("k-means sklearn: scikit-learn is not installed, comparison skipped")
    if KMeans is not None:
        def fit_sklearn():
            km = KMeans(n_clusters=k, init=c0[:, None], n_init=1, max_iter=DEFAULT_MAX_ITER,
                        tol=DEFAULT_TOL, algorithm="lloyd")
            return km.fit(kept[:, None])

        t_sk, med_sk, km = _timed(fit_sklearn)
        rel = (inertia - km.inertia_) / km.inertia_
        rows.append({"kernel": "k-means (sklearn KMeans lloyd)", "items": kept.size, "seconds": t_sk,
                     "median_seconds": med_sk, "items_per_s": kept.size / t_sk, "MB_per_s": "",
                     "inertia": km.inertia_, "n_iter": km.n_iter_})
        print(f"k-means sklearn: {t_sk * 1e3:9.1f} ms  {kept.size / t_sk / 1e6:8.2f} M weights/s  "
              f"inertia {km.inertia_:.6e}  {km.n_iter_} iterations")
        print(f"inertia relative difference (ours - sklearn) / sklearn = {rel:+.3e} "
              f"(limit {MAX_REL_INERTIA_DIFF:.0e}); speed ratio ours/sklearn = {t_sk / t_ours:.1f}x "
              f"(best of {REPEATS} each; medians: {med_sk / med_ours:.1f}x)")
        if not abs(rel) <= MAX_REL_INERTIA_DIFF:
            raise AssertionError(f"k-means inertia differs from sklearn by {rel:+.3e}, "
                                 f"more than {MAX_REL_INERTIA_DIFF:.0e}")

    codes = np.zeros(SHAPE, dtype=np.uint8)
    codes[mask] = labels + 1
    st = sparse.encode(codes, INDEX_BITS, "csc")
    print(f"relative-index stream: {st.n_entries} entries ({st.n_fillers} fillers), "
          f"{INDEX_BITS}-bit index, CSC")
    for name, sym, alphabet in (("weight codes", st.codes, 2 ** BITS), ("gaps", st.gaps, 2 ** INDEX_BITS)):
        lens = huffman.code_lengths(np.bincount(sym, minlength=alphabet))
        t_enc, med_enc, (packed, n_bits) = _timed(lambda: huffman.encode(sym, lens))
        t_dec, med_dec, back = _timed(lambda: huffman.decode(packed, n_bits, lens, sym.size))
        if not np.array_equal(back, sym):
            raise AssertionError(f"Huffman round trip of the {name} stream failed")
        avg = n_bits / sym.size
        for op, t, med in (("encode", t_enc, med_enc), ("decode", t_dec, med_dec)):
            rows.append({"kernel": f"Huffman {op} ({name}, {avg:.2f} bits/symbol)", "items": sym.size,
                         "seconds": t, "median_seconds": med, "items_per_s": sym.size / t,
                         "MB_per_s": packed.size / t / 1e6, "inertia": "", "n_iter": ""})
            print(f"Huffman {op} {name:12s}: {t * 1e3:8.1f} ms  {sym.size / t / 1e6:8.1f} M symbols/s  "
                  f"{packed.size / t / 1e6:8.1f} MB/s of bitstream  ({avg:.2f} bits/symbol)")

    with (outdir / "bench_kmeans_huffman.csv").open("w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    md = ["| kernel | items | time (ms, best) | median (ms) | items/s | MB/s (bitstream) | inertia | iterations |",
          "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mbs = f"{r['MB_per_s']:.1f}" if r["MB_per_s"] != "" else ""
        inr = f"{r['inertia']:.6e}" if r["inertia"] != "" else ""
        md.append(f"| {r['kernel']} | {r['items']} | {r['seconds'] * 1e3:.1f} | "
                  f"{r['median_seconds'] * 1e3:.1f} | {r['items_per_s']:.3e} | "
                  f"{mbs} | {inr} | {r['n_iter']} |")
    (outdir / "bench_kmeans_huffman.md").write_text(
        f"# k-means and Huffman throughput ({SHAPE[0]}x{SHAPE[1]} layer, {100 * DENSITY:.0f} % kept, "
        f"{BITS}-bit codes, {INDEX_BITS}-bit index)\n\nTiming rule: {TIMING_RULE}.\n\n"
        + "\n".join(md) + "\n")


if __name__ == "__main__":
    main(pathlib.Path("results"))
