"""The numba references (sparse, per non-zero) against the straightforward dense numpy
formulas of docs/timing.md rule A and the error bound, on many shapes (hypothesis)."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import quantize, round_product
from eie_sim.sim.references import float_reference_batch, integer_reference_batch
from eie_sim.sim.stages import prepare
from eie_sim.workloads.layer import LayerWorkload


def dense_oracle(codes, codebook, bias, lay, X, X_q, cfg):
    """Integer accumulators, float outputs and bounds with dense numpy (no shortcuts)."""
    cq = lay.codebook_q[codes]
    W = codebook.astype(np.float64)[codes]
    Wq = cq / float(1 << cfg.weight_frac_bits)
    Xq = X_q / float(1 << cfg.act_frac_bits)
    acc = np.stack([round_product(cq * xq[None, :], cfg.weight_frac_bits).sum(axis=1) + lay.bias_q
                    for xq in X_q])
    b = 0.0 if bias is None else bias.astype(np.float64)
    y = X @ W.T + b
    bound = (np.abs(X - Xq) @ np.abs(W).T + np.abs(Xq) @ np.abs(W - Wq).T
             + 0.5 ** (cfg.act_frac_bits + 1) * ((Xq != 0).astype(float) @ (Wq != 0).astype(float).T))
    if bias is not None:
        bound += np.abs(b - lay.bias_q / float(1 << cfg.act_frac_bits))
    return acc, y, bound


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 50), cols=st.integers(1, 50),
       density=st.sampled_from([0.0, 0.05, 0.3, 1.0]), P=st.integers(1, 5), bias=st.booleans(),
       wf=st.sampled_from([4, 8, 12]), af=st.sampled_from([2, 8]))
def test_sparse_references_equal_dense_numpy(seed, rows, cols, density, P, bias, wf, af):
    rng = np.random.default_rng(seed)
    cfg = ArchConfig(pes=3, weight_frac_bits=wf, act_frac_bits=af).validate()
    codes = np.where(rng.random((rows, cols)) < density, rng.integers(1, 16, (rows, cols)), 0)
    codebook = np.concatenate([[0.0], rng.uniform(-1.5, 1.5, 15)]).astype(np.float32)
    b = rng.uniform(-2, 2, rows).astype(np.float32) if bias else None
    X = np.where(rng.random((P, cols)) < 0.6, rng.uniform(-3, 3, (P, cols)), 0.0)
    X_q, _ = quantize(X, cfg.act_frac_bits, cfg.word_bits)
    prep = prepare(LayerWorkload("t", codes, codebook, b), cfg, check_fit=False)
    acc, y, bound = dense_oracle(codes, codebook, b, prep.layout, X, X_q, cfg)
    assert np.array_equal(integer_reference_batch(prep, X_q, cfg), acc)
    fr = float_reference_batch(prep, X, X_q, cfg)
    np.testing.assert_allclose(fr.y, y, rtol=1e-12, atol=1e-12)
    # the reported bound adds float64 summation noise 1e-12 (sum |w x| + 1) on top
    np.testing.assert_allclose(fr.bound - 1e-12 * (fr.mag + 1.0), bound, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fr.mag, np.abs(X) @ np.abs(codebook.astype(np.float64)[codes]).T,
                               rtol=1e-12, atol=1e-12)
