"""The .dcmp file: exact round trip, atomic save, and clear errors for damaged files."""
import dataclasses
import json
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from compressor import fileformat as ff
from compressor.errors import FormatError, HuffmanError
from compressor.fileformat import MAGIC, VERSION, inspect, load, save
from compressor.model import QuantizedLayer, QuantizedModel


def _layer(rng, name, shape, bits, index_bits, density=0.2, bias=True, meta=None):
    kind = "fc" if len(shape) == 2 else "conv"
    codes = rng.integers(1, 2 ** bits, size=shape) * (rng.random(shape) < density)
    codebook = np.concatenate([[0.0], np.sort(rng.normal(size=2 ** bits - 1))]).astype(np.float32)
    b = rng.normal(size=shape[0]).astype(np.float32) if bias else None
    dtype = np.uint8 if bits <= 8 else np.uint16
    return QuantizedLayer(name, kind, codes.astype(dtype), codebook, b, bits, index_bits,
                          meta if meta is not None else {"threshold": 0.123, "density": density})


def small_model(seed=0):
    rng = np.random.default_rng(seed)
    return QuantizedModel(
        [_layer(rng, "ip1", (12, 20), 3, 2, meta={"threshold": 0.5, "note": "ünïcode"}),
         _layer(rng, "conv1", (4, 2, 3, 3), 4, 3, bias=False)],
        {"seed": seed, "accuracy": 0.9842, "name": "tiny"})


def assert_same(a: QuantizedModel, b: QuantizedModel):
    assert a.meta == b.meta
    assert [l.name for l in a.layers] == [l.name for l in b.layers]
    for x, y in zip(a.layers, b.layers):
        assert (x.kind, x.bits, x.index_bits, x.shape) == (y.kind, y.bits, y.index_bits, y.shape)
        np.testing.assert_array_equal(x.codes, y.codes)
        assert x.codebook.tobytes() == y.codebook.tobytes()
        assert (x.bias is None) == (y.bias is None)
        if x.bias is not None:
            assert x.bias.tobytes() == y.bias.tobytes()
        assert x.meta == y.meta
        assert x.weights().tobytes() == y.weights().tobytes()


def test_roundtrip_exact(tmp_path):
    m = small_model()
    p = save(m, tmp_path / "m.dcmp")
    assert p.read_bytes()[:8] == MAGIC
    assert_same(m, load(p))
    assert not [f for f in os.listdir(tmp_path) if f != "m.dcmp"]  # no temp file left


def test_roundtrip_wide_codes_empty_layers_and_orders(tmp_path):
    rng = np.random.default_rng(1)
    wide = _layer(rng, "wide", (30, 40), 10, 12, density=0.5)
    empty = _layer(rng, "empty", (5, 6), 2, 4, density=0.0)
    dense = _layer(rng, "dense", (7, 3), 1, 1, density=1.0)
    csr = _layer(rng, "csr", (9, 11), 5, 3, meta={"order": "csr"})
    m = QuantizedModel([wide, empty, dense, csr], {})
    save(m, tmp_path / "w.dcmp")
    back = load(tmp_path / "w.dcmp")
    assert_same(m, back)
    assert back.layers[0].codes.dtype == np.uint16
    assert [l["order"] for l in inspect(tmp_path / "w.dcmp")["layers"]] == ["csc", "csc", "csc", "csr"]


def test_numpy_metadata_is_stored_as_json(tmp_path):
    m = small_model()
    m.meta["acc"] = np.float32(0.5)
    m.meta["shape"] = np.array([1, 2])
    save(m, tmp_path / "m.dcmp")
    assert load(tmp_path / "m.dcmp").meta["shape"] == [1, 2]


def test_inspect_sizes_add_up(tmp_path):
    m = small_model()
    p = save(m, tmp_path / "m.dcmp")
    info = inspect(p)
    assert info["file_bytes"] == p.stat().st_size
    assert info["header_bytes"] + sum(l["section_bytes"] for l in info["layers"]) == info["file_bytes"]
    parts = ["framing", "descriptor", "codebook", "huffman_tables", "code_stream", "gap_stream", "bias", "meta"]
    for lay, src in zip(info["layers"], m.layers):
        assert sum(lay[f"{k}_bytes"] for k in parts) == lay["section_bytes"]
        assert lay["codebook_bytes"] == 4 * 2 ** src.bits
        assert lay["n_entries"] - lay["n_fillers"] == src.nnz
        assert lay["code_stream_bytes"] == 8 + (lay["code_stream_bits"] + 7) // 8
    assert info["layers"][1]["bias_bytes"] == 0


def test_save_is_atomic_on_error(tmp_path, monkeypatch):
    p = tmp_path / "m.dcmp"
    save(small_model(0), p)
    before = p.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(ff.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save(small_model(1), p)
    monkeypatch.undo()
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.dcmp"]
    bad = small_model(2)
    bad.layers[0].meta["obj"] = object()
    with pytest.raises(ValueError, match="metadata"):
        save(bad, tmp_path / "x.dcmp")
    assert os.listdir(tmp_path) == ["m.dcmp"]


# ---------------------------------------------------------------- damaged files
@pytest.fixture(scope="module")
def good_bytes():
    return ff.to_bytes(small_model())


def test_every_truncation_is_a_format_error(good_bytes):
    for cut in range(len(good_bytes)):
        with pytest.raises(FormatError, match=r"^t\.dcmp: .*truncated"):
            ff.from_bytes(good_bytes[:cut], "t.dcmp")


def test_every_flipped_byte_is_a_format_error(good_bytes):
    for i in range(len(good_bytes)):
        for mask in (0x01, 0x80):
            b = bytearray(good_bytes)
            b[i] ^= mask
            with pytest.raises(FormatError, match=r"^f\.dcmp: (header|layer \d+ section): "):
                ff.from_bytes(bytes(b), "f.dcmp")


@pytest.mark.parametrize("frac", [0.0, 0.05, 0.3, 0.5, 0.7, 0.99])
def test_truncated_file_message(tmp_path, good_bytes, frac):
    p = tmp_path / "cut.dcmp"
    p.write_bytes(good_bytes[:int(frac * len(good_bytes))])
    with pytest.raises(FormatError) as e:
        load(p)
    msg = str(e.value)
    assert str(p) in msg and "truncated" in msg
    assert ("header" in msg) or ("layer" in msg)


@pytest.mark.parametrize("where", ["layer0", "layer1", "header_meta"])
def test_corrupted_byte_names_section(tmp_path, good_bytes, where):
    info = ff.inspect_bytes(good_bytes)
    h = info["header_bytes"]
    s0 = info["layers"][0]["section_bytes"]
    pos = {"layer0": h + s0 // 2, "layer1": h + s0 + 30, "header_meta": 22}[where]
    b = bytearray(good_bytes)
    b[pos] ^= 0x55
    p = tmp_path / "bad.dcmp"
    p.write_bytes(bytes(b))
    with pytest.raises(FormatError) as e:
        load(p)
    msg = str(e.value)
    assert str(p) in msg and "checksum" in msg
    expect = {"layer0": "layer 0", "layer1": "layer 1", "header_meta": "header"}[where]
    assert expect in msg


def test_wrong_magic_and_version(tmp_path, good_bytes):
    p = tmp_path / "x.dcmp"
    p.write_bytes(b"PK\x03\x04" + good_bytes[4:])
    with pytest.raises(FormatError, match="not a .dcmp file"):
        load(p)
    # version 3 with a correct header checksum: reported as a version problem
    meta_len = struct.unpack_from("<I", good_bytes, 16)[0]
    head = bytearray(good_bytes[:28 + meta_len])
    struct.pack_into("<H", head, 8, VERSION + 1)
    data = bytes(head) + struct.pack("<I", zlib.crc32(bytes(head))) + good_bytes[32 + meta_len:]
    p.write_bytes(data)
    with pytest.raises(FormatError, match=r"unsupported format version 3") as e:
        load(p)
    assert str(p) in str(e.value)
    assert issubclass(FormatError, ValueError)


def test_trailing_garbage_and_directory(tmp_path, good_bytes):
    p = tmp_path / "x.dcmp"
    p.write_bytes(good_bytes + b"\0")
    with pytest.raises(FormatError, match="after the last layer"):
        load(p)
    with pytest.raises(FormatError, match="is a directory, not a .dcmp file"):
        load(tmp_path)


def test_consistent_checksum_but_bad_stream_is_caught(good_bytes):
    """Damage behind a recomputed CRC still fails cleanly (Huffman/sparse checks)."""
    info = ff.inspect_bytes(good_bytes)
    start = info["header_bytes"]
    body_len = struct.unpack_from("<I", good_bytes, start)[0]
    body = bytearray(good_bytes[start + 4:start + 4 + body_len])
    # the entry counts follow name(2+3) + descriptor(8) + shape(2x4); double n_entries
    off = 2 + 3 + 8 + 8
    n_entries = struct.unpack_from("<Q", body, off)[0]
    struct.pack_into("<Q", body, off, n_entries + 1)
    bodies = [bytes(body)] + [_body(good_bytes, 1)]
    data = ff.assemble(_meta(good_bytes), bodies)
    with pytest.raises(FormatError, match=r"layer 0 \('ip1'\)"):
        ff.from_bytes(data, "c.dcmp")


@st.composite
def models(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(draw(st.integers(1, 3))):
        conv = draw(st.booleans())
        shape = tuple(draw(st.lists(st.integers(1, 6), min_size=4, max_size=4))) if conv else \
            (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
        layers.append(_layer(rng, f"l{i}", shape, draw(st.integers(1, 8)), draw(st.integers(1, 8)),
                             density=draw(st.floats(0, 1)), bias=draw(st.booleans())))
    return QuantizedModel(layers, {"seed": seed})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models())
def test_roundtrip_property(m):
    data = ff.to_bytes(m)
    assert_same(m, ff.from_bytes(data))
    assert json.loads(data[28:28 + struct.unpack_from("<I", data, 16)[0]]) == m.meta


# ---------------------------------------------------------------- reader strictness
def _with_section(model, i, body_edit=None, enc_edit=None):
    """File bytes of ``model`` with section ``i`` re-framed (valid CRC) after editing its
    EncodedLayer (``enc_edit``) and/or its body bytes (``body_edit``)."""
    secs = []
    for j, lay in enumerate(model.layers):
        enc = ff.encode_layer(lay)
        if j == i and enc_edit is not None:
            enc = enc_edit(enc)
        body = bytearray(ff._section_body(enc))
        if j == i and body_edit is not None:
            body_edit(body)
        secs.append(bytes(body))
    return ff.assemble(ff._json_bytes(model.meta, "model"), secs)


def _meta(data: bytes) -> bytes:
    """The model metadata JSON of a version-2 file."""
    n = struct.unpack_from("<I", data, 16)[0]
    return data[28:28 + n]


def _body(data: bytes, i: int) -> bytes:
    """Section ``i``'s body of a version-2 file."""
    pos = 32 + struct.unpack_from("<I", data, 16)[0]
    for _ in range(i):
        pos += 8 + struct.unpack_from("<I", data, pos)[0]
    n = struct.unpack_from("<I", data, pos)[0]
    return data[pos + 4:pos + 4 + n]


def _recode(enc, codes, gaps, n_fillers):
    from compressor import huffman, sparse

    lay = enc.layer
    st = sparse.SparseStream(codes, gaps, codes.size, n_fillers, lay.shape, enc.order, lay.index_bits)
    cl = huffman.code_lengths(np.bincount(codes, minlength=2 ** lay.bits), ff.HUFFMAN_MAX_LENGTH)
    gl = huffman.code_lengths(np.bincount(gaps, minlength=2 ** lay.index_bits), ff.HUFFMAN_MAX_LENGTH)
    cb, ncb = huffman.encode(codes, cl)
    gb, ngb = huffman.encode(gaps, gl)
    return ff.EncodedLayer(lay, enc.order, st, cl, gl, cb, ncb, gb, ngb)


def test_code_zero_entry_that_is_not_a_filler_is_rejected():
    m = small_model()

    def zero_a_real_entry(enc):
        codes, gaps = enc.stream.codes.copy(), enc.stream.gaps.copy()
        i = int(np.flatnonzero(codes != 0)[0])
        codes[i], gaps[i] = 0, 0  # a code-0 entry that is not filler-shaped
        return _recode(enc, codes, gaps, enc.stream.n_fillers + 1)  # the count agrees

    with pytest.raises(FormatError, match=r"layer 0 \('ip1'\).*code 0 but gap 0.*must be a filler"):
        ff.from_bytes(_with_section(m, 0, enc_edit=zero_a_real_entry), "z.dcmp")


def test_nonzero_padding_bits_are_rejected():
    from compressor import huffman

    m = small_model()
    enc = ff.encode_layer(m.layers[0])
    assert enc.n_code_bits % 8 != 0  # the fixture leaves padding in the last byte

    def dirty(enc):
        bits = enc.code_bits.copy()
        bits[-1] |= 1  # last bit of the last byte: padding
        return dataclasses.replace(enc, code_bits=bits)

    with pytest.raises(FormatError, match=r"layer 0 \('ip1'\).*weight-code stream.*padding bits"):
        ff.from_bytes(_with_section(m, 0, enc_edit=dirty), "p.dcmp")
    # the decoder itself: any 1 bit after n_bits, in the last byte or beyond, is refused
    packed, n = huffman.encode(np.array([0, 1, 1]), np.array([1, 1]))
    assert n == 3
    huffman.decode(packed, n, [1, 1], 3)
    for extra in (np.array([packed[0] | 0x01], np.uint8), np.concatenate([packed, [0x80]]).astype(np.uint8)):
        with pytest.raises(HuffmanError, match="padding"):
            huffman.decode(extra, n, [1, 1], 3)


@pytest.mark.parametrize("what", ["codebook", "bias"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_codebook_or_bias_is_rejected(what, value):
    rng = np.random.default_rng(0)
    lay = _layer(rng, "ip1", (6, 5), 3, 2)
    cb, b = lay.codebook.copy(), lay.bias.copy()
    (cb if what == "codebook" else b)[2] = value
    with pytest.raises(ValueError, match=f"{what} entry 2 is .*must be finite"):
        QuantizedLayer("ip1", "fc", lay.codes, cb, b, 3, 2)
    # in a file (written past the constructor's check): a FormatError naming the layer
    setattr(lay, what, cb if what == "codebook" else b)
    with pytest.raises(FormatError, match=rf"layer 0 \('ip1'\).*{what} entry 2.*finite"):
        ff.from_bytes(ff.to_bytes(QuantizedModel([lay])), "n.dcmp")


def test_oversized_shape_is_refused_before_allocating():
    m = small_model()
    # conv1 (layer 1): name 'conv1' -> shape at body offset 2 + 5 + 8; four u32 dims of
    # 2**32 - 1 overflow int64 in np.prod but not in math.prod
    def huge(body):
        struct.pack_into("<4I", body, 15, *([0xFFFFFFFF] * 4))

    data = _with_section(m, 1, body_edit=huge)
    with pytest.raises(FormatError, match=r"layer 1 \('conv1'\).*more than the reader's limit") as e:
        ff.from_bytes(data, "h.dcmp")
    assert str((2 ** 32 - 1) ** 4) in str(e.value)
    # just above the limit (2**28 + 1 elements) is refused too, by inspect as well (the
    # shape is checked while the section is parsed, before anything is allocated)
    data = _with_section(m, 1, body_edit=lambda b: struct.pack_into("<4I", b, 15, 2 ** 28 + 1, 1, 1, 1))
    for read in (ff.from_bytes, ff.inspect_bytes):
        with pytest.raises(FormatError, match=r"268435457 elements, more than the reader's limit"):
            read(data, "h.dcmp")


def test_damaged_version_is_a_checksum_error(good_bytes):
    b = bytearray(good_bytes)
    struct.pack_into("<H", b, 8, VERSION + 1)  # CRC not updated: damage, not another version
    with pytest.raises(FormatError, match="header: checksum") as e:
        ff.from_bytes(bytes(b), "v.dcmp")
    assert "version" not in str(e.value)
