"""Numpy inference of a :class:`~compressor.graph.net.Net`, plus per-layer M x V workloads.

:func:`forward_layer` computes one layer's output from its input blobs by the forward rule
of its type in the op table (:data:`compressor.graph.ops.OPS`: convolution by im2col,
transposed convolution, InnerProduct, pooling, ReLU / Clip / PReLU, Eltwise, Concat, max
unpooling, ...; the kernels are in :mod:`compressor.graph.kernels` and re-exported here).
:func:`forward` runs a whole network with it, in float32, and returns every blob plus each
parameter layer's **input** activation and output.

:func:`layer_mxv` turns one parameter layer into the work an M x V engine such as EIE
consumes: the quantized 2-D weight matrix (codes + codebook, kind "fc",
:func:`matrix_codes`) with its float32 patch matrix (one row per output position,
:func:`mxv_input` + :func:`im2col`); :func:`layer_workloads` does so for every parameter
layer of a forward run. Each workload's :meth:`ConvWorkload.reference` reproduces the
layer's forward output exactly as :func:`forward` computes it.

:func:`synthetic_input` makes a fixed, seeded, smooth random image (low-resolution
Gaussian noise, bilinearly upsampled, plus a little pixel noise), scaled like a
mean-subtracted 0..255 image. It is not a natural image; it exercises the arithmetic and
gives realistic-looking ReLU sparsity, not classification results.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import ForwardError
from ..model import QuantizedLayer, QuantizedModel
from .kernels import (
    conv2d,
    deconv2d,
    deconv_as_conv,
    deconv_weights_as_conv,
    im2col,
    max_unpool,
    patches_at,
    pool2d,
    zero_insert,
)
from .layer import ConvParams, Layer
from .net import Net
from .ops import OPS, WeightSource, embed_rows
from .recurrent import RECURRENT_TYPES, recurrent_inputs

__all__ = [
    "SYNTHETIC_SEED", "synthetic_input", "im2col", "patches_at", "conv2d", "deconv2d",
    "deconv_as_conv", "zero_insert", "deconv_weights_as_conv", "max_unpool", "matrix_codes",
    "mxv_input", "pool2d", "WeightSource",
    "ForwardResult", "forward_layer", "forward", "ConvWorkload", "layer_mxv", "layer_workloads",
    "default_inputs", "token_inputs", "token_ids", "check_token_ids",
]

SYNTHETIC_SEED = 1510  # default seed of the synthetic input (arXiv 1510.00149)


def synthetic_input(shape: tuple[int, ...], seed: int = SYNTHETIC_SEED, coarse: int = 8,
                    scale: float = 50.0) -> np.ndarray:
    """Smooth seeded random image of ``shape`` (N, C, H, W), float32.

    ``coarse x coarse`` standard-normal values per channel are bilinearly upsampled to
    ``H x W``, 5 % of independent pixel noise is added, and the result is multiplied by
    ``scale`` (about the spread of a mean-subtracted 0..255 image).
    """
    if len(shape) != 4:
        raise ForwardError(f"synthetic_input needs an (N, C, H, W) shape, got {shape}")
    n, c, h, w = shape
    rng = np.random.default_rng(seed)
    low = rng.standard_normal((n, c, coarse, coarse))
    ys = np.linspace(0, coarse - 1, h)
    xs = np.linspace(0, coarse - 1, w)
    grid = np.arange(coarse)
    rows = np.stack([np.interp(ys, grid, np.eye(coarse)[k]) for k in range(coarse)], axis=1)  # (h, coarse)
    cols = np.stack([np.interp(xs, grid, np.eye(coarse)[k]) for k in range(coarse)], axis=1)  # (w, coarse)
    img = np.einsum("hi,ncij,wj->nchw", rows, low, cols)
    img += 0.05 * rng.standard_normal(img.shape)
    return (scale * img).astype(np.float32)


@dataclass
class ForwardResult:
    """Blobs after the run and, per parameter layer, its input and (pre-ReLU) output.

    ``relu_density[name]`` is the fraction of non-zero values a ReLU layer left.
    """

    blobs: dict[str, np.ndarray]
    layer_inputs: dict[str, np.ndarray] = field(default_factory=dict)
    layer_outputs: dict[str, np.ndarray] = field(default_factory=dict)
    relu_density: dict[str, float] = field(default_factory=dict)


def forward_layer(lay: Layer, inputs: list[np.ndarray], weights: WeightSource
                  ) -> np.ndarray | tuple[np.ndarray, ...]:
    """One layer's output blob from its input blobs (in ``lay.bottoms`` order), by the
    forward rule of its type in :data:`compressor.graph.ops.OPS`: the code
    :func:`forward` runs for every layer. ``weights`` as for :func:`forward` (only
    parameter layers read it). Concat and Eltwise take all their inputs; Unpool takes
    the pooled values and, second, the input of the MAX pooling it undoes (the pooling
    indices are recomputed from it). The result must have the layer's inferred top shape
    (``lay.out_shapes[0]``), else a :class:`ForwardError`. A layer with several tops (a
    recurrent layer: sequence, last hidden state, last cell state) returns a tuple, one
    array per top."""
    op = OPS.get(lay.type)
    if op is None:
        raise ForwardError(f"layer {lay.name!r}: type {lay.type!r} has no forward implementation")
    y = op.forward(lay, inputs, weights)
    ys = y if isinstance(y, tuple) else (y,)
    if len(ys) != max(1, len(lay.tops)) and not (len(ys) == 1 and not lay.tops):
        raise ForwardError(f"layer {lay.name!r}: computed {len(ys)} outputs for {len(lay.tops)} tops")
    for a, want in zip(ys, lay.out_shapes):
        if tuple(a.shape) != tuple(want):
            raise ForwardError(f"layer {lay.name!r}: computed {a.shape}, shape inference said "
                               f"{want}")
    return y


#: weight-free layer types whose output holds only values of their one input, rearranged
#: (token ids stay token ids through them: :func:`token_inputs` looks through them)
ID_PRESERVING_TYPES = ("Reshape", "Flatten", "Transpose", "Dropout", "Slice")


def token_inputs(net: Net) -> dict[str, int]:
    """Input name -> table size ``V`` for every graph input holding token ids: an input an
    ``Embed`` layer reads, directly or through layers that only rearrange values
    (:data:`ID_PRESERVING_TYPES`, e.g. a Reshape); several tables: the smallest. Valid ids
    are the integers ``0 .. V-1`` (``-V .. -1`` count from the end, as ONNX ``Gather``)."""
    producer = {t: lay for lay in net.layers for t in lay.tops if lay.type != "Input"}
    out: dict[str, int] = {}
    for lay in net.layers:
        if lay.type != "Embed" or lay.axis is None:
            continue
        blob = lay.bottoms[0]
        while blob in producer and producer[blob].type in ID_PRESERVING_TYPES \
                and len(producer[blob].bottoms) == 1:
            blob = producer[blob].bottoms[0]
        if blob in net.inputs:
            out[blob] = min(out.get(blob, int(lay.axis)), int(lay.axis))
    return out


def token_ids(shape, vocab: int, seed: int) -> np.ndarray:
    """Seeded token ids ``0 .. vocab-1`` of ``shape`` (as float32, the blobs' type)."""
    return np.random.default_rng(seed).integers(0, vocab, tuple(shape)).astype(np.float32)


def check_token_ids(a: np.ndarray, vocab: int, source: str) -> None:
    """Refuse (:class:`ForwardError`) token ids that are not integers in ``-V .. V-1``
    (:func:`token_inputs`), naming ``source`` and the valid range."""
    v = np.asarray(a, dtype=np.float64).reshape(-1)
    bad = ~np.isfinite(v) | (v != np.round(v))
    if np.any(bad):
        raise ForwardError(f"{source}: token ids must be integers, got {float(v[bad][0]):g} (an "
                           f"Embed layer reads this input: ids 0..{vocab - 1})")
    out = (v < -vocab) | (v >= vocab)
    if np.any(out):
        raise ForwardError(f"{source}: token id {int(v[out][0])} is out of range: the table "
                           f"has {vocab} rows, valid ids are 0..{vocab - 1} (or -{vocab}..-1 "
                           f"counted from the end); {int(out.sum())} id(s) out of range")


def default_inputs(net: Net, seed: int = SYNTHETIC_SEED) -> dict[str, np.ndarray]:
    """A seeded input for every input blob: token ids (seeded integers below the table
    size, :func:`token_inputs`) for an input an ``Embed`` layer reads; :func:`synthetic_input`
    for an image ``(N, C, H, W)``; zeros for any other input (a recurrent state starts at
    zero), except a first input of another rank, which gets seeded standard-normal values."""
    out = {}
    vocab = token_inputs(net)
    for k, (name, shape) in enumerate(net.inputs.items()):
        if name in vocab:          # token ids of an embedding look-up: seeded integers
            out[name] = token_ids(shape, vocab[name], seed + k)
        elif len(shape) == 4:
            out[name] = synthetic_input(tuple(shape), seed)
        elif k == 0:
            out[name] = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
        else:
            out[name] = np.zeros(shape, np.float32)
    return out


def forward(net: Net, weights: WeightSource, x: np.ndarray | dict | None = None,
            on_output: Callable[[Layer, np.ndarray], np.ndarray] | None = None) -> ForwardResult:
    """Run the network on ``x`` (default: :func:`synthetic_input` of the input shape), layer
    by layer in order with :func:`forward_layer`.

    ``weights``: a :class:`QuantizedModel` (decoded with ``codebook[codes]``) or a mapping
    layer name -> ``(weights, bias)``. ``x``: the input array (one-input networks) or a
    dict input name -> array (inputs not given: :func:`default_inputs`). A recurrent
    layer's ``layer_inputs`` entry is the hidden states ``(T, N, H)`` its recurrent
    matrix multiplied (:func:`~compressor.graph.recurrent.recurrent_inputs`), its
    ``layer_outputs`` entry the output sequence ``Y``.
    ``on_output(layer, y)``, when given, is called with each parameter layer's output and
    returns the output to continue with (data-dependent initialisation uses it).
    """
    if isinstance(x, dict):
        given = dict(x)
    elif len(net.inputs) == 1 or x is None:
        given = {} if x is None else {next(iter(net.inputs)): x}
    else:
        raise ForwardError(f"the network has inputs {list(net.inputs)}: give a dict name -> array")
    unknown = sorted(set(given) - set(net.inputs))
    if unknown:
        raise ForwardError(f"no network input named {unknown}; inputs: {list(net.inputs)}")
    defaults = default_inputs(net) if len(given) < len(net.inputs) else {}
    blobs: dict[str, np.ndarray] = {}
    for in_name, in_shape in net.inputs.items():
        v = np.asarray(given[in_name] if in_name in given else defaults[in_name], dtype=np.float32)
        if v.shape != tuple(in_shape):
            which = "" if len(net.inputs) == 1 else f"{in_name!r} "
            raise ForwardError(f"input {which}has shape {v.shape}, the network expects "
                               f"{tuple(in_shape)}")
        blobs[in_name] = v
    res = ForwardResult(blobs)
    for lay in net.layers:
        if lay.type == "Input":
            continue
        ins = [blobs[b] for b in lay.bottoms]
        y = forward_layer(lay, ins, weights)
        ys = list(y) if isinstance(y, tuple) else [y]
        if lay.has_weights:
            if lay.type in RECURRENT_TYPES:
                res.layer_inputs[lay.name] = recurrent_inputs(lay, ys[0],
                                                              ins[1] if len(ins) > 1 else None)
            else:
                res.layer_inputs[lay.name] = ins[0]
            if on_output is not None:
                ys[0] = on_output(lay, ys[0])
            res.layer_outputs[lay.name] = ys[0]
        elif lay.type == "ReLU":
            res.relu_density[lay.name] = float(np.count_nonzero(ys[0])) / max(1, ys[0].size)
        for t, v in zip(lay.tops, ys):
            blobs[t] = v
    return res


@dataclass
class ConvWorkload:
    """One parameter layer as matrix-vector work.

    ``layer``: kind "fc" QuantizedLayer whose codes are the ``(out, in*kh*kw)`` weight
    matrix (block-diagonal over groups for grouped convolutions; codebook and bias as in
    the model). ``patches``: float32 ``(positions, in*kh*kw)``, one unrolled input per
    output position (for InnerProduct: the flattened input, one row per image).
    ``out_shape``: the layer's output blob shape; ``reference()`` reshapes to it.
    """

    name: str
    layer: QuantizedLayer
    patches: np.ndarray
    out_shape: tuple[int, ...]
    #: the outputs are laid out position-major, channels last (MatMul, Embed, the gate
    #: products of a recurrent layer): ``reference()`` reshapes without transposing
    channels_last: bool = False

    def __iter__(self):
        """Unpack as ``name, layer, patches`` (the triple the simulator consumes)."""
        return iter((self.name, self.layer, self.patches))

    def reference(self) -> np.ndarray:
        """``patches @ W.T + bias`` laid out as the layer's output blob (float32)."""
        y = self.patches @ self.layer.weights().T
        if self.layer.bias is not None:
            y = y + self.layer.bias
        y = y.astype(np.float32)
        if len(self.out_shape) == 4 and not self.channels_last:
            n, c, h, w = self.out_shape
            return y.reshape(n, h, w, c).transpose(0, 3, 1, 2)
        return y.reshape(self.out_shape)


def matrix_codes(lay: Layer, codes: np.ndarray) -> np.ndarray:
    """A parameter layer's weight codes (or weights) as the 2-D M x V matrix EIE stores:
    ``(out, in * kh * kw)`` for a convolution (block-diagonal over groups, so a depthwise
    convolution is a ``(C, C * kh * kw)`` matrix with one ``kh x kw`` block per row), the
    same for a transposed convolution's equivalent convolution (:func:`deconv_as_conv`),
    ``(out, in)`` for InnerProduct."""
    if lay.type == "Deconvolution":
        codes = deconv_weights_as_conv(np.asarray(codes), lay.conv.group)  # type: ignore[union-attr]
    codes = np.asarray(codes)
    mat = codes.reshape(codes.shape[0], -1)
    group = lay.conv.group if lay.conv is not None and lay.type != "InnerProduct" else 1
    if group > 1:
        og, k = mat.shape[0] // group, mat.shape[1]
        full = np.zeros((mat.shape[0], k * group), dtype=mat.dtype)
        for g in range(group):
            full[g * og:(g + 1) * og, g * k:(g + 1) * k] = mat[g * og:(g + 1) * og]
        mat = full
    return mat


def mxv_input(lay: Layer, inp: np.ndarray) -> tuple[ConvParams | None, np.ndarray]:
    """The convolution geometry and input whose patches are this layer's M x V inputs:
    the layer's own for a Convolution, :func:`deconv_as_conv` on :func:`zero_insert` of the
    input for a Deconvolution, ``(None, flattened input)`` for InnerProduct, ``(None,
    one row per position of the leading axes)`` for MatMul and for a recurrent layer (whose
    input is the hidden states it multiplied, ``(T, N, H)``), ``(None, one-hot rows)`` for
    Embed."""
    if lay.type == "Convolution":
        return lay.conv, inp
    if lay.type == "Deconvolution":
        return deconv_as_conv(lay.conv), zero_insert(inp, lay.conv)  # type: ignore[arg-type]
    if lay.type == "Embed":
        return None, embed_rows(lay, inp)
    if lay.type == "MatMul" or lay.type in RECURRENT_TYPES:
        return None, inp.reshape(-1, inp.shape[-1]).astype(np.float32)
    return None, inp.reshape(inp.shape[0], -1).astype(np.float32)


def layer_mxv(lay: Layer, weights: QuantizedModel, inp: np.ndarray | None = None) -> ConvWorkload:
    """Parameter layer ``lay`` as M x V work: its 2-D code matrix (:func:`matrix_codes`,
    kind "fc", codebook and bias from ``weights``) and the patches of its input blob
    ``inp`` (:func:`mxv_input`, :func:`im2col`; ``None``: an all-zero input of the layer's
    input shape, for callers that need only the matrix). For a recurrent layer ``inp`` is
    the hidden states ``(T, N, H)`` it multiplies (``ForwardResult.layer_inputs``; the
    reference is then the gate products ``(T, N, G*H)``)."""
    if inp is None:
        if lay.type in RECURRENT_TYPES:
            T, N, _ = lay.in_shapes[0]
            inp = np.zeros((T, N, lay.hidden), dtype=np.float32)
        else:
            inp = np.zeros(lay.in_shapes[0], dtype=np.float32)
    q = weights.layer(lay.name)
    cp, src = mxv_input(lay, inp)
    patches = src if cp is None else im2col(src, cp)
    codes = matrix_codes(lay, q.codes)
    mat = QuantizedLayer(q.name, "fc", codes, q.codebook, q.bias, q.bits, q.index_bits,
                         meta=dict(q.meta, weight_shape=list(q.codes.shape)))
    if lay.type in RECURRENT_TYPES:
        out = tuple(lay.in_shapes[0])
    else:
        out = tuple(lay.out_shapes[0])
    last = lay.type in ("MatMul", "Embed") + RECURRENT_TYPES
    return ConvWorkload(lay.name, mat, patches, out, channels_last=last)


def layer_workloads(net: Net, weights: QuantizedModel, x: np.ndarray | None = None,
                    result: ForwardResult | None = None) -> list[ConvWorkload]:
    """Per parameter layer: (name, 2-D quantized weight matrix, float32 patch matrix).

    Runs :func:`forward` (unless ``result`` is given) and unrolls each layer's input
    (:func:`layer_mxv`).
    """
    if result is None:
        result = forward(net, weights, x)
    return [layer_mxv(lay, weights, result.layer_inputs[lay.name]) for lay in net.weight_layers]
