"""The simpy reference engine (eie_sim/hw/engine_simpy.py + eie_sim/hw/units/) against
hand-derived cycle counts, a numpy reference for the values, and a plain
cycle-by-cycle reading of docs/timing.md (``literal_run_pass`` below)."""
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
from eie_sim.hw.engine_fast import run_pass as fast_run_pass
from eie_sim.hw.engine_simpy import SimpyModel, run_pass
from eie_sim.hw.layout import build_layer
from eie_sim.hw.units.lnzd import LeadingNonZeroDetector

CODEBOOK = np.concatenate([[0.0], np.linspace(-1.0, 1.0, 15)]).astype(np.float32)


def layer(codes, cfg, bias=None):
    return build_layer(np.asarray(codes), CODEBOOK, bias, cfg)


def numpy_reference(codes, lay, x_q, cfg) -> np.ndarray:
    """acc of every row: sum of individually rounded products + bias (docs/timing.md A)."""
    codes = np.asarray(codes)
    w = lay.codebook_q[codes]                                  # (rows, cols) int64
    prods = round_product(w * np.asarray(x_q, dtype=np.int64)[None, :], cfg.weight_frac_bits)
    prods[codes == 0] = 0
    return prods.sum(axis=1) + lay.bias_q


def run_all_passes(lay, x_q, cfg) -> tuple[int, np.ndarray, list[PassStats]]:
    stats = [run_pass(p, lay, x_q, cfg) for p in lay.passes]
    acc = np.concatenate([s.acc for s in stats])
    return sum(s.cycles for s in stats), acc, stats


def check_invariants(st_: PassStats, cfg: ArchConfig) -> None:
    st_.check_accounting()
    assert st_.max_queue_occupancy <= cfg.queue_depth
    assert np.all(st_.pe.starved >= 0)


# ---------------------------------------------------------------------------------
# a literal, cycle-by-cycle reading of docs/timing.md (no events, no shortcuts)
# ---------------------------------------------------------------------------------
def literal_run_pass(pl, ll, x_q, cfg) -> PassStats:
    n, depth, regs = pl.n_pe, cfg.queue_depth, cfg.act_regs_per_pe
    cols, n_rows = pl.cols, math.ceil(pl.cols / pl.n_pe)
    per_line = cfg.entries_per_line
    ptr, base = pl.ptr, pl.entry_start
    row, last_bank, loading, done = 0, -1, 0, False
    stalls = load_cycles = 0
    queues = [deque() for _ in range(n)]
    left = [0] * n
    current = [None] * n          # [column, activation, next address, end, decoded row]
    last = [(-5, -1)] * n         # (issue cycle, written row or -1) of the last issued entry
    line = [-1] * n
    c = {name: [0] * n for name in ("busy", "padding", "empty", "pops", "lines", "bypass")}
    dest = np.zeros(pl.rows, dtype=np.int64)
    max_occ, last_active, last_write, t = 0, 0, -1, 1     # cycle 0 loads detector row 0
    while True:
        occ = [len(q) for q in queues]                # start-of-cycle state
        if done and not any(occ) and not any(left):
            break
        max_occ = max(max_occ, max(occ))
        sent = None
        if not done:                                  # rule B
            last_active = t
            if loading:
                loading -= 1
                load_cycles += 1
            elif row < n_rows:
                row_end = n - 1                       # N banks, zeros past the last column
                found = [b for b in range(last_bank + 1, n)
                         if row * n + b < cols and x_q[row * n + b] != 0]
                if found and max(occ) >= depth:       # a found non-zero waits
                    stalls += 1
                    continue_row = True
                else:
                    continue_row = False
                if found and not continue_row:
                    sent = (row * n + found[0], int(x_q[row * n + found[0]]))
                    last_bank = found[0]
                if not found or (not continue_row and found[0] == row_end):
                    row, last_bank = row + 1, -1
                    if 0 < row < n_rows and row % regs == 0:
                        loading = cfg.batch_load_cycles
                    done = row == n_rows and not pl.has_bias
            elif max(occ) >= depth:
                stalls += 1
            else:
                sent = (cols, 1 << cfg.act_frac_bits)
                done = True
        for k in range(n):                            # rule P, S, A
            if left[k]:
                last_active = t
                cur = current[k]
                if cur[2] < cur[3]:                   # issue entry cur[2]
                    a = cur[2]
                    cur[2] += 1
                    flat = base[k] + a
                    cur[4] += int(pl.z[flat]) + 1
                    if a // per_line != line[k]:
                        c["lines"][k] += 1
                        line[k] = a // per_line
                    if pl.code[flat] == 0:
                        c["padding"][k] += 1
                        last[k] = (t, -1)
                    else:
                        c["busy"][k] += 1
                        g = cur[4] * n + k
                        if last[k] == (t - 1, cur[4]):
                            c["bypass"][k] += 1
                        if cur[0] == cols:
                            dest[g] += ll.bias_q[pl.row_offset + g]
                        else:
                            dest[g] += round_product(int(ll.codebook_q[pl.code[flat]]) * cur[1],
                                                     cfg.weight_frac_bits)
                        last[k] = (t, cur[4])
                        last_write = t + cfg.arithmetic_latency
                else:
                    c["empty"][k] += 1
                left[k] -= 1
            if not left[k] and occ[k]:
                j, a_j = queues[k].popleft()          # the head at the start of the cycle
                c["pops"][k] += 1
                start, end = int(ptr[k, j]), int(ptr[k, j + 1])
                current[k] = [j, a_j, start, end, -1]
                left[k] = max(1, end - start)
        if sent is not None:
            for q in queues:
                q.append(sent)
        t += 1
    cycles = max(last_active + 1, last_write + 2 if last_write >= 0 else 0)
    arr = {name: np.array(v, dtype=np.int64) for name, v in c.items()}
    return PassStats.build(cycles=cycles, busy=arr["busy"], padding=arr["padding"], empty=arr["empty"],
                     starved=cycles - arr["busy"] - arr["padding"] - arr["empty"],
                     pointer_reads=arr["pops"], spmat_line_reads=arr["lines"],
                     bypass_hits=arr["bypass"], broadcasts=broadcasts_of(x_q, pl),
                     queue_full_stalls=stalls, batch_load_cycles=load_cycles,
                     max_queue_occupancy=max_occ, acc=dest)


def broadcasts_of(x_q, pl) -> int:
    return int(np.count_nonzero(x_q)) + int(pl.has_bias)


# ---------------------------------------------------------------------------------
# (a) one PE, every activation non-zero
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("depth", [1, 2, 8])
def test_one_pe_all_nonzero_formula(with_bias, depth):
    """cycles = 4 + sum over sent columns of max(1, entries) + latency (depth >= 2, the
    last column ending with a write): cycle 0 loads detector row 0, the first column is
    sent in 1 and popped in 2, the columns follow back to back, the last entry is written
    ``latency`` cycles after its issue and the run ends 2 cycles after that write.

    With depth 1 a queue holding one entry is full: the next column can only be sent
    the cycle after the pop and popped the cycle after that, so every column but the
    last costs max(2, entries) cycles between pops."""
    cfg = ArchConfig(pes=1, queue_depth=depth)
    rng = np.random.default_rng(7)
    codes = (rng.random((40, 30)) < 0.2) * rng.integers(1, 16, (40, 30))
    codes[:, 3] = 0                                            # an empty column too
    bias = rng.uniform(-1, 1, 40).astype(np.float32) if with_bias else None
    lay = layer(codes, cfg, bias)
    x = rng.integers(1, 300, 30)
    st_ = run_pass(lay.passes[0], lay, x, cfg)
    e = lay.passes[0].col_entries[0]                           # bias column included
    assert e[-1] > 0
    if depth >= 2:
        assert st_.cycles == 4 + int(np.maximum(1, e).sum()) + cfg.arithmetic_latency
        assert st_.pe.starved[0] == 4 + cfg.arithmetic_latency
    else:
        pops = 2 + np.concatenate([[0], np.cumsum(np.maximum(2, e[:-1]))])
        assert st_.cycles == pops[-1] + e[-1] + cfg.arithmetic_latency + 2
    check_invariants(st_, cfg)
    assert st_.broadcasts == 30 + int(with_bias)
    assert st_.pe.pointer_reads[0] == 30 + int(with_bias)
    np.testing.assert_array_equal(st_.acc, numpy_reference(codes, lay, x, cfg))


# ---------------------------------------------------------------------------------
# (b) the paper's Fig. 2/3 example: 16 x 8 on 4 PEs
# ---------------------------------------------------------------------------------
PE0_ENTRIES = [(0, 0), (8, 0), (12, 0), (4, 1), (0, 2), (12, 2), (0, 4), (4, 4),
               (0, 5), (12, 5), (0, 6), (8, 7), (12, 7)]


def fig2_matrix() -> np.ndarray:
    w = np.zeros((16, 8), dtype=np.int64)
    for n, (r, c) in enumerate(PE0_ENTRIES):
        w[r, c] = n % 15 + 1
    rng = np.random.default_rng(2016)                          # PEs 1-3: seeded random rows
    for r in range(16):
        if r % 4:
            m = rng.random(8) < 0.3
            w[r, m] = rng.integers(1, 16, m.sum())
    return w


def test_fig2_layout_of_pe0():
    lay = layer(fig2_matrix(), ArchConfig(pes=4))
    p = lay.passes[0]
    assert p.ptr[0].tolist() == [0, 3, 4, 6, 6, 8, 10, 11, 13]
    pe0 = slice(p.entry_start[0], p.entry_start[1])
    assert p.z[pe0].tolist() == [0, 1, 0, 1, 0, 2, 0, 0, 0, 2, 0, 2, 0]
    assert p.local_row[pe0].tolist() == [0, 2, 3, 1, 0, 3, 0, 1, 0, 3, 0, 2, 3]
    # the seeded rows of PEs 1-3 that the hand derivation below relies on
    assert p.col_entries.tolist() == [[3, 1, 2, 0, 2, 2, 1, 2],
                                      [1, 1, 1, 1, 1, 2, 0, 2],
                                      [0, 0, 1, 0, 3, 1, 0, 2],
                                      [1, 1, 3, 1, 1, 1, 1, 1]]


def test_fig2_hand_derived_cycles():
    """x non-zero at columns 0 1 2 | 4 5 7 (banks 0-2 of row 0, banks 0,1,3 of row 1),
    queue depth 2, no bias. Entries per PE of the broadcast columns (0 1 2 4 5 7):
    PE0 3 1 2 2 2 2, PE1 1 1 1 1 2 2, PE2 0 0 1 3 1 2, PE3 1 1 3 1 1 1.

    cycle 0: the detector loads row 0.        1: CCU sends col 0.
    cycle 2: sends col 1; all PEs pop col 0 (PE0 works it in 3, 4, 5).
    cycle 3: sends col 2; PE1-3 pop col 1.
    cycle 4: PE0's queue holds 2 (cols 1, 2) and is full, but nothing is left after
             bank 2 in row 0 (bank 3 is zero): the detector moves to row 1 anyway.
    cycle 5: col 4 found; PE0's queue still full -> stall; PE0 pops col 1.
    cycle 6: sends col 4; PE0 pops col 2 (works it in 7, 8).
    cycle 7: sends col 5.
    cycle 8: col 7 found; PE0 holds cols 4, 5 -> stall; PE0 pops col 4 (9, 10).
    cycle 9: sends col 7 (bank N-1: row 2 = end, no bias: CCU done).
    PE0 then pops col 5 at 10 (11, 12) and col 7 at 12 (13, 14); its last entry, issued
    in 14, is written in 14 + 4 = 18 and the run ends in 18 + 2 = 20 cycles.
    With depth 8 the CCU never stalls (sent 1 2 3, row move 4, sent 5 6 7); PE0 works
    3..14 without a gap either way, so also 20 cycles.
    """
    w = fig2_matrix()
    x = np.zeros(8, dtype=np.int64)
    x[[0, 1, 2, 4, 5, 7]] = [256, 128, 64, 300, 17, 1000]
    cfg = ArchConfig(pes=4, queue_depth=2)
    lay = layer(w, cfg)
    st_ = run_pass(lay.passes[0], lay, x, cfg)
    check_invariants(st_, cfg)
    assert st_.cycles == 20
    assert st_.queue_full_stalls == 2
    assert st_.broadcasts == 6
    assert st_.max_queue_occupancy == 2
    assert st_.pe.busy.tolist() == [12, 8, 7, 8]
    assert st_.pe.empty.tolist() == [0, 0, 2, 0]
    assert st_.pe.padding.tolist() == [0, 0, 0, 0]
    assert st_.pe.starved.tolist() == [8, 12, 11, 12]
    assert st_.pe.pointer_reads.tolist() == [6, 6, 6, 6]
    np.testing.assert_array_equal(st_.acc, numpy_reference(w, lay, x, cfg))
    deep = ArchConfig(pes=4, queue_depth=8)
    st8 = run_pass(lay.passes[0], lay, x, deep)
    assert (st8.cycles, st8.queue_full_stalls) == (20, 0)
    assert st8.max_queue_occupancy == 3


# ---------------------------------------------------------------------------------
# (c) empty columns, (d) padding, bypass
# ---------------------------------------------------------------------------------
def test_empty_columns_cost_one_cycle_each():
    cfg = ArchConfig(pes=2, queue_depth=8)
    codes = np.zeros((4, 6), dtype=np.int64)
    codes[0, 0] = 3                     # PE0: col 0 has 1 entry, PE1 nothing at all
    codes[2, 5] = 9
    lay = layer(codes, cfg)
    x = np.full(6, 256, dtype=np.int64)
    st_ = run_pass(lay.passes[0], lay, x, cfg)
    # rows of banks: (0,1) (2,3) (4,5); every row costs 2 broadcasts: cols sent at 1..6.
    # PE1 (all slices empty): pops at 2..7, one empty cycle each in 3..8 -> last 8.
    # PE0: col 0 (1 entry) in 3, then cols 1-4 empty in 4..7, col 5 (1 entry) in 8,
    # written in 8 + 4 = 12: the run ends in 12 + 2.
    assert st_.cycles == 8 + 4 + 2
    assert st_.pe.empty.tolist() == [4, 6]
    assert st_.pe.busy.tolist() == [2, 0]
    assert st_.pe.spmat_line_reads.tolist() == [1, 0]
    check_invariants(st_, cfg)
    np.testing.assert_array_equal(st_.acc, numpy_reference(codes, lay, x, cfg))


def test_padding_run_takes_cycles_and_writes_nothing():
    cfg = ArchConfig(pes=1)
    codes = np.zeros((40, 1), dtype=np.int64)
    codes[[0, 20, 39], 0] = [5, 6, 7]
    lay = layer(codes, cfg)
    p = lay.passes[0]
    assert p.code.tolist() == [5, 0, 6, 0, 7]                 # 19 and 18 zeros -> padding
    assert p.z.tolist() == [0, 15, 3, 15, 2]
    x = np.array([-333], dtype=np.int64)
    st_ = run_pass(p, lay, x, cfg)
    assert st_.cycles == 7 + 4 + 2      # entries issued 3..7, the last (real) one written in 11
    assert (st_.pe.busy[0], st_.pe.padding[0], st_.pe.starved[0]) == (3, 2, 8)
    assert st_.pe.spmat_line_reads[0] == 1
    np.testing.assert_array_equal(st_.acc, numpy_reference(codes, lay, x, cfg))
    assert np.count_nonzero(st_.acc) == 3                      # padding rows untouched


def test_bypass_only_on_back_to_back_writes_of_one_row():
    cfg = ArchConfig(pes=1)
    codes = np.zeros((8, 6), dtype=np.int64)
    codes[[0, 5], 0] = 1
    codes[[5, 7], 1] = 2            # col 1 starts on row 5 right after col 0 ended on it
    codes[7, 3] = 3                 # cols 3 and 5 start on row 7, where col 1 ended
    codes[7, 5] = 4
    lay = layer(codes, cfg)
    # CCU sends col 0 at 1, col 1 at 2, moves past col 2 at 3, sends col 3 at 4, moves
    # past 4 and 5. PE issues col 0 (rows 0, 5) in 3, 4, col 1 (rows 5, 7) in 5, 6 and
    # pops col 3 in 6, issuing row 7 in 7: two back-to-back same-row writes.
    x = np.array([10, 20, 0, 30, 0, 0], dtype=np.int64)
    st_ = run_pass(lay.passes[0], lay, x, cfg)
    assert st_.pe.bypass_hits[0] == 2
    assert st_.cycles == 7 + 4 + 2
    # col 5 instead: sent at 6, popped at 7, row 7 issued at 8 after an idle cycle 7
    x = np.array([10, 20, 0, 0, 0, 30], dtype=np.int64)
    st_ = run_pass(lay.passes[0], lay, x, cfg)
    assert st_.pe.bypass_hits[0] == 1
    assert st_.cycles == 8 + 4 + 2
    assert st_.pe.starved[0] == 14 - 5


# ---------------------------------------------------------------------------------
# (e) all-zero activations
# ---------------------------------------------------------------------------------
def test_all_zero_activations_without_bias():
    cfg = ArchConfig(pes=4)
    codes = np.random.default_rng(1).integers(0, 16, (16, 8))
    lay = layer(codes, cfg)
    st_ = run_pass(lay.passes[0], lay, np.zeros(8, dtype=np.int64), cfg)
    # row 0 loaded in 0, two empty rows of banks left in 1 and 2, nothing broadcast or
    # written: the run ends the cycle after the detector has left its last row
    assert st_.cycles == 3
    assert st_.broadcasts == 0 and st_.pe.pointer_reads.sum() == 0
    assert st_.pe.starved.tolist() == [3, 3, 3, 3]
    assert st_.max_queue_occupancy == 0
    assert not st_.acc.any()


def test_all_zero_activations_with_bias():
    cfg = ArchConfig(pes=4)
    codes = np.random.default_rng(1).integers(0, 16, (8, 8))
    bias = np.linspace(-2, 2, 8).astype(np.float32)            # all rows non-zero bias
    lay = layer(codes, cfg, bias)
    x = np.zeros(8, dtype=np.int64)
    st_ = run_pass(lay.passes[0], lay, x, cfg)
    # row 0 loaded in 0, rows left in 1, 2; bias sent at 3, popped at 4; each PE has 2
    # bias entries (issued 5, 6), the last written in 10
    assert st_.cycles == 10 + 2
    assert st_.broadcasts == 1
    assert st_.pe.busy.tolist() == [2, 2, 2, 2]
    np.testing.assert_array_equal(st_.acc, lay.bias_q)


# ---------------------------------------------------------------------------------
# (f) queue depth 1 vs 8
# ---------------------------------------------------------------------------------
def test_queue_depth_one_vs_eight_hand_case():
    """2 PEs, 4 columns all sent. PE0's slices have 4 1 1 1 entries, PE1's 1 1 1 4.

    depth 8: sent at 1 2 3 4; PE0 pops at 2, 6, 7, 8 -> last issue 9; PE1 pops at 2, 3,
      4, 5 -> last issue 9. cycles = 9 + 4 + 2 = 15, no stall.
    depth 1: a queue holding one entry is full. Sent at 1; stall at 2 (both hold col 0,
      popped in 2); sent at 3; stall 4 (both hold col 1; PE1 pops it); stall 5, 6
      (PE0 still holds col 1 until it pops it in 6, its last col-0 cycle); sent at 7;
      stall 8 (both pop col 2); sent at 9; both pop col 3 at 10; PE1 issues 11..14.
      cycles = 14 + 4 + 2 = 20, 5 stalls.
    """
    codes = np.zeros((8, 4), dtype=np.int64)
    codes[[0, 2, 4, 6, 1], 0] = 1
    codes[[0, 1], 1] = 2
    codes[[0, 1], 2] = 3
    codes[[0, 1, 3, 5, 7], 3] = 4
    x = np.full(4, 100, dtype=np.int64)
    results = {}
    for depth in (1, 8):
        cfg = ArchConfig(pes=2, queue_depth=depth)
        lay = layer(codes, cfg)
        assert lay.passes[0].col_entries.tolist() == [[4, 1, 1, 1], [1, 1, 1, 4]]
        st_ = run_pass(lay.passes[0], lay, x, cfg)
        check_invariants(st_, cfg)
        np.testing.assert_array_equal(st_.acc, numpy_reference(codes, lay, x, cfg))
        results[depth] = (st_.cycles, st_.queue_full_stalls, st_.max_queue_occupancy)
    assert results[8] == (15, 0, 3)     # PE0 holds cols 1-3 at the start of cycle 5
    assert results[1] == (20, 5, 1)


# ---------------------------------------------------------------------------------
# input batches, output passes, LNZD
# ---------------------------------------------------------------------------------
def test_input_batches_hand_case():
    """1 PE, 2 source registers (batch = 2 columns), 5 columns all non-zero, one entry
    each; activation SRAM port 16 bits -> batch_load_cycles = ceil(2*16/16) = 2.
    CCU: loads row 0 in 0, sends 0, 1 at 1, 2 (moves into row 2 = batch 1), loads 3-4,
    sends 2 at 5, 3 at 6 (row 4 = batch 2), loads 7-8, sends 4 at 9. PE pops at 2, 3, 6,
    7, 10. Pass 0 holds rows 0 and 1 (2 destination registers): their entries are
    issued in 3 and 4 (the last written in 8), the empty slices of columns 2-4 take
    cycles 7, 8 and 11, so the run ends in 12, after the PE's last cycle (docs/timing.md
    "End of a run": never before the last CCU or PE cycle)."""
    cfg = ArchConfig(pes=1, act_regs_per_pe=2, act_sram_width_bits=16)
    assert cfg.batch_load_cycles == 2
    codes = np.eye(5, dtype=np.int64) * 7
    lay = layer(codes, cfg)
    x = np.arange(1, 6, dtype=np.int64) * 50
    st_ = run_pass(lay.passes[0], lay, x, cfg)
    assert st_.batch_load_cycles == 4
    assert st_.cycles == 11 + 1
    assert (st_.pe.busy[0], st_.pe.empty[0]) == (2, 3)
    check_invariants(st_, cfg)


def test_output_passes_give_all_rows():
    cfg = ArchConfig(pes=2, act_regs_per_pe=3, queue_depth=2)   # 6 rows per pass
    rng = np.random.default_rng(3)
    codes = (rng.random((15, 10)) < 0.4) * rng.integers(1, 16, (15, 10))
    bias = rng.uniform(-1, 1, 15).astype(np.float32)
    lay = layer(codes, cfg, bias)
    assert len(lay.passes) == 3
    x = rng.integers(-200, 200, 10) * (rng.random(10) < 0.6)
    _, acc, stats = run_all_passes(lay, x, cfg)
    np.testing.assert_array_equal(acc, numpy_reference(codes, lay, x, cfg))
    for s in stats:
        check_invariants(s, cfg)


@pytest.mark.parametrize("n_banks,fan_in,nodes", [(64, 4, 21), (16, 4, 5), (1, 4, 0), (7, 2, 7)])
def test_lnzd_tree(n_banks, fan_in, nodes):
    cfg = ArchConfig(pes=n_banks, lnzd_fan_in=fan_in)
    det = LeadingNonZeroDetector(n_banks, fan_in, 1)
    assert det.nodes == nodes == cfg.lnzd_nodes
    rng = np.random.default_rng(n_banks)
    for _ in range(50):
        vals = (rng.random(n_banks) < 0.3).astype(int)
        det.latch_sources([[v] for v in vals])
        after = int(rng.integers(-1, n_banks))
        expect = next((b for b in range(after + 1, n_banks) if vals[b]), -1)
        assert det.scan(0, after) == expect


def test_rejects_mismatched_inputs():
    cfg = ArchConfig(pes=2)
    lay = layer(np.ones((4, 3), dtype=np.int64), cfg)
    with pytest.raises(ValueError, match="x_q"):
        run_pass(lay.passes[0], lay, np.ones(4, dtype=np.int64), cfg)
    with pytest.raises(ValueError, match="PEs"):
        run_pass(lay.passes[0], lay, np.ones(3, dtype=np.int64), ArchConfig(pes=4))


# ---------------------------------------------------------------------------------
# random layers: the literal reading, numpy values, monotonicity in the queue depth
# ---------------------------------------------------------------------------------
@st.composite
def small_layers(draw):
    n = draw(st.integers(1, 5))
    rows = draw(st.integers(1, 60))
    cols = draw(st.integers(1, 20))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    wd = draw(st.sampled_from([0.03, 0.2, 0.6]))
    codes = (rng.random((rows, cols)) < wd) * rng.integers(1, 16, (rows, cols))
    ad = draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))
    x = rng.integers(-400, 400, cols) * (rng.random(cols) < ad)
    bias = None
    if draw(st.booleans()):
        bias = (rng.uniform(-1, 1, rows) * (rng.random(rows) < 0.7)).astype(np.float32)
    regs = draw(st.sampled_from([1, 2, 64]))
    depth = draw(st.sampled_from([1, 2, 3, 8]))
    return n, codes, x.astype(np.int64), bias, regs, depth


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_layers())
def test_random_layers_match_literal_reading_and_numpy(case):
    n, codes, x, bias, regs, depth = case
    cfg = ArchConfig(pes=n, act_regs_per_pe=regs, queue_depth=depth, act_sram_width_bits=32)
    lay = layer(codes, cfg, bias)
    for p in lay.passes:
        got = run_pass(p, lay, x, cfg)
        check_invariants(got, cfg)
        want = literal_run_pass(p, lay, x, cfg)
        assert got.differences(want) == []
        assert got.cycles >= int((got.pe.busy + got.pe.padding).max())
    _, acc, _ = run_all_passes(lay, x, cfg)
    np.testing.assert_array_equal(acc, numpy_reference(codes, lay, x, cfg))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_layers())
def test_deeper_queue_never_costs_cycles(case):
    n, codes, x, bias, regs, _ = case
    previous = None
    for depth in (1, 2, 3, 5, 8, 16):
        cfg = ArchConfig(pes=n, act_regs_per_pe=regs, queue_depth=depth)
        lay = layer(codes, cfg, bias)
        cycles, _, stats = run_all_passes(lay, x, cfg)
        work = max(int((s.pe.busy + s.pe.padding).max()) for s in stats)
        assert cycles >= work
        if previous is not None:
            assert cycles <= previous
        previous = cycles


def test_shallow_queue_stalls_and_occupancy_bound():
    cfg = ArchConfig(pes=8, queue_depth=2)
    rng = np.random.default_rng(11)
    codes = (rng.random((256, 64)) < 0.3) * rng.integers(1, 16, (256, 64))
    lay = layer(codes, cfg)
    x = rng.integers(1, 100, 64)
    st_ = run_pass(lay.passes[0], lay, x, cfg)
    check_invariants(st_, cfg)
    assert st_.queue_full_stalls > 0
    assert st_.max_queue_occupancy == 2
    assert st_.differences(literal_run_pass(lay.passes[0], lay, x, cfg)) == []


# ---------------------------------------------------------------------------------
# the released simulator's small cases (issue: exact reference rules; 8 PEs, our
# queue_depth = its circular-buffer size B - 1)
# ---------------------------------------------------------------------------------
def traced(codes, x, cfg, bias=None):
    """(PassStats of both engines, the simpy CCU's broadcast cycles) of a 1-pass layer."""
    lay = build_layer(np.asarray(codes), CODEBOOK, bias, cfg)
    (p,) = lay.passes
    model = SimpyModel(p, lay, np.asarray(x, dtype=np.int64), cfg)
    st_ = model.run()
    fast = fast_run_pass(p, lay, np.asarray(x, dtype=np.int64), cfg)
    assert fast.differences(st_) == []
    return st_, model.ccu.broadcast_cycles


@pytest.mark.parametrize("depth", [7, 3])
def test_reference_one_and_two_activations(depth):
    """One entry per PE. One non-zero activation: broadcast in 1, popped 2, issued 3,
    written 7, count 9. Two consecutive ones: writes in 7 and 8, count 10."""
    cfg = ArchConfig(pes=8, queue_depth=depth)
    codes = np.zeros((8, 8), dtype=np.int64)
    codes[:, 0] = 1
    x = np.zeros(8, dtype=np.int64)
    x[0] = 256
    st_, sent = traced(codes, x, cfg)
    assert (sent, st_.cycles) == ([1], 9)
    codes[:, 1] = 2
    x[1] = 128
    st_, sent = traced(codes, x, cfg)
    assert (sent, st_.cycles) == ([1, 2], 10)


def test_reference_stall_does_not_hold_a_used_up_row():
    """40 x 16, activations in columns 0, 1 and 8, B = 2 (one entry held), dense weights
    (5 entries per PE and column). Column 1 waits for a slot (stall in 2); after it, row 0
    has nothing left and the detector leaves it in 4 although the queues are full; column
    8 then waits (stalls 5-7) and is sent in 8, one cycle earlier than under a freezing
    stall (9). PE: columns popped in 2, 7, 12; last entry issued 17, written 21."""
    cfg = ArchConfig(pes=8, queue_depth=1)
    codes = np.ones((40, 16), dtype=np.int64)
    x = np.zeros(16, dtype=np.int64)
    x[[0, 1, 8]] = [100, 200, 300]
    st_, sent = traced(codes, x, cfg)
    assert sent == [1, 3, 8]
    assert st_.queue_full_stalls == 4 and st_.cycles == 23


def test_reference_last_row_is_n_banks_wide():
    """8 x 13: only column 12 (row 1, bank 4) non-zero, a bias in every PE, B = 4. The
    detector sends column 12 in 2 and leaves row 1 in 3 (banks 5-7 hold zeros), so the
    bias goes out in 4, one cycle later than if the row ended at the last column."""
    cfg = ArchConfig(pes=8, queue_depth=3)
    codes = np.zeros((8, 13), dtype=np.int64)
    codes[:, 12] = 5
    x = np.zeros(13, dtype=np.int64)
    x[12] = 256
    bias = np.linspace(0.5, 1.0, 8).astype(np.float32)
    st_, sent = traced(codes, x, cfg, bias)
    assert sent == [2, 4]
    # column 12 issued in 4; bias popped in 5, issued in 6, written in 10
    assert st_.cycles == 12


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), pes=st.sampled_from([4, 8, 16, 64]),
       depth=st.sampled_from([1, 2, 3, 7]), rows=st.integers(8, 80), cols=st.integers(1, 70),
       w_density=st.sampled_from([0.05, 0.2, 0.6]), a_density=st.sampled_from([0.1, 0.4, 1.0]))
def test_with_a_bias_the_run_ends_two_cycles_after_the_last_write(seed, pes, depth, rows, cols,
                                                                   w_density, a_density):
    """Random layers with a (non-zero) bias in every row: the count is the cycle of the
    last accumulator write + 2, read from the simpy model's own trace (every PE's
    arithmetic unit records the cycle of its last write)."""
    rng = np.random.default_rng(seed)
    cfg = ArchConfig(pes=pes, queue_depth=depth, act_regs_per_pe=64)
    codes = (rng.random((rows, cols)) < w_density) * rng.integers(1, 16, (rows, cols))
    bias = rng.uniform(0.5, 2.0, rows).astype(np.float32)
    x = np.where(rng.random(cols) < a_density, rng.integers(1, 500, cols), 0)
    lay = build_layer(codes, CODEBOOK, bias, cfg)
    for p in lay.passes:
        model = SimpyModel(p, lay, x, cfg)
        st_ = model.run()
        last_write = max(pe.arithmetic.last_write_cycle for pe in model.pes)
        assert st_.cycles == last_write + 2
        assert st_.equal(fast_run_pass(p, lay, x, cfg))
