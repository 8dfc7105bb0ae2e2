"""The fuzz harness (tests/fuzz) in the fast suite: a few hundred seeded cases per format
(the model importers' formats in their own test, EIE_FUZZ_IMPORT_CASES of each).

``make fuzz`` runs the long campaign (10,000 per format, a random seed, printed).
EIE_FUZZ_SEED and EIE_FUZZ_CASES change this test's seed and size.
"""
import os

import pytest

from tests.fuzz.corpus import BASE_FORMATS, IMPORT_FORMATS, build_seeds, squeezenet_available
from tests.fuzz.harness import BAD, bad_count, campaign, table
from tests.fuzz.importer_cases import available as importers_available

SEED = int(os.environ.get("EIE_FUZZ_SEED", "20240917"))
CASES = int(os.environ.get("EIE_FUZZ_CASES", "400"))
#: cases per model-importer format (ONNX, safetensors, graph JSON)
IMPORT_CASES = int(os.environ.get("EIE_FUZZ_IMPORT_CASES", "500"))


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
