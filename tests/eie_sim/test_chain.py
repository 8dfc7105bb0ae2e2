"""Per-layer fixed point (arch/fixed_point, the fixed_point: block) and networks chained on
EIE (apps/chain): the rule on constructed ranges, YAML errors, a tiny network run chained
with both engines, its error bound and top-1; SqueezeNet's biases under both rules."""
from __future__ import annotations

import math

import numpy as np
import pytest

from compressor.graph import NetBuilder
from compressor.graph.forward import forward
from compressor.model import QuantizedLayer, QuantizedModel
from eie_sim.arch.config import PAPER_CONFIG
from eie_sim.arch.config_io import load_config
from eie_sim.arch.fixed_point import LayerFormat, frac_bits_for, layer_format, quantize
from eie_sim.errors import ConfigError
from eie_sim.sim.chain import EieChain, top_k
from eie_sim.sim.formats import (
    apply_overrides,
    biases_rounded_to_zero,
    calibrate_formats,
    single_format,
)
from eie_sim.sim.options import SimOptions


# ------------------------------------------------------------------ the per-layer rule
@pytest.mark.parametrize("m", [0.3, 1.0, 7.9, 100.0, 151.5, 4938.1, 30000.0])
@pytest.mark.parametrize("head", [0, 1, 2])
def test_frac_bits_for_is_the_largest_that_fits(m, head):
    f = frac_bits_for(m, 16, head)
    scaled = m * 2 ** head
    if scaled > 32766.5:                      # no format holds it: the integer format
        assert f == 0
        return
    assert quantize(np.array([scaled, -scaled]), f, 16)[1] == 0          # fits
    if f < 15:
        assert quantize(np.array([scaled]), f + 1, 16)[1] == 1           # one more bit does not


def test_layer_format_rule_on_constructed_ranges():
    # inputs up to 150 (x2 headroom: 300 -> 6 fraction bits), outputs 40 but a bias of 90
    # (x2: 180 -> 7), weights up to 0.7 (no headroom: 15)
    f = layer_format(150.0, 40.0, 90.0, 0.7, 16, 1)
    assert f == LayerFormat(6, 7, 15)
    # tiny outputs: the output format is capped at act + weight fraction bits
    g = layer_format(20000.0, 1e-6, 0.0, 8.0, 16, 0)
    assert g.out_frac_bits == g.act_frac_bits + g.weight_frac_bits == 0 + 11
    cfg = g.config(PAPER_CONFIG)
    assert cfg.product_shift == 0 and cfg.output_frac_bits == 11


def test_out_frac_bits_default_keeps_the_single_format():
    assert PAPER_CONFIG.out_frac_bits is None
    assert PAPER_CONFIG.output_frac_bits == PAPER_CONFIG.act_frac_bits
    assert PAPER_CONFIG.product_shift == PAPER_CONFIG.weight_frac_bits
    c = PAPER_CONFIG.replace(out_frac_bits=5)
    assert c.product_shift == 12 + 8 - 5
    with pytest.raises(ConfigError, match="exceeds weight_frac_bits"):
        PAPER_CONFIG.replace(act_frac_bits=2, weight_frac_bits=3, out_frac_bits=6)


# ------------------------------------------------------------------ YAML
@pytest.mark.parametrize("text, message", [
    ("fixed_point: 3\n", r"c\.yaml:1: fixed_point: expected a mapping"),
    ("fixed_point:\n  rules: single\n", r"c\.yaml:2: fixed_point\.rules: unknown key"),
    ("fixed_point:\n  rule: dynamic\n", r"c\.yaml:2: fixed_point\.rule: expected one of per_layer, single"),
    ("fixed_point:\n  headroom_bits: 16\n", r"c\.yaml:2: fixed_point\.headroom_bits: expected an integer in 0\.\.15"),
    ("fixed_point:\n  layers:\n    conv1: {act_bits: 3}\n",
     r"c\.yaml:3: fixed_point\.layers\.conv1\.act_bits: unknown key"),
    ("fixed_point:\n  layers:\n    conv1:\n      out_frac_bits: 16\n",
     r"c\.yaml:4: fixed_point\.layers\.conv1\.out_frac_bits: expected an integer in 0\.\.15"),
    ("fixed_point:\n  layers:\n    conv1: {act_frac_bits: 1, out_frac_bits: 9, weight_frac_bits: 2}\n",
     r"c\.yaml:3: fixed_point\.layers\.conv1: out_frac_bits: 9 exceeds"),
    ("out_frac_bits: 2.5\n", r"c\.yaml:1: out_frac_bits: expected null or an integer"),
])
def test_fixed_point_block_errors_name_file_line_and_key(tmp_path, text, message):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(p)


def test_fixed_point_block_loads_and_round_trips(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("fixed_point:\n  headroom_bits: 2\n  calibration: [chelsea, coffee]\n"
                 "  layers:\n    conv1: {act_frac_bits: 7}\n")
    fp = load_config(p).fixed_point
    assert (fp.rule, fp.headroom_bits, fp.calibration) == ("per_layer", 2, "chelsea,coffee")
    assert fp.layers == {"conv1": {"act_frac_bits": 7}}
    assert fp.where["layers.conv1"].startswith(f"{p}:5:")
    # an override naming a layer the network lacks: the error points at the file line
    with pytest.raises(ConfigError, match=rf"{p}:5: fixed_point\.layers\.conv1: no weight layer"):
        apply_overrides({"fc": LayerFormat(8, 8, 12)}, fp.layers, PAPER_CONFIG,
                        {"conv1": fp.where["layers.conv1"]})


# ------------------------------------------------------------------ a tiny chained network
def _tiny(seed: int = 0):
    b = NetBuilder("tiny", (1, 3, 12, 12))
    x = b.conv("conv1", b.input, 8, kernel=3, pad=1)
    x = b.relu("relu1", x, top="conv1")
    x = b.pool("pool1", x, "MAX", kernel=2, stride=2)
    x = b.conv("conv2", x, 16, kernel=3, pad=1)
    x = b.relu("relu2", x, top="conv2")
    x = b.pool("gap", x, "AVE", global_pooling=True)
    b.fc("fc", x, 10)
    net = b.build()
    rng = np.random.default_rng(seed)
    layers = []
    for lay in net.weight_layers:
        shape = lay.weight_shape
        codes = rng.integers(1, 16, size=shape) * (rng.random(shape) < 0.5)
        cb = np.concatenate([[0.0], rng.normal(0, 0.4, 15)]).astype(np.float32)
        bias = rng.normal(0, 0.2, shape[0]).astype(np.float32)
        kind = "conv" if len(shape) == 4 else "fc"
        layers.append(QuantizedLayer(lay.name, kind, codes.astype(np.int64), cb, bias, 4, 4))
    x = (rng.normal(0, 1, (1, 3, 12, 12)) * 20).astype(np.float32)
    return net, QuantizedModel(layers), x


def test_tiny_network_chained_within_its_bound_and_same_top1():
    net, model, x = _tiny()
    formats, ranges = calibrate_formats(net, model, x, PAPER_CONFIG, headroom_bits=1)
    assert [r.name for r in ranges] == ["conv1", "conv2", "fc"]
    run = EieChain(net, model, PAPER_CONFIG, formats).run(x)
    assert run.fused_relu == ["relu1", "relu2"] and run.host_layers == ["pool1", "gap"]
    fwd = forward(net, model, x)
    np.testing.assert_array_equal(run.float_output, fwd.blobs["fc"])
    assert run.output.shape == (1, 10)
    for e in run.errors:
        assert math.isfinite(e.bound) and e.max_abs <= e.bound, e
    assert np.max(np.abs(run.output - run.float_output)) <= run.errors[-1].bound
    eie5, float5 = run.top_k(5)
    assert eie5[0] == float5[0] == top_k(fwd.blobs["fc"], 1)[0]
    # the EIE outputs are the simulator's own: none equals the float pass exactly
    assert np.any(run.output != run.float_output)
    # every layer's result records its formats
    row = run.layers[0].to_dict()
    f1 = formats["conv1"]
    assert row["in_format"] == f"Q{15 - f1.act_frac_bits}.{f1.act_frac_bits}"
    assert row["out_format"] == f"Q{15 - f1.out_frac_bits}.{f1.out_frac_bits}"


def test_tiny_network_both_engines_identical():
    net, model, x = _tiny(seed=3)
    x = x[:, :, :8, :8].copy()
    b = NetBuilder("tiny8", (1, 3, 8, 8))
    y = b.conv("conv1", b.input, 8, kernel=3, pad=1)
    y = b.relu("relu1", y, top="conv1")
    y = b.pool("pool1", y, "MAX", kernel=2, stride=2)
    y = b.conv("conv2", y, 16, kernel=3, pad=1)
    y = b.relu("relu2", y, top="conv2")
    y = b.pool("gap", y, "AVE", global_pooling=True)
    b.fc("fc", y, 10)
    net = b.build()
    formats, _ = calibrate_formats(net, model, x, PAPER_CONFIG)
    chain = EieChain(net, model, PAPER_CONFIG, formats)
    fast = chain.run(x, SimOptions(engine="fast", verify=True))   # every pass compared with simpy
    slow = chain.run(x, SimOptions(engine="simpy"))
    np.testing.assert_array_equal(fast.output, slow.output)
    for a, s in zip(fast.layers, slow.layers):
        assert a.cycles == s.cycles and np.array_equal(a.output_q, s.output_q)
        assert a.verified and a.engine == "fast" and s.engine == "simpy"


def test_single_format_is_the_config_format_and_bias_counts():
    net, model, _ = _tiny()
    one = single_format(net, PAPER_CONFIG.replace(act_frac_bits=2))
    assert set(one.values()) == {LayerFormat(2, 2, 12)}
    counts = biases_rounded_to_zero(model, one)
    b = np.abs(model.layer("conv1").bias)
    assert counts["conv1"] == (int(np.count_nonzero(b < 0.125)), 8)     # half a step of 2**-2


# ------------------------------------------------------------------ SqueezeNet
def test_squeezenet_per_layer_formats_keep_more_biases():
    sq = pytest.importorskip("eie_sim.apps.squeezenet")
    try:
        net, model = sq.load_squeezenet()
    except Exception as exc:      # the authors' files live outside the repository
        pytest.skip(f"SqueezeNet files not available: {exc}")
    from compressor.graph.forward import synthetic_input
    cfg = PAPER_CONFIG.replace(weight_bits=8)
    x = synthetic_input((1, 3, 227, 227))
    per_layer, ranges = calibrate_formats(net, model, x, cfg, headroom_bits=1)
    top = max(max(r.in_max, r.out_max, r.bias_max) for r in ranges)
    one = single_format(net, cfg.replace(act_frac_bits=frac_bits_for(top, 16)))
    z1 = biases_rounded_to_zero(model, one)
    zp = biases_rounded_to_zero(model, per_layer)
    assert sum(v[0] for v in zp.values()) < sum(v[0] for v in z1.values())
    assert all(zp[n][0] <= z1[n][0] for n in z1)      # no layer loses a bias it had
    # what still rounds to zero is under half a step of its layer's output format
    for name, f in per_layer.items():
        b = np.abs(np.asarray(model.layer(name).bias, np.float64))
        lost = b[(b != 0) & (np.floor(b * 2 ** f.out_frac_bits + 0.5) == 0)]
        assert np.all(lost < 0.5 * 2.0 ** -f.out_frac_bits)


# ------------------------------------------------------------------ the command line
@pytest.mark.parametrize("argv, pattern", [
    (["--squeezenet", "--image", "chelsea", "--positions", "10"], r"--image: a chained run computes every layer"),
    (["--squeezenet", "--image", "lena"], r"--image 'lena': unknown image"),
    (["--synthetic", "8,8,0.5,0.5", "--image", "chelsea"], r"--image applies to --squeezenet, --model or a workload: block only"),
    (["--synthetic", "8,8,0.5,0.5", "--set", "fixed_point.headroom_bits=1"],
     r"fixed_point: applies to the chained run"),
])
def test_chained_cli_refusals_exit_2_and_write_nothing(tmp_path, capsys, argv, pattern):
    import re

    from eie_sim.cli.simulate import simulate_main
    out = tmp_path / "out"
    rc = simulate_main(argv + ["--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and re.search(pattern, err), err
    assert not out.exists()


@pytest.mark.slow
def test_chained_squeezenet_cli_one_image(tmp_path, capsys):
    """``eie-simulate --squeezenet --image chelsea``: the bundle and top-1 agreement."""
    import csv

    from eie_sim.apps.squeezenet import DEFAULT_SQUEEZENET_DIR
    from eie_sim.cli.simulate import simulate_main
    if not (DEFAULT_SQUEEZENET_DIR / "compressed_SqueezeNet.net").is_file():
        pytest.skip("SqueezeNet files not available")
    pytest.importorskip("skimage")
    out = tmp_path / "b"
    assert simulate_main(["--squeezenet", "--image", "chelsea", "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(open(out / "images.csv")))
    assert len(rows) == 1 and rows[0]["top1_agree"] == "true"
    fm = list(csv.DictReader(open(out / "formats.csv")))
    assert len(fm) == 26 and all(r["in_format"].startswith("Q") for r in fm)
    assert (out / "config.yaml").read_text().count("fixed_point:") == 1
