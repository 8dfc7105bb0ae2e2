"""The results database of a sweep folder: ``sweep.db`` (SQLite, WAL mode).

The resumable record of a sweep: every finished point is committed in one transaction
(its row in ``points`` and one row per layer in ``layers``), so a sweep killed with
SIGKILL, interrupted with Ctrl-C or losing a worker keeps every point it finished, and a
rerun into the same folder runs only the missing ones. Primary keys ``points(point)`` and
``layers(point, idx)`` make a duplicated row impossible; a point that arrives twice (a
task rerun after a lost worker) is kept once.

Tables (docs/cluster.md, "The results database")::

    meta(key, value)            sweep_hash, the resolved configuration (JSON), version
    points(point, params, config, config_hash, error, figures, wall_s)
    layers(point, idx, layer, cycles, time_us, energy_uj, config_hash, data)

``params`` is the point's swept keys (JSON), ``config`` its resolved architecture (JSON),
``config_hash`` the hash of both, ``figures`` the per-inference figures
(:func:`eie_sim.apps.sweep_points.point_figures`), ``data`` the whole layer row
(:meth:`eie_sim.sim.results.LayerResult.to_dict`) as JSON: the columns are whatever the
rows carry, not a frozen list. The database belongs to one sweep: opening it for a sweep
of another configuration (another ``sweep_hash``) is refused.
"""
from __future__ import annotations

import json
import pathlib
import shutil
import sqlite3
import tempfile
import time
import urllib.parse

from eie_sim.apps.sweep_points import PointResult, SweepPoint
from eie_sim.errors import BundleError, ConfigError

DB_NAME = "sweep.db"
DB_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    point INTEGER PRIMARY KEY, params TEXT NOT NULL, config TEXT NOT NULL,
    config_hash TEXT NOT NULL, error TEXT NOT NULL, figures TEXT NOT NULL,
    wall_s REAL, finished_unix REAL);
CREATE TABLE IF NOT EXISTS layers (
    point INTEGER NOT NULL REFERENCES points(point), idx INTEGER NOT NULL,
    layer TEXT NOT NULL, cycles REAL, time_us REAL, energy_uj REAL,
    config_hash TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (point, idx));
"""


class SweepDB:
    """One sweep folder's database (see the module docstring)."""

    def __init__(self, path: str | pathlib.Path, sweep_hash: str, config: dict):
        self.path = pathlib.Path(path)
        try:
            self.con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=NORMAL")
            self.con.executescript(_SCHEMA)
            meta = dict(self.con.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            raise BundleError(f"{self.path}: not a readable sweep database ({exc}); "
                              f"use another --out, or --force to start over") from None
        if not meta:
            with self.transaction():
                self.con.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("version", DB_VERSION), ("sweep_hash", sweep_hash),
                    ("config", json.dumps(config, sort_keys=True, default=str)),
                    ("created_unix", repr(time.time()))])
        elif meta.get("sweep_hash") != sweep_hash:
            self.close()
            raise ConfigError(
                f"{self.path}: this folder holds a different sweep (configuration hash "
                f"{meta.get('sweep_hash')}, this one {sweep_hash}); resume it with its own "
                f"config.yaml, or choose another --out, or --force to start over")

    @classmethod
    def open_read_only(cls, path: str | pathlib.Path) -> "SweepDB":
        """The database at ``path`` opened read-only, for reading a sweep's points while
        it runs or after it was killed, writing nothing into its folder (measured: every
        file of the folder byte-identical after). SQLite's plain ``mode=ro`` would still
        create ``-wal``/``-shm`` files and write the shared-memory index, so: with a
        ``-wal`` and ``-shm`` beside it (a sweep running or killed) ``mode=ro`` with
        ``readonly_shm=1``; with no ``-wal`` (closed cleanly: everything is in the main
        file) ``mode=ro`` with ``immutable=1``; a ``-wal`` without ``-shm`` is read from
        a private copy in a temporary folder. Refuses a file that is not a sweep database."""
        self = cls.__new__(cls)
        self.path = pathlib.Path(path)
        self.con = None
        self._tmp = None
        try:
            self.con = self._connect_read_only()
            self.meta = dict(self.con.execute("SELECT key, value FROM meta"))
            self.con.execute("SELECT 1 FROM points LIMIT 1").fetchall()
            self.con.execute("SELECT 1 FROM layers LIMIT 1").fetchall()
        except (sqlite3.Error, OSError) as exc:
            self.close()
            raise BundleError(f"{self.path}: not a readable sweep database ({exc})") from None
        if "config" not in self.meta or "sweep_hash" not in self.meta:
            self.close()
            raise BundleError(f"{self.path}: not a sweep database (no sweep configuration "
                              f"in its meta table)")
        return self

    def _connect_read_only(self) -> sqlite3.Connection:
        wal = pathlib.Path(f"{self.path}-wal")
        shm = pathlib.Path(f"{self.path}-shm")
        src = self.path.resolve()
        if wal.exists() and shm.exists():
            flags = "mode=ro&readonly_shm=1"
        elif not wal.exists():
            flags = "mode=ro&immutable=1"
        else:                             # a -wal without its index: read a private copy
            self._tmp = tempfile.TemporaryDirectory(prefix="eie-sweepdb-")
            src = pathlib.Path(self._tmp.name) / DB_NAME
            shutil.copyfile(self.path, src)
            shutil.copyfile(wal, f"{src}-wal")
            flags = "mode=ro"
        uri = "file:" + urllib.parse.quote(str(src)) + "?" + flags
        return sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)

    def transaction(self):
        return _Tx(self.con)

    def done(self) -> set[int]:
        """The indices of the points already recorded."""
        return {p for (p,) in self.con.execute("SELECT point FROM points")}

    def add(self, point: SweepPoint, res: PointResult) -> bool:
        """Record one finished point (its swept values, resolved architecture and hash
        from ``point``; ``res``'s rows, figures, error and wall time) in one transaction;
        False (and nothing written) when the point is already recorded."""
        h = point.config_hash
        with self.transaction():
            if self.con.execute("SELECT 1 FROM points WHERE point = ?", (res.index,)).fetchone():
                return False
            self.con.execute(
                "INSERT INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (res.index, json.dumps(point.params),
                 json.dumps(point.config.as_dict(), sort_keys=True), h, res.error,
                 json.dumps(res.figures), res.wall_s, time.time()))
            self.con.executemany(
                "INSERT INTO layers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(res.index, i, r.get("layer", ""), r.get("cycles"), r.get("time_us"),
                  r.get("energy_uj"), h, json.dumps(r)) for i, r in enumerate(res.rows)])
        return True

    def points(self) -> list[PointResult]:
        """Every recorded point in index order, with its layer rows."""
        rows: dict[int, list[dict]] = {}
        for p, data in self.con.execute("SELECT point, data FROM layers ORDER BY point, idx"):
            rows.setdefault(p, []).append(json.loads(data))
        return [PointResult(p, json.loads(params), rows.get(p, []), json.loads(figs), err, wall)
                for p, params, err, figs, wall in self.con.execute(
                    "SELECT point, params, error, figures, wall_s FROM points ORDER BY point")]

    def close(self) -> None:
        try:
            if self.con is not None:
                self.con.close()
        except sqlite3.Error:
            pass
        if getattr(self, "_tmp", None) is not None:
            self._tmp.cleanup()
            self._tmp = None


class _Tx:
    def __init__(self, con):
        self.con = con

    def __enter__(self):
        self.con.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, exc, tb):
        self.con.execute("COMMIT" if kind is None else "ROLLBACK")
