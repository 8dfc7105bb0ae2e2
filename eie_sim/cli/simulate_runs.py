"""What ``eie-simulate`` does with a checked :class:`~eie_sim.arch.workload_spec.WorkloadSpec`:
one function per kind of workload, each run -> print -> write the results bundle.

* layer workloads (``table3``, ``synthetic``, ``npz``, ``model`` of fully-connected layers):
  :func:`eie_sim.sim.network.run_workload`; a ``model`` with convolutions runs through its
  graph with :func:`eie_sim.sim.runner.run_net`; both report with :mod:`eie_sim.output.report`
  (layers.csv, windows, traces, report.html);
* ``network``, ``squeezenet``: :func:`~eie_sim.sim.runner.run_net` per layer, reported by
  :mod:`eie_sim.output.netrun`; ``squeezenet`` with ``images``: the chained run
  (:mod:`eie_sim.apps.squeezenet_chain`, :mod:`eie_sim.output.squeezenet_chain`);
* ``lenet``: MNIST accuracy on EIE (:mod:`eie_sim.apps.lenet`).
"""
from __future__ import annotations

import dataclasses
import pathlib
import time

from compressor.errors import CompressorError
from compressor.progress import Progress
from compressor.zoo import parse_size
from eie_sim.apps.images import parse_images
from eie_sim.apps.lenet import lenet_accuracy
from eie_sim.apps.model_chain import run_model_chain
from eie_sim.apps.llm import run_llm
from eie_sim.apps.networks import run_network
from eie_sim.apps.squeezenet import run_squeezenet
from eie_sim.apps.squeezenet_chain import run_squeezenet_chain
from eie_sim.arch.config import INT_RANGES
from eie_sim.arch.config_io import dump_resolved
from eie_sim.arch.workload_spec import CNN_KEYS, DEFAULT_LENET_IMAGES, LLM_KEYS
from eie_sim.errors import TraceError, WorkloadError
from eie_sim.output import modelrun as model_report
from eie_sim.output import netrun as net_report
from eie_sim.output import report, traces
from eie_sim.output import squeezenet_chain as chain_report
from eie_sim.sim.columns import units_map
from eie_sim.sim import sram_fit
from eie_sim.sim.network import run_workload
from eie_sim.sim.runner import NetSource, run_net
from eie_sim.workloads.files import from_spec, model_code_bits
from eie_sim.workloads.graph import NetWorkload
from eie_sim.workloads.llm import LLM_NAMES

#: kinds that run whole networks (per output position or image by image)
NETWORK_KINDS = ("network", "squeezenet", "lenet")


def run(r) -> int:
    """Run ``r.spec`` (a :class:`eie_sim.cli.simulate._Run`) and report it."""
    spec = r.spec
    chained = spec.kind == "squeezenet" and spec.images is not None
    if r.loaded.fixed_point is not None and not chained:
        raise WorkloadError(f"{r.loaded.source}: fixed_point: applies to the chained run "
                            f"(--squeezenet --image) only")
    if spec.kind == "lenet":
        return _lenet(r)
    if spec.kind in ("squeezenet", "network"):
        what = {"network": "--network", "squeezenet": "--squeezenet"}[spec.kind] + \
            (" --image" if chained else "")
        if r.run.engine != "fast" or r.run.verify:
            raise WorkloadError(f"{what} runs the fast engine only (batched over positions); "
                                f"drop --engine simpy / --verify")
        _refuse_window(r, what, "windows are recorded for one input vector, a convolution "
                       "runs one per output position")
        _refuse_other_kind_keys(spec)
        if spec.kind == "network" and spec.value in LLM_NAMES:
            return _llm(r)
        return _chain(r) if chained else _net(r)
    return _layers(r)


def _recorded(r, spec, cfg):
    """The loaded config as the bundle records it: the effective ``arch`` and the workload
    with absolute paths (so ``config.yaml`` runs again from anywhere)."""
    return dataclasses.replace(r.loaded, arch=cfg, workload=spec.absolute())


def _refuse_window(r, flag: str, why: str) -> None:
    """``run.window`` from a config (the flags are refused earlier) where nothing records."""
    if r.run.window:
        raise WorkloadError(f"run.window ({r.loaded.source}) applies to --model, --npz, "
                            f"--synthetic, --table3 or a workload: block, not to {flag}: {why} "
                            f"(remove it, or --set run.window=null)")




def _lenet(r) -> int:
    """A ``lenet`` workload: MNIST images through a compressed LeNet-300-100 (apps/lenet)."""
    spec, run = r.spec, r.run
    _refuse_window(r, "--lenet", "windows are recorded for one input vector, it runs many images")
    images = spec.images or DEFAULT_LENET_IMAGES
    cfg, adopted = _adopt_model_bits(r, spec, r.cfg)
    res = lenet_accuracy(spec.path("lenet"), images, cfg, spec.path("mnist_dir"), r.options)
    lines = report.lenet_lines(res, run.engine) + adopted
    print("\n".join(lines))
    loaded = _recorded(r, spec, cfg)
    summary = {"title": "LeNet-300-100 accuracy", **res, "config": loaded.resolved(),
               "engine": run.engine, "wall_s": time.perf_counter() - r.t0}
    summary["units"] = units_map(summary)
    r.write({"summary.json": report.json_text(summary), "report.md": "# " + "\n".join(lines) + "\n",
             "config.yaml": dump_resolved(loaded)})
    return 0


def _net(r) -> int:
    """A ``network`` (compressor.zoo, synthetic weights) or ``squeezenet`` workload: every
    weight layer through :func:`~eie_sim.sim.runner.run_net` (per layer)."""
    spec, run = r.spec, r.run
    layers = list(spec.layers) if spec.layers else None
    if spec.kind == "network":
        try:
            size = parse_size(spec.input_size)
        except CompressorError as exc:
            raise WorkloadError(f"{spec.label}.input_size: {exc}") from None
        with Progress(None, desc=spec.value, unit="layer", quiet=r.args.quiet) as bar:
            nr = run_network(spec.value, r.cfg, spec.position_count, run.seed, size,
                             explicit=r.explicit, options=r.options, layers=layers, progress=bar)
    else:
        with Progress(None, desc="SqueezeNet", unit="layer", quiet=r.args.quiet) as bar:
            nr = run_squeezenet(spec.path("squeezenet"), r.cfg, spec.position_count, run.seed,
                                explicit=r.explicit, options=r.options, layers=layers,
                                progress=bar)
    print(net_report.markdown_table(nr), end="")
    for line in net_report.summary_lines(nr) + nr.notes:
        r.say(line)
    loaded = _recorded(r, spec, nr.config)
    # report.md + cycles.png (no report.html: its per-layer plots take seconds per layer,
    # and these networks have up to 112 layers)
    r.write(net_report.bundle_files(nr, loaded.resolved(), dump_resolved(loaded)), html=False)
    return 0


def _refuse_other_kind_keys(spec) -> None:
    """The LLM options with a compact network (or SqueezeNet), the position options with an
    LLM: refused, naming the key, never ignored."""
    llm = spec.kind == "network" and spec.value in LLM_NAMES
    keys = CNN_KEYS if llm else LLM_KEYS
    given = [k for k in keys if getattr(spec, k) is not None]
    if given:
        what = f"the LLM {spec.value}" if llm else f"{spec.kind} {spec.value or ''}".strip()
        takes = "an LLM (" + ", ".join(LLM_NAMES) + ")" if not llm else "a compact network"
        raise WorkloadError(f"{spec.label}.{given[0]}: applies to {takes} only, not to {what}")


def _llm(r) -> int:
    """An LLM ``network``: one decode step of its FC layers (apps/llm), reported as a network."""
    spec, run = r.spec, r.run
    with Progress(None, desc=spec.value, unit="layer", quiet=r.args.quiet) as bar:
        nr = run_llm(spec.value, r.cfg, density=spec.weight_density or 0.5,
                     batch=r.cfg.batch, act_threshold=spec.act_threshold or 0.0,
                     prune=spec.prune or "global", context=spec.context or 1024, seed=run.seed,
                     blocks=spec.blocks, layers=list(spec.layers) if spec.layers else None,
                     options=r.options, progress=bar)
    print(net_report.markdown_table(nr), end="")
    for line in net_report.llm_lines(nr) + net_report.summary_lines(nr) + nr.notes:
        r.say(line)
    loaded = _recorded(r, spec, nr.config)
    r.write(net_report.bundle_files(nr, loaded.resolved(), dump_resolved(loaded)), html=False)
    return 0


def _chain(r) -> int:
    """A ``squeezenet`` workload with ``images``: the images through the whole SqueezeNet
    chained on EIE (apps/squeezenet_chain); formats from the ``fixed_point:`` block."""
    spec = r.spec
    images = parse_images(spec.images)
    # the total is known once the app has loaded the network (its layer count x images)
    bar = Progress(None, desc="SqueezeNet chained", unit="layer", quiet=r.args.quiet)
    with bar:
        sq = run_squeezenet_chain(
            images, spec.path("squeezenet"), r.cfg, r.loaded.fixed_point,
            explicit=r.explicit, options=r.options,
            on_layer=lambda _res: bar.update(1),
            on_start=lambda n: bar.start(n * len(images)),
            on_image=lambda im: bar.note(
                f"{im.name}: float top-5 {im.float_top5}, EIE top-5 {im.eie_top5}"))
    print(chain_report.images_table(sq), end="")
    r.say("")
    r.say(chain_report.formats_table(sq).rstrip())
    for line in chain_report.summary_lines(sq) + sq.notes:
        r.say(line)
    loaded = dataclasses.replace(_recorded(r, spec, sq.config), fixed_point=sq.spec)
    r.write(chain_report.bundle_files(sq, loaded.resolved(), dump_resolved(loaded)))
    return 0


def _adopt_model_bits(r, spec, cfg):
    """A compressed model file whose codebooks are wider than ``weight_bits`` (a LeNet from
    ``eie-compress train``: 5-bit fc, 8-bit conv codes) runs with ``weight_bits`` raised to
    the file's width, unless the user set ``weight_bits`` (config or ``--set``): then the
    workload refuses the file, naming the layer. Returns the config and the note saying so."""
    if spec.kind not in ("model", "lenet"):
        return cfg, []
    bits = model_code_bits(spec.path(spec.kind))
    if bits is None or bits <= cfg.weight_bits or bits > INT_RANGES["weight_bits"][1] or \
            "weight_bits" in r.explicit:
        return cfg, []      # (wider than EIE allows: the workload refuses it, naming the layer)
    note = (f"weight_bits {cfg.weight_bits} -> {bits}: the model file's codebooks have "
            f"2**{bits} entries (set weight_bits to keep {cfg.weight_bits} and be refused)")
    return cfg.replace(weight_bits=bits), [note]




def _layers(r) -> int:
    """Layers (Table III, synthetic, an npz, a model's fc layers: sim/network.run_workload)
    or a model with convolutions through its graph (sim/runner.run_net)."""
    args, cfg, run, spec = r.args, r.cfg, r.run, r.spec
    cfg, adopted = _adopt_model_bits(r, spec, cfg)
    loaded = _recorded(r, spec, cfg)      # what the bundle records
    wl = from_spec(spec, cfg, seed=run.seed, graphs=True)
    if isinstance(wl, NetWorkload) and wl.mode == "chained":
        return _model_chain(r, wl, cfg, adopted)
    if isinstance(wl, NetWorkload):
        _check_graph_flags(r, wl)
    if args.no_relu and wl.network:
        raise WorkloadError("--no-relu applies to independent layers; the model's layers run as "
                            "a network (ReLU between layers, none after the last)")
    trace_layer = _trace_layer(args, wl)
    record = [trace_layer] if trace_layer else []
    if isinstance(wl, NetWorkload):
        nr = run_net(wl.net, wl.weights, wl.x, cfg, layers=wl.layers, options=r.options,
                     about=NetSource(seeds={"run_seed": run.seed}, source=wl.source),
                     record=record)
        results, totals = nr.layers, nr.totals()
    else:
        results, totals = run_workload(wl, cfg, r.options, run.relu, seed=run.seed, record=record)
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
    if not isinstance(wl, NetWorkload):
        summary["fit"] = _fit(wl.layers, cfg, run.check_fit)
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


def _fit(layers, cfg, checked: bool) -> dict:
    """Whether the layers fit the per-PE SRAMs (``fits``; a refused run never gets here
    unless ``checked`` is False), what one PE needs (``needed_*``, the largest layer) and
    what the design has (:mod:`eie_sim.sim.sram_fit`)."""
    need = sram_fit.point_need(layers, cfg)
    return {"fits": need.fits(cfg), "checked": checked, **sram_fit.fit_figures(need, None),
            **{f"configured_{k}": getattr(cfg, k) for k in sram_fit.SRAM_KEYS}}


def _model_chain(r, wl: NetWorkload, cfg, adopted: list[str]) -> int:
    """A model with a graph, chained (the default): every input through the whole graph in
    fixed point, its outputs against the float model's (apps/model_chain)."""
    args, run = r.args, r.run
    if args.no_relu or not run.relu:
        raise WorkloadError("--no-relu (run.relu) applies to independent layers; a model run "
                            "through its graph applies ReLU where the graph has one")
    if run.window or args.trace_perfetto or args.trace_vcd:
        raise WorkloadError("--window and the traces record one layer's input vector; a chained "
                            "run computes every layer: give --mode per-layer (and --layers)")
    if run.engine != "fast" or run.verify:
        raise WorkloadError("a chained model run uses the fast engine (batched over positions); "
                            "drop --engine simpy / --verify, or give --mode per-layer")
    bar = Progress(None, desc="chained", unit="layer", quiet=args.quiet)
    bar.start(len(wl.net.weight_layers) * len(wl.inputs))
    with bar:
        m = run_model_chain(
            wl.net, wl.weights, wl.inputs, cfg, float_net=wl.float_net,
            float_weights=wl.float_weights, float_model=wl.float_model, explicit=r.explicit,
            options=r.options, source=wl.source, on_layer=lambda _res: bar.update(1),
            on_input=lambda x: bar.note(f"{x.label}: relative error {x.rel_error:.4g}"))
    m.notes += adopted
    if wl.synthetic:
        m.notes.insert(0, "SYNTHETIC input (seeded); give --input files or --image names for "
                          "real inputs")
    print(model_report.inputs_table(m), end="")
    r.say(model_report.agreement_line(m))
    for line in netrun_lines(m) + m.notes:
        r.say(line)
    loaded = _recorded(r, r.spec, m.config)
    r.write(model_report.bundle_files(m, wl, loaded.resolved(), dump_resolved(loaded)))
    return 0


def netrun_lines(m) -> list[str]:
    """The configuration and the first input's totals (eie_sim.output.netrun)."""
    first = m.inputs[0].run
    return net_report.config_lines(first) + [net_report.totals_line(first).replace(
        "for one image", f"for one input ({m.inputs[0].label})")]


def _check_graph_flags(r, wl: NetWorkload) -> None:
    """Options that a model run through its graph cannot honour are refused, not ignored."""
    if r.args.no_relu or not r.run.relu:
        raise WorkloadError("--no-relu (run.relu) applies to independent layers; a model run "
                            "through its graph applies ReLU where the graph has one")
    conv = [n for n in wl.layer_names() if wl.has_conv(n)]
    if conv and (r.run.window or r.args.trace_perfetto or r.args.trace_vcd):
        raise WorkloadError(f"--window and the traces record one input vector per layer; "
                            f"layer(s) {', '.join(conv)} run one per output position (pick "
                            f"fully-connected layers with --layers)")



def _trace_layer(args, wl) -> str | None:
    """The name of the layer to trace (None: no trace asked for)."""
    if not (args.trace_perfetto or args.trace_vcd):
        return None
    names = wl.layer_names() if isinstance(wl, NetWorkload) else [lay.name for lay in wl.layers]
    if args.trace_layer is None:
        return names[0]
    if args.trace_layer not in names:
        raise TraceError(f"--trace-layer {args.trace_layer}: no such layer; layers: {', '.join(names)}")
    return args.trace_layer



def _stage_traces(r, res, summary: dict) -> list:
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


