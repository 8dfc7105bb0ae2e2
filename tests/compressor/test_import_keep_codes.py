"""``eie-compress import X.dcmp`` keeps the file's codes and codebook of a layer when the
requested bits are not fewer than the file's and no pruning rule is given for it (it is
compressed already), and says so; otherwise it re-quantizes that layer, and says that."""
from __future__ import annotations

import numpy as np

from compressor.cli import main as compress_main
from compressor.fileformat import load
from compressor.fileformat import save as save_dcmp
from compressor.model import QuantizedLayer, QuantizedModel


def _dcmp(path):
    rng = np.random.default_rng(3)
    layers = []
    for name, shape, bits in (("a", (24, 30), 3), ("b", (12, 24), 5)):
        codes = rng.integers(1, 2 ** bits, size=shape) * (rng.random(shape) < 0.3)
        cb = np.concatenate([[0.0], np.sort(rng.normal(0, 0.3, 2 ** bits - 1))])
        layers.append(QuantizedLayer(name, "fc", codes, cb, rng.normal(size=shape[0]) * 0.1,
                                     bits, 4))
    model = QuantizedModel(layers, {"seed": 3})
    save_dcmp(model, path)
    return load(path)


def _import(capsys, *args) -> list[str]:
    capsys.readouterr()
    assert compress_main(["import", *map(str, args), "--quiet"]) == 0
    return [l for l in capsys.readouterr().out.splitlines() if l.startswith(("a:", "b:"))]


def _same(x, y) -> bool:
    return (x.bits == y.bits and np.array_equal(x.codes, y.codes)
            and np.array_equal(x.codebook, y.codebook) and np.array_equal(x.bias, y.bias))


def test_import_dcmp_keeps_codes_unless_fewer_bits(tmp_path, capsys):
    src = _dcmp(tmp_path / "in.dcmp")
    # default 4 bits: "a" (3-bit) is kept as is, "b" (5-bit) re-quantized to 4 bits
    lines = _import(capsys, tmp_path / "in.dcmp", "--out", tmp_path / "o4.dcmp")
    assert lines == ["a: kept the file's 3-bit codes and codebook (already compressed; 4 bits "
                     "requested)",
                     "b: re-quantized with k-means to 4-bit codes (fewer than the file's 5)"]
    out = load(tmp_path / "o4.dcmp")
    assert _same(out.layer("a"), src.layer("a"))
    assert out.layer("b").bits == 4 and not _same(out.layer("b"), src.layer("b"))
    assert out.meta["kept_layers"] == ["a"] and out.meta["source_format"] == "dcmp"
    # enough bits for both: the whole file kept, index width as asked
    lines = _import(capsys, tmp_path / "in.dcmp", "--out", tmp_path / "o8.dcmp", "--bits", "8",
                    "--index-bits", "6")
    assert [l.split(":")[1].split(" the file")[0] for l in lines] == [" kept", " kept"]
    out = load(tmp_path / "o8.dcmp")
    assert all(_same(out.layer(n), src.layer(n)) for n in ("a", "b"))
    assert {l.index_bits for l in out.layers} == {6}
    # a pruning rule given for a layer: pruned and re-quantized, said so
    lines = _import(capsys, tmp_path / "in.dcmp", "--out", tmp_path / "od.dcmp", "--bits", "8",
                    "--density", "a=0.1")
    assert lines[0] == "a: pruned by the rule given and re-quantized with k-means to 8-bit codes"
    out = load(tmp_path / "od.dcmp")
    assert out.layer("a").nnz < src.layer("a").nnz and _same(out.layer("b"), src.layer("b"))
    # --keep-mask on a re-quantized layer keeps its mask
    _import(capsys, tmp_path / "in.dcmp", "--out", tmp_path / "om.dcmp", "--keep-mask")
    np.testing.assert_array_equal(load(tmp_path / "om.dcmp").layer("b").codes != 0,
                                  src.layer("b").codes != 0)
