"""The numpy layers of the LeNet trainer: dense, convolution, pooling, ReLU, reshapes,
softmax cross-entropy, and the sequential :class:`Network` that chains them.

Layout conventions follow :mod:`compressor.model`: a fully connected weight is
``(out, in)`` and ``y = x @ W.T + b``; a convolution weight is ``(out, in, kh, kw)``
(stride 1, no padding, as in Caffe's LeNet-5) and images are ``(n, c, h, w)``. Everything
is float32; every matrix product accumulates in float64 and is rounded to float32
(:func:`compressor.training.determinism.matmul`), so the result does not depend on the
BLAS kernel or thread count. The training loop (masked SGD, tied codebooks) is
:mod:`compressor.training.nn`.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .determinism import matmul, pinned_blas

F32 = np.float32


# ------------------------------------------------------------------------------ layers
class Layer:
    """Base class. ``params``/``grads`` map ``"weight"``/``"bias"`` to arrays."""

    name: str = ""
    kind: str | None = None  # "fc" or "conv" for layers with weights
    has_bias: bool = True    # False: params["bias"] is a placeholder of zeros (not stored/counted)

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.need_input_grad = True

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray | None:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        shapes = {k: v.shape for k, v in self.params.items()}
        return f"{type(self).__name__}({self.name!r}, {shapes})"


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int) -> np.ndarray:
    """Xavier/Glorot uniform init (Caffe's "xavier" filler used by the LeNet models)."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(F32)


class Dense(Layer):
    """Fully connected: ``y = x @ W.T + b`` with ``W`` of shape ``(out, in)``."""

    kind = "fc"

    def __init__(self, n_in: int, n_out: int, *, name: str = "", rng: np.random.Generator | None = None) -> None:
        super().__init__(name)
        rng = rng if rng is not None else np.random.default_rng(0)
        self.params = {"weight": _uniform(rng, (n_out, n_in), n_in, n_out),
                       "bias": np.zeros(n_out, F32)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        if train:
            self._x = x
        return matmul(x, self.params["weight"].T) + self.params["bias"]

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        x = self._x
        self.grads["weight"][...] = matmul(dy.T, x)
        self.grads["bias"][...] = dy.sum(axis=0)
        return matmul(dy, self.params["weight"]) if self.need_input_grad else None


class Conv2D(Layer):
    """2-D convolution (cross-correlation), stride 1, no padding, by im2col + matmul.

    ``W`` is ``(out, in, kh, kw)``; an input ``(n, in, h, w)`` gives
    ``(n, out, h - kh + 1, w - kw + 1)``.
    """

    kind = "conv"

    def __init__(self, c_in: int, c_out: int, k: int, *, name: str = "",
                 rng: np.random.Generator | None = None) -> None:
        super().__init__(name)
        rng = rng if rng is not None else np.random.default_rng(0)
        self.params = {"weight": _uniform(rng, (c_out, c_in, k, k), c_in * k * k, c_out * k * k),
                       "bias": np.zeros(c_out, F32)}
        self.grads = {k_: np.zeros_like(v) for k_, v in self.params.items()}
        self._cols: np.ndarray | None = None
        self._xshape: tuple[int, ...] | None = None

    @staticmethod
    def im2col(x: np.ndarray, kh: int, kw: int) -> np.ndarray:
        """``(n, c, h, w)`` -> ``(n * oh * ow, c * kh * kw)`` patch matrix (C order of W)."""
        n, c, h, w = x.shape
        win = sliding_window_view(x, (kh, kw), axis=(2, 3))  # (n, c, oh, ow, kh, kw)
        oh, ow = h - kh + 1, w - kw + 1
        return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(n * oh * ow, c * kh * kw)

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        w = self.params["weight"]
        co, ci, kh, kw = w.shape
        n, _, h, wd = x.shape
        oh, ow = h - kh + 1, wd - kw + 1
        cols = self.im2col(x, kh, kw)
        y = matmul(cols, w.reshape(co, -1).T) + self.params["bias"]
        if train:
            self._cols, self._xshape = cols, x.shape
        return np.ascontiguousarray(y.reshape(n, oh, ow, co).transpose(0, 3, 1, 2))

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        w = self.params["weight"]
        co, ci, kh, kw = w.shape
        n, _, h, wd = self._xshape
        oh, ow = h - kh + 1, wd - kw + 1
        dcol = dy.transpose(0, 2, 3, 1).reshape(-1, co)  # (n*oh*ow, co)
        self.grads["weight"][...] = matmul(dcol.T, self._cols).reshape(w.shape)
        self.grads["bias"][...] = dcol.sum(axis=0)
        if not self.need_input_grad:
            return None
        dpatch = matmul(dcol, w.reshape(co, -1)).reshape(n, oh, ow, ci, kh, kw)
        dx = np.zeros((n, ci, h, wd), dpatch.dtype)
        for i in range(kh):  # col2im: scatter-add each kernel offset's contribution
            for j in range(kw):
                dx[:, :, i:i + oh, j:j + ow] += dpatch[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        return dx


class MaxPool2D(Layer):
    """Non-overlapping ``k x k`` max pooling (stride ``k``); ties go to the first maximum."""

    def __init__(self, k: int = 2, *, name: str = "") -> None:
        super().__init__(name)
        self.k = k
        self._arg: np.ndarray | None = None
        self._xshape: tuple[int, ...] | None = None

    def _blocks(self, x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        k = self.k
        if h % k or w % k:
            raise ValueError(f"{self.name}: input {h}x{w} is not divisible by pool size {k}")
        b = x.reshape(n, c, h // k, k, w // k, k).transpose(0, 1, 2, 4, 3, 5)
        return b.reshape(n, c, h // k, w // k, k * k)

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        b = self._blocks(x)
        arg = b.argmax(axis=-1)
        if train:
            self._arg, self._xshape = arg, x.shape
        return np.take_along_axis(b, arg[..., None], axis=-1)[..., 0]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        n, c, h, w = self._xshape
        k = self.k
        b = np.zeros((n, c, h // k, w // k, k * k), dy.dtype)
        np.put_along_axis(b, self._arg[..., None], dy[..., None], axis=-1)
        return b.reshape(n, c, h // k, w // k, k, k).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)


class ReLU(Layer):
    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        y = np.maximum(x, 0)
        if train:
            self._pos = x > 0
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * self._pos


class Flatten(Layer):
    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        if train:
            self._shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape(self._shape)


class Reshape(Layer):
    """Reshape flat inputs ``(n, prod(shape))`` to ``(n, *shape)`` (784 -> 1x28x28)."""

    def __init__(self, shape: tuple[int, ...], *, name: str = "") -> None:
        super().__init__(name)
        self.shape = tuple(shape)

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        if train:
            self._in = x.shape
        return x.reshape((len(x),) + self.shape)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape(self._in)


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient w.r.t. the logits (computed in float64:
    numpy's float32 ``exp`` has CPU-specific SIMD versions; the gradient is rounded to the
    logits' dtype)."""
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    ez = np.exp(z)
    s = ez.sum(axis=1, keepdims=True)
    logp = z - np.log(s)
    n = len(labels)
    loss = -float(logp[np.arange(n), labels].mean())
    grad = ez / s
    grad[np.arange(n), labels] -= 1.0
    return loss, (grad / n).astype(logits.dtype, copy=False)


# ----------------------------------------------------------------------------- network
class Network:
    """A sequential stack of layers; the weighted ones are addressed by name."""

    def __init__(self, layers: list[Layer], name: str = "net") -> None:
        self.layers = layers
        self.name = name
        names = [l.name for l in self.weighted_layers()]
        if len(set(names)) != len(names) or "" in names:
            raise ValueError(f"weighted layers need unique non-empty names, got {names}")
        # The first weighted layer does not need to propagate into the data.
        for layer in layers:
            if layer.params:
                layer.need_input_grad = False
                break

    def weighted_layers(self) -> list[Layer]:
        return [l for l in self.layers if l.params]

    def layer(self, name: str) -> Layer:
        for l in self.weighted_layers():
            if l.name == name:
                return l
        raise KeyError(f"{self.name}: no layer {name!r}; layers are {[l.name for l in self.weighted_layers()]}")

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        x = np.asarray(x, F32)
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def backward(self, dlogits: np.ndarray) -> None:
        d = dlogits
        for layer in reversed(self.layers):
            d = layer.backward(d)
            if d is None:
                break

    def predict(self, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
        with pinned_blas():
            return np.concatenate([self.forward(x[i:i + batch_size]).argmax(axis=1)
                                   for i in range(0, len(x), batch_size)])

    def accuracy(self, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
        """Top-1 accuracy in percent."""
        return 100.0 * float(np.mean(self.predict(x, batch_size) == y))

    def get_weights(self) -> dict[str, np.ndarray]:
        """Named copies: ``"<layer>"`` -> weight, ``"<layer>.bias"`` -> bias (the npz convention).

        A layer without a bias (``has_bias`` false) contributes no ``.bias`` entry."""
        out = {}
        for l in self.weighted_layers():
            out[l.name] = l.params["weight"].copy()
            if l.has_bias:
                out[f"{l.name}.bias"] = l.params["bias"].copy()
        return out

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        for l in self.weighted_layers():
            w = np.asarray(weights[l.name], F32)
            if w.shape != l.params["weight"].shape:
                raise ValueError(f"{l.name}: weight shape {w.shape}, network expects {l.params['weight'].shape}")
            l.params["weight"][...] = w
            if f"{l.name}.bias" in weights:
                l.params["bias"][...] = np.asarray(weights[f"{l.name}.bias"], F32)

    def n_params(self) -> int:
        return sum(v.size for l in self.weighted_layers() for v in l.params.values())
