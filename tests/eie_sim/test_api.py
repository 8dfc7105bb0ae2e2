"""The public API of eie_sim: every code block of the `eie_sim` section of docs/api.md
runs (in order, one namespace, an empty directory), and what it promises holds."""
import subprocess
import sys

import numpy as np
import pytest

import eie_sim
from tests.docblocks import python_blocks, run_blocks


def test_api_page_code_blocks_run(tmp_path, monkeypatch, capsys):
    blocks = python_blocks("api.md", "`eie_sim`")
    assert len(blocks) == 10
    monkeypatch.chdir(tmp_path)
    ns = run_blocks(blocks, "docs/api.md eie_sim")
    out = capsys.readouterr().out
    assert "load efficiency" in out and "fastest: 64 PEs" in out and "cycles in all" in out
    assert isinstance(ns["result"], eie_sim.NetworkResult)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["fc.dcmp"]


def test_public_names():
    for name in eie_sim.__all__:
        assert hasattr(eie_sim, name), name
    assert issubclass(eie_sim.ConfigError, eie_sim.EIEError)


def test_simulate_accepts_codes_and_a_batch_of_vectors():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 16, (40, 30)) * (rng.random((40, 30)) < 0.3)
    codebook = np.concatenate([[0.0], np.linspace(-1, 1, 15)])
    X = np.maximum(rng.standard_normal((5, 30)), 0)
    res = eie_sim.simulate(codes, X, codebook=codebook, pes=4)
    assert res.output_q.shape == (5, 40) and res.counters.cycles_pos.shape == (5,)
    one = [eie_sim.simulate(codes, x, codebook=codebook, pes=4) for x in X]
    assert res.cycles == sum(r.cycles for r in one)
    assert np.array_equal(res.output_q, np.concatenate([r.output_q for r in one]))
    with pytest.raises(eie_sim.WorkloadError, match="integer codes"):
        eie_sim.simulate(codes.astype(float), X, codebook=codebook)


def test_import_is_self_contained():
    code = "import eie_sim, sys; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"      # plots load matplotlib only when they run
