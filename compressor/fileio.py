"""File helpers shared by the pipeline and the command line.

* :func:`atomic_write`: the bytes go to a temporary file beside the target, are flushed,
  made world-readable like a normal file (0644), and renamed over the target. On any
  error nothing is left behind and an existing target is untouched.
* :func:`load_npz_weights` / :func:`check_weights`: a user's weights, the project's
  ``.npz`` convention: a layer ``X`` is the array ``X`` (or ``X.weight``), fully
  connected 2-D ``(out, in)`` or convolution 4-D ``(out, in, kh, kw)``; its optional bias
  is ``X.bias`` (1-D, ``out`` values). Layers keep the order of the archive.
"""
from __future__ import annotations

import os
import pathlib
import tempfile
import zipfile
from typing import Mapping

import numpy as np

from .errors import WeightsError

__all__ = ["atomic_write", "load_npz_weights", "check_weights"]


def atomic_write(path: str | os.PathLike, data: bytes | str) -> pathlib.Path:
    path = pathlib.Path(path)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def load_npz_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an ``.npz`` of named layers into ``{"X": weight, "X.bias": bias}`` (archive order).

    Convention: weight ``X`` or ``X.weight``, 2-D ``(out, in)`` or 4-D ``(out, in, kh, kw)``;
    bias ``X.bias`` 1-D of length ``out``. Anything else raises
    :class:`~compressor.errors.WeightsError` naming the file.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such file")
    with path.open("rb") as f:
        head = f.read(4)
    # np.load would take a non-zip file for a .npy or pickle and complain about pickled data
    if head not in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip's first entry, or an empty zip
        raise WeightsError(f"{path}: not a .npz (zip) archive (first bytes {head!r})")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise WeightsError(f"{path}: not a readable .npz archive ({exc})") from exc
    return check_weights(arrays, source=str(path))


def check_weights(arrays: Mapping[str, np.ndarray], source: str = "weights") -> dict[str, np.ndarray]:
    """Validate named arrays under the ``.npz`` convention; returns float32 copies as
    ``{"X": weight, "X.bias": bias}`` (``X.weight`` renamed ``X``), in the given order.

    Every problem raises :class:`~compressor.errors.WeightsError` whose message starts
    with ``source`` (the file name for :func:`load_npz_weights`)."""
    out: dict[str, np.ndarray] = {}
    biases = {}
    for key, a in arrays.items():
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
        out[name] = a.astype(np.float32)
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
        out[f"{name}.bias"] = b.astype(np.float32)
    return out
