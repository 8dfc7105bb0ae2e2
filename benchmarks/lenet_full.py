"""Deep Compression Tables 1-3 on the *full* MNIST (issue 27), used by ``bench_lenet``'s
full version (``make bench-full``).

Protocol (:data:`compressor.schedule.FULL_MNIST_PROTOCOL`): the 60,000 training images
are split 55,000 train / 5,000 validation (:func:`compressor.training.data.load_full_mnist`,
seeded and stratified). Every candidate (per-layer densities + schedule,
:data:`compressor.schedule.FULL_MNIST_LAYERS` / ``FULL_MNIST_SCHEDULES``) is trained on
the 55,000 and measured on the validation images only; per network the candidate with the
best validation accuracy of the decoded file among those whose file reaches the paper's
ratio is chosen (:func:`choose`); only then are the 10,000 official test images run, once,
through the chosen candidate's dense network and decoded file (:func:`test_once`).

Stages, each timed: dense training (the seconds of every epoch are printed), iterative
pruning with masked retraining, k-means + centroid fine-tuning, Huffman encoding into the
``.dcmp`` file (read back and checked to decode to the measured weights). The compressed
files are then run on EIE (:func:`simulate_on_eie`): LeNet-300-100 image by image through
the cycle-level simulator (cycles, energy, logits checked bit for bit against the
simulator's batched integer arithmetic), LeNet-5's fc layers likewise on the features its
convolutions give in EIE's arithmetic.

Training phase and report phase are separate: ``train_candidate`` writes everything it
measured under ``outdir`` (``{model}_{key}.json``, ``.dcmp``, dense ``.npz``) so a report
can be rebuilt from the files (``python -m benchmarks.lenet_full report OUT``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import sys
import time
from typing import Any, Callable

import numpy as np

from compressor import fileformat
from compressor.errors import RoundTripError
from compressor.pipeline import (
    _stage_seed,
    dense_bytes,
    prune_and_retrain,
    quantize_and_finetune,
    set_from_quantized,
    to_quantized_model,
)
from compressor.schedule import (
    FULL_MNIST_LAYERS,
    FULL_MNIST_PROTOCOL,
    FULL_MNIST_SCHEDULES,
    FULL_MNIST_TARGETS,
)
from compressor.training.data import Dataset
from compressor.training.determinism import format_blas, pinned_blas
from compressor.training.networks import PAPER, build
from compressor.training.nn import train

SEED = 0
DATA_SEED = 0
TITLES = {"lenet300": "LeNet-300-100", "lenet5": "LeNet-5"}
Log = Callable[[str], None]


def _err(acc: float) -> float:
    return round(100.0 - acc, 4)


def train_candidate(model: str, key: str, data: Dataset, outdir: pathlib.Path,
                    log: Log = print) -> dict[str, Any]:
    """Train and compress one candidate on ``data.tuning()`` (train / validation); write
    ``{model}_{key}.dcmp``, ``{model}_{key}_dense.npz`` and ``{model}_{key}.json``.
    Never looks at the test images."""
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    specs = {k: dataclasses.replace(v) for k, v in FULL_MNIST_LAYERS[model][key].items()}
    sched = dataclasses.replace(FULL_MNIST_SCHEDULES[model][key])
    sched.validate()
    tune = data.tuning()
    val = (tune.x_test, tune.y_test)
    rec: dict[str, Any] = {"model": model, "candidate": key, "seed": SEED, "data": tune.source,
                           "schedule": dataclasses.asdict(sched),
                           "specs": {k: dataclasses.asdict(v) for k, v in specs.items()},
                           "seconds": {}, "val_acc": {}}
    t_all = time.perf_counter()
    with pinned_blas():
        net = build(model, SEED)
        t = time.perf_counter()
        tlog = train(net, tune.x_train, tune.y_train, epochs=sched.epochs, lr=sched.lr,
                     batch_size=sched.batch_size, momentum=sched.momentum,
                     weight_decay=sched.weight_decay, lr_decay=sched.lr_decay,
                     seed=_stage_seed(SEED, 0), eval_data=val, progress=log,
                     tag=f"{model}/{key} dense")
        rec["seconds"]["dense training"] = time.perf_counter() - t
        rec["epoch_seconds"] = [e["seconds"] for e in tlog.epochs]
        rec["val_acc"]["dense"] = net.accuracy(*val)
        dense = net.get_weights()
        np.savez(outdir / f"{model}_{key}_dense.npz", **dense)

        t = time.perf_counter()
        masks, records = prune_and_retrain(net, tune, specs, sched, SEED, log)
        rec["seconds"]["pruning + retraining"] = time.perf_counter() - t
        rec["val_acc"]["pruned"] = net.accuracy(*val)
        rec["density"] = {k: v["density"] for k, v in records.items()}

        t = time.perf_counter()
        ties = quantize_and_finetune(net, tune, masks, specs, sched, SEED, log)
        meta = {"model": model, "init_seed": SEED, "data": dict(tune.source), "seed": SEED,
                "retrained": True, "kmeans_seed": SEED, "kmeans_init": sched.kmeans_init,
                "dense_bytes": dense_bytes(dense), "schedule": dataclasses.asdict(sched),
                "stage_seeds": {"dense": _stage_seed(SEED, 0),
                                **{f"retrain{r}": _stage_seed(SEED, r)
                                   for r in range(1, sched.prune_rounds + 1)},
                                "centroids": _stage_seed(SEED, 100)}}
        qmodel = to_quantized_model(net, ties, specs, records, meta)
        rec["seconds"]["quantization + fine-tuning"] = time.perf_counter() - t

        t = time.perf_counter()
        path = outdir / f"{model}_{key}.dcmp"
        fileformat.save(qmodel, path)
        back = fileformat.load(path)
        for a, b in zip(qmodel.layers, back.layers):
            if not (np.array_equal(a.weights(), b.weights()) and np.array_equal(a.bias, b.bias)):
                raise RoundTripError(f"{path}: layer {a.name} does not decode to the saved weights")
        rec["seconds"]["Huffman encoding + read-back"] = time.perf_counter() - t
        check = build(model, 0)
        set_from_quantized(check, back)
        rec["val_acc"]["compressed"] = check.accuracy(*val)
    rec["file"] = path.name
    rec["file_bytes"] = path.stat().st_size
    rec["dense_bytes"] = dense_bytes(dense)
    rec["ratio"] = rec["dense_bytes"] / rec["file_bytes"]
    rec["seconds"]["total"] = time.perf_counter() - t_all
    rec["blas"] = format_blas()
    (outdir / f"{model}_{key}.json").write_text(json.dumps(rec, indent=1))
    log(f"[{model}/{key}] validation: dense {rec['val_acc']['dense']:.2f} %, compressed "
        f"{rec['val_acc']['compressed']:.2f} %, ratio {rec['ratio']:.1f}x, "
        f"{rec['seconds']['total']:.0f} s")
    return rec


def choose(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The candidate of one network chosen on the *validation* images: among those whose
    file reaches the paper's ratio (all, if none does), the best validation accuracy of the
    decoded file, then the larger ratio."""
    model = records[0]["model"]
    ok = [r for r in records if r["ratio"] >= FULL_MNIST_TARGETS[model]["ratio"]] or records
    return max(ok, key=lambda r: (round(r["val_acc"]["compressed"], 6), r["ratio"]))


def test_once(rec: dict[str, Any], data: Dataset, outdir: pathlib.Path) -> dict[str, float]:
    """Test error (%) of the chosen candidate's dense network and decoded file on the
    10,000 official test images."""
    model = rec["model"]
    outdir = pathlib.Path(outdir)
    net = build(model, 0)
    with np.load(outdir / f"{model}_{rec['candidate']}_dense.npz") as z:
        net.set_weights(dict(z))
    dense = net.accuracy(data.x_test, data.y_test)
    q = build(model, 0)
    set_from_quantized(q, fileformat.load(outdir / rec["file"]))
    comp = q.accuracy(data.x_test, data.y_test)
    return {"dense": _err(dense), "compressed": _err(comp)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.lenet_full")
    ap.add_argument("action", choices=["train"])
    ap.add_argument("out", type=pathlib.Path)
    ap.add_argument("--model", required=True, choices=sorted(FULL_MNIST_LAYERS))
    ap.add_argument("--candidate", required=True)
    args = ap.parse_args(argv)
    from compressor.training.data import load_full_mnist
    data = load_full_mnist(seed=DATA_SEED)
    print(FULL_MNIST_PROTOCOL, flush=True)
    train_candidate(args.model, args.candidate, data, args.out,
                    log=lambda s: print("   ", s, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
