"""eie_sim.workloads: synthetic specs, Table III, npz and model files, clear refusals."""
import numpy as np
import pytest

from eie_sim.arch.config import ArchConfig
from eie_sim.arch.paper import TABLE3
from eie_sim.errors import WorkloadError
from eie_sim.hw.layout import LayoutError
from eie_sim.workloads.files import from_block, from_model, from_npz
from eie_sim.workloads.synthetic import (
    parse_synthetic_arg,
    synthetic_layer,
    table3_layer,
    table3_names,
)


def test_synthetic_exact_densities_and_seed():
    a = synthetic_layer(120, 90, 0.137, 0.4, seed=5, bias=True)
    assert a.codes.shape == (120, 90)
    assert a.nnz == round(0.137 * 120 * 90)
    assert np.count_nonzero(a.x) == round(0.4 * 90) and np.all(a.x >= 0)
    assert a.codebook.shape == (16,) and a.codebook[0] == 0.0 and a.codes.data.max() <= 15
    assert a.bias.shape == (120,) and a.synthetic and a.source["seed"] == 5
    b = synthetic_layer(120, 90, 0.137, 0.4, seed=5, bias=True)
    c = synthetic_layer(120, 90, 0.137, 0.4, seed=6, bias=True)
    assert np.array_equal(a.codes.dense(), b.codes.dense()) and np.array_equal(a.x, b.x)
    assert not np.array_equal(a.codes.dense(), c.codes.dense())


def test_synthetic_extremes_and_bad_specs():
    assert synthetic_layer(10, 10, 0.0, 0.0).nnz == 0
    full = synthetic_layer(10, 10, 1.0, 1.0)
    assert full.nnz == 100 and np.count_nonzero(full.x) == 10
    with pytest.raises(WorkloadError, match=r"weight_density: expected a fraction in 0\.\.1, got 1\.5"):
        synthetic_layer(10, 10, 1.5)
    with pytest.raises(WorkloadError, match=r"rows: expected an integer"):
        synthetic_layer(0, 10, 0.5)
    assert parse_synthetic_arg("10,20,0.1,0.5,3,bias") == {
        "rows": 10, "cols": 20, "weight_density": 0.1, "act_density": 0.5, "seed": 3, "bias": True}
    with pytest.raises(WorkloadError, match="expected rows,cols"):
        parse_synthetic_arg("10,20")


def test_table3_shapes_are_outputs_by_inputs():
    assert set(TABLE3) == {"Alex-6", "Alex-7", "Alex-8", "VGG-6", "VGG-7", "VGG-8",
                           "NT-We", "NT-Wd", "NT-LSTM"}
    assert TABLE3["Alex-6"]["inputs"] == 9216 and TABLE3["Alex-6"]["outputs"] == 4096
    lay = table3_layer("NT-We", seed=1)
    assert lay.codes.shape == (600, 4096)
    assert lay.nnz == round(0.10 * 600 * 4096) and np.count_nonzero(lay.x) == 4096
    assert lay.synthetic and "synthetic" in lay.source["note"]
    assert table3_names("all") == list(TABLE3)
    with pytest.raises(WorkloadError, match="unknown Table III layer 'Alex-9'"):
        table3_names("Alex-9")


def test_npz_quantized_and_dense(tmp_path):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 16, size=(8, 6))
    cb = np.concatenate([[0.0], np.linspace(-1, 1, 15)]).astype(np.float32)
    p = tmp_path / "q.npz"
    np.savez(p, codes=codes, codebook=cb, bias=np.ones(8), x=np.arange(6.0))
    lay = from_npz(p)
    assert np.array_equal(lay.codes.dense(), codes) and lay.x.tolist() == list(range(6))
    w = rng.normal(size=(8, 6)) * (rng.random((8, 6)) < 0.5)
    p2 = tmp_path / "d.npz"
    np.savez(p2, weights=w)
    lay2 = from_npz(p2, weight_bits=3)
    assert lay2.codebook.shape == (8,) and np.array_equal(lay2.codes.dense() != 0, w != 0)
    assert np.max(np.abs(lay2.codebook[lay2.codes.dense()] - w)) < np.ptp(w[w != 0]) / 4
    np.savez(tmp_path / "bad.npz", codes=codes, codebook=cb, extra=np.ones(2))
    with pytest.raises(WorkloadError, match=r"bad\.npz: unknown array\(s\) \['extra'\]"):
        from_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "badx.npz", codes=codes, codebook=cb, x=np.ones(5))
    with pytest.raises(WorkloadError, match="x has 5 values for 6 columns"):
        from_npz(tmp_path / "badx.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(WorkloadError, match=r"junk\.npz: not a \.npz \(zip\) archive"):
        from_npz(tmp_path / "junk.npz")
    with pytest.raises(WorkloadError, match="file not found"):
        from_npz(tmp_path / "missing.npz")


def _model(tmp_path, bits=4):
    from compressor.fileformat import save
    from compressor.model import QuantizedLayer, QuantizedModel
    rng = np.random.default_rng(1)
    layers = []
    for name, shape in (("ip1", (12, 20)), ("ip2", (5, 12))):
        codes = rng.integers(0, 2 ** bits, size=shape) * (rng.random(shape) < 0.4)
        cb = np.concatenate([[0.0], np.linspace(-0.5, 0.5, 2 ** bits - 1)])
        layers.append(QuantizedLayer(name, "fc", codes, cb, rng.normal(size=shape[0]) * 0.1, bits, 4))
    conv = QuantizedLayer("conv", "conv", np.ones((2, 1, 3, 3), int), np.array([0.0, 1.0]), None, 1, 4)
    path = tmp_path / "m.dcmp"
    save(QuantizedModel([conv] + layers, {"seed": 3}), path)
    return path


def test_model_file(tmp_path):
    path = _model(tmp_path)
    # a convolution is never skipped silently: refused, naming it (issue 15; docs/byom.md)
    with pytest.raises(WorkloadError, match="layer\\(s\\) conv are convolutions"):
        from_model(path, ArchConfig())
    wl = from_model(path, ArchConfig(), ["ip1", "ip2"])
    assert [l.name for l in wl.layers] == ["ip1", "ip2"] and wl.network
    with pytest.raises(WorkloadError, match="layer 'conv' is conv; it runs on EIE through"):
        from_model(path, None, ["conv"])
    with pytest.raises(WorkloadError, match="no layer named 'ip9'"):
        from_model(path, None, ["ip9"])
    with pytest.raises(WorkloadError, match="conv are convolutions and the file holds no graph"):
        from_block({"model": str(path)}, ArchConfig(), seed=2, graphs=True)
    wl2 = from_block({"model": str(path), "layers": "ip1,ip2"}, ArchConfig(), seed=2)
    assert wl2.x.shape == (20,)


def test_model_with_too_many_codebook_bits_is_refused(tmp_path):
    path = _model(tmp_path, bits=6)
    with pytest.raises(WorkloadError, match=r"layer 'ip1': 6-bit weight codes \(64-entry codebook\) "
                                            r"do not fit weight_bits=4.*--set weight_bits=6"):
        from_model(path, ArchConfig(), ["ip1", "ip2"])
    assert len(from_model(path, ArchConfig(weight_bits=6), ["ip1", "ip2"]).layers) == 2


def test_layer_too_large_is_refused_with_size_and_pes():
    cfg = ArchConfig(pes=2, spmat_sram_kb=1, dram="none")   # 1024 entries per PE, no DRAM
    lay = synthetic_layer(64, 100, 0.5, 0.5, seed=0)  # 3200 entries -> ~1600 per PE
    with pytest.raises(LayoutError) as err:
        lay.layout(cfg)
    msg = str(err.value)
    assert "does not fit 2 PEs" in msg and "spmat_sram_kb=1 holds 1024" in msg
    assert "PEs would fit it" in msg and "KB" in msg


def test_missing_model_file(tmp_path):
    with pytest.raises(WorkloadError, match="model file not found"):
        from_model(tmp_path / "none.dcmp")
    (tmp_path / "bad.dcmp").write_bytes(b"garbage")
    with pytest.raises(WorkloadError, match=r"bad\.dcmp"):
        from_model(tmp_path / "bad.dcmp")


def test_oversized_synthetic_layer_is_refused_before_allocating():
    from eie_sim.errors import WorkloadError
    from eie_sim.workloads.synthetic import MAX_SYNTHETIC_ELEMENTS, synthetic_layer

    with pytest.raises(WorkloadError, match="exceeds"):
        synthetic_layer(100_000, 20_000, 0.5, 0.5)
    assert 4096 * 25088 <= MAX_SYNTHETIC_ELEMENTS  # VGG-6 stays possible


def test_table3_act_density_changes_only_the_input():
    a = table3_layer("NT-LSTM", seed=3)
    b = table3_layer("NT-LSTM", seed=3, act_density=0.43)
    assert np.array_equal(a.codes.dense(), b.codes.dense()) and np.array_equal(a.bias, b.bias)
    assert np.count_nonzero(b.x) == round(0.43 * 1201) and np.count_nonzero(a.x) == 1201


def test_npz_arrays_must_be_numeric(tmp_path):
    np.savez(tmp_path / "a.npz", codes=np.ones((2, 3), np.int64), codebook=np.array(["0", "1"]))
    with pytest.raises(WorkloadError, match="'codebook.npy': dtype <U1 is not a plain number type"):
        from_npz(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", weights=np.ones((2, 3)), bias=np.array([b"x", b"y"]))
    with pytest.raises(WorkloadError, match="'bias.npy': dtype |S1 is not a plain number type"):
        from_npz(tmp_path / "b.npz")


def test_from_block_refuses_a_synthetic_entry_that_is_not_a_mapping():
    # a malformed block is refused where it is read (arch.workload_spec), as a ConfigError
    from eie_sim.errors import ConfigError
    with pytest.raises(ConfigError, match="expected a mapping of name, rows, cols"):
        from_block({"synthetic": [5]}, ArchConfig())


def test_a_synthetic_layer_beyond_the_nonzero_cap_is_refused_at_once():
    import time
    t0 = time.perf_counter()
    with pytest.raises(WorkloadError, match="268,435,456 non-zero weights, more than the 67,108,864"):
        from_block({"synthetic": {"rows": 16384, "cols": 16384, "weight_density": 1.0}}, ArchConfig())
    assert time.perf_counter() - t0 < 1.0        # refused before generating anything


def test_a_layout_too_large_to_hold_is_refused_before_building():
    from eie_sim.hw.csr import CodesCSR
    from eie_sim.hw.layout import build_layer
    codes = CodesCSR.from_coo(np.array([0]), np.array([5]), np.array([1]), (1, 1 << 24))
    with pytest.raises(LayoutError, match="column pointers .* more than the 134,217,728"):
        build_layer(codes, np.array([0.0, 1.0]), None, ArchConfig(), check_fit=False)


def test_no_input_is_generated_for_a_layer_too_wide_to_lay_out():
    from eie_sim.workloads.synthetic import synthetic_input
    with pytest.raises(WorkloadError, match="268,435,456 inputs: more than the 16,777,216"):
        synthetic_input(1 << 28, 0.5, 0)
