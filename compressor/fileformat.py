"""The compressed model file (``.dcmp``): one versioned, checksummed binary file.

It stores what Deep Compression stores (sec. 2-4: relative-index sparse entries, the
per-layer codebook, Huffman-coded weight codes and index gaps) plus what is needed to
rebuild the :class:`~compressor.model.QuantizedModel` exactly: names, kinds, shapes,
biases, metadata. The byte layout is documented in ``docs/format.md``; in short::

    file    = header, section * n_layers                     (nothing after)
    header  = magic(8) version(u16)=2 flags(u16) n_layers(u32) meta_len(u32)
              file_id(8) meta(JSON) crc32(u32)
    section = body_len(u32) body crc32(u32)
              crc over file_id, the section's index (u32), body_len and body

``file_id`` is the first 8 bytes of a SHA-256 of the file's content (header fields,
metadata and every section, in order), so a section that is moved, repeated or taken
from another file fails its checksum, and the reader recomputes the digest over the
whole file. Version 1 (no ``file_id``, each CRC over its own section only) is still
read; there, repeated layer names, fully-connected layers that chain only in another
order and a section count that disagrees with the header are refused.

All integers little-endian. :func:`save` writes atomically (temporary file in the same
folder, then ``os.replace``); :func:`load` rebuilds the model bit for bit or raises
:class:`~compressor.errors.FormatError` naming the file, the section and what is wrong.
The readers' limits (:data:`MAX_FILE_BYTES`, :data:`MAX_ELEMENTS`,
:data:`MAX_MODEL_ELEMENTS`, :data:`MAX_META_DEPTH`) are checked before allocating.
"""
from __future__ import annotations

import json
import os
import pathlib
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import huffman, sparse
from .dcmp_reader import from_bytes, inspect_bytes
from .dcmp_spec import (_KIND_IDS, _ORDER_IDS, EXTENSION, FILE_ID_BYTES, HUFFMAN_MAX_LENGTH,
                        MAGIC, MAX_ELEMENTS, MAX_FILE_BYTES, MAX_META_DEPTH, MAX_MODEL_ELEMENTS,
                        READ_VERSIONS, VERSION, _section_crc, bits_per_entry, file_id)
from .errors import FormatError
from .fileio import atomic_write, json_depth, read_regular_file
from .model import QuantizedLayer, QuantizedModel


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
        raw = json.dumps(meta, sort_keys=True, default=_json_default, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{what} metadata cannot be stored: {exc}") from None
    if json_depth(json.loads(raw)) > MAX_META_DEPTH:
        raise ValueError(f"{what} metadata cannot be stored: nested deeper than "
                         f"{MAX_META_DEPTH} levels (the readers' limit)")
    return raw


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


def _frame(body: bytes, file_id: bytes | None = None, index: int = 0) -> bytes:
    framed = struct.pack("<I", len(body)) + body
    return framed + struct.pack("<I", _section_crc(framed, file_id, index))


def section_bytes(enc: EncodedLayer, file_id: bytes | None = None, index: int = 0) -> bytes:
    """The complete section (length, body, CRC) of a layer: version 2 (as :func:`save`
    writes it at position ``index`` of the file ``file_id``), or version 1 without
    ``file_id``. Its size does not depend on either."""
    return _frame(_section_body(enc), file_id, index)


def _check_writable(model: QuantizedModel) -> None:
    seen = set()
    for lay in model.layers:
        if any(d > 0xFFFFFFFF for d in lay.shape):
            raise ValueError(f"layer {lay.name!r}: dimension too large for the format")
        if lay.name in seen:
            raise ValueError(f"layer name {lay.name!r} is used twice; the layers of a file "
                             "must have distinct names")
        seen.add(lay.name)


def to_bytes(model: QuantizedModel, version: int = VERSION) -> bytes:
    """The complete ``.dcmp`` file content of ``model`` (``version`` 2; 1 only to make
    files for older readers and for tests)."""
    _check_writable(model)
    return assemble(_json_bytes(model.meta, "model"),
                    [_section_body(encode_layer(l)) for l in model.layers], version)


def assemble(meta: bytes, bodies: list[bytes], version: int = VERSION) -> bytes:
    """A file from the model metadata (JSON bytes) and the section bodies: header, file
    identity (version 2), CRCs. :func:`to_bytes` is this on a model's encoded layers."""
    if version not in READ_VERSIONS:
        raise ValueError(f"format version must be one of {READ_VERSIONS}, got {version}")
    n = len(bodies)
    fid = file_id(n, meta, bodies) if version >= 2 else None
    head = MAGIC + struct.pack("<HHII", version, 0, n, len(meta)) + (fid or b"") + meta
    head += struct.pack("<I", zlib.crc32(head))
    return head + b"".join(_frame(b, fid, i) for i, b in enumerate(bodies))


def save(model: QuantizedModel, path: str | os.PathLike) -> pathlib.Path:
    """Write ``model`` to ``path`` atomically: the bytes go to a temporary file in the same
    folder, are flushed to disk, and the temporary file is renamed over ``path``. On any
    error nothing is left behind (and an existing ``path`` is untouched)."""
    data = to_bytes(model)  # every encoding error happens before a file exists
    return atomic_write(path, data)


def _read(path) -> tuple[bytes, str]:
    path = pathlib.Path(path)
    return read_regular_file(path, MAX_FILE_BYTES, FormatError, ".dcmp file"), str(path)


def load(path: str | os.PathLike) -> QuantizedModel:
    """Read a ``.dcmp`` file back into exactly the model that was saved.

    Raises :class:`~compressor.errors.FormatError` for a wrong magic, another format version, truncation,
    a checksum mismatch or any inconsistency, naming the file and the section.
    """
    data, source = _read(path)
    return from_bytes(data, source)


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


__all__ = ["MAGIC", "VERSION", "READ_VERSIONS", "FILE_ID_BYTES", "HUFFMAN_MAX_LENGTH", "MAX_FILE_BYTES", "MAX_ELEMENTS",
           "MAX_MODEL_ELEMENTS", "MAX_META_DEPTH", "EXTENSION", "file_id", "assemble", "EncodedLayer", "encode_layer",
           "section_bytes", "to_bytes", "from_bytes", "save", "load", "inspect", "inspect_bytes", "bits_per_entry"]
