"""LLM-scale workloads: the fully-connected layers of transformer decoders at their published
shapes, with generated heavy-tailed weights pruned by magnitude (docs/llm.md).

**Shapes** (:data:`LLM_SHAPES`; the sources are cited on each entry): GPT-2 small and
medium, Llama-2-7B and a Mistral-7B-like shape (grouped-query attention). One decode step
(one new token per sequence) runs, per transformer block, the block's projections on EIE
(GPT-2: ``attn.c_attn`` (d -> 3d), ``attn.c_proj``, ``mlp.c_fc`` (d -> 4d),
``mlp.c_proj``; Llama/Mistral: ``q, k, v, o`` projections (k and v: d -> kv_heads x
head_dim), ``gate``, ``up`` (d -> ffn), ``down`` (ffn -> d)), then the LM head
(d -> vocabulary). Attention (scores, softmax, the weighted sum over the KV cache), the
normalisations, rotary embeddings, the activation functions and the residual adds run on
the host and are counted as host work (:func:`host_flops`), never timed on EIE.

**Weights** (:func:`llm_layer`). Every weight is drawn i.i.d. from a scaled Student-t
distribution, ``w = sigma T_nu / sqrt(nu / (nu - 2))`` (standard deviation ``sigma``;
default ``nu = 4``, ``sigma = 0.02``, the ``initializer_range`` of the GPT-2 and Llama-2
Hugging Face configurations; the heavy tail is our stand-in for trained weights, not a
fit to any checkpoint), then pruned by magnitude to ``density``:

* ``prune="global"``: the ``round(density x rows x cols)`` largest magnitudes of the layer
  are kept. For i.i.d. weights this is **exactly** a uniformly random set of that many
  positions (the ranks of i.i.d. magnitudes are a uniform permutation), each kept value
  distributed as ``w`` conditioned on ``|w| > t`` (``t`` the ``1 - density`` quantile of
  ``|w|``); so the generator draws the positions directly: the row counts from the
  multivariate hypergeometric distribution, the columns of each row by selection sampling
  (Knuth's Algorithm S), in a numba kernel, straight into CSR (no dense matrix);
* ``prune="per-row"``: the ``round(density x cols)`` largest magnitudes of every row
  (equal work per row).

The kept weights are quantized to ``2 x ((2**weight_bits - 1) // 2)`` codes by
equal-probability bins of the kept distribution, half per sign (7 per sign with 4-bit
codes; code 0 = pruned): each kept weight's code is then uniform over the codes, and each
code's codebook value is the median of its bin (Student-t quantiles,
:func:`student_t_isf`). So the
values of a layer are exactly magnitude-pruned, quantile-quantized Student-t weights,
at a cost of two random numbers per kept weight.

**Activations** (:func:`llm_inputs`). The input of each layer is what feeds it in a
transformer: the normalised hidden state (``q/k/v``, ``gate/up``, ``c_attn``, ``c_fc``,
the LM head) and the attention output (``o``, ``attn.c_proj``), modelled as standard
normal; ``SiLU(g) x u`` (Llama/Mistral ``down``, g and u independent standard normal)
and ``GELU(h)`` (GPT-2 ``mlp.c_proj``). None of these has exact zeros (SiLU and GELU are
non-zero everywhere but at 0), so EIE's leading-non-zero detection finds almost nothing to
skip; ``act_threshold`` zeroes every input with ``|x| < t`` first (magnitude
thresholding of hidden states, as TEAL does: Liu et al., "Training-Free Activation
Sparsity in Large Language Models", 2024).

Everything is seeded: layer ``i`` (its index in :func:`fc_layers`) draws from
``SeedSequence([seed, i])`` (weights) and ``[seed, i, 1]`` (activations).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eie_sim.arch.workload_spec import PRUNE_MODES
from eie_sim.errors import WorkloadError
from eie_sim.hw.csr import CodesCSR
from eie_sim.workloads.layer import LayerWorkload

__all__ = ["TransformerShape", "LLM_SHAPES", "LLM_NAMES", "FcLayer", "fc_layers", "llm_layer",
           "llm_inputs", "host_flops", "PRUNE_MODES", "DEFAULT_NU", "DEFAULT_SIGMA",
           "get_shape", "student_t_codebook", "student_t_isf"]

DEFAULT_NU = 4.0
DEFAULT_SIGMA = 0.02


@dataclass(frozen=True)
class TransformerShape:
    """The shape of a decoder-only transformer (what its FC layers and host work need)."""

    name: str
    family: str            #: ``gpt2`` (LayerNorm, GELU MLP, biases) or ``llama`` (RMSNorm, SwiGLU)
    hidden: int            #: d_model
    ffn: int               #: MLP inner size
    layers: int            #: transformer blocks
    heads: int             #: attention (query) heads
    kv_heads: int          #: key/value heads (< heads: grouped-query attention)
    vocab: int             #: vocabulary (LM head rows)
    source: str            #: where the numbers come from

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim


#: the published shapes (docs/llm.md cites the same sources)
LLM_SHAPES: dict[str, TransformerShape] = {s.name: s for s in (
    TransformerShape("gpt2-small", "gpt2", 768, 3072, 12, 12, 12, 50257,
                     "Radford et al. 2019, 'Language Models are Unsupervised Multitask "
                     "Learners', Table 2 (117M: 12 layers, d_model 768); Hugging Face "
                     "openai-community/gpt2 config.json (n_head 12, n_inner 4 x 768, vocab "
                     "50257)"),
    TransformerShape("gpt2-medium", "gpt2", 1024, 4096, 24, 16, 16, 50257,
                     "Radford et al. 2019, Table 2 (345M: 24 layers, d_model 1024); Hugging "
                     "Face openai-community/gpt2-medium config.json (n_head 16, vocab 50257)"),
    TransformerShape("llama2-7b", "llama", 4096, 11008, 32, 32, 32, 32000,
                     "Touvron et al. 2023, 'Llama 2: Open Foundation and Fine-Tuned Chat "
                     "Models' (7B: 32 layers, 32 heads, no GQA); Hugging Face "
                     "meta-llama/Llama-2-7b-hf config.json (hidden 4096, intermediate 11008, "
                     "vocab 32000)"),
    TransformerShape("mistral-7b", "llama", 4096, 14336, 32, 32, 8, 32000,
                     "Jiang et al. 2023, 'Mistral 7B', Table 1 (dim 4096, n_layers 32, "
                     "head_dim 128, hidden_dim 14336, n_heads 32, n_kv_heads 8, vocab 32000); "
                     "'-like': sliding-window attention only changes host work"),
)}
LLM_NAMES: tuple[str, ...] = tuple(LLM_SHAPES)


def get_shape(name: str) -> TransformerShape:
    if name not in LLM_SHAPES:
        raise WorkloadError(f"unknown LLM {name!r}; known: {', '.join(LLM_NAMES)}")
    return LLM_SHAPES[name]


@dataclass(frozen=True)
class FcLayer:
    """One fully-connected layer of a decode step: ``rows`` outputs x ``cols`` inputs."""

    index: int             #: position in the step (seeds its weights and inputs)
    name: str              #: ``block3.ffn_down``, ``lm_head``
    kind: str              #: ``qkv``, ``q``, ``k``, ``v``, ``o``, ``ffn_up``, ``ffn_gate``, ``ffn_down``, ``lm_head``
    block: int             #: transformer block (-1: the LM head)
    rows: int
    cols: int
    bias: bool
    input: str             #: the input's distribution: ``normal``, ``silu_glu``, ``gelu``


def fc_layers(shape: TransformerShape, blocks: int | None = None,
              lm_head: bool = True) -> list[FcLayer]:
    """The FC layers of one decode step in order (``blocks``: only the first that many)."""
    d, f = shape.hidden, shape.ffn
    n = shape.layers if blocks is None else min(blocks, shape.layers)
    if shape.family == "gpt2":
        per = [("qkv", 3 * d, d, "normal"), ("o", d, d, "normal"), ("ffn_up", f, d, "normal"),
               ("ffn_down", d, f, "gelu")]
    else:
        per = [("q", d, d, "normal"), ("k", shape.kv_dim, d, "normal"),
               ("v", shape.kv_dim, d, "normal"), ("o", d, d, "normal"),
               ("ffn_gate", f, d, "normal"), ("ffn_up", f, d, "normal"),
               ("ffn_down", d, f, "silu_glu")]
    bias = shape.family == "gpt2"
    out = []
    for b in range(n):
        for kind, rows, cols, inp in per:
            out.append(FcLayer(len(out), f"block{b}.{kind}", kind, b, rows, cols, bias, inp))
    if lm_head:      # index after every block's layers, whatever ``blocks`` is
        out.append(FcLayer(shape.layers * len(per), "lm_head", "lm_head", -1, shape.vocab, d,
                           False, "normal"))
    return out


def host_flops(shape: TransformerShape, context: int) -> dict[str, int]:
    """Host work of one decode token (FLOPs, a multiply-add = 2) at KV-cache length
    ``context``: attention scores ``2 heads head_dim context`` and weighted sum (the same)
    per block, softmax ``5 heads context`` (max, subtract, exp, sum, divide), the two
    normalisations per block and the final one (``5 d`` each: mean/RMS, scale, gain), rotary
    embeddings (Llama/Mistral: ``3 (d + kv_dim)``), the activation function (``5 ffn``; SwiGLU
    also the product ``ffn``), two residual adds (``2 d``). The LM head's softmax/sampling
    is left out (it depends on the decoding)."""
    d, f, L = shape.hidden, shape.ffn, shape.layers
    attn = 4 * shape.heads * shape.head_dim * context
    soft = 5 * shape.heads * context
    norm = 2 * 5 * d
    rope = 3 * (d + shape.kv_dim) if shape.family == "llama" else 0
    act = 5 * f + (f if shape.family == "llama" else 0)
    per_block = {"attention": attn, "softmax": soft, "norm": norm, "rope": rope,
                 "activation": act, "residual": 2 * d}
    out = {k: v * L for k, v in per_block.items()}
    out["norm"] += 5 * d
    out["total"] = sum(out.values())
    return out


# ------------------------------------------------------------------ weights
def student_t_isf(p: np.ndarray, nu: float) -> np.ndarray:
    """The Student-t inverse survival function: ``t`` with ``P(T > t) = p`` (``0 < p <=
    1/2``), by numpy alone. With ``s = sqrt(nu) tan(theta)``,
    ``P(T > s) = c int_theta^(pi/2) cos^(nu - 1)``, ``c = Gamma((nu+1)/2) / (sqrt(pi)
    Gamma(nu/2))``: the tail is integrated (trapezoid rule) on a grid of 2**18 angles and
    inverted by interpolation (error far below the quantization it serves)."""
    p = np.asarray(p, dtype=np.float64)
    if np.any((p <= 0) | (p > 0.5)):
        raise ValueError("tail probabilities must lie in (0, 1/2]")
    theta = np.linspace(0.0, math.pi / 2, (1 << 18) + 1)
    f = np.cos(theta) ** (nu - 1.0)
    c = math.exp(math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2)) / math.sqrt(math.pi)
    steps = 0.5 * (f[1:] + f[:-1]) * np.diff(theta)
    tail = c * np.concatenate([np.cumsum(steps[::-1])[::-1], [0.0]])   # P(T > s(theta))
    th = np.interp(p, tail[::-1], theta[::-1])
    return math.sqrt(nu) * np.tan(th)


def student_t_codebook(density: float, bits: int, nu: float = DEFAULT_NU,
                       sigma: float = DEFAULT_SIGMA) -> np.ndarray:
    """float32 ``(1 + 2 K,)`` codebook, ``K = (2**bits - 1) // 2`` codes per sign: entry 0
    is 0 (pruned), entries ``1..K`` the medians of ``K`` equal-probability bins of the kept
    negative weights (most negative first), ``K+1..2K`` their mirror images."""
    K = (2 ** bits - 1) // 2
    if K < 1:
        raise WorkloadError(f"weight_bits={bits}: at least 2 bits are needed for signed codes")
    scale = sigma / math.sqrt(nu / (nu - 2.0))
    # |w| > t keeps ``density``: P(T > t/scale) = density / 2; within the positive tail,
    # bin j (j = 0..K-1, small to large) has tail probabilities (density/2) (1 - (j+.5)/K)
    tail = (density / 2.0) * (1.0 - (np.arange(K) + 0.5) / K)
    pos = scale * student_t_isf(tail, nu)
    return np.concatenate([[0.0], -pos[::-1], pos]).astype(np.float32)


def _numba_seed(seed: int, *key: int) -> int:
    return int(np.random.SeedSequence([int(seed), *map(int, key)]).generate_state(1)[0])


def _kernel():
    from numba import njit, uint64

    @njit(cache=True, nogil=True)
    def select_rows(counts, cols, n_codes, seed, indptr, indices, data):
        """Row i keeps ``counts[i]`` of ``cols`` columns, uniformly (Algorithm S: column j
        is taken with probability needed / left), each with a uniform code 1..n_codes.
        One xorshift64* number (Vigna 2016, seeded by ``seed``) per column: its top 32
        bits decide the column (``u left < needed``, exact integer arithmetic), bits 11..31
        give the code (multiply-shift map). Branch-free: every column writes its slot, a
        taken one advances (``indices`` and ``data`` have one spare slot)."""
        x = uint64(seed) * uint64(0x9E3779B97F4A7C15) + uint64(1)
        mult = uint64(2685821657736338717)
        e = 0
        for i in range(counts.size):
            need = uint64(counts[i])
            left = uint64(cols)
            for j in range(cols):
                x ^= x >> uint64(12)
                x ^= x << uint64(25)
                x ^= x >> uint64(27)
                r = x * mult
                take = uint64((r >> uint64(32)) * left < (need << uint64(32)))
                indices[e] = j
                data[e] = 1 + ((((r >> uint64(11)) & uint64(0x1FFFFF)) * uint64(n_codes)) >> uint64(21))
                e += take
                need -= take
                left -= uint64(1)
            indptr[i + 1] = e
        return e
    return select_rows


_SELECT = None


def sparse_codes(rows: int, cols: int, density: float, prune: str, seed: int, index: int,
                 n_codes: int) -> CodesCSR:
    """The pruned layer's positions and codes as CSR (module docstring), seeded by
    ``(seed, index)``."""
    global _SELECT
    if prune not in PRUNE_MODES:
        raise WorkloadError(f"prune: expected one of {', '.join(PRUNE_MODES)}, got {prune!r}")
    if not 0.0 < density <= 1.0:
        raise WorkloadError(f"weight density: expected a fraction in (0, 1], got {density!r}")
    if prune == "per-row":
        counts = np.full(rows, int(round(density * cols)), dtype=np.int64)
    else:
        nnz = int(round(density * rows * cols))
        rng = np.random.default_rng([int(seed), int(index), 2])
        counts = rng.multivariate_hypergeometric(np.full(rows, cols, dtype=np.int64), nnz,
                                                 method="marginals").astype(np.int64)
    total = int(counts.sum())
    indptr = np.zeros(rows + 1, dtype=np.int64)
    indices = np.empty(total + 1, dtype=np.int32)        # + the spare slot
    data = np.empty(total + 1, dtype=np.uint8)
    if _SELECT is None:
        _SELECT = _kernel()
    _SELECT(counts, cols, n_codes, _numba_seed(seed, index), indptr, indices, data)
    return CodesCSR((rows, cols), indptr, indices[:total], data[:total])


def llm_layer(shape: TransformerShape, fc: FcLayer, density: float, *, prune: str = "global",
              seed: int = 0, weight_bits: int = 4, nu: float = DEFAULT_NU,
              sigma: float = DEFAULT_SIGMA) -> LayerWorkload:
    """The layer ``fc`` of ``shape`` as a :class:`LayerWorkload` (module docstring)."""
    codebook = student_t_codebook(density, weight_bits, nu, sigma)
    codes = sparse_codes(fc.rows, fc.cols, density, prune, seed, fc.index, codebook.size - 1)
    bias = None
    if fc.bias:
        rng = np.random.default_rng([int(seed), fc.index, 3])
        bias = (sigma * rng.standard_normal(fc.rows)).astype(np.float32)
    return LayerWorkload(
        name=fc.name, codes=codes, codebook=codebook, bias=bias, synthetic=True, bits=weight_bits,
        source={"kind": "llm", "network": shape.name, "layer_kind": fc.kind, "block": fc.block,
                "seed": int(seed), "density": density, "prune": prune,
                "weights": f"Student-t nu={nu:g} std {sigma:g}, magnitude-pruned ({prune}), "
                           f"quantile-quantized"})


# ------------------------------------------------------------------ activations
_ERF = np.frompyfunc(math.erf, 1, 1)


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU, ``x Phi(x)`` (the exact form, math.erf)."""
    return 0.5 * x * (1.0 + _ERF(x / math.sqrt(2.0)).astype(np.float64))


def llm_inputs(fc: FcLayer, batch: int, seed: int = 0, threshold: float = 0.0) -> np.ndarray:
    """float64 ``(batch, cols)``: the layer's inputs for ``batch`` tokens (module
    docstring), every ``|x| < threshold`` set to 0."""
    rng = np.random.default_rng([int(seed), fc.index, 1])
    shape = (int(batch), fc.cols)
    if fc.input == "silu_glu":
        g, u = rng.standard_normal(shape), rng.standard_normal(shape)
        x = g / (1.0 + np.exp(-g)) * u
    elif fc.input == "gelu":
        x = _gelu(rng.standard_normal(shape))
    else:
        x = rng.standard_normal(shape)
    if threshold > 0:
        x[np.abs(x) < threshold] = 0.0
    return x
