"""Seeds, mutations and targets of the sweep database (``sweep.db``, issue 23).

The seeds are real databases: a small grid sweep (:data:`SWEEP_YAML`: two synthetic
layers, 2 x 2 points, the fast engine, one in-process worker) run by
:func:`eie_sim.apps.sweep.run_sweep`, then made reproducible (wall times, timestamps and
the config's path set to constants, ``VACUUM``): ``full`` holds the 4 points, ``partial``
the first 2 (what a sweep killed after 2 points leaves). Each is fed to two targets:

* ``sweep-plot``: what ``eie-plot`` does with a folder that holds ``sweep.db`` and no
  ``sweep.csv``: :func:`eie_sim.apps.sweep_export.read_partial`, and on every 25th case
  the plots themselves (:func:`eie_sim.output.plots.plot_results`); the folder must be
  byte-identical after (read-only);
* ``sweep-resume``: ``eie-sweep`` into that folder with the same configuration
  (:func:`~eie_sim.apps.sweep.run_sweep`): the missing points run, the tables are
  exported; a refusal must leave no exported table behind.

The mutations: bytes (flipped, set, truncated, spliced), SQLite pages (overwritten with
zeros, random bytes or another page, dropped, the file cut at a page boundary, header
fields edited) and SQL edits made through :mod:`sqlite3` on an in-memory copy: tables
dropped or replaced by views, rows deleted, duplicated, moved to another point index,
numeric columns and JSON values edited, JSON texts corrupted (truncated, nested 100,000
deep, NaN, invalid UTF-8, blobs), hashes and the meta table's version edited, columns
added or renamed, a trigger that rewrites rows on insert.

Outcomes: the database has no checksum of its own (yet), but its content is the sweep's
results, so an export or a partial view that differs from the seed's is ACCEPTED
DIFFERENT (tampered data exported), except where the edit is one a real sweep makes
(whole points removed, the database vacuumed): the result must then equal that of the
edited database (``Case.expect``: ``read_partial`` shows a sweep that has recorded fewer
points, a resume runs them again), even after a further byte mutation.
"""
from __future__ import annotations

import json
import pathlib
import random
import shutil
import sqlite3
import tempfile

from tests.fuzz.importer_cases import _paths

SWEEP_FORMATS = ("sweep-db",)
SWEEP_YAML = """run: {engine: fast, seed: 5, workers: 1}
workload:
  synthetic:
    - {name: fc1, rows: 40, cols: 60, weight_density: 0.2, act_density: 0.5, seed: 1, bias: true}
    - {name: fc2, rows: 12, cols: 40, weight_density: 0.5, act_density: 0.6, seed: 2}
sweep:
  pes: [2, 4]
  queue_depth: [1, 8]
"""
#: the files a finished or resumed sweep exports that the targets compare (no wall times)
EXPORTED = ("sweep.csv", "points.csv", "pareto.csv", "config.yaml")
PAGE = 4096


# ------------------------------------------------------------------------- seeds
def _open(data: bytes) -> sqlite3.Connection:
    """An in-memory copy of a database file (WAL flag cleared: memory databases have no
    WAL; :func:`_close` sets it back)."""
    b = bytearray(data)
    if len(b) > 19 and b[18] == b[19] == 2:
        b[18] = b[19] = 1
    con = sqlite3.connect(":memory:", isolation_level=None)
    con.deserialize(bytes(b))
    return con


def _close(con: sqlite3.Connection) -> bytes:
    b = bytearray(con.serialize())
    con.close()
    if len(b) > 19:
        b[18] = b[19] = 2
    return bytes(b)


def _canonical(data: bytes, keep: int | None = None) -> bytes:
    """The database with its volatile values constant (and only points < ``keep``)."""
    con = _open(data)
    con.execute("UPDATE meta SET value = '0' WHERE key = 'created_unix'")
    meta = json.loads(con.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
    meta["source"] = "sweep.yaml"
    con.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(meta, sort_keys=True),))
    con.execute("UPDATE points SET wall_s = 0.0, finished_unix = 0.0")
    for p, i, d in con.execute("SELECT point, idx, data FROM layers").fetchall():
        con.execute("UPDATE layers SET data = ? WHERE point = ? AND idx = ?",
                    (json.dumps({**json.loads(d), "wall_s": 0.0}), p, i))
    # the points' digests, over the values made constant (what the sweep would have
    # recorded had its wall times been these)
    from eie_sim.apps.sweep_db import _digest
    for row in con.execute("SELECT point, params, config, config_hash, error, figures, fits "
                           "FROM points").fetchall():
        datas = [d for (d,) in con.execute("SELECT data FROM layers WHERE point = ? ORDER BY idx",
                                           (row[0],))]
        con.execute("UPDATE points SET digest = ? WHERE point = ?",
                    (_digest(*row[:6], datas, row[6]), row[0]))
    if keep is not None:
        con.execute("DELETE FROM layers WHERE point >= ?", (keep,))
        con.execute("DELETE FROM points WHERE point >= ?", (keep,))
    con.execute("VACUUM")
    return _close(con)


def build(formats) -> dict:
    """The seeds of ``sweep-db`` when asked for (a real sweep, about half a second)."""
    if "sweep-db" not in formats:
        return {}
    from eie_sim.apps.sweep import run_sweep
    from eie_sim.arch.config_io import load_config
    from tests.fuzz.corpus import Seed
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="eie-fuzz-sweep-"))
    try:
        (tmp / "sweep.yaml").write_text(SWEEP_YAML)
        run_sweep(load_config(tmp / "sweep.yaml"), tmp / "out", quiet=True)
        raw = (tmp / "out" / "sweep.db").read_bytes()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    full, partial = _canonical(raw), _canonical(raw, keep=2)
    info = {"config": SWEEP_YAML}
    return {"sweep-db": [Seed("partial", partial, ".db", "sweep-plot", dict(info)),
                         Seed("full", full, ".db", "sweep-plot", dict(info)),
                         Seed("partial-resume", partial, ".db", "sweep-resume", dict(info)),
                         Seed("full-resume", full, ".db", "sweep-resume", dict(info))]}


# ---------------------------------------------------------------------- mutations
JSON_COLUMNS = (("points", "params"), ("points", "config"), ("points", "figures"),
                ("layers", "data"), ("meta", "value"))
BAD_JSON = ('', '{"pes": 2', 'null', '[]', '"text"', '{"a": NaN}', '1e999', '{"pes": 2, "pes": 3}',
            "[" * 100_000 + "]" * 100_000, '{"a": ' * 5000 + "1" + "}" * 5000, "\ud800",
            b"\xff\xfe{}", b"{}", "x" * 100_000)
EDGE = (None, -1, 0, 1e308, float("inf"), float("nan"), 2 ** 63 - 1, "text", "", True, [], {},
        [1, 2], b"\x00\xff")


def _edit_json(r: random.Random, text: str) -> tuple[str, str]:
    obj = json.loads(text)
    path = r.choice(list(_paths(obj))[1:] or [()])
    if not path:
        return json.dumps(r.choice(EDGE[:-1])), "whole"
    parent = obj
    for k in path[:-1]:
        parent = parent[k]
    last, old = path[-1], parent[path[-1]]
    op = r.choice(("value", "value", "drop", "add"))
    if op == "drop":
        del parent[last]
    elif op == "add" and isinstance(parent, dict):
        parent["extra_" + str(last)] = 1
    elif isinstance(old, (int, float)) and not isinstance(old, bool) and r.random() < 0.5:
        parent[last] = r.choice((old + 1, -old, old * 1000, old / 3, float(old)))
    else:
        parent[last] = r.choice(EDGE[:-1])
    return json.dumps(obj, allow_nan=True), f"{op}@{'.'.join(map(str, path))[:40]}"


def _sql_edit(r: random.Random, con: sqlite3.Connection) -> tuple[str, bool]:
    """One SQL-level edit; returns (what, legit: an edit a real sweep makes)."""
    pts = [p for (p,) in con.execute("SELECT point FROM points ORDER BY point")]
    p = r.choice(pts) if pts else 0
    op = r.choice(("drop-table", "delete-point", "delete-point", "delete-points-row",
                   "delete-layer-row", "delete-meta", "dup-point", "dup-layer", "move-point",
                   "edit-column", "edit-json", "edit-json", "edit-json", "corrupt-json",
                   "edit-hash", "error", "schema", "version", "vacuum"))
    if op == "drop-table":
        t = r.choice(("meta", "points", "layers"))
        con.execute(f"DROP TABLE {t}")
        if r.random() < 0.3:
            con.execute(f"CREATE VIEW {t} AS SELECT 1 AS x")
        return f"{op} {t}", False
    if op == "delete-point":               # what a sweep that recorded fewer points holds
        con.execute("DELETE FROM layers WHERE point = ?", (p,))
        con.execute("DELETE FROM points WHERE point = ?", (p,))
        return f"{op} {p}", True
    if op == "delete-points-row":
        con.execute("DELETE FROM points WHERE point = ?", (p,))
        return f"{op} {p}", False
    if op == "delete-layer-row":
        i = r.randrange(2)
        con.execute("DELETE FROM layers WHERE point = ? AND idx = ?", (p, i))
        return f"{op} {p}/{i}", False
    if op == "delete-meta":
        k = r.choice(("version", "sweep_hash", "config", "created_unix", "*"))
        con.execute("DELETE FROM meta" + ("" if k == "*" else " WHERE key = ?"), () if k == "*" else (k,))
        return f"{op} {k}", False
    if op == "dup-point":                  # a copy of point p under another index
        j = r.choice((2, 3, 99, -1, 2 ** 40))
        con.execute("DELETE FROM layers WHERE point = ?", (j,))
        con.execute("DELETE FROM points WHERE point = ?", (j,))
        con.execute("INSERT INTO points (point, params, config, config_hash, error, figures, "
                    "wall_s, finished_unix) SELECT ?, params, config, config_hash, error, "
                    "figures, wall_s, finished_unix FROM points WHERE point = ?", (j, p))
        if r.random() < 0.7:
            con.execute("INSERT INTO layers SELECT ?, idx, layer, cycles, time_us, total_energy_uj, "
                        "config_hash, data FROM layers WHERE point = ?", (j, p))
        return f"{op} {p}->{j}", False
    if op == "dup-layer":
        i = r.choice((2, 5, -1))
        con.execute("INSERT INTO layers SELECT point, ?, layer, cycles, time_us, total_energy_uj, "
                    "config_hash, data FROM layers WHERE point = ? AND idx = 0", (i, p))
        return f"{op} {p}/0->{i}", False
    if op == "move-point":                 # rows of point p claim another index
        j = r.choice([q for q in (0, 1, 2, 3) if q != p])
        con.execute("UPDATE layers SET point = -7 WHERE point = ?", (j,))
        con.execute("UPDATE points SET point = -7 WHERE point = ?", (j,))
        for t in ("layers", "points"):
            con.execute(f"UPDATE {t} SET point = ? WHERE point = ?", (j, p))
            con.execute(f"UPDATE {t} SET point = ? WHERE point = -7", (p,))
        return f"{op} {p}<->{j}", False
    if op == "edit-column":
        t, c = r.choice((("layers", "cycles"), ("layers", "time_us"), ("layers", "total_energy_uj"),
                         ("layers", "layer"), ("points", "wall_s"), ("points", "point"),
                         ("layers", "idx")))
        v = r.choice(EDGE)
        v = json.dumps(v) if isinstance(v, (list, dict)) else v
        con.execute(f"UPDATE {t} SET {c} = ? WHERE rowid = (SELECT min(rowid) FROM {t})", (v,))
        return f"{op} {t}.{c}={v!r:.20}", False
    if op in ("edit-json", "corrupt-json"):
        t, c = r.choice(JSON_COLUMNS)
        key = "key = 'config'" if t == "meta" else "rowid = (SELECT min(rowid) FROM %s)" % t
        row = con.execute(f"SELECT {c} FROM {t} WHERE {key}").fetchone()
        if row is None:
            return f"{op} (no row)", False
        if op == "edit-json":
            new, where = _edit_json(r, row[0])
        else:
            new = r.choice(BAD_JSON)
            where = repr(new[:12])
            if isinstance(new, str) and "\ud800" in new:
                new = new.encode("utf-8", "surrogatepass")          # invalid UTF-8 text
        con.execute(f"UPDATE {t} SET {c} = ? WHERE {key}", (new,))
        return f"{op} {t}.{c} {where}", False
    if op == "edit-hash":
        t = r.choice(("points", "layers", "meta"))
        if t == "meta":
            con.execute("UPDATE meta SET value = '0123456789abcdef' WHERE key = 'sweep_hash'")
        else:
            con.execute(f"UPDATE {t} SET config_hash = 'ffffffffffffffff' WHERE point = ?", (p,))
        return f"{op} {t}", False
    if op == "error":
        con.execute("UPDATE points SET error = ? WHERE point = ?",
                    (r.choice(("boom", "", "x\ny", 12)), p))
        return f"{op} {p}", False
    if op == "schema":
        sub = r.choice(("add-column", "rename-column", "trigger", "no-key"))
        if sub == "add-column":
            con.execute("ALTER TABLE layers ADD COLUMN extra TEXT DEFAULT 'x'")
        elif sub == "rename-column":
            t, c = r.choice((("layers", "data"), ("points", "params"), ("meta", "value")))
            con.execute(f"ALTER TABLE {t} RENAME COLUMN {c} TO {c}2")
        elif sub == "trigger":          # rewrites recorded rows when a resume inserts
            con.execute("CREATE TRIGGER t AFTER INSERT ON points BEGIN UPDATE layers SET data = "
                        "replace(data, '\"cycles\": 1', '\"cycles\": 9') ; END")
        else:                           # the primary key gone: duplicate rows possible
            con.execute("CREATE TABLE l2 AS SELECT * FROM layers")
            con.execute("DROP TABLE layers")
            con.execute("ALTER TABLE l2 RENAME TO layers")
            con.execute("INSERT INTO layers SELECT * FROM layers WHERE point = ?", (p,))
        return f"{op} {sub}", False
    if op == "version":
        v = r.choice(("2", "0", "x", ""))
        con.execute("UPDATE meta SET value = ? WHERE key = 'version'", (v,))
        return f"{op} {v!r}", False
    con.execute("VACUUM")
    return op, True


def _page_edit(r: random.Random, data: bytes) -> tuple[bytes, str]:
    b = bytearray(data)
    n = max(1, len(b) // PAGE)
    k = r.randrange(n)
    op = r.choice(("zero", "random", "copy", "drop", "cut", "header"))
    at = slice(k * PAGE, (k + 1) * PAGE)
    if op == "zero":
        b[at] = bytes(len(b[at]))
    elif op == "random":
        b[at] = r.randbytes(len(b[at]))
    elif op == "copy":
        j = r.randrange(n)
        b[at] = data[j * PAGE:(j + 1) * PAGE]
        op += f" {j}"
    elif op == "drop":
        del b[at]
    elif op == "cut":
        return data[:k * PAGE], f"page:cut@{k}"
    else:                                   # page size, counts, cookies, encoding, WAL flags
        off, size = r.choice(((16, 2), (18, 1), (19, 1), (20, 1), (28, 4), (32, 4), (36, 4),
                              (40, 4), (44, 4), (52, 4), (56, 4), (92, 4), (96, 4)))
        val = r.choice((0, 1, 2, 3, 255, 65535, 2 ** 31 - 1, 2 ** 32 - 1)) % (1 << 8 * size)
        b[off:off + size] = val.to_bytes(size, "big")
        return bytes(b), f"page:header@{off}={val}"
    return bytes(b), f"page:{op}@{k}"


def sweepdb_mutate(r: random.Random, seed, others, generic) -> tuple[bytes, str, bool]:
    """One mutation of a sweep database: (data, what, legit: an edit a real sweep makes,
    whose reading is the expected one)."""
    kind = r.random()
    if kind < 0.25:
        data, what = generic(r, seed.data, others)
        return data, what, False
    if kind < 0.4:
        data, what = _page_edit(r, seed.data)
        return data, what, False
    con = _open(seed.data)
    try:
        what, legit = _sql_edit(r, con)
        if not legit and r.random() < 0.2:   # a second edit on top
            w2, _ = _sql_edit(r, con)
            what += " + " + w2
        return _close(con), "sql:" + what, legit
    except sqlite3.Error as exc:              # the edit itself is impossible here
        con.close()
        return seed.data, f"sql:none ({exc})", False


# ------------------------------------------------------------------------- targets
def _snapshot(folder: pathlib.Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _fresh(path: str, name: str) -> pathlib.Path:
    folder = pathlib.Path(path).parent / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    shutil.copyfile(path, folder / "sweep.db")
    return folder


def run_plot(path: str, also_plots: bool = False):
    """``eie-plot`` on a folder holding the database at ``path`` and no exported tables:
    the partial tables (and, with ``also_plots``, the names of the plots made)."""
    from eie_sim.apps.sweep_export import read_partial
    folder = _fresh(path, "sweep-plot")
    before = _snapshot(folder)
    res = read_partial(folder)
    key = (res["files"], res["done"], res["total"], res["note"])
    if also_plots:
        from eie_sim.output.plots import plot_results
        made = plot_results(folder, folder.parent / "sweep-plots", force=True, partial=res)
        key = (key, sorted(pathlib.Path(m).name for m in made))
    if _snapshot(folder) != before:
        raise AssertionError(f"eie-plot wrote into the sweep folder: {sorted(_snapshot(folder))}")
    return key


_LOADED: dict = {}


def run_resume(path: str, config: str):
    """``eie-sweep`` resumed into a folder holding the database at ``path``, with the
    sweep's own configuration: the exported tables. A refusal must export nothing."""
    from eie_sim.apps.sweep import run_sweep
    from eie_sim.arch.config_io import load_config
    if config not in _LOADED:
        cfg = pathlib.Path(path).parent / "sweep.yaml"
        cfg.write_text(config)
        _LOADED[config] = load_config(cfg)
    folder = _fresh(path, "sweep-resume")
    try:
        run_sweep(_LOADED[config], folder, quiet=True)
    except Exception:
        left = [n for n in EXPORTED if (folder / n).exists()]
        if left:
            raise AssertionError(f"a refused resume left exported files: {left}") from None
        raise
    return {n: (folder / n).read_text() for n in EXPORTED}
