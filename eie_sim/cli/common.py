"""What the command-line tools share: argument groups, config loading, and the one rule
for errors: every bad input ends with one line ``<prog>: error: <what and where>`` on
stderr and exit status 2 (:data:`eie_sim.errors.EXIT_BAD_INPUT`, the same for
``eie-compress``); a simulated result that fails its numpy check ends with
``<prog>: check failed: ...`` and status 1; nothing is written in either case.
"""
from __future__ import annotations

import argparse
import pathlib

from compressor.cliguard import ErrorRules, run_guarded
from compressor.errors import CompressorError
from eie_sim.arch import schema
from eie_sim.arch.config import ArchConfig, ConfigError, RunOptions
from eie_sim.arch.config_io import load_config
from eie_sim.errors import CHECK_ERRORS, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, INPUT_ERRORS
from eie_sim.workloads.synthetic import parse_synthetic_arg

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


def _flag(key: str) -> str:
    """The command-line flag of a configuration key (``queue_depth`` -> ``--queue-depth``)."""
    return "--" + key.replace("_", "-")


def _shown_default(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return f"{v:g}" if isinstance(v, float) else str(v)


def spec_help(s: schema.Spec, default) -> str:
    """A flag's help text from its key's spec (eie_sim.arch.schema): meaning, unit,
    allowed values, default (the docs table's Markdown marks left out)."""
    text = s.doc.replace("**", "").replace("`", "")
    if s.unit:
        text += f" ({s.unit})"
    text += f"; {schema.allowed(s)}"
    if s.note:
        text += f" ({s.note})"
    text += f"; default {_shown_default(default)}"
    return text.replace("%", "%%")


def _metavar(key: str, s: schema.Spec) -> str:
    m = {"int": "N", "float": "X", "bool": "BOOL", "choice": "NAME"}.get(s.kind, "VALUE")
    if s.unit in ("KB", "MHz"):
        m = s.unit.upper()
    elif key.endswith("_bits"):
        m = "BITS"
    return f"{m}|null" if s.optional else m


def _arch_args(p: argparse.ArgumentParser) -> None:
    """One flag per architecture key (``--pes 32``, ``--queue-depth 4``, ...), generated
    from the :class:`~eie_sim.arch.config.ArchConfig` specs: the same as ``--set KEY=VALUE``
    (the value read as YAML and checked by the key's spec), errors naming the flag."""
    g = p.add_argument_group("architecture (each is the key of docs/config.md, the same as "
                             "--set KEY=VALUE; default: the paper's design point)")
    dflt = schema.defaults(ArchConfig)
    for key, s in schema.specs(ArchConfig).items():
        g.add_argument(_flag(key), dest=f"arch_{key}", metavar=_metavar(key, s),
                       help=spec_help(s, dflt[key]))


def _run_args(p: argparse.ArgumentParser) -> None:
    """The ``run:`` keys every tool takes as flags."""
    run = schema.specs(RunOptions)          # ranges and choices: the run: block's specs
    p.add_argument("--engine", choices=run["engine"].choices,
                   help=f"{spec_help(run['engine'], 'fast')} (run.engine)")
    p.add_argument("--verify", action="store_true", default=None,
                   help="run both engines and require identical counters (run.verify)")
    p.add_argument("--seed", type=int, help=f"seed of synthetic workloads and inputs, "
                   f"{schema.allowed(run['seed'])} (run.seed; default 0)")
    p.add_argument("--energy-table", metavar="YAML", help="energy table replacing the built-in "
                   "one (run.energy_table; docs/energy.md)")


def _set_arg(p: argparse.ArgumentParser, example: str) -> None:
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help=f"override one key of the configuration ({example}); repeatable; the "
                   f"architecture keys also have their own flags (--pes 32)")


def _common_config_args(p: argparse.ArgumentParser) -> None:
    """eie-simulate's configuration options: --config, --set, the run flags, --out/--force
    and one flag per architecture key."""
    p.add_argument("--config", metavar="YAML", help="configuration file (docs/config.md); "
                   "default: the paper's design point")
    _set_arg(p, "pes=32, run.engine=simpy")
    _run_args(p)
    p.add_argument("--out", metavar="DIR", help="results bundle directory (run.out)")
    p.add_argument("--force", action="store_true", help="replace an existing --out directory")
    _arch_args(p)


def _flag_sets(args) -> list:
    """The architecture flags given, as ``(label, "key=value")`` overrides for
    :func:`~eie_sim.arch.config_io.load_config` (after the ``--set`` items); a key given
    both ways is refused."""
    out = []
    set_keys = {}
    for item in args.sets:
        if isinstance(item, str):         # a --set item (not a --sweep's)
            set_keys.setdefault(item.split("=", 1)[0].strip(), item)
    for key in schema.specs(ArchConfig):
        value = getattr(args, f"arch_{key}", None)
        if value is None:
            continue
        if key in set_keys:
            raise ConfigError(f"{_flag(key)} {value} and --set {set_keys[key]}: give the key once")
        out.append((f"{_flag(key)} {value}", f"{key}={value}"))
    return out


def _load(args, workload=None):
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
    sets += _flag_sets(args)
    return load_config(args.config, sets, max_points=getattr(args, "max_points", None),
                       workload=workload)


def _layer_workload_args(src) -> None:
    """The workload flags of layer workloads (what a sweep runs too) in the mutually
    exclusive group ``src``: --model, --npz, --synthetic, --table3."""
    src.add_argument("--model", metavar="FILE", help="a model file: .dcmp, .onnx, .safetensors "
                     "or .npz (docs/byom.md); fc layers as a network, a model with convolutions "
                     "through its graph (M x V per output position)")
    src.add_argument("--npz", metavar="FILE.npz", help="weights in the .npz convention (X, "
                     "X.bias: as --model), or one layer as codes+codebook or weights, [bias], [x]")
    src.add_argument("--synthetic", metavar="ROWS,COLS,WD,AD[,SEED[,bias]]",
                     help="a synthetic layer (weight density WD, activation density AD)")
    src.add_argument("--table3", metavar="NAME|all",
                     help="Table III layers (synthetic), comma list or all")


#: the layer workload flags (:func:`_layer_workload_args`)
LAYER_WORKLOAD_FLAGS = ("model", "npz", "synthetic", "table3")


def _abs(path: str | None) -> str | None:
    """A path given on the command line, made absolute from the current directory."""
    return None if path is None else str(pathlib.Path(path).absolute())


def layer_workload_block(args) -> tuple[str, dict] | None:
    """``(label, workload: block)`` of the layer workload flag given (paths made absolute
    from the current directory), with --layers, --input and --act-density; None when no
    workload flag was given (the block is checked where the configuration is loaded)."""
    flag = next((n for n in LAYER_WORKLOAD_FLAGS if getattr(args, n, None) is not None), None)
    if flag is None:
        return None
    value = getattr(args, flag)
    if flag == "synthetic":
        block: dict = {"synthetic": parse_synthetic_arg(value)}
    elif flag in ("model", "npz"):
        block = {flag: _abs(value)}
    else:
        block = {flag: value}
    if getattr(args, "layers", None) is not None:
        block["layers"] = args.layers
    if getattr(args, "input", None) is not None:
        block["input"] = _abs(args.input)
    if getattr(args, "act_density", None) is not None:
        block["act_density"] = args.act_density
    return f"--{flag} {value}", block
