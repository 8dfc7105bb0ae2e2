"""The fuzz harness (tests/fuzz) in the fast suite: a few hundred seeded cases per format
(the model importers' formats in their own test, EIE_FUZZ_IMPORT_CASES of each).

``make fuzz`` runs the long campaign (10,000 per format, a random seed, printed).
EIE_FUZZ_SEED and EIE_FUZZ_CASES change this test's seed and size; the prototxt and the
sweep database (issue 23) have their own, smaller counts (EIE_FUZZ_PROTOTXT_CASES,
EIE_FUZZ_SWEEP_CASES).
"""
import os
import signal
import sqlite3

import pytest

from tests.fuzz import harness, sweepdb_cases, targets
from tests.fuzz.corpus import (
    BASE_FORMATS,
    IMPORT_FORMATS,
    Case,
    build_seeds,
    squeezenet_available,
)
from tests.fuzz.harness import BAD, bad_count, campaign, table
from tests.fuzz.importer_cases import available as importers_available

SEED = int(os.environ.get("EIE_FUZZ_SEED", "20240917"))
CASES = int(os.environ.get("EIE_FUZZ_CASES", "400"))
#: cases per model-importer format (ONNX, safetensors, graph JSON)
IMPORT_CASES = int(os.environ.get("EIE_FUZZ_IMPORT_CASES", "500"))
PROTOTXT_CASES = int(os.environ.get("EIE_FUZZ_PROTOTXT_CASES", "300"))
SWEEP_CASES = int(os.environ.get("EIE_FUZZ_SWEEP_CASES", "100"))


def _bad_lines(res) -> list[str]:
    return [f"{fmt} {o}: case {e['index']} ({e.get('mutation')}): {e.get('error', '')} "
            f"{e.get('detail', '')}" for (fmt, o), exs in res["examples"].items() if o in BAD for e in exs]


def test_fuzz_every_format_without_bad_outcomes():
    res = campaign(CASES, SEED, formats=BASE_FORMATS, workers=2, soft_s=10.0, hard_s=60.0)
    report = f"fuzz seed {SEED}, {CASES} cases per format\n{table(res)}"
    print(report)
    bad = [f"{fmt} {o}: case {e['index']} ({e.get('mutation')}): {e.get('error', '')} "
           f"{e.get('detail', '')}" for (fmt, o), exs in res["examples"].items() if o in BAD for e in exs]
    assert bad_count(res) == 0, report + "\n" + "\n".join(bad)
    for fmt in res["formats"]:
        c = res["counts"][fmt]
        assert sum(c.values()) == CASES
        assert c["clean error"] > CASES // 2 and c["accepted identical"] >= 1, report


def test_fuzz_model_importers_without_bad_outcomes():
    """ONNX files, safetensors files (with and without a graph in ``__metadata__``) and
    graph JSON: protobuf bytes, header lengths, offsets, dims, attributes, cycles...
    (tests/fuzz/importer_cases.py); every refusal a one-line error naming the file."""
    if not importers_available():
        pytest.skip("onnx and safetensors (the 'import' extra) are not installed")
    res = campaign(IMPORT_CASES, SEED, formats=list(IMPORT_FORMATS), workers=2, soft_s=10.0,
                   hard_s=60.0)
    report = f"fuzz seed {SEED}, {IMPORT_CASES} cases per format\n{table(res)}"
    print(report)
    bad = [f"{fmt} {o}: case {e['index']} ({e.get('mutation')}): {e.get('error', '')} "
           f"{e.get('detail', '')}" for (fmt, o), exs in res["examples"].items() if o in BAD for e in exs]
    assert bad_count(res) == 0, report + "\n" + "\n".join(bad)
    for fmt in IMPORT_FORMATS:
        c = res["counts"][fmt]
        assert sum(c.values()) == IMPORT_CASES
        assert c["clean error"] > IMPORT_CASES // 2 and c["accepted identical"] >= 1, report
        assert c["accepted, expected"] >= 1, report     # no checksum: edited values read back


def test_harness_counts_hangs_allocations_and_crashes_without_dying():
    """The guards themselves: an alarm for a hang in Python, the parent's hard limit for a
    hang in C, RLIMIT_AS for a huge allocation, a replaced worker after a crash."""
    res = campaign(5, SEED, formats=["selftest"], workers=1, soft_s=0.5, hard_s=3.0, mem_cap_mb=256)
    c = res["counts"]["selftest"]
    assert dict(c) == {"accepted identical": 1, "HANG": 2, "MEMORY": 1, "CRASH": 1}, table(res)


def test_fuzz_corpus_holds_the_authors_squeezenet():
    if not squeezenet_available():
        pytest.skip("the authors' SqueezeNet (../shared/data/squeezenet: SqueezeNet_deploy.prototxt, "
                    "compressed_SqueezeNet.net) is absent; the .net cases use synthetic networks only")
    names = [s.name for s in build_seeds(["net"])["net"]]
    assert "squeezenet" in names


def test_fuzz_prototxt_without_bad_outcomes():
    """Caffe prototxts (tests/fuzz/prototxt_cases.py): deep nesting, huge numbers,
    unterminated strings, unknown fields, enum values, repeated fields, 20,000 layers."""
    res = campaign(PROTOTXT_CASES, SEED, formats=["prototxt"], workers=2, soft_s=10.0, hard_s=60.0)
    report = f"fuzz seed {SEED}, {PROTOTXT_CASES} cases\n{table(res)}"
    assert bad_count(res) == 0, report + "\n" + "\n".join(_bad_lines(res))
    c = res["counts"]["prototxt"]
    assert sum(c.values()) == PROTOTXT_CASES
    assert c["clean error"] > PROTOTXT_CASES // 2 and c["accepted identical"] >= 1, report
    assert c["accepted, expected"] >= 1, report          # no checksum: edited values read back


def test_fuzz_sweep_database_without_bad_outcomes(monkeypatch):
    """Mutated sweep.db files (tests/fuzz/sweepdb_cases.py) fed to eie-plot (read_partial;
    the plots themselves, seconds a case, only in ``make fuzz``) and to a resume: a clean
    error, the seed's own tables, or those of a sweep that recorded fewer points; never a
    traceback or tampered data."""
    monkeypatch.setenv("EIE_FUZZ_PLOT_EVERY", "0")            # inherited by the workers
    res = campaign(SWEEP_CASES, SEED, formats=["sweep-db"], workers=2, soft_s=20.0, hard_s=90.0)
    report = f"fuzz seed {SEED}, {SWEEP_CASES} cases\n{table(res)}"
    print(report)
    assert sum(res["counts"]["sweep-db"].values()) == SWEEP_CASES
    assert bad_count(res) == 0, report + "\n" + "\n".join(_bad_lines(res))


def _edited(seed, sql: str) -> bytes:
    con = sweepdb_cases._open(seed.data)
    con.executescript(sql)
    return sweepdb_cases._close(con)


def test_sweep_database_target_and_outcome_rules(tmp_path):
    """The sweep-db target's rules on hand-made cases, whatever the database's validation:
    the seeds read identical; whole points removed read as a sweep that recorded fewer
    (plot) or are run again (resume); a point's results edited, a point copied under
    another index or a layer row deleted is never accepted as the seed or as expected."""
    seeds = {s.name: s for s in build_seeds(["sweep-db"])["sweep-db"]}
    refs = {}
    for s in seeds.values():
        p = tmp_path / "seed.db"
        p.write_bytes(s.data)
        refs[("sweep-db", s.name)] = (targets.run(s.target, str(p), info=s.info), None)
    assert refs[("sweep-db", "full-resume")] == refs[("sweep-db", "partial-resume")]
    old = signal.signal(signal.SIGALRM, harness._on_alarm)
    try:
        def outcome(name, data, expect=None):
            case = Case("sweep-db", 1, seeds[name], data, "hand", expect=expect)
            return harness.run_case(case, refs, targets, tmp_path, 60.0)["outcome"]

        for name, s in seeds.items():
            assert outcome(name, s.data) == "accepted identical", name
        fewer = _edited(seeds["full"], "DELETE FROM layers WHERE point = 3; "
                                       "DELETE FROM points WHERE point = 3; VACUUM;")
        assert outcome("full", fewer, expect=fewer) == "accepted, expected"
        assert outcome("full-resume", fewer, expect=fewer) == "accepted identical"
        for sql in ("UPDATE layers SET data = replace(data, '\"cycles\": 1', '\"cycles\": 2')",
                    "INSERT INTO points (point, params, config, config_hash, error, figures, "
                    "wall_s, finished_unix) SELECT 3, params, config, config_hash, error, "
                    "figures, wall_s, finished_unix FROM points WHERE point = 0; INSERT INTO layers "
                    "SELECT 3, idx, layer, cycles, time_us, total_energy_uj, config_hash, data "
                    "FROM layers WHERE point = 0",
                    "DELETE FROM layers WHERE point = 1 AND idx = 1"):
            for name in ("partial", "partial-resume"):
                got = outcome(name, _edited(seeds[name], sql))
                assert got == "clean error", (name, sql, got)
                # ACCEPTED DIFFERENT on the code before issue 23's validation
    finally:
        signal.signal(signal.SIGALRM, old)
    with pytest.raises(sqlite3.OperationalError):        # the helpers edit real databases
        _edited(seeds["full"], "SELECT * FROM nowhere")
