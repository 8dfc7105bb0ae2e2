"""Layer-level cycle accounting (docs/timing.md "Output passes", "Per-PE cycle accounting"):
the simpy model's own idle counts, overhead cycles counted as starved, pass reloads,
PEs holding rows, the error bound at the worst output, the pointer-SRAM fit advice."""
import re

import numpy as np
import pytest

from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import quantize
from eie_sim.errors import AccountingError
from eie_sim.hw import engine_fast, engine_simpy
from eie_sim.hw.counters import PassStats, layer_overhead_cycles
from eie_sim.hw.layout import LayoutError, build_layer, check_layer_fits
from eie_sim.hw.units.pe import ProcessingElement
from eie_sim.output.report import LAYER_COLUMNS, markdown_table
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.options import SimOptions
from eie_sim.sim.references import float_reference
from eie_sim.sim.results import ErrorSummary
from eie_sim.sim.stages import prepare
from eie_sim.workloads.synthetic import synthetic_layer


def _one_pe_layer():
    cfg = ArchConfig(pes=1, queue_depth=8).validate()
    codes = np.array([[1, 0, 2], [0, 3, 1], [2, 2, 0]])
    lay = build_layer(codes, np.linspace(0, 1, 16), None, cfg, check_fit=False)
    return cfg, lay


def test_simpy_counts_idle_cycles_itself():
    # one PE, all inputs non-zero: columns of 2, 2, 2 entries back to back; idle are the
    # row-load, broadcast and pop cycles before the first column (3) and the drain (the
    # last write 4 cycles after its issue, the end 2 cycles after that: 5)
    cfg, lay = _one_pe_layer()
    x_q = np.array([256, 256, 256])
    st = engine_simpy.run_pass(lay.passes[0], lay, x_q, cfg)
    assert st.cycles == 3 + 6 + cfg.arithmetic_latency + 1
    assert st.pe.starved.tolist() == [3 + 5] and st.pe.busy.tolist() == [6]
    # an all-zero input: nothing broadcast, the PE idles through the whole run
    st0 = engine_simpy.run_pass(lay.passes[0], lay, np.zeros(3, np.int64), cfg)
    assert st0.pe.busy.sum() == 0 and st0.pe.starved.tolist() == [st0.cycles]


def test_simpy_raises_when_its_idle_count_disagrees(monkeypatch):
    cfg, lay = _one_pe_layer()
    orig = ProcessingElement.finish

    def off_by_one(self, cycles):
        orig(self, cycles)
        self.idle += 1                       # a unit that miscounts
    monkeypatch.setattr(ProcessingElement, "finish", off_by_one)
    with pytest.raises(AccountingError, match="simpy model"):
        engine_simpy.run_pass(lay.passes[0], lay, np.array([256, 256, 256]), cfg)


def test_check_accounting_requires_non_negative_classes():
    one = np.array([1], dtype=np.int64)
    st = PassStats.build(cycles=10, busy=np.array([11]), padding=one * 0, empty=one * 0,
                   starved=np.array([-1]), pointer_reads=one, spmat_line_reads=one,
                   bypass_hits=one * 0, broadcasts=1, queue_full_stalls=0,
                   batch_load_cycles=0, max_queue_occupancy=1, acc=np.zeros(1, np.int64))
    with pytest.raises(AccountingError, match="negative starved"):
        st.check_accounting()                # sums to 10, but starved < 0


def test_layer_classes_add_up_with_stores_and_reloads_starved():
    cfg = ArchConfig(pes=4, act_regs_per_pe=2, queue_depth=2).validate()
    lay = synthetic_layer(30, 40, 0.3, 0.6, seed=4, bias=True)
    res = simulate_layer(lay, None, cfg, SimOptions(verify=True))       # both engines, equal counters
    assert res.passes == 4                                   # 30 rows / (4 x 2)
    store, reload = layer_overhead_cycles(4, 40, cfg)
    assert (store, reload) == (4 * cfg.batch_store_cycles, 3 * cfg.batch_load_cycles)
    assert res.cycles == sum(res.counters.pass_cycles) + store + reload
    assert np.all(res.pe.busy + res.pe.padding + res.pe.empty + res.pe.starved == res.cycles)
    # the pass-level starved cycles, from the engine, plus the overhead on every PE
    prep = prepare(lay, cfg)
    x_q, _ = quantize(lay.x, cfg.act_frac_bits, cfg.word_bits)
    pass_starved = sum(engine_fast.run_pass(p, prep.layout, x_q, cfg).pe.starved
                       for p in prep.layout.passes)
    assert np.array_equal(res.pe.starved, pass_starved + store + reload)
    assert res.load_efficiency == pytest.approx(1 - res.pe.starved.sum() / (4 * res.cycles))
    assert res.counters.batch_load_cycles >= reload and res.counters.pass_reload_cycles == reload


def test_one_input_batch_is_not_reloaded():
    cfg = ArchConfig(pes=4, act_regs_per_pe=2).validate()   # 8 inputs = 2 rows = 1 batch
    res = simulate_layer(synthetic_layer(20, 8, 0.5, 1.0, seed=1), None, cfg)
    assert res.passes == 3 and res.counters.pass_reload_cycles == 0
    assert res.cycles == sum(res.counters.pass_cycles) + 3 * cfg.batch_store_cycles


def test_pes_with_rows_is_reported():
    cfg = ArchConfig(pes=64).validate()
    res = simulate_layer(synthetic_layer(10, 300, 0.3, 0.5, seed=2, bias=True), None, cfg)
    assert res.pes_with_rows == 10
    # the 54 PEs without rows see only empty columns, one cycle per broadcast, exactly as
    # long as a PE with one row: they are not starved, so load efficiency reads high
    # although only 10 PEs do real work
    assert np.all(res.pe.busy[10:] == 0) and np.all(res.pe.empty[10:] == res.counters.broadcasts)
    assert np.all(res.pe.starved[10:] == res.pe.starved[0])
    assert res.load_efficiency > 0.8 and res.authors_efficiency < 0.1
    row = res.to_dict()
    assert "pes_with_rows" in LAYER_COLUMNS and row["pes_with_rows"] == 10
    assert "PEs w/ rows" in markdown_table([row]) and "| 10 |" in markdown_table([row])


def test_error_bound_is_the_bound_of_the_worst_output():
    es = ErrorSummary.of(np.array([0.1, 0.3]), np.array([5.0, 0.4]))
    assert (es.max_error, es.max_error_bound, es.min_error_slack) == pytest.approx((0.3, 0.4, 0.1))
    # merged over chunks: the first largest error keeps its bound, the slack is the minimum
    both = es.merge(ErrorSummary.of(np.array([0.3, 0.05]), np.array([9.0, 0.06])))
    assert (both.max_error, both.max_error_bound, both.outputs) == (0.3, 0.4, 4)
    assert both.min_error_slack == pytest.approx(0.01)
    cfg = ArchConfig(pes=4, act_frac_bits=4, weight_frac_bits=5).validate()   # coarse
    lay = synthetic_layer(40, 30, 0.4, 0.8, seed=6, bias=True)
    res = simulate_layer(lay, None, cfg, relu=False)
    prep = prepare(lay, cfg)
    x_q, _ = quantize(lay.x, cfg.act_frac_bits, cfg.word_bits)
    y, bound = float_reference(prep, lay.x, x_q, cfg)
    err = np.abs(res.output[0] - y)
    i = int(np.argmax(err))
    assert res.max_error == pytest.approx(err[i]) and res.max_error_bound == pytest.approx(bound[i])
    assert res.min_error_slack == pytest.approx(np.min(bound - err)) and res.min_error_slack >= 0
    assert res.max_error_bound < bound.max()     # not the largest bound of all rows


def test_pointer_sram_advice_counts_output_passes():
    # 600 rows x 300 cols on 4 PEs with 8 registers: 19 passes x 302 pointers per PE
    cfg = ArchConfig(pes=4, act_regs_per_pe=8, pointer_sram_kb=2, dram="none").validate()  # 1024 pointers
    codes = (np.arange(600 * 300).reshape(600, 300) % 7 == 0).astype(np.uint8)
    lay = build_layer(codes, np.linspace(0, 1, 16), np.ones(600), cfg, check_fit=False)
    with pytest.raises(LayoutError) as exc:
        check_layer_fits(lay, cfg)
    m = re.search(r"about (\d+) PEs run it in (\d+) pass", str(exc.value))
    assert m, str(exc.value)
    pes = int(m.group(1))
    assert pes > cfg.pes and "do not help" not in str(exc.value)
    bigger = cfg.replace(pes=pes)
    check_layer_fits(build_layer(codes, np.linspace(0, 1, 16), np.ones(600), bigger,
                                 check_fit=False), bigger)          # fits now
    # one pass that alone exceeds the pointer SRAM: more PEs cannot help
    wide = (np.arange(4 * 1500).reshape(4, 1500) % 5 == 0).astype(np.uint8)
    lay = build_layer(wide, np.linspace(0, 1, 16), None, cfg, check_fit=False)
    with pytest.raises(LayoutError, match="more PEs do not help"):
        check_layer_fits(lay, cfg)
