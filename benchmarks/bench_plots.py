"""Plots that scale with the sweep (issue 28): how long ``eie-plot`` takes on a real 4-key
sweep of 108 points, and how large its images are.

The sweep: PEs (9 values, 1..256) x queue depth (1, 4, 16) x Spmat width (32, 64 bits) x
clock (400, 800 MHz) over two small SYNTHETIC layers (seeded random matrices, 256 x 512
at 10 % and 128 x 256 at 20 % weight density), fast engine, one worker. Its time is
printed too, but what is measured here is the plotting: the default set of ``eie-plot``
(Fig. 8/9/11-13 from sweep.csv; Pareto, metrics against each swept key, heatmaps,
energy and area by unit from points.csv), each figure's time and pixel size, and one
plot asked for by name (``--x pes --y cycles,total_energy_uj --color queue_depth --fix
spmat_width_bits=64``).

The reference measured in the same run: one plain one-panel matplotlib line figure
(10 points) saved as PNG; the default set's time is printed as a multiple of it. The goal
(issue 28, "done when"): a 4-key sweep of 100+ points plots in a few seconds, every image
under about 2000 px a side. No paper value exists for this.

    python -m benchmarks.bench_plots [OUTDIR]
"""
from __future__ import annotations

import io
import json
import pathlib
import shutil
import sys
import time

CONFIG = """\
run: {engine: fast, seed: 0, workers: 1, check_fit: false}
workload:
  synthetic:
    - {name: a, rows: 256, cols: 512, weight_density: 0.1, act_density: 0.4, seed: 1}
    - {name: b, rows: 128, cols: 256, weight_density: 0.2, act_density: 0.6, seed: 2}
sweep:
  pes: [1, 2, 4, 8, 16, 32, 64, 128, 256]
  queue_depth: [1, 4, 16]
  spmat_width_bits: [32, 64]
  clock_mhz: [400, 800]
"""


def _plain_figure_s() -> float:
    """Seconds to draw and save one plain one-panel line figure (the reference)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t0 = time.perf_counter()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(range(10), [v * v for v in range(10)], marker="o", label="x^2")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    fig.savefig(io.BytesIO(), format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return time.perf_counter() - t0


def main(outdir="results") -> dict:
    from eie_sim import load_config, run_sweep
    from eie_sim.output import sweep_figures as sf
    from eie_sim.output.plots import Request, plot_results

    outdir = pathlib.Path(outdir) / "bench_plots"
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    (outdir / "sweep.yaml").write_text(CONFIG)
    sweep = outdir / "sweep"
    t0 = time.perf_counter()
    res = run_sweep(load_config(outdir / "sweep.yaml"), sweep)
    sweep_s = time.perf_counter() - t0
    print(f"sweep: {res['points']} points ({res['failed']} failed), 4 keys, fast engine, "
          f"SYNTHETIC layers: {sweep_s:.1f} s", flush=True)

    _plain_figure_s()                              # matplotlib imported and warm
    plain = min(_plain_figure_s() for _ in range(3))
    saves: list[float] = []
    real = sf.png

    def timed(fig, *a, **k):                       # each figure's drawing and saving time
        t = time.perf_counter()
        data = real(fig, *a, **k)
        saves.append(time.perf_counter() - t)
        return data
    sf.png = timed
    try:
        t0 = time.perf_counter()
        made = plot_results(sweep)
        default_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        custom = plot_results(sweep, request=Request(
            "pes", ["cycles", "total_energy_uj"], "queue_depth", None, {"spmat_width_bits": "64"}))
        custom_s = time.perf_counter() - t0
    finally:
        sf.png = real
    sizes = {pathlib.Path(m).name: sf.png_size(pathlib.Path(m).read_bytes())
             for m in made + custom if m.endswith(".png")}
    biggest = max(max(s) for s in sizes.values())
    print(f"eie-plot default set: {len(made)} images in {default_s:.2f} s "
          f"({default_s / len(made):.2f} s per image; {default_s / plain:.0f}x one plain "
          f"one-panel figure, {plain * 1000:.0f} ms, measured in this run)")
    print(f"eie-plot --x pes --y cycles,total_energy_uj --color queue_depth --fix "
          f"spmat_width_bits=64: {custom_s:.2f} s")
    print(f"largest image side: {biggest} px (goal: <= 2000); per image (drawing + saving "
          f"time; building the figure before it not included):")
    for name, secs in zip([pathlib.Path(m).name for m in made] + [pathlib.Path(custom[-1]).name],
                          saves):
        w, h = sizes[name]
        print(f"  {name:58s} {w:5d} x {h:5d} px  {secs:5.2f} s")
    out = {"points": res["points"], "sweep_s": sweep_s, "default_images": len(made),
           "default_s": default_s, "custom_s": custom_s, "plain_figure_s": plain, "save_s": saves,
           "largest_side_px": biggest, "sizes": sizes}
    (outdir / "bench_plots.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results")
