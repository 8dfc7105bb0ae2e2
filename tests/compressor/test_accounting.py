"""Size accounting (Tables 2-5 columns; rule in docs/format.md)."""
import csv

import numpy as np
import pytest

from compressor import accounting as acc
from compressor.fileformat import inspect, save
from compressor.huffman import code_lengths
from compressor.model import QuantizedLayer, QuantizedModel


def _hand_layer():
    # 1 x 20 fc layer, 2-bit codes, 2-bit index; non-zeros at 0, 4, 13, 14
    codes = np.zeros((1, 20), np.uint8)
    codes[0, [0, 4, 13, 14]] = [1, 2, 3, 1]
    return QuantizedLayer("fc1", "fc", codes, np.array([0, -1, 0.5, 1], np.float32),
                          np.zeros(1, np.float32), 2, 2, {"order": "csr"})


def test_layer_row_by_hand():
    r = acc.layer_row(_hand_layer())
    # entries: 4 non-zeros + 2 fillers (gap of 8 zeros before position 13 with 2-bit index)
    assert (r["n_weights"], r["nnz"], r["entries"], r["fillers"]) == (20, 4, 6, 2)
    assert r["density"] == pytest.approx(0.2)
    assert r["bits_pq"] == 6 * (2 + 2) + 4 * 32
    assert r["rate_pq"] == pytest.approx((24 + 128) / (32 * 20))
    # Huffman: codes stream [1,2,0,0,3,1] -> freqs {0:2,1:2,2:1,3:1}
    cl = code_lengths([2, 2, 1, 1])
    code_bits = int(np.dot(cl, [2, 2, 1, 1]))
    gl = code_lengths([3, 0, 0, 3])  # gaps [0,3,3,3,0,0]
    gap_bits = int(np.dot(gl, [3, 0, 0, 3]))
    assert r["weight_bits_pqh"] == pytest.approx(code_bits / 6)
    assert r["index_bits_pqh"] == pytest.approx(gap_bits / 6)
    assert r["bits_pqh"] == code_bits + gap_bits + 128
    assert r["dense_bytes"] == 4 * 21
    assert r["rate_ours"] == pytest.approx(r["stored_bytes"] / 84)


def _model():
    rng = np.random.default_rng(0)
    layers = []
    for name, shape, dens, bits in [("a", (50, 60), 0.1, 5), ("b", (20, 50), 0.3, 4), ("c", (6, 3, 3, 3), 0.6, 8)]:
        codes = (rng.integers(1, 2 ** bits, size=shape) * (rng.random(shape) < dens)).astype(np.uint8)
        cb = np.concatenate([[0.0], np.sort(rng.normal(size=2 ** bits - 1))]).astype(np.float32)
        layers.append(QuantizedLayer(name, "fc" if len(shape) == 2 else "conv", codes, cb,
                                     rng.normal(size=shape[0]).astype(np.float32), bits, 4, {}))
    return QuantizedModel(layers, {"seed": 0})


def test_total_row_rules(tmp_path):
    m = _model()
    p = save(m, tmp_path / "m.dcmp")
    rows = acc.model_table(m, p)
    layers, tot = rows[:-1], rows[-1]
    assert tot["layer"] == "Total" and len(layers) == 3
    nnz = sum(r["nnz"] for r in layers)
    assert tot["nnz"] == nnz == sum(l.nnz for l in m.layers)
    assert tot["n_weights"] == sum(r["n_weights"] for r in layers)
    for key in ("weight_bits_pq", "weight_bits_pqh", "index_bits_pq", "index_bits_pqh"):
        assert tot[key] == pytest.approx(sum(r[key] * r["nnz"] for r in layers) / nnz)
    assert tot["rate_pq"] == pytest.approx(sum(r["bits_pq"] for r in layers) / (32 * tot["n_weights"]))
    assert tot["rate_pqh"] == pytest.approx(sum(r["bits_pqh"] for r in layers) / (32 * tot["n_weights"]))
    info = inspect(p)
    assert tot["stored_bytes"] == p.stat().st_size
    assert tot["rate_ours"] == pytest.approx(p.stat().st_size / (4 * (tot["n_weights"] + tot["n_bias"])))
    assert [r["stored_bytes"] for r in layers] == [l["section_bytes"] for l in info["layers"]]
    # without a file the same bytes are counted in memory
    assert acc.model_table(m) == rows
    # Huffman never costs more than the fixed widths here
    assert all(r["bits_pqh"] <= r["bits_pq"] for r in rows)


def test_model_table_rejects_other_file(tmp_path):
    m = _model()
    p = save(QuantizedModel(m.layers[:2], {}), tmp_path / "other.dcmp")
    with pytest.raises(ValueError, match=r"other\.dcmp holds layers \['a', 'b'\], the model has \['a', 'b', 'c'\]"):
        acc.model_table(m, p)


def test_markdown_and_csv(tmp_path):
    rows = acc.model_table(_model())
    md = acc.format_markdown(rows, paper={"a": {"density": 0.08, "rate_pq": 0.031}, "Total": {"rate_pqh": "2.49 % (40x)"}})
    lines = md.strip().splitlines()
    assert lines[0].startswith("| Layer | #Weights | Weights % (P) | Weight bits P+Q")
    assert len(lines) == 2 + len(rows)
    assert "(paper: 8.00 %)" in lines[2] and "(paper: 3.10 %)" in lines[2]
    assert lines[-1].startswith("| Total |") and "(paper: 2.49 % (40x))" in lines[-1]
    assert "x)" in lines[-1]  # compression factors on the total row
    out = acc.write_csv(rows, tmp_path / "t.csv")
    with out.open() as f:
        back = list(csv.DictReader(f))
    assert [r["layer"] for r in back] == ["a", "b", "c", "Total"]
    assert float(back[0]["rate_pq"]) == pytest.approx(rows[0]["rate_pq"])


def test_write_csv_is_atomic_and_matches_csv_text(tmp_path, monkeypatch):
    from compressor import accounting, fileio, report

    rows = [{"layer": "a", "n_weights": 3}, {"layer": "Total", "n_weights": 3, "extra": 1.5}]
    p = accounting.write_csv(rows, tmp_path / "t.csv")
    assert p.read_bytes() == accounting.csv_text(rows).encode() == b"layer,n_weights,extra\r\na,3,\r\nTotal,3,1.5\r\n"
    assert (p.stat().st_mode & 0o777) == 0o644 and [f.name for f in tmp_path.iterdir()] == ["t.csv"]
    monkeypatch.setattr(fileio.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        accounting.write_csv(rows[:1], p)
    assert p.read_bytes() == accounting.csv_text(rows).encode()  # untouched, no temp file left
    assert [f.name for f in tmp_path.iterdir()] == ["t.csv"]
    # write_report goes through the same writer: nothing half-written, no temp names
    rng = np.random.default_rng(0)
    model = QuantizedModel([QuantizedLayer("a", "fc", rng.integers(0, 4, (4, 5)).astype(np.uint8),
                                           np.array([0, 1, 2, 3], np.float32), None, 2, 2)])
    with pytest.raises(OSError, match="disk full"):
        report.write_report(model, tmp_path / "rep", "m")
    assert list((tmp_path / "rep").iterdir()) == []
    monkeypatch.undo()
    md, csv_path = report.write_report(model, tmp_path / "rep", "m")
    assert sorted(f.name for f in (tmp_path / "rep").iterdir()) == ["m.csv", "m.md"]
