"""``eie-plot``: utilisation, load balance and scaling plots from a results bundle."""
from __future__ import annotations

from eie_sim.cli.common import _guard, _parser
from eie_sim.output.plots import plot_results


def _plot(argv) -> int:
    p = _parser("eie-plot", "Plot utilisation, load balance and scaling from simulation results "
                "(a bundle of eie-simulate or eie-sweep); with windows.csv (eie-simulate --window) "
                "also utilisation over time, in PNG and SVG (docs/timeline.md).")
    p.add_argument("results", metavar="RESULTS_DIR")
    p.add_argument("--out", metavar="DIR", required=True, help="directory for the plot files")
    p.add_argument("--force", action="store_true")
    p.add_argument("--layer", help="only this layer's per-PE and timeline plots (default: every layer)")
    args = p.parse_args(argv)

    made = plot_results(args.results, args.out, force=args.force, layer=args.layer)
    for m in made:
        print(m)
    return 0


def plot_main(argv: list[str] | None = None) -> int:
    return _guard("eie-plot", _plot, argv)
