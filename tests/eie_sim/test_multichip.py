"""Multi-chip EIE (eie_sim.sim.multichip): rows split over chips, C = 1 is one chip."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie_sim.arch.config import PAPER_CONFIG
from eie_sim.errors import WorkloadError
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.multichip import link_cycles
from eie_sim.workloads.chips import chip_rows, chip_workloads
from eie_sim.sim.options import SimOptions
from eie_sim.workloads.synthetic import synthetic_layer

CFG = PAPER_CONFIG.replace(pes=8)


def _layer(rows=203, cols=150, wd=0.3, seed=3, bias=True):
    return synthetic_layer(rows, cols, wd, 0.6, seed=seed, bias=bias)


def test_chips_1_is_today():
    """chips = 1 (the default) is the single-chip simulation: every layers.csv column equal
    (wall time aside), the outputs too."""
    wl = _layer()
    a = simulate_layer(wl, None, CFG)
    b = simulate_layer(wl, None, CFG.replace(chips=1, link_gbps=1.0, link_latency_ns=9))
    ra, rb = a.to_dict(), b.to_dict()
    ra.pop("wall_s"), rb.pop("wall_s")
    assert ra == rb and ra["chips"] == 1 and ra["link_bytes"] == 0
    assert np.array_equal(a.output_q, b.output_q)


@pytest.mark.parametrize("rows,chips", [(203, 3), (64, 64), (10, 4), (1000, 7)])
def test_chips_partition_the_rows_exactly(rows, chips):
    b = chip_rows(rows, chips)
    sizes = np.diff(b)
    assert b[0] == 0 and b[-1] == rows and sizes.min() >= 1 and sizes.max() - sizes.min() <= 1
    wl = _layer(rows=rows, cols=40)
    parts = chip_workloads(wl, chips)
    assert sum(p.rows for p in parts) == rows and sum(p.nnz for p in parts) == wl.nnz
    dense = np.concatenate([np.asarray(_dense(p.codes)) for p in parts])
    assert np.array_equal(dense, _dense(wl.codes))


def _dense(c):
    out = np.zeros(c.shape, dtype=np.int64)
    for i in range(c.rows):
        s = slice(c.indptr[i], c.indptr[i + 1])
        out[i, c.indices[s]] = c.data[s]
    return out


def test_chips_merge_per_chip_runs():
    """Cycles = link in + slowest chip + link out; outputs = the chips' outputs in row
    order = the single chip's outputs; per-PE accounting holds over chips x pes PEs."""
    wl = _layer()
    cfg = CFG.replace(chips=3, link_gbps=2.0, link_latency_ns=100)
    r = simulate_layer(wl, None, cfg)
    one = simulate_layer(wl, None, CFG)
    assert np.array_equal(r.output_q, one.output_q)
    parts = [simulate_layer(p, None, CFG) for p in chip_workloads(wl, 3)]
    slowest = max(p.cycles for p in parts)
    nz = int(one.input_nonzeros_pos[0])
    b_in = (nz * (16 + 8) + 7) // 8                      # 150 columns: 8-bit column index
    b_out = (203 * 16 + 7) // 8
    link = int(link_cycles(b_in, cfg)) + int(link_cycles(b_out, cfg))
    assert r.cycles == link + slowest
    row = r.to_dict()
    assert row["chips"] == 3 and row["pes"] == 24 and row["link_bytes"] == b_in + b_out
    assert row["link_cycles"] == link
    assert row["chip_balance"] == pytest.approx(np.mean([p.cycles for p in parts]) / slowest)
    assert r.pe.busy.size == 24
    r.counters.check()
    assert r.useful_macs == one.useful_macs and r.nnz == one.nnz
    # 100 ns at 800 MHz = 80 cycles, plus bytes / (2 GB/s)
    assert int(link_cycles(0, cfg)) == 80 and int(link_cycles(2000, cfg)) == 80 + 800


def test_chips_engines_agree_and_fit():
    """Both engines through the multi-chip path (verify); a layer too large for one chip's
    Spmat SRAM fits on enough chips."""
    wl = _layer(rows=64, cols=64, wd=0.5)
    r = simulate_layer(wl, None, CFG.replace(chips=2), SimOptions(verify=True))
    assert r.verified
    small = CFG.replace(spmat_sram_kb=1)          # 8 PEs x 1 KB: 8 x 1024 entries
    big = _layer(rows=256, cols=256, wd=0.5)      # ~32 K entries
    from eie_sim.errors import LayoutError
    with pytest.raises(LayoutError):
        simulate_layer(big, None, small)
    r = simulate_layer(big, None, small.replace(chips=8))
    assert r.to_dict()["chips"] == 8


def test_more_chips_than_rows_refused():
    with pytest.raises(WorkloadError, match="chips=20 exceeds the layer's 10 rows"):
        simulate_layer(_layer(rows=10, cols=20), None, CFG.replace(chips=20))


def test_network_runner_fit_check_per_chip():
    """The network runner's fit check (prepare_all) checks every chip's block."""
    from eie_sim.errors import LayoutError
    from eie_sim.sim.stages import prepare_all
    small = CFG.replace(spmat_sram_kb=1)
    big = _layer(rows=256, cols=256, wd=0.5)
    with pytest.raises(LayoutError):
        prepare_all([(big, small)])
    _, rows = prepare_all([(big, small.replace(chips=8))])
    assert rows[0]["fits"] and rows[0]["max_entries_per_pe"] <= small.spmat_capacity_entries


def test_network_run_on_two_chips_same_outputs():
    """A convolution network through the one network runner on 2 chips: the same outputs
    (every one checked against numpy and the forward pass) as on one chip."""
    from eie_sim.apps.networks import run_network
    kw = dict(positions=2, seed=0, size=(32, 32), layers=["b2/expand", "b2/dw"])
    one = run_network("mobilenet_v2", PAPER_CONFIG.replace(pes=16), **kw)
    two = run_network("mobilenet_v2", PAPER_CONFIG.replace(pes=16, chips=2), **kw)
    for a, b in zip(one.layers, two.layers):
        assert np.array_equal(a.output_q, b.output_q) and b.to_dict()["chips"] == 2
        assert b.pes == 32 and b.cycles > 0


def test_chips_sweep_like_any_key(tmp_path):
    """A sweep over chips: one chip refused for the Spmat SRAM, four chips fit; the
    multi-chip columns in sweep.csv."""
    import csv

    from eie_sim.apps.sweep import run_sweep
    from eie_sim.arch.config_io import load_config
    cfg = tmp_path / "s.yaml"
    cfg.write_text("workload:\n  synthetic: {rows: 100, cols: 100, weight_density: 0.3}\n"
                   "pes: 2\nspmat_sram_kb: 1\ndram: none\nrun: {workers: 1}\nsweep:\n  chips: [1, 4]\n")
    run_sweep(load_config(cfg), tmp_path / "out")
    rows = list(csv.DictReader((tmp_path / "out" / "sweep.csv").open()))
    assert "does not fit 2 PEs" in rows[0]["error"]
    assert rows[1]["error"] == "" and rows[1]["chips"] == "4" and int(rows[1]["link_bytes"]) > 0


@settings(max_examples=15, deadline=None)
@given(rows=st.integers(1, 90), cols=st.integers(1, 60), wd=st.floats(0.05, 0.9),
       chips=st.integers(1, 6), pes=st.sampled_from([1, 2, 4, 8]), seed=st.integers(0, 99))
def test_chips_any_layer(rows, cols, wd, chips, pes, seed):
    """Any layer on any number of chips (up to its rows): the single chip's outputs, the
    cycles at least the slowest chip's, the per-PE classes adding up over chips x PEs."""
    chips = min(chips, rows)
    wl = synthetic_layer(rows, cols, wd, 0.5, seed=seed, bias=bool(seed % 2))
    cfg = PAPER_CONFIG.replace(pes=pes)
    one = simulate_layer(wl, None, cfg)
    many = simulate_layer(wl, None, cfg.replace(chips=chips))
    assert np.array_equal(one.output_q, many.output_q)
    many.counters.check()
    assert many.pe.busy.size == chips * pes and many.useful_macs == one.useful_macs
    if chips == 1:
        assert many.cycles == one.cycles
    else:
        assert many.cycles >= max(many.meta["chip_cycles"]) + 2
