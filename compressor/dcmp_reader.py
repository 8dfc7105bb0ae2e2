"""Reading ``.dcmp`` files: the strict parser behind :func:`compressor.fileformat.load`.

Every field is checked against the file size and the documented limits before anything
is allocated; versions 1 and 2 are read (docs/format.md); any problem is a
:class:`~compressor.errors.FormatError` naming the source, the section and what is wrong.
"""
from __future__ import annotations

import itertools
import math
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import huffman, sparse
from .dcmp_spec import (
    FILE_ID_BYTES,
    MAGIC,
    MAX_ELEMENTS,
    MAX_FILE_BYTES,
    MAX_META_DEPTH,
    MAX_MODEL_ELEMENTS,
    READ_VERSIONS,
    _section_crc,
    file_id,
)
from .errors import FormatError, HuffmanError
from .fileio import load_json
from .model import LAYER_KINDS, QuantizedLayer, QuantizedModel


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
        meta = load_json(raw, MAX_META_DEPTH)
    except ValueError as exc:
        raise r.fail(f"{what}: {exc}") from None
    if not isinstance(meta, dict):
        raise r.fail(f"{what} is not a JSON object")
    return meta


def _header_layout(data: bytes, version: int) -> tuple[int, int, int] | None:
    """(metadata start, metadata length, CRC offset) of a header read in ``version``'s
    layout, or None when the data ends before that layout's CRC."""
    if len(data) < 20:
        return None
    (meta_len,) = struct.unpack_from("<I", data, 16)
    meta_start = 20 + (FILE_ID_BYTES if version >= 2 else 0)
    crc_at = meta_start + meta_len
    return (meta_start, meta_len, crc_at) if crc_at + 4 <= len(data) else None


def _crc_ok(data: bytes, layout) -> bool:
    return layout is not None and struct.unpack_from("<I", data, layout[2])[0] == zlib.crc32(data[:layout[2]])


MIN_SECTION_BYTES = 8 + 2 + 8 + 2 * 4 + 16 + 2 * 4 + 2 + 2 + 8 + 8 + 4 + 2
"""The smallest possible section (empty name, 2-D shape, 1-bit codes and gaps, no
bias, no entries, empty metadata): bounds ``n_layers`` by the file size."""


def _parse(data: bytes, source: str):
    """Check and split the file; returns (model meta, header size, list of _RawSection, version)."""
    r = _Reader(data, source)
    magic = r.take(len(MAGIC), "magic bytes")
    if magic != MAGIC:
        raise r.fail(f"not a .dcmp file: magic bytes {magic!r}, expected {MAGIC!r}")
    version, flags, n_layers, meta_len = r.unpack("<HHII", "version, flags, layer count, metadata length")
    unsupported = (f"unsupported format version {version} (this reader handles versions "
                   f"{', '.join(map(str, READ_VERSIONS))})")
    # The CRC covers the version too: verify it first, so a damaged version field reads
    # as damage. A header that names another version is reported as that version when its
    # CRC is valid in one of the known layouts or it reaches no CRC in any of them.
    if version not in READ_VERSIONS:
        layouts = [_header_layout(data, v) for v in READ_VERSIONS]
        if any(_crc_ok(data, lay) for lay in layouts) or all(lay is None for lay in layouts):
            raise r.fail(unsupported)
        raise r.fail("checksum (CRC32) mismatch: the header is corrupted")
    fid = r.take(FILE_ID_BYTES, "file identity") if version >= 2 else None
    meta_start = r.pos
    r.take(meta_len, "model metadata")
    (crc,) = r.unpack("<I", "header checksum")
    if crc != zlib.crc32(data[:r.pos - 4]):
        raise r.fail("checksum (CRC32) mismatch: the header is corrupted")
    if flags != 0:
        raise r.fail(f"unknown flags 0x{flags:04x}")
    end = r.pos
    r.pos = meta_start
    meta = _read_json(r, meta_len, "model metadata")
    r.pos = end
    header_size = end
    if n_layers * MIN_SECTION_BYTES > len(data) - end:
        raise r.fail(f"truncated: {n_layers} layers declared, but the {len(data) - end} bytes after the "
                     f"header hold at most {(len(data) - end) // MIN_SECTION_BYTES} sections")
    sections, spans = [], []
    view = memoryview(data)                   # CRCs and the digest without copies
    for i in range(n_layers):
        r.where = f"layer {i} section"
        start = r.pos
        (body_len,) = r.unpack("<I", "section length")
        r.take(body_len, "section body")
        (crc,) = r.unpack("<I", "section checksum")
        framed = view[start:r.pos - 4]
        if crc != _section_crc(framed, fid, i):
            raise r.fail(_section_crc_problem(data, framed, crc, fid, i, n_layers, spans))
        end = r.pos
        r.pos = start + 4
        sec = _parse_body(r, i, body_len)
        sec.sizes["framing"] = 8
        sec.sizes["section"] = end - start
        sections.append(sec)
        spans.append((start, end))
        r.pos = end
    if r.pos != len(data):
        r.where = "end of file"
        raise r.fail(f"{len(data) - r.pos} unexpected bytes after the last layer (offset {r.pos}); "
                     f"the header declares {n_layers} layers")
    if fid is not None:
        bodies = [view[a + 4:b - 4] for a, b in spans]
        if file_id(n_layers, data[meta_start:meta_start + meta_len], bodies) != fid:
            r.where = "end of file"
            raise r.fail("file digest (SHA-256) mismatch: the sections are not the ones the "
                         "header was written with")
    _check_layer_names(sections, source)
    if version == 1:
        _check_v1_order(sections, source)
    return meta, header_size, sections, version


def _section_crc_problem(data, framed, crc, fid, i, n_layers, spans) -> str:
    """Why section ``i``'s checksum fails: a section of this file at another position, a
    version-1 section, or damage / a section of another file."""
    if fid is not None:
        if n_layers * len(framed) <= 1 << 26:   # diagnose only while it costs < 64 MiB of CRC
            for j in range(n_layers):
                if j != i and crc == _section_crc(framed, fid, j):
                    return (f"checksum mismatch: this is section {j} of this file found at "
                            f"position {i}: sections reordered or duplicated")
        if crc == zlib.crc32(framed):
            return ("checksum mismatch: the section carries a version-1 checksum, it was "
                    "not written into this file")
        return ("checksum (CRC32) mismatch: the section is corrupted or comes from "
                "another file")
    return "checksum (CRC32) mismatch: the section is corrupted"


def _check_layer_names(sections, source: str) -> None:
    seen: dict[str, int] = {}
    for i, s in enumerate(sections):
        if s.name in seen:
            raise FormatError(f"{source}: layer {i} ({s.name!r}) section: layer name already "
                              f"used by section {seen[s.name]}: a repeated section")
        seen[s.name] = i


def _check_v1_order(sections, source: str) -> None:
    """Version 1 has no file identity: refuse a network whose fully-connected layers
    (each with a shape ``(out, in)``) chain in some other order but not in the stored
    one: its sections were reordered."""
    fc = [(i, s) for i, s in enumerate(sections) if s.kind == "fc" and len(s.shape) == 2]
    if len(fc) < 2 or len(fc) > 8:
        return
    def chains(seq):
        return all(a[1].shape[0] == b[1].shape[1] for a, b in zip(seq, seq[1:]))
    if chains(fc):
        return
    for perm in itertools.permutations(fc):
        if chains(perm):
            names = ", ".join(s.name for _, s in perm)
            raise FormatError(f"{source}: layer sections out of order: the fully-connected "
                              f"layers chain only as {names} (a version-1 file with "
                              f"reordered sections)")


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
    want = 2 if LAYER_KINDS[kind_id] == "fc" else 4
    if ndim != want:
        raise r.fail(f"{LAYER_KINDS[kind_id]} layer with {ndim} dimensions (expected {want})")
    shape = r.unpack(f"<{ndim}I", "shape")
    n_entries, n_fillers = r.unpack("<QQ", "entry counts")
    n_elements = math.prod(shape)  # Python ints: no overflow
    if n_elements > MAX_ELEMENTS:
        raise r.fail(f"shape {tuple(shape)} has {n_elements} elements, more than the "
                     f"reader's limit of {MAX_ELEMENTS} (2**28)")
    if n_fillers > n_entries or n_entries > n_elements:
        raise r.fail(f"{n_entries} entries ({n_fillers} fillers) cannot fit a tensor of "
                     f"{n_elements} elements")
    desc_end = r.pos
    codebook = np.frombuffer(r.take(4 * 2 ** bits, "codebook"), dtype="<f4").astype(np.float32)
    code_lengths = np.frombuffer(r.take(2 ** bits, "weight-code Huffman lengths"), dtype=np.uint8)
    gap_lengths = np.frombuffer(r.take(2 ** index_bits, "gap Huffman lengths"), dtype=np.uint8)
    (n_code_bits,) = r.unpack("<Q", "weight-code stream length")
    if n_code_bits < n_entries:
        raise r.fail(f"weight-code stream of {n_code_bits} bits cannot hold {n_entries} entries")
    code_bits = np.frombuffer(r.take((n_code_bits + 7) // 8, "weight-code stream"), dtype=np.uint8)
    (n_gap_bits,) = r.unpack("<Q", "gap stream length")
    if n_gap_bits < n_entries:
        raise r.fail(f"gap stream of {n_gap_bits} bits cannot hold {n_entries} entries")
    gap_bits = np.frombuffer(r.take((n_gap_bits + 7) // 8, "gap stream"), dtype=np.uint8)
    bias_start = r.pos
    bias = None
    if has_bias:
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


def _decode_section(sec: _RawSection, i: int, source: str) -> QuantizedLayer:
    where = f"{source}: layer {i} ({sec.name!r}) section"
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
    if len(data) > MAX_FILE_BYTES:
        raise FormatError(f"{source}: {len(data)} bytes, more than the reader's limit of "
                          f"{MAX_FILE_BYTES} bytes")
    meta, _, sections, _ = _parse(bytes(data), source)
    total = sum(math.prod(s.shape) for s in sections)
    if total > MAX_MODEL_ELEMENTS:
        raise FormatError(f"{source}: the layers have {total} elements in all, more than the "
                          f"reader's limit of {MAX_MODEL_ELEMENTS} (2**30)")
    return QuantizedModel([_decode_section(s, i, source) for i, s in enumerate(sections)], meta)


def inspect_bytes(data: bytes, source: str = "<bytes>") -> dict[str, Any]:
    """Per-section byte sizes of a ``.dcmp`` content (checks it like :func:`load`, without
    decoding the Huffman streams)."""
    if len(data) > MAX_FILE_BYTES:
        raise FormatError(f"{source}: {len(data)} bytes, more than the reader's limit of "
                          f"{MAX_FILE_BYTES} bytes")
    meta, header_size, sections, version = _parse(bytes(data), source)
    layers = []
    for s in sections:
        row = {"name": s.name, "kind": s.kind, "order": s.order, "shape": s.shape, "bits": s.bits,
               "index_bits": s.index_bits, "n_entries": s.n_entries, "n_fillers": s.n_fillers,
               "code_stream_bits": s.n_code_bits, "gap_stream_bits": s.n_gap_bits}
        row.update({f"{k}_bytes": v for k, v in s.sizes.items()})
        layers.append(row)
    return {"source": source, "version": version, "file_bytes": len(data),
            "header_bytes": header_size, "meta": meta, "layers": layers}
