"""The utilities both packages share: compressor.fileio's one safe read (read_bounded,
worded by read_regular_file and by eie_sim's YAML reader) and one atomic write, and
compressor.cliguard's one CLI guard under each package's rules."""
import os

import pytest

import compressor.cli as compress_cli
from compressor.cliguard import ErrorRules, run_guarded
from compressor.errors import CLIError, RoundTripError
from compressor.fileio import (FileRefused, atomic_write, publish, read_bounded,
                               read_regular_file, temp_beside)
from eie_sim.arch.yaml_doc import read_text
from eie_sim.cli import common
from eie_sim.errors import ConfigError, SimulationMismatch


def test_read_bounded_reads_a_regular_file_and_refuses_the_rest(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"x" * 10)
    assert read_bounded(f, 10) == b"x" * 10
    with pytest.raises(FileRefused) as r:
        read_bounded(f, 9)
    assert (r.value.reason, r.value.size, r.value.path) == ("too large", 10, f)
    with pytest.raises(FileRefused) as r:
        read_bounded(tmp_path, 10)
    assert r.value.reason == "directory"
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    with pytest.raises(FileRefused) as r:                 # never waits for a writer
        read_bounded(fifo, 10)
    assert r.value.reason == "special"
    with pytest.raises(FileNotFoundError):
        read_bounded(tmp_path / "none", 10)
    grew = FileRefused(f, "grew", 4)                      # a file that grew while read
    assert str(grew) == f"{f}: more than the 4-byte limit" and grew.detail in str(grew)


def test_each_package_words_a_refusal_its_own_way(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("pes: 64\n")
    with pytest.raises(KeyError, match=r"c\.yaml: 8 bytes, more than the 4-byte limit of a cfg"):
        read_regular_file(f, 4, KeyError, "cfg")
    with pytest.raises(ConfigError, match=f"{tmp_path}: cannot read configuration file: is a directory"):
        read_text(tmp_path)
    assert read_text(f) == "pes: 64\n"


def test_atomic_write_follows_the_umask_and_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    old = os.umask(0o022)
    try:
        atomic_write(target, "héllo\n")
        assert (target.stat().st_mode & 0o777) == 0o644
        os.umask(0o007)                 # issue 23: no longer forced to 0644
        atomic_write(target, "héllo\n")
        assert (target.stat().st_mode & 0o777) == 0o660
    finally:
        os.umask(old)
    assert target.read_bytes() == "héllo\n".encode()
    with pytest.raises(TypeError):
        atomic_write(target, 3.5)                         # neither bytes nor text
    assert target.read_text() == "héllo\n" and sorted(os.listdir(tmp_path)) == ["out.txt"]


def test_temp_beside_then_publish(tmp_path):
    final = tmp_path / "f.csv"
    tmp = temp_beside(final)
    assert tmp.parent == tmp_path and tmp.name.startswith(".f.csv.") and tmp.suffix == ".tmp"
    assert (tmp.stat().st_mode & 0o777) == 0o600 and tmp.read_bytes() == b""
    tmp.write_text("a,b\n")
    old = os.umask(0o002)
    try:
        publish(tmp, final)
    finally:
        os.umask(old)
    assert not tmp.exists() and final.read_text() == "a,b\n"
    assert (final.stat().st_mode & 0o777) == 0o664


# ---- the one CLI guard (compressor.cliguard), with each package's rules -----------------
def _raise(exc):
    def command():
        raise exc
    return command


@pytest.mark.parametrize("exc, status, line", [
    (RoundTripError("layer 'a' differs"), 1, "eie-compress x: check failed: layer 'a' differs"),
    (FileNotFoundError(2, "No such file or directory", "w.npz"), 2, "eie-compress x: error: w.npz: no such file"),
    (CLIError("--bits 0: bad"), 2, "eie-compress x: error: --bits 0: bad"),
    (MemoryError(), 2, "eie-compress x: error: out of memory: the input is too large for this machine"),
    (KeyboardInterrupt(), 130, "eie-compress x: interrupted"),
])
def test_the_compressor_rules(capsys, exc, status, line):
    assert run_guarded("eie-compress x", _raise(exc), compress_cli.RULES) == status
    assert capsys.readouterr().err == line + "\n"


@pytest.mark.parametrize("exc, status, line", [
    (SimulationMismatch("y differs"), 1, "eie-sweep: check failed: y differs"),
    (ConfigError("c.yaml:3: pes: bad"), 2, "eie-sweep: error: c.yaml:3: pes: bad"),
    (PermissionError(13, "Permission denied", "out"), 2, "eie-sweep: error: [Errno 13] Permission denied: 'out'"),
    (OSError("no room"), 2, "eie-sweep: error: no room"),
    (MemoryError(), 2, "eie-sweep: error: out of memory: the workload is too large for this "
                       "machine; nothing written"),
    (KeyboardInterrupt(), 130, "eie-sweep: interrupted; nothing written"),
])
def test_the_simulator_rules(capsys, exc, status, line):
    assert common._guard("eie-sweep", lambda argv: _raise(exc)(), []) == status
    assert capsys.readouterr().err == line + "\n"


def test_an_oserror_that_does_not_name_its_file_gets_it_in_the_simulator_rules():
    class Terse(OSError):
        def __str__(self):
            return "disk trouble"
    exc = Terse(5, "Input/output error", "w.npz")
    assert common.RULES.describe(exc) == "w.npz: Input/output error"
    assert compress_cli.RULES.describe(exc) == "disk trouble"


def test_the_guard_passes_a_status_and_other_exceptions_through():
    rules = ErrorRules(check_errors=(), input_errors=(ValueError,))
    assert run_guarded("p", lambda: 0, rules) == 0
    with pytest.raises(TypeError):
        run_guarded("p", _raise(TypeError("a bug")), rules)
