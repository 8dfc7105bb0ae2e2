"""A model's inputs from files, folders and the package images, checked against its graph.

Shared by ``eie-simulate --model --input`` (the inputs run) and ``eie-compress import
--calibration`` (the calibration set); it lives in :mod:`compressor` because
``compressor/`` never imports ``eie_sim/`` (:mod:`eie_sim.apps.images` re-exports the
package images from here).

**Layout.** A graph's input blob is ``(N, C, ...)`` (channels first: NCHW for images).
An importer that folded an exporter's layout transpose into the weights records the
layout the *original* model takes: on the graph (``Net.input_layouts``, a permutation with
``graph_input = given.transpose(perm)``), or as text in ``meta["input_layout"]`` (e.g.
``"NHWC"`` for a Keras/tf2onnx graph; :func:`input_layout`). The user then gives inputs in that layout
(``(1, 48, 48, 3)``), which are transposed to the graph's. Without a recorded layout the
graph's declared shape is the one expected. An input whose shape is not the expected one
is refused with the expected shape and layout (:class:`~compressor.errors.InputError`);
nothing is ever silently reshaped. Accepted: exactly the expected shape, the expected
shape without its batch dimension of 1, or a stack ``(K, ...)`` of K inputs when the
batch dimension is 1 (K rows). An input that an ``Embed`` layer reads holds token ids
(:func:`compressor.graph.forward.token_inputs`): they must be integers within the table
(:func:`~compressor.graph.forward.check_token_ids`, refused with the valid range).

**Files** (:func:`load_inputs`): ``.npy`` (one input or a stack), ``.npz`` (every member
an input, in archive order, labelled ``file:member``), an image (``.png``, ``.jpg``,
``.jpeg``, ``.bmp``, ``.gif``, ``.tif``, ``.tiff``) or a folder (its files with those
suffixes, sorted by name; others are ignored and counted).

**Images** (:func:`image_to_input`) for a 4-D input with 1 or 3 channels, the way the
authors' Caffe SqueezeNet takes them (:func:`caffe_input`): RGB (grey repeated, alpha
dropped), shorter side resized (bilinear, anti-aliased) to ``round(S x 256 / 227)`` with
``S`` the larger of the input's height and width (256 for SqueezeNet's 227), centre crop
to the input's height x width, then by ``preprocess``:

* ``"caffe"`` (default): BGR, 0..255 minus the ImageNet means ``[104, 117, 123]``; a
  1-channel input gets the mean of R, G, B minus 114.67 (the mean of the three means);
* ``"unit"``: RGB scaled to 0..1 (a 1-channel input: the mean of R, G, B).

**Package images** (:data:`IMAGES`): natural photographs shipped inside scikit-image and
scikit-learn (no download; ``pip install .[bench]``), the ones the chained SqueezeNet
run uses, and the default calibration set of an image model (:func:`package_images`).
"""
from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from .errors import ForwardError, InputError
from .graph.forward import check_token_ids, token_inputs
from .graph.net import Net
from .npzio import read_npy, read_npz

__all__ = ["IMAGES", "DEFAULT_IMAGES", "MEAN_BGR", "IMAGE_SUFFIXES", "PREPROCESS",
           "load_image", "caffe_input", "image_to_input", "input_layout", "expected_shape",
           "is_image_input", "fit_input", "load_inputs", "package_images", "read_image_file"]

#: name -> (package, loader): the natural photographs shipped in the packages' own data
#: folders (scikit-image 0.22+: ``skimage/data/*.png|jpg``; scikit-learn:
#: ``sklearn/datasets/images``)
IMAGES: dict[str, tuple[str, str]] = {
    "chelsea": ("skimage", "chelsea"),          # a cat
    "coffee": ("skimage", "coffee"),            # a cup of coffee
    "astronaut": ("skimage", "astronaut"),      # a portrait
    "rocket": ("skimage", "rocket"),            # a launch pad
    "motorcycle": ("skimage", "stereo_motorcycle"),   # the left view
    "camera": ("skimage", "camera"),            # grey: a cameraman
    "china": ("sklearn", "china.jpg"),          # a temple
    "flower": ("sklearn", "flower.jpg"),        # a flower
}

#: the images a chained SqueezeNet run uses by default (the colour photographs)
DEFAULT_IMAGES = ("chelsea", "coffee", "astronaut", "rocket", "china", "flower")

#: Caffe ImageNet channel means, B, G, R
MEAN_BGR = (104.0, 117.0, 123.0)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
ARRAY_SUFFIXES = (".npy", ".npz")
PREPROCESS = ("caffe", "unit")

#: the most input files one folder may hold (a mistyped folder is refused, not read whole)
MAX_FOLDER_FILES = 10_000


def load_image(name: str) -> np.ndarray:
    """The RGB ``(H, W, 3)`` uint8 package image ``name`` of :data:`IMAGES`."""
    if name not in IMAGES:
        raise InputError(f"unknown image {name!r}; images: {', '.join(IMAGES)}")
    pkg, what = IMAGES[name]
    try:
        if pkg == "skimage":
            import skimage.data
            img = getattr(skimage.data, what)()
            if isinstance(img, tuple):          # stereo pair: the left view
                img = img[0]
        else:
            from sklearn.datasets import load_sample_image
            img = load_sample_image(what)
    except ImportError as exc:
        raise InputError(f"image {name!r} needs the {pkg} package (pip install .[bench]): "
                         f"{exc}") from None
    return _rgb(np.asarray(img))


def _rgb(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def read_image_file(path: str | pathlib.Path) -> np.ndarray:
    """An image file as RGB ``(H, W, 3)`` uint8 (Pillow, a dependency of matplotlib)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:     # pragma: no cover - Pillow comes with matplotlib
        raise InputError(f"{path}: reading images needs Pillow: {exc}") from None
    try:
        with Image.open(path) as im:
            return _rgb(np.asarray(im.convert("RGB")))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the image: {exc}") from None


def _resize(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    try:
        from skimage.transform import resize
    except ImportError as exc:
        raise InputError(f"resizing an image needs scikit-image (pip install .[bench]): {exc}") from None
    return resize(img, shape, order=1, anti_aliasing=True, preserve_range=True)


def caffe_input(img: np.ndarray, size: int = 227, short_side: int = 256,
                mean_bgr: tuple[float, float, float] = MEAN_BGR) -> np.ndarray:
    """An RGB uint8 image as the Caffe network's ``(1, 3, size, size)`` input: shorter side
    to ``short_side``, centre crop, BGR, mean subtracted (module docstring)."""
    return image_to_input(img, (1, 3, size, size), "caffe", short_side, mean_bgr)


def image_to_input(img: np.ndarray, shape: tuple[int, ...], preprocess: str = "caffe",
                   short_side: int | None = None,
                   mean_bgr: tuple[float, float, float] = MEAN_BGR) -> np.ndarray:
    """An RGB image as a ``(1, C, H, W)`` input blob of ``shape`` (C 1 or 3; module
    docstring "Images")."""
    if preprocess not in PREPROCESS:
        raise InputError(f"image preprocessing {preprocess!r}: expected one of {', '.join(PREPROCESS)}")
    if len(shape) != 4 or shape[1] not in (1, 3):
        raise InputError(f"an image cannot be the input of this graph: its input is {tuple(shape)} "
                         f"(an image needs (1, 1 or 3, H, W))")
    _, c, oh, ow = (int(v) for v in shape)
    img = np.asarray(img, dtype=np.float64)
    h, w = img.shape[:2]
    side = short_side if short_side is not None else round(max(oh, ow) * 256 / 227)
    s = side / min(h, w)
    img = _resize(img, (max(oh, round(h * s)), max(ow, round(w * s))))
    h, w = img.shape[:2]
    top, left = (h - oh) // 2, (w - ow) // 2
    img = img[top:top + oh, left:left + ow]
    if preprocess == "caffe":
        bgr = img[:, :, ::-1] - np.asarray(mean_bgr)
        out = bgr if c == 3 else img.mean(axis=2, keepdims=True) - float(np.mean(mean_bgr))
    else:
        out = img / 255.0 if c == 3 else img.mean(axis=2, keepdims=True) / 255.0
    return np.ascontiguousarray(out.transpose(2, 0, 1)[None]).astype(np.float32)


def input_layout(meta: dict[str, Any] | None) -> str | None:
    """The original model's input layout recorded by an importer (``meta["input_layout"]``,
    or ``meta["import"]["input_layout"]`` in a ``.dcmp``'s metadata), upper case; None when
    none is recorded."""
    meta = meta or {}
    v = meta.get("input_layout")
    if v is None and isinstance(meta.get("import"), dict):
        v = meta["import"].get("input_layout")
    if isinstance(v, dict):       # several inputs: the one a run feeds is the first
        v = next(iter(v.values()), None)
    return str(v).upper() if isinstance(v, str) and v else None


def _perm(layout: str, ndim: int) -> list[int] | None:
    """Axis order taking an input in ``layout`` to the graph's channels-first layout; None
    when ``layout`` is channels first already or does not describe ``ndim`` axes."""
    if len(layout) != ndim or "N" not in layout or "C" not in layout or len(set(layout)) != ndim:
        return None
    graph = "NC" + "".join(ch for ch in layout if ch not in "NC")
    if graph == layout:
        return None
    return [layout.index(ch) for ch in graph]


def _net_perm(net: Net) -> list[int] | None:
    """The permutation an importer recorded on the graph for its one input
    (``Net.input_layouts``: ``graph_input = given.transpose(perm)``), or None."""
    layouts = getattr(net, "input_layouts", None) or {}
    name = next(iter(net.inputs))
    perm = layouts.get(name)
    return None if perm is None or list(perm) == sorted(perm) else [int(p) for p in perm]


def _layout_text(perm: list[int], ndim: int) -> str:
    graph = "NC" + "HWD"[:max(0, ndim - 2)] if ndim <= 5 else None
    if graph is None:
        return f"the file's layout (axes {perm} of the graph's)"
    given = [""] * ndim
    for k, p in enumerate(perm):
        given[p] = graph[k]
    return "".join(given)


def _layout_perm(net: Net, layout: str | None, ndim: int) -> list[int] | None:
    """The permutation from the user's layout to the graph's: the graph's recorded one
    (``Net.input_layouts``), else that of the ``layout`` string, else None."""
    perm = _net_perm(net)
    if perm is not None:
        return perm
    return _perm(layout, ndim) if layout else None


def expected_shape(net: Net, layout: str | None = None) -> tuple[tuple[int, ...], str]:
    """The input shape a user gives (in the recorded layout: ``Net.input_layouts`` or the
    ``layout`` string; else the graph's) and a description of the layout for messages."""
    shape = tuple(int(v) for v in next(iter(net.inputs.values())))
    perm = _net_perm(net)
    if perm is not None:
        given = [0] * len(shape)
        for k, p in enumerate(perm):
            given[p] = shape[k]
        return tuple(given), _layout_text(perm, len(shape))
    perm = _perm(layout, len(shape)) if layout else None
    if perm is None:
        return shape, (layout or ("NCHW" if len(shape) == 4 else "the graph's declared shape"))
    inv = np.argsort(perm)
    return tuple(shape[i] for i in inv), layout


def is_image_input(net: Net) -> bool:
    """A single ``(1, 1 or 3, H, W)`` input (H, W >= 8): images can be fed to it."""
    if len(net.inputs) != 1:
        return False
    shape = next(iter(net.inputs.values()))
    return len(shape) == 4 and int(shape[0]) == 1 and int(shape[1]) in (1, 3) and \
        min(int(shape[2]), int(shape[3])) >= 8


def fit_input(a: np.ndarray, net: Net, layout: str | None, source: str) -> list[np.ndarray]:
    """``a`` as the graph's input blobs (module docstring "Layout"): one, or K for a stack;
    refused with the expected shape when it does not fit."""
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise InputError(f"{source}: the input must hold numbers, got dtype {a.dtype}")
    want, desc = expected_shape(net, layout)
    graph_shape = tuple(int(v) for v in next(iter(net.inputs.values())))
    if a.shape == want:
        rows = [a]
    elif want[0] == 1 and a.shape == want[1:]:
        rows = [a.reshape(want)]
    elif want[0] == 1 and a.ndim == len(want) and a.shape[1:] == want[1:] and a.shape[0] > 1:
        rows = [a[i:i + 1] for i in range(a.shape[0])]
    else:
        hint = ""
        perm = _perm("NHWC", 4) if len(want) == 4 else None
        if perm is not None and desc == "NCHW" and a.ndim == 4 and \
                tuple(a.shape[i] for i in perm) == want:
            hint = " (this input looks NHWC: transpose it to NCHW, (0, 3, 1, 2))"
        elif (desc == "NHWC" or layout == "NHWC") and a.ndim == 4 and a.shape == graph_shape:
            hint = " (this input looks NCHW: the model takes NHWC, transpose it (0, 2, 3, 1))"
        raise InputError(f"{source}: input shape {tuple(a.shape)} does not match the model's "
                         f"input: expected {want} (layout {desc}; or {want[1:]} without the "
                         f"batch dimension, or (K, {', '.join(map(str, want[1:]))}) for K "
                         f"inputs){hint}")
    perm = _layout_perm(net, layout, len(want))
    vocab = token_inputs(net).get(next(iter(net.inputs)))
    out = []
    for r in rows:
        if vocab is not None:      # token ids of an Embed layer: integers within the table
            try:
                check_token_ids(r, vocab, source)
            except ForwardError as exc:
                raise InputError(str(exc)) from None
        r = r.astype(np.float32)
        if not np.all(np.isfinite(r)):
            raise InputError(f"{source}: the input contains NaN or infinity")
        out.append(np.ascontiguousarray(r.transpose(perm)) if perm else r)
    return out


def _array_rows(path: pathlib.Path, net: Net, layout: str | None) -> list[tuple[str, np.ndarray]]:
    if path.suffix.lower() == ".npz":
        arrays = read_npz(path, InputError)
        items = [(f"{path.name}:{k}", v) for k, v in arrays.items() if k != "__graph__"]
        if not items:
            raise InputError(f"{path}: no arrays")
    else:
        items = [(path.name, read_npy(path, InputError))]
    out = []
    for label, a in items:
        rows = fit_input(a, net, layout, f"{path}" + (label[len(path.name):] if ":" in label else ""))
        out += [(label if len(rows) == 1 else f"{label}[{i}]", r) for i, r in enumerate(rows)]
    return out


def load_inputs(paths: list[str | pathlib.Path], net: Net, layout: str | None = None,
                preprocess: str = "caffe") -> list[tuple[str, np.ndarray]]:
    """``(label, input blob in the graph's layout)`` for every input of ``paths`` (files or
    folders; module docstring): values of the graph's first input (a graph with several
    inputs: the others are a recurrent state, zeros). Every problem is an
    :class:`InputError` naming the file."""
    shape = next(iter(net.inputs.values()))
    out: list[tuple[str, np.ndarray]] = []
    for p in paths:
        p = pathlib.Path(p)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file()
                           and f.suffix.lower() in IMAGE_SUFFIXES + ARRAY_SUFFIXES)
            if not files:
                raise InputError(f"{p}: no input files in this folder (suffixes "
                                 f"{', '.join(ARRAY_SUFFIXES + IMAGE_SUFFIXES)})")
            if len(files) > MAX_FOLDER_FILES:
                raise InputError(f"{p}: {len(files)} input files, more than {MAX_FOLDER_FILES}")
        elif p.is_file():
            files = [p]
        else:
            raise InputError(f"{p}: no such file or folder")
        for f in files:
            suf = f.suffix.lower()
            if suf in ARRAY_SUFFIXES:
                out += _array_rows(f, net, layout)
            elif suf in IMAGE_SUFFIXES:
                out.append((f.name, image_to_input(read_image_file(f), tuple(shape), preprocess)))
            else:
                raise InputError(f"{f}: unknown input suffix {suf or '(none)'!r}; inputs are "
                                 f"{', '.join(ARRAY_SUFFIXES + IMAGE_SUFFIXES)} files or folders")
    return out


def package_images(net: Net, names: list[str] | None = None, preprocess: str = "caffe"
                   ) -> list[tuple[str, np.ndarray]]:
    """The package images (``names``, default every image of :data:`IMAGES`) as inputs of
    an image graph (:func:`is_image_input`)."""
    shape = next(iter(net.inputs.values()))
    return [(n, image_to_input(load_image(n), tuple(shape), preprocess)) for n in (names or list(IMAGES))]
