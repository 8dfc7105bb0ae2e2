"""The CACTI memory model (eie_sim.arch.memory_model) and the ``cacti`` energy model."""
import json
import math

import pytest

from eie_sim.arch.config import PAPER_CONFIG, ArchConfig, ConfigError
from eie_sim.arch.energy import (
    AREA_PARTS,
    ENERGY_PARTS,
    ActionCounts,
    EnergyTable,
    estimate,
)
from eie_sim.arch.memory_model import COLUMNS, SramTable, builtin_table_path, load_table
from eie_sim.sim.results import ENERGY_AREA_COLUMNS, LAYER_COLUMNS

CACTI = EnergyTable.builtin("cacti")
SRAM45 = load_table("sram_cacti_45nm.yaml")


def test_tables_record_tool_version_node_and_inputs():
    for name, node in (("sram_cacti_45nm.yaml", 45), ("sram_cacti_28nm.yaml", 28)):
        t = load_table(name)
        assert t.tech_node_nm == node
        assert "hwcomponents-cacti" in t.meta["tool"] and t.meta["tool_version"]
        assert "SRAM(" in t.meta["inputs"]["call"] and t.meta["inputs"]["cacti_default_cfg"]
        assert t.capacities_kb[0] <= 0.5 and t.capacities_kb[-1] >= 16384
        assert t.widths_bits[0] <= 8 and t.widths_bits[-1] >= 4096
    assert builtin_table_path("sram_cacti_45nm.yaml").stat().st_size < 300_000


def test_interpolation_returns_grid_points_exactly():
    for (kb, w), f in SRAM45.grid.items():
        if f is None:
            continue
        got = SRAM45.lookup(kb, w)
        for col in COLUMNS:
            assert getattr(got, col) == pytest.approx(getattr(f, col), rel=1e-12)


def test_interpolation_is_log_log_between_neighbours():
    a, b = SRAM45.grid[(64.0, 64)], SRAM45.grid[(128.0, 64)]
    mid = SRAM45.lookup(math.sqrt(64 * 128), 64)          # half-way in log2 capacity
    assert mid.read_pj == pytest.approx(math.sqrt(a.read_pj * b.read_pj))
    assert min(a.area_um2, b.area_um2) < mid.area_um2 < max(a.area_um2, b.area_um2)
    c, d = SRAM45.grid[(128.0, 64)], SRAM45.grid[(128.0, 128)]
    assert SRAM45.lookup(128, 96).read_pj == pytest.approx(
        math.exp(math.log(c.read_pj) * (1 - math.log2(1.5)) + math.log(d.read_pj) * math.log2(1.5)))


def test_cacti_figures_of_the_issue_come_back():
    """hwcomponents-cacti at 45 nm, 128 KB: read energy by width (the issue's check)."""
    expect = {16: 21.4, 32: 25.3, 64: 32.3, 128: 50.3, 256: 73.8, 512: 97.8}
    for w, pj in expect.items():
        assert SRAM45.lookup(128, w).read_pj == pytest.approx(pj, abs=0.05)
    assert SRAM45.lookup(128, 64).area_um2 == pytest.approx(0.43e6, rel=0.01)
    assert SRAM45.lookup(32, 32).read_pj == pytest.approx(11.8, abs=0.05)


def test_monotonic_in_capacity_and_in_width():
    """Read energy and area grow with capacity at every width; read energy grows with width
    from 32 bits up at 32 KB and more (the Spmat range). Below that CACTI's organisation
    search (and the wrapper's scaling of arrays under 32 bits) makes a few narrow points
    cost more than the next wider one (docs/energy.md "Limits"); area is not monotonic in
    width for the same reason."""
    caps, ws = SRAM45.capacities_kb, SRAM45.widths_bits
    for w in ws:
        col = [SRAM45.grid[(c, w)] for c in caps if SRAM45.grid[(c, w)] is not None]
        assert all(b.read_pj > a.read_pj for a, b in zip(col, col[1:])), w
        assert all(b.area_um2 > a.area_um2 for a, b in zip(col, col[1:])), w
    for c in (c for c in caps if c >= 32):
        row = [SRAM45.grid[(c, w)] for w in ws if w >= 32 and SRAM45.grid[(c, w)] is not None]
        assert all(b.read_pj >= a.read_pj for a, b in zip(row, row[1:])), c
    # and in between the grid points
    assert SRAM45.lookup(100, 64).read_pj < SRAM45.lookup(110, 64).read_pj < SRAM45.lookup(120, 64).read_pj


@pytest.mark.parametrize("kb, w", [(0.25, 64), (32768, 64), (128, 4), (128, 8192)])
def test_outside_the_table_is_an_error_naming_the_range(kb, w):
    with pytest.raises(ConfigError, match=r"outside the CACTI table: .*covers 0\.5\.\.16384 KB x 8\.\.4096 bits"):
        SRAM45.lookup(kb, w, "Spmat SRAM")


def test_config_outside_the_table_names_the_memory():
    with pytest.raises(ConfigError, match=r"Spmat SRAM \(spmat_sram_kb x spmat_width_bits\): 32768 KB"):
        CACTI.action_pj(ArchConfig(spmat_sram_kb=32768))


def test_bad_sram_tables_are_rejected(tmp_path):
    raw = {"tech_node_nm": 45, "columns": list(COLUMNS), "capacities_kb": [1, 2],
           "widths_bits": [8, 16], "grid": [[[1, 1, 0, 1, 1], None], [[1, 1, 0, 1, 1]]]}
    with pytest.raises(ConfigError, match=r"grid\[1\] \(2 KB\): expected one entry per width"):
        SramTable.from_dict(raw, "t.yaml")
    raw["grid"][1].append([1, "x", 0, 1, 1])
    with pytest.raises(ConfigError, match=r"grid\[1\]\[1\] \(2 KB x 16 b\): expected 5 finite"):
        SramTable.from_dict(raw, "t.yaml")
    raw["capacities_kb"] = [2, 1]
    with pytest.raises(ConfigError, match="capacities_kb: expected at least two increasing"):
        SramTable.from_dict(raw, "t.yaml")


def test_cacti_model_at_the_paper_design_point():
    """Memories from CACTI, logic from Table II: at the Table II design point the areas are
    Table II's (logic = Table II area - CACTI memory there), so the chip is 40.84 mm^2."""
    e = CACTI.action_pj(PAPER_CONFIG)
    assert e["spmat_line_read"] == pytest.approx(SRAM45.lookup(128, 64).read_pj)
    assert e["pointer_read"] == pytest.approx(2 * SRAM45.lookup(16, 16).read_pj)  # both banks
    assert e["act_sram_read"] == pytest.approx(SRAM45.lookup(2, 64).read_pj)
    assert e["act_sram_write"] == pytest.approx(SRAM45.lookup(2, 64).write_pj)
    # Spmat logic = Table II SpmatRead per entry minus CACTI's line read shared by 8 entries
    assert e["spmat_entry"] == pytest.approx(4.955 * 1.25 - SRAM45.lookup(128, 64).read_pj / 8)
    assert e["arithmetic_entry"] == pytest.approx(1.162 * 1.25)
    a = CACTI.area_mm2(PAPER_CONFIG)
    assert a.pe_mm2 == pytest.approx(0.638024)
    assert abs(a.chip_mm2 - 40.8) / 40.8 < 0.01
    assert set(a.pe_parts_mm2) == set(AREA_PARTS)


def test_energy_and_area_follow_cacti_with_capacity_and_width():
    base = CACTI.action_pj(PAPER_CONFIG)["spmat_line_read"]
    for w in (32, 128):
        e = CACTI.action_pj(ArchConfig(spmat_width_bits=w))["spmat_line_read"]
        assert e == pytest.approx(SRAM45.lookup(128, w).read_pj)
        assert (e > base) == (w > 64)
    a0 = CACTI.area_mm2(PAPER_CONFIG)
    for kb in (64, 256):
        a = CACTI.area_mm2(ArchConfig(spmat_sram_kb=kb))
        d_mem = SRAM45.lookup(kb, 64).area_um2 - SRAM45.lookup(128, 64).area_um2
        assert a.pe_parts_mm2["spmat_read"] - a0.pe_parts_mm2["spmat_read"] == pytest.approx(d_mem / 1e6)
        assert a.chip_mm2 == pytest.approx(a0.chip_mm2 + 64 * d_mem / 1e6)
    # the pointer banks: pointer_sram_kb / 2 each, pointer_bits wide
    e = CACTI.action_pj(ArchConfig(pointer_sram_kb=64, pointer_bits=32))["pointer_read"]
    assert e == pytest.approx(2 * SRAM45.lookup(32, 32).read_pj)


def test_leakage_is_drawn_every_cycle_at_the_design_clock():
    m = CACTI.memories(PAPER_CONFIG)
    leak_mw = m["spmat"].leakage_mw + 2 * m["pointer_bank"].leakage_mw + m["act_sram"].leakage_mw
    idle = estimate(ActionCounts(1000, 0, 0, 0, 0, 0, 0), PAPER_CONFIG, CACTI)
    assert idle.energy_pj_by_unit["static"] == pytest.approx(1000 * 64 * leak_mw * 1000 / 800)
    lnzd_w = PAPER_CONFIG.lnzd_nodes * 0.023e-3            # the LNZD tree works every cycle
    assert idle.avg_power_w == pytest.approx(64 * leak_mw * 1e-3 + lnzd_w)


def test_28nm_table_and_node_rule():
    t = EnergyTable.from_dict({"tech_node_nm": 28, "sram_table": "sram_cacti_28nm.yaml"})
    e28, e45 = t.action_pj(PAPER_CONFIG), CACTI.action_pj(PAPER_CONFIG)
    assert e28["arithmetic_entry"] == pytest.approx(e45["arithmetic_entry"] * 28 / 45)
    assert t.area_mm2(PAPER_CONFIG).pe_parts_mm2["arithm_unit"] == pytest.approx(
        3110e-6 * (28 / 45) ** 2)
    sram28 = load_table("sram_cacti_28nm.yaml")
    assert e28["spmat_line_read"] == pytest.approx(sram28.lookup(128, 64).read_pj)
    # the logic shares come from CACTI at Table II's node (45 nm), then scale to 28 nm
    k = 28 / 45
    assert e28["spmat_entry"] == pytest.approx(k * (4.955 * 1.25 - SRAM45.lookup(128, 64).read_pj / 8))
    spmat_area = t.area_mm2(PAPER_CONFIG).pe_parts_mm2["spmat_read"] * 1e6
    assert spmat_area == pytest.approx(sram28.lookup(128, 64).area_um2
                                       + k * k * (469_412 - SRAM45.lookup(128, 64).area_um2))
    with pytest.raises(ConfigError, match="reference_sram_table: sram_cacti_28nm.yaml is a 28 nm table"):
        EnergyTable.from_dict({"reference_sram_table": "sram_cacti_28nm.yaml"})


def test_results_files_carry_energy_and_area_by_unit(tmp_path):
    """layers.csv, summary.json (rows and totals), report.md and report.html of a bundle."""
    from eie_sim.output import report
    from eie_sim.output.html import with_report_html
    from eie_sim.sim.layer import simulate_layer
    from eie_sim.sim.results import network_totals
    from eie_sim.workloads.synthetic import synthetic_layer
    cfg = ArchConfig(pes=4).validate()
    res = simulate_layer(synthetic_layer(256, 128, 0.2, 0.5, seed=3), None, cfg)
    out = tmp_path / "run"
    files = report.bundle_files([res], {"title": "t", "config": {"arch": cfg.as_dict()},
                                        "totals": network_totals([res])})
    report.write_bundle(out, with_report_html(files))
    for c in ENERGY_AREA_COLUMNS:
        assert c in LAYER_COLUMNS
    header = (out / "layers.csv").read_text().splitlines()[0].split(",")
    assert set(ENERGY_AREA_COLUMNS) <= set(header)
    s = json.loads((out / "summary.json").read_text())
    row, tot = s["layers"][0], s["totals"]
    assert row["energy_model"] == "cacti"
    parts = sum(row[f"energy_{p}_uj"] for p in ENERGY_PARTS)
    assert parts == pytest.approx(row["total_energy_uj"])
    assert sum(row[f"pe_area_{p}_mm2"] for p in AREA_PARTS) == pytest.approx(row["pe_total_area_mm2"])
    assert row["chip_area_mm2"] == pytest.approx(4 * row["pe_total_area_mm2"] + row["lnzd_area_mm2"])
    assert tot["chip_area_mm2"] == row["chip_area_mm2"] and tot["energy_spmat_read_uj"] > 0
    md = (out / "report.md").read_text()
    assert "Energy by unit" in md and "Area by unit" in md
    page = (out / "report.html").read_text()
    assert "Energy and area" in page and page.count("<svg") >= 2


@pytest.mark.parametrize("text, pattern", [
    ('sram_table: "a\\0b"\n', r"sram_table: 'a\\x00b': (no such file|not a usable file name)"),
    ("reference_sram_table: gone.yaml\n", "reference_sram_table: 'gone.yaml': no such file"),
    ("sram_table: 3\n", "sram_table: expected a file name"),
])
def test_bad_memory_table_keys_are_config_errors(tmp_path, text, pattern):
    p = tmp_path / "t.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=pattern):
        EnergyTable.load(p)


def test_a_memory_table_beside_the_energy_table_is_used(tmp_path):
    """Plugging in another memory table: a file named in sram_table, beside the energy table."""
    src = builtin_table_path("sram_cacti_45nm.yaml").read_text()
    (tmp_path / "mine.yaml").write_text(src.replace("- [32.2859,", "- [64.5718,"))   # 128 KB x 64 b
    (tmp_path / "e.yaml").write_text("sram_table: mine.yaml\n")
    t = EnergyTable.load(tmp_path / "e.yaml")
    assert t.action_pj(PAPER_CONFIG)["spmat_line_read"] == pytest.approx(64.5718)
    bad = src.replace("columns: [read_pj", "columns: [reads_pj")
    (tmp_path / "mine.yaml").write_text(bad)
    with pytest.raises(ConfigError, match="columns: expected"):
        EnergyTable.load(tmp_path / "e.yaml")
