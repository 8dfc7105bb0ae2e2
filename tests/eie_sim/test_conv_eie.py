"""eie_sim.sim.layer.simulate_conv_layer: convolution layers as M x V per output position,
batched on one layout.

The batched path must give, position by position, exactly what simulate_layer
gives (cycles, every counter, outputs), and the reassembled output map must equal the
numpy convolution. The SqueezeNet cases skip when ../shared/data/squeezenet is absent.
"""
import csv
import json

import numpy as np
import pytest

from compressor.caffe.prototxt import ConvParams
from compressor.graph.forward import conv2d, im2col
from eie_sim.apps.squeezenet import (
    DEFAULT_SQUEEZENET_DIR,
    NET_NAME,
    PROTOTXT_NAME,
    run_squeezenet,
)
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import quantize, round_product
from eie_sim.cli.simulate import simulate_main
from eie_sim.errors import WorkloadError
from eie_sim.hw.engine_fast import run_batch, run_pass
from eie_sim.sim.formats import LayerRange, network_format
from eie_sim.sim.layer import simulate_conv_layer, simulate_layer
from eie_sim.sim.options import SimOptions
from eie_sim.sim.references import (
    float_reference,
    float_reference_batch,
    integer_reference,
    integer_reference_batch,
)
from eie_sim.sim.runner import parse_positions, sample_positions
from eie_sim.sim.stages import prepare
from eie_sim.workloads.layer import LayerWorkload

HAVE_SQUEEZENET = (DEFAULT_SQUEEZENET_DIR / PROTOTXT_NAME).is_file() and \
    (DEFAULT_SQUEEZENET_DIR / NET_NAME).is_file()
needs_squeezenet = pytest.mark.skipif(not HAVE_SQUEEZENET,
                                      reason=f"SqueezeNet files not present under {DEFAULT_SQUEEZENET_DIR}")

# small machine: 2 PEs, shallow queues, 2 registers per PE -> 2 output passes (8 rows) and
# 9 input batches (36 columns), so stalls, batch loads and stores all occur
SMALL = ArchConfig(pes=2, queue_depth=2, act_regs_per_pe=2, weight_bits=4).validate()


def small_conv(seed=0, out=8, cin=4, k=3, hw=6, pad=1, density=0.6):
    """A random 8 x 4 x 3 x 3 convolution on a 6 x 6 ReLU'd input (4-bit codebook)."""
    rng = np.random.default_rng(seed)
    codebook = np.concatenate([[0.0], np.sort(rng.normal(0, 0.5, 15))]).astype(np.float32)
    codes = rng.integers(1, 16, (out, cin * k * k)) * (rng.random((out, cin * k * k)) < density)
    bias = rng.normal(0, 0.3, out).astype(np.float32)
    x = np.maximum(rng.normal(0, 1.0, (1, cin, hw, hw)), 0).astype(np.float32)
    conv = ConvParams(num_output=out, kernel=(k, k), pad=(pad, pad))
    return codes, codebook, bias, x, conv


def test_batched_positions_equal_simulate_layer_and_numpy_convolution():
    codes, codebook, bias, x, conv = small_conv()
    wl = LayerWorkload("small", codes, codebook, bias)
    patches = im2col(x, conv)                                   # (36 positions, 36)
    res = simulate_conv_layer(wl, patches, SMALL, chunk=16)    # 3 chunks, merged
    assert res.passes == 2 and res.simulated == res.positions_total == 36
    prep = prepare(wl, SMALL)
    X_q, _ = quantize(patches.astype(np.float64), SMALL.act_frac_bits, SMALL.word_bits)
    batches = [run_batch(p, prep.layout, X_q, SMALL) for p in prep.layout.passes]
    assert res.counters.batch_load_cycles > 0 and res.counters.queue_full_stalls > 0
    for i in range(36):
        single = simulate_layer(prep, patches[i].astype(np.float64), SMALL)
        stats = [b.stats(i) for b in batches]
        x_q = X_q[i]
        for p, st in enumerate(stats):                         # every counter of every pass
            assert run_pass(prep.layout.passes[p], prep.layout, x_q, SMALL).differences(st) == []
            assert single.counters.pass_cycles[p] == st.cycles
        assert res.counters.cycles_pos[i] == single.cycles
        assert np.array_equal(res.output_q[i], single.output_q[0])
        assert res.input_nonzeros_pos[i] == single.input_nonzeros_pos[0]
        # layer level: 2 stores + 1 reload of input batch 0 (9 input batches) are
        # starved cycles of every PE
        overhead = 2 * SMALL.batch_store_cycles + SMALL.batch_load_cycles
        assert single.cycles == sum(single.counters.pass_cycles) + overhead
        for name in ("busy", "padding", "empty", "starved", "pointer_reads",
                     "spmat_line_reads", "bypass_hits"):
            extra = overhead if name == "starved" else 0
            assert np.array_equal(sum(getattr(s.pe, name) for s in stats) + extra,
                                  getattr(single.pe, name)), name
        assert sum(s.broadcasts for s in stats) == single.counters.broadcasts
        assert sum(s.queue_full_stalls for s in stats) == single.counters.queue_full_stalls
    # reassembled map vs the numpy convolution: float within the bound, integer exact
    w = codebook[codes].reshape(8, 4, 3, 3)
    ref = np.maximum(conv2d(x, w, bias, conv), 0).astype(np.float64)
    got = res.output_map((6, 6))
    assert got.shape == ref.shape == (1, 8, 6, 6)
    x_q, _ = quantize(patches.astype(np.float64), SMALL.act_frac_bits, SMALL.word_bits)
    fr = float_reference_batch(prep, patches, x_q, SMALL)
    bound = fr.bound.reshape(6, 6, 8).transpose(2, 0, 1)[None] + 1e-5 * (1 + np.abs(ref))
    assert np.all(np.abs(got - ref) <= bound)
    acc = integer_reference_batch(prep, x_q, SMALL)
    assert np.array_equal(np.maximum(np.clip(acc, -2 ** 15, 2 ** 15 - 1), 0), res.output_q)
    # totals
    assert res.cycles == int(res.counters.cycles_pos.sum()) and not res.extrapolated
    assert 0 < res.load_efficiency <= 1 and res.energy_uj > 0


def test_sparse_references_equal_a_dense_numpy_oracle():
    codes, codebook, bias, x, conv = small_conv(seed=3, density=0.3)
    prep = prepare(LayerWorkload("s", codes, codebook, bias), SMALL)
    patches = im2col(x, conv).astype(np.float64)
    x_q, _ = quantize(patches, SMALL.act_frac_bits, SMALL.word_bits)
    ib = integer_reference_batch(prep, x_q, SMALL)
    fb = float_reference_batch(prep, patches, x_q, SMALL)
    # an independent dense computation of the same formulas (tests only)
    lay = prep.layout
    cq = lay.codebook_q[codes]
    W = codebook.astype(np.float64)[codes]
    Wq = cq / float(1 << SMALL.weight_frac_bits)
    for i in range(patches.shape[0]):
        ref_i = round_product(cq * x_q[i][None, :], SMALL.weight_frac_bits).sum(axis=1) + lay.bias_q
        assert np.array_equal(ib[i], ref_i)
        assert np.array_equal(integer_reference(prep, x_q[i], SMALL), ref_i)
        xi, xqi = patches[i], x_q[i] / float(1 << SMALL.act_frac_bits)
        y_i = W @ xi + bias
        b_i = (np.abs(W) @ np.abs(xi - xqi) + np.abs(W - Wq) @ np.abs(xqi)
               + 0.5 ** (SMALL.act_frac_bits + 1) * ((Wq != 0).astype(float) @ (xqi != 0))
               + np.abs(bias - lay.bias_q / float(1 << SMALL.act_frac_bits)))
        y, bound = float_reference(prep, patches[i], x_q[i], SMALL)
        for got_y, got_b in ((fb.y[i], fb.bound[i]), (y, bound)):
            np.testing.assert_allclose(got_y, y_i, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(got_b, b_i, rtol=1e-9, atol=1e-9)


def test_a_wrong_compare_to_map_is_caught():
    codes, codebook, bias, x, conv = small_conv(seed=5)
    wl = LayerWorkload("s", codes, codebook, bias)
    patches = im2col(x, conv)
    good = (patches.astype(np.float64) @ codebook[codes].T + bias)
    res = simulate_conv_layer(wl, patches, SMALL, compare_to=good)
    assert res.meta["map_check"] <= res.max_error_bound
    bad = good.copy()
    bad[7, 3] += 1.0
    with pytest.raises(Exception, match=r"position 7, channel 3"):
        simulate_conv_layer(wl, patches, SMALL, compare_to=bad)


def test_sampling_is_seeded_sorted_and_extrapolation_is_labelled():
    a = sample_positions(100, 10, seed=1, layer_index=2)
    assert np.array_equal(a, sample_positions(100, 10, seed=1, layer_index=2))
    assert a.size == 10 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, sample_positions(100, 10, seed=1, layer_index=3))
    assert np.array_equal(sample_positions(5, 10, 0, 0), np.arange(5))
    assert parse_positions("all") is None and parse_positions("7") == 7 and parse_positions(3) == 3
    for bad in ("0", "x", "-2"):
        with pytest.raises(WorkloadError):
            parse_positions(bad)
    codes, codebook, bias, x, conv = small_conv()
    patches = im2col(x, conv)
    res = simulate_conv_layer(LayerWorkload("s", codes, codebook, bias), patches, SMALL,
                              positions=a[a < 36])
    assert res.extrapolated and res.positions_total == 36
    assert res.cycles == pytest.approx(res.counters.cycles_pos.mean() * 36)
    assert "extrapolated" in res.to_dict() and res.to_dict()["extrapolated"] is True


def test_network_format_widens_codes_and_lowers_fraction_bits_unless_given():
    # largest input 5000, output 100, bias 1, codebook 1.5; 8-bit codes
    ranges = [LayerRange("l", in_max=5000.0, out_max=100.0, bias_max=1.0, weight_max=1.5)]
    cfg, ov = network_format(ArchConfig(), ranges, 8)
    assert (cfg.weight_bits, cfg.act_frac_bits, cfg.weight_frac_bits) == (8, 2, 12)
    assert [o["key"] for o in ov] == ["weight_bits", "act_frac_bits"]
    cfg, ov = network_format(ArchConfig(act_frac_bits=1), ranges, 8, explicit={"act_frac_bits"})
    assert cfg.act_frac_bits == 1 and [o["key"] for o in ov] == ["weight_bits"]


def test_cli_refuses_bad_squeezenet_arguments(tmp_path, capsys):
    out = tmp_path / "o"
    rc = simulate_main(["--squeezenet", str(tmp_path / "nowhere"), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "SqueezeNet file not found" in err and not out.exists()
    rc = simulate_main(["--synthetic", "10,10,0.5,0.5", "--positions", "5"])
    assert rc == 2 and "--positions applies to --squeezenet, --network" in capsys.readouterr().err


# ------------------------------------------------------------------ real SqueezeNet layer
@needs_squeezenet
def test_squeezenet_layer_positions_match_numpy_and_simulate_layer():
    run = run_squeezenet(cfg=None, positions=6, seed=4, layers=["fire2/conv1x1_1"])
    assert [o["key"] for o in run.overrides] == ["weight_bits", "act_frac_bits"]
    (res,) = run.layers
    assert res.simulated == 6 and res.positions_total == 55 * 55 and res.extrapolated
    assert res.input_saturations == 0 and res.output_saturations == 0
    assert res.meta["map_check"] <= res.max_error_bound     # vs the forward pass's convolution
    # the same positions one by one through simulate_layer
    from compressor.graph.forward import forward, layer_workloads
    from eie_sim.apps.squeezenet import load_squeezenet
    net, model = load_squeezenet()
    wl = {w.name: w for w in layer_workloads(net, model, result=forward(net, model))}["fire2/conv1x1_1"]
    q = wl.layer
    prep = prepare(LayerWorkload(wl.name, q.codes, q.codebook, q.bias, bits=q.bits), run.config)
    for k, p in enumerate(res.positions):
        single = simulate_layer(prep, wl.patches[p].astype(np.float64), run.config)
        assert single.cycles == res.counters.cycles_pos[k]
        assert np.array_equal(single.output_q[0], res.output_q[k])


@needs_squeezenet
def test_cli_squeezenet_bundle(tmp_path, capsys):
    out = tmp_path / "sq"
    rc = simulate_main(["--squeezenet", "--layers", "fire2/conv1x1_1,conv_final",
                        "--positions", "4", "--out", str(out)])
    so, se = capsys.readouterr()
    assert rc == 0, se
    assert "override: weight_bits 4 -> 8" in so and "EXTRAPOLATED" in so
    assert sorted(p.name for p in out.iterdir()) == [".eie-sim.json", "config.yaml", "cycles.png", "layers.csv",
                                                      "per_pe.csv", "positions.csv", "report.md",
                                                      "summary.json"]
    rows = list(csv.DictReader((out / "layers.csv").open()))
    assert [r["layer"] for r in rows] == ["fire2/conv1x1_1", "conv_final"]
    assert all(r["extrapolated"] == "true" and r["positions_simulated"] == "4" for r in rows)
    summ = json.loads((out / "summary.json").read_text())
    assert summ["effective_arch"]["weight_bits"] == 8 and summ["seeds"]["input_seed"] == 1510
    assert summ["totals"]["extrapolated"] is True
    assert "EXTRAPOLATED" in (out / "report.md").read_text()


def test_sampled_positions_scale_every_extensive_counter():
    codes, codebook, bias, x, conv = small_conv()
    patches = im2col(x, conv) * 300.0                       # some inputs saturate
    wl = LayerWorkload("s", codes, codebook, bias)
    idx = sample_positions(36, 9, seed=0, layer_index=0)
    part = simulate_conv_layer(wl, patches, SMALL, SimOptions(check=False), idx)
    assert part.extrapolated and part.scale == 4.0
    row = part.to_dict()
    c = part.counters
    for key, measured in (("queue_full_stalls", c.queue_full_stalls),
                          ("batch_load_cycles", c.batch_load_cycles),
                          ("batch_store_cycles", c.batch_store_cycles),
                          ("pass_reload_cycles", c.pass_reload_cycles),
                          ("input_saturations", part.input_saturations),
                          ("output_saturations", part.output_saturations),
                          ("useful_macs", int(c.pe.busy.sum())),
                          ("ccu_min_cycles", c.ccu_min_cycles),
                          ("pointer_reads", int(c.pe.pointer_reads.sum()))):
        assert row[key] == pytest.approx(4.0 * measured), key
    assert c.queue_full_stalls > 0 and part.input_saturations > 0
    assert row["cycles"] == pytest.approx(4.0 * part.cycles_simulated)
    # every position: the same columns are plain sums (integers), nothing scaled
    full = simulate_conv_layer(wl, patches, SMALL, SimOptions(check=False)).to_dict()
    assert not full["extrapolated"] and isinstance(full["batch_store_cycles"], int)
    assert full["batch_store_cycles"] == 36 * 2 * SMALL.batch_store_cycles
    assert full["pass_reload_cycles"] == 36 * SMALL.batch_load_cycles


def test_references_from_layout_entries_equal_those_from_the_matrix():
    """prepare() of a bare layout rebuilds the non-zeros from its entries (padding and the
    bias column left out): the references are the same as from the original matrix."""
    codes, codebook, bias, x, conv = small_conv(seed=4, density=0.5)
    patches = im2col(x, conv).astype(np.float64)
    x_q, _ = quantize(patches, SMALL.act_frac_bits, SMALL.word_bits)
    wl = LayerWorkload("s", codes, codebook, bias)
    from_matrix = prepare(wl, SMALL)
    from_layout = prepare(wl.layout(SMALL), SMALL)
    assert from_layout.reference_from.startswith("layout entries")
    assert np.array_equal(from_layout.codes.dense(), codes)
    assert np.array_equal(integer_reference_batch(from_matrix, x_q, SMALL),
                          integer_reference_batch(from_layout, x_q, SMALL))
    fa = float_reference_batch(from_matrix, patches, x_q, SMALL)
    fb = float_reference_batch(from_layout, patches, x_q, SMALL)
    for a, b in ((fa.y, fb.y), (fa.bound, fb.bound), (fa.mag, fb.mag)):
        assert np.array_equal(a, b)
