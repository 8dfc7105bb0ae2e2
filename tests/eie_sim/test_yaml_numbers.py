"""Plain scalars of the YAML reader (eie_sim/arch/yaml_doc.py, issue 23): the numbers of
the YAML 1.2 core schema (``1e-300``, ``8e2``, ``+.5``), ambiguous 1.1/1.2 forms and merge
keys refused with their line, and every YAML file of the project read exactly as before
(PyYAML's safe loader, YAML 1.1)."""
import math
import pathlib
import re
from importlib import resources

import pytest
import yaml

from eie_sim.arch.config_io import load_config
from eie_sim.arch.yaml_doc import parse_yaml
from eie_sim.cli.simulate import simulate_main
from eie_sim.errors import ConfigError

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _project_yaml() -> list[tuple[str, str]]:
    """(name, text) of every YAML file in configs/ and eie_sim/arch/configs/ and every
    ```yaml block of the docs and the README."""
    out = [(str(p.relative_to(ROOT)), p.read_text()) for p in sorted((ROOT / "configs").glob("*.yaml"))]
    arch = resources.files("eie_sim.arch") / "configs"
    out += [(f"eie_sim/arch/configs/{p.name}", p.read_text()) for p in sorted(arch.iterdir())
            if p.name.endswith(".yaml")]
    for md in sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]:
        for i, block in enumerate(re.findall(r"```ya?ml\n(.*?)```", md.read_text(), re.S)):
            out.append((f"{md.name}#{i}", block))
    return out


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def test_every_project_yaml_file_reads_as_before():
    files = _project_yaml()
    assert len(files) >= 12 and any(n.startswith("config.md#") for n, _ in files)
    for name, text in files:
        try:
            before = yaml.safe_load(text)
        except yaml.YAMLError:
            continue                  # a fragment of a docs page, not a document
        assert _same(parse_yaml(text, name).data, before if before is not None else {}), name


@pytest.mark.parametrize("text,value", [
    ("1e-300", 1e-300), ("8e2", 800.0), ("+1.5", 1.5), (".5", 0.5), ("+.5", 0.5), ("-.5", -0.5),
    ("1.5e3", 1500.0), ("1E+2", 100.0), ("1e999", math.inf), ("-.inf", -math.inf), ("0o17", 15),
    # YAML 1.1 forms kept as they were
    ("1.0e-300", 1e-300), ("1_000", 1000), ("0x1F", 31), ("0b11", 3), ("1.", 1.0), ("-0", 0),
    ("yes", True), ("off", False), ("~", None), ("=", "="), ("<<", "<<"), ("0:20", "0:20"),
    ("1_0e5", "1_0e5"), ("'1e3'", "1e3"), ('"0777"', "0777"),
])
def test_plain_scalars(text, value):
    got = parse_yaml(f"a: {text}\n").data["a"]
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("text,why", [
    ("0777", "a number with a leading zero means octal"), ("08", "leading zero"),
    ("-010", "leading zero"), ("1:20", "a base-60 number in YAML 1.1"), ("1:20.5", "base-60"),
])
def test_ambiguous_numbers_are_refused_with_their_line(text, why):
    with pytest.raises(ConfigError, match=rf"^c\.yaml:2: {re.escape(text)}: .*{why}"):
        parse_yaml(f"pes: 4\nclock_mhz: {text}\n", "c.yaml")


def test_merge_keys_are_refused_with_their_line():
    text = "base: &b {pes: 4}\nsweep:\n  <<: *b\n  queue_depth: [1]\n"
    with pytest.raises(ConfigError) as e:
        parse_yaml(text, "c.yaml")
    assert str(e.value) == "c.yaml:3: merge keys (<<) are not supported; write the keys out"
    assert parse_yaml('"<<": 1\n').data == {"<<": 1}        # a quoted key is a name


def test_exponent_floats_reach_the_range_checks(tmp_path, capsys):
    p = tmp_path / "c.yaml"
    p.write_text("pes: 4\nclock_mhz: 8e2\n")
    assert load_config(p).arch.clock_mhz == 800.0
    p.write_text("pes: 4\nclock_mhz: 1e6\n")
    with pytest.raises(ConfigError, match=r"c\.yaml:2: clock_mhz: 1000000\.0 is outside the "
                                          r"allowed range \(0, 100000\]"):
        load_config(p)
    p.write_text("pes: 4\nclock_mhz: -1e-300\n")
    assert simulate_main(["--config", str(p), "--synthetic", "8x8", "--seed", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "c.yaml:2: clock_mhz:" in err and "outside the allowed range" in err


TRICKY = ["1e5", "8e2", "+.5", "08", "0777", "1:20", "1:20.5", "<<", "=", "0o17", "1_000", "yes",
          "null", "~", "", "0:20", ".inf", "2001-12-14", "1.5e3", "-0", "0x1F", "text"]


def test_dumped_yaml_reads_back_equal():
    """config.yaml of a bundle (dump_resolved) is read by this reader: a string that it
    would take for a number or refuse is quoted when written."""
    from eie_sim.arch.yaml_doc import dump_yaml
    data = {"names": TRICKY, "nums": [1e-300, 800.0, 7, -0.5, math.inf, 2 ** 40],
            **{s or "empty": s for s in TRICKY if s not in ("<<",)}, "<<": "<<"}
    assert parse_yaml(dump_yaml(data)).data == data


def test_dump_resolved_writes_what_safe_dump_wrote(tmp_path):
    """Numbers and ordinary strings of a bundle's config.yaml are written as before, and
    the file loads back to the same configuration."""
    from eie_sim.arch.config_io import dump_resolved
    for p in sorted((ROOT / "configs").glob("*.yaml")):
        loaded = load_config(p)
        text = dump_resolved(loaded)
        assert text == yaml.safe_dump(yaml.safe_load(text), sort_keys=False), p.name
        (tmp_path / "c.yaml").write_text(text)
        again = load_config(tmp_path / "c.yaml")
        assert again.arch == loaded.arch and again.sweep == loaded.sweep, p.name
