"""The Spmat encodings (ArchConfig ``spmat_encoding``: csc, bitmask, nm; docs/timing.md
"Spmat encodings"): the stored images decode back to the matrix, both engines give equal
counters for every encoding, the hand-counted example of docs/timing.md, the stored bits,
the errors, and the paper default unchanged."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eie_sim.arch.config import ArchConfig
from eie_sim.arch.decoder_logic import decoder_delta
from eie_sim.arch.energy import ActionCounts, default_table, estimate
from eie_sim.arch.fixed_point import round_product
from eie_sim.errors import ConfigError, LayoutError
from eie_sim.hw import analytical, engine_fast, engine_simpy
from eie_sim.hw.encodings import decode_layer, prune_nm
from eie_sim.hw.layout import build_layer, sram_need, stored_bits

ENCODINGS = ("csc", "bitmask", "nm")


def _random_layer(rng, rows, cols, density, cfg, bias):
    w = np.where(rng.random((rows, cols)) < density, rng.uniform(-1, 1, (rows, cols)), 0.0)
    if cfg.spmat_encoding == "nm":
        w = prune_nm(w, cfg.nm_n, cfg.nm_m, cfg.pes, cfg.pes * cfg.act_regs_per_pe)
    codes = np.where(w != 0, rng.integers(1, cfg.codebook_size, (rows, cols)), 0).astype(np.uint8)
    codebook = np.concatenate([[0.0], rng.uniform(-1, 1, cfg.codebook_size - 1)])
    b = np.where(rng.random(rows) < 0.6, rng.uniform(-2, 2, rows), 0.0) if bias else None
    return codes, build_layer(codes, codebook, b, cfg, check_fit=False)


def _acts(rng, cols, density, cfg):
    x = np.where(rng.random(cols) < density, rng.uniform(0.01, 3.0, cols), 0.0)
    return np.floor(x * (1 << cfg.act_frac_bits) + 0.5).astype(np.int64)


def _both_engines(layout, x_q, cfg):
    """Run every pass on both engines; they must agree on every counter. Returns the
    accumulators and the fast engine's stats per pass."""
    acc = np.zeros(layout.rows, dtype=np.int64)
    stats = []
    for p in layout.passes:
        fast = engine_fast.run_pass(p, layout, x_q, cfg)
        slow = engine_simpy.run_pass(p, layout, x_q, cfg)
        assert fast.differences(slow) == [], (cfg.spmat_encoding, fast.differences(slow))
        fast.check_accounting()
        acc[p.row_offset:p.row_offset + p.rows] = fast.acc
        stats.append(fast)
    return acc, stats


_settings = settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_settings
@given(seed=st.integers(0, 2**32 - 1), enc=st.sampled_from(ENCODINGS),
       pes=st.sampled_from([1, 2, 3, 5, 8]), depth=st.sampled_from([1, 2, 8]),
       density=st.sampled_from([0.05, 0.3, 1.0]), a_density=st.sampled_from([0.0, 0.4, 1.0]),
       bias=st.booleans(), width=st.sampled_from([8, 16, 64]),
       regs=st.sampled_from([1, 3, 64]), nm=st.sampled_from([(1, 1), (1, 2), (2, 4), (3, 8)]),
       shape=st.tuples(st.integers(1, 70), st.integers(1, 24)))
def test_engines_agree_every_encoding(seed, enc, pes, depth, density, a_density, bias, width,
                                      regs, nm, shape):
    """Both engines give identical cycles and counters, and the accumulators are the
    exact fixed-point product, for every encoding (skip slots: width 8 < rows per PE)."""
    rows, cols = shape
    regs = max(regs, -(-rows // (6 * pes)))          # at most ~6 output passes
    cfg = ArchConfig(pes=pes, queue_depth=depth, spmat_encoding=enc, spmat_width_bits=width,
                     act_regs_per_pe=regs, index_bits=2, nm_n=nm[0], nm_m=nm[1]).validate()
    rng = np.random.default_rng(seed)
    codes, layout = _random_layer(rng, rows, cols, density, cfg, bias)
    x_q = _acts(rng, cols, a_density, cfg)
    acc, stats = _both_engines(layout, x_q, cfg)
    ref = round_product(layout.codebook_q[codes.astype(np.int64)] * x_q[None, :],
                        cfg.weight_frac_bits).sum(axis=1) + layout.bias_q
    np.testing.assert_array_equal(acc, ref)
    # the analytical engine's timing-free counters equal the cycle-exact ones
    for p, st_ in zip(layout.passes, stats):
        est = analytical.run_pass(p, layout, x_q, cfg)
        for name in ("busy", "padding", "empty", "pointer_reads", "spmat_line_reads"):
            assert getattr(est.pe, name).tolist() == getattr(st_.pe, name).tolist(), name
        np.testing.assert_array_equal(est.acc, st_.acc)


@_settings
@given(seed=st.integers(0, 2**32 - 1), index_bits=st.integers(2, 8),
       pes=st.sampled_from([1, 2, 4, 7]), width=st.sampled_from([16, 64, 128]),
       shape=st.tuples(st.integers(1, 90), st.integers(1, 20)))
def test_csc_index_widths_2_to_8_engines_agree(seed, index_bits, pes, width, shape):
    """The paper's CSC with every relative-index width 2..8 (filler entries as needed):
    both engines equal, the layout decodes back."""
    rows, cols = shape
    cfg = ArchConfig(pes=pes, index_bits=index_bits, spmat_width_bits=width).validate()
    rng = np.random.default_rng(seed)
    codes, layout = _random_layer(rng, rows, cols, 0.15, cfg, bias=True)
    _both_engines(layout, _acts(rng, cols, 0.6, cfg), cfg)
    assert (decode_layer(layout, cfg)[0] == codes).all()
    if layout.n_padding:                     # fillers only where a run exceeds max_z
        assert rows > pes * cfg.max_z


@_settings
@given(seed=st.integers(0, 2**32 - 1), enc=st.sampled_from(ENCODINGS),
       pes=st.sampled_from([1, 2, 3, 8]), width=st.sampled_from([8, 64]),
       regs=st.sampled_from([2, 64]), density=st.sampled_from([0.1, 0.5, 1.0]),
       shape=st.tuples(st.integers(1, 80), st.integers(1, 30)), bias=st.booleans())
def test_round_trip(seed, enc, pes, width, regs, density, shape, bias):
    """Each encoding's stored image (codes, z / offsets, masks) decodes, through the PE's
    own row decoder, back to the matrix and its bias rows."""
    cfg = ArchConfig(pes=pes, spmat_encoding=enc, spmat_width_bits=width, act_regs_per_pe=regs,
                     index_bits=3).validate()
    rng = np.random.default_rng(seed)
    codes, layout = _random_layer(rng, *shape, density, cfg, bias)
    dec, bias_rows = decode_layer(layout, cfg)
    np.testing.assert_array_equal(dec, codes)
    np.testing.assert_array_equal(bias_rows, layout.bias_q != 0)
    if enc == "bitmask":                                  # no filler; skips only if R > W
        r = -(-min(shape[0], pes * regs) // pes)
        assert layout.n_padding == 0 or r > width


# ---- the hand-counted example of docs/timing.md "Spmat encodings" ---------------------
EXAMPLE = np.zeros((8, 3), dtype=np.uint8)
EXAMPLE[6, 0] = 1
EXAMPLE[0, 1], EXAMPLE[4, 1], EXAMPLE[5, 1] = 2, 3, 4
EXAMPLE[1, 2], EXAMPLE[7, 2] = 5, 6
# per encoding: cycles, busy, padding, empty, starved, pointer reads, line reads (per PE),
# spmat bits, pointer bits (docs/timing.md, counted by hand)
HAND = {
    "csc": (14, [3, 3], [1, 2], [1, 1], [9, 8], [3, 3], [2, 2], 45, 128),
    "bitmask": (12, [3, 3], [0, 0], [1, 1], [8, 8], [3, 3], [2, 2], 56, 128),
    "nm": (14, [3, 3], [3, 3], [0, 0], [8, 8], [0, 0], [2, 2], 60, 0),
}


@pytest.mark.parametrize("enc", ENCODINGS)
def test_docs_hand_counted_example(enc):
    cfg = ArchConfig(pes=2, spmat_width_bits=16, index_bits=1, spmat_encoding=enc,
                     nm_n=1, nm_m=2).validate()
    lay = build_layer(EXAMPLE, np.linspace(0, 1.5, 16), None, cfg)
    x_q = np.full(3, 256, dtype=np.int64)
    cycles, busy, pad, empty, starved, ptr, lines, spmat_bits, ptr_bits = HAND[enc]
    for eng in (engine_fast, engine_simpy):
        s = eng.run_pass(lay.passes[0], lay, x_q, cfg)
        assert s.cycles == cycles
        assert s.pe.busy.tolist() == busy and s.pe.padding.tolist() == pad
        assert s.pe.empty.tolist() == empty and s.pe.starved.tolist() == starved
        assert s.pe.pointer_reads.tolist() == ptr and s.pe.spmat_line_reads.tolist() == lines
    b = stored_bits(lay, cfg)
    assert (b["spmat_bits"], b["pointer_bits"]) == (spmat_bits, ptr_bits)
    assert b["total"] == spmat_bits + ptr_bits and b["nnz"] == 6


def test_example_pops_as_counted():
    """The pop cycles of the docs example (rule P with each encoding's slots)."""
    pops = {"csc": [[2, 2], [4, 3], [6, 5]], "bitmask": [[2, 2], [3, 3], [5, 4]],
            "nm": [[2, 2], [4, 4], [6, 6]]}
    for enc, want in pops.items():
        cfg = ArchConfig(pes=2, spmat_width_bits=16, index_bits=1, spmat_encoding=enc,
                         nm_n=1, nm_m=2).validate()
        lay = build_layer(EXAMPLE, np.linspace(0, 1.5, 16), None, cfg)
        for eng in (engine_fast, engine_simpy):
            _, tr = eng.run_pass_traced(lay.passes[0], lay, np.full(3, 256), cfg)
            assert tr.pops.tolist() == want, enc
            assert tr.broadcast.tolist() == [1, 2, 3]


# ---- errors ---------------------------------------------------------------------------
def test_nm_violation_names_layer_column_group():
    cfg = ArchConfig(pes=2, spmat_encoding="nm", nm_n=1, nm_m=2).validate()
    codes = EXAMPLE.copy()
    codes[2, 1] = 7                      # PE 0, local rows 0 and 1 of column 1: group 0
    with pytest.raises(LayoutError, match=r"layer 'fc'.*column 1, PE 0, group 0 .*rows 0, 2"):
        build_layer(codes, np.linspace(0, 1.5, 16), None, cfg, name="fc")


@pytest.mark.parametrize("keys, match", [
    ({"nm_m": 6}, "nm_m: 6 is not a power of two"),
    ({"nm_n": 5, "nm_m": 4}, "nm_n: 5 non-zeros per group exceed"),
    ({"nm_m": 128}, "nm_m"),
    ({"nm_n": 0}, "nm_n"),
    ({"spmat_encoding": "rle"}, "spmat_encoding"),
    ({"spmat_encoding": "bitmask", "weight_bits": 8, "spmat_width_bits": 8}, None),
])
def test_config_errors(keys, match):
    if match is None:                          # 8-bit codes fill an 8-bit line: valid
        assert ArchConfig(**keys).validate().entries_per_line == 1
        return
    with pytest.raises(ConfigError, match=match):
        ArchConfig(**keys).validate()


def test_non_csc_refuses_dram_streaming():
    cfg = ArchConfig(pes=2, spmat_encoding="bitmask", dram_stream="always").validate()
    with pytest.raises(LayoutError, match="csc only"):
        build_layer(EXAMPLE, np.linspace(0, 1.5, 16), None, cfg)


def test_layout_of_another_encoding_is_refused_by_the_engines():
    cfg = ArchConfig(pes=2).validate()
    lay = build_layer(EXAMPLE, np.linspace(0, 1.5, 16), None, cfg)
    other = cfg.replace(spmat_encoding="bitmask")
    for eng in (engine_fast, engine_simpy):
        with pytest.raises(ValueError, match="laid out as csc"):
            eng.run_pass(lay.passes[0], lay, np.full(3, 256), other)


# ---- the paper default ----------------------------------------------------------------
def test_csc_default_bits_and_energy_unchanged():
    """csc is the default; its stored bits are entries x (weight + index bits) and the SRAM
    need is today's; the decoder adds exactly nothing to energy and area."""
    cfg = ArchConfig().validate()
    assert cfg.spmat_encoding == "csc" and cfg.entry_bits == 8 and cfg.entries_per_line == 8
    rng = np.random.default_rng(3)
    codes, lay = _random_layer(rng, 300, 100, 0.1, cfg.replace(pes=8), bias=True)
    c8 = cfg.replace(pes=8)
    b = stored_bits(lay, c8)
    assert b["spmat_bits"] == lay.n_entries * 8
    assert b["pointer_bits"] == 8 * (100 + 2) * 16
    need = sram_need(lay, c8)
    worst = int(sum(p.entries_per_pe for p in lay.passes).max())
    assert need.spmat_entries == worst and need.spmat_sram_kb == -(-worst * 8 // 8192)
    assert decoder_delta(c8, 1.0, 1.0) == (0.0, 0.0)
    counts = ActionCounts(cycles=1000, queue_entries=800, pointer_reads=100,
                          spmat_line_reads=300, issued_entries=900, accumulator_writes=800,
                          act_sram_cycles=16)
    t = default_table()
    e = estimate(counts, c8, t)
    e_action = t.action_pj(c8)
    assert e.energy_pj_by_unit["spmat_read"] == (300 * e_action["spmat_line_read"]
                                                 + 900 * e_action["spmat_entry"])
    for enc in ("bitmask", "nm"):                     # the other decoders do add (or save)
        other = estimate(counts, c8.replace(spmat_encoding=enc), t)
        assert other.energy_pj_by_unit["spmat_read"] != e.energy_pj_by_unit["spmat_read"]
        assert other.area.pe_parts_mm2["spmat_read"] != e.area.pe_parts_mm2["spmat_read"]


def test_prune_nm_keeps_the_largest():
    w = np.array([[0.1], [0.0], [-0.9], [0.0], [0.5], [0.0], [0.2], [0.0]])
    # 2 PEs, groups of 2 local rows: PE 0 rows (0, 2), (4, 6); PE 1 rows (1, 3), (5, 7)
    out = prune_nm(w, 1, 2, 2)
    assert out[:, 0].tolist() == [0.0, 0.0, -0.9, 0.0, 0.5, 0.0, 0.0, 0.0]


def test_tool_compares_the_encodings(tmp_path, capsys):
    """tools/spmat_encodings.py on a small compressed layer: one row per encoding, the
    nm row pruned to 2:4 along the PEs' rows, csc and bitmask with the same cycles work."""
    import importlib.util
    import json
    import pathlib

    import compressor
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((40, 30)) * (rng.random((40, 30)) < 0.2)).astype(np.float32)
    compressor.compress({"fc": w}, out=tmp_path / "m.dcmp")
    path = pathlib.Path(__file__).resolve().parents[2] / "tools" / "spmat_encodings.py"
    spec = importlib.util.spec_from_file_location("spmat_encodings_tool", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main([str(tmp_path / "m.dcmp"), "--layer", "fc", "--pes", "4",
                      "--images", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["encoding"]: r for r in out["rows"]}
    assert set(rows) == set(ENCODINGS)
    assert rows["nm"]["pointer_reads"] == 0 and rows["nm"]["pointer_bits"] == 0
    assert rows["csc"]["busy"] == rows["bitmask"]["busy"] and rows["bitmask"]["padding"] == 0
    assert rows["nm"]["nnz"] <= rows["csc"]["nnz"]
