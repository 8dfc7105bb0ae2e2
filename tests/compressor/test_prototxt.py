"""compressor.caffe.textformat and compressor.caffe.prototxt: text-format parsing,
network shape inference, clear errors."""
import pytest

from compressor.caffe.prototxt import load_net, parse_net, pool_out_size
from compressor.caffe.textformat import Enum, Message, parse_text
from compressor.errors import PrototxtError

FIRE = """
# a tiny fire-module network
name: "tiny"
input: "data"
input_dim: 1
input_dim: 3
input_dim: 17
input_dim: 17
layer {
  name: "conv1"   type: "Convolution"
  bottom: "data"  top: "conv1"
  convolution_param { num_output: 8 kernel_size: 3 stride: 2 }
}
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer {
  name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 }
}
layer { name: "f/squeeze" type: "Convolution" bottom: "pool1" top: "sq"
        convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "f/e1" type: "Convolution" bottom: "sq" top: "e1"
        convolution_param { num_output: 6 kernel_size: 1 } }
layer { name: "f/e3" type: "Convolution" bottom: "sq" top: "e3"
        convolution_param { num_output: 6 kernel_size: 3 pad: 1 } }
layer { name: "f/concat" type: "Concat" bottom: "e1" bottom: "e3" top: "cat" }
layer { name: "drop" type: "Dropout" bottom: "cat" top: "cat"
        dropout_param { dropout_ratio: 0.5 } }
layer { name: "g" type: "Convolution" bottom: "cat" top: "g"
        convolution_param { num_output: 4 kernel_h: 1 kernel_w: 3 group: 2 pad_w: 1 } }
layer { name: "gap" type: "Pooling" bottom: "g" top: "gap"
        pooling_param { pool: AVE global_pooling: true } }
layer { name: "ip" type: "InnerProduct" bottom: "gap" top: "ip"
        inner_product_param { num_output: 5 } }
layer { name: "prob" type: "Softmax" bottom: "ip" top: "prob" }
"""


def test_parse_text_scalars_blocks_repeats_comments():
    m = parse_text('a: 1  # comment\nb: -2.5e1 c: "x\\"y" d: MAX e: true\n'
                   'blk { k: 1 k: 2 inner: { z: "q" } }\nblk { }\nlst: [1, 2, 3]\n')
    assert m.all("a") == [1] and isinstance(m.one("a"), int)
    assert m.one("b") == -25.0
    assert m.one("c") == 'x"y'
    assert m.one("d") == "MAX" and isinstance(m.one("d"), Enum)
    assert m.one("e") is True
    blks = m.all("blk")
    assert len(blks) == 2 and isinstance(blks[0], Message)
    assert blks[0].all("k") == [1, 2]
    assert blks[0].one("inner").one("z") == "q"
    assert blks[0].line == 3
    assert m.all("lst") == [1, 2, 3]
    assert m.all("missing") == [] and m.one("missing", 7) == 7


def test_repeated_field_read_as_one_is_an_error():
    with pytest.raises(PrototxtError, match="given 2 times"):
        parse_text("k: 1\nk: 2").one("k")


@pytest.mark.parametrize("text, match", [
    ("a {\n b: 1\n", r"line 1: block opened here is never closed"),
    ("a: 1\n}\n", r"line 2: '\}' without a matching"),
    ("a: 1\nb 2\n", r"line 2: expected ':' or '\{'"),
    ("a: 1\n\n  b: @\n", r"line 3: unknown syntax"),
    ("a: \"unterminated\n", r"line 1: unknown syntax"),
    ("a:\n", r"line 2: expected a value"),
    ("{ a: 1 }", r"line 1: expected a field name"),
])
def test_syntax_errors_name_the_line(text, match):
    with pytest.raises(PrototxtError, match=match):
        parse_text(text)


def test_fire_network_shapes():
    net = parse_net(parse_text(FIRE))
    assert net.name == "tiny"
    assert net.inputs == {"data": (1, 3, 17, 17)}
    shapes = net.blob_shapes
    assert shapes["conv1"] == (1, 8, 8, 8)        # floor((17-3)/2)+1
    assert shapes["pool1"] == (1, 8, 4, 4)        # ceil((8-3)/2)+1 = 4 (Caffe ceil mode)
    assert shapes["sq"] == (1, 4, 4, 4)
    assert shapes["e3"] == (1, 6, 4, 4)
    assert shapes["cat"] == (1, 12, 4, 4)
    assert shapes["g"] == (1, 4, 4, 4)
    assert shapes["gap"] == (1, 4, 1, 1)
    assert shapes["ip"] == (1, 5) and shapes["prob"] == (1, 5)
    w = {lay.name: lay.weight_shape for lay in net.weight_layers}
    assert w == {"conv1": (8, 3, 3, 3), "f/squeeze": (4, 8, 1, 1), "f/e1": (6, 4, 1, 1),
                 "f/e3": (6, 4, 3, 3), "g": (4, 6, 1, 3), "ip": (5, 4)}
    g = net.layer("g").conv
    assert g.kernel == (1, 3) and g.pad == (0, 1) and g.group == 2
    assert net.layer("pool1").pool.method == "MAX"
    assert net.layer("gap").pool.global_pooling
    assert net.layer("f/concat").concat_axis == 1
    assert [lay.type for lay in net.layers][:3] == ["Convolution", "ReLU", "Pooling"]


def test_caffe_pool_ceil_mode_and_pad_clip():
    assert pool_out_size(111, 3, 2, 0) == 55
    assert pool_out_size(55, 3, 2, 0) == 27
    assert pool_out_size(27, 3, 2, 0) == 13
    assert pool_out_size(6, 3, 2, 0) == 3      # ceil((6-3)/2)+1
    assert pool_out_size(4, 2, 2, 1) == 3      # ceil(4/2)+1 = 3, last window starts at 4 < 4+1


def test_input_shape_and_input_layer_forms():
    a = parse_net(parse_text('input: "d" input_shape { dim: 2 dim: 3 dim: 5 dim: 5 }\n'
                             'layer { name: "c" type: "Convolution" bottom: "d" top: "c" '
                             'convolution_param { num_output: 2 kernel_size: 5 } }'))
    assert a.blob_shapes["c"] == (2, 2, 1, 1)
    b = parse_net(parse_text('layer { name: "in" type: "Input" top: "d" '
                             'input_param { shape { dim: 1 dim: 4 dim: 3 dim: 3 } } }\n'
                             'layer { name: "fc" type: INNER_PRODUCT bottom: "d" top: "fc" '
                             'inner_product_param { num_output: 7 } }'))
    assert b.inputs == {"d": (1, 4, 3, 3)}
    assert b.layer("fc").type == "InnerProduct" and b.layer("fc").weight_shape == (7, 36)


@pytest.mark.parametrize("text, match", [
    (FIRE.replace('bottom: "e3"', 'bottom: "e5"'), r"layer 'f/concat' .*bottom blob 'e5' is never produced"),
    (FIRE.replace('type: "Softmax"', 'type: "Frobnicate"'), r"layer 'prob'.*'Frobnicate' is not supported"),
    (FIRE.replace("num_output: 8 kernel_size: 3", "num_output: 8"), r"layer 'conv1'.*no kernel_size"),
    (FIRE.replace("group: 2", "group: 5"), r"layer 'g'.*not divisible by group"),
    (FIRE.replace("input_dim: 17\ninput_dim: 17", "input_dim: 17"), r"input_dim"),
    (FIRE.replace('name: "relu1"', 'name: "conv1"'), r"duplicate layer name 'conv1'"),
])
def test_graph_errors_name_the_layer(text, match):
    with pytest.raises(PrototxtError, match=match):
        parse_net(parse_text(text))


def test_load_net_names_the_file(tmp_path):
    p = tmp_path / "bad.prototxt"
    p.write_text("layer {\n name: 'x'\n")
    with pytest.raises(PrototxtError, match=r"bad\.prototxt: line 1"):
        load_net(p)
    with pytest.raises(PrototxtError, match="cannot read"):
        load_net(tmp_path / "missing.prototxt")


def test_deep_nesting_is_refused_at_its_line_without_reading_on():
    """Issue 23 (found by the prototxt fuzz target): 200,000 nested blocks took 345 MB and
    seconds; now refused at the 101st level, and an early syntax error is reported
    without tokenizing the rest of the file (whose own error, later, is not reached)."""
    from compressor.caffe.textformat import MAX_DEPTH
    assert MAX_DEPTH == 100
    parse_text("a { " * 100 + "}" * 100)                  # 100 levels: fine
    with pytest.raises(PrototxtError, match=r"^line 2: blocks nested deeper than 100 levels$"):
        parse_text("x: 1\n" + "a { " * 200_000 + "}" * 200_000)
    with pytest.raises(PrototxtError, match=r"^line 1: expected a field name, found '\{'$"):
        parse_text("{" * (4 << 20) + "\n@")
