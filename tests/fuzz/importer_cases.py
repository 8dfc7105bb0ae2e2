"""Seeds and mutations of the model importers' formats (``compressor.importers``):
``onnx`` (ONNX protobuf files), ``safetensors`` (with and without an ``eie.graph`` in
``__metadata__``) and ``graph-json`` (the graph JSON that ``.dcmp`` metadata and
safetensors metadata carry, :mod:`compressor.importers.graph_json`).

None of the three formats has a checksum, so a mutated file that is read back differently
is "accepted, expected" (a flipped weight byte is a different weight); the bad outcomes are
tracebacks, hangs, huge allocations and crashes. Mutations are format-aware where it
matters:

* ONNX: protobuf bytes flipped, truncated, spliced; the ``ModelProto`` edited and
  re-serialised: initializer dims that disagree with ``raw_data`` (or huge, negative,
  zero), ``raw_data`` cut or grown, the data type changed, NaN/inf values, external-data
  references, node inputs undefined or cyclic (a node reading its own or a later output),
  nodes dropped, duplicated, reordered, unknown ops and domains, attributes of the wrong
  type or with edge values, the input's shape edited, the opset and IR versions edited,
  a Constant node of huge dims, float64 weights beyond float32's range, and (rarely)
  models of 12,000 nodes that share one name, fold 12,000 Adds or list 12,000 outputs
  (work that grows faster than the file is a hang on a large file);
* safetensors: the 8-byte little-endian header length lying (0, short, long, huge), the
  JSON header edited and re-framed: dtypes, shapes (huge, negative, non-integer), offsets
  (negative, reversed, overlapping, past the end, gapped), missing/extra keys, NaN,
  infinity and float64 values beyond float32's range in the data, the ``__metadata__``
  (non-string values, a mutated ``eie.graph``, a wrong ``eie.layers``);
* graph JSON: values at random paths replaced by edge values (huge and negative
  integers, zero strides, floats, booleans, strings, nesting), keys dropped or added,
  layers duplicated, dropped or swapped, bottoms undefined or cyclic, unknown types.
"""
from __future__ import annotations

import copy
import json
import math
import random
import struct

import numpy as np

IMPORT_FORMATS = ("onnx", "safetensors", "graph-json")


def available() -> bool:
    """Whether the optional packages the importers need (onnx, safetensors) are installed."""
    import importlib.util
    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "safetensors"))


# ------------------------------------------------------------------------- seeds
def onnx_mixed(seed: int = 2):
    """A graph of the ops the two byom models lack (Constant, Clip as ReLU6, AveragePool,
    PRelu, Concat, Reshape, Identity, BatchNormalization after Gemm, LeakyRelu, Dropout,
    Softmax), so the mutations reach every operation the reader maps."""
    from onnx import helper, numpy_helper

    from tests.compressor.byom_models import _init, _model
    rng = np.random.default_rng(seed)
    nodes = [
        helper.make_node("Conv", ["x", "c1"], ["a1"], name="conv1", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["a1", "lo", "hi"], ["r1"], name="relu6"),
        helper.make_node("AveragePool", ["r1"], ["p1"], name="avg", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Conv", ["p1", "c2", "cb2"], ["a2"], name="conv2", kernel_shape=[1, 1]),
        helper.make_node("PRelu", ["a2", "slope"], ["q2"], name="prelu"),
        helper.make_node("Concat", ["p1", "q2"], ["cat"], name="cat", axis=1),
        helper.make_node("MaxPool", ["cat"], ["p2"], name="maxp", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Constant", [], ["shape"], name="shape",
                         value=numpy_helper.from_array(np.array([0, -1], np.int64), "shape")),
        helper.make_node("Reshape", ["p2", "shape"], ["flat"], name="reshape"),
        helper.make_node("Identity", ["flat"], ["idn"], name="idn"),
        helper.make_node("Gemm", ["idn", "w3", "b3"], ["g3"], name="fc3", transB=1),
        helper.make_node("BatchNormalization", ["g3", "s3", "t3", "m3", "v3"], ["n3"], name="bn3"),
        helper.make_node("LeakyRelu", ["n3"], ["l3"], name="leaky", alpha=0.1),
        helper.make_node("Dropout", ["l3"], ["d3"], name="drop"),
        helper.make_node("MatMul", ["d3", "w4"], ["m4"], name="fc4"),
        helper.make_node("Add", ["m4", "b4"], ["s4"], name="fc4_bias"),
        helper.make_node("Softmax", ["s4"], ["y"], name="prob", axis=1),
    ]
    arrays = {"c1": rng.normal(0, 0.3, (4, 3, 3, 3)), "lo": np.float32(0), "hi": np.float32(6),
              "c2": rng.normal(0, 0.3, (4, 4, 1, 1)), "cb2": rng.normal(0, 0.1, 4),
              "slope": rng.uniform(0, 0.3, (4, 1, 1)), "w3": rng.normal(0, 0.3, (10, 32)),
              "b3": rng.normal(0, 0.1, 10), "s3": rng.uniform(0.5, 1.5, 10),
              "t3": rng.normal(0, 0.1, 10), "m3": rng.normal(0, 0.1, 10),
              "v3": rng.uniform(0.5, 2, 10), "w4": rng.normal(0, 0.3, (10, 5)),
              "b4": rng.normal(0, 0.1, 5)}
    return _model(nodes, [_init(n, a) for n, a in arrays.items()], "x", (1, 3, 8, 8), "y",
                  (1, 5), "mixed")


def _onnx_seeds():
    from tests.compressor.byom_models import onnx_cnn, onnx_mlp
    return {"mlp": onnx_mlp(0), "cnn": onnx_cnn(1), "mixed": onnx_mixed(2)}


def _graphs():
    """The graph JSON objects of the two ONNX seeds (as the importers store them)."""
    import tempfile

    from compressor.importers import net_to_json, read_onnx
    out = {}
    with tempfile.TemporaryDirectory() as d:
        for name, m in _onnx_seeds().items():
            p = f"{d}/{name}.onnx"
            with open(p, "wb") as f:
                f.write(m.SerializeToString())
            imp = read_onnx(p)
            out[name] = (net_to_json(imp.net), imp.arrays())
    return out


def raw_safetensors(header: dict, data: bytes) -> bytes:
    """A safetensors file from a header dict and the data bytes (header padded to 8)."""
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def _safetensors_bytes(arrays: dict, metadata: dict | None = None) -> bytes:
    from safetensors.numpy import save
    return save(arrays, metadata=metadata)


def build(formats) -> dict:
    """Seeds of the importer formats among ``formats`` (a list of :class:`corpus.Seed`)."""
    from tests.fuzz.corpus import Seed
    out = {}
    if not any(f in formats for f in IMPORT_FORMATS):
        return out
    graphs = _graphs()
    if "onnx" in formats:
        out["onnx"] = [Seed(n, m.SerializeToString(), ".onnx", "onnx")
                       for n, m in _onnx_seeds().items()]
    if "safetensors" in formats:
        rng = np.random.default_rng(7)
        w1 = rng.normal(0, 0.3, (8, 6)).astype(np.float32)
        w1[rng.random(w1.shape) < 0.5] = 0
        plain = {"fc1.weight": w1, "fc1.bias": rng.normal(size=8).astype(np.float32),
                 "fc2.weight": rng.normal(size=(4, 8)).astype(np.float16),
                 "fc10": rng.normal(size=(3, 4)).astype(np.float64)}
        g_mlp, a_mlp = graphs["mlp"]
        g_cnn, a_cnn = graphs["cnn"]
        bf = rng.normal(size=(3, 5)).astype(np.float32)
        bf16 = (bf.view(np.uint32) >> 16).astype(np.uint16)
        out["safetensors"] = [
            Seed("plain", _safetensors_bytes(plain), ".safetensors", "safetensors"),
            Seed("layers-meta", _safetensors_bytes(plain, {"eie.layers": "fc1,fc2,fc10",
                                                           "note": "x"}),
                 ".safetensors", "safetensors"),
            Seed("graph-mlp", _safetensors_bytes(a_mlp, {"eie.graph": json.dumps(g_mlp)}),
                 ".safetensors", "safetensors"),
            Seed("graph-cnn", _safetensors_bytes(a_cnn, {"eie.graph": json.dumps(g_cnn)}),
                 ".safetensors", "safetensors"),
            Seed("bf16", raw_safetensors(
                {"l.weight": {"dtype": "BF16", "shape": [3, 5], "data_offsets": [0, 30]},
                 "l.bias": {"dtype": "F32", "shape": [3], "data_offsets": [30, 42]}},
                bf16.tobytes() + rng.normal(size=3).astype(np.float32).tobytes()),
                ".safetensors", "safetensors"),
        ]
    if "graph-json" in formats:
        out["graph-json"] = [Seed(n, json.dumps(g, indent=1).encode(), ".json", "graph-json",
                                  {"graph": g}) for n, (g, _) in graphs.items()]
    return out


# ------------------------------------------------------------------------- graph JSON
EDGE_VALUES = (0, -1, 1, 2, 3, 2 ** 24, 2 ** 31, 2 ** 63, 10 ** 30, -(2 ** 40), 0.5, 1.0, 1e308,
               -1e308, True, False, None, "", "x", "MAX", "AVE", [], [0, 0], [1], [1, 2, 3],
               [2 ** 40, 2 ** 40], [-1, -1], [0.5, 1], ["a", "b"], [[1]], {}, {"a": 1})
LAYER_TYPES = ("Convolution", "Deconvolution", "InnerProduct", "Pooling", "ReLU", "Concat",
               "Eltwise", "Flatten", "Softmax", "Dropout", "LRN", "Clip", "PReLU", "BatchNorm",
               "Unpool", "ChannelPad", "Input", "Nope", "")


def _paths(obj, prefix=()):
    """Every path (tuple of keys/indices) in a JSON object, containers included."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _set(obj, path, value):
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value


def _get(obj, path):
    for k in path:
        obj = obj[k]
    return obj


def mutate_graph(r: random.Random, g) -> tuple[dict, str]:
    """One structural edit of a graph JSON object (a deep copy); an edit that no longer
    fits an already-mutated object (a layer list replaced by a number...) is skipped."""
    g = copy.deepcopy(g)
    try:
        return _mutate_graph(r, g)
    except (TypeError, KeyError, IndexError, AttributeError, ValueError):
        return g, "graph:edit-skipped"


def _mutate_graph(r: random.Random, g) -> tuple[dict, str]:
    layers = g["layers"]
    op = r.choice(("value", "value", "value", "drop-key", "add-key", "layer", "bottom", "type",
                   "input", "many"))
    if op == "value":
        path = r.choice([p for p in _paths(g) if p])
        v = r.choice(EDGE_VALUES)
        _set(g, path, copy.deepcopy(v))
        return g, f"graph:value {'.'.join(map(str, path))}={str(v)[:20]}"
    if op == "drop-key":
        cand = [p for p in _paths(g) if p and isinstance(_get(g, p[:-1]), dict)]
        path = r.choice(cand)
        del _get(g, path[:-1])[path[-1]]
        return g, f"graph:drop {'.'.join(map(str, path))}"
    if op == "add-key":
        cand = [p for p in _paths(g) if isinstance(_get(g, p), dict)]
        path = r.choice(cand)
        key = r.choice(("extra", "num_output", "conv", "pool", "bn", "clip", "slopes",
                        "concat_axis", "negative_slope", "params", "line", "weight_shape",
                        "in_shapes", "kernel", "method"))
        _get(g, path)[key] = copy.deepcopy(r.choice(EDGE_VALUES))
        return g, f"graph:add {'.'.join(map(str, path))}.{key}"
    if op == "layer":
        sub = r.choice(("dup", "drop", "swap", "reverse", "clear"))
        i = r.randrange(len(layers))
        if sub == "dup":
            layers.insert(r.randrange(len(layers) + 1), copy.deepcopy(layers[i]))
        elif sub == "drop":
            del layers[i]
        elif sub == "swap":
            j = r.randrange(len(layers))
            layers[i], layers[j] = layers[j], layers[i]
        elif sub == "reverse":
            layers.reverse()
        else:
            layers.clear()
        return g, f"graph:layers-{sub}"
    if op == "bottom":
        i = r.randrange(len(layers))
        lay = layers[i]
        later = [t for l in layers[i:] for t in l["tops"]]
        sub = r.choice(("self", "later", "undefined", "none", "many"))
        if sub == "self":
            lay["bottoms"] = list(lay["tops"])
        elif sub == "later":
            lay["bottoms"] = [r.choice(later)]
        elif sub == "undefined":
            lay["bottoms"] = ["ghost"]
        elif sub == "none":
            lay["bottoms"] = []
        else:
            lay["bottoms"] = [g["input"]["name"]] * r.choice((2, 3, 50))
        return g, f"graph:bottoms-{sub}"
    if op == "type":
        i = r.randrange(len(layers))
        t = r.choice(LAYER_TYPES)
        layers[i]["type"] = t
        return g, f"graph:type {t}"
    if op == "input":
        shape = r.choice(([1, 2 ** 24, 2 ** 24, 1], [1, 2 ** 14, 2 ** 14, 3], [0, 3, 8, 8],
                          [1, 3, 1, 1], [1], [1, 3, 10, 10, 1], [1, 20], [1, -5], [1, 1.5],
                          [1, True], "1,20", []))
        g["input"]["shape"] = shape
        return g, f"graph:input {shape}"
    for _ in range(r.choice((2, 3, 5))):
        g, _w = mutate_graph(r, g)
    return g, "graph:many"


def graph_json_mutate(r: random.Random, seed, others, generic):
    if r.random() < 0.3:
        return generic(r, seed.data, others)
    g, what = mutate_graph(r, seed.info["graph"])
    if r.random() < 0.1:
        text = json.dumps(g).encode()
        text = r.choice((b'{"a":' * 40 + text + b"}" * 40, text.replace(b"1", b"NaN", 1),
                         text.replace(b"1", b"1e999", 1), text.replace(b"1", b"9" * 400, 1),
                         b"\xef\xbb\xbf" + text, text + b" x"))
        return text, what + "+text"
    return json.dumps(g).encode(), what


# ------------------------------------------------------------------------- safetensors
def _split_st(data: bytes) -> tuple[dict, bytes]:
    n = struct.unpack_from("<Q", data)[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def safetensors_mutate(r: random.Random, seed, others, generic):
    if r.random() < 0.35:
        return generic(r, seed.data, others)
    head, body = _split_st(seed.data)
    op = r.choice(("length", "length", "dtype", "shape", "offsets", "offsets", "keys", "meta",
                   "graph", "nan", "raw-header"))
    names = [k for k in head if k != "__metadata__"]
    key = r.choice(names)
    ent = head[key]
    if op == "length":
        b = bytearray(seed.data)
        n = struct.unpack_from("<Q", b)[0]
        val = r.choice((0, 1, 2, n - 1, n + 1, n + 8, len(b) - 8, len(b) - 7, 2 ** 32, 2 ** 63,
                        2 ** 64 - 1, 100 * 1000 * 1000, 100 * 1000 * 1000 + 1))
        struct.pack_into("<Q", b, 0, max(0, min(val, 2 ** 64 - 1)))
        return bytes(b), f"st:header-length={val}"
    if op == "dtype":
        ent["dtype"] = r.choice(("F32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "F8_E4M3",
                                 "f32", "", 7, None))
        what = f"st:dtype {key}={ent['dtype']}"
    elif op == "shape":
        s = list(ent["shape"])
        ent["shape"] = r.choice((s[::-1], s + [1], s[:-1], [2 ** 40, 2 ** 40], [2 ** 62], [-1] + s[1:],
                                 [0] + s[1:], [1.0] * len(s), [True, 2], [], [1] * 9, "3,4", None,
                                 [2 ** 14, 2 ** 14 + 1], [s[0] * 2] + s[1:]))
        what = f"st:shape {key}={str(ent['shape'])[:30]}"
    elif op == "offsets":
        a, b = ent["data_offsets"]
        other = head[r.choice(names)]["data_offsets"]
        ent["data_offsets"] = r.choice(([b, a], [-4, b - a - 4], [a, b + 4], [a + 4, b + 4],
                                        [a, len(body) + 4], [0, b - a], list(other), [a, a],
                                        [a, 2 ** 64], [2 ** 63, 2 ** 63 + b - a], [a], [a, b, b],
                                        [float(a), float(b)], None, [a - 2, b - 2]))
        what = f"st:offsets {key}={str(ent['data_offsets'])[:30]}"
    elif op == "keys":
        sub = r.choice(("drop", "extra", "rename", "empty-name", "not-dict", "all-gone"))
        if sub == "drop":
            del ent[r.choice(sorted(ent))]
        elif sub == "extra":
            ent["extra"] = 1
        elif sub == "rename":
            head[r.choice(("x.y", "fc1.bias", "fc1", "w.weight.bias", ".bias", ".weight", "fc3.bias"))] = \
                head.pop(key)
        elif sub == "empty-name":
            head[""] = head.pop(key)
        elif sub == "not-dict":
            head[key] = r.choice(([1, 2], "x", None, 3))
        else:
            head = {k: v for k, v in head.items() if k == "__metadata__"}
        what = f"st:keys-{sub} {key}"
    elif op == "meta":
        meta = head.setdefault("__metadata__", {})
        sub = r.choice(("non-string", "layers", "not-dict", "graph-text", "null"))
        if sub == "non-string":
            meta["x"] = r.choice((1, None, [1], {"a": "b"}))
        elif sub == "layers":
            meta["eie.layers"] = r.choice(("fc2,fc1,fc10", "fc1", "", ",,,", "fc1,fc1,fc2,fc10",
                                           "nope", "fc1," * 10000))
        elif sub == "not-dict":
            head["__metadata__"] = r.choice(([1], "x", 3))
        elif sub == "graph-text":
            meta["eie.graph"] = r.choice(("", "{", "[]", "null", '{"version": 1}', "NaN",
                                          "[" * 5000 + "]" * 5000, '{"a":' * 40 + "1" + "}" * 40))
        else:
            head["__metadata__"] = None
        what = f"st:meta-{sub}"
    elif op == "graph":
        meta = head.get("__metadata__") or {}
        if "eie.graph" in meta:
            g, what = mutate_graph(r, json.loads(meta["eie.graph"]))
            meta["eie.graph"] = json.dumps(g)
            what = "st:" + what
        else:
            return generic(r, seed.data, others)
    elif op == "nan":
        b = bytearray(body)
        a0, a1 = ent["data_offsets"]
        size = {"F32": 4, "F16": 2, "F64": 8, "BF16": 2}[ent["dtype"]]
        at = a0 + size * r.randrange(max(1, (a1 - a0) // size))
        pat = {4: struct.pack("<f", float(r.choice(("nan", "inf", "-inf")))),
               2: r.choice((b"\x00\x7e", b"\x00\x7c", b"\xc0\x7f", b"\x80\x7f")),
               8: struct.pack("<d", float(r.choice(("nan", "inf", "-inf", "1e300", "-4e38"))))}[size]
        b[at:at + size] = pat
        return raw_safetensors(head, bytes(b)), f"st:nan {key}"
    else:                                   # the header text itself
        text = json.dumps(head).encode()
        text = r.choice((text[:-1], text + b"x", b"\xff" + text, text.replace(b'"', b"'", 1),
                         b'{"a":' * 40 + b"{}" + b"}" * 40, b"[" + text + b"]", b"null",
                         text.replace(b"[", b"[NaN, ", 1), text.replace(b"0", b"1e999", 1)))
        return struct.pack("<Q", len(text)) + text + body, "st:raw-header"
    if r.random() < 0.2:
        body = body[:r.randrange(len(body) + 1)]
        what += "+body-cut"
    return raw_safetensors(head, body), what


# ------------------------------------------------------------------------- ONNX
def _attr_value(r: random.Random):
    return r.choice((0, -1, 2 ** 40, -(2 ** 62), 1.5, float("nan"), float("inf"), b"x", "SAME_UPPER",
                     [0, 0], [1, 1, 1], [-1, -1, -1, -1], [2 ** 40] * 4, [0.5, 0.5], [b"a"], [],
                     [100, 100, 100, 100], "VALID", 7))


def onnx_scaled(r: random.Random, n: int = 12000):
    """A model of ``n`` nodes built to find work that grows faster than the file: nodes
    that all share one name, thousands of graph outputs, a chain of Gemm + Add layers."""
    from onnx import TensorProto, helper

    from tests.compressor.byom_models import _init
    kind = r.choice(("names", "outputs", "layers"))
    vi = helper.make_tensor_value_info
    nodes = [helper.make_node("Gemm", ["t0", "w"], ["g0"], name="r", transB=1),
             helper.make_node("Add", ["g0", "c"], ["t1"], name="r")]
    for i in range(1, n if kind != "layers" else n // 2):
        if kind == "layers":
            nodes.append(helper.make_node("Gemm", [f"t{i}", "w"], [f"g{i}"], name="r", transB=1))
            nodes.append(helper.make_node("Add", [f"g{i}", "c"], [f"t{i + 1}"], name="r"))
        elif kind == "names":
            nodes.append(helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name="r"))
        else:                   # Adds folded one after another into the first Gemm's bias
            nodes.append(helper.make_node("Add", [f"t{i}", "c"], [f"t{i + 1}"], name="r"))
    last = nodes[-1].output[0]
    outs = [vi(last, TensorProto.FLOAT, [1, 4])] * (n if kind == "outputs" else 1)
    g = helper.make_graph(nodes, "scaled", [vi("t0", TensorProto.FLOAT, [1, 4])], outs,
                          initializer=[_init("w", np.ones((4, 4))), _init("c", np.ones(4))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString(), f"onnx:scaled-{kind}-{n}"


def onnx_mutate(r: random.Random, seed, others, generic):
    if r.random() < 0.005:                 # rare: ~0.5 s each to build and read
        return onnx_scaled(r)
    if r.random() < 0.3:
        return generic(r, seed.data, others)
    try:
        return _onnx_edit(r, seed)
    except (TypeError, KeyError, IndexError, AttributeError, ValueError):
        return generic(r, seed.data, others)        # an edit that does not fit this seed


def _onnx_edit(r: random.Random, seed):
    import onnx
    from onnx import TensorProto, helper
    m = onnx.ModelProto()
    m.ParseFromString(seed.data)
    g = m.graph
    op = r.choice(("dims", "dims", "raw", "dtype", "nan", "external", "input-undefined",
                   "input-cycle", "nodes", "op", "attr", "attr", "in-shape", "versions",
                   "constant", "init-dup", "float-data"))
    what = f"onnx:{op}"
    inits = list(g.initializer)
    if op in ("dims", "raw", "dtype", "nan", "external", "float-data", "init-dup"):
        t = r.choice(inits)
        what += f" {t.name}"
        if op == "dims":
            d = list(t.dims)
            new = r.choice((d[::-1], d + [1], d[:-1], [d[0] + 1] + d[1:], [2 ** 40] * len(d),
                            [2 ** 31] + d[1:], [-1] + d[1:], [0] + d[1:], [2 ** 62, 4],
                            [1] * 40, [2 ** 20, 2 ** 20, 2 ** 20], "same-size", "same-size",
                            "empty"))
            n = math.prod(d)
            if new == "same-size":          # the element count kept: past the checker
                new = r.choice(([n], [1] + d, d + [1], [1, n], [n, 1], [2, n // 2] if n % 2 else [n],
                                [1, 1] + d, d[::-1], [1, 1, n] if n > 1 else [1, 1, 1, 1],
                                d + [1, 1], [n, 1, 1]))
            elif new == "empty":
                new = [0] * max(1, len(d))
                t.raw_data = b""
            del t.dims[:]
            t.dims.extend(new)
            what += f"={str(new)[:30]}"
        elif op == "raw":
            raw = t.raw_data
            t.raw_data = r.choice((raw[:-1], raw[:-4], raw + b"\0" * 4, b"", raw[:len(raw) // 2],
                                   raw + raw))
        elif op == "dtype":
            t.data_type = r.choice((TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.INT64,
                                    TensorProto.INT8, TensorProto.STRING, TensorProto.BOOL,
                                    TensorProto.BFLOAT16, TensorProto.COMPLEX64, 0, 99))
            what += f"={t.data_type}"
        elif op == "nan":
            a = np.frombuffer(t.raw_data, np.float32).copy()
            if r.random() < 0.3:               # float64, finite, beyond float32's range
                a = a.astype(np.float64)
                a[r.randrange(a.size)] = r.choice((1e300, -4e38, 3.5e38))
                t.data_type = TensorProto.DOUBLE
            else:
                a[r.randrange(a.size)] = r.choice((np.nan, np.inf, -np.inf))
            t.raw_data = a.tobytes()
        elif op == "external":
            t.data_location = TensorProto.EXTERNAL
            for k, v in (("location", r.choice(("w.bin", "../../etc/passwd", "/dev/zero", ""))),
                         ("offset", r.choice(("0", "-1", "99999999999"))),
                         ("length", r.choice(("4", "-4", "18446744073709551615")))):
                e = t.external_data.add()
                e.key, e.value = k, v
            if r.random() < 0.5:
                t.ClearField("raw_data")
        elif op == "float-data":
            a = np.frombuffer(t.raw_data, np.float32)
            t.ClearField("raw_data")
            n = r.choice((a.size, a.size - 1, a.size + 3, 0))
            t.float_data.extend([float(x) for x in np.resize(a, n)])
            what += f" n={n}"
        else:
            dup = g.initializer.add()
            dup.CopyFrom(r.choice(inits))
            dup.name = t.name
    elif op in ("input-undefined", "input-cycle"):
        nodes = list(g.node)
        i = r.randrange(len(nodes))
        n = g.node[i]
        if op == "input-undefined":
            n.input[0] = r.choice(("ghost", "", n.output[0]))
        else:
            later = [o for nd in nodes[i:] for o in nd.output]
            n.input[0] = r.choice(later)
        what += f" {n.name}"
    elif op == "nodes":
        sub = r.choice(("drop", "dup", "swap", "reverse", "clear", "out-rename"))
        nodes = [copy.deepcopy(n) for n in g.node]
        i = r.randrange(len(nodes))
        if sub == "drop":
            del nodes[i]
        elif sub == "dup":
            nodes.insert(r.randrange(len(nodes) + 1), copy.deepcopy(nodes[i]))
        elif sub == "swap":
            j = r.randrange(len(nodes))
            nodes[i], nodes[j] = nodes[j], nodes[i]
        elif sub == "reverse":
            nodes.reverse()
        elif sub == "clear":
            nodes = []
        else:
            nodes[i].output[0] = nodes[r.randrange(len(nodes))].output[0]
        del g.node[:]
        g.node.extend(nodes)
        what += f"-{sub}"
    elif op == "op":
        n = r.choice(list(g.node))
        sub = r.random()
        if sub < 0.6:
            n.op_type = r.choice(("Foo", "", "Conv", "Gemm", "MatMul", "Add", "Relu", "MaxPool",
                                  "AveragePool", "Flatten", "Reshape", "Concat", "Softmax",
                                  "BatchNormalization", "Clip", "PRelu", "Identity", "Dropout",
                                  "LeakyRelu", "GlobalMaxPool", "Constant", "Loop", "If"))
            what += f" {n.name}->{n.op_type}"
        else:
            n.domain = r.choice(("com.microsoft", "ai.onnx.ml", "ai.onnx", "x"))
            what += f" domain {n.domain}"
    elif op == "attr" and r.random() < 0.7:       # a value of the schema's type: past the checker
        n = r.choice(list(g.node))
        schema = onnx.defs.get_schema(n.op_type, m.opset_import[0].version)
        name = r.choice(sorted(schema.attributes))
        kind = schema.attributes[name].type
        A = onnx.AttributeProto
        if kind == A.INT:
            val = r.choice((0, -1, 2, 3, 2 ** 40, -(2 ** 62), 2 ** 63 - 1))
        elif kind == A.INTS:
            old = [list(a.ints) for a in n.attribute if a.name == name]
            k = len(old[0]) if old and r.random() < 0.6 else r.choice((1, 2, 3, 4, 6))
            edge = (0, -1, 1, 2, 3, 9, 2 ** 31, 2 ** 40, -(2 ** 40))
            v = r.choice(edge)
            val = [v] * k if r.random() < 0.5 else [r.choice(edge) for _ in range(k)]
        elif kind == A.FLOAT:
            val = r.choice((float("nan"), float("inf"), -float("inf"), -1.0, 0.0, 1e30, 2.0))
        elif kind == A.STRING:
            val = r.choice(("SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET", "", "x", b"\xff\xfe",
                            b"VAL\xc3ID"))
        elif kind == A.TENSOR:
            val = onnx.numpy_helper.from_array(
                r.choice((np.ones((2, 2), np.float32), np.full(3, np.nan, np.float32),
                          np.arange(4, dtype=np.int64), np.zeros((0,), np.float32))), "v")
        else:
            val = r.choice((1, [1, 2], 1.5, "x"))
        keep = [a for a in n.attribute if a.name != name]
        del n.attribute[:]
        n.attribute.extend(keep)
        n.attribute.append(helper.make_attribute(name, val))
        what += f" {n.name}.{name}={str(val)[:30]}"
    elif op == "attr":
        n = r.choice(list(g.node))
        name = r.choice(("kernel_shape", "strides", "pads", "group", "dilations", "auto_pad",
                         "transA", "transB", "alpha", "beta", "axis", "epsilon", "ceil_mode",
                         "count_include_pad", "training_mode", "storage_order", "allowzero",
                         "min", "max", "value"))
        val = _attr_value(r)
        keep = [a for a in n.attribute if a.name != name]
        del n.attribute[:]
        n.attribute.extend(keep)
        if r.random() < 0.15:
            t = onnx.numpy_helper.from_array(np.ones((2, 2), np.float32), "v")
            n.attribute.append(helper.make_attribute(name, t))
        else:
            try:
                n.attribute.append(helper.make_attribute(name, val))
            except Exception:  # noqa: BLE001 - helper refuses some mixes: write it by hand
                a = onnx.AttributeProto(name=name, type=onnx.AttributeProto.INT, i=0)
                n.attribute.append(a)
        what += f" {n.name}.{name}={str(val)[:20]}"
    elif op == "in-shape":
        inp = g.input[0]
        dims = inp.type.tensor_type.shape.dim
        new = r.choice(([1, 20, 1], [1], [0, 20], [1, -3], [1, 2 ** 40], [1, 3, 2 ** 20, 2 ** 20],
                        [1, 3, 10], ["N", "C", 10, 10], [2 ** 62, 3, 10, 10], [1, 3, 1, 1],
                        [1, 3, 10, 10], [1, 20]))
        while len(dims):
            dims.pop()
        for v in new:
            d = dims.add()
            if isinstance(v, str):
                d.dim_param = v
            else:
                d.dim_value = v
        if r.random() < 0.1:
            inp.type.ClearField("tensor_type")
        what += f"={new}"
    elif op == "versions":
        if r.random() < 0.5:
            m.opset_import[0].version = r.choice((0, 1, 6, 10, 12, 99999, -1))
            what += f" opset={m.opset_import[0].version}"
        else:
            m.ir_version = r.choice((0, 1, 3, 99, -1))
            what += f" ir={m.ir_version}"
    elif op == "constant":
        dims = r.choice(([2 ** 40], [2 ** 20, 2 ** 20], [3], [-1], [2, 2]))
        t = TensorProto(name="cval", data_type=TensorProto.FLOAT, dims=dims,
                        raw_data=np.ones(4, np.float32).tobytes())
        node = helper.make_node("Constant", [], ["cst"], name="cst", value=t)
        g.node.insert(0, node)
        tgt = r.choice(list(g.node)[1:])
        if len(tgt.input) > 1:
            tgt.input[1] = "cst"
        what += f" dims={dims}"
    return m.SerializeToString(), what


MUTATE = {"onnx": onnx_mutate, "safetensors": safetensors_mutate, "graph-json": graph_json_mutate}
