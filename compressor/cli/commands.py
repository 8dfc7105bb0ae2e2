"""The subcommands of ``eie-compress`` (:data:`COMMANDS`, one ``cmd_*`` function each)
and what they share: per-layer options turned into :class:`~compressor.schedule.LayerSpec`
values, the training schedule, output checks, the summary printed at the end. Each
function takes the parsed arguments and returns the exit status; bad input raises
:class:`~compressor.errors.CLIError` (or the library's own error) for the guard of
:func:`compressor.cli.main`."""
from __future__ import annotations

import dataclasses
import io
import json
import os
import pathlib
import sys
from typing import Any

import numpy as np

from compressor import accounting, accuracy, fileformat, importers, inputs, pipeline, report
from compressor.caffe import squeezenet
from compressor.errors import CLIError, IDXError, ModelImportError, WeightsError
from compressor.fileio import atomic_write
from compressor.importers.inputs import input_shapes_from, input_values_from
from compressor.model import to_dense
from compressor.npzio import NPZ_GRAPH_KEY, load_npz_weights
from compressor.progress import TrainingProgress
from compressor.schedule import DSDSchedule, LayerSpec, default_layers, default_schedule
from compressor.training import networks
from compressor.training.data import load_mnist
from compressor.training.determinism import blas_info


def _dsd_schedule(args) -> DSDSchedule | None:
    if not args.dsd:
        return None
    dsd = dataclasses.replace(DSDSchedule(), sparsity=args.dsd_sparsity,
                              sparse_epochs=args.dsd_sparse_epochs,
                              dense_epochs=args.dsd_dense_epochs, dense_lr_factor=args.dsd_lr_factor)
    try:
        dsd.validate()
    except ValueError as exc:
        raise CLIError(f"--dsd-*: {exc}") from None
    return dsd


def _progress(args):
    """Bars on stderr and epoch lines on stdout, or nothing with --quiet."""
    quiet = getattr(args, "quiet", False) or getattr(args, "quiet_all", False)
    return None if quiet else TrainingProgress()



# ----------------------------------------------------------------------------- helpers
def per_layer(values: list[str], what: str, cast, names: list[str]) -> dict[str, Any]:
    """``["0.1", "ip1=0.08"]`` -> ``{layer: value}``; a bare value applies to every layer."""
    out: dict[str, Any] = {}
    for item in values:
        name, sep, val = item.rpartition("=")
        try:
            v = cast(val)
        except ValueError:
            raise CLIError(f"--{what} {item!r}: {val!r} is not a valid number") from None
        targets = names if not sep else [name]
        if sep and name not in names:
            raise CLIError(f"--{what} {item!r}: no layer {name!r}; layers are {', '.join(names)}")
        for t in targets:
            out[t] = v
    return out


def _layer_specs(args, names: list[str], kinds: dict[str, str], defaults: dict[str, Any] | None):
    dens = per_layer(args.density, "density", float, names)
    qual = per_layer(args.quality, "quality", float, names)
    bits = per_layer(args.bits, "bits", int, names)
    struct = per_layer(getattr(args, "structure", []), "structure", str, names)
    keep = getattr(args, "keep_mask", False)
    if keep and struct:
        raise CLIError("--keep-mask keeps the input's zeros as the mask: give it without --structure")
    if keep and (args.density or args.quality):
        raise CLIError("--keep-mask keeps the input's zeros as the mask: give it without "
                       "--density / --quality")
    specs = {}
    for name in names:
        base = defaults.get(name) if defaults else None
        spec = LayerSpec(density=None, quality=None, bits=base.bits if base else None,
                         index_bits=args.index_bits)
        if name in dens and name in qual:
            raise CLIError(f"layer {name}: give --density or --quality, not both")
        if name in dens:
            spec.density = dens[name]
        elif name in qual:
            spec.quality = qual[name]
        elif name in struct and struct[name].split(":")[0].strip().isdigit():
            pass                   # N:M fixes the density itself
        elif keep:
            spec.quality = 0.0     # |w| > 0: exactly the input's non-zeros survive
        elif base is not None:
            spec.density, spec.quality = base.density, base.quality
        elif name in struct:
            raise CLIError(f"layer {name}: --structure {struct[name]} needs a density (--density)")
        else:
            spec.quality = 1.0
        if name in bits:
            spec.bits = bits[name]
        if name in struct:
            spec.structure = struct[name]
        try:
            spec.validate(name)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        specs[name] = spec
    return specs


def _schedule(args, model: str, kmeans_init: str):
    sched = default_schedule(model)
    changes = {k: getattr(args, k) for k in ("epochs", "lr", "batch_size", "prune_rounds",
                                             "retrain_epochs", "quant_epochs")
               if getattr(args, k) is not None}
    sched = dataclasses.replace(sched, kmeans_init=kmeans_init, **changes)
    try:
        sched.validate()
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return sched


def _check_out(path: pathlib.Path, what: str = "--out") -> None:
    parent = path.parent if str(path.parent) else pathlib.Path(".")
    if not parent.is_dir():
        raise CLIError(f"{what} {path}: directory {parent} does not exist")
    if path.is_dir():
        raise CLIError(f"{what} {path}: is a directory")
    if not os.access(parent, os.W_OK):
        raise CLIError(f"{what} {path}: directory {parent} is not writable")


def _load_data(args):
    if args.mnist_dir is None and not 0 < args.n_test < 5000:
        raise CLIError(f"--n-test must be in 1..4999 for the 5,000-image subset, got {args.n_test}")
    try:
        return load_mnist(args.mnist_dir, n_test=args.n_test, seed=args.data_seed)
    except IDXError as exc:
        raise CLIError(str(exc)) from None


def _finish(result, args, stem: str, out_existed: bool) -> None:
    """Write the report (if asked) and print the summary; on failure remove our output."""
    try:
        rows = report.table_rows(result.model, result.file_path)
        if args.report_dir is not None:
            md, csv_path = report.write_report(result.model, args.report_dir, stem, result.file_path)
            print(f"report: {md} and {csv_path}")
    except BaseException:
        if not out_existed and result.file_path is not None and result.file_path.exists():
            result.file_path.unlink()
        raise
    print(report.markdown(result.model, rows, result.file_bytes,
                          environment=blas_info()).split("\n## Run")[0])
    print(f"wrote {result.file_path}: {result.file_bytes} bytes, {size_comparison(result.ratio)} "
          f"float32 ({result.dense_bytes} bytes); {result.seconds:.1f} s")


def size_comparison(ratio: float) -> str:
    """``"35.2x smaller than"`` for a file smaller than the dense weights (ratio = dense /
    file), ``"2.5x larger than"`` for a bigger one, ``"the same size as"`` at 1.0x."""
    if round(ratio, 1) == 1.0:
        return "the same size as"
    if ratio > 1:
        return f"{ratio:.1f}x smaller than"
    return f"{1 / ratio:.1f}x larger than"



# --------------------------------------------------------------------------- commands
def cmd_train(args) -> int:
    net = networks.build(args.model, 0)
    names = [l.name for l in net.weighted_layers()]
    kinds = {l.name: l.kind for l in net.weighted_layers()}
    specs = _layer_specs(args, names, kinds, default_layers(args.model))
    sched = _schedule(args, args.model, args.kmeans_init)
    dsd = _dsd_schedule(args)
    _check_out(args.out)
    if args.report_dir is not None and args.report_dir.exists() and not args.report_dir.is_dir():
        raise CLIError(f"--report-dir {args.report_dir}: not a directory")
    data = _load_data(args)
    existed = args.out.exists()
    result = pipeline.run_model(args.model, data, seed=args.seed, specs=specs, sched=sched,
                                out=args.out, progress=_progress(args), dsd=dsd)
    _finish(result, args, args.out.stem, existed)
    return 0


def cmd_npz(args) -> int:
    try:
        weights = load_npz_weights(args.weights)
    except WeightsError as exc:
        raise CLIError(str(exc)) from None
    names = [k for k in weights if not k.endswith(".bias")]
    kinds = {k: ("fc" if weights[k].ndim == 2 else "conv") for k in names}
    defaults = default_layers(args.model) if args.model else None
    if args.model:
        expected = default_layers(args.model)
        if sorted(expected) != sorted(names):
            raise CLIError(f"{args.weights}: layers {', '.join(names)} are not {args.model}'s "
                           f"({', '.join(expected)})")
    specs = _layer_specs(args, names, kinds, defaults)
    sched = _schedule(args, args.model or "lenet300", args.kmeans_init)
    _check_out(args.out)
    data = _load_data(args) if args.model else None
    existed = args.out.exists()
    progress = _progress(args)
    try:
        result = pipeline.compress_weights(weights, specs, seed=args.seed, kmeans_init=args.kmeans_init,
                                           model=args.model, data=data, sched=sched, out=args.out,
                                           progress=progress, source=args.weights.name)
    except WeightsError as exc:
        raise CLIError(str(exc)) from None
    _finish(result, args, args.out.stem, existed)
    return 0


def cmd_import(args) -> int:
    """``import MODEL``: any supported model file -> .dcmp (compressor.importers), with the
    float-vs-compressed agreement on calibration inputs (compressor.accuracy) and, with
    ``--target-agreement`` / ``--max-rel-error``, densities and bits chosen by sensitivity."""
    layers = [n.strip() for n in args.layers.split(",") if n.strip()] if args.layers else None
    imp = importers.load_model(args.model_file, args.format,
                               input_shapes=input_shapes_from(args.input_shape),
                               input_values=input_values_from(args.input_value), layers=layers)
    names = imp.layer_names
    budget = args.target_agreement is not None or args.max_rel_error is not None
    if budget and (args.density or args.quality):
        raise CLIError("--target-agreement / --max-rel-error choose each layer's density: give "
                       "them without --density / --quality (--keep-mask: search bits only)")
    specs = _layer_specs(args, names, {n: imp.kind(n) for n in names}, None)
    _check_out(args.out)
    if args.report_dir is not None and args.report_dir.exists() and not args.report_dir.is_dir():
        raise CLIError(f"--report-dir {args.report_dir}: not a directory")
    existed = args.out.exists()
    print(f"read {imp.describe()}")
    for note in imp.meta.get("folded", []):
        print(f"folded {note}")
    for note in imp.meta.get("notes", []):
        print(f"read {note}")
    for note in imp.meta.get("left_out", []):
        print(f"left out {note}")
    if imp.meta.get("not_selected"):
        print(f"not selected (--layers): {', '.join(imp.meta['not_selected'])}")
    if imp.meta.get("host_layers"):
        rec = imp.meta.get("recurrent_layers", 0)
        print(f"host work: {imp.meta['host_layers']} layers on the host"
              + (f" and the gate arithmetic of {rec} recurrent layer(s)" if rec else "")
              + f", {imp.meta['host_flops']} floating-point operations per run "
              "(compressor.graph.ops.host_work)")
    cal, why_not = _calibration(args, imp)
    if budget and cal is None:
        raise CLIError(f"--target-agreement / --max-rel-error need the model's outputs: {why_not}")
    search = None
    if budget:
        if imp.format == "dcmp":
            raise CLIError("--target-agreement / --max-rel-error start from float weights: give "
                           "the dense model (.onnx, .safetensors, .npz), not a .dcmp")
        labels, xs, _ = cal
        quiet = args.quiet or args.quiet_all
        search = accuracy.search_specs(
            imp.net, imp.weights, xs, labels, target_agreement=args.target_agreement,
            max_rel_error=args.max_rel_error, index_bits=args.index_bits, seed=args.seed,
            kmeans_init=args.kmeans_init,
            fixed_bits=per_layer(args.bits, "bits", int, names),
            fixed_fraction={n: 1.0 for n in names} if args.keep_mask else None,
            say=None if quiet else (lambda m: print(m, flush=True)))
        specs = search.specs
    keep: dict = {}
    if imp.format == "dcmp":    # compressed already: keep codes + codebook where bits allow
        explicit = set(per_layer(args.density, "density", float, names)) | \
            set(per_layer(args.quality, "quality", float, names)) | \
            set(per_layer(args.structure, "structure", str, names))
        keep, lines = importers.kept_layers(fileformat.load(args.model_file), specs, explicit)
        for line in lines:
            print(line)
    rule = ("densities and bits chosen by sensitivity (compressor.accuracy)" if budget else
            "keep the input's mask" if args.keep_mask else "one shot")
    result = importers.compress_imported(
        imp, specs, seed=args.seed, kmeans_init=args.kmeans_init, out=None,
        progress=_progress(args), keep=keep, extra_meta={"pruning_rule": rule})
    warnings: list[str] = []
    if cal is not None:
        labels, xs, desc = cal
        agree = accuracy.compare_outputs(accuracy.final_outputs(imp.net, imp.weights, xs),
                                         accuracy.final_outputs(imp.net, result.model, xs), labels)
        warnings = accuracy.warnings_for(agree, args.warn_agreement, args.warn_rel_error)
        if search is not None and not search.met:
            warnings.insert(0, f"the target ({', '.join(f'{k} {v:g}' for k, v in search.target.items())}) "
                               f"cannot be met without retraining: even 8-bit codes with every "
                               f"non-zero kept give {agree.summary()}")
        elif search is not None and not accuracy.meets(agree, args.target_agreement,
                                                       args.max_rel_error):
            warnings.insert(0, "the compressed file misses the target that its settings met "
                               "in the search")
        result.model.meta["agreement"] = {
            "calibration": desc, "measured": agree.as_dict(), "warnings": warnings,
            "warn_agreement": args.warn_agreement, "warn_rel_error": args.warn_rel_error,
            **({"search": search.as_dict()} if search is not None else {})}
        print(f"agreement with the float model ({desc}): {agree.summary()}")
    else:
        print(f"agreement with the float model: not measured: {why_not}")
    try:
        importers.save_checked(result, args.out)
    except BaseException:
        if not existed and args.out.exists():
            args.out.unlink()
        raise
    if imp.net is None:
        print("no graph in this format: fully-connected layers run on EIE as a chain (or each "
              "alone); convolution weights need a graph to run (docs/byom.md)")
    elif "graph_note" in result.model.meta:
        print(result.model.meta["graph_note"])
    _finish(result, args, args.out.stem, existed)
    for w in warnings:
        print(f"eie-compress import: WARNING: {w}", file=sys.stderr, flush=True)
    return 0


def _calibration(args, imp):
    """The calibration set ``(labels, inputs, description)`` of ``imp`` (values of its
    graph's first input; further inputs, a recurrent state, are zeros), or ``(None, why)``
    when its outputs cannot be computed (no graph)."""
    if imp.net is None:
        return None, ("the file holds no graph (the operations between the layers are "
                      "unknown)")
    layout = inputs.input_layout(imp.meta)
    return accuracy.calibration_set(imp.net, layout, args.calibration, args.image_preprocess,
                                    args.seed), ""


def cmd_inspect(args) -> int:
    if args.csv is not None:
        _check_out(args.csv, "--csv")  # before loading or printing anything
    model = fileformat.load(args.file)
    rows = report.table_rows(model, args.file)
    print(report.markdown(model, rows, args.file.stat().st_size, title=f"{args.file}"))
    if args.csv is not None:
        accounting.write_csv(rows, args.csv)  # atomic
    return 0


def cmd_decode(args) -> int:
    """``decode FILE --out X.npz``: the dense weights (``X``, ``X.bias``) and, when the file
    has a graph (``meta.graph`` or a LeNet it names: :func:`compressor.importers.graph_of`),
    that graph as JSON text under the reserved key ``__graph__`` (docs/byom.md)."""
    model = fileformat.load(args.file)
    _check_out(args.out)
    arrays: dict[str, Any] = to_dense(model)
    values = sum(a.size for a in arrays.values())
    net = importers.graph_of(model, str(args.file))
    graph_note = "no graph"
    if net is not None:
        try:
            arrays[NPZ_GRAPH_KEY] = np.array(json.dumps(importers.net_to_json(net)))
            graph_note = f"graph {net.name!r} under {NPZ_GRAPH_KEY!r}"
        except ModelImportError as exc:
            graph_note = f"graph not stored: {exc}"
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(args.out, buf.getvalue())
    print(f"wrote {args.out}: {len(model.layers)} layers, {values} float32 values; {graph_note}")
    return 0


def cmd_squeezenet(args) -> int:
    conv = squeezenet.convert(args.prototxt, args.net, out=args.out, npz=args.npz,
                              report_dir=args.report_dir, seed=args.seed)
    print(conv.markdown)
    print(conv.activations)
    print(conv.summary())
    return 0


COMMANDS = {"train": cmd_train, "npz": cmd_npz, "import": cmd_import, "inspect": cmd_inspect,
            "decode": cmd_decode, "squeezenet": cmd_squeezenet}

