"""The authors' compressed SqueezeNet (../shared/data/squeezenet/, BSD licence).

The files are read where they lie and never copied into the repository; every test here
is skipped when they are absent. Damaged copies are written to tmp_path only.
"""
import math
import pathlib

import numpy as np
import pytest

from compressor import fileformat, sparse
from compressor.caffe import authors_format, squeezenet
from compressor.caffe.authors_format import (model_from_records, read_authors, read_authors_records,
                                             write_authors)
from compressor.graph.forward import forward, layer_workloads
from compressor.caffe.prototxt import load_net, parse_net
from compressor.caffe.squeezenet import squeezenet_table, table_csv, table_markdown
from compressor.caffe.textformat import parse_text
from compressor.cli import main as cli_main
from compressor.errors import AuthorsFormatError, PrototxtError

DATA = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "squeezenet"
PROTOTXT = DATA / "SqueezeNet_deploy.prototxt"
NETFILE = DATA / "compressed_SqueezeNet.net"

pytestmark = pytest.mark.skipif(not (PROTOTXT.is_file() and NETFILE.is_file()),
                                reason=f"authors' SqueezeNet files not present under {DATA}")

FILE_BYTES = 675_763


@pytest.fixture(scope="module")
def net():
    return load_net(PROTOTXT)


@pytest.fixture(scope="module")
def blob():
    return NETFILE.read_bytes()


@pytest.fixture(scope="module")
def model(net, blob):
    return read_authors(net, blob)


def reference_dense(net, blob):
    """Independent, minimal decode of the file straight into dense float32 tensors."""
    names = [l.name for l in net.layers if l.type == "Convolution"]
    shapes = {l.name: l.weight_shape for l in net.layers if l.type == "Convolution"}
    counts = np.frombuffer(blob, "<u4", len(names))
    off = 4 * len(names)
    out = {}
    for name, n in zip(names, counts.tolist()):
        shape = shapes[name]
        cb = np.frombuffer(blob, "<f4", 256, off)
        off += 1024
        bias = np.frombuffer(blob, "<f4", shape[0], off)
        off += 4 * shape[0]
        codes = np.frombuffer(blob, np.uint8, n, off)
        off += n
        packed = np.frombuffer(blob, np.uint8, (n + 1) // 2, off)
        off += (n + 1) // 2
        idx = np.stack([packed & 15, packed >> 4], axis=1).ravel()[:n]
        w = np.zeros(math.prod(shape), np.float32)
        w[np.cumsum(idx.astype(np.int64) + 1) - 1] = cb[codes]
        out[name] = w.reshape(shape)
        out[name + ".bias"] = bias
    assert off == len(blob)
    return out


def test_decode_facts(net, blob, model):
    assert len(blob) == FILE_BYTES
    assert len(model.layers) == 26
    assert all(l.kind == "conv" and l.bits == 8 and l.index_bits == 4 for l in model.layers)
    assert sum(l.codes.size for l in model.layers) == 1_244_448
    assert sum(l.bias.size for l in model.layers) == 3_976
    header = np.frombuffer(blob, "<u4", 26)
    assert [l.meta["entries"] for l in model.layers] == header.tolist()
    assert sum(header.tolist()) == 422_083
    assert sum(l.nnz for l in model.layers) == 415_921
    assert sum(l.meta["fillers"] for l in model.layers) == 6_162
    assert model.layers[0].name == "conv1" and model.layers[0].shape == (96, 3, 7, 7)
    assert model.layers[-1].name == "conv_final" and model.layers[-1].shape == (1000, 512, 1, 1)
    assert "relu_conv1" not in [l.name for l in model.layers]
    recs = read_authors_records(net, blob)
    assert 4 * 26 + sum(r.nbytes for r in recs) == FILE_BYTES


def test_matches_independent_decode(net, blob, model):
    ref = reference_dense(net, blob)
    for lay in model.layers:
        assert np.array_equal(lay.weights(), ref[lay.name])
        assert np.array_equal(lay.bias, ref[lay.name + ".bias"])


def test_project_sparse_encoder_reproduces_stored_streams(net, blob, model):
    for rec, lay in zip(read_authors_records(net, blob), model.layers):
        st = sparse.encode(lay.codes, 4, "c")
        assert st.n_entries == rec.entries and st.n_fillers == rec.zero_code_entries
        assert np.array_equal(st.codes, rec.codes) and np.array_equal(st.gaps, rec.index)


def test_authors_round_trip_is_byte_exact(net, blob, model):
    assert write_authors(model, net) == blob


def test_our_file_round_trip_exact(net, blob, model, tmp_path):
    path = tmp_path / "squeezenet.dcmp"
    fileformat.save(model, path)
    back = fileformat.load(path)
    ref = reference_dense(net, blob)
    np.savez(tmp_path / "dense.npz", **{l.name: l.weights() for l in back.layers},
             **{l.name + ".bias": l.bias for l in back.layers})
    with np.load(tmp_path / "dense.npz") as z:
        assert sorted(z.files) == sorted(ref)
        for k in ref:
            assert np.array_equal(z[k], ref[k]), k


@pytest.mark.parametrize("mutate, match", [
    (lambda b: b[:-1], r"layer 'conv_final': file ends inside the index stream"),
    (lambda b: b[:5000], r"layer 'conv1': file ends inside the weight codes \(needs 13902 bytes at offset 1512"),
    (lambda b: b[:50], r"less than the 104-byte header"),
    (lambda b: b + b"\0\0", r"2 bytes left over after the last layer \('conv_final'\) at offset 675763"),
    (lambda b: b[:104] + np.float32(1.0).tobytes() + b[108:], r"layer 'conv1': codebook\[0\] at offset 104"),
    (lambda b: np.uint32(14113).tobytes() + b[4:], r"layer 'conv1': header word 0 .* 14113 entries .* 14112"),
    (lambda b: np.uint32(13903).tobytes() + b[4:], r"layer 'conv1': entry 13902 of 13903 .* past the 14112"),
    (lambda b: b[:-201] + b"\xff" * 200 + b[-1:], r"layer 'conv_final': entry \d+ of 105973 .* past the 512000 weights"),
])
def test_damaged_copies_raise_clear_errors(net, blob, tmp_path, mutate, match):
    p = tmp_path / "damaged.net"
    p.write_bytes(mutate(blob))
    with pytest.raises(AuthorsFormatError, match=match):
        read_authors(net, p)


def test_wrong_prototxt_is_rejected(blob):
    text = PROTOTXT.read_text()
    wrong_width = parse_net(parse_text(text.replace("num_output: 96", "num_output: 64", 1)))
    with pytest.raises(AuthorsFormatError, match=r"layer 'conv1': header word 0 \(offset 0\) says \d+ entries"):
        read_authors(wrong_width, blob)
    # drop the last parameter layer: the header is one word shorter, everything shifts
    cut = text[:text.index('layer {\n  name: "conv_final"')]
    with pytest.raises(AuthorsFormatError, match="layer 'conv1'.*prototxt does not describe it"):
        read_authors(parse_net(parse_text(cut)), blob)
    with pytest.raises(PrototxtError, match="never produced"):
        parse_net(parse_text(text.replace('bottom: "fire9/concat"\n  top: "conv_final"',
                                          'bottom: "fire10/concat"\n  top: "conv_final"')))


def test_forward_and_workloads(net, model):
    res = forward(net, model)
    assert all(np.all(np.isfinite(b)) for b in res.blobs.values())
    assert res.blobs["pool_final"].shape == (1, 1000, 1, 1)
    assert len(res.relu_density) == 26 and all(0 < d < 1 for d in res.relu_density.values())
    wls = layer_workloads(net, model, result=res)
    assert [w.name for w in wls] == [l.name for l in model.layers]
    by = {w.name: w for w in wls}
    assert by["conv1"].patches.shape == (111 * 111, 3 * 7 * 7)
    assert by["conv1"].layer.codes.shape == (96, 147)
    assert by["fire2/conv1x1_1"].patches.shape == (55 * 55, 96)      # 1x1: channel vectors
    assert by["fire9/conv3x3_2"].patches.shape == (13 * 13, 64 * 9)
    assert by["conv_final"].patches.shape == (15 * 15, 512)          # prototxt pads the 1x1 by 1
    for name in ("conv1", "fire5/conv3x3_2", "conv_final"):
        np.testing.assert_allclose(by[name].reference(), res.layer_outputs[name], rtol=1e-5, atol=1e-3)


def test_table(net, blob, model, tmp_path):
    path = fileformat.save(model, tmp_path / "sq.dcmp")
    info = fileformat.inspect(path)
    t = squeezenet_table(read_authors_records(net, blob), len(blob), info)
    assert len(t.rows) == 26
    assert t.total.weights == 1_244_448 and t.total.nonzeros == 415_921 and t.biases == 3_976
    assert t.total.entries == 422_083 and t.total.fillers == 6_162
    assert t.dense_bytes == 4 * (1_244_448 + 3_976)
    assert t.ours_bytes == path.stat().st_size
    assert 4 * 26 + t.total.authors_bytes == len(blob)
    assert t.total.bits_pq == 422_083 * 12 + 26 * 256 * 32
    for r, sec in zip(t.rows, info["layers"]):
        assert 0 < r.huffman_weight_bits <= 8 and 0 < r.huffman_index_bits <= 4
        assert r.rate_pqh < r.rate_pq
        # our file Huffman-codes the very same streams: its stream lengths match the table
        assert sec["n_entries"] == r.entries
        assert sec["code_stream_bits"] == round(r.huffman_weight_bits * r.entries)
        assert sec["gap_stream_bits"] == round(r.huffman_index_bits * r.entries)
    md, csv = table_markdown(t), table_csv(t)
    assert "| `fire9/conv3x3_2` |" in md and "675,763" in md and "| our file" in md
    assert len(csv.strip().splitlines()) == 1 + 26 + 1
    no_ours = table_markdown(squeezenet_table(read_authors_records(net, blob), len(blob)))
    assert "Our bytes" not in no_ours and "| our file" not in no_ours


def test_model_from_records_is_read_authors(net, blob, model):
    again = model_from_records(read_authors_records(net, blob))
    assert again.meta == model.meta and [l.name for l in again.layers] == [l.name for l in model.layers]
    for a, b in zip(again.layers, model.layers):
        assert np.array_equal(a.codes, b.codes) and a.codebook.tobytes() == b.codebook.tobytes()
        assert a.bias.tobytes() == b.bias.tobytes() and a.meta == b.meta


def main(argv):
    """``eie-compress squeezenet ARGV``."""
    return cli_main(["squeezenet", *argv])


def test_cli_writes_everything(tmp_path, capsys, blob, monkeypatch):
    parses = []
    real = authors_format.read_authors_records
    monkeypatch.setattr(squeezenet, "read_authors_records", lambda *a: parses.append(1) or real(*a))
    monkeypatch.setattr(authors_format, "read_authors_records", lambda *a: parses.append(1) or real(*a))
    out, npz, rep = tmp_path / "o" / "sq.dcmp", tmp_path / "dense.npz", tmp_path / "rep"
    rc = main(["--prototxt", str(PROTOTXT), "--net", str(NETFILE), "--out", str(out),
               "--npz", str(npz), "--report-dir", str(rep)])
    assert rc == 0
    assert len(parses) == 1  # the authors' file is parsed once
    assert "round trip exact" in capsys.readouterr().out
    back = fileformat.load(out)
    ref = reference_dense(load_net(PROTOTXT), blob)
    with np.load(npz) as z:
        for k in ref:
            assert np.array_equal(z[k], ref[k])
    for lay in back.layers:
        assert np.array_equal(lay.weights(), ref[lay.name])
    assert (rep / "squeezenet_table.md").is_file() and (rep / "squeezenet_table.csv").is_file()
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        ["o", "sq.dcmp", "dense.npz", "rep", "squeezenet_table.md", "squeezenet_table.csv"])


def test_cli_bad_input_leaves_nothing(tmp_path, capsys, blob):
    bad = tmp_path / "in" / "bad.net"
    bad.parent.mkdir()
    bad.write_bytes(blob[:-10])
    outdir = tmp_path / "outs"
    rc = main(["--prototxt", str(PROTOTXT), "--net", str(bad), "--out", str(outdir / "sq.dcmp"),
               "--npz", str(outdir / "d.npz"), "--report-dir", str(outdir / "rep")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("eie-compress squeezenet: error: ")
    assert "bad.net" in err and "conv_final" in err and "file ends inside" in err
    assert not outdir.exists()
    rc = main(["--prototxt", str(tmp_path / "none.prototxt"), "--net", str(NETFILE)])
    assert rc == 2 and "cannot read" in capsys.readouterr().err
    rc = main(["--prototxt", str(PROTOTXT), "--net", str(bad), "--npz", str(bad)])
    assert rc == 2 and bad.stat().st_size == len(blob) - 10
    assert "bad.net" in (err := capsys.readouterr().err) and "file ends inside" in err
    good = tmp_path / "in" / "good.net"
    good.write_bytes(blob)
    rc = main(["--prototxt", str(PROTOTXT), "--net", str(good), "--out", str(good)])
    assert rc == 2 and good.read_bytes() == blob
    assert f"output {good} would overwrite an input file" in capsys.readouterr().err
