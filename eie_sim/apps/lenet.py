"""LeNet-300-100 end to end on EIE: MNIST images through a compressed model, accuracy and cost.

The application behind ``eie-simulate --lenet``: every test image goes through the
network chained on the simulator (:class:`eie_sim.sim.chain.EieChain`, the chained mode of
:func:`eie_sim.sim.runner.run_net`: each layer's saturated, ReLU'd fixed-point outputs are
the next layer's inputs; every output checked against numpy), in the configuration's one
fixed-point format, and the predictions are compared with the labels and with the numpy
float forward pass of the same quantized weights. The network is laid out once.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from compressor.graph.builder import NetBuilder
from compressor.model import QuantizedLayer, QuantizedModel
from compressor.training.data import load_mnist
from eie_sim.arch.config import ArchConfig
from eie_sim.errors import WorkloadError
from eie_sim.hw.engines import get_engine
from eie_sim.sim.chain import EieChain
from eie_sim.sim.formats import single_format
from eie_sim.sim.options import SimOptions
from eie_sim.workloads.files import from_model
from eie_sim.workloads.layer import Workload


def fc_chain(wl: Workload) -> tuple:
    """``(net, weights)``: the fully-connected layers of ``wl`` as a graph, a ReLU between
    two layers and none after the last (:class:`compressor.graph.NetBuilder`), and their
    codes as a :class:`compressor.model.QuantizedModel`."""
    b = NetBuilder("fc-chain", (1, wl.layers[0].cols))
    x, qs = b.input, []
    for i, lay in enumerate(wl.layers):
        x = b.fc(lay.name, x, lay.rows, bias=lay.bias is not None)
        if i < len(wl.layers) - 1:
            x = b.relu(f"{lay.name}/relu", x)
        bits = int(lay.bits or np.log2(lay.codebook.size))
        qs.append(QuantizedLayer(lay.name, "fc", lay.codes.dense(), np.asarray(lay.codebook, np.float32),
                                 None if lay.bias is None else np.asarray(lay.bias, np.float32),
                                 bits, 4))
    return b.build(), QuantizedModel(qs)


def lenet_accuracy(model_path, n_images: int, cfg: ArchConfig, mnist_dir=None,
                   options: SimOptions | None = None, split_seed: int = 0,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
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
    opt = options or SimOptions()
    net, weights = fc_chain(wl)
    chain = EieChain(net, weights, cfg, single_format(net, cfg), check_fit=opt.check_fit,
                     source={"path": str(model_path)})
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
        res = chain.run(xs[k].reshape(1, -1), opt)
        sim_pred[k] = int(np.argmax(res.layers[-1].output_q[0]))
        cycles.append(sum(l.cycles for l in res.layers))
        energy.append(sum(l.energy_uj for l in res.layers))
        if progress and (k + 1) % max(1, n // 10) == 0:
            progress(f"{k + 1}/{n} images")
    return {"model": str(model_path), "images": n, "data_source": data.source,
            "simulated_accuracy": float(np.mean(sim_pred == ys)),
            "numpy_float_accuracy": float(np.mean(float_pred == ys)),
            "agreement": float(np.mean(sim_pred == float_pred)),
            "cycles_per_image_mean": float(np.mean(cycles)),
            "time_us_per_image_mean": float(np.mean(cycles)) / cfg.clock_mhz,
            "total_energy_uj_per_image_mean": float(np.mean(energy)),
            "engine": get_engine(opt.engine).name, "wall_s": time.perf_counter() - t0,
            "config": cfg.as_dict(),
            "layers": [l.describe() for l in wl.layers]}
