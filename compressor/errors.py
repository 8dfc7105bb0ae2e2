"""Every exception class of :mod:`compressor`, in one place.

Bad input (a damaged file, an impossible parameter, a network the code cannot handle) is
a :class:`CompressorError`, itself a ``ValueError``, so ``except ValueError`` clauses keep
working; each subclass names the kind of input at fault and its message names the file,
layer, line or byte offset. ``eie-compress`` prints such an error as one line and exits
with status 2 (the status of every tool of the project for bad input).

:class:`RoundTripError` is different: it means the compressor's own output failed its
check (a saved file that does not decode to the weights it was given), a bug rather than
bad input; it is a ``RuntimeError`` and ``eie-compress`` exits with status 1 for it.
"""
from __future__ import annotations

__all__ = [
    "CompressorError", "CLIError", "FormatError", "HuffmanError", "WeightsError", "IDXError",
    "GraphError", "PrototxtError", "AuthorsFormatError", "ForwardError", "ModelImportError",
    "RoundTripError",
]


class CompressorError(ValueError):
    """Base class of every bad-input error raised by :mod:`compressor`."""


class CLIError(CompressorError):
    """A command-line user error (conflicting options, unwritable output path)."""


class FormatError(CompressorError):
    """A ``.dcmp`` file that is not one, is of another version, or is damaged
    (:mod:`compressor.fileformat`)."""


class HuffmanError(CompressorError):
    """A Huffman stream or length table that cannot be decoded consistently
    (:mod:`compressor.huffman`)."""


class WeightsError(CompressorError):
    """A user's weight archive that cannot be used (message names the file and array)
    (:func:`compressor.npzio.load_npz_weights`, :func:`compressor.pipeline.compress_weights`)."""


class IDXError(CompressorError):
    """A malformed or missing IDX file (the message names the file)
    (:mod:`compressor.training.data`)."""


class GraphError(CompressorError):
    """A network graph that is inconsistent: unknown layer type, wrong number of inputs,
    shapes that do not fit (:mod:`compressor.graph.net`, :mod:`compressor.graph.builder`)."""


class PrototxtError(CompressorError):
    """A prototxt that cannot be read or whose graph is inconsistent
    (:mod:`compressor.caffe.textformat`, :mod:`compressor.caffe.prototxt`)."""


class AuthorsFormatError(CompressorError):
    """The authors' ``.net`` file is malformed or does not match the prototxt
    (:mod:`compressor.caffe.authors_format`)."""


class ForwardError(CompressorError):
    """The network cannot be run with the given weights or input
    (:mod:`compressor.graph.forward`)."""


class ModelImportError(CompressorError):
    """A model file (ONNX, safetensors, a stored graph) that cannot be read, or that holds
    an operation or layout this project cannot run; the message names the file and the
    node or tensor (:mod:`compressor.importers`)."""


class InputError(CompressorError):
    """An input or calibration file that does not fit a model's input: wrong shape or
    layout, not numbers, an image that cannot be read (:mod:`compressor.inputs`)."""


class RoundTripError(RuntimeError):
    """A file the compressor wrote does not decode to the weights it was given."""
