"""``eie-plot``: utilisation, load balance, scaling and design-space plots from a results
bundle, written into the bundle's ``plots/`` folder by default (replacing the plots an
earlier ``eie-plot`` wrote there, never a folder of anything else).

``--x KEY --y METRIC[,METRIC]`` draws one plot of a sweep's points instead (any metric
against any swept key, :func:`eie_sim.output.sweep_figures.metric_figure`), added to the
plots folder. A sweep folder without exported tables yet (``sweep.db`` but no
``sweep.csv``: the sweep is running, was interrupted or killed) is plotted from the
points its database holds so far (:func:`eie_sim.apps.sweep.read_partial`, read-only),
the titles saying "partial sweep: n of N points" (docs/cluster.md, "Plots")."""
from __future__ import annotations

import pathlib

from eie_sim.apps.sweep import read_partial
from eie_sim.output.sweep_html import write_sweep_report
from eie_sim.apps.sweep_db import DB_NAME
from eie_sim.cli.common import _guard, _parser
from eie_sim.errors import PlotError
from eie_sim.output.plots import PLOTS_DIR, Request, plot_results
from eie_sim.output.sweep_figures import AGGREGATES, MAX_FACETS, MAX_LINES


def _fix(text: str) -> tuple[str, str]:
    key, eq, value = text.partition("=")
    if not eq or not key.strip() or not value.strip():
        raise PlotError(f"--fix {text!r}: expected KEY=VALUE (e.g. spmat_width_bits=64)")
    return key.strip(), value.strip()


def _plot(argv) -> int:
    p = _parser("eie-plot", "Plot utilisation, load balance, scaling and design-space figures "
                "from simulation results (a bundle of eie-simulate or eie-sweep, also an "
                "unfinished sweep folder: the points its sweep.db holds so far); with "
                "windows.csv (eie-simulate --window) also utilisation over time, in PNG and SVG "
                "(docs/timeline.md). With --x/--y: one plot of any metric against any swept "
                "key (docs/cluster.md, 'Plots').")
    p.add_argument("results", metavar="RESULTS_DIR",
                   help="a folder written by eie-simulate or eie-sweep")
    p.add_argument("--out", metavar="DIR",
                   help=f"folder for the plot files (default: RESULTS_DIR/{PLOTS_DIR}); a folder "
                        f"eie-plot wrote is replaced, another eie-sim tool's folder only with --force, "
                        f"any other folder never")
    p.add_argument("--force", action="store_true",
                   help="also replace an --out folder another eie-sim tool wrote (never a "
                        "folder holding files eie-sim did not write)")
    p.add_argument("--layer", help="only this layer's per-PE and timeline plots (default: every layer)")
    p.add_argument("--x", metavar="KEY",
                   help="draw one plot against this swept key (e.g. pes) instead of the default "
                        "set; the file is added to the plots folder")
    p.add_argument("--y", metavar="METRIC[,METRIC]",
                   help="with --x: the metric column(s) to plot, comma-separated, one row of "
                        "panels each (points.csv columns such as time_us, cycles, "
                        "total_energy_uj, energy_spmat_read_uj, chip_area_mm2; or a sweep.csv "
                        "per-layer column such as load_efficiency); default time_us")
    p.add_argument("--color", "--colour", dest="colour", metavar="KEY",
                   help=f"with --x: one line per value of this key (at most {MAX_LINES}, "
                        f"evenly spread); 'none' for no colour key (default: the next swept key "
                        f"that varies)")
    p.add_argument("--facet", metavar="KEY",
                   help=f"with --x: one panel per value of this key (at most {MAX_FACETS} side by "
                        f"side); 'none' for one panel column (default: the next swept key that "
                        f"varies)")
    p.add_argument("--fix", metavar="KEY=VALUE", action="append", default=[],
                   help="with --x: only the points where KEY has this value; repeatable. Keys "
                        "neither x, colour, facet nor fixed are fixed at the design point's "
                        "value (else the middle one), said in the title")
    p.add_argument("--agg", choices=sorted(AGGREGATES),
                   help="with --x: aggregate the keys that are not x, colour, facet or --fix "
                        "(min, max or mean over their values) instead of fixing them")
    args = p.parse_args(argv)

    request = None
    if args.x is not None:
        ys = [y.strip() for y in (args.y or "time_us").split(",") if y.strip()]
        if not ys or len(ys) > 4:
            raise PlotError(f"--y {args.y!r}: give 1 to 4 metric columns, comma-separated")
        request = Request(args.x, ys, args.colour, args.facet, dict(map(_fix, args.fix)),
                          args.agg)
    elif args.y or args.colour or args.facet or args.fix or args.agg:
        raise PlotError("--y, --color, --facet, --fix and --agg go with --x KEY (the key to "
                        "plot against)")

    folder = pathlib.Path(args.results)
    partial = None
    if (folder / DB_NAME).is_file() and not (folder / "sweep.csv").exists():
        partial = read_partial(folder)       # an unfinished sweep: its points so far
    notes: list[str] = []
    made = plot_results(args.results, args.out, force=args.force, layer=args.layer,
                        partial=partial, request=request, notes=notes)
    if partial is not None:
        print(f"{folder}: {partial['note']} (from {DB_NAME}; rerun eie-sweep to finish it)")
    for n in notes:
        print(f"note: {n}")
    if not made:
        print(f"{folder}: nothing to plot; nothing written")
    for m in made:
        print(m)
    if made and partial is None and args.out is None and (folder / DB_NAME).is_file() \
            and (folder / "points.csv").is_file():
        # the sweep's report.html embeds the plots found in its folder: rewritten with these
        print(write_sweep_report(folder))
    return 0


def plot_main(argv: list[str] | None = None) -> int:
    return _guard("eie-plot", _plot, argv)
