"""eie_sim.arch.energy, the ``table2`` memory model: per-action energies derived from paper
Tables I-II, swappable table (the CACTI model: tests/eie_sim/test_energy_cacti.py)."""
import pytest

from eie_sim.arch.config import PAPER_CONFIG, ArchConfig, ConfigError
from eie_sim.arch.energy import ActionCounts, EnergyTable, default_table, estimate

TABLE2 = EnergyTable.builtin("table2")
TABLE_II_MW = {"act_queue": 0.112, "ptr_read": 1.807, "spmat_read": 4.955,
               "arithm_unit": 1.162, "act_rw": 1.122}


def test_default_table_is_the_cacti_model_and_table2_is_selectable():
    assert default_table().memory_model == "cacti" and default_table().sram is not None
    assert TABLE2.memory_model == "table2" and TABLE2.sram is None


def test_per_action_energies_are_table_ii_power_over_clock():
    e = TABLE2.action_pj(PAPER_CONFIG)
    assert e["pointer_read"] == pytest.approx(1.807 * 1000 / 800)
    assert e["arithmetic_entry"] == pytest.approx(1.162 * 1.25)
    assert e["accumulator_write"] == pytest.approx(1.122 * 1.25)
    assert e["queue_entry"] == pytest.approx(0.112 * 1.25)
    assert e["lnzd_node_cycle"] == pytest.approx(0.023 * 1.25)
    assert e["spmat_line_read"] == pytest.approx(5.0 * 64 / 32)    # Table I: 5 pJ per 32 bits
    # at one entry per cycle and a line per 8 entries the SpmatRead unit draws Table II power
    assert e["spmat_entry"] + e["spmat_line_read"] / 8 == pytest.approx(4.955 * 1.25)
    assert TABLE2.action_pj(ArchConfig(spmat_width_bits=128))["spmat_line_read"] == 20.0


def test_full_activity_gives_table_ii_chip_power():
    """Every PE doing one action of every unit per cycle -> 64 x 9.157 mW + the LNZD tree."""
    cfg, T, N = PAPER_CONFIG, 10_000, 64
    counts = ActionCounts(cycles=T, queue_entries=N * T, pointer_reads=N * T,
                          spmat_line_reads=N * T // 8, issued_entries=N * T,
                          accumulator_writes=N * T, act_sram_cycles=0)
    out = estimate(counts, cfg, TABLE2)
    expect_w = (N * sum(TABLE_II_MW.values()) + cfg.lnzd_nodes * 0.023) * 1e-3
    assert out.avg_power_w == pytest.approx(expect_w)
    assert out.paper_chip_power_w == 0.59


def test_area_model_matches_paper_chip():
    a = TABLE2.area_mm2(PAPER_CONFIG)
    assert a.pe_mm2 == pytest.approx(0.638024)
    assert a.chip_mm2 == pytest.approx(64 * 0.638024 + 21 * 189e-6)
    assert abs(a.chip_mm2 - 40.8) / 40.8 < 0.01
    assert TABLE2.area_mm2(ArchConfig(spmat_sram_kb=64)).pe_mm2 < a.pe_mm2


def test_swapped_table_and_static_share(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("memory_model: table2\nunit_power_mw:\n  ptr_read: 3.614\nstatic_fraction: 0.5\n")
    t = EnergyTable.load(p)
    e = t.action_pj(PAPER_CONFIG)
    assert e["pointer_read"] == pytest.approx(3.614 * 1.25 * 0.5)
    assert e["static_pe_cycle"] > 0
    idle = estimate(ActionCounts(100, 0, 0, 0, 0, 0, 0), PAPER_CONFIG, t)
    assert idle.energy_pj_by_unit["static"] == pytest.approx(100 * 64 * e["static_pe_cycle"])
    assert estimate(ActionCounts(100, 0, 0, 0, 0, 0, 0), PAPER_CONFIG, TABLE2).energy_pj_by_unit["static"] == 0


@pytest.mark.parametrize("text, pattern", [
    ("colour: 3\n", "colour: unknown key"),
    ("unit_power_mw:\n  lasers: 1\n", r"unit_power_mw\.lasers: unknown key"),
    ("static_fraction: -1\n", "static_fraction: expected a finite number >= 0"),
    ("static_fraction: 2\n", r"static_fraction: must be in 0\.\.1"),
    ("unit_power_mw: [1]\n", "unit_power_mw: expected a mapping"),
    ("memory_model: spice\n", "memory_model: expected one of cacti, table2"),
    ("sram_table: nowhere.yaml\n", "sram_table: 'nowhere.yaml': no such file"),
    ("tech_node_nm: 28\n", "is a 45 nm table but tech_node_nm is 28"),
])
def test_bad_tables_are_rejected(tmp_path, text, pattern):
    p = tmp_path / "t.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=pattern):
        EnergyTable.load(p)


def test_unreadable_tables_are_config_errors(tmp_path):
    p = tmp_path / "t.bin"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xff")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        EnergyTable.load(p)
    with pytest.raises(ConfigError, match="cannot read energy table"):
        EnergyTable.load(tmp_path)                     # a directory
