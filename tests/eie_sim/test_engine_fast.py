"""The numba engine against a literal cycle-by-cycle reference of docs/timing.md.

``reference_run_pass`` below is written straight from the specification, one cycle at a
time, with no shortcuts: registered state (everything read at the start of the cycle,
broadcasts visible next cycle), rule B (CCU/LNZD), Q (queues), P (pointer read and
column work), S (Spmat lines), A (arithmetic, bypass) and the end-of-run rule.
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import round_product
from eie_sim.hw.counters import PassStats
from eie_sim.hw.engine_fast import run_pass
from eie_sim.hw.layout import build_layer


# ---------------------------------------------------------------------------------
# the literal reference
# ---------------------------------------------------------------------------------
def reference_run_pass(pl, ll, x_q, cfg) -> PassStats:
    N, D, R = pl.n_pe, cfg.queue_depth, cfg.act_regs_per_pe
    cols = pl.cols
    n_rows = math.ceil(cols / N)
    lat = cfg.arithmetic_latency
    epl = cfg.entries_per_line

    # CCU state
    row, last_bank, loading, done = 0, -1, 0, False
    broadcasts = stalls = batch_loads = 0
    # per-PE state
    queues = [deque() for _ in range(N)]
    left = [0] * N          # cycles left in the current column
    col = [-1] * N          # current column
    pos = [0] * N           # next entry of the current column
    zrow = [-1] * N         # decoded row (rule A: previous row + z + 1)
    prev_issue = [None] * N  # (cycle, writes, row) of the previous issued entry
    prev_line = [None] * N
    busy, padding, empty = [0] * N, [0] * N, [0] * N
    pops, lines, bypass = [0] * N, [0] * N, [0] * N
    acc = np.zeros(pl.rows, dtype=np.int64)
    max_occ = 0
    last_active = 0          # cycle 0: the detector loads row 0
    last_write = -1

    t = 1
    while True:
        occ = [len(q) for q in queues]        # queue state at the start of cycle t
        if done and not any(occ) and not any(left):
            break
        max_occ = max(max_occ, max(occ))
        sent = None

        # ---- rule B: the CCU ----
        if not done:
            last_active = t
            full = any(o == D for o in occ)
            if loading > 0:
                loading -= 1
                batch_loads += 1
            elif row < n_rows:
                found = None                      # every row is N banks wide
                for c in range(last_bank + 1, N):
                    if row * N + c < cols and x_q[row * N + c] != 0:
                        found = c
                        break
                move = found is None              # a used-up row is left, full queues or not
                if found is not None and full:
                    stalls += 1                   # a found non-zero waits
                elif found is not None:
                    sent = row * N + found
                    last_bank = found
                    move = found == N - 1
                if move:
                    row, last_bank = row + 1, -1
                    if 0 < row < n_rows and row % R == 0:
                        loading = cfg.batch_load_cycles
                    if row == n_rows and not pl.has_bias:
                        done = True
            elif full:
                stalls += 1               # the bias column waits like any broadcast
            else:
                sent = cols               # the bias column, then done
                done = True
            if sent is not None:
                broadcasts += 1

        # ---- rules P, S, A: every PE ----
        for k in range(N):
            if left[k] > 0:
                last_active = t
                j = col[k]
                start = pl.ptr[k, j]
                e = pl.ptr[k, j + 1] - start
                if e == 0:
                    empty[k] += 1
                else:
                    a = start + pos[k]
                    pos[k] += 1
                    g = pl.entry_start[k] + a
                    line = a // epl
                    if line != prev_line[k]:
                        lines[k] += 1
                        prev_line[k] = line
                    zrow[k] += int(pl.z[g]) + 1
                    r = zrow[k]
                    writes = int(pl.code[g]) != 0
                    if writes:
                        busy[k] += 1
                        last_write = t + lat       # written arithmetic_latency cycles later
                        if prev_issue[k] is not None and prev_issue[k] == (t - 1, True, r):
                            bypass[k] += 1
                        i = r * N + k
                        if j == cols:
                            acc[i] += ll.bias_q[pl.row_offset + i]
                        else:
                            acc[i] += round_product(int(ll.codebook_q[pl.code[g]]) * int(x_q[j]),
                                                    cfg.weight_frac_bits)
                    else:
                        padding[k] += 1
                    prev_issue[k] = (t, writes, r)
                left[k] -= 1
            if left[k] == 0 and occ[k] > 0:
                j = queues[k].popleft()
                pops[k] += 1
                col[k], pos[k], zrow[k] = j, 0, -1
                left[k] = max(1, int(pl.ptr[k, j + 1] - pl.ptr[k, j]))

        # ---- registered: a broadcast is seen from the next cycle ----
        if sent is not None:
            for q in queues:
                q.append(sent)
        t += 1

    cycles = max(last_active + 1, last_write + 2 if last_write >= 0 else 0)
    arr = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    starved = arr([cycles - busy[k] - padding[k] - empty[k] for k in range(N)])
    return PassStats.build(cycles=cycles, busy=arr(busy), padding=arr(padding), empty=arr(empty),
                     starved=starved, pointer_reads=arr(pops), spmat_line_reads=arr(lines),
                     bypass_hits=arr(bypass), broadcasts=broadcasts, queue_full_stalls=stalls,
                     batch_load_cycles=batch_loads, max_queue_occupancy=max_occ, acc=acc)


# ---------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------
def make_layer(rng, rows, cols, w_density, cfg, bias=True, name="t"):
    codes = np.where(rng.random((rows, cols)) < w_density,
                     rng.integers(1, cfg.codebook_size, size=(rows, cols)), 0).astype(np.uint8)
    codebook = np.concatenate([[0.0], rng.uniform(-1, 1, cfg.codebook_size - 1)])
    b = rng.uniform(-2, 2, rows) if bias else None
    if bias and rows > 2:
        b[rng.random(rows) < 0.3] = 0.0   # some rows without a bias entry
    layout = build_layer(codes, codebook, b, cfg, name=name, check_fit=False)
    return codes, layout


def run_layer(layout, x_q, cfg):
    """Every output pass of a layer on one vector, in order."""
    return [run_pass(p, layout, x_q, cfg) for p in layout.passes]


def make_acts(rng, cols, density, cfg):
    x = np.where(rng.random(cols) < density, rng.uniform(0.05, 3.0, cols), 0.0)
    return np.floor(x * (1 << cfg.act_frac_bits) + 0.5).astype(np.int64)


def numpy_acc(codes, layout, x_q, cfg):
    """Exact integer reference: sum_j round(codebook_q[code_ij] * x_j) + bias_q_i."""
    wq = layout.codebook_q[codes.astype(np.int64)]
    prods = round_product(wq * x_q[None, :], cfg.weight_frac_bits)
    return prods.sum(axis=1) + layout.bias_q


def layer_acc(stats, layout):
    out = np.zeros(layout.rows, dtype=np.int64)
    for p, s in zip(layout.passes, stats):
        out[p.row_offset:p.row_offset + p.rows] = s.acc
    return out


def both(layout, x_q, cfg):
    fast = run_layer(layout, x_q, cfg)
    ref = [reference_run_pass(p, layout, x_q, cfg) for p in layout.passes]
    return fast, ref


# ---------------------------------------------------------------------------------
# hand cases
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [False, True])
def test_one_pe_all_nonzero_formula(bias):
    cfg = ArchConfig(pes=1, queue_depth=4, act_regs_per_pe=64).validate()
    rng = np.random.default_rng(1)
    codes, layout = make_layer(rng, 40, 30, 0.3, cfg, bias=bias)
    x_q = np.full(30, 256, dtype=np.int64)
    (s,) = run_layer(layout, x_q, cfg)
    e = layout.passes[0].col_entries[0]
    assert e[-1] > 0      # the last broadcast column ends with a write
    # start-up cycle, broadcast, pop; the columns back to back; write + 2 (docs/timing.md)
    assert s.cycles == 4 + int(np.maximum(1, e).sum()) + cfg.arithmetic_latency
    assert s.broadcasts == 30 + int(bias)
    s.check_accounting()
    assert s.equal(reference_run_pass(layout.passes[0], layout, x_q, cfg))
    np.testing.assert_array_equal(s.acc, numpy_acc(codes, layout, x_q, cfg))


def test_single_entry_timeline():
    """1 PE, one column with 3 entries: row 0 loaded in cycle 0, broadcast 1, pop 2,
    entries issued 3..5, the last written in 5 + 4 = 9, the run ends 2 cycles later."""
    cfg = ArchConfig(pes=1).validate()
    codes = np.zeros((5, 1), dtype=np.uint8)
    codes[[0, 2, 4], 0] = [1, 2, 3]
    layout = build_layer(codes, [0.0, 0.5, 0.25, -1.0], None, cfg)
    s = run_pass(layout.passes[0], layout, np.array([256]), cfg)
    assert s.cycles == 9 + 2
    assert list(s.pe.busy) == [3] and list(s.pe.starved) == [8]
    assert s.broadcasts == 1 and list(s.pe.pointer_reads) == [1]
    assert list(s.pe.spmat_line_reads) == [1] and s.max_queue_occupancy == 1
    assert list(s.acc) == [128, 0, 64, 0, -256]


def test_empty_columns_cost_one_cycle():
    cfg = ArchConfig(pes=2, queue_depth=8).validate()
    codes = np.zeros((4, 6), dtype=np.uint8)
    codes[0, 1] = 1           # PE 0 column 1; PE 1 has only empty slices
    codes[2, 1] = 2
    layout = build_layer(codes, [0.0, 1.0, 2.0], None, cfg)
    x_q = np.full(6, 256, dtype=np.int64)
    s = run_pass(layout.passes[0], layout, x_q, cfg)
    assert list(s.pe.empty) == [5, 6] and list(s.pe.busy) == [2, 0]
    assert s.equal(reference_run_pass(layout.passes[0], layout, x_q, cfg))
    s.check_accounting()


def test_padding_entries():
    cfg = ArchConfig(pes=1, index_bits=2).validate()   # max_z = 3
    codes = np.zeros((12, 1), dtype=np.uint8)
    codes[11, 0] = 1           # 11 zeros before it -> 2 padding entries (z=3 each) + 1
    layout = build_layer(codes, [0.0, 1.0], None, cfg)
    assert layout.passes[0].n_padding == 2
    s = run_pass(layout.passes[0], layout, np.array([256]), cfg)
    assert list(s.pe.padding) == [2] and list(s.pe.busy) == [1]
    assert s.cycles == 5 + cfg.arithmetic_latency + 2     # the real entry is issued last, in 5
    assert s.acc[11] == 256
    assert s.equal(reference_run_pass(layout.passes[0], layout, np.array([256]), cfg))


@pytest.mark.parametrize("bias", [False, True])
def test_all_zero_activations(bias):
    cfg = ArchConfig(pes=4, act_regs_per_pe=2).validate()
    rng = np.random.default_rng(3)
    codes, layout = make_layer(rng, 16, 37, 0.5, cfg, bias=bias)
    x_q = np.zeros(37, dtype=np.int64)
    for p in layout.passes:
        s = run_pass(p, layout, x_q, cfg)
        assert s.equal(reference_run_pass(p, layout, x_q, cfg))
        assert s.broadcasts == int(bias)
        n_rows = math.ceil(37 / 4)
        loads = (n_rows - 1) // 2 * cfg.batch_load_cycles
        assert s.batch_load_cycles == loads
        if not bias:
            # the start-up cycle, one cycle per row plus the loads; nothing is written, so
            # the run ends the cycle after the detector has left its last row
            assert s.cycles == 1 + n_rows + loads
            assert not s.pe.busy.any() and not s.acc.any()
    np.testing.assert_array_equal(layer_acc(run_layer(layout, x_q, cfg), layout),
                                  numpy_acc(codes, layout, x_q, cfg))


def test_queue_full_stalls_depth_one():
    cfg = ArchConfig(pes=2, queue_depth=1).validate()
    rng = np.random.default_rng(5)
    codes, layout = make_layer(rng, 20, 12, 0.6, cfg)
    x_q = np.full(12, 100, dtype=np.int64)
    s = run_pass(layout.passes[0], layout, x_q, cfg)
    assert s.queue_full_stalls > 0 and s.max_queue_occupancy == 1
    assert s.equal(reference_run_pass(layout.passes[0], layout, x_q, cfg))


def test_accounting_and_acc_exact_multi_pass():
    cfg = ArchConfig(pes=3, queue_depth=2, act_regs_per_pe=2, index_bits=2).validate()
    rng = np.random.default_rng(7)
    codes, layout = make_layer(rng, 23, 19, 0.25, cfg)
    assert len(layout.passes) == 4
    x_q = make_acts(rng, 19, 0.6, cfg)
    fast, ref = both(layout, x_q, cfg)
    for f, r in zip(fast, ref):
        f.check_accounting()
        assert f.differences(r) == []
    np.testing.assert_array_equal(layer_acc(fast, layout), numpy_acc(codes, layout, x_q, cfg))


def test_input_validation():
    cfg = ArchConfig(pes=2).validate()
    codes, layout = make_layer(np.random.default_rng(0), 4, 3, 0.5, cfg)
    with pytest.raises(ValueError, match="activations"):
        run_pass(layout.passes[0], layout, np.zeros(4, dtype=np.int64), cfg)
    with pytest.raises(ValueError, match="integer"):
        run_pass(layout.passes[0], layout, np.zeros(3), cfg)
    with pytest.raises(ValueError, match="PEs"):
        run_pass(layout.passes[0], layout, np.zeros(3, dtype=np.int64), cfg.replace(pes=4))


# ---------------------------------------------------------------------------------
# random layers against the reference
# ---------------------------------------------------------------------------------
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1),
       pes=st.sampled_from([1, 2, 3, 4, 5, 8, 16]),
       depth=st.sampled_from([1, 2, 3, 4, 8, 64]),
       regs=st.sampled_from([1, 2, 3, 64]),
       rows=st.integers(1, 40), cols=st.integers(1, 40),
       w_density=st.sampled_from([0.01, 0.1, 0.3, 0.7, 1.0]),
       a_density=st.sampled_from([0.0, 0.2, 0.5, 0.9, 1.0]),
       bias=st.booleans(), index_bits=st.sampled_from([1, 2, 4]),
       epl_bits=st.sampled_from([8, 16, 64]))
def test_matches_reference(seed, pes, depth, regs, rows, cols, w_density, a_density, bias,
                           index_bits, epl_bits):
    cfg = ArchConfig(pes=pes, queue_depth=depth, act_regs_per_pe=regs,
                     index_bits=index_bits, spmat_width_bits=epl_bits).validate()
    rng = np.random.default_rng(seed)
    codes, layout = make_layer(rng, rows, cols, w_density, cfg, bias=bias)
    x_q = make_acts(rng, cols, a_density, cfg)
    fast, ref = both(layout, x_q, cfg)
    for f, r in zip(fast, ref):
        f.check_accounting()
        assert f.differences(r) == []
    np.testing.assert_array_equal(layer_acc(fast, layout), numpy_acc(codes, layout, x_q, cfg))


# ---------------------------------------------------------------------------------
# layout.build_layer's counting-sort fast path gives the images of build_pass
# ---------------------------------------------------------------------------------
def _old_path_passes(codes, bias_q, has_bias, cfg):
    """build_layer's original construction: nonzero + build_pass per output pass."""
    from eie_sim.hw.layout import build_pass
    r_all, c_all = np.nonzero(codes)
    v_all = codes[r_all, c_all]
    rows, cols = codes.shape
    out = []
    step = cfg.pes * cfg.act_regs_per_pe
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        sel = (r_all >= start) & (r_all < stop)
        bias_rows = start + np.flatnonzero(bias_q[start:stop] != 0) if has_bias else None
        out.append(build_pass(r_all[sel], c_all[sel], v_all[sel], n_pe=cfg.pes,
                              row_offset=start, rows=stop - start, cols=cols,
                              bias_rows=bias_rows, max_z=cfg.max_z))
    return out


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), pes=st.integers(1, 9), regs=st.sampled_from([1, 2, 64]),
       rows=st.integers(1, 60), cols=st.integers(1, 30),
       density=st.sampled_from([0.0, 0.05, 0.3, 1.0]), bias=st.booleans(),
       index_bits=st.sampled_from([1, 2, 4]),
       dtype=st.sampled_from([np.uint8, np.int64, np.int32]))
def test_layout_fast_path_matches_build_pass(seed, pes, regs, rows, cols, density, bias,
                                             index_bits, dtype):
    cfg = ArchConfig(pes=pes, act_regs_per_pe=regs, index_bits=index_bits).validate()
    rng = np.random.default_rng(seed)
    codes = np.where(rng.random((rows, cols)) < density,
                     rng.integers(1, 16, size=(rows, cols)), 0).astype(dtype)
    b = np.where(rng.random(rows) < 0.5, rng.uniform(-1, 1, rows), 0.0) if bias else None
    lay = build_layer(codes, np.linspace(0, 1, 16), b, cfg, check_fit=False)
    old = _old_path_passes(codes, lay.bias_q, bias, cfg)
    assert lay.nnz == np.count_nonzero(codes)
    assert len(lay.passes) == len(old)
    for p, q in zip(lay.passes, old):
        for f in ("n_pe", "row_offset", "rows", "cols", "has_bias"):
            assert getattr(p, f) == getattr(q, f)
        for f in ("ptr", "entry_start", "code", "z", "local_row"):
            a, c = getattr(p, f), getattr(q, f)
            assert a.dtype == c.dtype and a.shape == c.shape and np.array_equal(a, c), f


def test_one_pe_formula_needs_queue_depth_two():
    """docs/timing.md's 1-PE formula assumes the queue keeps up. With queue_depth 1 the
    CCU can broadcast only every other cycle (the slot freed by a pop is reusable one
    cycle later), so 1-entry columns starve the PE: the last of n one-entry columns is
    issued in 2n + 1 instead of n + 2 (then written 4 cycles later, the end 2 after that)."""
    n = 6
    codes = np.ones((1, n), dtype=np.uint8)
    x_q = np.full(n, 256, dtype=np.int64)
    for depth, expect in ((1, 2 * n + 1 + 4 + 2), (2, n + 2 + 4 + 2)):
        cfg = ArchConfig(pes=1, queue_depth=depth).validate()
        layout = build_layer(codes, [0.0, 1.0], None, cfg)
        s = run_pass(layout.passes[0], layout, x_q, cfg)
        assert s.cycles == expect
        assert s.equal(reference_run_pass(layout.passes[0], layout, x_q, cfg))
