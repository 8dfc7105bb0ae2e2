"""compressor.fileio's shared file primitives: the one safe read (read_bounded, worded by
read_regular_file and by eie_sim's YAML reader) and the one atomic write."""
import os

import pytest

from compressor.fileio import (FileRefused, atomic_write, publish, read_bounded,
                               read_regular_file, temp_beside)
from eie_sim.arch.yaml_doc import read_text
from eie_sim.errors import ConfigError


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


def test_each_package_words_a_refusal_its_own_way(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("pes: 64\n")
    with pytest.raises(KeyError, match=r"c\.yaml: 8 bytes, more than the 4-byte limit of a cfg"):
        read_regular_file(f, 4, KeyError, "cfg")
    with pytest.raises(ConfigError, match=f"{tmp_path}: cannot read configuration file: is a directory"):
        read_text(tmp_path)
    assert read_text(f) == "pes: 64\n"


def test_atomic_write_is_0644_and_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write(target, "héllo\n")
    assert target.read_bytes() == "héllo\n".encode() and (target.stat().st_mode & 0o777) == 0o644
    with pytest.raises(TypeError):
        atomic_write(target, 3.5)                         # neither bytes nor text
    assert target.read_text() == "héllo\n" and sorted(os.listdir(tmp_path)) == ["out.txt"]


def test_temp_beside_then_publish(tmp_path):
    final = tmp_path / "f.csv"
    tmp = temp_beside(final)
    assert tmp.parent == tmp_path and tmp.name.startswith(".f.csv.") and tmp.suffix == ".tmp"
    assert (tmp.stat().st_mode & 0o777) == 0o600 and tmp.read_bytes() == b""
    tmp.write_text("a,b\n")
    publish(tmp, final)
    assert not tmp.exists() and final.read_text() == "a,b\n"
    assert (final.stat().st_mode & 0o777) == 0o644
