"""Result folders: which ones the tools may write or replace, and how they are replaced.

Every results bundle, plot folder and sweep folder the tools write holds a marker file
:data:`MARKER` (``.eie-sim.json``: the tool, its version and the kind of folder). Rules
(:func:`check_out`, before anything runs):

* ``--out`` may be missing or an empty folder;
* a folder the tools wrote is replaced only with ``--force``; it counts as theirs when it
  holds the marker, or (folders of older versions) a sweep's ``sweep.db``, or nothing but
  file names the tools write (:data:`KNOWN_FILES`);
* anything else (a file, a symbolic link, a folder holding other files) is refused, with
  ``--force`` too, and so is an ``--out`` that is the current directory or one of its
  ancestors, or that contains a file the command reads.

A folder is written whole: into a temporary sibling ``.NAME.tmp-PID-XXXX``, renamed into
place at the end (:func:`replace_dir`; an old folder is moved to ``.NAME.old-PID-XXXX``
first and put back if the rename fails). Files and folders follow the umask
(:func:`compressor.fileio.current_umask`). Temporary siblings left by a killed run
(:func:`clean_stale`: the name patterns above and ``.NAME.replaced-PID``, older than this
process, of a process no longer running on this machine) are removed by the next run.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import pathlib
import re
import shutil
import tempfile
import time
from typing import Iterable

from compressor.fileio import current_umask, read_bounded
from eie_sim.errors import BundleError

__all__ = ["MARKER", "KNOWN_FILES", "marker_text", "owner", "check_out", "new_dir",
           "replace_dir", "clean_stale", "dir_mode", "is_empty_dir"]

#: the marker file of every folder the tools write
MARKER = ".eie-sim.json"

#: names of files written by the tools in earlier versions (a folder of nothing else is theirs)
KNOWN_FILES = frozenset({
    "layers.csv", "per_pe.csv", "summary.json", "report.md", "config.yaml", "windows.csv",
    "report.html", "positions.csv", "compression.csv", "cycles.png", "images.csv",
    "formats.csv", "sweep.csv", "points.csv",
    "pareto.csv", "sweep.db", "sweep.db-wal", "sweep.db-shm", "sweep.db-journal",
    ".eie-sweep.lock",
    "energy_by_unit.png", "area_by_unit.png"})
_KNOWN_PLOT = re.compile(r"^(per_pe_|timeline_|fig\d|pareto|heatmap|design_|speedup|"
                         r"load_eff|real_work|spmat).*\.(png|svg)$")

#: when this process started (what is older was left by an earlier run)
_STARTED = time.time()


def _version() -> str:
    try:
        return importlib.metadata.version("eie-sim")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def marker_text(tool: str, kind: str) -> str:
    """The marker file's content: ``{"tool", "version", "kind"}``."""
    return json.dumps({"tool": tool, "version": _version(), "kind": kind}, indent=2) + "\n"


def dir_mode() -> int:
    """The mode of a new folder under the current umask (0777 & ~umask)."""
    return 0o777 & ~current_umask()


def is_empty_dir(path: pathlib.Path) -> bool:
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def owner(folder: pathlib.Path) -> str | None:
    """``"TOOL KIND"`` of a folder the tools wrote (its marker; ``"an older version's
    sweep"`` or ``"bundle"`` for folders of earlier versions), else None."""
    try:
        meta = json.loads(read_bounded(folder / MARKER, 4096))
        if isinstance(meta, dict) and isinstance(meta.get("tool"), str):
            return f"{meta['tool']} {meta.get('kind', 'folder')}"
    except Exception:            # noqa: BLE001 - a missing or unreadable marker: not ours
        pass
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return None
    if "sweep.db" in names:
        return "eie-sweep sweep (older version)"
    # a folder of an earlier version: only names the tools write, and the files that make
    # a results bundle (a user's own config.yaml and report.md alone are not one)
    if names and all(n in KNOWN_FILES or _KNOWN_PLOT.match(n) for n in names) and \
            "summary.json" in names and {"layers.csv", "images.csv", "sweep.csv"} & set(names):
        return "results bundle (older version)"
    return None


def _inside(path: pathlib.Path, folder: pathlib.Path) -> bool:
    return path == folder or folder in path.parents


def check_out(out: str | pathlib.Path, force: bool, reading: Iterable = (),
              resumable: bool = False) -> pathlib.Path:
    """Check that ``out`` may be written (before anything runs); :class:`BundleError` with
    one line otherwise (rules: the module docstring). ``reading``: files or folders the
    command reads (refused inside ``out``). ``resumable``: an existing folder holding a
    ``sweep.db`` is accepted without ``force`` (a sweep resumes it)."""
    given = str(out)
    out = pathlib.Path(os.path.abspath(out))
    real = out.resolve()
    cwd = pathlib.Path.cwd().resolve()
    if _inside(cwd, real):
        raise BundleError(f"--out {given}: is the current directory or one of its parents; "
                          f"give a folder of its own (for example --out results)")
    for r in reading:
        if r is not None and _inside(pathlib.Path(r).resolve(), real):
            raise BundleError(f"--out {given}: holds {r}, which this command reads; give "
                              f"another --out")
    if out.is_symlink():
        raise BundleError(f"--out {given}: is a symbolic link; give the folder itself")
    if out.exists():
        if not out.is_dir():
            raise BundleError(f"--out {given}: exists and is not a folder; give another --out")
        if not is_empty_dir(out):
            who = owner(out)
            if who is None:
                raise BundleError(f"--out {given}: folder exists and holds files not written "
                                  f"by eie-sim (no {MARKER}); it is never replaced: give "
                                  f"another --out")
            if not force and not (resumable and (out / "sweep.db").is_file()):
                raise BundleError(f"--out {given}: exists and is not empty ({who}); choose "
                                  f"another --out, or --force to replace it")
    ancestor = out.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise BundleError(f"--out {given}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK):
        raise BundleError(f"--out {given}: directory {ancestor} is not writable")
    return out


def new_dir(out: pathlib.Path) -> pathlib.Path:
    """A new empty temporary folder ``.NAME.tmp-PID-XXXX`` beside ``out`` (umask mode)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    os.chmod(tmp, dir_mode())
    return tmp


def replace_dir(new: pathlib.Path, out: pathlib.Path) -> None:
    """Rename the folder ``new`` to ``out``; an existing ``out`` is moved aside first, put
    back if the rename fails, and deleted after it."""
    if not (out.exists() or out.is_symlink()):
        os.rename(new, out)
        return
    aside = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.old-{os.getpid()}-", dir=out.parent))
    try:
        os.rename(out, aside / "x")
    except BaseException:
        aside.rmdir()
        raise
    try:      # (killed between the two renames: clean_stale puts the old folder back)
        os.rename(new, out)
    except BaseException:
        os.rename(aside / "x", out)
        aside.rmdir()
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True          # exists, another user's
    return True


def _restore(out: pathlib.Path, siblings: list[pathlib.Path]) -> None:
    """``out`` is missing and a killed run left the only copy of it aside (``replace_dir``
    killed between its two renames: ``.NAME.old-*/x``; an older version's ``--force``:
    ``.NAME.replaced-*``): the newest such copy is renamed back to ``out``, never deleted."""
    copies = []
    for p in siblings:
        kind = re.match(rf"^\.{re.escape(out.name)}\.(tmp|old|replaced)-", p.name)
        src = p / "x" if kind and kind.group(1) == "old" else p
        if kind and kind.group(1) != "tmp" and src.is_dir() and not src.is_symlink():
            copies.append((src.lstat().st_mtime, src, p))
    if copies:
        _, src, holder = max(copies)
        os.rename(src, out)
        if holder != src:
            shutil.rmtree(holder, ignore_errors=True)


def clean_stale(out: pathlib.Path) -> list[pathlib.Path]:
    """Remove the temporary siblings of ``out`` left by killed runs (see the module
    docstring) and, inside ``out``, the ``.NAME.XXXXXXXX.tmp`` files of killed atomic
    writes older than this process; the paths removed."""
    out = pathlib.Path(os.path.abspath(out))
    pat = re.compile(rf"^\.{re.escape(out.name)}\.(tmp|old|replaced)-(?:(\d+)(?:-|$))?")
    found: list[pathlib.Path] = []
    try:
        found = [p for p in out.parent.iterdir() if pat.match(p.name)]
    except OSError:
        pass
    try:
        if out.is_dir() and not out.is_symlink():
            found += [p for p in out.iterdir() if re.match(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$", p.name)]
    except OSError:
        pass
    if not (out.exists() or out.is_symlink()):     # of a run that is over, not one running
        _restore(out, [p for p in found if p.parent == out.parent and not (
            (m := pat.match(p.name)) and m.group(2) and _running(int(m.group(2))))])
    removed = []
    for p in found:
        try:
            if p.lstat().st_mtime >= _STARTED:
                continue
        except OSError:
            continue
        m = pat.match(p.name)
        if m and m.group(2) and _running(int(m.group(2))) and int(m.group(2)) != os.getpid():
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed
