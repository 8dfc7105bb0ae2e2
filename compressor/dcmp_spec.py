"""The ``.dcmp`` format's constants and checksums, shared by the writer
(:mod:`compressor.fileformat`) and the reader (:mod:`compressor.dcmp_reader`); the byte
layout is docs/format.md."""
from __future__ import annotations

import hashlib
import struct
import zlib

from . import sparse
from .fileio import MAX_JSON_DEPTH
from .model import LAYER_KINDS

MAGIC = b"\x89DCMP\r\n\x1a"
VERSION = 2
"""The version :func:`save` writes."""
READ_VERSIONS = (1, 2)
"""The versions :func:`load` reads."""
FILE_ID_BYTES = 8
MAX_FILE_BYTES = 1 << 30
"""Largest ``.dcmp`` file the reader opens (1 GiB)."""
MAX_ELEMENTS = 2 ** 28
"""Largest weight tensor (elements) of one layer; a bigger shape is refused before
anything is allocated (the simulator's largest layer, too)."""
MAX_MODEL_ELEMENTS = 2 ** 30
"""Largest sum of the layers' elements in one file."""
MAX_META_DEPTH = MAX_JSON_DEPTH
"""Deepest nesting of metadata JSON (arrays and objects)."""
EXTENSION = ".dcmp"
HUFFMAN_MAX_LENGTH = 32
_ORDER_IDS = {name: i for i, name in enumerate(sparse.ORDERS)}  # csc 0, csr 1, c 2
_KIND_IDS = {name: i for i, name in enumerate(LAYER_KINDS)}      # fc 0, conv 1


def _section_crc(framed, file_id: bytes | None, index: int) -> int:
    """CRC32 of a section's ``body_len`` + body (``framed``); version 2 binds the file
    identity and the section's index into it (``file_id`` None: version 1)."""
    if file_id is None:
        return zlib.crc32(framed)
    return zlib.crc32(framed, zlib.crc32(file_id + struct.pack("<I", index)))


def file_id(n_layers: int, meta: bytes, bodies: list[bytes]) -> bytes:
    """The version-2 file identity: the first 8 bytes of the SHA-256 of ``n_layers``
    (u32), ``meta_len`` (u32), the model metadata, then every section's ``body_len``
    (u32) and body in file order (docs/format.md). Content-derived: identical models give
    identical files."""
    h = hashlib.sha256(struct.pack("<II", n_layers, len(meta)) + meta)
    for body in bodies:
        h.update(struct.pack("<I", len(body)))
        h.update(body)
    return h.digest()[:FILE_ID_BYTES]


def bits_per_entry(n_bits: int, n_entries: int) -> float:
    """Average Huffman code length of a stream (0 for an empty stream)."""
    return n_bits / n_entries if n_entries else 0.0
