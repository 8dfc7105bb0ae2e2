"""The analytical model (``engine: analytical``, eie_sim/hw/analytical.py) against the
cycle-exact fast engine: error per layer and per design point, speed ratio, and a plot of
where it fails (docs/analytical.md).

All layers are SYNTHETIC (seeded random matrices and inputs):

1. the nine Table III layers (``table3_layer``, seed 0, random bias) at 64 PEs, queue 8:
   layer cycles of both engines, the cycle and energy error, and the engine wall time of
   each (passes of the layout, after a warm-up; the analytical engine's time includes its
   exact accumulators and counters) with the speed ratio, and the time of the cycle
   estimate alone (``analytical.pass_cycles``, what a search needs);
2. design points on synthetic layers chosen to stress the model: PEs {4, 16, 64} x
   queue depth {1, 2, 4, 8, 32} x row skew (each row's weight density scaled by a
   lognormal factor of sigma {0, 0.75, 1.5}) x rows per PE {1, 4, 16}, 512 inputs at 50 %
   activations, 10 % weights; plus the same layers pruned load-balance-aware
   (``compressor.prune.balanced_mask`` per column, ESE) at the same density;
3. a plot: the cycle error of every design point by queue depth and skew, one panel per
   rows-per-PE (``bench_analytical.png``).

``main(outdir)`` writes ``bench_analytical.csv``, ``bench_analytical.md`` and
``bench_analytical.png`` under ``outdir``.
"""
from __future__ import annotations

import argparse
import csv
import pathlib
import sys
import time

import numpy as np

from compressor.prune import balanced_mask
from eie_sim import ArchConfig, paper, table3_layer
from eie_sim.arch.fixed_point import quantize
from eie_sim.hw import analytical
from eie_sim.hw.engines import get_engine
from eie_sim.hw.layout import build_layer
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.options import SimOptions

SEED = 0
FAST, ANA = get_engine("fast"), get_engine("analytical")


def _time_passes(engine, layout, X_q, cfg, repeat: int = 3) -> tuple[float, int]:
    """Best wall time (s) of running every pass of ``layout`` on ``X_q``, and the summed
    pass cycles."""
    best, cyc = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        cyc = sum(int(engine.run_batch(p, layout, X_q, cfg).cycles.sum()) for p in layout.passes)
        best = min(best, time.perf_counter() - t0)
    return best, cyc


def _time_cycles_only(layout, X_q, cfg, repeat: int = 3) -> float:
    """Best wall time (s) of the analytical cycle estimate alone (no accumulators)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for p in layout.passes:
            for x in X_q:
                analytical.pass_cycles(p, x, cfg)
        best = min(best, time.perf_counter() - t0)
    return best


def table3_part(rows_out: list[dict]) -> list[str]:
    cfg = ArchConfig(pes=64, queue_depth=8)
    lines = [f"{'layer':8} {'fast cyc':>9} {'ana cyc':>9} {'cyc err':>8} {'energy err':>10} "
             f"{'fast ms':>8} {'ana ms':>8} {'speed x':>8} {'cyc-only ms':>11} {'speed x':>8}"]
    tf_all = ta_all = tc_all = 0.0
    for name in paper.TABLE3:
        lw = table3_layer(name, seed=SEED)
        res = {}
        for eng in ("fast", "analytical"):
            res[eng] = simulate_layer(lw, lw.x, cfg, SimOptions(engine=eng, check_fit=False))
        layout = build_layer(lw.codes, lw.codebook, lw.bias, cfg, check_fit=False)
        X_q = quantize(np.atleast_2d(lw.x), cfg.act_frac_bits, cfg.word_bits)[0]
        _time_passes(FAST, layout, X_q, cfg, repeat=1)         # warm-up (compilation)
        tf, cf_ = _time_passes(FAST, layout, X_q, cfg)
        ta, ca = _time_passes(ANA, layout, X_q, cfg)
        tc = _time_cycles_only(layout, X_q, cfg)
        tf_all += tf
        ta_all += ta
        tc_all += tc
        cf_l, ca_l = res["fast"].cycles, res["analytical"].cycles
        ef, ea = res["fast"].energy.energy_uj, res["analytical"].energy.energy_uj
        err, eerr = (ca_l - cf_l) / cf_l, (ea - ef) / ef
        rows_out.append({"part": "table3", "layer": name, "pes": 64, "queue_depth": 8,
                         "skew": "", "rows_per_pe": round(lw.codes.shape[0] / 64, 1), "pruning": "unstructured",
                         "fast_cycles": cf_l, "analytical_cycles": ca_l, "cycle_error": err,
                         "energy_error": eerr, "fast_s": tf, "analytical_s": ta, "cycles_only_s": tc})
        lines.append(f"{name:8} {cf_l:9d} {ca_l:9d} {err * 100:+7.2f}% {eerr * 100:+9.2f}% "
                     f"{tf * 1e3:8.2f} {ta * 1e3:8.2f} {tf / ta:8.2f} {tc * 1e3:11.2f} {tf / tc:8.2f}")
    lines.append(f"{'all nine':8} {'':>9} {'':>9} {'':>8} {'':>10} {tf_all * 1e3:8.2f} "
                 f"{ta_all * 1e3:8.2f} {tf_all / ta_all:8.2f} {tc_all * 1e3:11.2f} {tf_all / tc_all:8.2f}")
    return lines


def _design_layer(rng, pes, rows_per_pe, skew, balanced, cols=512, wd=0.10):
    rows = pes * rows_per_pe
    scale = rng.lognormal(sigma=skew, size=(rows, 1)) if skew > 0 else np.ones((rows, 1))
    scale = scale / scale.mean()
    p = np.clip(wd * scale, 0, 1)
    mag = rng.random((rows, cols)) * (rng.random((rows, cols)) < np.clip(p * 3, 0, 1))
    if balanced:
        mask = balanced_mask(mag, pes, wd, scope="column")
    else:
        flat = mag.ravel()
        k = int(round(wd * flat.size))
        mask = np.zeros(flat.size, bool)
        mask[np.argsort(-flat, kind="stable")[:k]] = True
        mask = mask.reshape(mag.shape)
    codes = np.where(mask, rng.integers(1, 16, (rows, cols)), 0).astype(np.uint8)
    return codes


def design_part(rows_out: list[dict]) -> list[str]:
    cb = np.concatenate([[0.0], np.linspace(-1, 1, 15)])
    lines = []
    errs, fast_cyc = {}, {}
    for balanced in (False, True):
        for pes in (4, 16, 64):
            for rpp in (1, 4, 16):
                for skew in (0.0, 0.75, 1.5):
                    # the same magnitudes and input for both prunings of a point
                    rng = np.random.default_rng([SEED, pes, rpp, int(skew * 100)])
                    codes = _design_layer(rng, pes, rpp, skew, balanced)
                    x = np.where(rng.random(codes.shape[1]) < 0.5, rng.uniform(0.1, 2, codes.shape[1]), 0.0)
                    for depth in (1, 2, 4, 8, 32):
                        cfg = ArchConfig(pes=pes, queue_depth=depth)
                        lay = build_layer(codes, cb, None, cfg, check_fit=False)
                        X_q = quantize(x[None, :], cfg.act_frac_bits, cfg.word_bits)[0]
                        cf_ = sum(int(FAST.run_batch(p, lay, X_q, cfg).cycles.sum()) for p in lay.passes)
                        ca = sum(int(ANA.run_batch(p, lay, X_q, cfg).cycles.sum()) for p in lay.passes)
                        err = (ca - cf_) / cf_
                        errs[(balanced, pes, rpp, skew, depth)] = err
                        fast_cyc[(balanced, pes, rpp, skew, depth)] = cf_
                        rows_out.append({"part": "design", "layer": "synthetic 512 in", "pes": pes,
                                         "queue_depth": depth, "skew": skew, "rows_per_pe": rpp,
                                         "pruning": "balanced" if balanced else "unstructured",
                                         "fast_cycles": cf_, "analytical_cycles": ca, "cycle_error": err,
                                         "energy_error": "", "fast_s": "", "analytical_s": "",
                                         "cycles_only_s": ""})
    for balanced in (False, True):
        e = np.array([v for k, v in errs.items() if k[0] == balanced])
        lines.append(f"{'balanced (ESE) ' if balanced else 'unstructured   '} {e.size} points: "
                     f"mean |err| {np.abs(e).mean() * 100:.2f} %, median {np.median(np.abs(e)) * 100:.2f} %, "
                     f"p90 {np.quantile(np.abs(e), 0.9) * 100:.2f} %, max {np.abs(e).max() * 100:.2f} %, "
                     f"exact {np.count_nonzero(e == 0)}")
    lines.append("")
    lines.append("mean |cycle error| % by queue depth (rows) and skew sigma (columns), unstructured:")
    lines.append(f"{'depth':>6} " + " ".join(f"{s:>7}" for s in (0.0, 0.75, 1.5)))
    for depth in (1, 2, 4, 8, 32):
        vals = [np.mean([abs(v) for k, v in errs.items() if not k[0] and k[4] == depth and k[3] == s])
                for s in (0.0, 0.75, 1.5)]
        lines.append(f"{depth:6d} " + " ".join(f"{v * 100:7.2f}" for v in vals))
    lines.append("cycle-exact cycles, load-balance-aware (ESE, per column) / unstructured at the same "
                 "density, mean over PEs, rows per PE and queue depths:")
    for s_ in (0.0, 0.75, 1.5):
        r = [fast_cyc[(True,) + k[1:]] / v for k, v in fast_cyc.items() if not k[0] and k[3] == s_]
        lines.append(f"  skew {s_:4}: {np.mean(r):.3f} (min {np.min(r):.3f}, max {np.max(r):.3f})")
    lines.append("mean |cycle error| % by rows per PE:")
    for rpp in (1, 4, 16):
        v = np.mean([abs(x) for k, x in errs.items() if not k[0] and k[2] == rpp])
        lines.append(f"  {rpp:3d} rows/PE: {v * 100:.2f}")
    return lines, errs


def plot(errs: dict, path: pathlib.Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    depths, skews, rpps = (1, 2, 4, 8, 32), (0.0, 0.75, 1.5), (1, 4, 16)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    vmax = max(5.0, max(abs(v) for k, v in errs.items() if not k[0]) * 100)
    for ax, rpp in zip(axes, rpps):
        grid = np.array([[np.max([abs(v) for k, v in errs.items()
                                  if not k[0] and k[2] == rpp and k[3] == s and k[4] == d]) * 100
                          for d in depths] for s in skews])
        im = ax.imshow(grid, origin="lower", cmap="magma_r", vmin=0, vmax=vmax,
                       aspect="auto")
        for i in range(len(skews)):
            for j in range(len(depths)):
                ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", fontsize=8,
                        color="white" if grid[i, j] > 0.6 * vmax else "black")
        ax.set_xticks(range(len(depths)), [str(d) for d in depths])
        ax.set_yticks(range(len(skews)), [str(s) for s in skews])
        ax.set_xlabel("queue depth")
        ax.set_title(f"{rpp} row(s) per PE")
    axes[0].set_ylabel("row skew (lognormal sigma)")
    fig.colorbar(im, ax=axes, label="worst |cycle error| % over 4/16/64 PEs")
    fig.suptitle("analytical model vs cycle-exact engine (SYNTHETIC layers, unstructured pruning)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(outdir: pathlib.Path) -> None:
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    print("SYNTHETIC layers (seeded random matrices and inputs); analytical vs fast engine")
    print("\n1. Table III layers, 64 PEs, queue 8 (layer cycles; energy from the same tables)")
    t3 = table3_part(rows)
    print("\n".join(t3))
    print("\n2. design points: 512 inputs, 50 % activations, 10 % weights")
    dp, errs = design_part(rows)
    print("\n".join(dp))
    plot(errs, outdir / "bench_analytical.png")
    with open(outdir / "bench_analytical.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (outdir / "bench_analytical.md").write_text(
        "# Analytical model vs cycle-exact (SYNTHETIC layers)\n\n```\n" + "\n".join(t3) + "\n\n"
        + "\n".join(dp) + "\n```\n", encoding="utf-8")
    print(f"\nwrote {outdir / 'bench_analytical.csv'}, .md, .png")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench_out"))
    args = ap.parse_args()
    sys.exit(main(args.out))
