"""The compressed model file (``.dcmp``): one versioned, checksummed binary file.

It stores what Deep Compression stores (sec. 2-4: relative-index sparse entries, the
per-layer codebook, Huffman-coded weight codes and index gaps) plus what is needed to
rebuild the :class:`~compressor.model.QuantizedModel` exactly: names, kinds, shapes,
biases, metadata. The byte layout is documented in ``docs/format.md``; in short::

    file    = header, section * n_layers                     (nothing after)
    header  = magic(8) version(u16) flags(u16) n_layers(u32)
              meta_len(u32) meta(JSON) crc32(u32)
    section = body_len(u32) body crc32(u32)      crc over body_len and body

All integers little-endian. :func:`save` writes atomically (temporary file in the same
folder, then ``os.replace``); :func:`load` rebuilds the model bit for bit or raises
:class:`~compressor.errors.FormatError` naming the file, the section and what is wrong.
"""
from __future__ import annotations

import json
import math
import os
import pathlib
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import huffman, sparse
from .errors import FormatError, HuffmanError
from .fileio import atomic_write
from .model import LAYER_KINDS, QuantizedLayer, QuantizedModel

MAGIC = b"\x89DCMP\r\n\x1a"
VERSION = 1
EXTENSION = ".dcmp"
HUFFMAN_MAX_LENGTH = 32
_ORDER_IDS = {name: i for i, name in enumerate(sparse.ORDERS)}  # csc 0, csr 1, c 2
_KIND_IDS = {name: i for i, name in enumerate(LAYER_KINDS)}      # fc 0, conv 1


# ----------------------------------------------------------------------------- writing
def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (tuple, set)):
        return list(obj)
    raise TypeError(f"metadata value of type {type(obj).__name__} is not JSON-serialisable")


def _json_bytes(meta: dict, what: str) -> bytes:
    try:
        return json.dumps(meta, sort_keys=True, default=_json_default).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} metadata cannot be stored: {exc}") from None


@dataclass
class EncodedLayer:
    """A layer after sparse encoding and Huffman coding: what one section stores."""

    layer: QuantizedLayer
    order: str
    stream: sparse.SparseStream
    code_lengths: np.ndarray
    gap_lengths: np.ndarray
    code_bits: np.ndarray
    n_code_bits: int
    gap_bits: np.ndarray
    n_gap_bits: int


def encode_layer(layer: QuantizedLayer) -> EncodedLayer:
    """Relative-index encode (:mod:`compressor.sparse`) and Huffman-code
    (:mod:`compressor.huffman`) one layer's codes, as :func:`save` stores them."""
    order = sparse.layer_order(layer)
    st = sparse.encode(layer.codes, layer.index_bits, order)
    n_codes = 2 ** layer.bits
    n_gaps = 2 ** layer.index_bits
    cl = huffman.code_lengths(np.bincount(st.codes, minlength=n_codes), HUFFMAN_MAX_LENGTH)
    gl = huffman.code_lengths(np.bincount(st.gaps, minlength=n_gaps), HUFFMAN_MAX_LENGTH)
    cbits, ncb = huffman.encode(st.codes, cl)
    gbits, ngb = huffman.encode(st.gaps, gl)
    return EncodedLayer(layer, order, st, cl, gl, cbits, ncb, gbits, ngb)


def _section_body(enc: EncodedLayer) -> bytes:
    lay = enc.layer
    name = lay.name.encode("utf-8")
    if len(name) > 0xFFFF:
        raise ValueError(f"layer name of {len(name)} bytes is too long (at most 65535)")
    parts = [
        struct.pack("<H", len(name)), name,
        struct.pack("<BBBBBBH", _KIND_IDS[lay.kind], _ORDER_IDS[enc.order], lay.bits,
                    lay.index_bits, len(lay.shape), 1 if lay.bias is not None else 0, 0),
        struct.pack(f"<{len(lay.shape)}I", *lay.shape),
        struct.pack("<QQ", enc.stream.n_entries, enc.stream.n_fillers),
        lay.codebook.astype("<f4").tobytes(),
        enc.code_lengths.astype(np.uint8).tobytes(),
        enc.gap_lengths.astype(np.uint8).tobytes(),
        struct.pack("<Q", enc.n_code_bits), enc.code_bits.tobytes(),
        struct.pack("<Q", enc.n_gap_bits), enc.gap_bits.tobytes(),
    ]
    if lay.bias is not None:
        parts.append(lay.bias.astype("<f4").tobytes())
    meta = _json_bytes(lay.meta, f"layer {lay.name!r}")
    parts += [struct.pack("<I", len(meta)), meta]
    return b"".join(parts)


def _frame(body: bytes) -> bytes:
    head = struct.pack("<I", len(body))
    return head + body + struct.pack("<I", zlib.crc32(body, zlib.crc32(head)))


def section_bytes(enc: EncodedLayer) -> bytes:
    """The complete section (length, body, CRC) that :func:`save` writes for a layer."""
    return _frame(_section_body(enc))


def _header(model: QuantizedModel) -> bytes:
    meta = _json_bytes(model.meta, "model")
    head = MAGIC + struct.pack("<HHII", VERSION, 0, len(model.layers), len(meta)) + meta
    return head + struct.pack("<I", zlib.crc32(head))


def to_bytes(model: QuantizedModel) -> bytes:
    """The complete ``.dcmp`` file content of ``model``."""
    for lay in model.layers:
        if any(d > 0xFFFFFFFF for d in lay.shape):
            raise ValueError(f"layer {lay.name!r}: dimension too large for the format")
    return _header(model) + b"".join(section_bytes(encode_layer(l)) for l in model.layers)


def save(model: QuantizedModel, path: str | os.PathLike) -> pathlib.Path:
    """Write ``model`` to ``path`` atomically: the bytes go to a temporary file in the same
    folder, are flushed to disk, and the temporary file is renamed over ``path``. On any
    error nothing is left behind (and an existing ``path`` is untouched)."""
    data = to_bytes(model)  # every encoding error happens before a file exists
    return atomic_write(path, data)


# ----------------------------------------------------------------------------- reading
class _Reader:
    def __init__(self, data: bytes, source: str):
        self.data = data
        self.source = source
        self.pos = 0
        self.where = "header"

    def fail(self, what: str) -> FormatError:
        return FormatError(f"{self.source}: {self.where}: {what}")

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"truncated: {what} needs {n} bytes at offset {self.pos}, "
                            f"but the data ends at {len(self.data)}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))


@dataclass
class _RawSection:
    name: str
    kind: str
    order: str
    bits: int
    index_bits: int
    shape: tuple[int, ...]
    n_entries: int
    n_fillers: int
    codebook: np.ndarray
    code_lengths: np.ndarray
    gap_lengths: np.ndarray
    n_code_bits: int
    code_bits: np.ndarray
    n_gap_bits: int
    gap_bits: np.ndarray
    bias: np.ndarray | None
    meta: dict
    sizes: dict[str, int] = field(default_factory=dict)


def _read_json(r: _Reader, n: int, what: str) -> dict:
    raw = r.take(n, what)
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise r.fail(f"{what} is not valid UTF-8 JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise r.fail(f"{what} is not a JSON object")
    return meta


def _parse(data: bytes, source: str):
    """Check and split the file; returns (model meta, header size, list of _RawSection)."""
    r = _Reader(data, source)
    magic = r.take(len(MAGIC), "magic bytes")
    if magic != MAGIC:
        raise r.fail(f"not a .dcmp file: magic bytes {magic!r}, expected {MAGIC!r}")
    version, flags, n_layers, meta_len = r.unpack("<HHII", "version, flags, layer count, metadata length")
    unsupported = f"unsupported format version {version} (this reader handles version {VERSION})"
    # The CRC covers the version too: verify it first, so a damaged version field reads
    # as damage. Only a header that does not even reach its CRC in the version-1 layout
    # and names another version is reported as that version.
    meta_start = r.pos
    try:
        r.take(meta_len, "model metadata")
        (crc,) = r.unpack("<I", "header checksum")
    except FormatError:
        if version != VERSION:
            raise r.fail(unsupported) from None
        raise
    if crc != zlib.crc32(data[:r.pos - 4]):
        raise r.fail("checksum (CRC32) mismatch: the header is corrupted")
    if version != VERSION:
        raise r.fail(unsupported)
    if flags != 0:
        raise r.fail(f"unknown flags 0x{flags:04x}")
    end = r.pos
    r.pos = meta_start
    meta = _read_json(r, meta_len, "model metadata")
    r.pos = end
    header_size = end
    sections = []
    for i in range(n_layers):
        r.where = f"layer {i} section"
        start = r.pos
        (body_len,) = r.unpack("<I", "section length")
        r.take(body_len, "section body")
        (crc,) = r.unpack("<I", "section checksum")
        if crc != zlib.crc32(data[start:r.pos - 4]):
            raise r.fail("checksum (CRC32) mismatch: the section is corrupted")
        end = r.pos
        r.pos = start + 4
        sec = _parse_body(r, i, body_len)
        sec.sizes["framing"] = 8
        sec.sizes["section"] = end - start
        sections.append(sec)
        r.pos = end
    if r.pos != len(data):
        r.where = "end of file"
        raise r.fail(f"{len(data) - r.pos} unexpected bytes after the last layer (offset {r.pos})")
    return meta, header_size, sections


def _parse_body(r: _Reader, i: int, body_len: int) -> _RawSection:
    body_start = r.pos
    (name_len,) = r.unpack("<H", "name length")
    try:
        name = r.take(name_len, "layer name").decode("utf-8")
    except UnicodeDecodeError:
        raise r.fail("layer name is not valid UTF-8") from None
    r.where = f"layer {i} ({name!r}) section"
    kind_id, order_id, bits, index_bits, ndim, has_bias, reserved = r.unpack("<BBBBBBH", "layer descriptor")
    if kind_id >= len(LAYER_KINDS):
        raise r.fail(f"unknown layer kind id {kind_id}")
    if order_id >= len(sparse.ORDERS):
        raise r.fail(f"unknown sparse order id {order_id}")
    if not 1 <= bits <= 16 or not 1 <= index_bits <= 16:
        raise r.fail(f"bits {bits} / index bits {index_bits} outside 1..16")
    if has_bias > 1 or reserved != 0:
        raise r.fail("invalid descriptor flags")
    shape = r.unpack(f"<{ndim}I", "shape")
    n_entries, n_fillers = r.unpack("<QQ", "entry counts")
    desc_end = r.pos
    codebook = np.frombuffer(r.take(4 * 2 ** bits, "codebook"), dtype="<f4").astype(np.float32)
    code_lengths = np.frombuffer(r.take(2 ** bits, "weight-code Huffman lengths"), dtype=np.uint8)
    gap_lengths = np.frombuffer(r.take(2 ** index_bits, "gap Huffman lengths"), dtype=np.uint8)
    (n_code_bits,) = r.unpack("<Q", "weight-code stream length")
    code_bits = np.frombuffer(r.take((n_code_bits + 7) // 8, "weight-code stream"), dtype=np.uint8)
    (n_gap_bits,) = r.unpack("<Q", "gap stream length")
    gap_bits = np.frombuffer(r.take((n_gap_bits + 7) // 8, "gap stream"), dtype=np.uint8)
    bias_start = r.pos
    bias = None
    if has_bias:
        if not shape:
            raise r.fail("a layer with a bias needs a shape")
        bias = np.frombuffer(r.take(4 * shape[0], "bias"), dtype="<f4").astype(np.float32)
    meta_start = r.pos
    (meta_len,) = r.unpack("<I", "layer metadata length")
    meta = _read_json(r, meta_len, "layer metadata")
    if r.pos != body_start + body_len:
        raise r.fail(f"section length {body_len} disagrees with its content "
                     f"({r.pos - body_start} bytes)")
    sizes = {
        "descriptor": desc_end - body_start,
        "codebook": 4 * 2 ** bits,
        "huffman_tables": 2 ** bits + 2 ** index_bits,
        "code_stream": 8 + code_bits.size,
        "gap_stream": 8 + gap_bits.size,
        "bias": meta_start - bias_start,
        "meta": r.pos - meta_start,
    }
    return _RawSection(name, LAYER_KINDS[kind_id], sparse.ORDERS[order_id], bits, index_bits,
                       tuple(shape), n_entries, n_fillers, codebook, code_lengths, gap_lengths,
                       n_code_bits, code_bits, n_gap_bits, gap_bits, bias, meta, sizes)


MAX_ELEMENTS = 2 ** 31
"""Largest weight tensor (elements) the reader decodes; a bigger shape is refused before
anything is allocated."""


def _decode_section(sec: _RawSection, i: int, source: str) -> QuantizedLayer:
    where = f"{source}: layer {i} ({sec.name!r}) section"
    n_elements = math.prod(sec.shape)  # Python ints: no overflow
    if n_elements > MAX_ELEMENTS:
        raise FormatError(f"{where}: shape {sec.shape} has {n_elements} elements, more than the "
                          f"reader's limit of {MAX_ELEMENTS} (2**31)")
    for what, nb in (("weight-code", sec.n_code_bits), ("gap", sec.n_gap_bits)):
        if nb < sec.n_entries:
            raise FormatError(f"{where}: {what} stream of {nb} bits cannot hold {sec.n_entries} entries")
    try:
        codes = huffman.decode(sec.code_bits, sec.n_code_bits, sec.code_lengths, sec.n_entries)
    except HuffmanError as exc:
        raise FormatError(f"{where}: weight-code stream: {exc}") from None
    try:
        gaps = huffman.decode(sec.gap_bits, sec.n_gap_bits, sec.gap_lengths, sec.n_entries)
    except HuffmanError as exc:
        raise FormatError(f"{where}: gap stream: {exc}") from None
    zero = codes == 0
    filler_gap = 2 ** sec.index_bits - 1
    bad = np.flatnonzero(zero & (gaps != filler_gap))
    if bad.size:
        raise FormatError(f"{where}: entry {int(bad[0])} has code 0 but gap {int(gaps[bad[0]])}; "
                          f"a code-0 entry must be a filler (gap {filler_gap})")
    n_fill = int(np.count_nonzero(zero))
    if n_fill != sec.n_fillers:
        raise FormatError(f"{where}: {n_fill} filler entries in the stream, header says {sec.n_fillers}")
    code_dtype = np.uint8 if sec.bits <= 8 else np.uint16
    gap_dtype = np.uint8 if sec.index_bits <= 8 else np.uint16
    st = sparse.SparseStream(codes.astype(code_dtype), gaps.astype(gap_dtype), sec.n_entries,
                             sec.n_fillers, sec.shape, sec.order, sec.index_bits)
    try:
        tensor = sparse.decode(st).astype(code_dtype, copy=False)
        return QuantizedLayer(sec.name, sec.kind, tensor, sec.codebook, sec.bias, sec.bits,
                              sec.index_bits, sec.meta)
    except ValueError as exc:
        raise FormatError(f"{where}: {exc}") from None


def from_bytes(data: bytes, source: str = "<bytes>") -> QuantizedModel:
    """Rebuild the model from a ``.dcmp`` file's content (``source`` names it in errors)."""
    meta, _, sections = _parse(bytes(data), source)
    return QuantizedModel([_decode_section(s, i, source) for i, s in enumerate(sections)], meta)


def _read(path) -> tuple[bytes, str]:
    path = pathlib.Path(path)
    try:
        return path.read_bytes(), str(path)
    except IsADirectoryError:
        raise FormatError(f"{path}: is a directory, not a .dcmp file") from None


def load(path: str | os.PathLike) -> QuantizedModel:
    """Read a ``.dcmp`` file back into exactly the model that was saved.

    Raises :class:`~compressor.errors.FormatError` for a wrong magic, another format version, truncation,
    a checksum mismatch or any inconsistency, naming the file and the section.
    """
    data, source = _read(path)
    return from_bytes(data, source)


def inspect_bytes(data: bytes, source: str = "<bytes>") -> dict[str, Any]:
    """Per-section byte sizes of a ``.dcmp`` content (checks it like :func:`load`, without
    decoding the Huffman streams)."""
    meta, header_size, sections = _parse(bytes(data), source)
    layers = []
    for s in sections:
        row = {"name": s.name, "kind": s.kind, "order": s.order, "shape": s.shape, "bits": s.bits,
               "index_bits": s.index_bits, "n_entries": s.n_entries, "n_fillers": s.n_fillers,
               "code_stream_bits": s.n_code_bits, "gap_stream_bits": s.n_gap_bits}
        row.update({f"{k}_bytes": v for k, v in s.sizes.items()})
        layers.append(row)
    return {"source": source, "version": VERSION, "file_bytes": len(data),
            "header_bytes": header_size, "meta": meta, "layers": layers}


def inspect(path: str | os.PathLike) -> dict[str, Any]:
    """Per-section byte sizes of a ``.dcmp`` file, for the size accounting.

    Returns ``{"file_bytes", "header_bytes", "version", "meta", "layers": [...]}``; each
    layer entry has ``section_bytes`` (all of it) split into ``framing_bytes`` (length +
    CRC), ``descriptor_bytes``, ``codebook_bytes``, ``huffman_tables_bytes``,
    ``code_stream_bytes``, ``gap_stream_bytes`` (each with its 8-byte bit count),
    ``bias_bytes``, ``meta_bytes``, plus the entry counts and stream bit counts.
    """
    data, source = _read(path)
    return inspect_bytes(data, source)


def bits_per_entry(n_bits: int, n_entries: int) -> float:
    """Average Huffman code length of a stream (0 for an empty stream)."""
    return n_bits / n_entries if n_entries else 0.0


__all__ = ["MAGIC", "VERSION", "MAX_ELEMENTS", "EXTENSION", "EncodedLayer", "encode_layer",
           "section_bytes", "to_bytes", "from_bytes", "save", "load", "inspect", "inspect_bytes", "bits_per_entry"]
