"""Natural images shipped inside scikit-image and scikit-learn (no download), prepared the
way the authors' Caffe SqueezeNet expects them (docs/squeezenet.md "Chained run").

Preprocessing (:func:`caffe_input`), the usual Caffe ImageNet convention: the RGB image is
resized (bilinear, anti-aliased) so that its shorter side is 256 pixels, the centre
227 x 227 (the prototxt's input size) is cut out, the channels are reordered to BGR and the
ImageNet channel means ``[104, 117, 123]`` (B, G, R) are subtracted; the result is a
``(1, 3, 227, 227)`` float32 blob. Grey images are repeated over the three channels, an
alpha channel is dropped.

The images and the preprocessing are :mod:`compressor.inputs`' (shared with
``eie-compress import``'s calibration and ``eie-simulate --model``'s image inputs); this
module names them for the SqueezeNet run and turns their errors into
:class:`~eie_sim.errors.WorkloadError`. The packages are optional (``pip install .[bench]``); a missing one is a clear
:class:`~eie_sim.errors.WorkloadError`.
"""
from __future__ import annotations

import numpy as np

from compressor import inputs as _inputs
from compressor.errors import InputError
from eie_sim.errors import WorkloadError

#: the package images and their preprocessing live in compressor.inputs (compressor/ never
#: imports eie_sim/, and eie-compress import calibrates on the same images)
IMAGES = _inputs.IMAGES
DEFAULT_IMAGES = _inputs.DEFAULT_IMAGES
MEAN_BGR = _inputs.MEAN_BGR


def parse_images(text: str | None) -> list[str]:
    """``'all'`` (every image of :data:`IMAGES`), ``'default'``/None
    (:data:`DEFAULT_IMAGES`) or a comma list of names; unknown names are an error."""
    if text is None or text.strip().lower() == "default":
        return list(DEFAULT_IMAGES)
    if text.strip().lower() == "all":
        return list(IMAGES)
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in IMAGES]
    if bad or not names:
        raise WorkloadError(f"--image {text!r}: unknown image(s) {bad}; images: "
                            f"{', '.join(IMAGES)}, default or all")
    return names


def load_image(name: str) -> np.ndarray:
    """The RGB ``(H, W, 3)`` uint8 image ``name`` of :data:`IMAGES`."""
    try:
        return _inputs.load_image(name)
    except InputError as exc:
        raise WorkloadError(str(exc)) from None


def caffe_input(img: np.ndarray, size: int = 227, short_side: int = 256,
                mean_bgr: tuple[float, float, float] = MEAN_BGR) -> np.ndarray:
    """An RGB uint8 image as the Caffe network's ``(1, 3, size, size)`` input (module
    docstring: shorter side to ``short_side``, centre crop, BGR, mean subtracted)."""
    try:
        return _inputs.caffe_input(img, size, short_side, mean_bgr)
    except InputError as exc:
        raise WorkloadError(str(exc)) from None


def image_input(name: str, size: int = 227) -> np.ndarray:
    """:func:`caffe_input` of :func:`load_image`."""
    return caffe_input(load_image(name), size)
