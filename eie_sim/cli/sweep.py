"""``eie-sweep``: a config's ``sweep:`` block (grid, random sample or search) into a
resumable results folder (docs/config.md "sweep:", docs/cluster.md)."""
from __future__ import annotations

import dataclasses
import pathlib
import signal
import sys
from concurrent.futures.process import BrokenProcessPool

from eie_sim.apps.sweep import run_sweep
from eie_sim.apps.sweep_db import DB_NAME
from eie_sim.arch import schema
from eie_sim.arch.config_io import MAX_SWEEP_POINTS, RUN_SPECS
from eie_sim.arch.sweep_spec import WORKLOAD_SWEEP_KEYS
from eie_sim.cli.common import (
    _arch_args,
    _guard,
    _layer_workload_args,
    _load,
    _parser,
    _run_args,
    _set_arg,
    layer_workload_block,
)
from eie_sim.errors import WorkloadError


def _build_parser():
    p = _parser("eie-sweep", "Sweep architecture and workload keys (the cross product of the "
                "sweep: block, a random: sample of it, or a search:), on local processes or a "
                "dask cluster, into a resumable results folder. The sweep comes from "
                "CONFIG.yaml, or from the command line alone: a workload flag (--synthetic, "
                "--table3, --npz, --model) and --sweep KEY=V1,V2,... (repeatable), e.g. "
                "eie-sweep --synthetic 1024,1024,0.1,0.5 --sweep pes=1,2,4,8 --out DIR.")
    p.add_argument("config", metavar="CONFIG.yaml", nargs="?",
                   help="configuration with sweep: and workload: blocks (docs/config.md); "
                   "optional when a workload flag is given")
    _set_arg(p, "pes=32, sweep.pes=[1,2], run.engine=simpy")
    p.add_argument("--sweep", dest="sweeps", action="append", default=[],
                   metavar="KEY=V1,V2,...",
                   help="sweep one key over these values (the same as --set "
                   "sweep.KEY=[V1,V2,...]): an architecture key (pes=1,2,4) or a workload key "
                   f"({', '.join(WORKLOAD_SWEEP_KEYS)}); repeatable (the cross product)")
    _run_args(p)
    p.add_argument("--out", metavar="DIR", required=False, help="results folder (run.out)")
    p.add_argument("--force", action="store_true", help="start over: replace a folder eie-sim wrote, once the new sweep has "
                   "completed (until then the old folder is kept as it was)")
    p.add_argument("--resume", action="store_true",
                   help="finish the sweep recorded in --out (its sweep.db): run only the missing "
                   "points (rerunning into the same folder does the same)")
    p.add_argument("--workers", type=int, help="processes or dask workers (run.workers, default 2)")
    p.add_argument("--executor", choices=RUN_SPECS["executor"].choices,
                   help="run.executor (default local)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="dask scheduler to use (implies --executor dask); only here, never in "
                   "a config file: eie-sweep runs what the scheduler sends, so name only one "
                   "you trust")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--max-points", type=int, metavar="N",
                   help=f"allow a sweep of up to N points (default limit {MAX_SWEEP_POINTS:,})")
    w = p.add_argument_group("workload (instead of the workload: block of CONFIG.yaml; "
                             "docs/config.md \"workload:\")")
    _layer_workload_args(w.add_mutually_exclusive_group())
    w.add_argument("--layers", metavar="A,B", help="with --model or --table3: only these layers "
                   "(workload.layers)")
    w.add_argument("--input", metavar="X.npy", help="with --model or --npz: the input vector "
                   "(workload.input)")
    w.add_argument("--act-density", type=float, metavar="F",
                   help="with --model or --npz: density of the synthetic input when no --input "
                   "(workload.act_density; default 0.5)")
    _arch_args(p)
    return p


def _sweep_sets(items: list[str]) -> list:
    """``--sweep KEY=V1,V2`` -> ``(label, "sweep.KEY=[V1,V2]")`` overrides."""
    out = []
    for item in items:
        if "=" not in item:
            raise WorkloadError(f"--sweep {item}: expected KEY=V1,V2,... (e.g. pes=1,2,4)")
        key, vals = (x.strip() for x in item.split("=", 1))
        if not key or not vals:
            raise WorkloadError(f"--sweep {item}: expected KEY=V1,V2,... (e.g. pes=1,2,4)")
        if not vals.startswith("["):
            vals = f"[{vals}]"
        out.append((f"--sweep {item}", f"sweep.{key}={vals}"))
    return out


def _sweep(argv) -> int:
    p = _build_parser()
    args = p.parse_args(argv)
    if args.max_points is not None and args.max_points < 1:
        raise WorkloadError(f"--max-points {args.max_points}: expected an integer >= 1")
    if args.resume and args.force:
        raise WorkloadError("--resume and --force: choose one (--force starts over)")
    if args.executor:
        args.sets.append(f"run.executor={args.executor}")
    if args.scheduler:
        args.sets.append("run.executor=dask")
        scheduler = schema.check(RUN_SPECS["scheduler"], args.scheduler, "--scheduler",
                                 typename=False)

    for name, given in (("--layers", args.layers), ("--input", args.input),
                        ("--act-density", args.act_density)):
        if given is not None and layer_workload_block(args) is None:
            raise WorkloadError(f"{name} applies to a workload flag (--model, --npz, "
                                f"--synthetic, --table3), not to a workload: block (set it there)")
    workload = layer_workload_block(args)
    if args.config is None and workload is None:
        raise WorkloadError("nothing to sweep: give CONFIG.yaml or a workload flag (--synthetic, "
                            "--table3, --npz, --model) with --sweep KEY=V1,V2,...")
    args.sets = list(args.sets) + _sweep_sets(args.sweeps)
    loaded = _load(args, workload)
    if args.scheduler:           # from the command line only (docs/cluster.md)
        loaded = dataclasses.replace(loaded, run=dataclasses.replace(loaded.run,
                                                                     scheduler=scheduler))
    out = args.out or loaded.run.out
    if not out:
        raise WorkloadError("no output directory: give --out DIR (or run.out in the config)")
    if args.force and not args.out:
        raise WorkloadError(f"--force replaces only a folder named with --out on the command "
                            f"line, not run.out of {loaded.source} ({out})")
    if not loaded.workload:
        raise WorkloadError(f"{loaded.source}: no workload: block to sweep over")
    if args.resume and not (pathlib.Path(out) / DB_NAME).is_file():
        raise WorkloadError(f"--resume: {out}/{DB_NAME} not found: nothing to resume")
    # a --force run over a folder: the new sweep runs beside it (docs/cluster.md)
    replacing = args.force and pathlib.Path(out).is_dir() and any(pathlib.Path(out).iterdir())
    try:
        res = run_sweep(loaded, out, force=args.force, quiet=args.quiet)
    except KeyboardInterrupt:
        print(f"eie-sweep: interrupted; {_kept(out, replacing)}", file=sys.stderr)
        return 130
    except BrokenProcessPool as exc:
        print(f"eie-sweep: a worker process died ({exc}); {_kept(out, replacing)}",
              file=sys.stderr)
        return 1
    print(f"{res['points']} points ({res['ran']} run now, {res['failed']} failed), "
          f"{res['rows']} rows -> {out}/sweep.csv ({res['wall_s']:.1f} s, "
          f"{res['points_per_s']:.1f} points/s)")
    return 0


def _kept(out, replacing: bool) -> str:
    """What a stopped run left (a --force run never touches the old folder: docs/cluster.md)."""
    if replacing:
        return (f"--force: {out} is left as it was and the new run's points are dropped; "
                f"rerun with --force to start over")
    if not (pathlib.Path(out) / DB_NAME).is_file():      # stopped before its first point
        return f"no point was recorded, nothing written to {out}"
    return (f"the finished points are kept in {out}/{DB_NAME}: rerun the same command (or "
            f"add --resume) to run the rest")


def _terminated(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def sweep_main(argv: list[str] | None = None) -> int:
    """``eie-sweep``; SIGTERM is handled like Ctrl-C (the workers are stopped, the points
    finished so far stay in the folder's database, exit status 130)."""
    try:
        old = signal.signal(signal.SIGTERM, _terminated)
    except ValueError:          # not the main thread: leave signals alone
        old = None
    try:
        return _guard("eie-sweep", _sweep, argv)
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
