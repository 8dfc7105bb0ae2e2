"""eie_sim.arch.schema: one spec per configuration field, read by the checks, the YAML
loader, the --help texts and docs/config.md."""
import argparse
import pathlib

import pytest

from eie_sim.arch import schema
from eie_sim.arch.config import ENGINE_NAMES, INT_RANGES, ArchConfig, RunOptions
from eie_sim.arch.config_io import ARCH_SPECS, RUN_SPECS, load_config
from eie_sim.errors import ConfigError
from eie_sim.hw import engines

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "config.md"


@pytest.mark.parametrize("cls", [ArchConfig, RunOptions])
def test_docs_tables_are_the_schema(cls):
    """docs/config.md holds the generated key tables verbatim (regenerate them with
    eie_sim.arch.schema.markdown_table when a spec changes)."""
    table = schema.markdown_table(cls)
    assert table in DOC.read_text(encoding="utf-8")
    assert table.count("\n") == len(schema.specs(cls)) + 1      # header, rule, one row a key


def test_every_field_has_a_spec():
    assert list(ARCH_SPECS) == [f for f in ArchConfig().as_dict()]
    assert list(RUN_SPECS) == [f for f in RunOptions().as_dict()]
    assert INT_RANGES["pes"] == ARCH_SPECS["pes"].range == (1, 1024)
    assert "out_frac_bits" not in INT_RANGES and "clock_mhz" not in INT_RANGES


def test_engine_names_written_once():
    assert RUN_SPECS["engine"].choices is ENGINE_NAMES
    assert engines.ENGINE_NAMES is ENGINE_NAMES
    assert [engines.get_engine(n).name for n in ENGINE_NAMES] == list(ENGINE_NAMES)


@pytest.mark.parametrize("key,value", [("pes", 2000), ("clock_mhz", 0.0), ("word_bits", 4),
                                       ("out_frac_bits", 32), ("pes", 8.0)])
def test_validate_and_yaml_share_the_range(key, value):
    """The same value is refused by ArchConfig.validate and by the YAML loader, and both
    messages state the spec's allowed values."""
    with pytest.raises(ConfigError) as direct:
        ArchConfig(**{key: value}).validate()
    text = f"{key}: {value}\n"
    if isinstance(value, float) and value.is_integer() and ARCH_SPECS[key].kind == "int":
        assert getattr(load_config(text=text).arch, key) == int(value)   # YAML takes 8.0
        assert "expected an integer in 1..1024" in str(direct.value)
        return
    with pytest.raises(ConfigError) as yaml_err:
        load_config(text=text)
    rng = schema._range_text(ARCH_SPECS[key])
    assert rng in str(direct.value) and rng in str(yaml_err.value)


def test_run_options_checked_by_their_specs():
    with pytest.raises(ConfigError, match=r"run\.workers: expected an integer in 1\.\.256, got 300$"):
        load_config(text="run:\n  workers: 300\n")
    with pytest.raises(ConfigError, match=r"run\.executor: expected one of local, dask, got 'ray'"):
        load_config(text="run:\n  executor: ray\n")
    assert load_config(text="run:\n  window: 10.0\n").run.window == 10
    with pytest.raises(ConfigError, match=r"run\.scheduler: refused: .*eie-sweep --scheduler"):
        load_config(text="run:\n  scheduler: tcp://h:1\n")      # command line only (issue 23)
    assert load_config(text="run:\n  scheduler: null\n").run.scheduler is None


def test_help_states_the_engines_from_the_schema():
    from eie_sim.cli.common import _common_config_args
    p = argparse.ArgumentParser()
    _common_config_args(p)
    engine = next(a for a in p._actions if a.dest == "engine")
    assert tuple(engine.choices) == ENGINE_NAMES
    seed = next(a for a in p._actions if a.dest == "seed")
    assert schema.allowed(RUN_SPECS["seed"]) in seed.help


def test_explicit_keys_recorded_on_load(tmp_path):
    """LoadedConfig.explicit: the architecture keys of the file and of --set, nothing else."""
    f = tmp_path / "c.yaml"
    f.write_text("pes: 32\nqueue_depth: 8\nrun:\n  seed: 3\nsweep:\n  lnzd_fan_in: [2, 4]\n")
    loaded = load_config(f, ["word_bits=16", "run.engine=simpy"])
    assert loaded.explicit == frozenset({"pes", "queue_depth", "word_bits"})
    assert load_config().explicit == frozenset()
    assert load_config(text="clock_mhz: 800\n").explicit == {"clock_mhz"}
