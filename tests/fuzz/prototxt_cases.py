"""Seeds and mutations of the Caffe prototxt (``compressor.caffe.prototxt.load_net``,
issue 23): the network description ``eie-compress`` and the ``.net`` reader take.

Seeds: the published SqueezeNet deploy prototxt when ``../shared/data/squeezenet`` holds
it, and small networks in the forms the reader knows: ``input:``/``input_dim:``,
``input_shape { dim }``, an ``Input`` layer with its ``input_param``, the deprecated
``layers { type: CONVOLUTION }`` blocks, a fire module (Concat, Dropout, grouped and
rectangular convolutions, global pooling, Softmax).

Mutations: bytes (flipped, truncated, spliced), tokens inserted (braces, colons, quotes,
backslashes, ``<``, ``[``, NUL, a BOM, ``nan``, ``1e999``), nesting 10 to 200,000 deep
(blocks and lists), numbers replaced by edge values (0, -1, 2**31, 2**63, 10**5000
digits, 1e308, NaN, strings, booleans, enums), strings left unterminated or given bad
escapes, unknown fields and blocks, enum values (pool ``MIN``, ``3``, ``"MAX"``; V1 types
in new blocks), fields repeated (``kernel_size``, ``num_output``, ``name``, ``top``,
``input_dim``), lines and whole layer blocks duplicated, dropped or swapped, and (rarely)
networks of 20,000 layers (reading time must stay linear). The format has no checksum: a
mutated network read back differently is "accepted, expected"; the bad outcomes are
tracebacks, hangs and huge allocations.
"""
from __future__ import annotations

import random
import re

from tests.compressor.test_prototxt import FIRE   # the fire module the reader's tests use

PROTOTXT_FORMATS = ("prototxt",)

TINY = """name: "tiny"
input: "data"
input_dim: 1 input_dim: 2 input_dim: 6 input_dim: 6
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 5 kernel_size: 3 stride: 1 pad: 0 } }
layer { name: "relu_conv1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ip1" type: "InnerProduct" bottom: "pool1" top: "ip1"
        inner_product_param { num_output: 7 } }
layer { name: "fc2" type: "InnerProduct" bottom: "ip1" top: "fc2"
        inner_product_param { num_output: 3 bias_term: false } }
"""
SHAPED = """input: "d" input_shape { dim: 2 dim: 3 dim: 5 dim: 5 }
layer { name: "c" type: "Convolution" bottom: "d" top: "c"
        convolution_param { num_output: 2 kernel_h: 3 kernel_w: 5 pad_h: 1 } }
layer { name: "lrelu" type: "ReLU" bottom: "c" top: "c" relu_param { negative_slope: 0.1 } }
layer { name: "ave" type: "Pooling" bottom: "c" top: "p" pooling_param { pool: AVE global_pooling: true } }
"""
INPUT_LAYER = """layer { name: "in" type: "Input" top: "d"
        input_param { shape { dim: 1 dim: 4 dim: 3 dim: 3 } } }
layer { name: "fc" type: INNER_PRODUCT bottom: "d" top: "fc" inner_product_param { num_output: 7 } }
layer { name: "sm" type: "Softmax" bottom: "fc" top: "prob" }
"""
V1 = """name: 'v1'
input: 'data' input_dim: 1 input_dim: 1 input_dim: 8 input_dim: 8
layers { name: 'conv1' type: CONVOLUTION bottom: 'data' top: 'conv1'
         convolution_param { num_output: 4 kernel_size: 3 } }
layers { name: 'relu1' type: RELU bottom: 'conv1' top: 'conv1' }
layers { name: 'ip1' type: INNER_PRODUCT bottom: 'conv1' top: 'ip1'
         inner_product_param { num_output: 10 } }
"""

TOKENS = ("{", "}", ":", ": ", "#", '"', "'", "\\", "<", ">", "[", "]", ";", ",", "\n", "\x00",
          "\ufeff", "nan", "-inf", "1e999", "0x10", "-", "+", "layer { }", 'layer { name: "x" }',
          "input_dim: 0 ", "\\x", '"\\q"', "'\\", "\t", "\x85", "é", "\ud800")
NUMBERS = ("0", "-1", "1", "2147483648", "9223372036854775808", "9" * 5000, "1e308", "-1e308",
           "3.5", "nan", "inf", '"7"', "true", "MAX", "1e999", "0.0", "16777217", "65536")
ENUMS = ("MIN", "3", '"MAX"', "max", "STOCHASTIC", "CONVOLUTION", '"CONVOLUTION"', "RELU", "Enum.X")
UNKNOWN = ("foo: 1 ", "bogus_param { x: 1 } ", "engine: CAFFE ", "param { lr_mult: 1 } ",
           'include { phase: TEST } ', "blobs_lr: 1 ", "transform_param { scale: 0.1 } ")
REPEATED = ("kernel_size", "num_output", "name", "top", "bottom", "input_dim", "stride", "pad",
            "pool", "type", "dim", "group", "input")


def build(formats, squeezenet_dir=None) -> dict:
    """The seeds of ``prototxt`` when asked for (SqueezeNet when ``squeezenet_dir`` holds it)."""
    if "prototxt" not in formats:
        return {}
    from tests.fuzz.corpus import Seed
    seeds = [Seed(name, text.encode(), ".prototxt", "prototxt")
             for name, text in (("tiny", TINY), ("shaped", SHAPED), ("input-layer", INPUT_LAYER),
                                ("v1", V1), ("fire", FIRE))]
    sq = squeezenet_dir / "SqueezeNet_deploy.prototxt" if squeezenet_dir else None
    if sq is not None and sq.is_file():
        seeds.append(Seed("squeezenet", sq.read_bytes(), ".prototxt", "prototxt"))
    return {"prototxt": seeds}


def _layer_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every top-level ``layer {...}``/``layers {...}`` block."""
    spans, depth, start = [], 0, None
    for m in re.finditer(r"\blayers?\s*\{|\{|\}", text):
        if m.group().startswith("layer") and depth == 0:
            start, depth = m.start(), 1
        elif m.group() == "{":
            depth += 1 if depth else 0
        elif depth:
            depth -= 1
            if depth == 0 and start is not None:
                spans.append((start, m.end()))
    return spans


def _scaled(r: random.Random, n: int = 20_000) -> tuple[str, str]:
    kind = r.choice(("relu-chain", "same-name", "fan-in"))
    head = 'input: "data" input_dim: 1 input_dim: 4\n'
    if kind == "relu-chain":            # n in-place ReLUs on one blob
        body = "".join(f'layer {{ name: "r{i}" type: "ReLU" bottom: "data" top: "data" }}\n'
                       for i in range(n))
    elif kind == "same-name":           # n layers of one name: refused at the second
        body = 'layer { name: "r" type: "ReLU" bottom: "data" top: "data" }\n' * n
    else:                               # one Concat of n bottoms
        body = 'layer { name: "c" type: "Concat" ' + 'bottom: "data" ' * n + 'top: "c" }\n'
    return head + body, kind


def prototxt_mutate(r: random.Random, seed, others, generic) -> tuple[bytes, str]:
    """One mutation of a prototxt: (data, what)."""
    if r.random() < 0.3:
        return generic(r, seed.data, others)
    text = seed.data.decode("utf-8")
    op = r.choice(("token", "token", "deep", "number", "number", "string", "unknown", "enum",
                   "repeat", "lines", "layers", "scaled"))
    if op == "token":
        i = r.randrange(len(text) + 1)
        tok = r.choice(TOKENS)
        out = text[:i] + tok + text[i:]
        return out.encode("utf-8", "surrogatepass"), f"prototxt:token {tok!r}@{i}"
    if op == "deep":
        n = r.choice((10, 100, 1000, 20_000, 200_000))
        style = r.choice(("block", "colon-block", "list", "layer"))
        if style == "block":
            snippet = "a { " * n + "}" * n
        elif style == "colon-block":
            snippet = "a: { " * n + "} " * n
        elif style == "list":
            snippet = "a: " + "[" * n + "1" + "]" * n
        else:
            snippet = 'layer { name: "deep" type: "ReLU" ' + "x { " * n + "}" * n + "}"
        i = r.choice((0, len(text)))
        return (text[:i] + "\n" + snippet + "\n" + text[i:]).encode(), f"prototxt:deep-{style}-{n}"
    if op == "number":
        nums = list(re.finditer(r"(?<![\w.])[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?(?![\w.])", text))
        if not nums:
            return seed.data, "prototxt:none"
        m = r.choice(nums)
        v = r.choice(NUMBERS)
        return (text[:m.start()] + v + text[m.end():]).encode(), f"prototxt:number {m.group()}={v[:12]}"
    if op == "string":
        strs = list(re.finditer(r"\"[^\"\n]*\"|'[^'\n]*'", text))
        m = r.choice(strs)
        sub = r.choice(("unterminated", "escape", "empty", "long", "concat"))
        new = {"unterminated": m.group()[:-1], "escape": m.group()[:-1] + "\\z" + m.group()[-1],
               "empty": '""', "long": '"' + "n" * 100_000 + '"',
               "concat": m.group() + ' "x"'}[sub]
        return (text[:m.start()] + new + text[m.end():]).encode(), f"prototxt:string-{sub}"
    if op == "unknown":
        spots = [m.end() for m in re.finditer(r"\{", text)] + [0, len(text)]
        i = r.choice(spots)
        u = r.choice(UNKNOWN)
        return (text[:i] + " " + u + text[i:]).encode(), f"prototxt:unknown {u.strip()[:20]}"
    if op == "enum":
        m = re.search(r"pool: \w+|type: \"?\w+\"?", text[r.randrange(len(text) // 2):])
        if not m:
            return seed.data, "prototxt:none"
        old = m.group()
        key = old.split(":")[0]
        new = f"{key}: {r.choice(ENUMS)}"
        return text.replace(old, new, 1).encode(), f"prototxt:enum {new}"
    if op == "repeat":
        key = r.choice(REPEATED)
        found = list(re.finditer(rf"\b{key}: (\"[^\"]*\"|'[^']*'|\S+)", text))
        if not found:
            return seed.data, "prototxt:none"
        m = r.choice(found)
        k = r.choice((1, 2, 5))
        rep = m.group() + (" " + m.group()) * k
        if r.random() < 0.5 and key in ("kernel_size", "num_output", "stride", "dim", "input_dim"):
            rep = m.group() + f" {key}: {r.choice(('3', '0', '7'))}" * k
        return (text[:m.start()] + rep + text[m.end():]).encode(), f"prototxt:repeat {key}x{k + 1}"
    if op == "lines":
        from tests.fuzz.corpus import edit_lines
        lines = text.splitlines(keepends=True)
        sub = edit_lines(r, lines, ("dup", "drop", "swap"))
        return "".join(lines).encode(), f"prototxt:lines-{sub}"
    if op == "layers":
        spans = _layer_spans(text)
        if len(spans) < 2:
            return seed.data, "prototxt:none"
        from tests.fuzz.corpus import edit_lines
        blocks = [text[a:b] for a, b in spans]
        sub = edit_lines(r, blocks, ("dup", "drop", "swap"))
        head = text[:spans[0][0]]
        return (head + "\n".join(blocks) + "\n").encode(), f"prototxt:layers-{sub}"
    if r.random() < 0.3:
        out, kind = _scaled(r)
        return out.encode(), f"prototxt:scaled-{kind}"
    return seed.data, "prototxt:none"
