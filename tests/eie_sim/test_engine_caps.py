"""eie_sim.hw.engines: an engine's capabilities are fields (batch, traced), not guessed from
the identity of its run_pass; and the layer row (sim/columns) and the typed energy estimate."""
import numpy as np
import pytest

from eie_sim.arch.config import ArchConfig
from eie_sim.arch.energy import AREA_PARTS, ENERGY_PARTS, AreaEstimate, EnergyEstimate
from eie_sim.errors import EngineUnavailable
from eie_sim.hw import engine_fast, engine_simpy
from eie_sim.hw.engines import Engine, get_engine
from eie_sim.sim import columns
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.results import LAYER_COLUMNS
from eie_sim.workloads.synthetic import synthetic_layer

CFG = ArchConfig(pes=4, act_regs_per_pe=8).validate()


def test_named_engines_declare_what_they_can_do():
    fast, simpy = get_engine("fast"), get_engine("simpy")
    assert fast.batch is engine_fast.run_batch and fast.traced is engine_fast.run_pass_traced
    assert simpy.batch is None and simpy.traced is engine_simpy.run_pass_traced


def test_a_custom_run_pass_gets_neither_capability():
    """Even the fast engine's own run_pass, passed as a callable, runs one vector at a time
    and cannot record a trace: capabilities are declared, not inferred."""
    calls = []

    def counting(*a):
        calls.append(1)
        return engine_fast.run_pass(*a)

    lay = synthetic_layer(20, 12, 0.5, 1.0, seed=1)
    layout = lay.layout(CFG)
    X = np.stack([np.arange(1, 13, dtype=np.int64) * 7] * 3)
    for eng in (get_engine(counting), get_engine(engine_fast.run_pass)):
        assert eng.batch is None and eng.traced is None
        batch = eng.run_batch(layout.passes[0], layout, X, CFG)
        ref = get_engine("fast").run_batch(layout.passes[0], layout, X, CFG)
        assert np.array_equal(batch.cycles, ref.cycles)
        with pytest.raises(EngineUnavailable, match="cannot record a trace"):
            eng.run(layout.passes[0], layout, X[:1], CFG, record=True)
    assert len(calls) == 3                                  # one call per vector
    traced = Engine("mine", counting, traced=engine_fast.run_pass_traced)
    _, trace = traced.run(layout.passes[0], layout, X[:1], CFG, record=True)
    assert trace is not None


def test_layer_row_and_columns_come_from_one_spec():
    res = simulate_layer(synthetic_layer(40, 30, 0.3, 0.6, seed=3), None, CFG)
    row = res.to_dict()
    assert tuple(row) == LAYER_COLUMNS == columns.LAYER_COLUMNS
    assert len(LAYER_COLUMNS) == len(set(LAYER_COLUMNS))
    assert row["cycles"] == res.cycles and row["positions"] == res.positions_total
    assert row["total_energy_uj"] == res.energy_uj
    assert row["chip_area_mm2"] == res.energy.area.chip_mm2
    assert row["energy_static_uj"] == res.energy.energy_pj_by_unit["static"] * 1e-6
    assert row["spmat_line_reads"] == int(res.pe.spmat_line_reads.sum())


def test_energy_estimate_is_typed():
    res = simulate_layer(synthetic_layer(40, 30, 0.3, 0.6, seed=3), None, CFG)
    e = res.energy
    assert isinstance(e, EnergyEstimate) and isinstance(e.area, AreaEstimate)
    assert set(e.energy_pj_by_unit) == set(ENERGY_PARTS)
    assert set(e.area.pe_parts_mm2) == set(AREA_PARTS)
    assert e.energy_uj == pytest.approx(sum(e.energy_pj_by_unit.values()) * 1e-6)
    assert e.area.chip_mm2 == pytest.approx(CFG.pes * e.area.pe_mm2 + e.area.lnzd_mm2)
