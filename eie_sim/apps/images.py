"""Natural images shipped inside scikit-image and scikit-learn (no download), prepared the
way the authors' Caffe SqueezeNet expects them (docs/squeezenet.md "Chained run").

Preprocessing (:func:`caffe_input`), the usual Caffe ImageNet convention: the RGB image is
resized (bilinear, anti-aliased) so that its shorter side is 256 pixels, the centre
227 x 227 (the prototxt's input size) is cut out, the channels are reordered to BGR and the
ImageNet channel means ``[104, 117, 123]`` (B, G, R) are subtracted; the result is a
``(1, 3, 227, 227)`` float32 blob. Grey images are repeated over the three channels, an
alpha channel is dropped.

The packages are optional (``pip install .[bench]``); a missing one is a clear
:class:`~eie_sim.errors.WorkloadError`.
"""
from __future__ import annotations

import numpy as np

from eie_sim.errors import WorkloadError

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
    if name not in IMAGES:
        raise WorkloadError(f"unknown image {name!r}; images: {', '.join(IMAGES)}")
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
        raise WorkloadError(f"image {name!r} needs the {pkg} package (pip install .[bench]): "
                            f"{exc}") from None
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def caffe_input(img: np.ndarray, size: int = 227, short_side: int = 256,
                mean_bgr: tuple[float, float, float] = MEAN_BGR) -> np.ndarray:
    """An RGB uint8 image as the Caffe network's ``(1, 3, size, size)`` input (module
    docstring: shorter side to ``short_side``, centre crop, BGR, mean subtracted)."""
    try:
        from skimage.transform import resize
    except ImportError as exc:
        raise WorkloadError(f"resizing an image needs scikit-image (pip install .[bench]): {exc}") from None
    img = np.asarray(img, dtype=np.float64)
    h, w = img.shape[:2]
    s = short_side / min(h, w)
    img = resize(img, (max(size, round(h * s)), max(size, round(w * s))), order=1,
                 anti_aliasing=True, preserve_range=True)
    h, w = img.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    img = img[top:top + size, left:left + size, ::-1] - np.asarray(mean_bgr)
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None]).astype(np.float32)


def image_input(name: str, size: int = 227) -> np.ndarray:
    """:func:`caffe_input` of :func:`load_image`."""
    return caffe_input(load_image(name), size)
