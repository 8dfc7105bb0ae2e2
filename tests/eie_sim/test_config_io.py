"""eie_sim.arch.config_io: YAML -> ArchConfig + RunOptions, errors with file:line: key paths."""
import pytest

from eie_sim.arch.config import PAPER_CONFIG, ArchConfig, ConfigError
from eie_sim.arch.config_io import (
    dump_resolved,
    expand_points,
    expand_sweep,
    load_config,
    paper_config_path,
    parse_set,
)


def write(tmp_path, text, name="c.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_packaged_paper_config_is_the_paper_design_point():
    loaded = load_config(paper_config_path())
    assert loaded.arch == PAPER_CONFIG
    assert loaded.run.engine == "fast" and loaded.run.verify is False


def test_defaults_without_file():
    loaded = load_config()
    assert loaded.arch == ArchConfig() and loaded.sweep == {} and loaded.workload is None


def test_values_and_run_options(tmp_path):
    p = write(tmp_path, "pes: 16\nclock_mhz: 1200\nrun:\n  engine: simpy\n  verify: true\n  seed: 7\n")
    loaded = load_config(p)
    assert loaded.arch.pes == 16 and loaded.arch.clock_mhz == 1200.0
    assert loaded.run.engine == "simpy" and loaded.run.verify and loaded.run.seed == 7
    again = load_config(text=dump_resolved(loaded))
    assert again.arch == loaded.arch and again.run == loaded.run


@pytest.mark.parametrize("text, line, pattern", [
    ("pes: 64\nqueue_depht: 8\n", 2, r"queue_depht: unknown key \(did you mean 'queue_depth'\?\)"),
    ("pes: '64'\n", 1, r"pes: expected an integer in 1\.\.1024, got '64' \(str\)"),
    ("pes: 64\nqueue_depth: true\n", 2, r"queue_depth: expected an integer in 1\.\.65536"),
    ("pes: 0\n", 1, r"pes: 0 is outside the allowed range 1\.\.1024"),
    ("clock_mhz: -5\n", 1, r"clock_mhz: -5 is outside the allowed range \(0, 100000\]$"),
    ("\n\nact_frac_bits: 16\n", 3, r"act_frac_bits: 16 must be below word_bits \(16\)"),
    ("spmat_width_bits: 8\nweight_bits: 8\n", 1, r"spmat_width_bits: 8 bits cannot hold one 12-bit entry"),
    ("run:\n  engine: turbo\n", 2, r"run\.engine: expected one of fast, simpy, analytical, got 'turbo'"),
    ("run:\n  colour: red\n", 2, r"run\.colour: unknown key"),
    ("sweep:\n  pes: [1, 2, 0]\n", 2, r"sweep\.pes\[2\]: 0 is outside the allowed range"),
    ("sweep:\n  wheels: [1, 2]\n", 2, r"sweep\.wheels: unknown key"),
    ("pes: 4\npes: 8\n", 2, r"pes: duplicate key \(first at line 1\)"),
    ("workload:\n  table3: [Alex-9]\n", 2, r"workload\.table3\[0\]: unknown Table III layer 'Alex-9'"),
    ("workload:\n  synthetic: {rows: 4, colz: 3}\n", 2, r"workload\.synthetic\.colz: unknown key"),
    ("workload:\n  npz: 5\n", 2, r"workload\.npz: expected a file path, got 5"),
    ("workload:\n  model: m.dcmp\n  layers: [1]\n", 3, r"workload\.layers: expected a layer name"),
    ("workload:\n  table3: Alex-7\n  npz: a.npz\n", 1, r"workload: give exactly one of"),
])
def test_errors_name_file_line_key_and_range(tmp_path, text, line, pattern):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError, match=pattern) as err:
        load_config(p)
    assert str(err.value).startswith(f"{p}:{line}: ")


def test_cross_field_error_without_the_key_in_the_file(tmp_path):
    # act_regs_per_pe exceeds the (defaulted) act SRAM: named though not in the file
    p = write(tmp_path, "act_sram_kb: 1\nact_regs_per_pe: 1000\n")
    with pytest.raises(ConfigError, match=r":2: act_regs_per_pe: 1000 registers exceed"):
        load_config(p)


@pytest.mark.parametrize("text", ["pes: [1, 2\n", "pes: 4\n  queue_depth: 3\n", "a: b: c\n", "\t- x\n"])
def test_malformed_yaml_is_a_clear_error(tmp_path, text):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"^{p}:\d+: malformed YAML"):
        load_config(p)


def test_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(write(tmp_path, "- 1\n- 2\n"))


def test_missing_file():
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config("/nonexistent/c.yaml")


def test_set_overrides(tmp_path):
    p = write(tmp_path, "pes: 16\nrun:\n  engine: fast\n")
    loaded = load_config(p, ["pes=32", "queue_depth=4", "engine=simpy", "sweep.pes=[1,2]"])
    assert loaded.arch.pes == 32 and loaded.arch.queue_depth == 4
    assert loaded.run.engine == "simpy" and loaded.sweep == {"pes": [1, 2]}
    assert parse_set("run.seed=5") == (("run", "seed"), 5)
    with pytest.raises(ConfigError, match=r"^--set pes=x: pes: expected an integer"):
        load_config(p, ["pes=x"])
    with pytest.raises(ConfigError, match=r"--set nope=1: nope: unknown key"):
        load_config(p, ["nope=1"])
    with pytest.raises(ConfigError, match=r"--set pes: expected key=value"):
        load_config(p, ["pes"])


def test_sweep_cross_product(tmp_path):
    p = write(tmp_path, "sweep:\n  pes: [1, 2, 4]\n  queue_depth: [2, 8]\n  spmat_width_bits: 64\n")
    loaded = load_config(p)
    pts = expand_sweep(loaded)
    assert len(pts) == 6
    assert [pt for pt, _ in pts] == [
        {"pes": a, "queue_depth": b, "spmat_width_bits": 64} for a in (1, 2, 4) for b in (2, 8)]
    assert all(cfg.pes == pt["pes"] and cfg.queue_depth == pt["queue_depth"] for pt, cfg in pts)
    assert expand_points({}) == [{}]


def test_sweep_point_that_is_impossible(tmp_path):
    p = write(tmp_path, "weight_bits: 8\nsweep:\n  spmat_width_bits: [64, 8]\n")
    with pytest.raises(ConfigError, match=r"sweep: the point \{'spmat_width_bits': 8\} is impossible"):
        load_config(p)


def test_integral_floats_are_integers_everywhere_and_ranges_read_well(tmp_path):
    loaded = load_config(write(tmp_path, "pes: 16.0\nrun:\n  seed: 3.0\n  workers: 2.0\n"))
    assert loaded.arch.pes == 16 and loaded.run.seed == 3 and loaded.run.workers == 2
    assert isinstance(loaded.run.seed, int) and isinstance(loaded.run.workers, int)
    with pytest.raises(ConfigError, match=r"run\.seed: expected an integer >= 0, got 2\.5"):
        load_config(write(tmp_path, "run:\n  seed: 2.5\n"))
    with pytest.raises(ConfigError, match=r"workload\.act_density: expected a fraction in 0\.\.1"):
        load_config(write(tmp_path, "workload:\n  npz: a.npz\n  act_density: 2\n"))
