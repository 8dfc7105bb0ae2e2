"""The analytical model (eie_sim.hw.analytical, engine "analytical"): exact where it is
exact by construction, within a stated bound on typical layers, exact timing-free
counters and accumulators, refusals."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from eie_sim.arch.config import ArchConfig
from eie_sim.errors import EngineUnavailable
from eie_sim.hw import analytical, engine_fast
from eie_sim.hw.engines import get_engine
from eie_sim.hw.layout import build_layer


def _balanced_codes(rng, n_pe, rows_per_pe, cols):
    """Every PE holds the same number of non-zeros in every column (rows i -> PE i mod N)."""
    rows = n_pe * rows_per_pe
    codes = np.zeros((rows, cols), dtype=np.uint8)
    for j in range(cols):
        k = int(rng.integers(0, rows_per_pe + 1))
        for p in range(n_pe):
            mine = np.arange(p, rows, n_pe)
            pick = rng.choice(mine, size=k, replace=False)
            codes[pick, j] = rng.integers(1, 16, size=k)
    return codes


def _layer(codes, cfg, bias=None):
    cb = np.concatenate([[0.0], np.linspace(-1, 1, 15)])
    return build_layer(codes, cb, bias, cfg, check_fit=False)


@settings(max_examples=40, deadline=None)
@given(n_pe=st.sampled_from([1, 2, 4, 8, 16]), depth=st.sampled_from([1, 2, 3, 8, 64]),
       rows_per_pe=st.integers(1, 6), cols=st.integers(1, 120), seed=st.integers(0, 1000),
       bias=st.booleans())
def test_exact_when_balanced_and_dense(n_pe, depth, rows_per_pe, cols, seed, bias):
    assume(cols <= 64 * n_pe)                                  # one input batch
    rng = np.random.default_rng(seed)
    cfg = ArchConfig(pes=n_pe, queue_depth=depth)
    codes = _balanced_codes(rng, n_pe, rows_per_pe, cols)
    b = rng.uniform(-1, 1, codes.shape[0]) if bias else None
    lay = _layer(codes, cfg, b)
    x = rng.integers(1, 300, cols).astype(np.int64)          # every activation non-zero
    for p in lay.passes:
        f, a = engine_fast.run_pass(p, lay, x, cfg), analytical.run_pass(p, lay, x, cfg)
        if depth == 2 and bias:
            # the known exception (docs/analytical.md): a 2-entry queue with a bias column
            # can end one cycle before the engines (found 2026-12-05; e.g. 4 PEs, 2 rows
            # per PE, 14 columns, seed 0: 30 against 31)
            assert 0 <= f.cycles - a.cycles <= 1
            continue
        assert a.cycles == f.cycles
        np.testing.assert_array_equal(a.pe.starved, f.pe.starved)


@settings(max_examples=40, deadline=None)
@given(n_pe=st.sampled_from([1, 4, 16, 64]), rows=st.integers(1, 200), cols=st.integers(1, 200),
       wd=st.floats(0.01, 0.6), ad=st.floats(0.0, 1.0), seed=st.integers(0, 1000))
def test_exact_counters_and_accumulators(n_pe, rows, cols, wd, ad, seed):
    """Everything that does not depend on timing is exact; cycles equal when no queue
    fills and the sync window covers the pass (deep queues)."""
    rng = np.random.default_rng(seed)
    cfg = ArchConfig(pes=n_pe, queue_depth=4096)
    codes = np.where(rng.random((rows, cols)) < wd, rng.integers(1, 16, (rows, cols)), 0).astype(np.uint8)
    lay = _layer(codes, cfg, rng.uniform(-1, 1, rows))
    x = np.where(rng.random(cols) < ad, rng.integers(1, 300, cols), 0).astype(np.int64)
    for p in lay.passes:
        f, a = engine_fast.run_pass(p, lay, x, cfg), analytical.run_pass(p, lay, x, cfg)
        a.check_accounting()
        np.testing.assert_array_equal(a.acc, f.acc)
        for name in ("busy", "padding", "empty", "pointer_reads", "spmat_line_reads"):
            np.testing.assert_array_equal(getattr(a.pe, name), getattr(f.pe, name), err_msg=name)
        assert (a.broadcasts, a.batch_load_cycles) == (f.broadcasts, f.batch_load_cycles)
        if f.queue_full_stalls == 0:
            assert a.cycles == f.cycles
        assert np.all(a.pe.bypass_hits >= f.pe.bypass_hits)      # back to back: an upper bound


def test_within_bound_on_typical_layers():
    """Random unbalanced layers, 4-64 PEs, queues 2-16, activations 30-100 % dense:
    mean |error| of the cycles under 5 %, every pass within 25 % (benchmarks/
    bench_analytical.py prints the tables)."""
    rng = np.random.default_rng(11)
    errs = []
    for _ in range(30):
        n_pe = int(rng.choice([4, 16, 64]))
        cfg = ArchConfig(pes=n_pe, queue_depth=int(rng.choice([2, 4, 8, 16])))
        rows, cols = int(rng.integers(n_pe, 8 * n_pe)), int(rng.integers(32, 300))
        codes = np.where(rng.random((rows, cols)) < rng.uniform(0.05, 0.3),
                         rng.integers(1, 16, (rows, cols)), 0).astype(np.uint8)
        lay = _layer(codes, cfg)
        x = np.where(rng.random(cols) < rng.uniform(0.3, 1.0), rng.integers(1, 300, cols), 0).astype(np.int64)
        for p in lay.passes:
            f, a = engine_fast.run_pass(p, lay, x, cfg), analytical.run_pass(p, lay, x, cfg)
            errs.append((a.cycles - f.cycles) / f.cycles)
    errs = np.abs(errs)
    assert errs.mean() < 0.05, errs.mean()
    assert errs.max() < 0.25, errs.max()


def test_engine_registry_and_refusals():
    eng = get_engine("analytical")
    assert eng.name == "analytical" and not eng.exact and eng.traced is None
    with pytest.raises(EngineUnavailable, match="is an estimate"):
        eng.other()
    cfg = ArchConfig(pes=4)
    lay = _layer(np.ones((8, 8), dtype=np.uint8), cfg)
    X = np.ones((1, 8), dtype=np.int64)
    with pytest.raises(EngineUnavailable, match="cannot record a trace"):
        eng.run(lay.passes[0], lay, X, cfg, record=True)
    with pytest.raises(ValueError, match="one vector of 8 activations"):
        analytical.run_pass(lay.passes[0], lay, np.ones(7, dtype=np.int64), cfg)
    batch = eng.run_batch(lay.passes[0], lay, np.vstack([X, X]), cfg)
    assert batch.size == 2


def test_selectable_through_the_api_and_energy():
    """``engine="analytical"`` wherever engines are chosen: the outputs pass the numpy
    check, energy comes from the same tables, verify is refused."""
    from eie_sim import api
    rng = np.random.default_rng(3)
    w = np.where(rng.random((96, 80)) < 0.2, rng.normal(size=(96, 80)), 0.0)
    x = np.where(rng.random(80) < 0.5, rng.uniform(0, 2, 80), 0.0)
    exact = api.simulate(w, x, pes=8, queue_depth=4)
    est = api.simulate(w, x, pes=8, queue_depth=4, engine="analytical")
    np.testing.assert_array_equal(est.output_q, exact.output_q)
    assert abs(est.cycles - exact.cycles) / exact.cycles < 0.25
    assert est.energy.energy_uj == pytest.approx(exact.energy.energy_uj, rel=0.25)
    with pytest.raises(EngineUnavailable, match="is an estimate"):
        api.simulate(w, x, pes=8, engine="analytical", verify=True)


def test_sweep_with_analytical_engine():
    """A design-space sweep on the analytical model: same points, cycles within the bound."""
    from eie_sim import api
    rng = np.random.default_rng(4)
    w = np.where(rng.random((128, 96)) < 0.15, rng.normal(size=(128, 96)), 0.0)
    x = np.where(rng.random(96) < 0.6, rng.uniform(0, 2, 96), 0.0)
    lw = api.layer(w, weight_bits=4)
    est = api.sweep(lw, x, engine="analytical", pes=[4, 16], queue_depth=[2, 8])
    exact = api.sweep(lw, x, engine="fast", pes=[4, 16], queue_depth=[2, 8])
    assert [(r["pes"], r["queue_depth"]) for r in est] == [(r["pes"], r["queue_depth"]) for r in exact]
    for a, f in zip(est, exact):
        assert a["engine"] == "analytical"
        assert abs(a["cycles"] - f["cycles"]) / f["cycles"] < 0.25
