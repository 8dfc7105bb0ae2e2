"""The sparse-format shoot-out (benchmarks/bench_shootout.py): its axes, its stored-bit
count on hand-counted layouts, and a run on a tiny grid whose table must be consistent
(same non-zeros across encodings of one mask, bits per weight above the entry width, the
analytical comparison's cycle-exact count equal to the table's, fast = simpy where
cross-checked)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks import bench_shootout
from benchmarks import shootout_grid as G
from eie_sim.arch.config import PAPER_CONFIG, ArchConfig
from eie_sim.workloads.layer import LayerWorkload


def test_stored_bits_hand_counted():
    # 2 x 3 matrix on 1 PE, non-zeros (0, 0) and (1, 2): two entries of 4 + 4 bits and
    # (3 + 1) pointers of 16 bits = 80 bits
    codes = np.array([[1, 0, 0], [0, 0, 2]])
    wl = LayerWorkload("t", codes, np.array([0.0, 0.5, -0.5], np.float32))
    cfg = PAPER_CONFIG.replace(pes=1)
    assert G.stored_bits(wl, cfg) == 2 * 8 + 4 * 16
    # one column of 8 rows, its non-zero in row 7: with 2-bit indices a run of 7 zeros
    # needs one filler entry (z = 3) before the entry (z = 3): 2 entries of 4 + 2 bits
    codes = np.zeros((8, 1), int)
    codes[7, 0] = 1
    wl = LayerWorkload("t", codes, np.array([0.0, 0.5], np.float32))
    assert G.stored_bits(wl, cfg.replace(index_bits=2)) == 2 * 6 + 2 * 16
    assert bench_shootout._layer_stats(wl, cfg.replace(index_bits=2))["padding_entries"] == 1
    assert bench_shootout._layer_stats(wl, cfg)["padding_entries"] == 0


def test_encoding_support_follows_the_installed_config():
    fields = {f.name for f in dataclasses.fields(ArchConfig)}
    for enc in G.ENCODINGS:
        why = G.encoding_support(enc)
        if enc.kind == "csc":
            assert why is None
        elif "spmat_encoding" not in fields:
            assert why and "spmat_encoding" in why
    csc4 = next(e for e in G.ENCODINGS if e.name == "csc-i4")
    assert G.encoding_config(PAPER_CONFIG, csc4, None).index_bits == 4
    nm = next(e for e in G.ENCODINGS if e.name == "nm")
    assert isinstance(G.encoding_config(PAPER_CONFIG, nm, None), str)   # needs an N:M matrix


def test_pruning_rules():
    assert [G.nm_for_density(d) for d in (0.5, 0.25, 0.1, 0.05, 0.3)] == ["2:4", "1:4", "1:10", "1:20", "3:10"]
    assert G.nm_for_density(0.123) is None
    assert [G.nm_pow2_for_density(d) for d in (0.5, 0.25, 0.1)] == ["2:4", "1:4", "3:32"]
    w = np.random.default_rng(0).normal(size=(40, 60))
    for rule in G.PRUNING_RULES:
        m = rule.mask(w, 0.25, 8, None)
        if rule.loop:                          # simulates the layer: needs its inputs
            assert "sample inputs" in m
            x = np.random.default_rng(1).normal(size=(4, 60))
            m = rule.mask(w, 0.25, 8, None, x)
            assert m.sum() == round(0.25 * w.size)     # the budget exactly
            continue
        if rule.fixed:
            assert isinstance(m, str)          # "as shipped" needs the matrix's own mask
            assert np.array_equal(rule.mask(w, 0.25, 8, w > 0), w > 0)
            continue
        if rule.name == "N:M (PE rows)":      # 1:4 over each PE's local rows r, r + 8, ...
            for pe in range(8):
                local = m[pe::8]                   # 5 local rows: groups of 4 and of 1
                assert np.all(local[:4].sum(axis=0) == 1) and np.all(local[4:].sum(axis=0) == 1)
            continue
        assert m.shape == w.shape and abs(m.mean() - 0.25) < 0.02, rule.name
    nm = G.rule_named("N:M").mask(w, 0.25, 8, None)
    assert np.all(nm.reshape(40, 15, 4).sum(axis=2) == 1)
    bal = G.rule_named("balanced (ESE)").mask(w, 0.25, 8, None)
    per_pe_col = np.stack([bal[p::8].sum(axis=0) for p in range(8)])
    assert np.all(per_pe_col == per_pe_col[0])           # every PE the same per column
    assert "no N:M rule" in G.rule_named("N:M").mask(w, 0.123, 8, None)
    with pytest.raises(ValueError, match="unknown pruning rule"):
        G.rule_named("magic")


def _check_table(result):
    rows = result["rows"]
    assert rows and result["errors"]
    by_mask = {}
    for r in rows:
        k = (r["network"], r["layer"], r["rule"], r["target_density"], r["pes"])
        by_mask.setdefault(k, {})[r["encoding"]] = r
        idx = G.ENCODINGS[[e.name for e in G.ENCODINGS].index(r["encoding"])].keys.get("index_bits")
        assert r["bits_per_nnz"] > r["weight_bits"] + (idx or 0), r
        assert 0 < r["load_efficiency"] <= 1 and r["total_energy_uj"] > 0 and r["cycles"] > 0
    for k, encs in by_mask.items():
        assert len({r["nnz"] for r in encs.values()}) == 1, k            # same mask, same nnz
        if {"csc-i2", "csc-i4", "csc-i8"} <= set(encs):
            pads = [encs[e]["padding_entries"] for e in ("csc-i2", "csc-i4", "csc-i8")]
            assert pads[0] >= pads[1] >= pads[2], k                      # wider index, fewer fillers
    main = {(r["network"], r["layer"], r["rule"], r["pes"], r["density"]): r["cycles"]
            for r in rows if r["encoding"] == G.REFERENCE_ENCODING}
    for e in result["errors"]:
        if e["queue_depth"] == PAPER_CONFIG.queue_depth:
            assert e["fast_cycles"] == main[(e["network"], e["layer"], e["rule"], e["pes"], e["density"])]
        assert e["error_pct"] == pytest.approx(100 * (e["analytical_cycles"] - e["fast_cycles"]) / e["fast_cycles"])
    nets = {r["network"]: r for r in result["network_rows"]}
    assert all(r["bits_per_nnz"] > 0 for r in nets.values())


MICRO = dataclasses.replace(G.TINY, name="micro", networks=("lenet300",),
                            rules=("unstructured", "N:M", "N:M (PE rows)", "sim in the loop"),
                            encodings=("csc-i2", "csc-i4", "bitmask", "nm"), dense_epochs={"lenet300": 1})


def test_shootout_micro_grid(tmp_path):
    """LeNet-300-100 after one epoch, two rules, one density and PE count: the table is
    consistent, accuracy is measured, the summary and plots are written, and an
    encoding the build does not accept is noted, not run."""
    result = bench_shootout.run_grid(MICRO, log=lambda m: None, verify=True)
    _check_table(result)
    assert any(r["verified_simpy"] for r in result["rows"])   # fast == simpy pass by pass there
    lenet = [r for r in result["network_rows"] if r["network"] == "LeNet-300-100"]
    assert all(50 < r["acc_retrained"] <= 100 for r in lenet)
    ref = {(r["layer"], r["pes"], r["target_density"]): r["cycles"] for r in result["rows"]
           if r["rule"] == "unstructured" and r["encoding"] == "csc-i4"}
    loop = [r for r in result["rows"] if r["rule"] == "sim in the loop" and r["encoding"] == "csc-i4"]
    assert loop and all(r["cycles"] <= ref[(r["layer"], r["pes"], r["target_density"])] for r in loop)
    nm_rows = [r for r in result["rows"] if r["encoding"] == "nm"]
    assert nm_rows and {r["rule"] for r in nm_rows} == {"N:M (PE rows)"}   # nm needs that mask
    if G.encoding_support(G.ENCODINGS[3]) is not None:
        assert not any(r["encoding"] == "bitmask" for r in result["rows"])
        assert any("bitmask SKIPPED" in n for n in result["notes"])
    md = bench_shootout.write(result, tmp_path)
    text = md.read_text()
    assert "| LeNet-300-100 | unstructured |" in text and "design points" in text
    assert {"bits_vs_cycles.png", "load_efficiency.png", "analytical_error.png", "shootout.csv",
            "analytical_error.csv"} <= {p.name for p in tmp_path.iterdir()}


@pytest.mark.slow
def test_shootout_tiny_grid(tmp_path):
    """The tiny grid (LeNet-300-100 and NT-LSTM, three rules) through main()."""
    result = bench_shootout.main(tmp_path, grid=G.TINY, verify=True)
    _check_table(result)
    assert {r["network"] for r in result["rows"]} == {"LeNet-300-100", "NT-LSTM"}
    assert (tmp_path / "shootout" / "shootout.md").is_file()


def test_squeezenet_absent_is_a_note(tmp_path):
    """Without the authors' files the SqueezeNet rows are skipped with a clear note."""
    from benchmarks import shootout_workloads
    net = shootout_workloads.squeezenet(("conv_final",), data_dir=tmp_path / "nowhere")
    assert net.layers == [] and "SqueezeNet SKIPPED" in net.notes[0] and "nowhere" in net.notes[0]


def test_encodings_are_picked_up_once_the_config_has_them(monkeypatch):
    """What the bench does after the encodings merge: an encoding among the key's choices
    runs when the layout can count its bits; one outside the choices is skipped."""
    from eie_sim.arch.schema import Spec
    real = {f.name for f in dataclasses.fields(ArchConfig)}
    keys = real | {"spmat_encoding", "nm_n", "nm_m"}
    monkeypatch.setattr(G, "_arch_keys", lambda: keys)
    monkeypatch.setattr(G, "specs", lambda cls: {"spmat_encoding": Spec("choice", "", choices=("csc", "bitmask"))})
    bitmask, nm = G.ENCODINGS[3], G.ENCODINGS[4]
    monkeypatch.delattr(G.layout_mod, "stored_bits", raising=False)
    assert "stored_bits" in G.encoding_support(bitmask)
    monkeypatch.setattr(G.layout_mod, "stored_bits", lambda layout, cfg: 0, raising=False)
    assert G.encoding_support(bitmask) is None
    assert "does not accept 'nm'" in G.encoding_support(nm)
    if "spmat_encoding" not in real:   # a build without the keys refuses them: a reason, no exception
        assert "refused" in G.encoding_config(PAPER_CONFIG, nm, "1:4")


def test_pe_rows_overshoot_is_noted():
    """N:M over PE rows on a layer with fewer local rows per PE than M keeps more than
    the target; the point still runs (every encoding, nm included) and the note says why."""
    from benchmarks.shootout_workloads import ShootLayer, ShootNetwork
    rng = np.random.default_rng(0)
    layer = ShootLayer("t", rng.normal(size=(10, 40)), None, rng.random(40), 4)
    net = ShootNetwork("t", "T", "synthetic", [layer])
    rows, errs, notes = [], [], set()
    encs = [e for e in G.ENCODINGS if e.name in ("csc-i4", "nm")]
    bench_shootout.run_point(net, G.rule_named("N:M (PE rows)"), 0.1, (8,), G.TINY, encs,
                             notes, rows, errs, False)
    assert {r["encoding"] for r in rows} == {"csc-i4", "nm"}
    assert any("above the target" in n for n in notes)
