"""Numpy files read with limits: ``.npz`` archives, ``.npy`` arrays and the project's one
``.npz`` convention for a user's weights.

* :func:`read_npz` / :func:`read_npy`: numpy archives and arrays read with limits
  checked before anything is allocated: every member a real ``.npy`` (no pickles, no
  object or structured dtypes), its declared shape and byte count against the member's
  size and :data:`MAX_ARRAY_BYTES` / :data:`MAX_ARRAY_ELEMENTS`, at most
  :data:`MAX_NPZ_MEMBERS` members and :data:`MAX_NPZ_BYTES` uncompressed in all;
  non-native byte orders are converted to native. The file itself is read with the
  project's one safe read (:func:`compressor.fileio.read_regular_file`).
* :func:`load_npz_weights` / :func:`check_weights`: a user's weights, the project's
  ``.npz`` convention: a layer ``X`` is the array ``X`` (or ``X.weight``), fully
  connected 2-D ``(out, in)`` or convolution 4-D ``(out, in, kh, kw)``; its optional bias
  is ``X.bias`` (1-D, ``out`` values). Layers keep the order of the archive. One member
  name is reserved: :data:`NPZ_GRAPH_KEY` (``__graph__``), the network graph as JSON text
  (a 0-d unicode array of at most :data:`MAX_NPZ_GRAPH_CHARS` characters, what
  ``eie-compress decode`` writes; :func:`load_npz_with_graph`), never a layer.

Every limit is documented in ``docs/format.md`` ("Limits of the readers").
"""
from __future__ import annotations

import ast
import io
import math
import os
import pathlib
import struct
import zipfile
import zlib
from typing import Mapping

import numpy as np

from .errors import WeightsError
from .fileio import read_regular_file

__all__ = ["read_npz", "read_npy", "load_npz_weights", "load_npz_with_graph", "check_weights",
           "NPZ_GRAPH_KEY", "MAX_NPZ_GRAPH_CHARS", "MAX_ARRAY_BYTES", "MAX_ARRAY_ELEMENTS",
           "MAX_NPZ_BYTES", "MAX_NPZ_MEMBERS", "MAX_NPZ_FILE_BYTES"]

#: largest array (bytes, uncompressed) read from an .npz or .npy
MAX_ARRAY_BYTES = 1 << 30
#: largest array (elements) read from an .npz or .npy (the simulator's largest layer)
MAX_ARRAY_ELEMENTS = 1 << 28
#: largest sum of the arrays of one .npz (bytes, uncompressed)
MAX_NPZ_BYTES = 1 << 31
#: most members of one .npz
MAX_NPZ_MEMBERS = 4096
#: largest .npz / .npy file (bytes on disk)
MAX_NPZ_FILE_BYTES = 1 << 31
#: the reserved ``.npz`` member holding a network graph (JSON text of
#: :func:`compressor.importers.graph_json.net_to_json`) as a 0-d unicode array
NPZ_GRAPH_KEY = "__graph__"
#: the longest graph text (characters) of :data:`NPZ_GRAPH_KEY`: the limit of a graph JSON
#: file (:data:`compressor.importers.graph_json.MAX_GRAPH_JSON_BYTES`)
MAX_NPZ_GRAPH_CHARS = 64 << 20
#: .npy header: the longest header numpy itself writes or reads by default
_MAX_NPY_HEADER = 10000


def _npy_header(f, source: str, error, graph: bool = False
                ) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """Parse a .npy header from a file object: (shape, fortran_order, dtype, header bytes).
    Only plain numeric/bool dtypes are accepted (no objects, no structured records); with
    ``graph`` (the member :data:`NPZ_GRAPH_KEY`) only a 0-d unicode string of at most
    :data:`MAX_NPZ_GRAPH_CHARS` characters."""
    magic = f.read(8)
    if len(magic) < 8 or magic[:6] != b"\x93NUMPY":
        raise error(f"{source}: not a .npy array (magic bytes {magic[:6]!r})")
    major = magic[6]
    if major == 1:
        hlen_bytes = f.read(2)
        if len(hlen_bytes) < 2:
            raise error(f"{source}: truncated .npy header")
        hlen, start = int.from_bytes(hlen_bytes, "little"), 10
    elif major in (2, 3):
        hlen_bytes = f.read(4)
        if len(hlen_bytes) < 4:
            raise error(f"{source}: truncated .npy header")
        hlen, start = int.from_bytes(hlen_bytes, "little"), 12
    else:
        raise error(f"{source}: unsupported .npy format version {major}.{magic[7]}")
    if hlen > _MAX_NPY_HEADER:
        raise error(f"{source}: .npy header of {hlen} bytes (the limit is {_MAX_NPY_HEADER})")
    raw = f.read(hlen)
    if len(raw) < hlen:
        raise error(f"{source}: truncated .npy header")
    try:
        text = raw.decode("utf-8" if major == 3 else "latin1")
        if len(text) > _MAX_NPY_HEADER or text.count("(") > 1 or text.count("[") > 1 \
                or text.count("{") != 1:
            raise ValueError("unexpected nesting")
        d = ast.literal_eval(text)
        if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
            raise ValueError("keys must be descr, fortran_order, shape")
        shape, fortran, descr = d["shape"], d["fortran_order"], d["descr"]
        if not isinstance(shape, tuple) or not all(isinstance(n, int) and not isinstance(n, bool)
                                                   and n >= 0 for n in shape) or len(shape) > 32:
            raise ValueError(f"bad shape {shape!r}")
        if not isinstance(fortran, bool) or not isinstance(descr, str):
            raise ValueError("bad fortran_order or descr")
        dtype = np.dtype(descr)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise error(f"{source}: invalid .npy header ({str(exc).splitlines()[0] if str(exc) else exc!r})") from None
    if graph:
        if dtype.kind != "U" or shape != () or not 0 < dtype.itemsize // 4 <= MAX_NPZ_GRAPH_CHARS:
            raise error(f"{source}: the reserved member {NPZ_GRAPH_KEY!r} holds the network "
                        f"graph as JSON text, a 0-d unicode array of at most "
                        f"{MAX_NPZ_GRAPH_CHARS} characters; got dtype {dtype} shape {shape}")
        return tuple(shape), fortran, dtype, start + hlen
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise error(f"{source}: dtype {dtype} is not a plain number type (bool, integer, float)")
    return tuple(shape), fortran, dtype, start + hlen


def _npy_from(f, size: int, source: str, error, budget: list[int], graph: bool = False
              ) -> np.ndarray:
    """Read one .npy from ``f`` (whose total size is ``size`` bytes) within the limits
    (``graph``: the graph member, :func:`_npy_header`)."""
    shape, fortran, dtype, head = _npy_header(f, source, error, graph)
    n = math.prod(shape)
    if n > MAX_ARRAY_ELEMENTS:
        raise error(f"{source}: shape {shape} has {n} elements, more than the limit of "
                    f"{MAX_ARRAY_ELEMENTS} (2**28)")
    nbytes = n * dtype.itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise error(f"{source}: {nbytes} bytes of data, more than the {MAX_ARRAY_BYTES}-byte limit")
    if head + nbytes != size:
        raise error(f"{source}: the header declares {nbytes} bytes of data ({shape} {dtype}) "
                    f"but the array holds {size - head}")
    budget[0] -= nbytes
    if budget[0] < 0:
        raise error(f"{source}: the arrays exceed the {MAX_NPZ_BYTES}-byte limit of one archive")
    data = f.read(nbytes)
    if len(data) != nbytes:
        raise error(f"{source}: truncated data ({len(data)} of {nbytes} bytes)")
    a = np.frombuffer(data, dtype=dtype)
    if not dtype.isnative and dtype.itemsize > 1:
        a = a.astype(dtype.newbyteorder("="))
    a = a.reshape(shape[::-1]).T if fortran else a.reshape(shape)
    return np.array(a)  # writable, owns its data, C order


def read_npy(path: str | os.PathLike, error: type[Exception] = ValueError) -> np.ndarray:
    """One ``.npy`` file within the limits of :func:`read_npz` (native byte order)."""
    path = pathlib.Path(path)
    data = read_regular_file(path, MAX_NPZ_FILE_BYTES, error, ".npy file")
    return _npy_from(io.BytesIO(data), len(data), str(path), error, [MAX_NPZ_BYTES])


def read_npz(path: str | os.PathLike, error: type[Exception] = ValueError) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (zip of ``.npy`` members), in archive order.

    Refused with ``error`` naming the file and member: not a zip, a member that is not a
    ``.npy`` array (numpy would hand back its bytes), a duplicate name, a pickled, object
    or structured array, a declared size that disagrees with the member or exceeds the
    limits (:data:`MAX_ARRAY_ELEMENTS`, :data:`MAX_ARRAY_BYTES`, :data:`MAX_NPZ_BYTES`,
    :data:`MAX_NPZ_MEMBERS`), checked before the data is decompressed; damaged
    compressed data or a CRC mismatch. Big-endian arrays come back in native order. The
    member :data:`NPZ_GRAPH_KEY` may only be a 0-d unicode array of at most
    :data:`MAX_NPZ_GRAPH_CHARS` characters (it comes back as such).
    A missing file raises ``FileNotFoundError``.
    """
    path = pathlib.Path(path)
    raw = read_regular_file(path, MAX_NPZ_FILE_BYTES, error, ".npz archive")
    if raw[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip's first entry, or an empty zip
        raise error(f"{path}: not a .npz (zip) archive (first bytes {raw[:4]!r})")
    out: dict[str, np.ndarray] = {}
    budget = [MAX_NPZ_BYTES]
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            infos = z.infolist()
            if len(infos) > MAX_NPZ_MEMBERS:
                raise error(f"{path}: {len(infos)} members, more than the limit of {MAX_NPZ_MEMBERS}")
            _check_zip_layout(raw, z, infos, path, error)
            for info in infos:
                member = f"{path}: member {info.filename!r}"
                if not info.filename.endswith(".npy"):
                    raise error(f"{member} is not a .npy array")
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    # numpy writes stored or deflated members; the other methods'
                    # decompressors are not bounded per read in zipfile
                    raise error(f"{member} uses zip compression method {info.compress_type}; "
                                ".npz members are stored or deflated")
                key = info.filename[:-4]
                if key in out:
                    raise error(f"{member} appears twice")
                if info.file_size > MAX_ARRAY_BYTES + _MAX_NPY_HEADER + 12:
                    raise error(f"{member}: {info.file_size} bytes uncompressed, more than the "
                                f"{MAX_ARRAY_BYTES}-byte limit of one array")
                with z.open(info) as f:
                    out[key] = _npy_from(f, info.file_size, member, error, budget,
                                         graph=key == NPZ_GRAPH_KEY)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError,
            ValueError, RuntimeError, OverflowError, KeyError, IndexError, UnicodeDecodeError,
            zlib.error) as exc:
        if isinstance(exc, error):
            raise
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise error(f"{path}: not a readable .npz archive ({msg})") from None
    return out


def _check_zip_layout(raw: bytes, z: zipfile.ZipFile, infos, path, error) -> None:
    """Every byte of the archive belongs to a member or to the central directory, and the
    directory lists as many members as its end record says: the zip CRCs guard only the
    members' data, so damage to the directory (a member hidden in a comment, data glued
    in front of another archive) is caught here instead."""
    end = raw.rfind(b"PK\x05\x06")
    if end < 0 or end + 22 > len(raw):
        raise error(f"{path}: no zip end-of-directory record")
    _, _, _, _, total, _, _, comment_len = struct.unpack_from("<4s4H2LH", raw, end)
    if total != 0xFFFF and total != len(infos):
        raise error(f"{path}: the zip directory lists {len(infos)} members, its end record "
                    f"says {total} (the archive is damaged)")
    if end + 22 + comment_len != len(raw):
        raise error(f"{path}: {len(raw) - end - 22 - comment_len} unexpected bytes after the "
                    "zip end record")
    pos = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset != pos:
            raise error(f"{path}: member {info.filename!r} starts at offset {info.header_offset}, "
                        f"expected {pos} (bytes that belong to no member: the archive is damaged)")
        if pos + 30 > len(raw) or raw[pos:pos + 4] != b"PK\x03\x04":
            raise error(f"{path}: member {info.filename!r}: no local header at offset {pos}")
        n, e = struct.unpack_from("<2H", raw, pos + 26)
        pos += 30 + n + e + info.compress_size
        if info.flag_bits & 0x08:                      # a data descriptor follows the data
            sig = raw[pos:pos + 4] == b"PK\x07\x08"
            pos += (4 if sig else 0) + (20 if info.file_size > 0xFFFFFFFF or
                                        info.compress_size > 0xFFFFFFFF else 12)
    if pos != z.start_dir:
        raise error(f"{path}: {z.start_dir - pos} bytes between the last member and the zip "
                    "directory (the archive is damaged)")


def load_npz_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an ``.npz`` of named layers into ``{"X": weight, "X.bias": bias}`` (archive order).

    Convention: weight ``X`` or ``X.weight``, 2-D ``(out, in)`` or 4-D ``(out, in, kh, kw)``;
    bias ``X.bias`` 1-D of length ``out``; the reserved member :data:`NPZ_GRAPH_KEY` (a
    graph, :func:`load_npz_with_graph`) is read within its limits and left out. Anything
    else raises :class:`~compressor.errors.WeightsError` naming the file.
    """
    return load_npz_with_graph(path)[0]


def load_npz_with_graph(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], str | None]:
    """:func:`load_npz_weights`'s weights and the graph JSON text of the member
    :data:`NPZ_GRAPH_KEY` (None without one); the text is not parsed here
    (:func:`compressor.importers.graph_json.graph_from_text` does, with its checks)."""
    path = pathlib.Path(path)
    if not path.exists():
        raise WeightsError(f"{path}: no such file")
    try:
        arrays = read_npz(path, WeightsError)
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    graph = arrays.pop(NPZ_GRAPH_KEY, None)
    return check_weights(arrays, source=str(path)), (None if graph is None else str(graph[()]))


def check_weights(arrays: Mapping[str, np.ndarray], source: str = "weights") -> dict[str, np.ndarray]:
    """Validate named arrays under the ``.npz`` convention; returns float32 copies as
    ``{"X": weight, "X.bias": bias}`` (``X.weight`` renamed ``X``), in the given order.

    The reserved key :data:`NPZ_GRAPH_KEY` (a graph, not a layer) is skipped. Every
    problem raises :class:`~compressor.errors.WeightsError` whose message starts with
    ``source`` (the file name for :func:`load_npz_weights`)."""
    out: dict[str, np.ndarray] = {}
    biases = {}
    for key, a in arrays.items():
        if key == NPZ_GRAPH_KEY:
            continue
        a = np.asarray(a)
        if key.endswith(".bias"):
            biases[key[:-5]] = a
            continue
        name = key[:-7] if key.endswith(".weight") else key
        if not name:
            raise WeightsError(f"{source}: array {key!r} has an empty layer name")
        if name in out:
            raise WeightsError(f"{source}: layer {name!r} is given twice ({name} and {name}.weight)")
        if a.ndim not in (2, 4):
            raise WeightsError(f"{source}: array {key!r} has shape {a.shape}; layer weights must be "
                               "2-D (out, in) or 4-D (out, in, kh, kw), biases are named <layer>.bias")
        if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
            raise WeightsError(f"{source}: array {key!r} has non-numeric dtype {a.dtype}")
        if a.size == 0:
            raise WeightsError(f"{source}: array {key!r} is empty")
        if not np.all(np.isfinite(a)):
            raise WeightsError(f"{source}: array {key!r} contains NaN or infinity")
        out[name] = _float32(a, f"{source}: array {key!r}")
    if not out:
        raise WeightsError(f"{source}: no layer weights found")
    for name, b in biases.items():
        if name not in out:
            raise WeightsError(f"{source}: bias {name}.bias has no weight {name!r}")
        if b.shape != (out[name].shape[0],):
            raise WeightsError(f"{source}: bias {name}.bias has shape {b.shape}, "
                               f"expected ({out[name].shape[0]},)")
        if not np.all(np.isfinite(b)):
            raise WeightsError(f"{source}: bias {name}.bias contains NaN or infinity")
        out[f"{name}.bias"] = _float32(b, f"{source}: bias {name}.bias")
    return out


def _float32(a: np.ndarray, what: str) -> np.ndarray:
    """``a`` as float32; a finite value too large for float32 (a float64 1e300 would
    become infinity) is refused."""
    with np.errstate(over="ignore"):
        out = a.astype(np.float32)
    if not np.all(np.isfinite(out)):
        raise WeightsError(f"{what} holds values too large for float32 (|x| > 3.4e38)")
    return out
