"""LeNet-300-100 end to end on EIE: MNIST images through a compressed model, accuracy and cost.

The application behind ``eie-simulate --lenet``: every test image goes through the
network on the simulator (:func:`eie_sim.sim.network.simulate_network`, every output
checked against numpy), and the predictions are compared with the labels and with the
numpy float forward pass of the same quantized weights.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from compressor.training.data import load_mnist
from eie_sim.arch import energy as energy_mod
from eie_sim.arch.config import ArchConfig
from eie_sim.errors import WorkloadError
from eie_sim.hw.engines import get_engine
from eie_sim.sim.network import prepare_network, simulate_network
from eie_sim.workloads.files import from_model


def lenet_accuracy(model_path, n_images: int, cfg: ArchConfig, engine="fast",
                   mnist_dir=None, split_seed: int = 0, verify: bool = False,
                   progress: Callable[[str], None] | None = None, *, check_fit: bool = True,
                   energy_table: energy_mod.EnergyTable | None = None) -> dict[str, Any]:
    """Run ``n_images`` MNIST test images through a compressed LeNet-300-100 on the simulator.

    Returns the simulated accuracy (argmax of the simulated fixed-point logits), the numpy
    float accuracy of the same quantized weights on the same images, their agreement, and
    cycles/time/energy per image. Images come from :func:`compressor.training.data.load_mnist`.
    """
    wl = from_model(model_path, cfg)
    if not wl.network or wl.layers[0].cols != 784:
        raise WorkloadError(f"{model_path}: expected a chain of fully-connected layers taking "
                            f"784 inputs (LeNet-300-100), got "
                            f"{[(l.name, l.rows, l.cols) for l in wl.layers]}")
    data = load_mnist(mnist_dir, seed=split_seed)
    n = min(int(n_images), len(data.y_test))
    if n < 1:
        raise WorkloadError("need at least one image")
    xs, ys = data.x_test[:n].astype(np.float64), data.y_test[:n]
    prepared = prepare_network(wl, cfg, check_fit)
    # numpy float forward pass of the same (quantized) weights
    h = xs
    for i, lay in enumerate(wl.layers):
        w = lay.codebook.astype(np.float64)[lay.codes.dense()]
        h = h @ w.T + (0.0 if lay.bias is None else lay.bias.astype(np.float64))
        if i < len(wl.layers) - 1:
            h = np.maximum(h, 0.0)
    float_pred = h.argmax(axis=1)
    sim_pred = np.zeros(n, dtype=np.int64)
    cycles, energy = [], []
    t0 = time.perf_counter()
    for k in range(n):
        res = simulate_network(wl, xs[k], cfg, engine, verify, prepared=prepared,
                               energy_table=energy_table)
        sim_pred[k] = int(np.argmax(res.output_q[0]))
        cycles.append(res.cycles)
        energy.append(res.energy_uj)
        if progress and (k + 1) % max(1, n // 10) == 0:
            progress(f"{k + 1}/{n} images")
    return {"model": str(model_path), "images": n, "data_source": data.source,
            "simulated_accuracy": float(np.mean(sim_pred == ys)),
            "numpy_float_accuracy": float(np.mean(float_pred == ys)),
            "agreement": float(np.mean(sim_pred == float_pred)),
            "cycles_per_image_mean": float(np.mean(cycles)),
            "time_us_per_image_mean": float(np.mean(cycles)) / cfg.clock_mhz,
            "energy_uj_per_image_mean": float(np.mean(energy)),
            "engine": get_engine(engine).name, "wall_s": time.perf_counter() - t0,
            "config": cfg.as_dict(),
            "layers": [l.describe() for l in wl.layers]}
