"""Seed inputs and mutations of the fuzz harness, deterministic in ``(seed, format, index)``.

A :class:`Case` is one mutated input: its bytes, the target it is fed to, the mutation
applied (``name:detail``) and two flags the outcome table needs:

* ``forged``: the mutation recomputed the format's checksums (a ``.dcmp`` re-assembled
  with fresh CRCs and file identity, a zip rebuilt by ``zipfile``), so an accepted
  different result is the reader doing its job, not a checksum failing;
* ``unbound``: version-1 ``.dcmp`` sections moved (swapped, repeated, reordered, taken
  from another file): version 1 binds no section to its position or file, so where the
  content cannot tell (no repeated name, fully-connected layers that still chain) the
  file is accepted; version 2 refuses every such move.

Formats: ``dcmp`` (version 2), ``dcmp-v1``, ``net`` (the authors' format), ``npz`` (layer
archives for ``eie-simulate --npz``, weight archives for ``eie-compress npz``, a weight
archive with its graph under ``__graph__`` for the importers' npz reader, ``.npy``
inputs), ``yaml`` (configurations and energy tables), ``prototxt`` (Caffe network
descriptions, :mod:`tests.fuzz.prototxt_cases`), ``sweep-db`` (a sweep folder's
database fed to ``eie-plot`` and to a resume, :mod:`tests.fuzz.sweepdb_cases`) and, when
the optional onnx and safetensors packages are installed, the model importers' ``onnx``,
``safetensors`` and ``graph-json`` (:mod:`tests.fuzz.importer_cases`).

``expect``: for an edit the format legitimately allows (whole points removed from a
sweep database: what a sweep that recorded fewer points holds), the edited input before
any further mutation; a result equal to that input's is "accepted, expected".
"""
from __future__ import annotations

import io
import json
import pathlib
import random
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from compressor import fileformat as ff
from compressor.caffe.authors_format import param_layers, read_authors_records, write_authors
from compressor.caffe.prototxt import load_net, parse_net
from compressor.caffe.textformat import parse_text
from compressor.model import QuantizedLayer, QuantizedModel
from tests.fuzz import importer_cases, prototxt_cases, sweepdb_cases

ROOT = pathlib.Path(__file__).resolve().parents[2]
SQUEEZENET_DIR = ROOT.parent / "shared" / "data" / "squeezenet"
#: the model importers' formats (tests/fuzz/importer_cases.py), fuzzed when onnx and
#: safetensors are installed
IMPORT_FORMATS = importer_cases.IMPORT_FORMATS
BASE_FORMATS = ("dcmp", "dcmp-v1", "net", "npz", "yaml")
#: the Caffe prototxt and the sweep database (issue 23), each with its own test
PROTOTXT_FORMATS = prototxt_cases.PROTOTXT_FORMATS
SWEEP_FORMATS = sweepdb_cases.SWEEP_FORMATS
FORMATS = BASE_FORMATS + PROTOTXT_FORMATS + SWEEP_FORMATS + \
    (IMPORT_FORMATS if importer_cases.available() else ())


@dataclass
class Seed:
    name: str
    data: bytes
    ext: str
    target: str
    info: dict = field(default_factory=dict)


@dataclass
class Case:
    fmt: str
    index: int
    seed: Seed
    data: bytes
    mutation: str
    forged: bool = False
    unbound: bool = False
    expect: bytes | None = None

    @property
    def target(self) -> str:
        return self.seed.target


# ------------------------------------------------------------------------- seeds
def _qlayer(rng, name, shape, bits, index_bits, density, bias=True, meta=None):
    kind = "fc" if len(shape) == 2 else "conv"
    codes = rng.integers(1, 2 ** bits, size=shape) * (rng.random(shape) < density)
    cb = np.concatenate([[0.0], np.sort(rng.normal(size=2 ** bits - 1))]).astype(np.float32)
    b = rng.normal(size=shape[0]).astype(np.float32) if bias else None
    return QuantizedLayer(name, kind, codes.astype(np.uint8 if bits <= 8 else np.uint16), cb, b,
                          bits, index_bits, dict(meta or {"density": density}))


def dcmp_models() -> dict[str, QuantizedModel]:
    """Small models covering both kinds, orders, widths, empty and full layers; "chain"
    and "chain-sib" have the same names and shapes (for transplants)."""
    out = {}
    rng = np.random.default_rng(1)
    out["tiny"] = QuantizedModel(
        [_qlayer(rng, "ip1", (12, 20), 3, 2, 0.2, meta={"threshold": 0.5, "note": "ünïcode"}),
         _qlayer(rng, "conv1", (4, 2, 3, 3), 4, 3, 0.3, bias=False)],
        {"seed": 1, "accuracy": 0.9842, "name": "tiny"})
    for name, seed in (("chain", 2), ("chain-sib", 3)):
        rng = np.random.default_rng(seed)
        out[name] = QuantizedModel(
            [_qlayer(rng, "ip1", (30, 78), 4, 4, 0.15), _qlayer(rng, "ip2", (10, 30), 4, 5, 0.3),
             _qlayer(rng, "ip3", (5, 10), 4, 4, 0.5)], {"model": "chain", "seed": seed})
    rng = np.random.default_rng(4)
    out["wide"] = QuantizedModel(
        [_qlayer(rng, "wide", (9, 11), 10, 12, 0.5, meta={"order": "csr"}),
         _qlayer(rng, "empty", (5, 6), 2, 4, 0.0), _qlayer(rng, "dense", (7, 3), 1, 1, 1.0)],
        {"schedule": {"epochs": [1, 2, {"x": None}]}})
    return out


def split_dcmp(data: bytes) -> tuple[int, bytes, list[bytes]]:
    """(version, model metadata JSON, section bodies) of a well-formed ``.dcmp``."""
    version = struct.unpack_from("<H", data, 8)[0]
    meta_len = struct.unpack_from("<I", data, 16)[0]
    start = 20 + (ff.FILE_ID_BYTES if version >= 2 else 0)
    meta = data[start:start + meta_len]
    pos = start + meta_len + 4
    bodies = []
    while pos < len(data):
        n = struct.unpack_from("<I", data, pos)[0]
        bodies.append(data[pos + 4:pos + 4 + n])
        pos += 8 + n
    return version, meta, bodies


def body_fields(body: bytes) -> dict[str, tuple[int, str]]:
    """Offset and struct format of every field of a well-formed section body."""
    f: dict[str, tuple[int, str]] = {"name_len": (0, "<H")}
    n = struct.unpack_from("<H", body, 0)[0]
    p = 2 + n
    for i, key in enumerate(("kind", "order", "bits", "index_bits", "ndim", "has_bias")):
        f[key] = (p + i, "<B")
    f["reserved"] = (p + 6, "<H")
    bits, ib, ndim, has_bias = body[p + 2], body[p + 3], body[p + 4], body[p + 5]
    p += 8
    for d in range(ndim):
        f[f"shape{d}"] = (p + 4 * d, "<I")
    out = struct.unpack_from("<I", body, p)[0]
    p += 4 * ndim
    f["n_entries"], f["n_fillers"] = (p, "<Q"), (p + 8, "<Q")
    p += 16
    f["codebook0"], f["codebook1"] = (p, "<f"), (p + 4, "<f")
    p += 4 * 2 ** bits
    f["code_len0"], f["code_len1"] = (p, "<B"), (p + 1, "<B")
    p += 2 ** bits
    f["gap_len0"] = (p, "<B")
    p += 2 ** ib
    f["code_bits"] = (p, "<Q")
    ncb = struct.unpack_from("<Q", body, p)[0]
    f["code_stream"] = (p + 8, "<B")
    p += 8 + (ncb + 7) // 8
    f["gap_bits"] = (p, "<Q")
    ngb = struct.unpack_from("<Q", body, p)[0]
    f["gap_stream"] = (p + 8, "<B")
    p += 8 + (ngb + 7) // 8
    if has_bias:
        f["bias0"] = (p, "<f")
        p += 4 * out
    f["meta_len"] = (p, "<I")
    return f


NET_TEXT = """
input: "data" input_dim: 1 input_dim: 2 input_dim: 6 input_dim: 6
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 5 kernel_size: 3 } }
layer { name: "relu_conv1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "ip1" type: "InnerProduct" bottom: "conv1" top: "ip1"
        inner_product_param { num_output: 7 } }
layer { name: "fc2" type: "InnerProduct" bottom: "ip1" top: "fc2"
        inner_product_param { num_output: 3 } }
"""


def _net_model(net, seed, density):
    rng = np.random.default_rng(seed)
    layers = []
    for lay in param_layers(net):
        bits = 8 if "conv" in lay.name else 4
        shape = lay.weight_shape
        codes = rng.integers(1, 2 ** bits, size=shape) * (rng.random(shape) < density)
        cb = np.concatenate([[0.0], rng.normal(size=2 ** bits - 1)]).astype(np.float32)
        layers.append(QuantizedLayer(lay.name, "conv" if len(shape) == 4 else "fc", codes, cb,
                                     rng.normal(size=shape[0]), bits, 4))
    return QuantizedModel(layers)


def squeezenet_available() -> bool:
    return (SQUEEZENET_DIR / "compressed_SqueezeNet.net").is_file() and \
        (SQUEEZENET_DIR / "SqueezeNet_deploy.prototxt").is_file()


def _npz(arrays: dict, compressed=False, names=None, method=None) -> bytes:
    """An archive of ``.npy`` members (``names`` overrides member names)."""
    buf = io.BytesIO()
    comp = method if method is not None else (zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED)
    with zipfile.ZipFile(buf, "w", compression=comp) as z:
        for i, (k, a) in enumerate(arrays.items()):
            m = io.BytesIO()
            if isinstance(a, np.ndarray):
                np.save(m, a, allow_pickle=True)
            else:
                m.write(a)
            z.writestr(names[i] if names else f"{k}.npy", m.getvalue())
    return buf.getvalue()


#: the graph of the "weights-graph" seed (what eie-compress decode writes under __graph__)
_MLP_GRAPH = json.dumps({
    "version": 1, "name": "mlp", "input": {"name": "data", "shape": [1, 6]},
    "layers": [{"name": "fc1", "type": "InnerProduct", "bottoms": ["data"], "tops": ["fc1"],
                "num_output": 4},
               {"name": "relu1", "type": "ReLU", "bottoms": ["fc1"], "tops": ["fc1"]},
               {"name": "fc2", "type": "InnerProduct", "bottoms": ["fc1"], "tops": ["fc2"],
                "num_output": 3, "bias_term": False}]})


def _npz_seeds() -> list[Seed]:
    rng = np.random.default_rng(5)
    codes = (rng.integers(1, 16, size=(8, 6)) * (rng.random((8, 6)) < 0.5)).astype(np.uint8)
    cb = np.concatenate([[0.0], np.sort(rng.normal(size=15))]).astype(np.float32)
    layer = {"codes": codes, "codebook": cb, "bias": rng.normal(size=8).astype(np.float32),
             "x": rng.random(6)}
    w = rng.normal(size=(6, 5)) * (rng.random((6, 5)) < 0.6)
    weights = {"ip1": w.astype(np.float32), "ip1.bias": rng.normal(size=6).astype(np.float32),
               "conv1.weight": rng.normal(size=(2, 1, 3, 3)).astype(np.float32)}
    x = io.BytesIO()
    np.save(x, rng.random(6))
    graphed = {"fc1": rng.normal(size=(4, 6)).astype(np.float32),
               "fc1.bias": rng.normal(size=4).astype(np.float32),
               "fc2": rng.normal(size=(3, 4)).astype(np.float32), "__graph__": np.array(_MLP_GRAPH)}
    return [Seed("layer", _npz(layer), ".npz", "npz-layer", {"arrays": layer}),
            Seed("layer-deflated", _npz(layer, compressed=True), ".npz", "npz-layer", {"arrays": layer}),
            Seed("dense", _npz({"weights": w, "x": layer["x"][:5]}), ".npz", "npz-layer",
                 {"arrays": {"weights": w, "x": layer["x"][:5]}}),
            Seed("weights", _npz(weights, compressed=True), ".npz", "npz-weights", {"arrays": weights}),
            Seed("weights-graph", _npz(graphed, compressed=True), ".npz", "npz-model",
                 {"arrays": graphed}),
            Seed("input", x.getvalue(), ".npy", "npy", {"arrays": {"x": layer["x"]}})]


YAML_EXTRA = {
    "workload-model.yaml": "pes: 32\nrun: {engine: fast, seed: 7, relu: false}\n"
                           "workload:\n  model: m.dcmp\n  layers: [ip1, ip2]\n  act_density: 0.25\n",
    "workload-synthetic.yaml": "workload:\n  synthetic:\n    - {name: a, rows: 60, cols: 80, "
                               "weight_density: 0.1, act_density: 0.5, seed: 1}\n    - {rows: 3, "
                               "cols: 4, weight_density: 1, bias: true}\nsweep:\n  pes: [2, 4]\n"
                               "  queue_depth: [1, 8]\n",
    "anchors.yaml": "pes: &b 16\nqueue_depth: &q 8\nrun: {engine: fast, verify: false}\n"
                    "sweep:\n  pes: [1, *b, 32]\n  queue_depth: [*q, 4]\n",
    "energy-small.yaml": "static_fraction: 0.25\nunit_power_mw: {act_queue: 0.2, ptr_read: 1.5}\n",
}


def _yaml_seeds() -> list[Seed]:
    out = []
    arch = resources.files("eie_sim.arch") / "configs"
    out.append(Seed("paper.yaml", (arch / "paper.yaml").read_bytes(), ".yaml", "config"))
    out.append(Seed("energy_45nm.yaml", (arch / "energy_45nm.yaml").read_bytes(), ".yaml", "energy"))
    for p in sorted((ROOT / "configs").glob("*.yaml")):
        out.append(Seed(p.name, p.read_bytes(), ".yaml", "config"))
    for name, text in YAML_EXTRA.items():
        out.append(Seed(name, text.encode(), ".yaml", "energy" if name.startswith("energy") else "config"))
    return out


def build_seeds(formats=FORMATS) -> dict[str, list[Seed]]:
    """The seed inputs of every format (deterministic)."""
    seeds: dict[str, list[Seed]] = {}
    models = dcmp_models()
    for fmt, version in (("dcmp", 2), ("dcmp-v1", 1)):
        if fmt in formats:
            seeds[fmt] = []
            for name, m in models.items():
                data = ff.to_bytes(m, version=version)
                seeds[fmt].append(Seed(name, data, ".dcmp", "dcmp", {"model": m, "version": version}))
    if "net" in formats:
        net = parse_net(parse_text(NET_TEXT))
        seeds["net"] = [Seed(f"synthetic-{d}", write_authors(_net_model(net, s, d), net), ".net",
                             "net", {"net": net})
                        for s, d in ((0, 0.3), (1, 0.04), (2, 1.0))]
        if squeezenet_available():
            sq = load_net(SQUEEZENET_DIR / "SqueezeNet_deploy.prototxt")
            seeds["net"].append(Seed("squeezenet", (SQUEEZENET_DIR / "compressed_SqueezeNet.net")
                                     .read_bytes(), ".net", "net", {"net": sq}))
        for s in seeds["net"]:
            s.info["records"] = [(r.offset, r.codebook.size, r.bias.size)
                                 for r in read_authors_records(s.info["net"], s.data)]
    if "npz" in formats:
        seeds["npz"] = _npz_seeds()
    if "yaml" in formats:
        seeds["yaml"] = _yaml_seeds()
    seeds.update(importer_cases.build(formats))   # onnx, safetensors, graph-json
    seeds.update(prototxt_cases.build(formats, SQUEEZENET_DIR))
    seeds.update(sweepdb_cases.build(formats))
    if "selftest" in formats:          # the harness's own guards (tests/test_fuzz.py)
        seeds["selftest"] = [Seed(n, b"", ".bin", f"selftest:{n}") for n in SELFTEST]
    return seeds


#: cases that check the harness itself: fine, a Python-level hang (the alarm), a huge
#: allocation (the memory cap), a hang in C (the parent's hard limit), a crash
SELFTEST = ("ok", "sleep", "alloc", "spin", "crash")


# ---------------------------------------------------------------------- mutations
INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x20, 0x0A, 0x5B, 0x7B)


def m_bitflip(r: random.Random, data: bytes) -> tuple[bytes, str]:
    b = bytearray(data)
    n = r.choice((1, 1, 1, 2, 4, 8))
    for _ in range(n):
        i = r.randrange(len(b))
        b[i] ^= 1 << r.randrange(8)
    return bytes(b), f"bitflip x{n}"


def m_byteset(r, data):
    b = bytearray(data)
    i = r.randrange(len(b))
    k = r.choice((1, 2, 4, 8))
    v = r.choice(INTERESTING_BYTES)
    b[i:i + k] = bytes([v]) * len(b[i:i + k])
    return bytes(b), f"byteset@{i}x{k}={v:#x}"


def m_truncate(r, data):
    i = r.randrange(len(data))
    return data[:i], f"truncate@{i}"


def m_extend(r, data):
    k = r.choice((1, 4, 100, 4096))
    tail = r.choice((bytes(k), r.randbytes(k), data[-k:]))
    return data + tail, f"extend+{k}"


def m_delete(r, data):
    i = r.randrange(len(data))
    k = r.choice((1, 2, 4, 16, 256))
    return data[:i] + data[i + k:], f"delete@{i}x{k}"


def m_insert(r, data):
    i = r.randrange(len(data) + 1)
    k = r.choice((1, 2, 4, 16, 256))
    return data[:i] + r.randbytes(k) + data[i:], f"insert@{i}x{k}"


def m_splice(r, data, others):
    other = r.choice(others)
    i, j = r.randrange(len(data) + 1), r.randrange(len(other) + 1)
    return data[:i] + other[j:], f"splice@{i}/{j}"


GENERIC = (m_bitflip, m_bitflip, m_byteset, m_truncate, m_extend, m_delete, m_insert)


def _generic(r, data, others):
    if not data:
        return r.randbytes(r.choice((1, 8, 64))), "random"
    if others and r.random() < 0.1:
        return m_splice(r, data, others)
    return r.choice(GENERIC)(r, data)


# ---- .dcmp
def _u(r, orig: int, size_bits: int) -> int:
    top = (1 << size_bits) - 1
    vals = [0, 1, 2, 3, orig + 1, max(orig - 1, 0), orig * 2, top, top - 1, 1 << (size_bits - 1)]
    if size_bits >= 32:
        vals += [2 ** 16, 2 ** 28, 2 ** 28 + 1, 2 ** 31, 7158278]
    return min(r.choice(vals), top)


META_EDITS = (b"[" * 33 + b"]" * 33, b"[" * 2000 + b"]" * 2000, b'{"a":' * 900 + b"1" + b"}" * 900,
              b'{"a": NaN}', b'{"a": Infinity}', b'{"a": 1e999}', b'{"a": ' + b"9" * 5000 + b"}",
              b"\xff\xfe{}", b"[]", b'"text"', b"{}", b"", b'{"a": 1', b'{"order": "csr"}',
              b'{"order": "nope"}', b"{\"\\ud800\": 1}")


def dcmp_mutate(r: random.Random, seed: Seed, siblings: list[Seed], others: list[bytes]):
    """One mutation of a ``.dcmp``: generic bytes, sections moved (CRCs intact), or fields
    edited with the checksums recomputed (``forged``). Returns (data, name, forged, unbound)."""
    version, meta, bodies = split_dcmp(seed.data)
    n = len(bodies)
    kind = r.random()
    if kind < 0.45:
        data, name = _generic(r, seed.data, others)
        return data, name, False, False
    head_end = 20 + (8 if version >= 2 else 0) + len(meta) + 4
    framed, pos = [], head_end
    for b in bodies:
        framed.append(seed.data[pos:pos + 8 + len(b)])
        pos += 8 + len(b)
    head = seed.data[:head_end]
    if kind < 0.7:                    # sections moved whole: every CRC intact
        op = r.choice(("swap", "dup", "drop", "reorder", "transplant", "transplant", "header"))
        secs = list(framed)
        if op == "swap" and n >= 2:
            i, j = r.sample(range(n), 2)
            secs[i], secs[j] = secs[j], secs[i]
        elif op == "dup" and n >= 2:
            i, j = r.sample(range(n), 2)
            secs[j] = secs[i]
        elif op == "drop":
            del secs[r.randrange(n)]
        elif op == "reorder":
            r.shuffle(secs)
        elif op in ("transplant", "header"):
            sib = [s for s in siblings if s.name != seed.name]
            other = r.choice(sib)
            ov, om, ob = split_dcmp(other.data)
            ohead_end = 20 + (8 if ov >= 2 else 0) + len(om) + 4
            if op == "header":
                return other.data[:ohead_end] + b"".join(secs), f"dcmp:header-from-{other.name}", \
                    False, version == 1
            opos, ofr = ohead_end, []
            for b in ob:
                ofr.append(other.data[opos:opos + 8 + len(b)])
                opos += 8 + len(b)
            i = r.randrange(n)
            j = i if i < len(ofr) and r.random() < 0.7 else r.randrange(len(ofr))
            secs[i] = ofr[j]
        # version 1 binds no section to its position or file: where the content cannot
        # tell (no repeated name, layers that still chain), a moved section is accepted
        return head + b"".join(secs), f"dcmp:{op}", False, version == 1
    # fields edited, checksums and file identity recomputed (forged)
    bodies = [bytearray(b) for b in bodies]
    op = r.random()
    if op < 0.55:
        i = r.randrange(n)
        fields = body_fields(bytes(bodies[i]))
        name = r.choice(sorted(fields))
        off, fmt = fields[name]
        size = struct.calcsize(fmt)
        if fmt == "<f":
            val = r.choice((float("nan"), float("inf"), -float("inf"), 3.4e38, 1.0, -0.0))
        else:
            orig = struct.unpack_from(fmt, bodies[i], off)[0]
            val = _u(r, orig, 8 * size)
            if name.endswith("_stream"):
                val = r.randrange(256)
        struct.pack_into(fmt, bodies[i], off, val)
        what = f"dcmp:field {name}={val}"
    elif op < 0.7:
        i = r.randrange(n)
        off = body_fields(bytes(bodies[i]))["meta_len"][0]
        new = r.choice(META_EDITS)
        bodies[i][off:] = struct.pack("<I", len(new)) + new
        what = "dcmp:layer-meta"
    elif op < 0.85:
        meta = r.choice(META_EDITS)
        what = "dcmp:model-meta"
    else:
        i = r.randrange(n)
        j = r.randrange(len(bodies[i]))
        bodies[i][j] = r.randrange(256)
        what = f"dcmp:body-byte@{j}"
    data = ff.assemble(meta, [bytes(b) for b in bodies], version)
    if r.random() < 0.1:                   # a header count that disagrees, CRC recomputed
        cnt = _u(r, n, 32)
        b = bytearray(data)
        struct.pack_into("<I", b, 12, cnt)
        crc_at = 20 + (8 if version >= 2 else 0) + len(meta)
        struct.pack_into("<I", b, crc_at, zlib.crc32(bytes(b[:crc_at])))
        data, what = bytes(b), what + f"+n_layers={cnt}"
    return data, what, True, False


# ---- .net
def net_mutate(r, seed: Seed, others):
    recs = seed.info["records"]
    if r.random() < 0.6:
        data, name = _generic(r, seed.data, others)
        return data, name
    b = bytearray(seed.data)
    k = r.randrange(len(recs))
    off, ncb, nb = recs[k]
    op = r.choice(("count", "codebook", "bias", "codebook0"))
    if op == "count":
        orig = struct.unpack_from("<I", b, 4 * k)[0]
        val = _u(r, orig, 32)
        struct.pack_into("<I", b, 4 * k, val)
        return bytes(b), f"net:count[{k}]={val}"
    val = r.choice((float("nan"), float("inf"), -float("inf"), 1.0))
    at = off + (0 if op == "codebook0" else 4 * r.randrange(1, ncb) if op == "codebook"
                else 4 * ncb + 4 * r.randrange(nb))
    struct.pack_into("<f", b, at, val)
    return bytes(b), f"net:{op}={val}"


# ---- .npz / .npy
def _npy_with_header(a: np.ndarray, header: str) -> bytes:
    h = header.encode("latin1")
    h += b" " * (-(10 + len(h) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + np.ascontiguousarray(a).tobytes()


def npz_mutate(r, seed: Seed, others):
    """Byte mutations (the zip CRC guards the data), or the archive rebuilt with arrays,
    members, headers or compression edited (``forged``)."""
    if r.random() < 0.4:
        data, name = _generic(r, seed.data, others)
        return data, name, False
    arrays = dict(seed.info["arrays"])
    key = r.choice(sorted(arrays))
    a = np.asarray(arrays[key])
    op = r.choice(("big-endian", "dtype", "nan", "values", "shape", "member", "header", "method",
                   "object", "fortran"))
    if a.dtype.kind == "U" and op in ("dtype", "nan", "values"):
        op = "text"                        # the graph member: edit its JSON text instead
    names, method, raw = None, None, None
    if op == "text":
        t = str(a[()])
        sub = r.choice(("digit", "truncate", "nest", "name", "bytes", "numbers"))
        if sub == "digit" and any(c.isdigit() for c in t):
            i = r.choice([k for k, c in enumerate(t) if c.isdigit()])
            t = t[:i] + r.choice(("0", "9", "-1", "1e9", "99999999", "NaN", '"1"')) + t[i + 1:]
        elif sub == "truncate":
            t = t[:r.randrange(len(t) + 1)]
        elif sub == "nest":
            t = t.replace('"layers": [', '"layers": [' + "[" * 40 + "]" * 40 + ", ", 1)
        elif sub == "name":
            t = t.replace('"fc2"', r.choice(('"fc9"', '"fc1"', '""', '"data"')))
        elif sub == "numbers":
            t = t.replace('"num_output": 4', r.choice(('"num_output": 16777217', '"num_output": 0',
                                                       '"num_output": true', '"num_output": 4.5')))
        a = np.frombuffer(t.encode(), np.uint8) if sub == "bytes" else np.array(t)
        arrays[key] = a
        op += f"-{sub}"
    elif op == "big-endian":
        arrays[key] = a.astype(a.dtype.newbyteorder(">"))
    elif op == "dtype":
        dt = r.choice(("f2", "f8", "i8", "u2", "bool", "c8", "U3", "S2", "i1"))
        arrays[key] = a.astype(dt)
    elif op == "nan":
        if a.dtype.kind == "f" and a.size:
            a = a.copy()
            a.flat[r.randrange(a.size)] = r.choice((np.nan, np.inf, -np.inf, 1e300))
        arrays[key] = a
    elif op == "values":
        if a.size:
            a = a.astype(np.int64) if a.dtype.kind in "iu" else a.copy()
            a.flat[r.randrange(a.size)] = r.choice((-1, 16, 255, 65536, 2 ** 40))
        arrays[key] = a
    elif op == "shape":
        arrays[key] = r.choice((a.reshape(-1), a.reshape(1, -1, 1) if a.size else a, a.T,
                                np.zeros((0,) + a.shape[1:], a.dtype), np.asarray(a.flat[0]) if a.size else a))
    elif op == "member":
        sub = r.choice(("rename", "drop-suffix", "remove", "unknown", "duplicate", "raw"))
        keys = list(arrays)
        names = [f"{k}.npy" for k in keys]
        i = keys.index(key)
        if sub == "rename":
            names[i] = r.choice(("codes2.npy", "x.npy", "bias.npy", ".npy", "a/b.npy", "ip9.weight.npy"))
        elif sub == "drop-suffix":
            names[i] = key
        elif sub == "remove":
            del arrays[key]
            names.pop(i)
        elif sub == "unknown":
            arrays["extra"] = np.ones(3)
            names.append("extra.npy")
        elif sub == "duplicate":
            arrays[key + "_dup"] = a
            names.append(f"{key}.npy")
        else:
            arrays[key] = b"not an array"
        op += f"-{sub}"
    elif op == "header":
        shape = r.choice(((1000, 1000000), (2 ** 28 + 1,), (2 ** 14, 2 ** 14), (8, 6), (-1, 6),
                          (6, 8), (), (3, 0)))
        descr = r.choice((a.dtype.str, "<u1", ">f8", "|O", "<U1", "V8", "<f16", "bogus"))
        header = r.choice((f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}",
                           f"{{'descr': {descr!r}, 'fortran_order': 1, 'shape': {shape}}}",
                           "{'descr': '<f8'" + ", 'x': (" * 50 + ")" * 50 + "}",
                           "__import__('os')", "{" * 3000, "not a header"))
        raw = _npy_with_header(a, header)
        arrays[key] = raw
        op += f" {header[:40]}"
    elif op == "method":
        method = r.choice((zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, zipfile.ZIP_DEFLATED))
    elif op == "object":
        arrays[key] = np.array([{"a": 1}, None], dtype=object)
    elif op == "fortran":
        arrays[key] = np.asfortranarray(a.reshape(a.shape[0], -1) if a.ndim else a)
    if seed.ext == ".npy":                 # the single array is the file
        v = arrays.get(key, a)
        if isinstance(v, bytes):
            return v, f"npy:{op}", True
        m = io.BytesIO()
        np.save(m, v, allow_pickle=True)
        return m.getvalue(), f"npy:{op}", True
    return _npz(arrays, compressed=True, names=names, method=method), f"npz:{op}", True


# ---- YAML
YAML_TOKENS = ("&a ", "*a", "*zz", "!!python/object/apply:os.system ['true'] ", "!foo ", "!!str ",
               "!!binary aGk= ", "[", "]", "{", "}", ": ", "- ", "\n", "\t", "\x00", "<<: *a\n",
               "? ", "|\n", ">\n", "'", '"', "%YAML 1.1\n---\n", "---\n", "...\n", "1e999",
               ".nan", ".inf", "-.inf", "0x7FFFFFFFFFFFFFFF", "9" * 5000, "2001-13-45",
               "2001-12-14", "~", "null", "true", "&a [*a]", "&b {x: *b}", "\ufeff", "\x85",
               "\x1b", "\ud7ff", "#", "@", "`", "%")


def _laughs(n: int, k: int) -> str:
    lines = [f"l0: &l0 [{', '.join(['x'] * k)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * k)}]" for i in range(1, n)]
    return "\n".join(lines) + "\n"


def edit_lines(r: random.Random, lines: list, subs: tuple) -> str:
    """Duplicate, drop, swap, indent or dedent lines of ``lines`` in place (one of
    ``subs``, returned)."""
    i, j = r.randrange(len(lines)), r.randrange(len(lines))
    sub = r.choice(subs)
    if sub == "dup":
        lines.insert(j, lines[i])
    elif sub == "drop":
        del lines[i]
    elif sub == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif sub == "indent":
        lines[i] = "  " + lines[i]
    else:
        lines[i] = lines[i].lstrip()
    return sub


def yaml_mutate(r, seed: Seed, others):
    if r.random() < 0.3:
        data, name = _generic(r, seed.data, others)
        return data, name
    text = seed.data.decode("utf-8")
    lines = text.splitlines(keepends=True) or [""]
    op = r.choice(("token", "token", "lines", "deep", "laughs", "value", "alias"))
    if op == "token":
        i = r.randrange(len(text) + 1)
        tok = r.choice(YAML_TOKENS)
        return (text[:i] + tok + text[i:]).encode("utf-8", "surrogatepass"), f"yaml:token {tok[:20]!r}@{i}"
    if op == "lines":
        sub = edit_lines(r, lines, ("dup", "drop", "swap", "indent", "dedent"))
        return "".join(lines).encode(), f"yaml:lines-{sub}"
    if op == "deep":
        n = r.choice((10, 31, 33, 100, 2000, 5000))
        style = r.choice(("flow", "block", "map"))
        if style == "flow":
            snippet = "deep: " + "[" * n + "]" * n + "\n"
        elif style == "map":
            snippet = "deep: " + "{a: " * n + "1" + "}" * n + "\n"
        else:
            snippet = "deep:\n" + "".join(" " * (i + 1) + "-\n" for i in range(min(n, 1400)))
        return (text + snippet).encode(), f"yaml:deep-{style}-{n}"
    if op == "laughs":
        n, k = r.choice(((3, 3), (5, 9), (9, 9), (12, 2), (20, 2)))
        return (_laughs(n, k) + text).encode(), f"yaml:laughs-{n}x{k}"
    if op == "alias":
        snippet = r.choice(("a: &a [*a]\n", "run: &r {out: *r}\n", "x: &x\n  y: *x\n",
                            "sweep: &s {pes: *s}\n", "pes: &p *p\n"))
        return (snippet + text).encode(), f"yaml:alias {snippet.strip()[:20]}"
    # a value replaced by an edge value
    cand = [i for i, line in enumerate(lines) if ":" in line and not line.lstrip().startswith("#")]
    if not cand:
        return seed.data + b"\npes: 0\n", "yaml:value"
    i = r.choice(cand)
    key = lines[i].split(":", 1)[0]
    val = r.choice(("0", "-1", "1e308", ".nan", ".inf", "-.inf", "9" * 30, "true", "null", "[]",
                    "{}", "''", "[1, 2, 2]", "2.5", "64.0", "'64'", "[" + ", ".join(map(str, range(1, 200))) + "]"))
    lines[i] = f"{key}: {val}\n"
    return "".join(lines).encode(), f"yaml:value {key.strip()}={val[:12]}"


# ------------------------------------------------------------------------- cases
def make_case(seeds: dict[str, list[Seed]], fmt: str, seed: int, index: int) -> Case:
    """The ``index``-th case of ``fmt`` for the campaign ``seed`` (deterministic)."""
    r = random.Random(f"{seed}:{fmt}:{index}")
    pool = seeds[fmt]
    s = pool[index % len(pool)] if index < len(pool) else r.choice(pool)
    others = [o.data for o in pool if o is not s and o.ext == s.ext]
    forged = unbound = False
    expect = None
    if index < len(pool):                  # every seed once unmutated: "accepted identical"
        return Case(fmt, index, s, s.data, "none")
    if fmt.startswith("dcmp"):
        data, what, forged, unbound = dcmp_mutate(r, s, pool, others)
    elif fmt == "net":
        data, what = net_mutate(r, s, others)
    elif fmt == "npz":
        data, what, forged = npz_mutate(r, s, others)
    elif fmt in importer_cases.MUTATE:
        data, what = importer_cases.MUTATE[fmt](r, s, others, _generic)
    elif fmt == "prototxt":
        data, what = prototxt_cases.prototxt_mutate(r, s, others, _generic)
    elif fmt == "sweep-db":
        data, what, legit = sweepdb_cases.sweepdb_mutate(r, s, others, _generic)
        expect = data if legit else None
    else:
        data, what = yaml_mutate(r, s, others)
    if r.random() < 0.15 and data:          # a second, generic mutation on top
        data, w2 = _generic(r, data, [])
        what += " + " + w2
    return Case(fmt, index, s, data, what, forged, unbound, expect)


def describe_seeds(seeds: dict[str, list[Seed]]) -> str:
    return json.dumps({f: [s.name for s in v] for f, v in seeds.items()})
