"""What the command-line tools share: argument groups, config loading, and the one rule
for errors: every bad input ends with one line ``<prog>: error: <what and where>`` on
stderr and exit status 2 (:data:`eie_sim.errors.EXIT_BAD_INPUT`, the same for
``eie-compress``); a simulated result that fails its numpy check ends with
``<prog>: check failed: ...`` and status 1; nothing is written in either case.
"""
from __future__ import annotations

import argparse

from compressor.cliguard import ErrorRules, run_guarded
from compressor.errors import CompressorError
from eie_sim.arch import schema
from eie_sim.arch.config import RunOptions
from eie_sim.arch.config_io import load_config
from eie_sim.errors import CHECK_ERRORS, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, INPUT_ERRORS

#: bad input that is not the simulator's own: unreadable files and directories, and the
#: compressor's refusals of a model file or an MNIST folder
OUTSIDE_INPUT_ERRORS: tuple[type[BaseException], ...] = (OSError, CompressorError)


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=prog, description=description)


def _describe(exc: BaseException) -> str:
    """An input error's line: an ``OSError`` whose text does not name its file gets
    ``file: reason``."""
    msg = str(exc)
    if isinstance(exc, OSError) and getattr(exc, "filename", None) and exc.filename not in msg:
        msg = f"{exc.filename}: {exc.strerror or msg}"
    return msg


#: the simulator's tools under the project's one CLI guard (:mod:`compressor.cliguard`)
RULES = ErrorRules(check_errors=CHECK_ERRORS, input_errors=INPUT_ERRORS + OUTSIDE_INPUT_ERRORS,
                   exit_check_failed=EXIT_CHECK_FAILED, exit_bad_input=EXIT_BAD_INPUT,
                   describe=_describe,
                   out_of_memory="out of memory: the workload is too large for this machine; "
                                 "nothing written",
                   interrupted="interrupted; nothing written")


def _guard(prog: str, fn, argv) -> int:
    """``fn(argv)`` under :data:`RULES`."""
    return run_guarded(prog, lambda: fn(argv), RULES)


def _common_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="YAML", help="configuration file (docs/config.md); "
                   "default: the paper's design point")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override one key (pes=32, run.engine=simpy, sweep.pes=[1,2]); repeatable")
    run = schema.specs(RunOptions)          # ranges and choices: the run: block's specs
    p.add_argument("--engine", choices=run["engine"].choices, help="timing engine (run.engine)")
    p.add_argument("--verify", action="store_true", default=None,
                   help="run both engines and require identical counters (run.verify)")
    p.add_argument("--seed", type=int, help=f"seed of synthetic workloads and inputs, "
                   f"{schema.allowed(run['seed'])} (run.seed)")
    p.add_argument("--energy-table", metavar="YAML", help="energy table replacing the built-in one")
    p.add_argument("--out", metavar="DIR", help="results bundle directory (run.out)")
    p.add_argument("--force", action="store_true", help="replace an existing --out directory")


def _load(args):
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
    return load_config(args.config, sets, max_points=getattr(args, "max_points", None))
