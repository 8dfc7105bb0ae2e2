"""``eie-sweep``: the cross product of a config's ``sweep:`` block, one process per point."""
from __future__ import annotations

import signal

from eie_sim.apps.sweep import run_sweep
from eie_sim.arch.config_io import MAX_SWEEP_POINTS
from eie_sim.cli.common import _guard, _load, _parser
from eie_sim.errors import WorkloadError
from eie_sim.output import report


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
    p.add_argument("--max-points", type=int, metavar="N",
                   help=f"allow a sweep of up to N points (default limit {MAX_SWEEP_POINTS:,})")
    args = p.parse_args(argv)
    if args.max_points is not None and args.max_points < 1:
        raise WorkloadError(f"--max-points {args.max_points}: expected an integer >= 1")

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


def _terminated(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def sweep_main(argv: list[str] | None = None) -> int:
    """``eie-sweep``; SIGTERM is handled like Ctrl-C (the workers are stopped, nothing is
    written, exit status 130)."""
    try:
        old = signal.signal(signal.SIGTERM, _terminated)
    except ValueError:          # not the main thread: leave signals alone
        old = None
    try:
        return _guard("eie-sweep", _sweep, argv)
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
