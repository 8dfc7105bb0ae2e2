"""Synthetic layers: seeded sparse matrices and inputs at given sizes and densities.

A synthetic layer spec (rows, cols, weight density, activation density, seed, bias) gives
a sparse matrix with exactly ``round(density x rows x cols)`` non-zeros at seeded random
positions, normal random weights quantized through the compressor's ``quantize_layer``
(``2**weight_bits`` codes, code 0 = pruned), and a non-negative input with exactly
``round(act_density x cols)`` non-zeros. The nine layers of the paper's Table III
(:data:`eie_sim.arch.paper.TABLE3`) are named synthetic specs. Synthetic matrices are
synthetic: ``LayerWorkload.synthetic`` is True and every report says so.
"""
from __future__ import annotations

import math

import numpy as np

from compressor.quantize import assign_to_centroids, quantize_layer
from eie_sim.arch.workload_spec import SYNTHETIC_KEYS
from eie_sim.arch.paper import TABLE3
from eie_sim.errors import WorkloadError
from eie_sim.hw.csr import CodesCSR
from eie_sim.workloads.layer import LayerWorkload

#: smallest synthetic activation: well above the fixed-point step of 8 fraction bits, so
#: a non-zero activation stays non-zero after quantization (the density is exact).
MIN_ACTIVATION = 1.0 / 64


# ---------------------------------------------------------------- quantization path
#: synthetic layers with more non-zeros than this are quantized by k-means on a seeded
#: sample of this many values (every value then takes its nearest centroid)
KMEANS_SAMPLE = 1 << 16


def quantize_values(values: np.ndarray, bits: int, seed: int = 0,
                    sample: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """k-means weight sharing of the kept (non-zero) weights into ``2**bits - 1`` centroids.

    Returns ``(codebook float32 (2**bits,), codes 1..2**bits-1 of values)`` through
    :func:`compressor.quantize.quantize_layer` (linear initialisation, the paper's best).
    With ``sample`` and more values than that, the centroids are fitted on a seeded random
    sample of ``sample`` values (``default_rng([seed, 2])``) and every value gets its
    nearest centroid (:func:`compressor.quantize.assign_to_centroids`): the same codebook
    up to sampling noise, at a fixed cost however large the layer.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        return np.zeros(2 ** bits, dtype=np.float32), np.zeros(0, dtype=np.int64)
    if sample is None or values.size <= sample:
        codebook, codes = quantize_layer(values, None, bits, init="linear", seed=seed)
        return np.asarray(codebook, dtype=np.float32), codes.astype(np.int64)
    rng = np.random.default_rng([int(seed), 2])
    fit = values[rng.choice(values.size, size=sample, replace=False)]
    codebook, _ = quantize_layer(fit, None, bits, init="linear", seed=seed)
    codebook = np.asarray(codebook, dtype=np.float32)
    codes = assign_to_centroids(values, codebook[1:].astype(np.float64)) + 1
    return codebook, codes.astype(np.int64)


def quantize_dense(w: np.ndarray, bits: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Quantize a dense float matrix (zeros = pruned) to ``(codebook, codes)``."""
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise WorkloadError("weights contain NaN or infinity")
    mask = w != 0
    codes = np.zeros(w.shape, dtype=np.uint8 if bits <= 8 else np.uint16)
    cb, c = quantize_values(w[mask], bits, seed)
    codes[mask] = c
    return cb, codes


def _exact_positions(n_total: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` distinct sorted positions in ``0..n_total-1``, uniformly at random.

    Draws in rounds with replacement and keeps a random subset of the distinct draws, so
    memory stays O(k) even for 100M-element matrices.
    """
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    if k > n_total // 2:
        return np.sort(rng.choice(n_total, size=k, replace=False)).astype(np.int64)
    picked = np.zeros(0, dtype=np.int64)
    while picked.size < k:
        need = k - picked.size
        draw = rng.integers(0, n_total, size=int(need * 1.2) + 16, dtype=np.int64)
        picked = _sorted_unique(np.concatenate([picked, draw]))
    keep = np.zeros(picked.size, dtype=bool)
    keep[rng.permutation(picked.size)[:k]] = True
    return picked[keep]                      # picked is sorted: so is the kept subset


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)`` (the same array) by one sort: numpy's own unique is an order of
    magnitude slower on millions of integers here."""
    s = np.sort(a)
    if s.size == 0:
        return s
    keep = np.empty(s.size, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


#: largest rows x cols of a synthetic layer (VGG-6 has 102,760,448)
MAX_SYNTHETIC_ELEMENTS = 1 << 28
#: most non-zero weights of a synthetic layer (16x VGG-6's 4,110,418): the generator's
#: arrays then stay under about 2 GB
MAX_SYNTHETIC_NONZEROS = 1 << 26
#: most inputs of a layer whose input is generated (a layout of more inputs exceeds
#: hw.layout.MAX_LAYOUT_POINTERS on 8 PEs already)
MAX_INPUTS = 1 << 24


def _check_spec(spec: dict, where: str) -> dict:
    unknown = [k for k in spec if k not in SYNTHETIC_KEYS]
    if unknown:
        raise WorkloadError(f"{where}: unknown key(s) {unknown}; known: {', '.join(SYNTHETIC_KEYS)}")
    out = dict(spec)
    for key in ("rows", "cols"):
        v = out.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= 1 << 20:
            raise WorkloadError(f"{where}: {key}: expected an integer in 1..{1 << 20}, got {v!r}")
    if out["rows"] * out["cols"] > MAX_SYNTHETIC_ELEMENTS:
        raise WorkloadError(
            f"{where}: {out['rows']} x {out['cols']} = {out['rows'] * out['cols']:,} weights exceeds "
            f"the {MAX_SYNTHETIC_ELEMENTS:,} a synthetic layer may have (VGG-6 has 102,760,448)")
    for key in ("weight_density", "act_density"):
        v = out.get(key, 1.0 if key == "act_density" else None)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
            raise WorkloadError(f"{where}: {key}: expected a fraction in 0..1, got {v!r}")
        out[key] = float(v)
    nnz = round(out["weight_density"] * out["rows"] * out["cols"])
    if nnz > MAX_SYNTHETIC_NONZEROS:
        raise WorkloadError(
            f"{where}: {out['rows']} x {out['cols']} at weight density {out['weight_density']:g} "
            f"is {nnz:,} non-zero weights, more than the {MAX_SYNTHETIC_NONZEROS:,} a synthetic "
            f"layer may have (VGG-6 has 4,110,418); lower the density or the size")
    seed = out.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise WorkloadError(f"{where}: seed: expected an integer >= 0, got {seed!r}")
    out["seed"] = int(seed)
    if not isinstance(out.get("bias", False), bool):
        raise WorkloadError(f"{where}: bias: expected true or false, got {out['bias']!r}")
    ws = out.get("weight_scale")
    if ws is not None and (isinstance(ws, bool) or not isinstance(ws, (int, float)) or not 0 < ws <= 4):
        raise WorkloadError(f"{where}: weight_scale: expected a number in (0, 4], got {ws!r}")
    return out


def synthetic_input(cols: int, density: float, seed: int) -> np.ndarray:
    """Non-negative activations with exactly ``round(density x cols)`` non-zeros.

    Non-zeros are uniform in ``[1/64, 1)`` (post-ReLU-like, and never rounded to zero by
    the fixed-point input), at seeded random positions.
    """
    if cols > MAX_INPUTS:
        raise WorkloadError(f"a layer with {cols:,} inputs: more than the {MAX_INPUTS:,} the "
                            f"simulator generates an input for (its layout could not be held)")
    rng = np.random.default_rng([int(seed), 1])
    k = int(round(density * cols))
    x = np.zeros(cols, dtype=np.float64)
    pos = rng.choice(cols, size=k, replace=False)
    x[pos] = rng.uniform(MIN_ACTIVATION, 1.0, size=k)
    return x


def synthetic_layer(rows: int, cols: int, weight_density: float, act_density: float = 1.0,
                    seed: int = 0, bias: bool = False, weight_bits: int = 4,
                    name: str | None = None, weight_scale: float | None = None) -> LayerWorkload:
    """A seeded random layer with exactly-controlled weight and activation densities.

    Weights: ``round(weight_density x rows x cols)`` positions drawn uniformly without
    replacement, values normal with standard deviation ``weight_scale`` (default
    ``min(1, sqrt(2 / (cols x weight_density)))``, He-like on the kept weights, so outputs
    stay in the 16-bit range), quantized by k-means into ``2**weight_bits - 1`` centroids
    (code 0 = pruned; fitted on a seeded sample of :data:`KMEANS_SAMPLE` values when the
    layer has more, :func:`quantize_values`). Bias (if on): normal, standard deviation 0.1.
    Input: see :func:`synthetic_input`. Everything from ``numpy.random.default_rng``
    seeded by ``seed``. The matrix is generated in sparse form (no dense ``rows x cols``
    array).
    """
    spec = _check_spec({"rows": rows, "cols": cols, "weight_density": weight_density,
                        "act_density": act_density, "seed": seed, "bias": bias,
                        **({"weight_scale": weight_scale} if weight_scale is not None else {})},
                       f"synthetic layer {name or ''}".strip())
    rng = np.random.default_rng([spec["seed"], 0])
    nnz = int(round(spec["weight_density"] * rows * cols))
    pos = _exact_positions(rows * cols, nnz, rng)
    scale = weight_scale or min(1.0, math.sqrt(2.0 / max(1.0, cols * spec["weight_density"])))
    values = rng.normal(0.0, scale, size=nnz)
    values[values == 0.0] = scale  # a kept weight is non-zero
    codebook, c = quantize_values(values, weight_bits, seed=spec["seed"], sample=KMEANS_SAMPLE)
    codes = CodesCSR.from_coo(pos // cols, pos % cols, c, (rows, cols))   # pos is sorted
    b = rng.normal(0.0, 0.1, size=rows).astype(np.float32) if spec["bias"] else None
    x = synthetic_input(cols, spec["act_density"], spec["seed"])
    name = name or f"synthetic-{rows}x{cols}"
    source = {"kind": "synthetic", "seed": spec["seed"],
              "spec_weight_density": spec["weight_density"], "act_density": spec["act_density"],
              "weight_scale": scale, "note": "synthetic matrix (seeded random), not a trained layer"}
    return LayerWorkload(name=name, codes=codes, codebook=codebook, bias=b, x=x, synthetic=True,
                         source=source, bits=weight_bits)


def synthetic_from_spec(spec: dict, weight_bits: int = 4, where: str = "synthetic") -> LayerWorkload:
    """A synthetic layer from a YAML/CLI mapping (keys: :data:`SYNTHETIC_KEYS`)."""
    s = _check_spec(spec, where)
    return synthetic_layer(s["rows"], s["cols"], s["weight_density"], s.get("act_density", 1.0),
                           s["seed"], s.get("bias", False), weight_bits, s.get("name"),
                           s.get("weight_scale"))


def parse_synthetic_arg(text: str) -> dict:
    """``rows,cols,wd,ad[,seed[,bias]]`` (the CLI form) -> spec mapping."""
    parts = [p.strip() for p in text.split(",")]
    if not 4 <= len(parts) <= 6:
        raise WorkloadError(f"--synthetic {text}: expected rows,cols,weight_density,act_density"
                            f"[,seed[,bias]]")
    try:
        spec = {"rows": int(parts[0]), "cols": int(parts[1]),
                "weight_density": float(parts[2]), "act_density": float(parts[3])}
        if len(parts) > 4:
            spec["seed"] = int(parts[4])
    except ValueError:
        raise WorkloadError(f"--synthetic {text}: rows, cols and seed must be integers, "
                            f"densities numbers") from None
    if len(parts) > 5:
        if parts[5].lower() not in ("bias", "nobias", "true", "false", "1", "0"):
            raise WorkloadError(f"--synthetic {text}: the sixth field is bias or nobias")
        spec["bias"] = parts[5].lower() in ("bias", "true", "1")
    return spec


def table3_layer(name: str, seed: int = 0, weight_bits: int = 4, bias: bool = True,
                 act_density: float | None = None) -> LayerWorkload:
    """One of the nine Table III benchmark layers as a seeded synthetic layer.

    The one generator of the Table III layers: ``eie-simulate --table3``, the benchmarks
    and ``python -m eie_sim.hw.engine_simpy`` all call it, so a layer name with the same seed
    is the same matrix and input everywhere. The matrix is (outputs x inputs) with the
    paper's weight density, the input has the paper's activation density (or
    ``act_density``; the matrix does not depend on it). Real AlexNet/VGG/NeuralTalk weights
    are not available: this is a random matrix at the paper's sizes and densities (the
    paper assumes random distributions too).
    """
    if name not in TABLE3:
        raise WorkloadError(f"unknown Table III layer {name!r}; known: {', '.join(TABLE3)}, all")
    t = TABLE3[name]
    ad = t["act_density"] if act_density is None else act_density
    lay = synthetic_layer(t["outputs"], t["inputs"], t["weight_density"], ad,
                          seed=seed, bias=bias, weight_bits=weight_bits, name=name)
    lay.source["table3"] = dict(t)
    return lay


def table3_names(arg: str | list[str]) -> list[str]:
    names = [arg] if isinstance(arg, str) else list(arg)
    out: list[str] = []
    for n in names:
        for part in str(n).split(","):
            part = part.strip()
            if part == "all":
                out.extend(TABLE3)
            elif part in TABLE3:
                out.append(part)
            else:
                raise WorkloadError(f"unknown Table III layer {part!r}; known: {', '.join(TABLE3)}, all")
    return list(dict.fromkeys(out))


