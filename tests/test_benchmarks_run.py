"""The benchmarks run end to end on small settings (``make test-slow``): an API change that
breaks a benchmark is found by the tests, not only by ``make bench``. Each writes its
results into a temporary folder; the figures themselves are checked by ``make bench``
against the paper (docs/results.md), not here."""
from __future__ import annotations

import pathlib

import pytest

pytestmark = pytest.mark.slow


def _files(out: pathlib.Path) -> set[str]:
    return {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}


def test_table4_energy_and_pipeline_benchmarks_run(tmp_path):
    from benchmarks import bench_energy, bench_pipeline, bench_table4
    bench_table4.main(tmp_path, sweeps=False)
    bench_energy.main(tmp_path)
    bench_pipeline.main(tmp_path)
    files = _files(tmp_path)
    assert "table4/table4.csv" in files and "energy_table2.csv" in files
    assert "bench_pipeline.json" in files


def test_network_benchmarks_run(tmp_path):
    from benchmarks import bench_networks, bench_squeezenet, bench_squeezenet_chain
    from eie_sim import SQUEEZENET_DIR, SQUEEZENET_NET
    bench_networks.main(tmp_path, positions=2, only=["squeezedet"])
    files = _files(tmp_path)
    assert {"networks/table/networks.csv", "networks/squeezedet_pes64/layers.csv"} <= files
    if not (SQUEEZENET_DIR / SQUEEZENET_NET).is_file():
        pytest.skip("the authors' SqueezeNet files are not available")
    bench_squeezenet.main(tmp_path, positions=2)
    bench_squeezenet_chain.main(tmp_path, images=["chelsea"])
    files = _files(tmp_path)
    assert {"squeezenet_eie/layers.csv", "squeezenet_eie/positions.csv"} <= files
    assert "squeezenet_chain/images.csv" in files


def test_hw_prune_and_confirm_benchmarks_run(tmp_path):
    from benchmarks import bench_confirm, bench_hwprune
    res = bench_hwprune.run(epochs=1, n_loop=4, n_eval=4, iterations=2, retrain_epochs=0)
    assert [r["mask"] for r in res["rows"]][:2] == ["magnitude", "ESE balanced (column)"]
    assert "| magnitude |" in bench_hwprune.markdown(res)
    bench_confirm.main(tmp_path, configs=["sweep_pes.yaml"])
    assert {"bench_confirm.json", "bench_confirm.md"} <= _files(tmp_path)
