"""Small models built in code for the bring-your-own-model tests (no download):
ONNX graphs with ``onnx.helper`` and a safetensors file. Seeded."""
from __future__ import annotations

import pathlib

import numpy as np


def _init(name: str, a: np.ndarray):
    from onnx import numpy_helper
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def _model(nodes, inits, in_name: str, in_shape, out_name: str, out_shape, name: str, opset=17):
    from onnx import TensorProto, helper
    shape = ["N"] + list(in_shape[1:])
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N"] + list(out_shape[1:]))],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="tests")
    m.ir_version = 8
    return m


def onnx_mlp(seed: int = 0):
    """20 -> Gemm(transB=1) 16 -> Relu -> Gemm(transB=0) 12 -> Relu -> MatMul 5 + Add (bias)."""
    from onnx import helper
    rng = np.random.default_rng(seed)
    w1, b1 = rng.normal(0, 0.3, (16, 20)), rng.normal(0, 0.1, 16)
    w2, b2 = rng.normal(0, 0.3, (16, 12)), rng.normal(0, 0.1, 12)     # (in, out): transB=0
    w3, b3 = rng.normal(0, 0.3, (12, 5)), rng.normal(0, 0.1, (1, 5))   # MatMul (in, out) + Add
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h1"], name="fc1", transB=1),
        helper.make_node("Relu", ["h1"], ["r1"], name="relu1"),
        helper.make_node("Gemm", ["r1", "w2", "b2"], ["h2"], name="fc2"),
        helper.make_node("Relu", ["h2"], ["r2"], name="relu2"),
        helper.make_node("MatMul", ["r2", "w3"], ["m3"], name="fc3"),
        helper.make_node("Add", ["m3", "b3"], ["y"], name="fc3_bias"),
    ]
    inits = [_init(n, a) for n, a in (("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2), ("w3", w3),
                                      ("b3", b3))]
    return _model(nodes, inits, "x", (1, 20), "y", (1, 5), "mlp")


def onnx_cnn(seed: int = 0):
    """(1,3,10,10): Conv 4@3x3 pad 1 + BatchNormalization (folded) + Relu, MaxPool 2/2,
    Conv 6@3x3 group 2 + Relu, GlobalAveragePool, Flatten, Gemm 5."""
    from onnx import helper
    rng = np.random.default_rng(seed)
    c1 = rng.normal(0, 0.3, (4, 3, 3, 3))
    bn = [rng.uniform(0.5, 1.5, 4), rng.normal(0, 0.1, 4), rng.normal(0, 0.1, 4), rng.uniform(0.5, 2, 4)]
    c2, cb2 = rng.normal(0, 0.3, (6, 2, 3, 3)), rng.normal(0, 0.1, 6)
    fw, fb = rng.normal(0, 0.3, (5, 6)), rng.normal(0, 0.1, 5)
    nodes = [
        helper.make_node("Conv", ["x", "c1"], ["a1"], name="conv1", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["a1", "bn_s", "bn_b", "bn_m", "bn_v"], ["n1"],
                         name="bn1", epsilon=1e-5),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "c2", "cb2"], ["a2"], name="conv2", kernel_shape=[3, 3],
                         group=2),
        helper.make_node("Relu", ["a2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1),
    ]
    inits = [_init(n, a) for n, a in (("c1", c1), ("bn_s", bn[0]), ("bn_b", bn[1]), ("bn_m", bn[2]),
                                      ("bn_v", bn[3]), ("c2", c2), ("cb2", cb2), ("fw", fw), ("fb", fb))]
    return _model(nodes, inits, "x", (1, 3, 10, 10), "y", (1, 5), "cnn")


def save_onnx(model, path: pathlib.Path) -> pathlib.Path:
    import onnx
    onnx.save_model(model, str(path))
    return path


def onnx_reference(model, x: np.ndarray) -> np.ndarray:
    """The ONNX reference evaluator's output (the oracle)."""
    from onnx.reference import ReferenceEvaluator
    return np.asarray(ReferenceEvaluator(model).run(None, {"x": x.astype(np.float32)})[0])


def safetensors_mlp(path: pathlib.Path, seed: int = 0, order_meta: bool = False) -> dict:
    """A PyTorch-style state dict (``fc1.weight``, ``fc1.bias`` ...) of a 24-32-10-10 MLP,
    with 60 % of fc1 already pruned to zero; returns the arrays written."""
    from safetensors.numpy import save_file
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.3, (32, 24)).astype(np.float32)
    w1[rng.random(w1.shape) < 0.6] = 0.0
    arrays = {"fc1.weight": w1, "fc1.bias": rng.normal(0, 0.1, 32).astype(np.float32),
              "fc2.weight": rng.normal(0, 0.3, (10, 32)).astype(np.float32),
              "fc2.bias": rng.normal(0, 0.1, 10).astype(np.float32),
              "fc10.weight": rng.normal(0, 0.3, (10, 10)).astype(np.float32)}
    save_file(arrays, str(path), metadata={"eie.layers": "fc1,fc2,fc10"} if order_meta else None)
    return arrays
