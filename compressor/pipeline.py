"""The Deep Compression pipeline: train -> iterative prune + retrain -> trained
quantization -> :class:`~compressor.model.QuantizedModel` -> compressed file.

Stages and the paper rule each implements:

1. **Dense baseline** (:func:`train_dense`): SGD with momentum and L2 weight decay.
2. **Iterative pruning** (:func:`prune_and_retrain`; NIPS 2015 sec. 3, Deep Compression
   sec. 2): ``prune_rounds`` rounds of "prune, then retrain the survivors with the mask
   held" at ``retrain_lr_factor`` of the dense learning rate (the paper's LeNet choice
   is 1/10, the :class:`~compressor.schedule.Schedule` default; the tuned LeNet schedules on the 4,000-image
   subset retrain at 0.3-0.4 with a per-epoch decay). A layer is pruned either by the *quality* rule (threshold = quality x std of
   the layer's surviving weights; round ``r`` of ``R`` uses quality ``q * r / R``) or to
   a *target density* (round ``r`` keeps ``density ** (r / R)`` of the layer, the largest
   magnitudes, so each round removes the same fraction of the survivors).
3. **Trained quantization** (:func:`quantize_and_finetune`; sec. 3): per layer, 1-D
   k-means over the surviving weights into ``2**bits - 1`` shared values (code 0 is the
   pruned value 0.0), linear initialisation by default; then ``quant_epochs`` of centroid
   fine-tuning (summed gradients per cluster, codes fixed, code 0 pinned) while biases
   keep training. Fine-tuning starts at :meth:`~compressor.schedule.Schedule.centroid_lr` = ``lr x
   retrain_lr_factor x retrain_lr_decay ** E`` where ``E`` is the epoch count of the
   *last* pruning round (``final_retrain_epochs``, or ``retrain_epochs`` when unset), so it
   continues the final retraining stage's decay, and decays by ``retrain_lr_decay`` per
   epoch.
4. **Encoding** (:func:`compressor.fileformat.save`): relative-index sparse + Huffman.

Every random choice (network init, batch order of each stage, k-means seed, data split)
is derived from ``seed`` / ``data_seed`` and recorded in the file's metadata.

**User weights** (:func:`compress_weights`, and :func:`compress`, the package's
notebook entry): named arrays in the ``.npz`` convention of
:func:`compressor.npzio.load_npz_weights`. A layer ``X`` is the array ``X`` (or
``X.weight``): fully connected 2-D ``(out, in)`` or convolution 4-D ``(out, in, kh, kw)``;
its optional bias is ``X.bias`` (1-D, ``out`` values). Without a known network the
weights are pruned (one shot) and quantized only; with ``model="lenet300"``/``"lenet5"``
they are loaded into that network and go through the retraining pipeline.

What each layer gets (:class:`~compressor.schedule.LayerSpec`) and the training schedule
(:class:`~compressor.schedule.Schedule`) are defined in :mod:`compressor.schedule`.

**DSD** (:func:`run_model` with ``dsd=``): dense-sparse-dense training
(:mod:`compressor.dsd`, ICLR 2017) between stage 1 and stage 2; its schedule and
accuracies are recorded in the file's metadata (``meta["dsd"]``).

Every stage runs with the BLAS pinned to one thread and float64-accumulated products
(:mod:`compressor.training.determinism`), so the file does not depend on the BLAS's
thread count or CPU kernel.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from compressor import fileformat
from compressor.dsd import dsd_train
from compressor.errors import RoundTripError, WeightsError
from compressor.model import QuantizedLayer, QuantizedModel
from compressor.npzio import check_weights, load_npz_weights
from compressor.prune import nm_mask, prune_mask, structured_mask, threshold_for_quality
from compressor.quantize import quantize_layer
from compressor.schedule import (
    DSDSchedule,
    LayerSpec,
    Schedule,
    default_layers,
    default_schedule,
)
from compressor.training import networks
from compressor.training.determinism import with_pinned_blas
from compressor.training.nn import CodebookTie, Layer, Network, train

Progress = Callable[[str], None] | None

def _stage_seed(seed: int, stage: int) -> int:
    """Seed of one stage's batch order, derived from the run seed (recorded)."""
    return int(np.random.SeedSequence([seed, stage]).generate_state(1)[0])


def _say(progress: Progress, msg: str) -> None:
    if progress is not None:
        progress(msg)


def dense_bytes(weights: dict[str, np.ndarray]) -> int:
    """Size of the uncompressed float32 weights + biases (the paper's "before" column).

    Counts exactly the arrays given: pass :meth:`Network.get_weights`, which omits the
    bias of a layer that has none (user weights without ``X.bias``)."""
    return 4 * sum(int(np.asarray(v).size) for v in weights.values())


# ------------------------------------------------------------------------------ stages
def train_dense(net: Network, data, sched: Schedule, seed: int, progress: Progress = None) -> float:
    """Stage 1: the dense baseline. Returns its test accuracy (%)."""
    train(net, data.x_train, data.y_train, epochs=sched.epochs, lr=sched.lr,
          batch_size=sched.batch_size, momentum=sched.momentum, weight_decay=sched.weight_decay,
          lr_decay=sched.lr_decay, seed=_stage_seed(seed, 0),
          eval_data=(data.x_test, data.y_test), progress=progress, tag="dense")
    return net.accuracy(data.x_test, data.y_test)


def _round_mask(w: np.ndarray, old: np.ndarray, spec: LayerSpec, r: int, rounds: int
                ) -> tuple[np.ndarray, float]:
    """Mask of pruning round ``r`` (1-based) and the magnitude threshold it applied.

    Structured rules (``spec.structure``) tighten gradually too: N:M keeps
    ``m - round((m - n) r / rounds)`` of every ``m`` in round ``r``; block and balance prune
    to ``density ** (r / rounds)`` as the magnitude rule does. The threshold recorded for
    them is the largest magnitude removed (rules not cut by one threshold)."""
    st = spec.parsed_structure()
    if st is not None:
        if st.kind == "nm":
            k = st.m - int(round((st.m - st.n) * r / rounds))
            mask = nm_mask(w, k, st.m, old=old)
        else:
            mask = structured_mask(w, st, density=spec.density ** (r / rounds), old=old)
        gone = old & ~mask
        return mask, float(np.abs(w[gone]).max()) if np.any(gone) else 0.0
    if spec.density is not None:
        target = spec.density ** (r / rounds)
        mask = prune_mask(w, density=target) & old
        kept = np.abs(w[mask])
        thr = float(np.abs(w[old & ~mask]).max()) if np.any(old & ~mask) else 0.0
        if kept.size:
            thr = min(thr, float(kept.min()))
        return mask, thr
    q = spec.quality * r / rounds
    thr = threshold_for_quality(w, q, nonzero_only=True)  # computed once
    mask = (np.abs(w) > thr) & old  # prune_mask's quality rule: survive iff |w| > threshold
    return mask, thr


def prune_and_retrain(net: Network, data, specs: dict[str, LayerSpec], sched: Schedule, seed: int,
                      progress: Progress = None, retrain: bool = True
                      ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """Stage 2: iterative magnitude pruning with masked retraining.

    Returns the final masks and per-layer records (threshold of the last round, density).
    With ``retrain=False`` (user weights of an unknown network) a single round prunes to
    the final density/quality directly.
    """
    # A weight that is already exactly 0.0 (user weights) counts as pruned from the start.
    masks = {l.name: l.params["weight"] != 0 for l in net.weighted_layers()}
    records: dict[str, dict[str, Any]] = {}
    rounds = sched.prune_rounds if retrain else 1
    for r in range(1, rounds + 1):
        for layer in net.weighted_layers():
            spec = specs[layer.name]
            w = layer.params["weight"]
            mask, thr = _round_mask(w, masks[layer.name], spec, r, rounds)
            masks[layer.name] = mask
            w *= mask
            records[layer.name] = {"threshold": thr, "density": float(mask.mean())}
            if spec.structure is not None:
                records[layer.name]["structure"] = str(spec.parsed_structure())
        summary = ", ".join(f"{k} {v['density'] * 100:.1f}%" for k, v in records.items())
        if retrain:
            acc0 = net.accuracy(data.x_test, data.y_test)
            _say(progress, f"[prune] round {r}/{rounds}: kept {summary}; test {acc0:.2f}% before retraining")
            epochs = sched.final_round_epochs() if r == rounds else sched.retrain_epochs
            train(net, data.x_train, data.y_train, epochs=epochs, lr_decay=sched.retrain_lr_decay,
                  lr=sched.lr * sched.retrain_lr_factor, batch_size=sched.batch_size,
                  momentum=sched.momentum, weight_decay=sched.weight_decay,
                  seed=_stage_seed(seed, r), masks=masks, eval_data=(data.x_test, data.y_test),
                  progress=progress, tag=f"retrain {r}/{rounds}")
        else:
            _say(progress, f"[prune] one shot: kept {summary}")
    for layer in net.weighted_layers():
        assert np.all(layer.params["weight"][~masks[layer.name]] == 0.0)
    return masks, records


def quantize_and_finetune(net: Network, data, masks: dict[str, np.ndarray],
                          specs: dict[str, LayerSpec], sched: Schedule, seed: int,
                          progress: Progress = None, finetune: bool = True
                          ) -> dict[str, CodebookTie]:
    """Stage 3: k-means weight sharing per layer, then centroid fine-tuning.

    Returns the ties; after it every weight equals ``tie.codebook[tie.codes]``.
    """
    ties = {}
    for layer in net.weighted_layers():
        bits = specs[layer.name].bits_for(layer.kind)
        codebook, codes = quantize_layer(layer.params["weight"], masks[layer.name], bits,
                                         init=sched.kmeans_init, seed=seed)
        ties[layer.name] = CodebookTie(codebook, codes, lr_scale=sched.centroid_lr_scale)
        layer.params["weight"][...] = ties[layer.name].weights()
    if data is not None:
        _say(progress, f"[quantize] k-means done; test {net.accuracy(data.x_test, data.y_test):.2f}% "
                       "before centroid fine-tuning")
    if finetune and data is not None and sched.quant_epochs > 0:
        train(net, data.x_train, data.y_train, epochs=sched.quant_epochs,
              lr=sched.centroid_lr(),
              batch_size=sched.batch_size, momentum=sched.momentum, weight_decay=sched.weight_decay,
              lr_decay=sched.retrain_lr_decay, seed=_stage_seed(seed, 100), masks=masks, ties=ties,
              eval_data=(data.x_test, data.y_test), progress=progress, tag="centroids")
    return ties


def to_quantized_model(net: Network, ties: dict[str, CodebookTie], specs: dict[str, LayerSpec],
                       records: dict[str, dict[str, Any]], meta: dict[str, Any]) -> QuantizedModel:
    layers = []
    for layer in net.weighted_layers():
        spec, tie = specs[layer.name], ties[layer.name]
        bits = spec.bits_for(layer.kind)
        rule = ({"target_density": spec.target_density()} if spec.target_density() is not None
                else {"quality": spec.quality})
        lmeta = {**rule, **records[layer.name]}  # bits and index bits are the layer's own fields
        layers.append(QuantizedLayer(name=layer.name, kind=layer.kind, codes=tie.codes.copy(),
                                     codebook=tie.codebook.copy(),
                                     bias=layer.params["bias"].copy() if layer.has_bias else None,
                                     bits=bits, index_bits=spec.index_bits, meta=lmeta))
    return QuantizedModel(layers, meta)


def set_from_quantized(net: Network, qmodel: QuantizedModel) -> None:
    """Load a quantized model's decoded weights (``codebook[codes]``) and biases into ``net``."""
    net.set_weights({**{l.name: l.weights() for l in qmodel.layers},
                     **{f"{l.name}.bias": l.bias for l in qmodel.layers if l.bias is not None}})


# ------------------------------------------------------------------------- whole runs
@dataclass
class Result:
    """What a pipeline run produced (also summarised in ``model.meta``)."""

    model: QuantizedModel
    dense_weights: dict[str, np.ndarray]
    accuracy: dict[str, float] = field(default_factory=dict)
    dense_bytes: int = 0
    file_path: pathlib.Path | None = None
    file_bytes: int | None = None
    seconds: float = 0.0

    @property
    def ratio(self) -> float | None:
        return self.dense_bytes / self.file_bytes if self.file_bytes else None


def _check_specs(net: Network, specs: dict[str, LayerSpec]) -> None:
    names = [l.name for l in net.weighted_layers()]
    unknown = sorted(set(specs) - set(names))
    if unknown:
        raise ValueError(f"no layer named {', '.join(unknown)}; layers are {', '.join(names)}")
    missing = [n for n in names if n not in specs]
    if missing:
        raise ValueError(f"no pruning rule for layer(s) {', '.join(missing)}")
    for name in names:
        specs[name].validate(name)


def _save(result: Result, net: Network, out: str | pathlib.Path | None) -> None:
    if out is None:
        return
    out = pathlib.Path(out)
    fileformat.save(result.model, out)
    back = fileformat.load(out)
    for a, b in zip(result.model.layers, back.layers):  # the file decodes to what we measured
        if not (np.array_equal(a.weights(), b.weights()) and np.array_equal(a.bias, b.bias)):
            raise RoundTripError(f"{out}: layer {a.name} does not decode to the saved weights")
    result.file_path = out
    result.file_bytes = out.stat().st_size


@with_pinned_blas
def compress_network(net: Network, data, specs: dict[str, LayerSpec], sched: Schedule, *,
                     seed: int, meta: dict[str, Any], retrain: bool = True,
                     out: str | pathlib.Path | None = None, progress: Progress = None,
                     dense_acc: float | None = None) -> Result:
    """Stages 2-4 on an already trained ``net``; ``data`` may be None when ``retrain`` is off."""
    t0 = time.perf_counter()
    _check_specs(net, specs)
    sched.validate()
    dense = net.get_weights()
    acc: dict[str, float] = {}
    if data is not None:
        acc["dense"] = dense_acc if dense_acc is not None else net.accuracy(data.x_test, data.y_test)
    masks, records = prune_and_retrain(net, data, specs, sched, seed, progress, retrain=retrain)
    if data is not None:
        acc["pruned"] = net.accuracy(data.x_test, data.y_test)
    ties = quantize_and_finetune(net, data, masks, specs, sched, seed, progress, finetune=retrain)
    meta = dict(meta)
    # Record only what ran: without retraining there is no schedule and no batch order,
    # only the one-shot pruning (per layer, in the layers' metadata) and k-means.
    meta.update({"seed": int(seed), "retrained": bool(retrain), "kmeans_seed": int(seed),
                 "kmeans_init": sched.kmeans_init, "dense_bytes": dense_bytes(dense)})
    if retrain:
        meta["schedule"] = dataclasses.asdict(sched)
        meta["stage_seeds"] = {
            **meta.get("stage_seeds", {}),  # "dense" when this run trained the baseline
            **{f"retrain{r}": _stage_seed(seed, r) for r in range(1, sched.prune_rounds + 1)},
            "centroids": _stage_seed(seed, 100)}
    else:
        meta["pruning"] = "one shot (no retraining)"
    qmodel = to_quantized_model(net, ties, specs, records, meta)
    if data is not None:
        check = networks.build(meta["model"], 0) if meta.get("model") in networks.MODEL_NAMES else net
        set_from_quantized(check, qmodel)
        acc["quantized"] = check.accuracy(data.x_test, data.y_test)
        qmodel.meta["accuracy"] = dict(acc)
    for layer in qmodel.layers:
        assert np.all(layer.codes[~masks[layer.name]] == 0)
    result = Result(qmodel, dense, acc, dense_bytes(dense))
    _save(result, net, out)
    result.seconds = time.perf_counter() - t0
    return result


@with_pinned_blas
def run_model(model: str, data, *, seed: int = 0, specs: dict[str, LayerSpec] | None = None,
              sched: Schedule | None = None, out: str | pathlib.Path | None = None,
              progress: Progress = None, dsd: DSDSchedule | None = None) -> Result:
    """Train ``model`` (lenet300 | lenet5) from scratch and compress it.

    ``dsd``: run dense-sparse-dense training (:func:`compressor.dsd.dsd_train`) after the
    dense baseline and compress the DSD-trained network; ``accuracy["dense"]`` stays the
    baseline's, ``accuracy["dsd"]`` is the DSD network's (also in ``meta["dsd"]``)."""
    t0 = time.perf_counter()
    specs = specs if specs is not None else default_layers(model)
    sched = sched if sched is not None else default_schedule(model)
    net = networks.build(model, seed)
    _check_specs(net, specs)
    sched.validate()
    _say(progress, f"[{model}] seed {seed}: {net.n_params()} parameters, "
                   f"{len(data.y_train)} train / {len(data.y_test)} test images")
    if dsd is not None:
        dsd.validate()
    acc = train_dense(net, data, sched, seed, progress)
    meta = {"model": model, "init_seed": int(seed), "data": dict(data.source),
            "stage_seeds": {"dense": _stage_seed(seed, 0)}}
    if dsd is not None:
        meta["dsd"] = dsd_train(net, data, dsd, sched, seed, progress).to_dict()
    result = compress_network(net, data, specs, sched, seed=seed, meta=meta, out=out,
                              progress=progress, dense_acc=acc)
    if dsd is not None:
        result.accuracy["dsd"] = meta["dsd"]["accuracy"]["dsd"]
    result.seconds = time.perf_counter() - t0
    return result


# ------------------------------------------------------------------------- user weights
class _WeightsOnly(Network):
    """A list of weighted layers with no forward pass (user weights of unknown networks)."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        layers = []
        for name, w in weights.items():
            if name.endswith(".bias"):
                continue
            layer = Layer(name)
            layer.kind = "fc" if w.ndim == 2 else "conv"
            b = weights.get(f"{name}.bias")
            layer.params = {"weight": w.copy(),
                            "bias": b.copy() if b is not None else np.zeros(w.shape[0], np.float32)}
            layer.has_bias = b is not None
            layers.append(layer)
        super().__init__(layers, name="weights")


@with_pinned_blas
def compress_weights(weights: dict[str, np.ndarray], specs: dict[str, LayerSpec], *, seed: int = 0,
                     kmeans_init: str = "linear", model: str | None = None, data=None,
                     sched: Schedule | None = None, out: str | pathlib.Path | None = None,
                     progress: Progress = None, source: str | None = None) -> Result:
    """Compress user weights.

    ``model=None``: prune (one shot) + quantize, no retraining, no data needed; layers
    without a ``.bias`` are stored without one. ``model="lenet300"|"lenet5"``: the weights
    are loaded into that network (shapes must match) and retrained on ``data`` through
    iterative pruning and centroid fine-tuning.
    """
    t0 = time.perf_counter()
    meta: dict[str, Any] = {"source_weights": source, "model": model}
    if model is None:
        net = _WeightsOnly(weights)
        sched = sched or Schedule(kmeans_init=kmeans_init)
        result = compress_network(net, None, specs, sched, seed=seed, meta=meta, retrain=False,
                                  out=out, progress=progress)
    else:
        net = networks.build(model, seed)
        expected = {l.name: l.params["weight"].shape for l in net.weighted_layers()}
        given = {k: v.shape for k, v in weights.items() if not k.endswith(".bias")}
        if given != expected:
            raise WeightsError(f"weights do not match {model}: expected layers {expected}, got {given}")
        net.set_weights(weights)
        if data is None:
            raise ValueError("retraining needs data")
        sched = sched or default_schedule(model)
        meta["data"] = dict(data.source)
        result = compress_network(net, data, specs, sched, seed=seed, meta=meta, out=out,
                                  progress=progress)
    result.seconds = time.perf_counter() - t0
    return result


def compress(weights: Mapping[str, np.ndarray] | Network | str | os.PathLike,
             specs: LayerSpec | Mapping[str, LayerSpec] | None = None, *, seed: int = 0,
             kmeans_init: str = "linear", out: str | os.PathLike | None = None,
             model: str | None = None, data=None, sched: Schedule | None = None,
             progress: Progress = None) -> QuantizedModel:
    """Compress weights to a :class:`~compressor.model.QuantizedModel` (and a file).

    A thin entry over :func:`compress_weights`:

    * ``weights``: a dict ``{"X": 2-D or 4-D array, "X.bias": 1-D array}`` (checked by
      :func:`compressor.npzio.check_weights`), a trained
      :class:`~compressor.training.nn.Network` (its weights and biases), or the path of
      an ``.npz`` in that convention.
    * ``specs``: one :class:`~compressor.schedule.LayerSpec` per layer name, or one
      ``LayerSpec`` for every layer; default: the network's own rules when ``model``
      names one (:func:`~compressor.schedule.default_layers`), otherwise
      ``LayerSpec(quality=1.0)`` for every layer (as ``eie-compress npz``).
    * Without ``model``: prune in one shot and quantize (k-means with ``kmeans_init`` and
      ``seed``), no data needed. With ``model="lenet300"|"lenet5"`` and MNIST ``data``
      (:func:`compressor.training.data.load_mnist`): iterative pruning with retraining
      and centroid fine-tuning under ``sched`` (default: the model's tuned schedule
      with ``kmeans_init``).
    * ``out``: also write the compressed file there, after checking that it decodes to
      exactly the returned model.

    Same inputs, same result: the bytes of ``out`` depend only on the arguments.
    """
    source = None
    if isinstance(weights, Network):
        arrays = weights.get_weights()
    elif isinstance(weights, (str, os.PathLike)):
        arrays, source = load_npz_weights(weights), pathlib.Path(weights).name
    else:
        arrays = check_weights(weights)
    names = [k for k in arrays if not k.endswith(".bias")]
    if specs is None:
        specs = default_layers(model) if model else LayerSpec(quality=1.0)
    if isinstance(specs, LayerSpec):
        specs = {name: dataclasses.replace(specs) for name in names}
    if model and sched is None:
        sched = dataclasses.replace(default_schedule(model), kmeans_init=kmeans_init)
    return compress_weights(arrays, dict(specs), seed=seed, kmeans_init=kmeans_init, model=model,
                            data=data, sched=sched, out=out, progress=progress, source=source).model
