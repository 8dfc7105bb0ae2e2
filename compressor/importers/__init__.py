"""Bring your own model: every model file this project reads, in one form.

:func:`load_model` reads a file by its suffix and returns an
:class:`~compressor.importers.model.ImportedModel` (a graph or None, dense float32
weights ``name -> (weight, bias)``):

* ``.onnx``: :func:`~compressor.importers.onnx_reader.read_onnx` (graph from the nodes);
* ``.safetensors``: :func:`~compressor.importers.safetensors_reader.read_safetensors`
  (graph only when its metadata carries one);
* ``.npz``: the project's convention (``X`` / ``X.weight``, ``X.bias``;
  :func:`compressor.npzio.load_npz_weights`), with the graph of its reserved member
  ``__graph__`` when it has one (graph JSON text, what ``eie-compress decode`` writes);
* ``.dcmp``: a compressed file of ours, decoded (``codebook[codes]``), with the graph
  it stores (``meta.graph``) or the graph of the network it names (:mod:`.known`);
* ``.prototxt`` + the authors' ``.net`` (:func:`read_caffe`): the graph and the decoded
  weights of a Deep Compression model such as SqueezeNet.

:func:`graph_of` finds the graph of a :class:`~compressor.model.QuantizedModel`;
:func:`compress_imported` compresses an imported model into a ``.dcmp`` that stores its
graph (keeping the codes and codebooks of a ``.dcmp``'s layers that :func:`kept_layers`
picks). docs/byom.md walks through each format.
"""
from __future__ import annotations

import pathlib

from ..caffe.authors_format import read_authors
from ..caffe.prototxt import load_net
from ..errors import CompressorError, FormatError, ModelImportError, WeightsError
from ..fileformat import load as load_dcmp
from ..graph.net import Net
from ..model import QuantizedModel
from ..npzio import NPZ_GRAPH_KEY, load_npz_with_graph
from .compress import compress_imported, kept_layers, save_checked
from .graph_json import graph_from_text, net_from_json, net_to_json
from .known import known_graph
from .model import ImportedModel
from .onnx_reader import read_onnx
from .quantized import as_quantized, exact_codebook
from .safetensors_reader import read_safetensors

__all__ = ["ImportedModel", "FORMATS", "load_model", "read_onnx", "read_safetensors", "read_npz_model",
           "read_dcmp", "read_caffe", "graph_of", "net_to_json", "net_from_json",
           "compress_imported", "kept_layers", "save_checked", "from_quantized", "as_quantized", "exact_codebook"]

#: suffix -> format name
FORMATS = {".onnx": "onnx", ".safetensors": "safetensors", ".npz": "npz", ".dcmp": "dcmp"}


def read_npz_model(path: str | pathlib.Path) -> ImportedModel:
    """An ``.npz`` in the project's convention, with the graph of its member
    :data:`~compressor.npzio.NPZ_GRAPH_KEY` when it has one (read by
    :func:`~compressor.importers.graph_json.graph_from_text`: bounded, every field checked;
    its layers must be the archive's)."""
    arrays, text = load_npz_with_graph(path)
    weights = {k: (v, arrays.get(k + ".bias")) for k, v in arrays.items() if not k.endswith(".bias")}
    net = None if text is None else graph_from_text(text, f"{path}: {NPZ_GRAPH_KEY}")
    return ImportedModel(net, weights, str(path), "npz",
                         {"order": "archive order" if net is None else "graph order"})


def graph_of(model: QuantizedModel, source: str = "model") -> Net | None:
    """The graph stored in ``model.meta["graph"]``, else that of the network named by
    ``model.meta["model"]`` (:func:`~compressor.importers.known.known_graph`), else None."""
    if "graph" in model.meta:
        return net_from_json(model.meta["graph"], f"{source}: meta.graph")
    return known_graph(model.meta.get("model"))


def from_quantized(model: QuantizedModel, source: str, fmt: str, net: Net | None = None
                   ) -> ImportedModel:
    """The decoded weights of a quantized model, with its graph."""
    weights = {q.name: (q.weights(), q.bias) for q in model.layers}
    if net is not None and [l.name for l in net.weight_layers] != list(weights):
        raise ModelImportError(f"{source}: the stored graph's layers "
                               f"{[l.name for l in net.weight_layers]} are not the file's "
                               f"{list(weights)}")
    return ImportedModel(net, weights, source, fmt, {"decoded": True})


def read_dcmp(path: str | pathlib.Path) -> ImportedModel:
    """A ``.dcmp`` of ours, decoded, with its graph when it has one."""
    model = load_dcmp(path)
    return from_quantized(model, str(path), "dcmp", graph_of(model, str(path)))


def read_caffe(prototxt: str | pathlib.Path, net_file: str | pathlib.Path) -> ImportedModel:
    """A Caffe prototxt and the Deep Compression authors' compressed ``.net`` file."""
    net = load_net(prototxt)
    return from_quantized(read_authors(net, net_file), str(net_file), "caffe", net)


def load_model(path: str | pathlib.Path, fmt: str | None = None,
               input_shapes: dict[str, tuple] | None = None, input_values: dict | None = None,
               layers: list[str] | None = None) -> ImportedModel:
    """Read a model file; ``fmt`` (``onnx``, ``safetensors``, ``npz``, ``dcmp``) defaults
    to the suffix's. Every problem is a :class:`~compressor.errors.CompressorError`
    naming the file (:class:`ModelImportError`, :class:`WeightsError`, :class:`FormatError`).

    ``input_shapes`` (input name -> shape) and ``input_values`` (input name -> fixed
    value) apply to ONNX graphs (:func:`read_onnx`); ``input_shapes`` ``{P: (T, N, I)}``
    on a safetensors file builds the graph of its PyTorch recurrent module ``P``; ``layers``: keep only these weight
    layers (a model without a graph; :meth:`ImportedModel.select`)."""
    path = pathlib.Path(path)
    fmt = fmt or FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ModelImportError(f"{path}: unknown model format {path.suffix or '(no suffix)'!r}; "
                               f"known: {', '.join(FORMATS)} (a Caffe prototxt + .net: "
                               "eie-compress squeezenet)")
    if not path.exists():
        raise ModelImportError(f"{path}: no such file")
    readers = {"onnx": read_onnx, "safetensors": read_safetensors, "npz": read_npz_model,
               "dcmp": read_dcmp}
    if fmt not in readers:
        raise ModelImportError(f"{path}: unknown model format {fmt!r}; known: {', '.join(readers)}")
    if (input_values and fmt != "onnx") or (input_shapes and fmt not in ("onnx", "safetensors")):
        raise ModelImportError(f"{path}: input shapes apply to ONNX graphs and to a safetensors "
                               "file's recurrent module, input values to ONNX graphs only")
    try:
        if fmt == "onnx":
            imp = read_onnx(path, input_shapes, input_values)
        elif fmt == "safetensors" and input_shapes:
            imp = read_safetensors(path, input_shapes)
        else:
            imp = readers[fmt](path)
        return imp if not layers else imp.select(layers)
    except (ModelImportError, WeightsError, FormatError):
        raise
    except CompressorError as exc:
        raise ModelImportError(f"{path}: {exc}" if str(path) not in str(exc) else str(exc)) from None
