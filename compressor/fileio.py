"""File helpers shared by the pipeline and the command line.

* :func:`atomic_write` (the project's one): the bytes go to a temporary file beside the
  target (:func:`temp_beside`), are flushed, given the mode of a new file under the umask
  (0666 & ~umask, :func:`current_umask`) and renamed over it (:func:`publish`).
  On any error nothing is left behind and an existing target is untouched.
* :func:`read_bounded` (the project's one safe read; eie_sim's YAML too): a file's bytes,
  refused (:class:`FileRefused`) before reading when it is not a regular file (a device such
  as ``/dev/zero``, a pipe, a directory) or larger than a limit; :func:`read_regular_file`
  words a refusal as the compressor's errors.
* :func:`load_json`: JSON text with NaN/Infinity refused and nesting limited to
  :data:`MAX_JSON_DEPTH` levels.
* numpy archives and arrays, and the ``.npz`` weights convention: :mod:`compressor.npzio`.

Every limit is documented in ``docs/format.md`` ("Limits of the readers").
"""
from __future__ import annotations

import json
import math
import os
import pathlib
import stat
import tempfile
from typing import Any

__all__ = ["atomic_write", "temp_beside", "publish", "current_umask", "read_bounded", "FileRefused",
           "read_regular_file", "load_json", "json_depth", "MAX_JSON_DEPTH"]

#: deepest nesting of JSON metadata (arrays and objects)
MAX_JSON_DEPTH = 32

def temp_beside(path: pathlib.Path) -> pathlib.Path:
    """A new empty temporary file ``.NAME.XXXX.tmp`` beside ``path`` (0600 until published)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return pathlib.Path(tmp)


def current_umask() -> int:
    """The process's umask (read from ``/proc/self/status`` where there is one, so no
    other thread ever sees it changed; else set and restored)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """``tmp`` given the mode of a new file under the umask (0666 & ~umask, as any Unix
    tool writes it; not the 0600 of :func:`temp_beside`) and renamed over ``path``."""
    os.chmod(tmp, 0o666 & ~current_umask())
    os.replace(tmp, path)


def atomic_write(path: str | os.PathLike, data: bytes | str) -> pathlib.Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically (see the module docstring)."""
    path = pathlib.Path(path)
    payload = data.encode() if isinstance(data, str) else data
    tmp = temp_beside(path)
    try:
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


class FileRefused(Exception):
    """:func:`read_bounded` refused ``path`` (``str``: ``path: detail``). ``reason``:
    ``"directory"``, ``"special"`` (a device, pipe or socket), ``"too large"`` (``size``
    announced by fstat) or ``"grew"`` (while read); ``detail``: it in words."""

    def __init__(self, path: pathlib.Path, reason: str, limit: int, size: int | None = None):
        self.path, self.reason, self.size = path, reason, size
        self.detail = {"directory": "is a directory",
                       "special": "not a regular file (a device, pipe or socket)",
                       "too large": f"{size} bytes, more than the {limit}-byte limit",
                       "grew": f"more than the {limit}-byte limit"}[reason]
        super().__init__(f"{path}: {self.detail}")


def read_bounded(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of ``path``; :class:`FileRefused` when it is a directory, not a regular file
    (never read, a FIFO not even waited for) or larger than ``max_bytes``; ``OSError`` when
    it is missing or unreadable."""
    path = pathlib.Path(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO does not block
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise FileRefused(path, "directory", max_bytes)
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused(path, "special", max_bytes)
        if st.st_size > max_bytes:
            raise FileRefused(path, "too large", max_bytes, st.st_size)
        with os.fdopen(fd, "rb") as f:
            fd = -1
            # read what fstat announced (+1 to see growth), never a buffer of max_bytes
            chunks, total, want = [], 0, st.st_size + 1
            while True:
                chunk = f.read(min(want, max_bytes + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if total > max_bytes:
                    raise FileRefused(path, "grew", max_bytes)
                want = 1 << 20
    finally:
        if fd >= 0:
            os.close(fd)
    return b"".join(chunks)


def read_regular_file(path: str | os.PathLike, max_bytes: int, error: type[Exception] = ValueError,
                      what: str = "file") -> bytes:
    """:func:`read_bounded`, a refusal raised as ``error`` (one line naming the file and
    ``what`` it should be)."""
    try:
        return read_bounded(path, max_bytes)
    except FileRefused as r:
        tail = {"directory": f", not a {what}", "special": f"; a {what} must be a regular file"}
        raise error(f"{r}{tail.get(r.reason, f' of a {what}')}") from None


def load_json(raw: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON text; ``ValueError`` (one line) for invalid UTF-8 or JSON, the tokens
    ``NaN``/``Infinity``, a number that overflows a float, or nesting deeper than
    ``max_depth`` (arrays and objects)."""
    def constant(name):
        raise ValueError(f"non-finite number {name} is not allowed")

    def number(text):
        v = float(text)
        if not math.isfinite(v):
            raise ValueError(f"number {text[:20]} overflows a float")
        return v
    try:
        text = bytes(raw).decode("utf-8") if not isinstance(raw, str) else raw
        obj = json.loads(text, parse_constant=constant, parse_float=number)
    except RecursionError:
        raise ValueError(f"nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({str(exc).splitlines()[0] if str(exc) else exc!r})") from None
    if json_depth(obj) > max_depth:
        raise ValueError(f"nested deeper than {max_depth} levels")
    return obj


def json_depth(obj: Any) -> int:
    """Nesting depth of lists and dicts (a scalar is 0), without recursion."""
    depth, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, dict):
            o = list(o.values())
        elif not isinstance(o, (list, tuple)):
            continue
        depth = max(depth, d)
        stack.extend((v, d + 1) for v in o if isinstance(v, (dict, list, tuple)))
    return depth

