"""One eie-sweep at a time per sweep folder: an OS file lock held for the whole run.

:class:`FolderLock` takes an exclusive ``fcntl.flock`` on ``DIR/.eie-sweep.lock`` (the
lock file holds the process id of its holder) without waiting: a second sweep into the
same folder is refused at once with ``DIR: another eie-sweep is running into this folder
(pid N)`` instead of computing every point a second time. The kernel drops the lock when
its holder ends, however it ends (``kill -9`` included), so a stale lock file never
blocks a rerun. On release the file is removed while still locked; a run that locked a
file just removed by the run before it notices (the path names another file, or none)
and takes the lock again. The file descriptor is close-on-exec: worker processes do not
hold the lock. Where ``fcntl`` is missing (not a POSIX system) nothing is locked.

A folder that cannot be written is refused with its own message (``DIR is not
writable``). :func:`refuse_if_running` checks for a running sweep without creating
anything (before the folder itself is checked).
"""
from __future__ import annotations

import errno
import os
import pathlib

from eie_sim.errors import BundleError

try:
    import fcntl
except ImportError:            # not POSIX: no folder lock
    fcntl = None

LOCK_NAME = ".eie-sweep.lock"


def not_writable(folder: pathlib.Path, why: str = "") -> BundleError:
    """The error of a sweep folder that cannot be written."""
    return BundleError(f"{folder} is not writable{f' ({why})' if why else ''}: make it "
                       f"writable, or choose another --out")


def _busy(folder: pathlib.Path, fd: int) -> BundleError:
    try:
        pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
    except OSError:
        pid = "?"
    return BundleError(f"{folder}: another eie-sweep is running into this folder (pid {pid}); "
                       f"wait for it to end, or choose another --out")


def refuse_if_running(folder: pathlib.Path) -> None:
    """Raise when another process holds ``folder``'s lock (creates nothing)."""
    if fcntl is None:
        return
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(folder, fd) from None
    finally:
        os.close(fd)


class FolderLock:
    """The exclusive lock of a sweep folder (module docstring), taken on creation."""

    def __init__(self, folder: str | pathlib.Path):
        self.folder = pathlib.Path(folder)
        self.path = self.folder / LOCK_NAME
        self.fd: int | None = None
        if fcntl is None:
            return
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                    raise not_writable(self.folder, exc.strerror) from None
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                err = _busy(self.folder, fd)
                os.close(fd)
                raise err from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                return
            os.close(fd)          # locked a file its holder just removed: again
        raise BundleError(f"{self.folder}: could not lock {LOCK_NAME} (it keeps being replaced)")

    def release(self) -> None:
        """Remove the lock file and drop the lock (again: nothing)."""
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None
