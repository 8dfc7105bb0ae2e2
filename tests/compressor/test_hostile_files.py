"""Issue 17, the compressor's readers: every fuzz finding as a regression test.

.dcmp version 2 (sections bound to their position and file), version 1 still read (and
refused where a reordering can be told), metadata nesting and non-finite JSON, declared
sizes refused before allocating, non-regular files, and the npz weight reader.
"""
import io
import os
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest

from compressor import fileformat as ff
from compressor.caffe.authors_format import read_authors
from compressor.caffe.prototxt import parse_net
from compressor.caffe.textformat import parse_text
from compressor.errors import (
    AuthorsFormatError,
    FormatError,
    PrototxtError,
    WeightsError,
)
from compressor.fileio import load_json
from compressor.model import QuantizedLayer, QuantizedModel
from compressor.npzio import load_npz_weights, read_npz
from tests.fuzz.corpus import body_fields, dcmp_models, split_dcmp


def _lenet_like(seed=0):
    """Three chained fc layers like LeNet-300-100 (ip1, ip2, ip3), small."""
    rng = np.random.default_rng(seed)
    layers = []
    for name, shape in (("ip1", (30, 78)), ("ip2", (10, 30)), ("ip3", (5, 10))):
        codes = (rng.integers(1, 16, size=shape) * (rng.random(shape) < 0.3)).astype(np.uint8)
        cb = np.concatenate([[0.0], np.sort(rng.normal(size=15))]).astype(np.float32)
        layers.append(QuantizedLayer(name, "fc", codes, cb, rng.normal(size=shape[0]), 4, 5,
                                     {"density": 0.3}))
    return QuantizedModel(layers, {"model": "lenet-like", "seed": seed})


def _sections(data: bytes) -> tuple[bytes, list[bytes]]:
    """(header, framed sections) of a well-formed file."""
    version, meta, bodies = split_dcmp(data)
    pos = 20 + (8 if version >= 2 else 0) + len(meta) + 4
    head, out = data[:pos], []
    for b in bodies:
        out.append(data[pos:pos + 8 + len(b)])
        pos += 8 + len(b)
    return head, out


# ------------------------------------------------------------ finding 1: section binding
@pytest.mark.parametrize("order, why", [
    ((2, 1, 0), "this is section 2 of this file found at position 0: sections reordered"),
    ((0, 0, 2), "this is section 0 of this file found at position 1"),
    ((1, 0, 2), "this is section 1 of this file found at position 0"),
])
def test_v2_reordered_or_duplicated_sections_are_refused(order, why):
    head, secs = _sections(ff.to_bytes(_lenet_like()))
    with pytest.raises(FormatError, match=why):
        ff.from_bytes(head + b"".join(secs[i] for i in order), "m.dcmp")


def test_v2_section_from_another_file_is_refused():
    head, secs = _sections(ff.to_bytes(_lenet_like(0)))
    _, other = _sections(ff.to_bytes(_lenet_like(1)))      # same names and shapes
    with pytest.raises(FormatError, match=r"layer 1 section: checksum .*comes from another file"):
        ff.from_bytes(head + secs[0] + other[1] + secs[2], "m.dcmp")
    v1_head, v1 = _sections(ff.to_bytes(_lenet_like(0), version=1))
    with pytest.raises(FormatError, match="carries a version-1 checksum"):
        ff.from_bytes(head + secs[0] + v1[1] + secs[2], "m.dcmp")
    # a header from another file with the same layer count: every section is refused
    other_head, _ = _sections(ff.to_bytes(_lenet_like(1)))
    with pytest.raises(FormatError, match="layer 0 section: checksum"):
        ff.from_bytes(other_head + b"".join(secs), "m.dcmp")


def test_v2_whole_file_digest_is_checked_after_the_sections():
    """A section CRC forged for the right index and identity still fails the digest."""
    m = _lenet_like()
    data = bytearray(ff.to_bytes(m))
    version, meta, bodies = split_dcmp(bytes(data))
    fid = bytes(data[20:28])
    start = 28 + len(meta) + 4
    body = bytearray(bodies[0])
    off = body_fields(bytes(body))["bias0"][0]
    struct.pack_into("<f", body, off, 1.5)
    framed = struct.pack("<I", len(body)) + bytes(body)
    sec = framed + struct.pack("<I", zlib.crc32(framed, zlib.crc32(fid + struct.pack("<I", 0))))
    forged = bytes(data[:start]) + sec + bytes(data[start + 8 + len(bodies[0]):])
    with pytest.raises(FormatError, match=r"end of file: file digest \(SHA-256\) mismatch"):
        ff.from_bytes(forged, "m.dcmp")


def test_v1_files_stay_readable_and_reorders_are_refused_where_they_can_be_told(tmp_path):
    m = _lenet_like()
    v1 = ff.to_bytes(m, version=1)
    assert struct.unpack_from("<H", v1, 8)[0] == 1
    p = tmp_path / "old.dcmp"
    p.write_bytes(v1)
    back = ff.load(p)
    assert [l.name for l in back.layers] == ["ip1", "ip2", "ip3"]
    assert ff.inspect(p)["version"] == 1
    head, secs = _sections(v1)
    # exchange sections 0 and 2 of a LeNet-like file (the finding): shapes no longer chain
    with pytest.raises(FormatError, match="out of order: the fully-connected layers chain only as ip1, ip2, ip3"):
        ff.from_bytes(head + secs[2] + secs[1] + secs[0], "old.dcmp")
    with pytest.raises(FormatError, match=r"layer 2 \('ip1'\) section: layer name already used by section 0"):
        ff.from_bytes(head + secs[0] + secs[1] + secs[0], "old.dcmp")
    with pytest.raises(FormatError, match="truncated"):                    # a section dropped
        ff.from_bytes(head + secs[0] + secs[1], "old.dcmp")
    with pytest.raises(FormatError, match="after the last layer.*declares 3 layers"):
        ff.from_bytes(head + b"".join(secs) + secs[2], "old.dcmp")


def test_writer_writes_v2_deterministically_with_8_bytes_over_v1(tmp_path):
    """The file identity is derived from the content: identical inputs, identical bytes."""
    for m in list(dcmp_models().values()) + [_lenet_like()]:
        a, b = ff.to_bytes(m), ff.to_bytes(m)
        assert a == b and struct.unpack_from("<H", a, 8)[0] == ff.VERSION == 2
        assert len(a) - len(ff.to_bytes(m, version=1)) == 8
        assert ff.file_id(*[len(m.layers)] + list(split_dcmp(a)[1:])) == a[20:28]
    p1, p2 = ff.save(_lenet_like(), tmp_path / "a.dcmp"), ff.save(_lenet_like(), tmp_path / "b.dcmp")
    assert p1.read_bytes() == p2.read_bytes()
    assert ff.to_bytes(_lenet_like(0))[20:28] != ff.to_bytes(_lenet_like(1))[20:28]


def test_writer_refuses_repeated_layer_names():
    m = _lenet_like()
    m.layers[2].name = "ip1"
    with pytest.raises(ValueError, match="'ip1' is used twice"):
        ff.to_bytes(m)


# ------------------------------------------------------------ finding 2: deep metadata
@pytest.mark.parametrize("meta", [b"[" * 2000 + b"]" * 2000, b'{"a":' * 900 + b"1" + b"}" * 900,
                                  b'{"a": ' + b"[" * 33 + b"]" * 33 + b"}"])
def test_deeply_nested_metadata_is_a_format_error(meta):
    bodies = split_dcmp(ff.to_bytes(_lenet_like()))[2]
    with pytest.raises(FormatError, match="header: model metadata: nested deeper than 32 levels"):
        ff.from_bytes(ff.assemble(meta, bodies), "deep.dcmp")
    body = bytearray(bodies[1])
    off = body_fields(bytes(body))["meta_len"][0]
    body[off:] = struct.pack("<I", len(meta)) + meta
    with pytest.raises(FormatError, match=r"layer 1 \('ip2'\) section: layer metadata: nested deeper"):
        ff.from_bytes(ff.assemble(b"{}", [bodies[0], bytes(body), bodies[2]]), "deep.dcmp")


def test_deep_metadata_through_the_tools_is_one_line_exit_2(tmp_path):
    bodies = split_dcmp(ff.to_bytes(_lenet_like()))[2]
    p = tmp_path / "deep.dcmp"
    p.write_bytes(ff.assemble(b"[" * 2000 + b"]" * 2000, bodies))
    bindir = os.path.dirname(sys.executable)
    for cmd in (["eie-compress", "inspect", str(p)],
                ["eie-compress", "decode", str(p), "--out", str(tmp_path / "d.npz")],
                ["eie-simulate", "--model", str(p), "--quiet"]):
        out = subprocess.run([os.path.join(bindir, cmd[0])] + cmd[1:], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 2, out.stderr
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
        assert "nested deeper than 32 levels" in out.stderr
    assert not (tmp_path / "d.npz").exists()


@pytest.mark.parametrize("text, why", [
    (b'{"a": NaN}', "non-finite number NaN"), (b'{"a": -Infinity}', "non-finite number -Infinity"),
    (b'{"a": 1e999}', "overflows a float"), (b'{"a": ' + b"9" * 5000 + b"}", "not valid JSON"),
    (b"\xff{}", "not UTF-8"), (b"[" * 5000, "nested deeper than 32"),
])
def test_json_reader_refuses_non_finite_and_hostile_text(text, why):
    with pytest.raises(ValueError, match=why):
        load_json(text)


def test_writer_refuses_metadata_the_reader_would_refuse():
    m = _lenet_like()
    m.meta["loss"] = float("nan")
    with pytest.raises(ValueError, match="model metadata cannot be stored"):
        ff.to_bytes(m)
    nested = 1
    for _ in range(33):
        nested = [nested]
    m.meta = {"a": nested}
    with pytest.raises(ValueError, match="nested deeper than 32 levels"):
        ff.to_bytes(m)


# ------------------------------------------------------------ finding 3: declared sizes
def test_huge_declared_layer_is_refused_before_allocating():
    """ip1 declared 300 x 7,158,278 (2 GiB of codes) in a file of a few KB."""
    bodies = split_dcmp(ff.to_bytes(_lenet_like()))[2]
    body = bytearray(bodies[0])
    f = body_fields(bytes(body))
    struct.pack_into("<I", body, f["shape0"][0], 300)
    struct.pack_into("<I", body, f["shape1"][0], 7158278)
    data = ff.assemble(b"{}", [bytes(body)] + bodies[1:])
    for read in (ff.from_bytes, ff.inspect_bytes):
        with pytest.raises(FormatError, match=r"layer 0 \('ip1'\) section: shape \(300, 7158278\) "
                                              r"has 2147483400 elements, more than the reader's limit of 268435456"):
            read(data, "huge.dcmp")


def test_declared_counts_are_checked_against_the_file():
    bodies = split_dcmp(ff.to_bytes(_lenet_like()))[2]
    body = bytearray(bodies[2])
    f = body_fields(bytes(body))
    struct.pack_into("<Q", body, f["n_entries"][0], 2 ** 40)
    with pytest.raises(FormatError, match="entries .* cannot fit a tensor of 50 elements"):
        ff.from_bytes(ff.assemble(b"{}", bodies[:2] + [bytes(body)]), "c.dcmp")
    data = bytearray(ff.to_bytes(_lenet_like()))
    struct.pack_into("<I", data, 12, 10 ** 6)                              # n_layers
    struct.pack_into("<I", data, 28 + struct.unpack_from("<I", data, 16)[0],
                     zlib.crc32(bytes(data[:28 + struct.unpack_from("<I", data, 16)[0]])))
    with pytest.raises(FormatError, match="truncated: 1000000 layers declared"):
        ff.from_bytes(bytes(data), "n.dcmp")


def test_a_device_or_a_fifo_is_not_read(tmp_path):
    with pytest.raises(FormatError, match="/dev/zero: not a regular file"):
        ff.load("/dev/zero")
    fifo = tmp_path / "f.dcmp"
    os.mkfifo(fifo)
    with pytest.raises(FormatError, match="not a regular file"):              # never blocks
        ff.load(fifo)
    with pytest.raises(WeightsError, match="not a regular file"):
        load_npz_weights("/dev/zero")


# ------------------------------------------------------------ finding 4: npz weights
def _zip(members: dict[str, bytes], method=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        for k, v in members.items():
            z.writestr(k, v)
    return buf.getvalue()


def _npy(a) -> bytes:
    b = io.BytesIO()
    np.save(b, a, allow_pickle=True)
    return b.getvalue()


def test_npz_weights_member_that_is_not_npy(tmp_path):
    p = tmp_path / "w.npz"
    p.write_bytes(_zip({"ip1": b"raw bytes", "ip2.npy": _npy(np.ones((2, 2)))}))
    with pytest.raises(WeightsError, match=r"w\.npz: member 'ip1' is not a \.npy array"):
        load_npz_weights(p)


def test_npz_weights_big_endian_are_converted(tmp_path):
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.savez(tmp_path / "be.npz", ip1=w.astype(">f4"), **{"ip1.bias": np.ones(3, ">f8")})
    got = load_npz_weights(tmp_path / "be.npz")
    assert got["ip1"].dtype == np.float32 and np.array_equal(got["ip1"], w)
    assert read_npz(tmp_path / "be.npz")["ip1"].dtype.isnative


def test_npz_bomb_is_refused_from_its_header(tmp_path):
    """A small archive declaring 10**9 weights: refused before decompressing the data."""
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": "<f4", "fortran_order": False,
                                               "shape": (1000, 1000000)})
    p = tmp_path / "bomb.npz"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("ip1.npy", "w", force_zip64=True) as f:
            f.write(hdr.getvalue())
            for _ in range(40):
                f.write(bytes(1 << 20))          # 40 MiB of zeros stand for the 4 GB declared
    assert p.stat().st_size < 100_000
    with pytest.raises(WeightsError, match=r"member 'ip1.npy': shape \(1000, 1000000\) has 1000000000 "
                                           r"elements, more than the limit"):
        load_npz_weights(p)


@pytest.mark.parametrize("members, why", [
    ({"ip1.npy": _npy(np.array([{"a": 1}], dtype=object))}, "dtype object is not a plain number"),
    ({"ip1.npy": _npy(np.ones(3)), "x.npy": b"\x93NUMPY\x01\x00\xff\xff" + b"{" * 20},
     "header of 65535 bytes"),
    ({"ip1.npy": _npy(np.ones((2, 3)))[:-8]}, "header declares 48 bytes of data"),
])
def test_npz_hostile_members(tmp_path, members, why):
    p = tmp_path / "h.npz"
    p.write_bytes(_zip(members))
    with pytest.raises(WeightsError, match=why):
        load_npz_weights(p)


def test_npz_damaged_directory_and_other_compression_are_refused(tmp_path):
    good = _zip({"ip1.npy": _npy(np.ones((2, 3))), "ip1.bias.npy": _npy(np.ones(2))})
    p = tmp_path / "d.npz"
    p.write_bytes(b"PK\x03\x04" + bytes(60) + good)                  # junk glued in front
    with pytest.raises(WeightsError, match="bytes that belong to no member|not a readable"):
        load_npz_weights(p)
    p.write_bytes(_zip({"ip1.npy": _npy(np.ones((2, 3)))}, zipfile.ZIP_BZIP2))
    with pytest.raises(WeightsError, match="compression method 12"):
        load_npz_weights(p)


def test_npz_weights_nan_is_refused(tmp_path):
    np.savez(tmp_path / "n.npz", ip1=np.array([[1.0, np.nan]]))
    with pytest.raises(WeightsError, match="contains NaN or infinity"):
        load_npz_weights(tmp_path / "n.npz")


# ------------------------------------------------------------ the authors' .net
def test_authors_reader_limits():
    net = parse_net(parse_text('input: "d" input_dim: 1 input_dim: 1 input_dim: 1 input_dim: 70000\n'
                               'layer { name: "ip1" type: "InnerProduct" bottom: "d" top: "ip1"\n'
                               '  inner_product_param { num_output: 70000 } }\n'
                               'layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"\n'
                               '  inner_product_param { num_output: 70000 } }\n'))
    with pytest.raises(AuthorsFormatError, match="more than the limit of 268435456"):
        read_authors(net, bytes(8))
    with pytest.raises(AuthorsFormatError, match="not a regular file"):
        read_authors(net, "/dev/zero")
    with pytest.raises(PrototxtError, match="line 1: number 9999"):
        parse_text("a: " + "9" * 5000)
