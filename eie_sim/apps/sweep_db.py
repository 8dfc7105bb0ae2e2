"""The results database of a sweep folder: ``sweep.db`` (SQLite, WAL mode).

The resumable record of a sweep: every finished point is committed in one transaction
(its row in ``points`` and one row per layer in ``layers``), so a sweep killed with
SIGKILL, interrupted with Ctrl-C or losing a worker keeps every point it finished, and a
rerun into the same folder runs only the missing ones. Primary keys ``points(point)`` and
``layers(point, idx)`` make a duplicated row impossible; a point that arrives twice (a
task rerun after a lost worker) is kept once.

Tables (docs/cluster.md, "The results database")::

    meta(key, value)            sweep_hash, the resolved configuration (JSON), version
    points(point, params, config, config_hash, error, figures, wall_s, finished_unix,
           n_layers, digest)
    layers(point, idx, layer, cycles, time_us, energy_uj, config_hash, data)

``params`` is the point's swept keys (JSON), ``config`` its resolved architecture (JSON),
``config_hash`` the hash of both, ``figures`` the per-inference figures
(:func:`eie_sim.apps.sweep_points.point_figures`), ``n_layers`` the number of its layer
rows (added by this version: a database of an older one gets the column on its next run,
NULL for the points it recorded), ``digest`` the SHA-256 of everything recorded for the
point (its row and its layer rows as stored; added by this version the same way), ``data``
the whole layer row
(:meth:`eie_sim.sim.results.LayerResult.to_dict`) as JSON: the columns are whatever the
rows carry, not a frozen list. The database belongs to one sweep: opening it for a sweep
of another configuration (another ``sweep_hash``) is refused.

**Nothing untrusted is exported.** :meth:`SweepDB.points` checks every recorded point
before it is used (resume, export, ``eie-plot`` of an unfinished sweep): its layer rows
numbered ``0..n-1`` (``n_layers`` of them where recorded), its digest where recorded,
none for a failed point, each
with its point's configuration hash; its figures' cycles, time and energy the sums of its
layer rows; no layer row without its point; and, given the sweep's expected points, its
index one of the sweep's, its swept values those of that index and its configuration and
hash recomputed from them. A mismatch (an edited or damaged database) is refused with a
:class:`~eie_sim.errors.BundleError`. So is every SQLite or JSON error of the database
(a full disk, a damaged page, a malformed row, a missing table): one line saying what
happened and what to do, exit status 2, the points committed before kept.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import pathlib
import shutil
import sqlite3
import tempfile
import time
import urllib.parse

from typing import Callable

from eie_sim.apps.sweep_points import PointResult, SweepPoint, recorded_config
from eie_sim.errors import BundleError, ConfigError, EIEError

DB_NAME = "sweep.db"
DB_VERSION = "1"

#: what a recorded point must be: (index, swept values) -> its SweepPoint, None: not one
Expect = Callable[[int, dict], "SweepPoint | None"]
#: start over, or leave the folder as it is
START_OVER = "eie-sweep --force starts over, or choose another --out"
TABLES = ("meta", "points", "layers")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    point INTEGER PRIMARY KEY, params TEXT NOT NULL, config TEXT NOT NULL,
    config_hash TEXT NOT NULL, error TEXT NOT NULL, figures TEXT NOT NULL,
    wall_s REAL, finished_unix REAL, n_layers INTEGER, digest TEXT);
CREATE TABLE IF NOT EXISTS layers (
    point INTEGER NOT NULL REFERENCES points(point), idx INTEGER NOT NULL,
    layer TEXT NOT NULL, cycles REAL, time_us REAL, energy_uj REAL,
    config_hash TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (point, idx));
"""


class SweepDB:
    """One sweep folder's database (see the module docstring)."""

    def __init__(self, path: str | pathlib.Path, sweep_hash: str, config: dict):
        self.path = pathlib.Path(path)
        self.con = None
        self._tmp = None
        try:
            with self._sql("opening it"):
                meta = self._open(sweep_hash, config)
            if meta.get("sweep_hash") != sweep_hash:
                raise ConfigError(
                    f"{self.path}: this folder holds a different sweep (configuration hash "
                    f"{meta.get('sweep_hash')}, this one {sweep_hash}); resume it with its own "
                    f"config.yaml, or choose another --out, or --force to start over")
            with self._sql("opening it"):
                cols = self._columns("points")
                for col, kind in (("n_layers", "INTEGER"), ("digest", "TEXT")):
                    if col not in cols:                     # written by an older version
                        self.con.execute(f"ALTER TABLE points ADD COLUMN {col} {kind}")
        except BaseException:
            self.close()
            raise

    def _open(self, sweep_hash: str, config: dict) -> dict:
        """Connect, check (or create) the tables; the meta table (new: written)."""
        self.con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        tables = self._tables()
        if tables and not set(TABLES) <= tables:
            raise self._untrusted(f"table(s) {', '.join(sorted(set(TABLES) - tables))} missing")
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=NORMAL")
        if tables:
            self._quick_check()
        else:
            self.con.executescript(_SCHEMA)
        meta = dict(self.con.execute("SELECT key, value FROM meta"))
        if meta:
            return meta
        if self.con.execute("SELECT 1 FROM points LIMIT 1").fetchone():
            raise self._untrusted("points recorded but no meta table entries")
        meta = {"version": DB_VERSION, "sweep_hash": sweep_hash,
                "config": json.dumps(config, sort_keys=True, default=str),
                "created_unix": repr(time.time())}
        with self.transaction():
            self.con.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
        return meta

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
            self._quick_check()
        except (sqlite3.Error, OSError) as exc:
            self.close()
            text = " ".join(str(exc).split())[:200]          # one line
            raise BundleError(f"{self.path}: not a readable sweep database ({text}); "
                              f"{START_OVER}") from None
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

    def _quick_check(self) -> None:
        """SQLite's ``quick_check``: a damaged page is an error here, not a wrong row later."""
        (check,) = self.con.execute("PRAGMA quick_check(1)").fetchone()
        if check != "ok":
            raise sqlite3.DatabaseError(f"database disk image is malformed ("
                                        f"{check.replace('*** in database main ***', '')})")

    def _tables(self) -> set[str]:
        return {n for (n,) in self.con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _columns(self, table: str) -> list[str]:
        return [r[1] for r in self.con.execute(f"PRAGMA table_info({table})")]

    @contextlib.contextmanager
    def _sql(self, doing: str):
        """SQLite and JSON errors of the database as one-line :class:`BundleError`s."""
        try:
            yield
        except EIEError:
            raise
        except (sqlite3.Error, ValueError, TypeError, KeyError, RecursionError) as exc:
            raise self._failed(exc, doing) from None

    def _failed(self, exc: BaseException, doing: str) -> BundleError:
        text = " ".join(str(exc).split())[:200] or type(exc).__name__     # one line
        low = text.lower()
        if not isinstance(exc, sqlite3.Error):
            hint = f"a malformed row ({type(exc).__name__}: {text[:80]}): the database was edited or damaged; {START_OVER}"
        elif "full" in low:
            hint = (f"{text}: free some space, then rerun the same command (the points "
                    f"finished before are kept)")
        elif "readonly" in low or "unable to open" in low or "permission" in low:
            hint = f"{text}: {self.path.parent} or {self.path.name} is not writable"
        elif "locked" in low or "busy" in low:
            hint = f"{text}: another process is writing it; wait for it, or choose another --out"
        else:
            hint = f"{text}: the database is damaged; {START_OVER}"
        return BundleError(f"{self.path}: {doing}: {hint}")

    def _untrusted(self, why: str) -> BundleError:
        return BundleError(f"{self.path}: {why}: the database does not match this sweep "
                           f"(edited, damaged, or the sweep's keys given in another order), "
                           f"nothing exported; {START_OVER}")

    def transaction(self):
        return _Tx(self.con)

    def done(self) -> set[int]:
        """The indices of the points already recorded."""
        with self._sql("reading it"):
            return {p for (p,) in self.con.execute("SELECT point FROM points")}

    def key_order(self) -> list[str]:
        """The swept keys in the sweep's order (the meta table keeps its configuration
        as sorted JSON; a point's ``params`` keeps the order): those of the first recorded
        point, [] when none is."""
        with self._sql("reading it"):
            row = self.con.execute("SELECT params FROM points ORDER BY point LIMIT 1").fetchone()
            return list(json.loads(row[0])) if row else []

    def add(self, point: SweepPoint, res: PointResult) -> bool:
        """Record one finished point (its swept values, resolved architecture and hash
        from ``point``; ``res``'s rows, figures, error and wall time) in one transaction;
        False (and nothing written) when the point is already recorded."""
        h = point.config_hash
        with self._sql(f"recording point {res.index}"), self.transaction():
            if self.con.execute("SELECT 1 FROM points WHERE point = ?", (res.index,)).fetchone():
                return False
            params_t = json.dumps(point.params)
            config_t = json.dumps(recorded_config(point.config), sort_keys=True)
            figs_t = json.dumps(res.figures)
            datas = [json.dumps(r) for r in res.rows]
            self.con.execute(
                "INSERT INTO points (point, params, config, config_hash, error, figures, "
                "wall_s, finished_unix, n_layers, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (res.index, params_t, config_t, h, res.error, figs_t, res.wall_s, time.time(),
                 len(res.rows), _digest(res.index, params_t, config_t, h, res.error, figs_t,
                                        datas)))
            self.con.executemany(
                "INSERT INTO layers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(res.index, i, r.get("layer", ""), r.get("cycles"), r.get("time_us"),
                  r.get("energy_uj"), h, d) for i, (r, d) in enumerate(zip(res.rows, datas))])
        return True

    def points(self, expect: Expect | None = None) -> list[PointResult]:
        """Every recorded point in index order, with its layer rows, each checked (module
        docstring; ``expect``: what each point of the sweep must be)."""
        with self._sql("reading the recorded points"):
            cols = self._columns("points")
            n_col = "n_layers" if "n_layers" in cols else "NULL"
            d_col = "digest" if "digest" in cols else "NULL"
            recorded = list(self.con.execute(
                f"SELECT point, params, config, config_hash, error, figures, wall_s, {n_col}, "
                f"{d_col} FROM points ORDER BY point"))
            layers: dict[int, list[tuple]] = {}
            for p, idx, h, data in self.con.execute(
                    "SELECT point, idx, config_hash, data FROM layers ORDER BY point, idx"):
                layers.setdefault(p, []).append((idx, h, data))
            out = [self._checked(row, layers.pop(row[0], []), expect) for row in recorded]
            if layers:
                raise self._untrusted(f"layer rows of point {min(layers)}, which is not recorded")
            return out

    def _checked(self, row: tuple, lays: list[tuple], expect: Expect | None) -> PointResult:
        p, params_t, config_t, h, err, figs_t, wall, n, digest = row
        params, figs = json.loads(params_t), json.loads(figs_t)
        if not isinstance(params, dict) or not isinstance(figs, dict) or not isinstance(err, str):
            raise self._untrusted(f"point {p}: malformed values")
        rows = [json.loads(d) for _, _, d in lays]
        bad = None
        if [i for i, _, _ in lays] != list(range(len(lays))):
            bad = f"layer rows numbered {[i for i, _, _ in lays][:8]}, not 0..{len(lays) - 1}"
        elif n is not None and n != len(lays):
            bad = f"recorded with {n} layer row(s), {len(lays)} found"
        elif any(lh != h for _, lh, _ in lays):
            bad = "a layer row's configuration hash is not its point's"
        elif not all(isinstance(r, dict) for r in rows):
            bad = "a malformed layer row"
        elif err and rows:
            bad = "a failed point with layer rows"
        elif not err and not rows:
            bad = "no layer rows"
        elif not err and not _sums_match(figs, rows):
            bad = "its figures are not the sums of its layer rows"
        elif expect is not None:
            pt = expect(p, params)
            if pt is None:
                bad = f"{params} is not a point of this sweep"
            elif _canon(pt.params) != _canon(params):
                bad = f"recorded as {params}, but this sweep's point {p} is {pt.params}"
            elif pt.config_hash != h or json.loads(config_t) != recorded_config(pt.config):
                bad = "its configuration hash does not match its values"
        if not bad and digest is not None and digest != _digest(
                p, params_t, config_t, h, err, figs_t, [d for _, _, d in lays]):
            bad = "its stored values are not those recorded (their digest differs)"
        if bad:
            raise self._untrusted(f"point {p}: {bad}")
        return PointResult(p, params, rows, figs, err, wall)

    def close(self) -> None:
        try:
            if self.con is not None:
                self.con.close()
        except sqlite3.Error:
            pass
        self.con = None
        if getattr(self, "_tmp", None) is not None:
            self._tmp.cleanup()
            self._tmp = None


def _digest(point: int, params_t: str, config_t: str, config_hash: str, error: str,
            figures_t: str, datas: list[str]) -> str:
    """SHA-256 of everything recorded for a point (its row and its layer rows, as stored):
    an edited or damaged value is found when the point is read back (not a secret: it
    guards against damage and edits by hand, not against someone who recomputes it)."""
    h = hashlib.sha256()
    for part in (str(point), params_t, config_t, config_hash, error, figures_t, *datas):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def _canon(params: dict) -> str:
    return json.dumps(params, sort_keys=True)


def _sums_match(figs: dict, rows: list[dict]) -> bool:
    """The point's cycles, time and energy (those its figures hold) are the sums of its
    layer rows' (as :func:`eie_sim.apps.sweep_points.point_figures` computed them)."""
    for key in ("cycles", "time_us", "energy_uj"):
        if key in figs:
            total = sum(float(r[key]) for r in rows)
            if not _same(figs[key], total):
                return False
    return True


def _same(a, b: float) -> bool:
    return isinstance(a, (int, float)) and math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)


class _Tx:
    def __init__(self, con):
        self.con = con

    def __enter__(self):
        self.con.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, exc, tb):
        if kind is None:
            self.con.execute("COMMIT")
            return
        try:
            self.con.execute("ROLLBACK")
        except sqlite3.Error:          # the failure that brought us here ended it already
            pass
