"""``eie-plot``: utilisation, load balance and scaling plots from a results bundle.

A sweep folder without exported tables yet (``sweep.db`` but no ``sweep.csv``: the sweep
is running, was interrupted or killed) is plotted from the points its database holds so
far (:func:`eie_sim.apps.sweep.read_partial`, read-only), the titles saying "partial
sweep: n of N points" (docs/cluster.md, "Plots")."""
from __future__ import annotations

import pathlib

from eie_sim.apps.sweep import read_partial
from eie_sim.apps.sweep_db import DB_NAME
from eie_sim.cli.common import _guard, _parser
from eie_sim.output.plots import plot_results


def _plot(argv) -> int:
    p = _parser("eie-plot", "Plot utilisation, load balance and scaling from simulation results "
                "(a bundle of eie-simulate or eie-sweep, also an unfinished sweep folder: the points its sweep.db holds so far); with windows.csv (eie-simulate --window) "
                "also utilisation over time, in PNG and SVG (docs/timeline.md).")
    p.add_argument("results", metavar="RESULTS_DIR", help="a results bundle of eie-simulate or a "
                   "sweep folder of eie-sweep")
    p.add_argument("--out", metavar="DIR", required=True, help="directory for the plot files")
    p.add_argument("--force", action="store_true", help="replace an existing --out directory")
    p.add_argument("--layer", help="only this layer's per-PE and timeline plots (default: every layer)")
    args = p.parse_args(argv)

    folder = pathlib.Path(args.results)
    partial = None
    if (folder / DB_NAME).is_file() and not (folder / "sweep.csv").exists():
        partial = read_partial(folder)       # an unfinished sweep: its points so far
    made = plot_results(args.results, args.out, force=args.force, layer=args.layer,
                        partial=partial)
    if partial is not None:
        print(f"{folder}: {partial['note']} (from {DB_NAME}; rerun eie-sweep to finish it)")
    for m in made:
        print(m)
    return 0


def plot_main(argv: list[str] | None = None) -> int:
    return _guard("eie-plot", _plot, argv)
