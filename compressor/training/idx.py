"""The IDX file format of MNIST (http://yann.lecun.com/exdb/mnist/ layout): two zero
bytes, a type code, the number of dimensions, big-endian uint32 sizes, then the data in
big-endian C order, raw or gzip-compressed. :func:`read_idx` reads one file within
:data:`MAX_IDX_BYTES` (on disk and after gunzip) and names the file in every
:class:`~compressor.errors.IDXError`; :func:`write_idx` writes one. The MNIST folders of
IDX files are read by :func:`compressor.training.data.load_idx_dir`.
"""
from __future__ import annotations

import gzip
import math
import pathlib
import struct
import zlib

import numpy as np

from ..errors import IDXError
from ..fileio import read_regular_file

__all__ = ["MAX_IDX_BYTES", "read_idx", "write_idx"]

#: largest IDX file read (on disk, and after gunzip): the full MNIST training images are 47 MB
MAX_IDX_BYTES = 1 << 28

# IDX type codes (third byte of the magic number) -> big-endian numpy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_DTYPE_CODES = {(v.kind, v.itemsize): k for k, v in _IDX_DTYPES.items()}


def read_idx(path: str | pathlib.Path) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed, decided by its first bytes).

    The format: two zero bytes, a type code, the number of dimensions ``d``, then ``d``
    big-endian uint32 sizes, then the data in big-endian C order. Any deviation (bad
    magic, unknown type, truncated or over-long data) raises :class:`~compressor.errors.IDXError` naming
    the file.
    """
    path = pathlib.Path(path)
    try:
        raw = read_regular_file(path, MAX_IDX_BYTES, IDXError, "IDX file")
    except OSError as exc:
        raise IDXError(f"{path}: cannot read IDX file ({exc.strerror or exc})") from exc
    if raw[:2] == b"\x1f\x8b":
        try:   # bounded: a small .gz that inflates beyond the limit is refused, not expanded
            d = zlib.decompressobj(wbits=31)
            out = d.decompress(raw, MAX_IDX_BYTES + 1)
            if len(out) > MAX_IDX_BYTES:
                raise IDXError(f"{path}: inflates to more than the {MAX_IDX_BYTES}-byte limit "
                               "of an IDX file")
            if not d.eof:
                raise EOFError("compressed stream ended early")
            raw = out
        except (OSError, EOFError, zlib.error) as exc:
            raise IDXError(f"{path}: corrupt gzip data ({exc})") from exc
    if len(raw) < 4:
        raise IDXError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise IDXError(f"{path}: not an IDX file (magic number must start with two zero bytes)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise IDXError(f"{path}: unknown IDX data type code 0x{code:02x}")
    if ndim == 0:
        raise IDXError(f"{path}: IDX file declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{path}: truncated IDX header (needs {header} bytes, has {len(raw)})")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize      # Python ints: no overflow
    if len(raw) - header != expected:
        raise IDXError(
            f"{path}: IDX shape {shape} of {dtype.name} needs {expected} data bytes, "
            f"file has {len(raw) - header}")
    arr = np.frombuffer(raw, dtype=dtype, offset=header, count=math.prod(shape))
    return arr.reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | pathlib.Path, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzip when ``compress`` or the name ends in .gz)."""
    path = pathlib.Path(path)
    arr = np.asarray(array)
    code = _DTYPE_CODES.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {arr.dtype}")
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError("IDX needs 1..255 dimensions")
    data = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data += np.ascontiguousarray(arr, dtype=_IDX_DTYPES[code]).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
