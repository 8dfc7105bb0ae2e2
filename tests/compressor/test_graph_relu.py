"""compressor.graph.relu.eie_relu: the one rule for when EIE's ReLU unit applies the
activation after a weight layer (the value the layer writes has exactly one reader, a
slope-0 ReLU or a Clip with lower bound 0), with in-place layers tracked by value."""
from __future__ import annotations

import pathlib

import pytest

from compressor.caffe.prototxt import load_net
from compressor.graph import EieRelu, NetBuilder, eie_relu
from compressor.graph.relu import value_readers

SQUEEZENET = (pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "squeezenet"
              / "SqueezeNet_deploy.prototxt")


def _builder():
    b = NetBuilder("t", (1, 4, 8, 8))
    return b, b.conv("c1", b.input, 8, kernel=3, pad=1)


def test_in_place_relu_with_later_readers_is_on():
    b, x = _builder()
    b.relu("r1", x, top=x)                  # in place: later readers of "c1" read the ReLU's value
    b.conv("c2", x, 8, kernel=1)
    b.pool("p", x, "MAX", kernel=2, stride=2)
    net = b.build()
    assert eie_relu(net, net.layer("c1")) == EieRelu(True, "r1", None)
    assert [r.name for r in value_readers(net, net.layer("c1"))] == ["r1"]


def test_separate_relu_plus_another_reader_is_off():
    b, x = _builder()
    b.relu("r1", x)
    b.conv("c2", x, 8, kernel=1)            # reads the pre-ReLU value too
    net = b.build()
    assert eie_relu(net, net.layer("c1")) == EieRelu(False, None, None)


def test_separate_relu_as_only_reader_is_on():
    b, x = _builder()
    y = b.relu("r1", x)
    b.conv("c2", y, 8, kernel=1)
    net = b.build()
    assert eie_relu(net, net.layer("c1")) == EieRelu(True, "r1", None)


def test_two_relus_reading_is_off():
    b, x = _builder()
    b.relu("r1", x)
    b.relu("r2", x)
    net = b.build()
    assert not eie_relu(net, net.layer("c1")).on_eie


def test_reader_before_an_in_place_relu_counts():
    b, x = _builder()
    b.pool("p", x, "MAX", kernel=2, stride=2)   # reads c1's own value
    b.relu("r1", x, top=x)
    net = b.build()
    assert [r.name for r in value_readers(net, net.layer("c1"))] == ["p", "r1"]
    assert not eie_relu(net, net.layer("c1")).on_eie


def test_relu6_is_on_with_host_clip():
    b, x = _builder()
    b.relu6("r6", x)
    net = b.build()
    assert eie_relu(net, net.layer("c1")) == EieRelu(True, "r6", 6.0)


def test_in_place_clip_zero_lower_bound_is_on():
    b, x = _builder()
    b.clip("cl", x, 0.0, 4.0, top=x)
    b.conv("c2", x, 8, kernel=1)
    net = b.build()
    assert eie_relu(net, net.layer("c1")) == EieRelu(True, "cl", 4.0)


@pytest.mark.parametrize("add", [
    lambda b, x: b.clip("a", x, -1.0, 1.0),        # lower bound not 0
    lambda b, x: b.relu("a", x, negative_slope=0.1),  # leaky
    lambda b, x: b.prelu("a", x, 0.0),             # PReLU, even with slope 0
    lambda b, x: b.eltwise("a", [x, b.conv("c0", b.input, 8, kernel=3, pad=1)]),
    lambda b, x: b.pool("a", x, "MAX", kernel=2, stride=2),
])
def test_other_single_readers_are_off(add):
    b, x = _builder()
    add(b, x)
    net = b.build()
    assert eie_relu(net, net.layer("c1")) == EieRelu(False, None, None)


def test_last_layer_without_reader_is_off():
    b, x = _builder()
    y = b.relu("r1", x)
    b.fc("fc", y, 10)
    net = b.build()
    assert eie_relu(net, net.layer("c1")).on_eie
    assert eie_relu(net, net.layer("fc")) == EieRelu(False, None, None)


def test_overwritten_value_has_no_reader():
    b, x = _builder()
    b.conv("c2", b.input, 8, kernel=3, pad=1, top=x)   # writes "c1" again without reading it
    b.relu("r1", x)
    net = b.build()
    assert value_readers(net, net.layer("c1")) == []
    assert not eie_relu(net, net.layer("c1")).on_eie
    assert eie_relu(net, net.layer("c2")) == EieRelu(True, "r1", None)


def test_layer_found_by_name_or_refused():
    b, x = _builder()
    b.relu("r1", x)
    net = b.build()
    twin, _ = _builder()                 # an equal layer object from another build
    assert eie_relu(net, twin.build().layer("c1")).absorbed == "r1"
    b2 = NetBuilder("u", (1, 4, 8, 8))
    b2.conv("other", b2.input, 8, kernel=1)
    with pytest.raises(KeyError, match="'other'"):
        value_readers(net, b2.build().layer("other"))


@pytest.mark.skipif(not SQUEEZENET.exists(), reason="SqueezeNet prototxt not present")
def test_squeezenet_in_place_relus_all_on():
    net = load_net(SQUEEZENET)
    convs = net.weight_layers
    assert len(convs) == 26 and all(c.type == "Convolution" for c in convs)
    for c in convs:
        r = eie_relu(net, c)
        assert r.on_eie and r.host_clip is None, c.name
        relu = net.layer(r.absorbed)
        assert relu.type == "ReLU" and relu.bottoms == relu.tops == c.tops   # in place
