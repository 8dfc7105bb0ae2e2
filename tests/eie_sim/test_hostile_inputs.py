"""Issue 17, the simulator's readers and tools: every fuzz finding as a regression test.

npz layers (raw members, big-endian codes, bombs), non-finite numbers, YAML (aliases,
nesting, devices, tags, NUL bytes, a value where a section belongs), sweeps (a cap on
points, every point failing, workers that die with their parent).
"""
import io
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from eie_sim import api
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.config_io import MAX_SWEEP_POINTS, load_config
from eie_sim.arch.energy import EnergyTable
from eie_sim.arch.yaml_doc import MAX_YAML_BYTES
from eie_sim.cli.simulate import simulate_main
from eie_sim.cli.sweep import sweep_main
from eie_sim.errors import ConfigError, SimulationMismatch, WorkloadError
from eie_sim.sim.stages import check_outputs, prepare, quantize_inputs, run_engine
from eie_sim.workloads.files import from_npz, load_input
from eie_sim.workloads.layer import LayerWorkload

BIN = os.path.dirname(sys.executable)


def _layer_arrays(seed=0):
    rng = np.random.default_rng(seed)
    codes = (rng.integers(1, 16, size=(8, 6)) * (rng.random((8, 6)) < 0.5)).astype(np.uint8)
    cb = np.concatenate([[0.0], np.sort(rng.normal(size=15))]).astype(np.float32)
    return codes, cb, rng.normal(size=8).astype(np.float32), rng.random(6)


def _one_line_exit_2(rc, err, out=None):
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    if out is not None:
        assert not os.path.exists(out)


def _cli(main, args, capsys):
    rc = main([str(a) for a in args])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


# ------------------------------------------------------------ finding 4: npz layers
def test_npz_member_that_is_not_npy_is_a_workload_error(tmp_path):
    codes, cb, _, _ = _layer_arrays()
    buf = io.BytesIO()
    np.save(buf, cb)
    with zipfile.ZipFile(tmp_path / "raw.npz", "w") as z:
        z.writestr("codes", b"not an array")          # numpy would hand back these bytes
        z.writestr("codebook.npy", buf.getvalue())
    with pytest.raises(WorkloadError, match=r"raw\.npz: member 'codes' is not a \.npy array"):
        from_npz(tmp_path / "raw.npz")


def test_npz_big_endian_codes_are_converted_and_run(tmp_path, capsys):
    codes, cb, bias, x = _layer_arrays()
    np.savez(tmp_path / "be.npz", codes=codes.astype(">u2"), codebook=cb.astype(">f4"),
             bias=bias.astype(">f8"), x=x.astype(">f8"))
    lw = from_npz(tmp_path / "be.npz")
    assert np.array_equal(lw.codes.dense(), codes) and np.array_equal(lw.codebook, cb)
    rc, out, err = _cli(simulate_main, ["--npz", tmp_path / "be.npz", "--set", "pes=4", "--quiet"], capsys)
    assert rc == 0, err


def test_npz_bomb_is_refused_before_decompressing(tmp_path, capsys):
    """A small deflated archive of 10**9 zero codes: refused from its header, at once."""
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": "|u1", "fortran_order": False,
                                               "shape": (1000, 1000000)})
    p = tmp_path / "bomb.npz"
    _, cb, _, _ = _layer_arrays()
    buf = io.BytesIO()
    np.save(buf, cb)
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("codes.npy", "w", force_zip64=True) as f:
            f.write(hdr.getvalue())
            for _ in range(32):
                f.write(bytes(1 << 20))
        z.writestr("codebook.npy", buf.getvalue())
    t0 = time.perf_counter()
    rc, out, err = _cli(simulate_main, ["--npz", p, "--out", tmp_path / "o"], capsys)
    _one_line_exit_2(rc, err, tmp_path / "o")
    assert "has 1000000000 elements, more than the limit of 268435456" in err
    assert time.perf_counter() - t0 < 5


def test_npy_input_limits_and_byte_order(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(6, dtype=">f8"))
    assert np.array_equal(load_input(tmp_path / "x.npy", 6), np.arange(6.0))
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8'}  \n")
    with pytest.raises(WorkloadError, match=r"bad\.npy: invalid \.npy header"):
        load_input(tmp_path / "bad.npy", 6)
    with pytest.raises(WorkloadError, match="not a regular file"):
        load_input("/dev/zero", 6)


# ------------------------------------------------------------ finding 5: non-finite numbers
def test_nan_bias_in_an_npz_is_bad_input(tmp_path, capsys):
    codes, cb, bias, x = _layer_arrays()
    bias[3] = np.nan
    np.savez(tmp_path / "nan.npz", codes=codes, codebook=cb, bias=bias, x=x)
    rc, out, err = _cli(simulate_main, ["--npz", tmp_path / "nan.npz", "--out", tmp_path / "o"], capsys)
    _one_line_exit_2(rc, err, tmp_path / "o")
    assert "bias contains NaN or infinity" in err and "outputs match" not in out


@pytest.mark.parametrize("what", ["codebook", "bias", "x"])
def test_layer_workload_refuses_non_finite_numbers(what):
    codes, cb, bias, x = _layer_arrays()
    kw = {"codebook": cb, "bias": bias, "x": x}
    kw[what] = kw[what].copy()
    kw[what][2] = np.inf if what != "bias" else np.nan
    with pytest.raises(WorkloadError, match=f"layer 'l': {what} contains NaN or infinity"):
        LayerWorkload("l", codes, **kw)


def test_api_refuses_non_finite_inputs_and_weights():
    w = np.random.default_rng(0).normal(size=(6, 5))
    with pytest.raises(WorkloadError, match="x contains NaN or infinity"):
        api.simulate(w, np.array([1.0, np.nan, 0, 0, 0]), pes=2)
    w[1, 1] = np.inf
    with pytest.raises(WorkloadError, match="weights must be finite"):
        api.simulate(w, np.ones(5), pes=2)


def test_a_nan_error_is_a_mismatch():
    """The numpy check cannot pass a NaN: ``~(err <= bound)`` (stages.verify_against_numpy)."""
    codes, cb, bias, x = _layer_arrays()
    lw = LayerWorkload("l", codes, cb, bias=np.zeros(8, np.float32), x=x)
    cfg = ArchConfig(pes=4)
    prep = prepare(lw, cfg)
    inputs = quantize_inputs(prep, cfg, lw.x)
    run = run_engine(prep, inputs, cfg, "fast", False)
    check_outputs(prep, inputs, run, cfg, True, True, None)      # passes as it is
    prep.bias[3] = np.nan                                          # the float reference is NaN
    with pytest.raises(SimulationMismatch, match="row 3: error nan > bound nan"):
        check_outputs(prep, inputs, run, cfg, True, True, None)


@pytest.mark.parametrize("value", [".nan", ".inf"])
def test_energy_table_refuses_non_finite_values(tmp_path, value):
    p = tmp_path / "e.yaml"
    p.write_text(f"static_fraction: 0.1\nunit_power_mw: {{act_queue: {value}}}\n")
    with pytest.raises(ConfigError, match="act_queue: expected a finite number >= 0"):
        EnergyTable.load(p)


# ------------------------------------------------------------ finding 6: YAML
def _laughs(n=9, k=9):
    lines = [f"l0: &l0 [{', '.join(['x'] * k)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * k)}]" for i in range(1, n)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text, why", [
    (_laughs(), r":1: refused YAML: the document expands to more than 100000 values"),
    ("a: &a [*a]\n", r":1: refused YAML: a\[0\]: an alias refers to a mapping or list that contains it"),
    ("run: &r {out: *r}\n", r"run\.out: an alias refers to a mapping or list that contains it"),
    ("sweep: " + "[" * 2000 + "]" * 2000 + "\n", r":1: refused YAML: nested deeper than 32 levels"),
    ("sweep: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n", r"nested deeper than 32 levels"),
    ("sweep:\n" + "".join(" " * (i + 1) + "-\n" for i in range(1200)), r":33: refused YAML: nested deeper"),
    ("run: !!python/object:os.system {engine: fast}\n", r":1: refused YAML: tag tag:yaml.org,2002:python/object:os.system is not allowed"),
    ("run: !mytag {engine: fast}\n", r"tag !mytag is not allowed"),
    ("pes: !!str 64\n", r"tag tag:yaml.org,2002:str is not allowed"),
    ("pes: 6\x004\n", r":1: malformed YAML: a NUL byte \(not a text file\)"),
    ("pes: 64\nqueue_depth: 2001-13-45\n", r":2: refused YAML: queue_depth: cannot read '2001-13-45'"),
    ("x: " + "*a, " * 101 + "\n", r"malformed YAML|more than 100 aliases"),
    ("workload:\n  table3: [{a: 1}]\n", r":2: workload\.table3\[0\]: unknown Table III layer \{'a': 1\}"),
    ('"pe\\n\\nx": 4\n', r":1: 'pe\\n\\nx': unknown key"),
    ("run:\n  \"en\\tgine\": fast\n", r":2: run\.'en\\tgine': unknown key"),
])
def test_hostile_yaml_is_one_line_config_error(tmp_path, text, why):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=why) as e:
        load_config(p)
    assert "\n" not in str(e.value) and time.perf_counter() - t0 < 5


def test_more_than_100_aliases_are_refused(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("pes: &p 4\nsweep:\n  queue_depth: [" + ", ".join(["*p"] * 101) + "]\n")
    with pytest.raises(ConfigError, match=r"c\.yaml:3: refused YAML: more than 100 aliases"):
        load_config(p)


def test_billion_laughs_through_both_tools(tmp_path):
    p = tmp_path / "laughs.yaml"
    p.write_text(_laughs() + "workload: {table3: Alex-8}\n")
    for cmd in (["eie-simulate", "--config", str(p), "--quiet"], ["eie-sweep", str(p), "--out", str(tmp_path / "o")]):
        t0 = time.perf_counter()
        out = subprocess.run([os.path.join(BIN, cmd[0])] + cmd[1:], capture_output=True, text=True, timeout=60)
        _one_line_exit_2(out.returncode, out.stderr, tmp_path / "o")
        assert "expands to more than 100000 values" in out.stderr and time.perf_counter() - t0 < 20


def test_devices_and_fifos_are_not_read(tmp_path, capsys):
    for args in (["--config", "/dev/zero", "--table3", "Alex-8"],
                 ["--table3", "Alex-8", "--energy-table", "/dev/zero"],
                 ["--table3", "Alex-8", "--set", "run.energy_table=/dev/zero"]):
        rc, out, err = _cli(simulate_main, args, capsys)
        _one_line_exit_2(rc, err)
        assert "/dev/zero: cannot read" in err and "not a regular file" in err
    fifo = tmp_path / "c.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):        # never blocks
        load_config(fifo)
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_YAML_BYTES + "\n")
    with pytest.raises(ConfigError, match="more than the 1048576-byte limit"):
        load_config(big)


def test_a_value_where_a_section_belongs_blames_the_file(tmp_path, capsys):
    """``run: 5`` with ``--out`` used to blame a ``--set run.out=...`` nobody typed."""
    p = tmp_path / "c.yaml"
    p.write_text("pes: 4\nrun: 5\n")
    rc, out, err = _cli(simulate_main, ["--config", p, "--table3", "Alex-8", "--out", tmp_path / "o"], capsys)
    _one_line_exit_2(rc, err, tmp_path / "o")
    assert f"{p}:2: run: expected a mapping of keys, got 5 (int)" in err and "--set" not in err
    with pytest.raises(ConfigError, match=r"^--set run=7: run: expected a mapping of keys, got 7"):
        load_config(None, ["run=7", "run.seed=1"])


def test_set_values_get_the_same_limits():
    with pytest.raises(ConfigError, match=r"^--set 'pe\\ns=1': 'pe\\ns': unknown key") as e:
        load_config(None, ["pe\ns=1"])
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=r"--set pes=&a \[\*a\]: cannot parse the value .*recursive alias"):
        load_config(None, ["pes=&a [*a]"])
    with pytest.raises(ConfigError, match=r"cannot parse the value .*tag"):
        load_config(None, ["pes=!!python/object:os.system 1"])


# ------------------------------------------------------------ finding 7: sweeps
def test_sweep_points_are_capped_before_expanding(tmp_path, capsys):
    p = tmp_path / "s.yaml"
    vals = ", ".join(str(v) for v in range(1, 101))
    p.write_text("workload: {table3: Alex-8}\nsweep:\n"
                 f"  queue_depth: [{vals}]\n  lnzd_fan_in: [{', '.join(str(v) for v in range(2, 64))}]\n"
                 f"  act_regs_per_pe: [{vals}]\n")
    for main, args in ((sweep_main, [p, "--out", tmp_path / "o"]), (simulate_main, ["--config", p])):
        t0 = time.perf_counter()
        rc, out, err = _cli(main, args, capsys)
        _one_line_exit_2(rc, err, tmp_path / "o")
        assert "sweep: 620,000 points (100 x 62 x 100), more than the limit of 10,000" in err
        assert "--max-points" in err and time.perf_counter() - t0 < 5
    assert MAX_SWEEP_POINTS == 10_000
    p.write_text("workload: {table3: Alex-8}\nsweep:\n  queue_depth: [" + vals + ", 101]\n"
                 "  pes: [" + vals + "]\n")
    with pytest.raises(ConfigError, match="10,100 points"):
        load_config(p)
    assert len(load_config(p, max_points=10_100).sweep["queue_depth"]) == 101
    small = tmp_path / "small.yaml"
    small.write_text("workload: {synthetic: {rows: 20, cols: 20, weight_density: 0.5}}\n"
                     "run: {workers: 1}\nsweep:\n  pes: [1, 2, 4]\n")
    rc, out, err = _cli(sweep_main, [small, "--out", tmp_path / "o", "--max-points", "2"], capsys)
    _one_line_exit_2(rc, err, tmp_path / "o")
    assert "3 points (3), more than the limit of 2" in err
    rc, out, err = _cli(sweep_main, [small, "--out", tmp_path / "o", "--max-points", "3"], capsys)
    assert rc == 0, err


@pytest.mark.parametrize("workers", [1, 2])
def test_a_sweep_where_every_point_fails_exits_2_and_writes_nothing(tmp_path, capsys, workers):
    p = tmp_path / "s.yaml"
    p.write_text(f"workload: {{npz: missing.npz}}\nrun: {{workers: {workers}}}\nsweep:\n  pes: [1, 2]\n")
    rc, out, err = _cli(sweep_main, [p, "--out", tmp_path / "o"], capsys)
    _one_line_exit_2(rc, err, tmp_path / "o")
    assert "every one of the 2 sweep point(s) failed, nothing written; point 0: WorkloadError:" in err
    assert "missing.npz: file not found" in err


# ---- workers die with their parent
def _proc_table():
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
            except OSError:
                continue
            rest = st[st.rindex(")") + 2:].split()
            out[int(d)] = (int(rest[1]), rest[0])          # ppid, state
    return out


def _descendants(pid):
    table, found, todo = _proc_table(), set(), [pid]
    while todo:
        p = todo.pop()
        for c, (pp, _) in table.items():
            if pp == p and c not in found:
                found.add(c)
                todo.append(c)
    return found


def _alive(pids):
    table = _proc_table()
    return {p for p in pids if p in table and table[p][1] != "Z"}


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to see the worker processes")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_sweep_leaves_no_process_behind(tmp_path, sig):
    """``kill -9`` (or SIGTERM) of a running ``eie-sweep``: its two workers and the
    resource tracker are gone within seconds (no orphans re-parented to init)."""
    p = tmp_path / "slow.yaml"
    p.write_text("workload:\n  synthetic: {rows: 256, cols: 256, weight_density: 0.5}\n"
                 "pes: 2\nrun: {workers: 2, engine: simpy, check_fit: false}\n"
                 "sweep:\n  queue_depth: [" + ", ".join(str(q) for q in range(1, 201)) + "]\n")
    proc = subprocess.Popen([os.path.join(BIN, "eie-sweep"), str(p), "--out", str(tmp_path / "o")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        # killed in the middle of the work: after the first point is committed to the
        # folder's database (the workers are running points, not starting up; issue 12:
        # progress is a bar on stderr now, the points are in sweep.db)
        import sqlite3
        db, t0 = tmp_path / "o" / "sweep.db", time.monotonic()
        while True:
            assert proc.poll() is None and time.monotonic() - t0 < 60, "no point before the kill"
            try:
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
                done = con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
                con.close()
            except sqlite3.Error:
                done = 0
            if done:
                break
            time.sleep(0.05)
        kids = _descendants(proc.pid)
        assert len(kids) >= 3, f"workers did not start: {kids}"      # 2 workers + tracker
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.kill(proc.pid, sig)
        proc.wait(timeout=30)
        t1 = time.monotonic()
        while _alive(kids) and time.monotonic() - t1 < 15:
            time.sleep(0.1)
        assert not _alive(kids), f"left behind: {_alive(kids)}"
        # the finished points stay in the database (resumable); no exported table
        assert not (tmp_path / "o" / "sweep.csv").exists()
        if sig == signal.SIGTERM:
            assert proc.returncode == 130
            assert "eie-sweep: interrupted; the finished points are kept in" in \
                proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for k in _alive(locals().get("kids", set())):
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass
