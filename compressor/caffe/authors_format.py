"""Reader and writer for the Deep Compression authors' released ``.net`` files.

The layout (docs/deep-compression-reference.md, section 7) depends on a prototxt that
names the layers and gives their shapes; this module takes a parsed
:class:`compressor.caffe.prototxt.Net`.

* Parameter layers: the layers that hold weights (Convolution, InnerProduct) whose name
  contains ``"conv"``, ``"fc"`` or ``"ip"``, in prototxt order. Layers without weights
  never count even when their name contains ``"conv"`` (SqueezeNet's ``relu_conv1``):
  the authors' decoder walks the network's parameter blobs, not its layer names.
* Header: one little-endian uint32 per parameter layer: the number of stored entries
  (non-zeros plus filler entries).
* Per layer, in order: float32 codebook (256 entries when the name contains ``"conv"``:
  8-bit codes; 16 entries otherwise: 4-bit codes), float32 biases (one per output), the
  codes (8-bit: one byte per entry; 4-bit: two per byte, even entry in the low nibble;
  ``ceil(entries * bits / 8)`` bytes), then the relative index stream (4-bit, two per
  byte, low nibble first, ``ceil(entries / 2)`` bytes).
* Index value = gap - 1: flat positions (C order of ``(out, in, kh, kw)``) are
  ``cumsum(value + 1) - 1``; the gaps run across row boundaries in one stream per layer.
  A filler entry (needed when a gap exceeds 16) carries code 0, and ``codebook[0]`` is
  0.0 in every layer.

:func:`read_authors` rebuilds a :class:`compressor.model.QuantizedModel` whose layers hold
exactly the stored codes, codebooks and biases. Every inconsistency (short or long file,
position past the end of the tensor, a non-zero ``codebook[0]``, non-finite floats,
non-zero padding nibbles, a prototxt that does not describe the file) raises
:class:`~compressor.errors.AuthorsFormatError` naming the layer and the byte offset.

:func:`write_authors` re-encodes a model into the same layout, inserting a filler only
where a gap exceeds 16 (value 15, code 0) and zero padding nibbles; on the published
SqueezeNet this reproduces the file byte for byte.
"""
from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass

import numpy as np

from ..errors import AuthorsFormatError
from ..fileio import read_regular_file
from ..model import QuantizedLayer, QuantizedModel
from .prototxt import CaffeLayer, Net

__all__ = [
    "AuthorsLayerRecord", "INDEX_BITS", "param_layers", "layer_bits",
    "read_authors_records", "read_authors", "model_from_records", "write_authors", "encode_flat_stream",
]

INDEX_BITS = 4
MAX_NET_BYTES = 1 << 30
"""Largest ``.net`` file read (1 GiB)."""
MAX_LAYER_ELEMENTS = 1 << 28
"""Largest weight tensor (elements) of one parameter layer the prototxt may declare."""
_MAX_GAP = 1 << INDEX_BITS          # 16: largest gap one entry can express
_KEYS = ("conv", "fc", "ip")


@dataclass
class AuthorsLayerRecord:
    """One parameter layer as stored in the file (before densifying).

    ``codes`` and ``index`` are the per-entry streams (fillers included) exactly as
    stored; ``positions`` the flat C-order weight positions they decode to; ``offset``
    the byte offset where the layer's codebook starts.
    """

    name: str
    weight_shape: tuple[int, ...]
    bits: int
    offset: int
    codebook: np.ndarray
    bias: np.ndarray
    codes: np.ndarray
    index: np.ndarray
    positions: np.ndarray

    @property
    def entries(self) -> int:
        return int(self.codes.size)

    @property
    def zero_code_entries(self) -> int:
        """Entries with code 0: fillers (they decode to 0.0)."""
        return int(np.count_nonzero(self.codes == 0))

    @property
    def nbytes(self) -> int:
        """Bytes this layer occupies in the file (header word not included)."""
        n = self.entries
        return 4 * (self.codebook.size + self.bias.size) + _packed_len(n, self.bits) + _packed_len(n, INDEX_BITS)


def _packed_len(n: int, bits: int) -> int:
    return (n * bits + 7) // 8


def layer_bits(name: str) -> int:
    """Code width the authors' format uses for a layer: 8 for "conv" layers, else 4."""
    return 8 if "conv" in name else 4


def param_layers(net: Net) -> list[CaffeLayer]:
    """The network's parameter layers in the authors' file order (see module docstring)."""
    out = []
    for lay in net.weight_layers:
        if not any(k in lay.name for k in _KEYS):
            raise AuthorsFormatError(
                f"layer {lay.name!r} ({lay.type}) holds weights but its name contains none of "
                f"{_KEYS}: the authors' format has no place for it")
        if not lay.bias_term:
            raise AuthorsFormatError(f"layer {lay.name!r} has bias_term: false, but the authors' "
                                     "format stores biases for every parameter layer")
        out.append(lay)
    if not out:
        raise AuthorsFormatError("the prototxt has no parameter layers")
    return out


def _unpack_nibbles(raw: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """Two 4-bit values per byte, low nibble first; returns (values[:n], padding nibble)."""
    vals = np.empty(2 * raw.size, dtype=np.uint8)
    vals[0::2] = raw & 0x0F
    vals[1::2] = raw >> 4
    pad = int(vals[n]) if vals.size > n else 0
    return vals[:n], pad


def _pack_nibbles(vals: np.ndarray) -> bytes:
    v = np.asarray(vals, dtype=np.uint8)
    if v.size % 2:
        v = np.concatenate([v, np.zeros(1, np.uint8)])
    return (v[0::2] | (v[1::2] << 4)).astype(np.uint8).tobytes()


def read_authors_records(net: Net, data: bytes | bytearray | memoryview | str | pathlib.Path
                         ) -> list[AuthorsLayerRecord]:
    """Parse a whole ``.net`` file (bytes or a path) into per-layer stored streams.

    The parse must consume every byte; anything else raises :class:`~compressor.errors.AuthorsFormatError`.
    """
    if isinstance(data, (str, pathlib.Path)):
        try:
            data = read_regular_file(data, MAX_NET_BYTES, AuthorsFormatError, ".net file")
        except OSError as e:
            raise AuthorsFormatError(f"{data}: cannot read: {e.strerror or e}") from e
    buf = bytes(data)
    size = len(buf)
    layers = param_layers(net)
    hint = "(the file is damaged or the prototxt does not describe it)"

    header_len = 4 * len(layers)
    if size < header_len:
        raise AuthorsFormatError(f"file has {size} bytes, less than the {header_len}-byte header "
                                 f"for {len(layers)} parameter layers {hint}")
    counts = np.frombuffer(buf, dtype="<u4", count=len(layers)).astype(np.int64)

    def take(off: int, nbytes: int, lay: str, what: str) -> int:
        if off + nbytes > size:
            raise AuthorsFormatError(
                f"layer {lay!r}: file ends inside the {what} (needs {nbytes} bytes at offset "
                f"{off}, file has {size}) {hint}")
        return off + nbytes

    records = []
    off = header_len
    for k, (lay, n) in enumerate(zip(layers, counts)):
        n = int(n)
        shape = tuple(int(d) for d in lay.weight_shape)  # type: ignore[union-attr]
        numel = math.prod(shape)
        if numel > MAX_LAYER_ELEMENTS:
            raise AuthorsFormatError(f"layer {lay.name!r}: the prototxt declares {shape}, "
                                     f"{numel} weights, more than the limit of "
                                     f"{MAX_LAYER_ELEMENTS} (2**28)")
        if n > numel:
            raise AuthorsFormatError(
                f"layer {lay.name!r}: header word {k} (offset {4 * k}) says {n} entries but the "
                f"weight tensor {shape} has only {numel} positions {hint}")
        bits = layer_bits(lay.name)
        start = off
        ncb, nout = 1 << bits, shape[0]

        o2 = take(off, 4 * ncb, lay.name, "codebook")
        codebook = np.frombuffer(buf, dtype="<f4", count=ncb, offset=off).astype(np.float32)
        if codebook[0] != 0.0:
            raise AuthorsFormatError(f"layer {lay.name!r}: codebook[0] at offset {off} is "
                                     f"{float(codebook[0])!r}, must be 0.0 {hint}")
        if not np.all(np.isfinite(codebook)):
            bad = int(np.flatnonzero(~np.isfinite(codebook))[0])
            raise AuthorsFormatError(f"layer {lay.name!r}: codebook[{bad}] at offset "
                                     f"{off + 4 * bad} is not finite {hint}")
        off = o2

        o2 = take(off, 4 * nout, lay.name, "biases")
        bias = np.frombuffer(buf, dtype="<f4", count=nout, offset=off).astype(np.float32)
        if not np.all(np.isfinite(bias)):
            bad = int(np.flatnonzero(~np.isfinite(bias))[0])
            raise AuthorsFormatError(f"layer {lay.name!r}: bias[{bad}] at offset {off + 4 * bad} "
                                     f"is not finite {hint}")
        off = o2

        nb = _packed_len(n, bits)
        o2 = take(off, nb, lay.name, "weight codes")
        raw = np.frombuffer(buf, dtype=np.uint8, count=nb, offset=off)
        if bits == 8:
            codes = raw.copy()
        else:
            codes, pad = _unpack_nibbles(raw, n)
            if pad:
                raise AuthorsFormatError(f"layer {lay.name!r}: padding nibble of the codes at "
                                         f"offset {off + nb - 1} is {pad}, expected 0 {hint}")
        off = o2

        nb = _packed_len(n, INDEX_BITS)
        o2 = take(off, nb, lay.name, "index stream")
        index, pad = _unpack_nibbles(np.frombuffer(buf, dtype=np.uint8, count=nb, offset=off), n)
        if pad:
            raise AuthorsFormatError(f"layer {lay.name!r}: padding nibble of the index stream at "
                                     f"offset {off + nb - 1} is {pad}, expected 0 {hint}")
        positions = np.cumsum(index.astype(np.int64) + 1) - 1
        if n and positions[-1] >= numel:
            e = int(np.searchsorted(positions, numel))
            raise AuthorsFormatError(
                f"layer {lay.name!r}: entry {e} of {n} (index byte at offset {off + e // 2}) lands at "
                f"position {int(positions[e])}, past the {numel} weights of {shape} {hint}")
        off = o2
        records.append(AuthorsLayerRecord(lay.name, shape, bits, start, codebook, bias,
                                          codes, index, positions))
    if off != size:
        raise AuthorsFormatError(f"{size - off} bytes left over after the last layer "
                                 f"({layers[-1].name!r}) at offset {off}; the file has {size} {hint}")
    return records


def read_authors(net: Net, data: bytes | bytearray | memoryview | str | pathlib.Path
                 ) -> QuantizedModel:
    """Decode a ``.net`` file into a :class:`QuantizedModel` holding the exact stored values.

    Convolution layers become kind ``"conv"`` with codes of shape ``(out, in, kh, kw)``,
    InnerProduct layers kind ``"fc"`` with shape ``(out, in)``. ``meta`` records the stored
    entry count, the filler (code-0) entries and the layer's byte offset.
    """
    return model_from_records(read_authors_records(net, data))


def model_from_records(records: list[AuthorsLayerRecord]) -> QuantizedModel:
    """The :class:`QuantizedModel` of already parsed records (:func:`read_authors_records`),
    so a caller that needs both parses the file once; :func:`read_authors` is this on a
    fresh parse."""
    layers = []
    total = 4 * len(records)
    for rec in records:
        dense = np.zeros(math.prod(rec.weight_shape), dtype=np.uint8 if rec.bits <= 8 else np.uint16)
        dense[rec.positions] = rec.codes
        kind = "conv" if len(rec.weight_shape) == 4 else "fc"
        layers.append(QuantizedLayer(
            name=rec.name, kind=kind, codes=dense.reshape(rec.weight_shape), codebook=rec.codebook,
            bias=rec.bias, bits=rec.bits, index_bits=INDEX_BITS,
            meta={"entries": rec.entries, "fillers": rec.zero_code_entries,
                  "offset": rec.offset, "source_format": "deep-compression-authors-net"}))
        total += rec.nbytes
    return QuantizedModel(layers, meta={"source_format": "deep-compression-authors-net",
                                        "source_bytes": total})


def encode_flat_stream(codes: np.ndarray, index_bits: int = INDEX_BITS) -> tuple[np.ndarray, np.ndarray]:
    """Relative-index encode a code tensor as one flat C-order stream.

    Returns ``(entry_codes, index_values)`` with index value = gap - 1; when a gap exceeds
    ``2**index_bits`` filler entries (value ``2**index_bits - 1``, code 0) are inserted
    in front of the non-zero, each advancing ``2**index_bits`` positions.
    """
    flat = np.asarray(codes).reshape(-1)
    pos = np.flatnonzero(flat)
    maxgap = 1 << index_bits
    gaps = np.diff(pos, prepend=-1)
    nfill = (gaps - 1) // maxgap
    total = int(pos.size + nfill.sum())
    index = np.full(total, maxgap - 1, dtype=np.uint8 if index_bits <= 8 else np.uint16)
    entry_codes = np.zeros(total, dtype=flat.dtype)
    slots = np.cumsum(nfill + 1) - 1
    index[slots] = gaps - 1 - maxgap * nfill
    entry_codes[slots] = flat[pos]
    return entry_codes, index


def write_authors(model: QuantizedModel, net: Net) -> bytes:
    """Encode a model into the authors' ``.net`` layout (the inverse of :func:`read_authors`)."""
    layers = param_layers(net)
    header, body = [], []
    for lay in layers:
        try:
            q = model.layer(lay.name)
        except KeyError as e:
            raise AuthorsFormatError(f"model has no layer {lay.name!r} that the prototxt needs") from e
        bits = layer_bits(lay.name)
        if q.shape != tuple(lay.weight_shape):  # type: ignore[arg-type]
            raise AuthorsFormatError(f"layer {lay.name!r}: model shape {q.shape} != prototxt "
                                     f"{lay.weight_shape}")
        if q.bits != bits:
            raise AuthorsFormatError(f"layer {lay.name!r}: the authors' format stores {bits}-bit "
                                     f"codes here, the model has {q.bits}-bit")
        if q.bias is None:
            raise AuthorsFormatError(f"layer {lay.name!r}: the authors' format needs a bias")
        codes, index = encode_flat_stream(q.codes, INDEX_BITS)
        header.append(codes.size)
        body.append(q.codebook.astype("<f4").tobytes())
        body.append(q.bias.astype("<f4").tobytes())
        body.append(codes.astype(np.uint8).tobytes() if bits == 8 else _pack_nibbles(codes))
        body.append(_pack_nibbles(index))
    return np.asarray(header, dtype="<u4").tobytes() + b"".join(body)
