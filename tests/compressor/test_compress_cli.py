"""eie-compress: subcommands, error paths (status 2 for bad input, message, no output file)."""
import numpy as np
import pytest

import compressor.pipeline as pl
from compressor import fileformat, fileio
from compressor.caffe import squeezenet
from compressor.cli import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, build_parser, main, size_comparison
from compressor.errors import PrototxtError, RoundTripError
from compressor.pipeline import compress_weights
from compressor.schedule import LayerSpec
from compressor.training.data import write_idx
from compressor.training.networks import build

TINY = ["--epochs", "1", "--prune-rounds", "1", "--retrain-epochs", "1", "--quant-epochs", "1", "--quiet"]


def test_help_exits_zero(capsys):
    assert main(["--help"]) == 0
    assert "usage: eie-compress" in capsys.readouterr().out
    for cmd in ("train", "npz", "inspect", "decode", "squeezenet"):
        assert main([cmd, "--help"]) == 0
        assert f"usage: eie-compress {cmd}" in capsys.readouterr().out
    assert "train" in build_parser().format_help()
    assert main([]) == 2 == EXIT_BAD_INPUT
    out = capsys.readouterr().out
    assert out.startswith("usage: eie-compress") and "squeezenet" in out


@pytest.fixture
def mnist_dir(tmp_path):
    """A tiny synthetic MNIST in IDX form (gzipped), so --mnist-dir is exercised."""
    rng = np.random.default_rng(0)
    d = tmp_path / "mnist"
    d.mkdir()
    labels = rng.integers(0, 10, 120).astype(np.uint8)
    images = np.zeros((120, 28, 28), np.uint8)
    for i, c in enumerate(labels):  # a learnable pattern: a bright bar whose row is the class
        images[i, 2 + 2 * c: 4 + 2 * c, 4:24] = 255
    images += rng.integers(0, 40, images.shape, dtype=np.uint8)
    write_idx(d / "train-images-idx3-ubyte.gz", images[:100])
    write_idx(d / "train-labels-idx1-ubyte.gz", labels[:100])
    write_idx(d / "t10k-images-idx3-ubyte.gz", images[100:])
    write_idx(d / "t10k-labels-idx1-ubyte.gz", labels[100:])
    return d


def test_train_inspect_decode_npz(tmp_path, mnist_dir, capsys):
    out = tmp_path / "m.dcmp"
    rc = main(["train", "--model", "lenet300", "--mnist-dir", str(mnist_dir), "--out", str(out),
               "--report-dir", str(tmp_path / "rep"), "--density", "0.2", "--density", "ip3=0.5",
               "--bits", "ip1=4", "--seed", "7", *TINY])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert out.is_file() and (tmp_path / "rep" / "m.md").is_file() and (tmp_path / "rep" / "m.csv").is_file()
    assert "ratio" in text and f"wrote {out}" in text
    model = fileformat.load(out)
    assert model.meta["seed"] == 7 and model.meta["data"]["source"] == "idx"
    assert model.layer("ip1").bits == 4 and model.layer("ip2").bits == 5
    assert model.layer("ip3").nnz == 500 and model.layer("ip2").nnz == round(0.2 * 30_000)

    assert main(["inspect", str(out), "--csv", str(tmp_path / "t.csv")]) == 0
    text = capsys.readouterr().out
    assert "| ip1 |" in text and "Total" in text
    assert (tmp_path / "t.csv").read_text().startswith("layer,")

    dense = tmp_path / "dense.npz"
    assert main(["decode", str(out), "--out", str(dense)]) == 0
    with np.load(dense) as z:
        # the layers, and the graph of the LeNet the file names (docs/byom.md)
        assert sorted(z.files) == ["__graph__", "ip1", "ip1.bias", "ip2", "ip2.bias", "ip3",
                                   "ip3.bias"]
        np.testing.assert_array_equal(z["ip2"], model.layer("ip2").weights())
        np.testing.assert_array_equal(z["ip3.bias"], model.layer("ip3").bias)

    # the decoded dense weights go back in through `npz` (no retraining)
    out2 = tmp_path / "again.dcmp"
    assert main(["npz", str(dense), "--out", str(out2), "--quality", "0", "--bits", "ip1=4", "--quiet"]) == 0
    again = fileformat.load(out2)
    for name in ("ip1", "ip2", "ip3"):
        np.testing.assert_array_equal(again.layer(name).codes != 0, model.layer(name).codes != 0)
    assert again.meta["retrained"] is False


def test_npz_with_model_retrains(tmp_path, mnist_dir, capsys):
    np.savez(tmp_path / "w.npz", **build("lenet300", 1).get_weights())
    out = tmp_path / "w.dcmp"
    rc = main(["npz", str(tmp_path / "w.npz"), "--model", "lenet300", "--mnist-dir", str(mnist_dir),
               "--out", str(out), *TINY])
    assert rc == 0, capsys.readouterr().err
    assert fileformat.load(out).meta["retrained"] is True


def _fails(argv, capsys, needle, outputs):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == EXIT_BAD_INPUT == 2, err
    assert needle in err, err
    for p in outputs:
        assert not p.exists(), p
    return err


def test_error_paths_leave_no_output(tmp_path, mnist_dir, capsys):
    out = tmp_path / "x.dcmp"
    rep = tmp_path / "rep"
    base = ["--mnist-dir", str(mnist_dir), "--out", str(out), "--report-dir", str(rep), *TINY]
    _fails(["train", *base, "--bits", "0"], capsys, "weight bits must be in 1..16, got 0", [out, rep])
    _fails(["train", *base, "--quality", "-1"], capsys, "quality must be a finite number >= 0", [out, rep])
    _fails(["train", *base, "--density", "0"], capsys, "density must lie in (0, 1]", [out, rep])
    _fails(["train", *base, "--density", "ip9=0.1"], capsys, "no layer 'ip9'", [out, rep])
    _fails(["train", *base, "--density", "abc"], capsys, "'abc' is not a valid number", [out, rep])
    _fails(["train", *base, "--index-bits", "0"], capsys,
           "argument --index-bits: must be an integer in 1..16, got 0", [out, rep])
    _fails(["train", *base, "--epochs", "-2"], capsys, "argument --epochs: must be an integer >= 0, got -2",
           [out, rep])
    _fails(["train", *base, "--density", "ip1=0.1", "--quality", "ip1=1"], capsys, "not both", [out, rep])
    _fails(["train", "--mnist-dir", str(tmp_path / "nowhere"), "--out", str(out), *TINY], capsys,
           "does not exist", [out])
    _fails(["train", "--out", str(tmp_path / "no" / "dir" / "x.dcmp"), *TINY], capsys,
           "does not exist", [tmp_path / "no"])
    (mnist_dir / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x00\x00\x08")
    _fails(["train", *base], capsys, "t10k-labels-idx1-ubyte.gz", [out, rep])


def test_npz_errors_leave_no_output(tmp_path, capsys):
    out = tmp_path / "x.dcmp"
    _fails(["npz", str(tmp_path / "missing.npz"), "--out", str(out)], capsys, "missing.npz: no such file", [out])
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"\x00" * 50)
    _fails(["npz", str(junk), "--out", str(out)], capsys, "junk.npz: not a .npz (zip) archive", [out])
    np.savez(tmp_path / "bad.npz", w=np.ones((2, 2, 2)))
    _fails(["npz", str(tmp_path / "bad.npz"), "--out", str(out)], capsys, "array 'w' has shape (2, 2, 2)", [out])
    np.savez(tmp_path / "ok.npz", w=np.ones((4, 4)))
    _fails(["npz", str(tmp_path / "ok.npz"), "--out", str(out), "--bits", "17"], capsys,
           "weight bits must be in 1..16, got 17", [out])
    _fails(["npz", str(tmp_path / "ok.npz"), "--out", str(out), "--model", "lenet5"], capsys,
           "are not lenet5's", [out])


def test_inspect_decode_errors(tmp_path, capsys):
    bad = tmp_path / "bad.dcmp"
    bad.write_bytes(b"garbage" * 10)
    out = tmp_path / "d.npz"
    _fails(["inspect", str(bad)], capsys, "bad.dcmp", [])
    _fails(["decode", str(bad), "--out", str(out)], capsys, "bad.dcmp", [out])
    _fails(["decode", str(tmp_path / "none.dcmp"), "--out", str(out)], capsys, "none.dcmp", [out])


def test_squeezenet_subcommand_reports_missing_files(tmp_path, capsys):
    """`eie-compress squeezenet` is wired to compressor.caffe.squeezenet and fails cleanly."""
    out = tmp_path / "ours.dcmp"
    rc = main(["squeezenet", "--prototxt", str(tmp_path / "none.prototxt"),
               "--net", str(tmp_path / "none.net"), "--out", str(out)])
    assert rc == 2
    assert f"{tmp_path / 'none.prototxt'}: cannot read" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, needle", [
    (["--seed", "-1"], "argument --seed: must be an integer >= 0, got -1"),
    (["--seed", "x"], "argument --seed: 'x' is not an integer"),
    (["--batch-size", "0"], "argument --batch-size: must be an integer >= 1, got 0"),
    (["--epochs", "-1"], "argument --epochs: must be an integer >= 0, got -1"),
    (["--prune-rounds", "0"], "argument --prune-rounds: must be an integer >= 1, got 0"),
    (["--quant-epochs", "-3"], "argument --quant-epochs: must be an integer >= 0, got -3"),
    (["--n-test", "0"], "argument --n-test: must be an integer >= 1, got 0"),
    (["--data-seed", "-5"], "argument --data-seed: must be an integer >= 0, got -5"),
    (["--lr", "-0.1"], "argument --lr: must be a finite number > 0, got -0.1"),
])
def test_invalid_integer_options_fail_while_parsing(tmp_path, capsys, monkeypatch, argv, needle):
    monkeypatch.setattr(pl, "run_model", lambda *a, **k: pytest.fail("training started"))
    monkeypatch.setattr(pl, "compress_weights", lambda *a, **k: pytest.fail("compression started"))
    out = tmp_path / "x.dcmp"
    np.savez(tmp_path / "w.npz", w=np.ones((4, 4)))
    for cmd in (["train"], ["npz", str(tmp_path / "w.npz")]):
        rc = main([*cmd, "--out", str(out), *argv])
        err = capsys.readouterr().err
        assert rc == 2 and needle in err, err
        assert [l for l in err.splitlines() if "error:" in l] == [l for l in err.splitlines() if needle in l]
        assert not out.exists()


def test_inspect_checks_csv_path_before_loading(tmp_path, capsys):
    bad = tmp_path / "bad.dcmp"
    bad.write_bytes(b"garbage")  # would fail to load: the --csv error must come first
    rc = main(["inspect", str(bad), "--csv", str(tmp_path / "no" / "t.csv")])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert "--csv" in err and "does not exist" in err and "garbage" not in err


def test_inspect_csv_is_written_atomically(tmp_path, capsys, monkeypatch):
    f = tmp_path / "m.dcmp"
    compress_weights({"a": np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32)},
                     {"a": LayerSpec(density=0.5)}, out=f)
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("old")
    monkeypatch.setattr(fileio.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    assert main(["inspect", str(f), "--csv", str(csv_path)]) == 2
    assert "eie-compress inspect: error: disk full" in capsys.readouterr().err
    assert csv_path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["m.dcmp", "t.csv"]
    monkeypatch.undo()
    assert main(["inspect", str(f), "--csv", str(csv_path)]) == 0
    assert csv_path.read_text().startswith("layer,") and (csv_path.stat().st_mode & 0o777) == 0o644


def test_squeezenet_errors_name_eie_compress(tmp_path, capsys):
    args = ["--prototxt", str(tmp_path / "none.prototxt"), "--net", str(tmp_path / "none.net")]
    assert main(["squeezenet", *args]) == 2
    assert capsys.readouterr().err.startswith("eie-compress squeezenet: error: ")
    with pytest.raises(PrototxtError, match="none.prototxt: cannot read"):  # the library raises
        squeezenet.convert(tmp_path / "none.prototxt", tmp_path / "none.net")


def test_round_trip_failure_is_a_failed_check_and_interrupt_is_130(tmp_path, capsys, monkeypatch):
    np.savez(tmp_path / "w.npz", w=np.ones((4, 4), np.float32))
    argv = ["npz", str(tmp_path / "w.npz"), "--out", str(tmp_path / "w.dcmp"), "--quiet"]

    def mismatch(*a, **k):
        raise RoundTripError("w.dcmp: layer w does not decode to the saved weights")

    monkeypatch.setattr(pl, "compress_weights", mismatch)
    assert main(argv) == EXIT_CHECK_FAILED == 1
    assert "eie-compress npz: check failed: w.dcmp: layer w does not decode" in capsys.readouterr().err

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pl, "compress_weights", interrupt)
    assert main(argv) == 130
    assert "eie-compress npz: interrupted" in capsys.readouterr().err


def test_size_comparison_wording():
    assert size_comparison(37.24) == "37.2x smaller than"
    assert size_comparison(0.1) == "10.0x larger than"
    assert size_comparison(0.4) == "2.5x larger than"
    assert size_comparison(1.0) == "the same size as"


def test_npz_larger_than_dense_says_larger(tmp_path, capsys):
    np.savez(tmp_path / "w.npz", w=np.ones((2, 2), np.float32))  # 16 bytes dense
    out = tmp_path / "w.dcmp"
    assert main(["npz", str(tmp_path / "w.npz"), "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "x larger than float32 (16 bytes)" in text and "smaller" not in text.split("wrote")[-1]
