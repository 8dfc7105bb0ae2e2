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


#: the schedule fields that decide the dense network (with the seed and the data)
DENSE_FIELDS = ("epochs", "lr", "lr_decay", "batch_size", "momentum", "weight_decay")


def _same(a: Any, b: Any) -> bool:
    """Equal as they are written to a record (JSON: tuples read back as lists)."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def reusable_dense(model: str, rec: dict[str, Any], outdir: pathlib.Path) -> tuple[str, dict] | None:
    """Another candidate's record in ``outdir`` whose dense network is this one's: same
    model, seed, data split and dense-stage schedule (:data:`DENSE_FIELDS`; training is
    deterministic, so the network is the same), with its ``_dense.npz`` present. Returns
    ``(candidate, its record)`` or None. Lets candidates that differ only after the dense
    stage (and a rerun of ``make bench-full``) skip the dense epochs."""
    for path in sorted(outdir.glob(f"{model}_*.json")):
        try:
            other = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(other, dict) or other.get("model") != model or \
                other.get("candidate") == rec["candidate"] or "epoch_seconds" not in other:
            continue
        same = (_same(other.get("seed"), rec["seed"]) and _same(other.get("data"), rec["data"]) and
                all(_same(other.get("schedule", {}).get(f), rec["schedule"][f]) for f in DENSE_FIELDS))
        if same and (outdir / f"{model}_{other['candidate']}_dense.npz").is_file():
            return other["candidate"], other
    return None


def finished_candidate(model: str, key: str, data: Dataset, outdir: pathlib.Path
                       ) -> dict[str, Any] | None:
    """The record of candidate ``key`` already trained in ``outdir`` with this very seed,
    data split, schedule and layer specs, its ``.dcmp`` present (None otherwise): a rerun
    of ``make bench-full`` (or one after a kill) does not train it again."""
    path = outdir / f"{model}_{key}.json"
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    want = {"model": model, "candidate": key, "seed": SEED, "data": data.tuning().source,
            "schedule": dataclasses.asdict(FULL_MNIST_SCHEDULES[model][key]),
            "specs": {k: dataclasses.asdict(v) for k, v in FULL_MNIST_LAYERS[model][key].items()}}
    same = isinstance(rec, dict) and all(_same(rec.get(k), v) for k, v in want.items())
    return rec if same and (outdir / rec.get("file", "")).is_file() else None


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
    reuse = reusable_dense(model, rec, outdir)
    with pinned_blas():
        net = build(model, SEED)
        t = time.perf_counter()
        if reuse:
            # the same dense network, trained by another candidate: its epoch times are
            # that candidate's (labelled), this candidate's dense stage took no training
            with np.load(outdir / f"{model}_{reuse[0]}_dense.npz") as z:
                net.set_weights({k: z[k] for k in z.files})
            rec["dense_reused_from"] = reuse[0]
            rec["epoch_seconds"] = list(reuse[1]["epoch_seconds"])
            log(f"[{model}/{key}] dense network of candidate {reuse[0]} reused (same seed, data "
                f"and dense schedule)")
        else:
            tlog = train(net, tune.x_train, tune.y_train, epochs=sched.epochs, lr=sched.lr,
                         batch_size=sched.batch_size, momentum=sched.momentum,
                         weight_decay=sched.weight_decay, lr_decay=sched.lr_decay,
                         seed=_stage_seed(SEED, 0), eval_data=val, progress=log,
                         tag=f"{model}/{key} dense")
            rec["epoch_seconds"] = [e["seconds"] for e in tlog.epochs]
        rec["seconds"]["dense training"] = time.perf_counter() - t
        rec["val_acc"]["dense"] = net.accuracy(*val)
        if reuse and rec["val_acc"]["dense"] != reuse[1]["val_acc"]["dense"]:
            raise RuntimeError(f"{model}/{key}: the reused dense network of {reuse[0]} measures "
                               f"{rec['val_acc']['dense']} % on validation, its record says "
                               f"{reuse[1]['val_acc']['dense']} %")
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


# ------------------------------------------------------------------------------ EIE
def simulate_on_eie(model: str, path: pathlib.Path, data: Dataset, n_images: int) -> dict[str, Any]:
    """The compressed file's fc layers on the cycle-level simulator, image by image, for the
    first ``n_images`` test images, in the project's 16-bit format
    (:func:`benchmarks.fixed_point_lenet.formats`). LeNet-300-100 runs whole; LeNet-5's
    ``ip1``/``ip2`` take the features its convolutions give in EIE's integer arithmetic.
    Every image's simulated logits must equal, bit for bit, the simulator's batched
    integer arithmetic (:func:`benchmarks.fixed_point_lenet.fixed_point_logits`) of the
    whole network; a difference raises ``AssertionError``."""
    # imported here: the training phase does not need the simulator
    from benchmarks import fixed_point_lenet as fpl
    from compressor.model import QuantizedModel
    from eie_sim import SimOptions, simulate_network
    from eie_sim.arch.fixed_point import to_float
    from eie_sim.sim.stages import prepare

    qmodel = fileformat.load(path)
    cfg = fpl.formats(model, qmodel, data.x_train[:200])["16-bit fixed"]
    x, y = data.x_test[:n_images], data.y_test[:n_images]
    logits, n_sat = fpl.fixed_point_logits(model, qmodel, x, cfg)
    fc = [l for l in qmodel.layers if l.kind == "fc"]
    conv = [l for l in qmodel.layers if l.kind == "conv"]
    if conv:   # the convolutions' output in EIE arithmetic: the fc layers' input
        feats, _ = fpl.fixed_point_logits(model, QuantizedModel(conv, dict(qmodel.meta)), x, cfg)
        inputs = to_float(feats.reshape(len(x), -1), cfg.act_frac_bits)
    else:
        inputs = np.asarray(x, np.float64)
    wls = [fpl._workload(l) for l in fc]
    preps = [prepare(w, cfg, check_fit=False) for w in wls]
    cycles, energy, time_us, sim_pred = [], [], [], []
    t0 = time.perf_counter()
    for k in range(len(x)):
        res = simulate_network(wls, inputs[k], cfg, SimOptions(check_fit=False), prepared=preps)
        out = np.asarray(res.output_q).reshape(-1)
        if not np.array_equal(out, logits[k]):
            raise AssertionError(f"{path.name}: test image {k}: simulated logits differ from "
                                 "the batched integer arithmetic")
        cycles.append(res.cycles)
        energy.append(res.energy_uj)
        time_us.append(res.time_us)
        sim_pred.append(int(out.argmax()))
    q = build(model, 0)
    set_from_quantized(q, qmodel)
    float_pred = q.predict(x)
    return {"images": len(x), "layers": [l.name for l in fc], "pes": int(cfg.pes),
            "format": f"{cfg.word_bits}-bit, act/weight fraction bits {cfg.act_frac_bits}/{cfg.weight_frac_bits}",
            "outputs_identical": len(x), "saturated": int(n_sat),
            "cycles_per_image": float(np.mean(cycles)), "time_us_per_image": float(np.mean(time_us)),
            "energy_uj_per_image": float(np.mean(energy)),
            "sim_accuracy": 100.0 * float(np.mean(np.asarray(sim_pred) == y)),
            "float_accuracy": 100.0 * float(np.mean(float_pred == y)),
            "agreement": 100.0 * float(np.mean(np.asarray(sim_pred) == float_pred)),
            "wall_s": time.perf_counter() - t0}


# ---------------------------------------------------------------------------- tables
def _paper_err(model: str) -> tuple[float, float]:
    return PAPER[model]["total"]["top1_err"]


def table1(chosen: dict[str, dict[str, Any]], tests: dict[str, dict[str, float]]) -> str:
    lines = ["| Network | Top-1 error dense (test) | Top-1 error compressed (test) | Size dense "
             "| Size compressed | **Ratio** | Goal (>= ratio, error within 0.1 point) |",
             "|---|---|---|---|---|---|---|"]
    for m, r in chosen.items():
        p, t, g = PAPER[m]["total"], tests[m], FULL_MNIST_TARGETS[m]
        rise = t["compressed"] - t["dense"]
        ok = r["ratio"] >= g["ratio"] and rise <= g["max_rise"] + 1e-9
        lines.append(
            f"| {TITLES[m]} | {t['dense']:.2f} % (paper {p['top1_err'][0]:.2f} %) "
            f"| {t['compressed']:.2f} % (paper {p['top1_err'][1]:.2f} %) "
            f"| {r['dense_bytes'] / 1000:.1f} KB (paper {p['size_kb'][0]} KB) "
            f"| {r['file_bytes'] / 1000:.1f} KB (paper {p['size_kb'][1]} KB) "
            f"| **{r['ratio']:.1f}x** (paper {p['ratio']:.0f}x) "
            f"| {'met' if ok else 'MISSED'} ({rise:+.2f} points) |")
    return "\n".join(lines) + "\n"


def candidates_table(records: dict[str, list[dict[str, Any]]], chosen: dict[str, dict[str, Any]]) -> str:
    lines = ["| Network | candidate | densities (bits) | val. error dense | val. error pruned "
             "| val. error compressed | ratio | chosen |", "|---|---|---|---|---|---|---|---|"]
    for m, recs in records.items():
        for r in recs:
            dens = ", ".join(f"{k} {100 * v['density']:.1f} % ({v['bits']})" for k, v in r["specs"].items())
            va = r["val_acc"]
            lines.append(f"| {TITLES[m]} | {r['candidate']} | {dens} | {_err(va['dense']):.2f} % "
                         f"| {_err(va['pruned']):.2f} % | {_err(va['compressed']):.2f} % "
                         f"| {r['ratio']:.1f}x | {'yes' if r is chosen[m] else ''} |")
    return "\n".join(lines) + "\n"


def times_table(records: dict[str, list[dict[str, Any]]]) -> str:
    lines = ["| Network | candidate | one dense epoch (train images + validation pass) | dense training "
             "| pruning + retraining | quantization + fine-tuning | Huffman + read-back | total |",
             "|---|---|---|---|---|---|---|---|"]
    for m, recs in records.items():
        for r in recs:
            s, ep = r["seconds"], r["epoch_seconds"]
            dense = (f"reused from {r['dense_reused_from']}" if r.get("dense_reused_from")
                     else f"{s['dense training']:.0f} s")
            cand = r["candidate"] + (" (trained by an earlier run)" if r.get("resumed") else "")
            lines.append(f"| {TITLES[m]} | {cand} | {np.median(ep):.1f} s (median of {len(ep)}; "
                         f"min {min(ep):.1f} s) | {dense} "
                         f"| {s['pruning + retraining']:.0f} s | {s['quantization + fine-tuning']:.0f} s "
                         f"| {s['Huffman encoding + read-back']:.1f} s | {s['total']:.0f} s |")
    return "\n".join(lines) + "\n"


def eie_table(eie: dict[str, dict[str, Any]]) -> str:
    lines = ["| Network | layers on EIE | images | outputs bit-identical | cycles / image "
             "| time / image | energy / image | accuracy on EIE (float, same images) |",
             "|---|---|---|---|---|---|---|---|"]
    for m, e in eie.items():
        lines.append(f"| {TITLES[m]} | {', '.join(e['layers'])} | {e['images']} "
                     f"| {e['outputs_identical']} / {e['images']} | {e['cycles_per_image']:,.0f} "
                     f"| {e['time_us_per_image']:.2f} us | {e['energy_uj_per_image']:.4f} uJ "
                     f"| {e['sim_accuracy']:.1f} % ({e['float_accuracy']:.1f} %) |")
    first = next(iter(eie.values())) if eie else {"format": "", "pes": 0}
    return "\n".join(lines) + (f"\n\nFormat: {first['format']} (the project's default); "
                               f"{first['pes']} PEs, otherwise the default configuration.\n")


def per_layer_tables(chosen: dict[str, dict[str, Any]], outdir: pathlib.Path) -> str:
    from compressor import report
    parts = []
    for m, r in chosen.items():
        path = outdir / r["file"]
        qm = fileformat.load(path)
        rows = report.table_rows(qm, path)
        parts.append(f"### {PAPER[m]['table']}: {TITLES[m]} (per layer; `(paper: x)` = paper's value)\n")
        parts.append(report.accounting.format_markdown(rows, report.paper_columns(m)))
    return "\n".join(parts)


def run(outdir: pathlib.Path, data: Dataset, *, n_eie: int = 100, log: Log = print
        ) -> tuple[str, dict[str, Any], list[str]]:
    """Every candidate trained, one chosen per network on validation, test measured once,
    the chosen files on EIE. Returns (markdown summary, everything as a dict, missed goals)."""
    outdir = pathlib.Path(outdir)
    records: dict[str, list[dict[str, Any]]] = {}
    chosen, tests, eie = {}, {}, {}
    t_eie = {}
    for m in ("lenet300", "lenet5"):
        log(f"--- {TITLES[m]}: candidates {', '.join(FULL_MNIST_LAYERS[m])}")
        records[m] = []
        for k in FULL_MNIST_LAYERS[m]:
            rec = finished_candidate(m, k, data, outdir)
            if rec is not None:
                log(f"[{m}/{k}] already trained in {outdir} (same seed, data, schedule and "
                    f"specs): its record and file are used")
                rec["resumed"] = True
            records[m].append(rec or train_candidate(m, k, data, outdir, log=log))
        chosen[m] = choose(records[m])
        tests[m] = test_once(chosen[m], data, outdir)
        t = time.perf_counter()
        eie[m] = simulate_on_eie(m, outdir / chosen[m]["file"], data, n_eie)
        t_eie[m] = time.perf_counter() - t
    return summarize(records, chosen, tests, eie, t_eie, outdir)


def summarize(records, chosen, tests, eie, t_eie, outdir) -> tuple[str, dict[str, Any], list[str]]:
    failed = [f"{m}: no candidate trained" for m in FULL_MNIST_LAYERS if m not in chosen]
    for m, r in chosen.items():
        g = FULL_MNIST_TARGETS[m]
        rise = tests[m]["compressed"] - tests[m]["dense"]
        if r["ratio"] < g["ratio"]:
            failed.append(f"{m} ratio {r['ratio']:.1f}x < {g['ratio']:.0f}x")
        if rise > g["max_rise"] + 1e-9:
            failed.append(f"{m} test error rose {rise:.2f} points > {g['max_rise']}")
    eie_secs = ", ".join(f"{TITLES[m]} {s:.0f} s" for m, s in t_eie.items())
    missing = [f"{TITLES[m]} {k}" for m in FULL_MNIST_LAYERS for k in FULL_MNIST_LAYERS[m]
               if k not in {r["candidate"] for r in records.get(m, [])}]
    not_run = (f"Candidates defined but not trained in this run (so not chosen from): "
               f"{', '.join(missing)}.\n" if missing else "")
    parts = ["# Deep Compression on the full MNIST: LeNet-300-100 and LeNet-5 (Tables 1-3)\n",
             FULL_MNIST_PROTOCOL + " Sizes: float32 weights + biases vs every byte of the `.dcmp` "
             "file. Paper values labelled as such.\n",
             "## Table 1 (test errors measured once, on the chosen candidates)\n", table1(chosen, tests),
             "## Candidates, chosen on the validation images\n", candidates_table(records, chosen),
             not_run,
             "## Wall time per step (this run)\n", times_table(records),
             f"## The compressed files on EIE ({eie_secs})\n", eie_table(eie),
             "## Per layer\n", per_layer_tables(chosen, outdir),
             "Goals (issue 27): " + ("all met." if not failed else "MISSED: " + "; ".join(failed)) + "\n",
             f"BLAS: {format_blas()}.\n"]
    everything = {"records": records, "chosen": {m: r["candidate"] for m, r in chosen.items()},
                  "test_error": tests, "eie": eie, "failed": failed}
    return "\n".join(parts), everything, failed


def report_from_files(outdir: pathlib.Path, data: Dataset, n_eie: int = 100) -> tuple[str, dict, list[str]]:
    """The report of a finished training phase (the ``.json`` records under ``outdir``)."""
    outdir = pathlib.Path(outdir)
    records = {m: [json.loads((outdir / f"{m}_{k}.json").read_text()) for k in FULL_MNIST_LAYERS[m]
                   if (outdir / f"{m}_{k}.json").is_file()] for m in ("lenet300", "lenet5")}
    records = {m: r for m, r in records.items() if r}
    chosen = {m: choose(r) for m, r in records.items()}
    tests = {m: test_once(r, data, outdir) for m, r in chosen.items()}
    eie, t_eie = {}, {}
    for m, r in chosen.items():
        t = time.perf_counter()
        eie[m] = simulate_on_eie(m, outdir / r["file"], data, n_eie)
        t_eie[m] = time.perf_counter() - t
    return summarize(records, chosen, tests, eie, t_eie, outdir)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.lenet_full")
    ap.add_argument("action", choices=["train", "report"])
    ap.add_argument("out", type=pathlib.Path)
    ap.add_argument("--model", choices=sorted(FULL_MNIST_LAYERS))
    ap.add_argument("--candidate")
    ap.add_argument("--eie-images", type=int, default=100)
    args = ap.parse_args(argv)
    from compressor.training.data import load_full_mnist
    data = load_full_mnist(seed=DATA_SEED)
    print(FULL_MNIST_PROTOCOL, flush=True)
    if args.action == "train":
        if not (args.model and args.candidate):
            ap.error("train needs --model and --candidate")
        train_candidate(args.model, args.candidate, data, args.out,
                        log=lambda s: print("   ", s, flush=True))
        return 0
    text, everything, failed = report_from_files(args.out, data, args.eie_images)
    (args.out / "lenet_full_summary.md").write_text(text)
    (args.out / "lenet_full.json").write_text(json.dumps(everything, indent=1, default=str))
    print(text, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
