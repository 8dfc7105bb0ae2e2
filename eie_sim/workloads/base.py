"""Workloads for the simulator: what matrix and which input vector a run uses.

Three sources, all ending in the same form (:class:`LayerWorkload`: a (rows, cols)
matrix of weight codes, a codebook with ``codebook[0] == 0.0``, an optional bias and an
optional input vector):

* a compressed model file (``.dcmp``, read with :func:`compressor.fileformat.load`); its
  fully-connected layers, in order;
* an ``.npz`` file holding ``codes`` + ``codebook`` (already quantized) or ``weights`` (a
  dense float matrix, zeros = pruned, quantized here with
  :func:`compressor.quantize.quantize_layer`), optionally ``bias`` and ``x``;
* a synthetic layer spec (rows, cols, weight density, activation density, seed, bias):
  a sparse matrix with exactly ``round(density x rows x cols)`` non-zeros at seeded
  random positions, normal random weights, quantized through the same
  ``quantize_layer`` path (``2**weight_bits`` codes, code 0 = pruned), and a non-negative
  input with exactly ``round(act_density x cols)`` non-zeros. The nine layers of the
  paper's Table III are named synthetic specs (:data:`TABLE3`). Synthetic matrices are
  synthetic: ``LayerWorkload.synthetic`` is True and every report says so.

EIE matrices are (outputs x inputs): Table III's "9216 x 4096" (inputs x outputs) of
Alex-6 is a 4096 x 9216 matrix here.
"""
from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eie_sim.arch.config import INT_RANGES, ArchConfig
from eie_sim.hw.layout import LayerLayout, build_layer


class WorkloadError(ValueError):
    """A workload that cannot be built or run (the message names the file/layer/key)."""


#: Table III of the paper: size = inputs x outputs, densities as fractions. Paper values.
TABLE3: dict[str, dict[str, Any]] = {
    "Alex-6": {"inputs": 9216, "outputs": 4096, "weight_density": 0.09, "act_density": 0.351},
    "Alex-7": {"inputs": 4096, "outputs": 4096, "weight_density": 0.09, "act_density": 0.353},
    "Alex-8": {"inputs": 4096, "outputs": 1000, "weight_density": 0.25, "act_density": 0.375},
    "VGG-6": {"inputs": 25088, "outputs": 4096, "weight_density": 0.04, "act_density": 0.183},
    "VGG-7": {"inputs": 4096, "outputs": 4096, "weight_density": 0.04, "act_density": 0.375},
    "VGG-8": {"inputs": 4096, "outputs": 1000, "weight_density": 0.23, "act_density": 0.411},
    "NT-We": {"inputs": 4096, "outputs": 600, "weight_density": 0.10, "act_density": 1.0},
    "NT-Wd": {"inputs": 600, "outputs": 8791, "weight_density": 0.11, "act_density": 1.0},
    "NT-LSTM": {"inputs": 1201, "outputs": 2400, "weight_density": 0.10, "act_density": 1.0},
}

SYNTHETIC_KEYS = ("name", "rows", "cols", "weight_density", "act_density", "seed", "bias",
                  "weight_scale")

#: smallest synthetic activation: well above the fixed-point step of 8 fraction bits, so
#: a non-zero activation stays non-zero after quantization (the density is exact).
MIN_ACTIVATION = 1.0 / 64


@dataclass
class LayerWorkload:
    """One fully-connected layer ``y = W x + b`` with ``W = codebook[codes]``."""

    name: str
    codes: np.ndarray                 #: (rows, cols) integer codes, 0 = pruned
    codebook: np.ndarray              #: float32, codebook[0] == 0.0
    bias: np.ndarray | None = None    #: float32 (rows,) or None
    x: np.ndarray | None = None       #: float64 (cols,) input, or None (supplied by the run)
    synthetic: bool = False
    source: dict[str, Any] = field(default_factory=dict)
    bits: int | None = None           #: bits of the codes as stored (None: from codebook size)

    @property
    def rows(self) -> int:
        return int(self.codes.shape[0])

    @property
    def cols(self) -> int:
        return int(self.codes.shape[1])

    @property
    def code_bits(self) -> int:
        if self.bits is not None:
            return int(self.bits)
        return max(1, math.ceil(math.log2(max(2, self.codebook.size))))

    @property
    def nnz(self) -> int:
        return int(np.count_nonzero(self.codes))

    @property
    def weight_density(self) -> float:
        return self.nnz / max(1, self.codes.size)

    def nonzeros(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, codes) of the non-zero codes, row-major order."""
        r, c = np.nonzero(self.codes)
        return r.astype(np.int64), c.astype(np.int64), self.codes[r, c].astype(np.int64)

    def check_bits(self, cfg: ArchConfig) -> None:
        """Refuse codes wider than the PE's weight index (``weight_bits``)."""
        lo, hi = INT_RANGES["weight_bits"]
        if self.code_bits > hi:
            raise WorkloadError(
                f"layer {self.name!r}: {self.code_bits}-bit weight codes ({self.codebook.size}-entry "
                f"codebook) cannot run on EIE: weight_bits is {lo}..{hi}; quantize the layer to "
                f"at most {hi} bits")
        if self.code_bits > cfg.weight_bits or self.codebook.size > cfg.codebook_size:
            raise WorkloadError(
                f"layer {self.name!r}: {self.code_bits}-bit weight codes ({self.codebook.size}-entry "
                f"codebook) do not fit weight_bits={cfg.weight_bits} ({cfg.codebook_size}-entry "
                f"codebook); run with --set weight_bits={self.code_bits} or quantize the "
                f"layer to {cfg.weight_bits} bits")

    def layout(self, cfg: ArchConfig, check_fit: bool = True) -> LayerLayout:
        """The per-PE memory images of this layer (:func:`eie_sim.layout.build_layer`)."""
        self.check_bits(cfg)
        lay = build_layer(self.codes, self.codebook, self.bias, cfg, name=self.name,
                          check_fit=check_fit)
        lay.meta.update({"synthetic": self.synthetic, "source": dict(self.source)})
        return lay

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "rows": self.rows, "cols": self.cols, "nnz": self.nnz,
                "weight_density": self.weight_density, "bias": self.bias is not None,
                "code_bits": self.code_bits, "synthetic": self.synthetic, **self.source}


@dataclass
class Workload:
    """Layers to run, either independently (each with its own input) or as a network."""

    layers: list[LayerWorkload]
    network: bool = False             #: chain the layers: outputs -> next inputs, ReLU between
    x: np.ndarray | None = None       #: network input (float64) when ``network``
    description: str = ""

    @property
    def synthetic(self) -> bool:
        return any(lay.synthetic for lay in self.layers)

    def describe(self) -> dict[str, Any]:
        return {"description": self.description, "network": self.network,
                "synthetic": self.synthetic, "layers": [l.describe() for l in self.layers]}


# ---------------------------------------------------------------- quantization path
def quantize_values(values: np.ndarray, bits: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """k-means weight sharing of the kept (non-zero) weights into ``2**bits - 1`` centroids.

    Returns ``(codebook float32 (2**bits,), codes 1..2**bits-1 of values)`` through
    :func:`compressor.quantize.quantize_layer` (linear initialisation, the paper's best).
    """
    from compressor.quantize import quantize_layer

    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        return np.zeros(2 ** bits, dtype=np.float32), np.zeros(0, dtype=np.int64)
    codebook, codes = quantize_layer(values, None, bits, init="linear", seed=seed)
    return np.asarray(codebook, dtype=np.float32), codes.astype(np.int64)


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
        picked = np.unique(np.concatenate([picked, draw]))
    keep = rng.permutation(picked.size)[:k]
    return np.sort(picked[keep])


#: largest rows x cols of a synthetic layer (a dense uint8 code matrix of 256 MiB)
MAX_SYNTHETIC_ELEMENTS = 1 << 28


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
            f"the {MAX_SYNTHETIC_ELEMENTS:,} a synthetic layer may have (it is generated as a dense "
            f"code matrix in memory; VGG-6 has 102,760,448)")
    for key in ("weight_density", "act_density"):
        v = out.get(key, 1.0 if key == "act_density" else None)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
            raise WorkloadError(f"{where}: {key}: expected a fraction in 0..1, got {v!r}")
        out[key] = float(v)
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
    (code 0 = pruned). Bias (if on): normal, standard deviation 0.1. Input: see
    :func:`synthetic_input`. Everything from ``numpy.random.default_rng`` seeded by ``seed``.
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
    codebook, c = quantize_values(values, weight_bits, seed=spec["seed"])
    codes = np.zeros((rows, cols), dtype=np.uint8 if weight_bits <= 8 else np.uint16)
    codes.reshape(-1)[pos] = c
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


# ---------------------------------------------------------------- files
NPZ_KEYS = ("codes", "codebook", "weights", "bias", "x")


def _numeric(a: np.ndarray, path, what: str) -> np.ndarray:
    """``a`` if it holds numbers (bool, integer, float), else a :class:`WorkloadError`."""
    if a.dtype.kind not in "biuf":
        raise WorkloadError(f"{path}: {what} must hold numbers, got dtype {a.dtype}")
    return a


def from_npz(path: str | pathlib.Path, weight_bits: int = 4, seed: int = 0,
             name: str | None = None) -> LayerWorkload:
    """A layer from an ``.npz``: ``codes`` + ``codebook`` or ``weights``; ``bias``, ``x`` optional."""
    path = pathlib.Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise WorkloadError(f"{path}: file not found") from None
    except Exception as exc:  # zipfile/pickle/format errors from numpy
        raise WorkloadError(f"{path}: not a readable .npz file ({exc})") from None
    unknown = sorted(set(data) - set(NPZ_KEYS))
    if unknown:
        raise WorkloadError(f"{path}: unknown array(s) {unknown}; allowed: {', '.join(NPZ_KEYS)}")
    name = name or path.stem
    if "weights" in data:
        if "codes" in data or "codebook" in data:
            raise WorkloadError(f"{path}: give either weights or codes + codebook, not both")
        w = data["weights"]
        if w.ndim != 2 or w.dtype.kind not in "fiu":
            raise WorkloadError(f"{path}: weights must be a 2-D numeric (rows, cols) matrix, "
                                f"got shape {w.shape} dtype {w.dtype}")
        codebook, codes = quantize_dense(w, weight_bits, seed)
        bits, kind = weight_bits, "npz-dense (quantized here by k-means)"
    elif "codes" in data and "codebook" in data:
        _numeric(data["codebook"], path, "codebook")
        codes, codebook = data["codes"], data["codebook"].astype(np.float32).reshape(-1)
        if codes.ndim != 2 or codes.dtype.kind not in "iu":
            raise WorkloadError(f"{path}: codes must be a 2-D integer (rows, cols) matrix, "
                                f"got shape {codes.shape} dtype {codes.dtype}")
        if codebook.size == 0 or codebook[0] != 0.0:
            raise WorkloadError(f"{path}: codebook[0] must be 0.0 (code 0 = pruned)")
        if codes.size and (codes.min() < 0 or codes.max() >= codebook.size):
            raise WorkloadError(f"{path}: codes must lie in 0..{codebook.size - 1}")
        if not np.all(np.isfinite(codebook)):
            raise WorkloadError(f"{path}: codebook contains NaN or infinity")
        bits, kind = None, "npz-quantized"
    else:
        raise WorkloadError(f"{path}: needs 'codes' and 'codebook', or 'weights' (has {sorted(data)})")
    rows, cols = codes.shape
    bias = data.get("bias")
    if bias is not None:
        bias = _numeric(bias, path, "bias").astype(np.float32).reshape(-1)
        if bias.shape != (rows,):
            raise WorkloadError(f"{path}: bias has {bias.size} values for {rows} rows")
    x = data.get("x")
    if x is not None:
        x = _numeric(x, path, "x").astype(np.float64).reshape(-1)
        if x.shape != (cols,):
            raise WorkloadError(f"{path}: x has {x.size} values for {cols} columns")
        if not np.all(np.isfinite(x)):
            raise WorkloadError(f"{path}: x contains NaN or infinity")
    return LayerWorkload(name=name, codes=np.asarray(codes), codebook=codebook, bias=bias, x=x,
                         synthetic=False, source={"kind": kind, "path": str(path), "seed": seed},
                         bits=bits)


def from_model(path: str | pathlib.Path, cfg: ArchConfig | None = None,
               layers: list[str] | None = None) -> Workload:
    """The fully-connected layers of a compressed model file, in order, as a network.

    ``layers`` picks some by name (a convolutional layer is refused: EIE runs FC layers).
    With ``cfg``, a layer with more codebook bits than ``cfg.weight_bits`` is refused.
    """
    from compressor.fileformat import FormatError, load

    path = pathlib.Path(path)
    if not path.exists():
        raise WorkloadError(f"{path}: model file not found")
    try:
        model = load(path)
    except FormatError as exc:  # its message already names the file
        raise WorkloadError(str(exc)) from None
    except OSError as exc:
        raise WorkloadError(f"{path}: cannot read model file: {exc}") from None
    by_name = {lay.name: lay for lay in model.layers}
    if layers:
        picked = []
        for n in layers:
            if n not in by_name:
                raise WorkloadError(f"{path}: no layer named {n!r}; layers: {', '.join(by_name)}")
            if by_name[n].kind != "fc":
                raise WorkloadError(f"{path}: layer {n!r} is {by_name[n].kind}; EIE runs "
                                    f"fully-connected layers only")
            picked.append(by_name[n])
    else:
        picked = [lay for lay in model.layers if lay.kind == "fc"]
        if not picked:
            raise WorkloadError(f"{path}: the model has no fully-connected layers")
    out = []
    for q in picked:
        lw = LayerWorkload(name=q.name, codes=q.codes, codebook=q.codebook, bias=q.bias,
                           synthetic=False, bits=q.bits,
                           source={"kind": "model", "path": str(path), "model_meta_seed":
                                   model.meta.get("seed")})
        if cfg is not None:
            lw.check_bits(cfg)
        out.append(lw)
    chained = all(a.rows == b.cols for a, b in zip(out, out[1:]))
    skipped = [l.name for l in model.layers if l.kind != "fc"]
    desc = f"model {path.name}: fc layers {[l.name for l in out]}"
    if skipped and not layers:
        desc += f" (convolutional layers skipped: {skipped})"
    return Workload(layers=out, network=chained, description=desc)


def load_input(path: str | pathlib.Path, cols: int) -> np.ndarray:
    """An input vector from ``.npy`` (or ``.npz`` with array ``x``) of length ``cols``."""
    path = pathlib.Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if "x" not in z.files:
                    raise WorkloadError(f"{path}: no array 'x' (has {z.files})")
                x = z["x"]
        else:
            x = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise WorkloadError(f"{path}: file not found") from None
    except WorkloadError:
        raise
    except Exception as exc:
        raise WorkloadError(f"{path}: not a readable numpy file ({exc})") from None
    x = _numeric(np.asarray(x), path, "the input").astype(np.float64).reshape(-1)
    if x.size != cols:
        raise WorkloadError(f"{path}: input has {x.size} values but the first layer has {cols} inputs")
    if not np.all(np.isfinite(x)):
        raise WorkloadError(f"{path}: input contains NaN or infinity")
    return x


def resolve_path(p: str | pathlib.Path, base_dir: str | pathlib.Path | None = None) -> pathlib.Path:
    """An absolute path: a relative ``p`` is taken from ``base_dir`` (a config file's
    folder) when given, else from the current directory. There is no fallback from one to
    the other: a relative path in a config file never finds a same-named file elsewhere."""
    p = pathlib.Path(p)
    if not p.is_absolute():
        p = (pathlib.Path(base_dir) if base_dir is not None else pathlib.Path.cwd()) / p
    return pathlib.Path(*p.parts).absolute()


def absolute_block(block: dict, base_dir: str | pathlib.Path | None = None) -> dict:
    """A copy of a workload block with its file paths (``npz``, ``model``, ``input``)
    made absolute by :func:`resolve_path`, e.g. for a bundle's ``config.yaml``."""
    out = dict(block)
    for key in ("npz", "model", "input"):
        if out.get(key):
            out[key] = str(resolve_path(out[key], base_dir))
    return out


def from_block(block: dict, cfg: ArchConfig, seed: int = 0, base_dir: str | pathlib.Path | None = None,
               act_density: float | None = None, input_path: str | None = None,
               label: str = "workload") -> Workload:
    """A :class:`Workload` from a ``workload:`` block (or the equivalent CLI flags).

    Keys: exactly one of ``table3`` (name, list or ``all``), ``synthetic`` (a spec or a list
    of specs, :data:`SYNTHETIC_KEYS`), ``npz`` (path), ``model`` (path); optional
    ``layers`` (model layer names), ``input`` (``.npy`` input for npz/model) and
    ``act_density`` (of the synthetic input of npz/model when no input is given; default
    0.5). Relative paths are taken from ``base_dir`` (the config file's folder), or the
    current directory without one (:func:`resolve_path`). Seeds not given in a spec
    default to ``seed``. ``label`` names the block in errors (``workload``, or the CLI flag
    ``--synthetic`` for a one-spec block given on the command line). ``act_density`` and
    ``input_path`` (CLI flags) replace the block's keys.
    """
    def resolve(p):
        return resolve_path(p, base_dir)

    inp = input_path or block.get("input")
    ad = act_density if act_density is not None else block.get("act_density")
    if ad is not None and (isinstance(ad, bool) or not isinstance(ad, (int, float))
                           or not 0.0 <= ad <= 1.0):
        raise WorkloadError(f"{label}.act_density: expected a fraction in 0..1, got {ad!r}")
    if ("table3" in block or "synthetic" in block) and (inp or ad is not None):
        what = "input" if inp else "act_density"
        raise WorkloadError(f"{label}: {what} applies to npz and model workloads only (a "
                            f"synthetic or Table III layer brings its own input and "
                            f"activation density)")
    ad = 0.5 if ad is None else float(ad)
    if "table3" in block:
        layers = [table3_layer(n, seed=seed, weight_bits=cfg.weight_bits) for n in table3_names(block["table3"])]
        return Workload(layers, network=False,
                        description=f"Table III layers {[l.name for l in layers]} (synthetic, seed {seed})")
    if "synthetic" in block:
        specs = block["synthetic"]
        one = not isinstance(specs, list)
        specs = [specs] if one else specs
        layers = []
        for i, s in enumerate(specs):
            where = label if one and label.startswith("--") else f"{label}.synthetic[{i}]"
            if not isinstance(s, dict):
                raise WorkloadError(f"{where}: expected a mapping of {', '.join(SYNTHETIC_KEYS)}")
            s = {"seed": seed, **s}
            lay = synthetic_from_spec(s, cfg.weight_bits, where=where)
            if len(specs) > 1 and "name" not in s:
                lay.name = f"{lay.name}-{i}"
            layers.append(lay)
        return Workload(layers, network=False, description=f"{len(layers)} synthetic layer(s)")
    if "npz" in block:
        lay = from_npz(resolve(block["npz"]), cfg.weight_bits, seed)
        if inp:
            lay.x = load_input(resolve(inp), lay.cols)
            lay.source["input"] = str(resolve(inp))
        elif lay.x is None:
            lay.x = synthetic_input(lay.cols, ad, seed)
            lay.source["input"] = f"synthetic input (seed {seed}, density {ad})"
        return Workload([lay], network=False, description=f"npz layer {lay.source['path']}")
    if "model" in block:
        names = block.get("layers")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        wl = from_model(resolve(block["model"]), cfg, names)
        cols = wl.layers[0].cols
        if inp:
            wl.x = load_input(resolve(inp), cols)
            wl.description += f"; input {resolve(inp)}"
        else:
            wl.x = synthetic_input(cols, ad, seed)
            wl.description += f"; synthetic input (seed {seed}, density {ad})"
        if not wl.network:
            for lay in wl.layers:
                lay.x = synthetic_input(lay.cols, ad, seed) if lay is not wl.layers[0] else wl.x
            wl.description += "; layers do not chain, each run on its own input"
        return wl
    raise WorkloadError(f"{label}: no workload: give one of table3, synthetic, npz, model")
