"""DRAM weight streaming (docs/dram.md, rule D): both engines agree to the cycle, a layer
that fits is unchanged, a layer larger than the SRAMs streams by default, and the
hand-counted example of docs/dram.md."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import round_product
from eie_sim.errors import LayoutError
from eie_sim.hw import engine_fast, engine_simpy
from eie_sim.hw.layout import build_layer, check_layer_fits, streams
from eie_sim.hw.units import dram
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.options import SimOptions
from eie_sim.workloads.synthetic import synthetic_layer


def _layer(rng, rows, cols, w_density, cfg, bias):
    codes = np.where(rng.random((rows, cols)) < w_density,
                     rng.integers(1, cfg.codebook_size, size=(rows, cols)), 0).astype(np.uint8)
    codebook = np.concatenate([[0.0], rng.uniform(-1, 1, cfg.codebook_size - 1)])
    b = np.where(rng.random(rows) < 0.7, rng.uniform(-2, 2, rows), 0.0) if bias else None
    return codes, build_layer(codes, codebook, b, cfg, check_fit=False)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(seed=st.integers(0, 2**32 - 1),
       pes=st.sampled_from([1, 2, 3, 4, 8, 16]),
       depth=st.sampled_from([1, 2, 4, 8]),
       w_density=st.sampled_from([0.05, 0.25, 0.5, 1.0]),
       a_density=st.sampled_from([0.0, 0.2, 0.6, 1.0]),
       bias=st.booleans(),
       regs=st.sampled_from([2, 8, 64]),
       pointer_bits=st.sampled_from([8, 16, 64]),
       preset=st.sampled_from(["ddr4_3200", "lpddr4_4266", "lpddr5_6400", "hbm2"]),
       bandwidth=st.sampled_from([None, 0.25, 1.0, 8.0]),
       shape=st.tuples(st.integers(1, 300), st.integers(1, 300)))
def test_engines_agree_when_streaming(seed, pes, depth, w_density, a_density, bias, regs,
                                      pointer_bits, preset, bandwidth, shape):
    """Rule D in the numba kernel and the simpy DramChannel: equal counters, traces (pops,
    tile fetch starts and arrivals) and values; small SRAMs (1 KB) so that tiles are
    few columns wide and the double buffer throttles the channel."""
    rows, cols = shape
    regs = max(regs, -(-rows // (6 * pes)))
    cfg = ArchConfig(pes=pes, queue_depth=depth, act_regs_per_pe=regs, spmat_sram_kb=1,
                     pointer_sram_kb=1, pointer_bits=pointer_bits, dram=preset,
                     dram_stream="always", dram_bandwidth_gbps=bandwidth).validate()
    rng = np.random.default_rng(seed)
    codes, layout = _layer(rng, rows, cols, w_density, cfg, bias)
    x_q = np.where(rng.random(cols) < a_density, rng.integers(1, 700, cols), 0).astype(np.int64)
    acc = np.zeros(rows, dtype=np.int64)
    for p in layout.passes:
        try:
            fast, ftr = engine_fast.run_pass_traced(p, layout, x_q, cfg)
        except LayoutError as exc:      # a column slice larger than a buffer half
            assert "buffer half" in str(exc)
            with pytest.raises(LayoutError):
                engine_simpy.run_pass(p, layout, x_q, cfg)
            return
        slow, str_ = engine_simpy.run_pass_traced(p, layout, x_q, cfg)
        assert fast.differences(slow) == [] and ftr.differences(str_) == []
        fast.check_accounting()
        assert np.all(fast.pe.dram_stall_cycles <= fast.pe.starved)
        assert fast.dram_tiles == len(ftr.tiles)
        if fast.broadcasts:
            assert fast.dram_tiles >= 1 and fast.dram_bytes > 0
            # a PE that pops the first column before the first tile arrives stalls
            first_pop = ftr.broadcast[0] + 1
            if first_pop < ftr.tiles[0, 2]:
                assert np.all(fast.pe.dram_stall_cycles >= ftr.tiles[0, 2] - first_pop)
        acc[p.row_offset:p.row_offset + p.rows] = fast.acc
        # the batched kernel gives the single run's counters
        two = engine_fast.run_batch(p, layout, np.stack([x_q, x_q]), cfg)
        assert two.stats(1).differences(fast) == []
    ref = round_product(layout.codebook_q[codes.astype(np.int64)] * x_q[None, :],
                        cfg.weight_frac_bits).sum(axis=1) + layout.bias_q
    np.testing.assert_array_equal(acc, ref)


def test_double_buffer_and_channel_order_in_trace():
    """Tile i's fetch starts at max(arrival of tile i-1, cycle after the last PE finished
    tile i-2) and every pop of a tile's column is at or after its arrival."""
    cfg = ArchConfig(pes=2, spmat_sram_kb=1, pointer_sram_kb=1, pointer_bits=64,
                     dram_stream="always", dram_bandwidth_gbps=0.5).validate()
    rng = np.random.default_rng(3)
    _, layout = _layer(rng, 40, 300, 0.5, cfg, True)
    p = layout.passes[0]
    x_q = np.where(rng.random(300) < 0.8, 300, 0).astype(np.int64)
    st_, tr = engine_fast.run_pass_traced(p, layout, x_q, cfg)
    tiles = tr.tiles
    assert len(tiles) >= 4
    work = p.column_work()
    first = list(tiles[:, 0]) + [len(tr.columns)]
    done = [int(max(tr.pops[first[i + 1] - 1, k] + work[tr.columns[first[i + 1] - 1], k]
                    for k in range(cfg.pes))) for i in range(len(tiles))]
    for i, (f, s, a) in enumerate(tiles):
        prev = tiles[i - 1, 2] if i else 0
        free = done[i - 2] + 1 if i >= 2 else 0
        assert s == max(prev, free)
        assert np.all(tr.pops[first[i]:first[i + 1]] >= a)


def test_layer_that_fits_is_unchanged():
    """dram_stream: auto leaves a layer that fits exactly as without a DRAM."""
    wl = synthetic_layer(1000, 4096, 0.25, 0.375, seed=1)
    on = simulate_layer(wl, None, ArchConfig())
    off = simulate_layer(wl, None, ArchConfig(dram="none"))
    assert on.counters.streamed is False and on.counters.dram_bytes == 0
    a, b = on.to_dict(), off.to_dict()
    for k in a:
        if k not in ("wall_s", "dram"):
            assert a[k] == b[k], k
    assert int(on.pe.dram_stall_cycles.sum()) == 0


def test_layer_four_times_the_sram_streams_by_default(tmp_path):
    """A layer 4x larger than the Spmat SRAM runs with the default configuration, with
    DRAM columns in layers.csv; without a DRAM it is refused."""
    cfg = ArchConfig(pes=4, spmat_sram_kb=8).validate()        # 8192 entries per PE
    wl = synthetic_layer(512, 512, 0.5, 0.5, seed=2)           # ~32K entries per PE: 4x
    lay = wl.layout(cfg)
    per_pe = max(int(sum(p.entries_per_pe[k] for p in lay.passes)) for k in range(4))
    assert per_pe >= 4 * cfg.spmat_capacity_entries * 0.95
    assert streams(lay, cfg)
    with pytest.raises(LayoutError, match="dram: ddr4_3200"):
        check_layer_fits(lay, cfg.replace(dram="none"))
    res = simulate_layer(wl, None, cfg, SimOptions(verify=True))
    row = res.to_dict()
    assert row["dram"] == "ddr4_3200" and row["dram_bytes"] > per_pe
    assert row["dram_stall_cycles"] > 0 and row["energy_dram_uj"] > 0
    assert row["dram_tiles"] >= 2 * len(lay.passes)
    # the bytes priced at the table's pJ/bit
    assert row["energy_dram_uj"] == pytest.approx(row["dram_bytes"] * 8 * 20.0 * 1e-6)
    # the energy_<part>_uj columns, the DRAM's included, sum to the total
    parts = [c for c in row if c.startswith("energy_") and c.endswith("_uj")]
    assert "energy_dram_uj" in parts
    assert sum(row[c] for c in parts) == pytest.approx(row["total_energy_uj"], rel=1e-12)
    # the CLI writes them into layers.csv
    from eie_sim.cli.simulate import simulate_main as main
    out = tmp_path / "b"
    assert main(["--synthetic", "512,512,0.5,0.5", "--set", "pes=4", "--set", "spmat_sram_kb=8",
                 "--out", str(out)]) == 0
    r = list(csv.DictReader((out / "layers.csv").open()))[0]
    assert r["dram"] == "ddr4_3200" and int(r["dram_stall_cycles"]) > 0
    assert int(r["dram_bytes"]) > 0 and float(r["energy_dram_uj"]) > 0
    pe_rows = list(csv.DictReader((out / "per_pe.csv").open()))
    assert sum(int(p["dram_stall_cycles"]) for p in pe_rows) == int(r["dram_stall_cycles"])


def test_docs_example_hand_counted():
    """The hand-counted example of docs/dram.md: one PE, queue depth 2, a 3 x 4 layer,
    1 KB SRAMs with 64-bit pointers, DDR4-3200 timing at 0.5 GB/s."""
    cfg = ArchConfig(pes=1, queue_depth=2, spmat_sram_kb=1, pointer_sram_kb=1,
                     pointer_bits=64, dram_stream="always", dram_bandwidth_gbps=0.5).validate()
    codes = np.array([[1, 0, 2, 0], [3, 0, 0, 4], [0, 5, 6, 0]], dtype=np.uint8)
    lay = build_layer(codes, np.linspace(0, 1.5, 16), None, cfg, check_fit=False)
    p = lay.passes[0]
    x_q = np.array([256, 0, 256, 256], dtype=np.int64)
    addr, bursts = dram.column_records(p.ptr.astype(np.int64), cfg)
    # one record per column: 2/1/2/1 entries x 8 bits + one 64-bit pointer -> 10/9/10/9
    # bytes -> one 64-byte burst each, at addresses 0, 64, 128, 192
    assert list(addr) == [0, 64, 128, 192] and list(bursts) == [1, 1, 1, 1]
    tile_of, dur, tbytes, tacts = dram.plan(p, np.array([0, 2, 3]), cfg)
    # 3 broadcast columns, all in one tile (7 entries, 3 columns fit a half); one row
    # activation; 13.75 + 27.5 + 3 x 64 B / 0.5 GB/s = 425.25 ns -> 341 cycles of 1.25 ns
    assert list(tile_of) == [0, 0, 0] and list(dur) == [341] and list(tbytes) == [192]
    assert list(tacts) == [1]
    for eng in (engine_fast, engine_simpy):
        st_, tr = eng.run_pass_traced(p, lay, x_q, cfg)
        assert list(tr.broadcast) == [1, 3, 342] and st_.queue_full_stalls == 338
        assert tr.pops[:, 0].tolist() == [341, 343, 345]
        assert tr.tiles.tolist() == [[0, 0, 341]]
        assert st_.pe.dram_stall_cycles.tolist() == [339]
        assert st_.cycles == 352
        assert st_.dram_bytes == 192 and st_.dram_row_activations == 1
        on_chip, tr0 = eng.run_pass_traced(p, lay, x_q, cfg.replace(dram="none"))
        assert on_chip.cycles == 13 and list(tr0.broadcast) == [1, 3, 4]
        assert tr0.pops[:, 0].tolist() == [2, 4, 6] and on_chip.pe.dram_stall_cycles.tolist() == [0]


def test_dram_none_refuses_and_presets_have_sources():
    for name, p in dram.PRESETS.items():
        assert p.source and p.bandwidth_gbps > 0 and p.burst_bytes > 0
        assert ArchConfig(dram=name).validate()
    with pytest.raises(Exception, match="dram"):
        ArchConfig(dram="ddr9").validate()


def test_trace_shows_dram_stalls_and_fetches():
    """The recorded timeline of a streamed layer: the PEs' DRAM-stall runs add up to the
    counted stall cycles, the DRAM track holds one fetch per tile (Perfetto and VCD)."""
    import io
    import json

    from eie_sim.output.traces import DRAM_STALL, collect_trace, write_perfetto, write_vcd
    cfg = ArchConfig(pes=4, spmat_sram_kb=1, pointer_sram_kb=1, pointer_bits=64,
                     dram_stream="always", dram_bandwidth_gbps=1.0).validate()
    wl = synthetic_layer(64, 300, 0.5, 0.8, seed=5)
    res = simulate_layer(wl, None, cfg, SimOptions(verify=True), record=True)
    tr = collect_trace(res.timeline, "l")
    stall = tr.run_state == DRAM_STALL
    assert int(tr.run_len[stall].sum()) == int(res.pe.dram_stall_cycles.sum()) > 0
    for k in range(cfg.pes):
        assert int(tr.run_len[stall & (tr.run_pe == k)].sum()) == int(res.pe.dram_stall_cycles[k])
    assert tr.dram_start.size == res.counters.dram_tiles
    buf = io.StringIO()
    write_perfetto(tr, buf)
    events = json.loads(buf.getvalue())["traceEvents"]
    assert sum(e.get("cat") == "dram fetch" for e in events) == res.counters.dram_tiles
    assert any(e.get("cat") == "dram stall" for e in events)
    vcd = io.StringIO()
    assert write_vcd(tr, vcd) > 0


# ------------------------------------------------------------------ batching
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(seed=st.integers(0, 2**32 - 1),
       pes=st.sampled_from([1, 2, 3, 4, 8]),
       depth=st.sampled_from([1, 2, 8]),
       w_density=st.sampled_from([0.05, 0.3, 1.0]),
       a_density=st.sampled_from([0.0, 0.2, 0.6, 1.0]),
       bias=st.booleans(),
       batch=st.sampled_from([1, 2, 3, 4]),
       vectors=st.integers(1, 7),
       stream=st.booleans(),
       shape=st.tuples(st.integers(1, 120), st.integers(1, 120)))
def test_engines_agree_on_batches(seed, pes, depth, w_density, a_density, bias, batch,
                                  vectors, stream, shape):
    """batch: B in both engines (runs of B vectors, the last shorter): equal counters and
    accumulators, and every vector's accumulators equal numpy's."""
    from eie_sim.hw.engines import get_engine
    rows, cols = shape
    cfg = ArchConfig(pes=pes, queue_depth=depth, act_regs_per_pe=max(4, -(-rows // (4 * pes))),
                     spmat_sram_kb=1, pointer_sram_kb=1, pointer_bits=64, batch=batch,
                     dram_stream="always" if stream else "auto",
                     dram_bandwidth_gbps=2.0).validate()
    rng = np.random.default_rng(seed)
    codes, layout = _layer(rng, rows, cols, w_density, cfg, bias)
    X = np.where(rng.random((vectors, cols)) < a_density,
                 rng.integers(1, 700, (vectors, cols)), 0).astype(np.int64)
    acc = np.zeros((vectors, rows), dtype=np.int64)
    for p in layout.passes:
        try:
            fast = get_engine("fast").run_batch(p, layout, X, cfg)
        except LayoutError:
            return
        slow = get_engine("simpy").run_batch(p, layout, X, cfg)
        assert fast.differences(slow) == []
        fast.validate(p.rows, pes)
        assert fast.size == -(-vectors // batch)
        acc[:, p.row_offset:p.row_offset + p.rows] = fast.acc
    ref = np.stack([round_product(layout.codebook_q[codes.astype(np.int64)] * x[None, :],
                                  cfg.weight_frac_bits).sum(axis=1) + layout.bias_q for x in X])
    np.testing.assert_array_equal(acc, ref)


def test_batch_shares_the_dram_stream():
    """A streamed layer with 4 vectors: batch 4 fetches the union of their columns once
    (fewer bytes per vector than batch 1), issues the same MACs, and gives the same outputs;
    batch 1 is the vector-by-vector run exactly."""
    cfg = ArchConfig(pes=4, spmat_sram_kb=8).validate()
    wl = synthetic_layer(512, 512, 0.5, 0.5, seed=2)
    X = np.random.default_rng(0).random((4, 512)) * (np.random.default_rng(1).random((4, 512)) < 0.5)
    one = simulate_layer(wl, X, cfg, SimOptions(verify=True))
    four = simulate_layer(wl, X, cfg.replace(batch=4), SimOptions(verify=True))
    np.testing.assert_array_equal(one.output_q, four.output_q)
    r1, r4 = one.to_dict(), four.to_dict()
    assert r1["useful_macs"] == r4["useful_macs"] and r4["batch"] == 4
    assert r4["dram_bytes_per_vector"] < 0.5 * r1["dram_bytes_per_vector"]
    assert r4["cycles_per_position"] < r1["cycles_per_position"]
    assert r4["total_energy_uj_per_vector"] < r1["total_energy_uj_per_vector"]
    assert four.counters.cycles_pos.size == 1 and one.counters.cycles_pos.size == 4
    singles = [simulate_layer(wl, X[i], cfg) for i in range(4)]
    assert r1["cycles"] == sum(s.cycles for s in singles)
    assert r1["dram_bytes"] == sum(s.counters.dram_bytes for s in singles)


def test_sweep_database_records_leave_out_the_later_keys_at_their_defaults():
    """A layer on chip at batch 1 is stored as before the DRAM model (so older sweep
    databases resume); a streamed one keeps its DRAM columns; fill_row restores the row."""
    from eie_sim.sim.columns import LATER_COLUMNS, LAYER_COLUMNS, compact_row, fill_row
    wl = synthetic_layer(64, 64, 0.3, 0.5, seed=1)
    row = simulate_layer(wl, None, ArchConfig(pes=4)).to_dict()
    small = compact_row(row)
    assert not set(LATER_COLUMNS) & set(small)
    back = fill_row(small)
    assert back == row and list(back) == list(LAYER_COLUMNS)
    streamed = simulate_layer(wl, None, ArchConfig(pes=4, dram_stream="always")).to_dict()
    kept = compact_row(streamed)
    assert kept["dram"] == "ddr4_3200" and kept["dram_bytes"] > 0
    assert fill_row(kept) == streamed
    assert "dram" not in ArchConfig().record_dict() and "batch" not in ArchConfig().record_dict()
    assert ArchConfig(batch=2).record_dict()["batch"] == 2


def test_batches_do_not_depend_on_the_chunk():
    """Long runs go through the engine in chunks of whole batches: the runs are the same."""
    wl = synthetic_layer(32, 40, 0.5, 0.5, seed=3)
    X = np.random.default_rng(4).random((7, 40))
    cfg = ArchConfig(pes=4, batch=3)
    a = simulate_layer(wl, X, cfg, chunk=4)
    b = simulate_layer(wl, X, cfg)
    assert a.counters.cycles_pos.tolist() == b.counters.cycles_pos.tolist()
    assert a.counters.run_vectors.tolist() == [3, 3, 1]
    ra, rb = a.to_dict(), b.to_dict()
    assert all(ra[k] == rb[k] for k in ra if k != "wall_s")
