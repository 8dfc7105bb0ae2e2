"""LLM-scale workloads (eie_sim.workloads.llm, eie_sim.apps.llm): the published shapes, the
generator (seeded, exact densities, magnitude pruning), the inputs and their threshold,
one decode step through the network report, and eie-simulate --network with an LLM."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from eie_sim.apps.llm import run_llm
from eie_sim.arch.config import PAPER_CONFIG
from eie_sim.arch.workload_spec import parse_workload
from eie_sim.cli.simulate import simulate_main
from eie_sim.errors import ConfigError, WorkloadError
from eie_sim.sim.options import SimOptions
from eie_sim.workloads import llm

#: parameter counts of the published checkpoints (Hugging Face: openai-community/gpt2,
#: gpt2-medium, meta-llama/Llama-2-7b-hf, mistralai/Mistral-7B-v0.1)
PUBLISHED_PARAMS = {"gpt2-small": 124_439_808, "gpt2-medium": 354_823_168,
                    "llama2-7b": 6_738_415_616, "mistral-7b": 7_241_732_096}


def _params(shape: llm.TransformerShape) -> int:
    """Parameters from the FC layers of fc_layers plus embeddings and normalisations."""
    fc = llm.fc_layers(shape)
    weights = sum(f.rows * f.cols + (f.rows if f.bias else 0) for f in fc)
    d, L = shape.hidden, shape.layers
    if shape.family == "gpt2":     # LM head tied to the token embedding; 1024 positions
        return weights - shape.vocab * d + shape.vocab * d + 1024 * d + (2 * L + 1) * 2 * d
    return weights + shape.vocab * d + (2 * L + 1) * d     # untied embedding, RMSNorm gains


@pytest.mark.parametrize("name", llm.LLM_NAMES)
def test_shapes_give_the_published_parameter_counts(name):
    assert _params(llm.get_shape(name)) == PUBLISHED_PARAMS[name]


def test_shapes_of_the_cited_configurations():
    s = llm.get_shape("llama2-7b")
    fc = llm.fc_layers(s)
    assert len(fc) == 32 * 7 + 1 and fc[-1].name == "lm_head" and (fc[-1].rows, fc[-1].cols) == (32000, 4096)
    by = {f.name: (f.rows, f.cols) for f in fc}
    assert by["block0.k"] == (4096, 4096) and by["block31.ffn_gate"] == (11008, 4096)
    assert by["block5.ffn_down"] == (4096, 11008)
    m = {f.name: (f.rows, f.cols) for f in llm.fc_layers(llm.get_shape("mistral-7b"))}
    assert m["block0.k"] == m["block0.v"] == (8 * 128, 4096)             # GQA: 8 KV heads
    assert m["block0.q"] == (4096, 4096) and m["block0.ffn_up"] == (14336, 4096)
    g = llm.fc_layers(llm.get_shape("gpt2-small"), blocks=1)
    assert [(f.kind, f.rows, f.cols, f.bias) for f in g] == [
        ("qkv", 2304, 768, True), ("o", 768, 768, True), ("ffn_up", 3072, 768, True),
        ("ffn_down", 768, 3072, True), ("lm_head", 50257, 768, False)]
    assert g[-1].index == 12 * 4                          # the LM head's seed index is fixed
    assert llm.get_shape("gpt2-medium").layers == 24 and llm.get_shape("gpt2-medium").heads == 16
    with pytest.raises(WorkloadError, match="unknown LLM 'gpt5'; known: gpt2-small"):
        llm.get_shape("gpt5")


def _fc(rows=300, cols=200):
    return llm.FcLayer(3, "t", "o", 0, rows, cols, False, "normal")


def test_generator_deterministic_by_seed_and_exact_density():
    s = llm.get_shape("gpt2-small")
    a = llm.llm_layer(s, _fc(), 0.37, seed=5)
    b = llm.llm_layer(s, _fc(), 0.37, seed=5)
    c = llm.llm_layer(s, _fc(), 0.37, seed=6)
    for f in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(a.codes, f), getattr(b.codes, f))
    assert not np.array_equal(a.codes.indices, c.codes.indices)
    assert a.nnz == c.nnz == round(0.37 * 300 * 200)
    counts = np.diff(a.codes.indptr)
    assert counts.std() > 0                                  # global pruning: rows differ
    for i in range(0, 300, 37):                              # sorted, distinct columns
        cols = a.codes.indices[a.codes.indptr[i]:a.codes.indptr[i + 1]]
        assert np.all(np.diff(cols) > 0) and cols.min() >= 0 and cols.max() < 200
    codes = a.codes.data
    assert codes.min() >= 1 and codes.max() <= 14 and a.codebook.size == 15
    # each code about equally likely (equal-probability bins)
    freq = np.bincount(codes, minlength=15)[1:] / codes.size
    assert np.all(np.abs(freq - 1 / 14) < 0.01)


def test_per_row_pruning_keeps_the_same_count_in_every_row():
    s = llm.get_shape("gpt2-small")
    wl = llm.llm_layer(s, _fc(), 0.3, prune="per-row", seed=1)
    assert np.all(np.diff(wl.codes.indptr) == round(0.3 * 200))
    with pytest.raises(WorkloadError, match="prune: expected one of global, per-row"):
        llm.llm_layer(s, _fc(), 0.3, prune="rows")


def test_codebook_is_the_magnitude_pruned_student_t():
    """The direct generator stands for: draw every weight (Student-t), keep the largest
    magnitudes, quantize by equal-probability bins. Doing exactly that on a dense sample
    gives bin medians equal to the codebook's, and every kept weight beyond the threshold."""
    nu, sigma, d = 4.0, 0.02, 0.4
    rng = np.random.default_rng(0)
    w = sigma * rng.standard_t(nu, size=400_000) / math.sqrt(nu / (nu - 2))
    keep = np.sort(np.abs(w))[::-1][: int(d * w.size)]
    kept = w[np.abs(w) >= keep[-1]]
    pos = np.sort(kept[kept > 0])
    meds = [np.median(b) for b in np.array_split(pos, 7)]
    cb = llm.student_t_codebook(d, 4, nu, sigma)
    assert cb[0] == 0 and np.allclose(cb[1:8], -cb[8:][::-1])
    assert np.allclose(cb[8:], meds, rtol=0.02)
    t = sigma / math.sqrt(nu / (nu - 2)) * llm.student_t_isf(d / 2, nu)
    assert abs(keep[-1] - t) < 0.01 * t and np.all(np.abs(cb[1:]) > t)


def test_student_t_quantiles_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    p = np.array([0.5, 0.3, 0.1, 0.01, 1e-4])
    for nu in (3.0, 4.0, 7.5):
        assert np.allclose(llm.student_t_isf(p, nu), stats.t.isf(p, nu), rtol=1e-5, atol=1e-9)


def test_inputs_have_no_zeros_until_thresholded():
    for inp in ("normal", "silu_glu", "gelu"):
        fc = llm.FcLayer(0, "t", "o", 0, 8, 20000, False, inp)
        x = llm.llm_inputs(fc, 2, seed=3)
        assert x.shape == (2, 20000) and np.count_nonzero(x) == x.size
        assert np.array_equal(x, llm.llm_inputs(fc, 2, seed=3))
        xt = llm.llm_inputs(fc, 2, seed=3, threshold=0.5)
        assert np.all((xt == 0) | (np.abs(xt) >= 0.5))
        if inp == "normal":    # P(|N(0,1)| >= 0.5) = 0.617
            assert abs(np.count_nonzero(xt) / xt.size - math.erfc(0.5 / math.sqrt(2))) < 0.01


def test_threshold_speeds_up_through_the_detector():
    """The leading-non-zero detector skips the thresholded inputs: cycles fall about with
    the input density (the GELU layer's inputs are mostly small)."""
    opt = SimOptions(check_fit=False)
    base = run_llm("gpt2-small", layers=["block0.ffn_down"], options=opt)
    thr = run_llm("gpt2-small", layers=["block0.ffn_down"], act_threshold=0.25, options=opt)
    a, b = base.layers[0], thr.layers[0]
    assert a.act_density > 0.99 and b.act_density < 0.7
    gain = a.cycles / b.cycles
    assert gain > 1.4 and gain == pytest.approx(a.act_density / b.act_density, rel=0.15)
    assert run_llm("gpt2-small", layers=["block0.ffn_down"], options=opt).layers[0].cycles == a.cycles


def test_decode_step_run_and_multichip_outputs():
    opt = SimOptions(check_fit=False)
    one = run_llm("mistral-7b", layers=["block0.k"], batch=2, density=0.1, options=opt)
    two = run_llm("mistral-7b", PAPER_CONFIG.replace(chips=2), layers=["block0.k"], batch=2,
                  density=0.1, options=opt)
    assert one.layers[0].rows == 1024 and one.layers[0].simulated == 2
    assert np.array_equal(one.layers[0].output_q, two.layers[0].output_q)
    s1, s2 = one.llm, two.llm
    assert s2["chips"] == 2 and s2["link_bytes"] > 0 and s1["link_bytes"] == 0
    assert s1["tokens_per_s"] == pytest.approx(2 / s1["time_s"])
    layer_uj = sum(l.energy_uj for l in one.layers)            # the layers' total energy
    assert layer_uj > 0 and s1["energy_j_per_token"] == pytest.approx(layer_uj * 1e-6 / 2)
    assert s1["stored_bytes"] >= one.layers[0].nnz           # one byte per 8-bit entry, + pointers
    r = s1["roofline"]["hbm2"]
    assert r["bound"] in ("compute", "bandwidth") and r["dram_s"] == pytest.approx(
        s1["stored_bytes"] / 256e9)
    ext = run_llm("gpt2-small", blocks=1, lm_head=False, options=opt, density=0.05)
    assert ext.llm["extrapolated"] and ext.llm["cycles"] == pytest.approx(
        12 * sum(l.cycles for l in ext.layers))
    assert ext.notes[0].startswith("EXTRAPOLATED")


def test_cli_llm_and_errors(tmp_path, capsys):
    out = tmp_path / "g"
    rc = simulate_main(["--network", "gpt2-small", "--layers", "block0.o", "--batch", "2",
                        "--weight-density", "0.2", "--act-threshold", "0.3", "--prune",
                        "per-row", "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert rc == 0, text
    summ = json.loads((out / "summary.json").read_text())
    assert summ["llm"]["batch"] == 2 and summ["llm"]["prune"] == "per-row"
    assert summ["layers"][0]["positions"] == 2 and abs(summ["layers"][0]["weight_density"] - 0.2) < 1e-3
    assert "tokens/s" in (out / "report.md").read_text()
    assert simulate_main(["--network", "gpt3"]) == 2
    err = capsys.readouterr().err
    assert "unknown network 'gpt3'" in err and "llama2-7b" in err and "mobilenet_v1" in err
    assert simulate_main(["--network", "enet", "--weight-density", "0.2"]) == 2
    assert "weight_density: applies to an LLM" in capsys.readouterr().err
    assert simulate_main(["--network", "llama2-7b", "--positions", "3"]) == 2
    assert "positions: applies to a compact network" in capsys.readouterr().err
    # too large for the Spmat SRAMs: its weights stream from the default DRAM (docs/dram.md)
    out = tmp_path / "up"
    assert simulate_main(["--network", "llama2-7b", "--layers", "block0.ffn_up", "--weight-density",
                          "0.1", "--pes", "16", "--out", str(out), "--quiet"]) == 0
    row = list(csv.DictReader((out / "layers.csv").open()))[0]
    assert row["dram"] == "ddr4_3200" and int(row["dram_bytes"]) > 0
    assert simulate_main(["--network", "llama2-7b", "--layers", "block0.ffn_up", "--dram", "none",
                          "--weight-density", "0.1", "--pes", "16"]) == 2
    assert "--no-fit-check" in capsys.readouterr().err


def test_yaml_block_options_checked():
    spec = parse_workload({"network": "llama2-7b", "weight_density": 0.5,
                           "act_threshold": 0.1, "prune": "per-row", "blocks": 2})
    assert (spec.weight_density, spec.prune, spec.blocks) == (0.5, "per-row", 2)
    for bad, msg in (({"batch": 4}, "workload.batch: no longer a workload key: .*architecture "
                                    "key `batch`"),
                     ({"blocks": 0}, "blocks: expected an integer >= 1"),
                     ({"weight_density": 1.5}, r"weight_density: expected a fraction in \(0, 1\]"),
                     ({"act_threshold": -1}, "act_threshold: expected a number >= 0"),
                     ({"prune": "x"}, "prune: expected one of global, per-row")):
        with pytest.raises(ConfigError, match=msg):
            parse_workload({"network": "llama2-7b", **bad})


def test_layers_stream_when_the_model_does_not_fit():
    """A layer that fits the SRAMs alone still streams once per decode step when the
    model's weights do not all fit (they cannot stay resident across steps)."""
    from eie_sim.apps.llm import model_fits_on_chip
    llama, gpt2 = llm.get_shape("llama2-7b"), llm.get_shape("gpt2-small")
    assert not model_fits_on_chip(llama, 0.05, PAPER_CONFIG.replace(pes=1024))
    assert model_fits_on_chip(gpt2, 0.01, PAPER_CONFIG.replace(pes=1024))
    cfg = PAPER_CONFIG.replace(pes=1024, dram="ddr4_3200")
    run = run_llm("llama2-7b", cfg, layers=["block0.k"], density=0.05,
                  options=SimOptions(check_fit=True))
    row = run.layers[0].to_dict()
    assert run.config.dram_stream == "always" and int(row["dram_bytes"]) > 0
    assert any("streams from ddr4_3200 once per step" in n for n in run.notes)
    first = llm.fc_layers(gpt2, 1, False)[0].name
    small = run_llm("gpt2-small", cfg, layers=[first], density=0.01,
                    options=SimOptions(check_fit=True))
    assert small.config.dram_stream == "auto" and int(small.layers[0].to_dict()["dram_bytes"]) == 0
