"""EIE Fig. 10 on the LeNets: accuracy with EIE's arithmetic at 32-bit float, 32-, 16- and
8-bit fixed point (used by :mod:`benchmarks.bench_studies`).

Every weighted layer of a compressed LeNet (a :class:`compressor.model.QuantizedModel`)
runs with the simulator's arithmetic: the layer is laid out by the simulator
(:func:`eie_sim.sim.stages.prepare`) and computed by the simulator's bit-exact integer
reference (:func:`eie_sim.sim.references.integer_reference_batch`: codebook decoded to
``weight_frac_bits``, activations in ``act_frac_bits``, each product rounded on its own,
wide accumulation; docs/timing.md rule A), then saturated to the word
(:func:`eie_sim.arch.fixed_point.saturate`) and, between fc layers, ReLU'd. This is the
arithmetic every simulated run is checked against bit for bit; :func:`cross_check` runs
the first images of LeNet-300-100 through the cycle-level simulator
(:func:`eie_sim.sim.network.simulate_network`) and asserts identical outputs.

LeNet-5's convolutions (which EIE does not run: it is an fc engine) go through the same
arithmetic as matrix x patch products (im2col, as ``simulate_conv_layer`` does); max
pooling on the integers is exact. 32-bit float is the numpy float32 forward pass of the
decoded weights (:mod:`compressor.training.layers`).

The cycle-level cross-check goes through the public API (``eie_sim``); the batched
arithmetic is the simulator's own (stage 1 ``prepare``, the integer reference, the
fixed-point helpers), imported from inside the package on purpose: it is what is studied.

Formats (one per network, ``ArchConfig`` fields, nothing else changed): 16-bit is the
project's default (8 fraction bits for activations, 12 for weights); 32-bit uses 16 and
24; 8-bit uses the most fraction bits that keep the largest weight and the largest
activation seen in a float forward pass over 200 training images inside the word (so
nothing saturates on those images). The paper's values are AlexNet's (EIE Fig. 10).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from compressor import QuantizedModel
from compressor.pipeline import set_from_quantized
from compressor.training.layers import Conv2D
from compressor.training.networks import build
from eie_sim import ArchConfig, LayerWorkload, SimOptions, simulate_network

# internal on purpose (see the docstring): the simulator's own fixed-point arithmetic
from eie_sim.arch.fixed_point import quantize, saturate, to_float
from eie_sim.sim.references import integer_reference_batch
from eie_sim.sim.stages import prepare

#: EIE Fig. 10 (AlexNet, paper values): accuracy at each precision
PAPER_FIG10 = {"32-bit float": 80.3, "16-bit fixed": 79.8, "8-bit fixed": 53.0}


def _workload(layer) -> LayerWorkload:
    codes = np.asarray(layer.codes)
    return LayerWorkload(name=layer.name, codes=codes.reshape(codes.shape[0], -1),
                         codebook=np.asarray(layer.codebook, np.float32),
                         bias=None if layer.bias is None else np.asarray(layer.bias, np.float32),
                         bits=int(layer.bits))


def _float_activations(model_name: str, qmodel: QuantizedModel, x: np.ndarray) -> float:
    """Largest |value| entering or leaving any layer of the float forward pass of ``x``."""
    net = build(model_name, 0)
    set_from_quantized(net, qmodel)
    h, top = np.asarray(x, np.float32), float(np.abs(x).max())
    for layer in net.layers:
        h = layer.forward(h)
        top = max(top, float(np.abs(h).max()))
    return top


def _frac_bits(max_abs: float, word_bits: int) -> int:
    """Most fraction bits with ``max_abs`` inside a ``word_bits`` two's-complement word."""
    int_bits = max(0, math.floor(math.log2(max_abs)) + 1) if max_abs > 0 else 0
    return max(0, word_bits - 1 - int_bits)


def formats(model_name: str, qmodel: QuantizedModel, x_calib: np.ndarray) -> dict[str, ArchConfig]:
    """The fixed-point configurations of the study (see the module docstring)."""
    base = ArchConfig(weight_bits=8)
    w_max = max(float(np.abs(l.codebook).max()) for l in qmodel.layers)
    b_max = max(float(np.abs(l.bias).max()) for l in qmodel.layers if l.bias is not None)
    a_max = max(_float_activations(model_name, qmodel, x_calib), b_max)
    return {"32-bit fixed": dataclasses.replace(base, word_bits=32, act_frac_bits=16,
                                                weight_frac_bits=24),
            "16-bit fixed": base,
            "8-bit fixed": dataclasses.replace(base, word_bits=8,
                                               act_frac_bits=_frac_bits(a_max, 8),
                                               weight_frac_bits=_frac_bits(w_max, 8))}


def _maxpool(q: np.ndarray, k: int = 2) -> np.ndarray:
    n, c, h, w = q.shape
    return q.reshape(n, c, h // k, k, w // k, k).max(axis=(3, 5))


def fixed_point_logits(model_name: str, qmodel: QuantizedModel, x: np.ndarray,
                       cfg: ArchConfig, batch: int = 100) -> tuple[np.ndarray, int]:
    """Integer logits (``act_frac_bits``) of ``x`` through every layer, and the number of
    saturated values."""
    net = build(model_name, 0)
    kinds = {l.name: (l.kind, l) for l in net.weighted_layers()}
    preps = {l.name: prepare(_workload(l), cfg, check_fit=False) for l in qmodel.layers}
    fc_names = [l.name for l in qmodel.layers if l.kind == "fc"]
    outs, n_sat = [], 0
    for i in range(0, len(x), batch):
        xb = np.asarray(x[i:i + batch], np.float64)
        q, s = quantize(xb, cfg.act_frac_bits, cfg.word_bits)
        n_sat += s
        if model_name == "lenet5":
            q = q.reshape(len(xb), 1, 28, 28)
        for layer in qmodel.layers:
            kind, nl = kinds[layer.name]
            if kind == "conv":
                k = nl.params["weight"].shape[-1]
                n, c, h, w = q.shape
                patches = Conv2D.im2col(q, k, k)
                acc = integer_reference_batch(preps[layer.name], patches, cfg)
                acc, s = saturate(acc, cfg.word_bits)
                q = acc.reshape(n, h - k + 1, w - k + 1, -1).transpose(0, 3, 1, 2)
                q = _maxpool(np.ascontiguousarray(q))          # LeNet-5: pool after each conv
            else:
                acc = integer_reference_batch(preps[layer.name], q.reshape(len(xb), -1), cfg)
                acc, s = saturate(acc, cfg.word_bits)
                q = acc if layer.name == fc_names[-1] else np.maximum(acc, 0)
            n_sat += s
        outs.append(q)
    return np.concatenate(outs), n_sat


def float_accuracy(model_name: str, qmodel: QuantizedModel, x, y) -> float:
    net = build(model_name, 0)
    set_from_quantized(net, qmodel)
    return net.accuracy(x, y)


def cross_check(qmodel: QuantizedModel, x: np.ndarray, cfg: ArchConfig, n: int) -> int:
    """LeNet-300-100: the first ``n`` images through the cycle-level simulator; asserts the
    simulated logits equal :func:`fixed_point_logits`' bit for bit. Returns ``n``."""
    mine, _ = fixed_point_logits("lenet300", qmodel, x[:n], cfg)
    layers = [_workload(l) for l in qmodel.layers]
    preps = [prepare(w, cfg, check_fit=False) for w in layers]
    for k in range(n):
        res = simulate_network(layers, np.asarray(x[k], np.float64), cfg, SimOptions(check_fit=False),
                               prepared=preps)
        if not np.array_equal(np.asarray(res.output_q).reshape(-1), mine[k]):
            raise AssertionError(f"image {k}: simulator and batched arithmetic differ")
    return n


def study(model_name: str, qmodel: QuantizedModel, data, x_calib: np.ndarray,
          n_cross: int = 0) -> list[dict[str, Any]]:
    """One row per precision: accuracy on ``data``'s test images, saturations, format."""
    xt, yt = data.x_test, data.y_test
    rows = [{"precision": "32-bit float", "accuracy": float_accuracy(model_name, qmodel, xt, yt),
             "word_bits": 32, "act_frac_bits": None, "weight_frac_bits": None, "saturated": 0,
             "paper_alexnet": PAPER_FIG10["32-bit float"], "cross_checked": 0}]
    for name, cfg in formats(model_name, qmodel, x_calib).items():
        logits, n_sat = fixed_point_logits(model_name, qmodel, xt, cfg)
        checked = cross_check(qmodel, xt, cfg, n_cross) if (n_cross and model_name == "lenet300") else 0
        rows.append({"precision": name,
                     "accuracy": 100.0 * float(np.mean(logits.argmax(axis=1) == yt)),
                     "word_bits": cfg.word_bits, "act_frac_bits": cfg.act_frac_bits,
                     "weight_frac_bits": cfg.weight_frac_bits, "saturated": n_sat,
                     "max_logit": float(np.abs(to_float(logits, cfg.act_frac_bits)).max()),
                     "paper_alexnet": PAPER_FIG10.get(name), "cross_checked": checked})
    return rows
