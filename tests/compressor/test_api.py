"""The public API of compressor/__init__.py: its doctest, and every code block of the
`compressor` section of docs/api.md, run in order in one namespace in an empty directory."""
import doctest
import subprocess
import sys

import compressor
from tests.docblocks import python_blocks, run_blocks


def test_package_doctest():
    result = doctest.testmod(compressor, verbose=False)
    assert result.attempted >= 4 and result.failed == 0


def test_snippet_code_blocks_run(tmp_path, monkeypatch, capsys):
    blocks = python_blocks("api.md", "`compressor`")
    assert len(blocks) == 5
    monkeypatch.chdir(tmp_path)
    run_blocks(blocks, "docs/api.md compressor")
    out = capsys.readouterr().out
    assert "x smaller than float32" in out and "'quantized'" in out
    # (hidden entries: a relative NUMBA_CACHE_DIR lands in the working directory)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "dense.npz", "fc.dcmp", "junk.dcmp", "lenet300.dcmp", "one.dcmp"]


def test_public_names_and_light_import():
    for name in compressor.__all__:
        assert hasattr(compressor, name), name
    assert compressor.CompressorError is compressor.errors.CompressorError
    assert issubclass(compressor.CompressorError, ValueError)
    # a fresh interpreter: importing the package loads neither mlxtend nor eie_sim
    code = "import sys, compressor; print(sorted(m for m in ('mlxtend', 'eie_sim') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
