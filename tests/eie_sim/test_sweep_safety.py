"""Issue 23, the sweep: a config file cannot name a dask scheduler (a hostile one ran code
here), every SQLite/JSON error of the results database is one line with exit 2, a tampered
or damaged database is refused (never exported), Ctrl-C while dask starts is not dropped,
and one eie-sweep at a time per folder (a read-only folder says so)."""
import os
import pathlib
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys

import pytest

import eie_sim.apps.sweep_exec as sweep_exec
from eie_sim.apps.sweep import read_partial, run_sweep
from eie_sim.apps.sweep_db import DB_NAME
from eie_sim.apps.sweep_lock import LOCK_NAME, FolderLock
from eie_sim.arch.config_io import dump_resolved, load_config
from eie_sim.cli.plot import plot_main
from eie_sim.cli.sweep import sweep_main
from eie_sim.errors import BundleError

ROOT = pathlib.Path(__file__).resolve().parents[2]
WL = ("workload:\n  synthetic:\n"
      "    - {name: a, rows: 24, cols: 32, weight_density: 0.2, act_density: 0.6, seed: 3}\n"
      "    - {name: b, rows: 16, cols: 24, weight_density: 0.3, act_density: 1.0, seed: 4}\n")
GRID = WL + "run: {workers: 1}\nsweep:\n  pes: [1, 2, 4]\n  queue_depth: [1, 4]\n"
EXPORTED = ("sweep.csv", "points.csv", "pareto.csv", "report.md", "config.yaml")


def _cfg(tmp_path, text=GRID, name="s.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _one_line(err):
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


# ------------------------------------------------------------ case 1: run.scheduler
def test_a_config_file_cannot_name_a_scheduler(tmp_path, capsys):
    """A file's run.scheduler (and --set run.scheduler=) is refused before anything
    connects: a listening socket named there is never contacted; --scheduler is the way."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(0.5)
    addr = f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    try:
        cfg = _cfg(tmp_path, GRID.replace("run: {workers: 1}", f"run: {{executor: dask, scheduler: '{addr}'}}"))
        assert sweep_main([str(cfg), "--out", str(tmp_path / "o")]) == 2
        err = _one_line(capsys.readouterr().err)
        assert "run.scheduler: refused" in err and "eie-sweep --scheduler" in err
        assert sweep_main([str(_cfg(tmp_path, name="t.yaml")), "--out", str(tmp_path / "o"),
                           "--set", f"run.scheduler={addr}"]) == 2
        assert "run.scheduler: refused" in _one_line(capsys.readouterr().err)
        with pytest.raises(socket.timeout):
            srv.accept()                      # nobody connected
    finally:
        srv.close()
    assert not (tmp_path / "o").exists()
    # the resolved config.yaml of a sweep run with --scheduler loads again (no scheduler)
    import dataclasses
    loaded = load_config(text=GRID)
    loaded = dataclasses.replace(loaded, run=dataclasses.replace(loaded.run, scheduler=addr))
    assert load_config(text=dump_resolved(loaded)).run.scheduler is None


def test_force_replaces_only_a_folder_named_on_the_command_line(tmp_path, capsys):
    victim = tmp_path / "home"
    victim.mkdir()
    (victim / "thesis.tex").write_text("years of work")
    cfg = _cfg(tmp_path, GRID.replace("run: {workers: 1}", f"run: {{workers: 1, out: '{victim}'}}"))
    assert sweep_main([str(cfg), "--force", "--quiet"]) == 2
    assert "--force replaces only a folder named with --out" in _one_line(capsys.readouterr().err)
    assert (victim / "thesis.tex").read_text() == "years of work"


# ------------------------------------------------------------ case 2: the database
class _FullDisk:
    """A connection whose 4th point insert fails as on a full disk."""

    def __init__(self, con, state):
        self._con, self._state = con, state

    def execute(self, sql, *args):
        if sql.startswith("INSERT INTO points"):
            self._state["n"] += 1
            if self._state["n"] == 4:
                raise sqlite3.OperationalError("database or disk is full")
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_a_full_disk_is_one_line_and_keeps_the_finished_points(tmp_path, capsys, monkeypatch):
    cfg, out = _cfg(tmp_path), tmp_path / "o"
    real, state = sqlite3.connect, {"n": 0}
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: _FullDisk(real(*a, **k), state))
    assert sweep_main([str(cfg), "--out", str(out), "--quiet"]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "recording point 3: database or disk is full: free some space" in err, err
    monkeypatch.undo()
    con = sqlite3.connect(out / DB_NAME)
    assert con.execute("SELECT COUNT(*) FROM points").fetchone()[0] == 3
    con.close()
    assert not (out / "sweep.csv").exists() and not (out / LOCK_NAME).exists()
    res = run_sweep(load_config(cfg), out)              # the rerun runs only the rest
    assert res["points"] == 6 and res["ran"] == 3
    run_sweep(load_config(cfg), tmp_path / "ref")
    for f in EXPORTED[:3]:
        assert (out / f).read_bytes() == (tmp_path / "ref" / f).read_bytes(), f


def _finished(tmp_path):
    cfg, out = _cfg(tmp_path), tmp_path / "o"
    run_sweep(load_config(cfg), out)
    return cfg, out


def _sql(out, *statements):
    con = sqlite3.connect(out / DB_NAME)
    with con:
        for s in statements:
            con.execute(s)
    con.close()


TAMPERED = [
    (["DROP TABLE layers"], r"table\(s\) layers missing"),
    (["DELETE FROM layers WHERE point = 2 AND idx = 1"], r"point 2: recorded with 2 layer row\(s\), 1 found"),
    (["UPDATE points SET n_layers = NULL", "DELETE FROM layers WHERE point = 2 AND idx = 1"],
     r"point 2: its figures are not the sums of its layer rows"),       # a database of the old schema
    (["INSERT INTO points SELECT 99, params, config, config_hash, error, figures, wall_s, "
      "finished_unix, n_layers, digest, fits FROM points WHERE point = 0",
      "INSERT INTO layers SELECT 99, idx, layer, cycles, time_us, total_energy_uj, config_hash, data "
      "FROM layers WHERE point = 0"], r"point 99: \{.*\} is not a point of this sweep"),
    (["UPDATE points SET params = '{\"pes\": 4, \"queue_depth\": 4}' WHERE point = 1"],
     r"point 1: recorded as \{'pes': 4, 'queue_depth': 4\}, but this sweep's point 1 is"),
    (["UPDATE points SET config = replace(config, '\"pes\": 1', '\"pes\": 8') WHERE point = 0"],
     r"point 0: its configuration hash does not match its values"),
    (["UPDATE layers SET config_hash = 'x' WHERE point = 3"], r"point 3: a layer row's configuration hash"),
    (["UPDATE layers SET cycles = 1, data = json_set(data, '$.cycles', 1) WHERE point = 4 AND idx = 0"],
     r"point 4: its figures are not the sums of its layer rows"),
    (["UPDATE points SET figures = '{broken' WHERE point = 1"], r"reading the recorded points: a malformed row"),
    (["DELETE FROM meta"], r"points recorded but no meta table entries"),
]


@pytest.mark.parametrize("statements, pattern", TAMPERED)
def test_a_tampered_database_is_refused_not_exported(tmp_path, capsys, statements, pattern):
    """Resuming a finished sweep whose database was edited: exit 2, one line naming the
    point and what does not match, the exported files untouched; eie-plot of the same
    database as an unfinished sweep (read_partial) is refused too."""
    import re
    cfg, out = _finished(tmp_path)
    _sql(out, *statements)
    before = _files(out)
    assert sweep_main([str(cfg), "--out", str(out), "--quiet"]) == 2
    err = _one_line(capsys.readouterr().err)
    assert re.search(pattern, err), err
    assert _files(out) == before
    for f in EXPORTED:                        # unfinished: eie-plot reads the database
        (out / f).unlink()
    (out / "summary.json").unlink()
    with pytest.raises(BundleError):
        read_partial(out)
    assert plot_main([str(out), "--out", str(tmp_path / "p")]) == 2
    assert not (tmp_path / "p").exists()


def test_a_damaged_page_is_one_line(tmp_path, capsys):
    """Bytes of a b-tree page overwritten: the resume and eie-plot say the database is
    damaged (exit 2), no traceback, the exported files untouched."""
    cfg, out = _finished(tmp_path)
    db = out / DB_NAME
    assert not pathlib.Path(f"{db}-wal").exists()      # closed cleanly: all in the file
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) >= 4 * page
    data[2 * page:2 * page + 200] = b"\xa5" * 200      # the third page's header and cells
    db.write_bytes(bytes(data))
    before = _files(out)
    assert sweep_main([str(cfg), "--out", str(out), "--quiet"]) == 2
    err = _one_line(capsys.readouterr().err)
    assert f"{db}: opening it:" in err and "malformed" in err and "--force starts over" in err, err
    assert _files(out) == before
    assert plot_main([str(out), "--out", str(tmp_path / "p")]) == 0     # the exported files
    (out / "sweep.csv").unlink()
    assert plot_main([str(out), "--out", str(tmp_path / "q")]) == 2     # the database
    assert "Traceback" not in capsys.readouterr().err


def test_an_older_database_gets_its_layer_count_column_and_resumes(tmp_path):
    cfg, out = _finished(tmp_path)
    _sql(out, "ALTER TABLE points DROP COLUMN n_layers", "DELETE FROM layers WHERE point = 5",
         "DELETE FROM points WHERE point = 5")
    res = run_sweep(load_config(cfg), out)
    assert res["ran"] == 1 and res["points"] == 6
    con = sqlite3.connect(out / DB_NAME)
    assert con.execute("SELECT point, n_layers FROM points WHERE point IN (0, 5)").fetchall() == [
        (0, None), (5, 2)]
    con.close()


# ------------------------------------------------------------ case 3: Ctrl-C at dask start
def test_ctrl_c_while_the_local_cluster_starts_is_delivered(monkeypatch):
    """A SIGINT arriving while the LocalCluster starts (its workers must not get it) is
    held back, then raised once it has started; the cluster is closed. Before: SIGINT was
    ignored meanwhile and the Ctrl-C lost (the sweep ran to the end, exit 0)."""
    distributed = pytest.importorskip("distributed")
    seen = {}

    class Cluster:
        def __init__(self, **kw):
            seen["blocked"] = signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
            os.kill(os.getpid(), signal.SIGINT)             # Ctrl-C, now
            seen["survived"] = True

        def close(self):
            seen["closed"] = True

    monkeypatch.setattr(distributed, "LocalCluster", Cluster)
    monkeypatch.setattr(distributed, "Client", lambda c: seen.setdefault("client", c))
    old = signal.signal(signal.SIGINT, signal.default_int_handler)   # not the runner's
    try:
        with pytest.raises(KeyboardInterrupt):
            sweep_exec.dask_client(1, None)
    finally:
        signal.signal(signal.SIGINT, old)
    assert seen["blocked"] and seen["survived"] and seen["closed"]
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc/PID/status")
def test_local_cluster_workers_start_with_sigint_blocked_and_survive_it():
    """The real LocalCluster: its worker processes have SIGINT blocked (a terminal's Ctrl-C
    reaches the process group) and keep working after one is sent to them."""
    pytest.importorskip("distributed")
    client, cluster = sweep_exec.dask_client(2, None)
    try:
        pids = sorted(client.run(os.getpid).values())
        for pid in pids:
            blk = next(l for l in open(f"/proc/{pid}/status") if l.startswith("SigBlk:"))
            assert int(blk.split()[1], 16) & (1 << (signal.SIGINT - 1)), blk
            os.kill(pid, signal.SIGINT)
        assert client.submit(sum, [1, 2], pure=False).result(timeout=60) == 3
        assert sorted(client.run(os.getpid).values()) == pids
    finally:
        client.close()
        cluster.close()


# ------------------------------------------------------------ case 4: one sweep per folder
def test_a_second_sweep_into_a_running_folder_is_refused(tmp_path, capsys):
    cfg, out = _finished(tmp_path)
    assert not (out / LOCK_NAME).exists()           # released (and removed) at the end
    before = _files(out)
    lock = FolderLock(out)                           # another eie-sweep, running
    try:
        assert sweep_main([str(cfg), "--out", str(out), "--quiet"]) == 2
        err = _one_line(capsys.readouterr().err)
        assert f"{out}: another eie-sweep is running into this folder (pid {os.getpid()})" in err
        assert {k: v for k, v in _files(out).items() if k != LOCK_NAME} == before
    finally:
        lock.release()
    # starting: the other run has made the folder and taken its lock, no database yet
    new = tmp_path / "n"
    new.mkdir()
    lock = FolderLock(new)
    try:
        assert sweep_main([str(cfg), "--out", str(new), "--quiet"]) == 2
        assert "another eie-sweep is running into this folder" in capsys.readouterr().err
    finally:
        lock.release()
    # a lock file nobody holds (its sweep was killed) does not block
    (out / LOCK_NAME).write_text("12345\n")
    assert sweep_main([str(cfg), "--out", str(out), "--quiet"]) == 0
    assert not (out / LOCK_NAME).exists()


def test_a_read_only_folder_says_so(tmp_path, capsys):
    """A finished sweep's folder that cannot be written, resumed: 'DIR is not writable'
    (before: 'not a readable sweep database ... --force to start over'). As root (who
    writes into a chmod 555 folder anyway) the folder is a read-only bind mount in a
    private mount namespace (unshare -m)."""
    cfg, out = _finished(tmp_path)
    before = _files(out)
    if os.geteuid() != 0:
        out.chmod(0o555)
        try:
            assert sweep_main([str(cfg), "--out", str(out), "--quiet"]) == 2
        finally:
            out.chmod(0o755)
        err = capsys.readouterr().err
    else:
        unshare = shutil.which("unshare")
        if unshare is None:
            pytest.skip("root without unshare: no way to make a folder read-only for root")
        code = ("import sys; from eie_sim.cli.sweep import sweep_main; "
                "sys.exit(sweep_main(sys.argv[1:]))")
        script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
        env = {**os.environ, "PYTHONPATH": str(ROOT),
               "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))}
        r = subprocess.run([unshare, "-m", "sh", "-c", script, "sh", str(out), sys.executable, "-c",
                            code, str(cfg), "--out", str(out), "--quiet"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        if r.returncode != 2 and "mount" in r.stderr and "eie-sweep" not in r.stderr:
            pytest.skip(f"no private read-only mount here: {r.stderr.strip()[:120]}")
        assert r.returncode == 2, r.stderr
        err = r.stderr
    assert f"eie-sweep: error: {out} is not writable" in _one_line(err), err
    assert "not a readable sweep database" not in err
    assert _files(out) == before
