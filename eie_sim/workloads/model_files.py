"""Model files as workloads (docs/byom.md): a compressed ``.dcmp`` (read with
:func:`compressor.fileformat.load`), or a dense ``.onnx``, ``.safetensors`` or ``.npz``
(:func:`compressor.importers.load_model`; each layer's zeros are its mask, its non-zeros
get a ``weight_bits`` codebook, exact when it has few enough distinct values:
:func:`compressor.importers.as_quantized`). A model of fully-connected layers runs as a
network (chained in fixed point, ReLU between layers) when the shapes chain, else each
layer on its own input (:func:`from_model`); a model with convolutions runs through its
graph (:class:`eie_sim.workloads.graph.NetWorkload`, run by
:func:`eie_sim.sim.runner.run_net`: every layer M x V, per output position for a
convolution), per layer or chained over its inputs (:func:`model_workload`), or is
refused, naming the layers, when the file holds no graph.
"""
from __future__ import annotations

import pathlib

import numpy as np

from compressor import inputs as model_inputs
from compressor.errors import CompressorError
from compressor.fileformat import FormatError, inspect, load
from compressor.importers import as_quantized, graph_of, load_model
from compressor.model import QuantizedModel
from eie_sim.arch.config import ArchConfig
from eie_sim.errors import WorkloadError
from eie_sim.workloads.array_files import load_input
from eie_sim.workloads.graph import NetWorkload, graph_input
from eie_sim.workloads.layer import LayerWorkload, Workload


def from_model(path: str | pathlib.Path, cfg: ArchConfig | None = None,
               layers: list[str] | None = None) -> Workload:
    """The fully-connected layers of a compressed model file, in order, as a network.

    ``layers`` picks some by name (a convolutional layer is refused: EIE runs FC layers).
    With ``cfg``, a layer with more codebook bits than ``cfg.weight_bits`` is refused.
    """
    path = pathlib.Path(path)
    model, _, _ = _load_model_file(path, cfg, 0, want_graph=False)
    return _fc_workload(model, path, cfg, layers)


#: suffixes read as dense model files (compressor.importers); anything else is a .dcmp
DENSE_SUFFIXES = (".onnx", ".safetensors", ".npz")


def model_code_bits(path: str | pathlib.Path) -> int | None:
    """The widest codebook (bits) of a compressed model file's layers, read from its
    header and layer descriptors without decoding the streams; None for a dense model file
    (quantized for the run to ``weight_bits``) or one that cannot be read (the workload
    build that follows reports that)."""
    path = pathlib.Path(path)
    if path.suffix.lower() in DENSE_SUFFIXES or not path.is_file():
        return None
    try:
        layers = inspect(path)["layers"]
    except (FormatError, CompressorError, OSError, KeyError, TypeError):
        return None
    bits = [int(lay["bits"]) for lay in layers if isinstance(lay, dict) and "bits" in lay]
    return max(bits) if bits else None


def _load_model_file(path: pathlib.Path, cfg: ArchConfig | None, seed: int, want_graph: bool = True
                     ) -> tuple[QuantizedModel, object, str]:
    """``(quantized model, graph or None, format)`` of a model file; every problem is a
    :class:`WorkloadError` naming the file."""
    model, net, fmt, _ = _read_model_file(path, cfg, seed, want_graph)
    return model, net, fmt


def _read_model_file(path: pathlib.Path, cfg: ArchConfig | None, seed: int, want_graph: bool = True,
                     input_shapes: dict | None = None, input_values: dict | None = None):
    """:func:`_load_model_file` plus the dense :class:`ImportedModel` of a dense file (None
    for a ``.dcmp``). ``input_shapes`` / ``input_values`` (input name -> sizes / fixed
    value) go to the importer (:func:`compressor.importers.load_model`: symbolic input
    dimensions of an ONNX graph, a safetensors file's recurrent module)."""
    if not path.exists():
        raise WorkloadError(f"{path}: model file not found")
    try:
        if path.suffix.lower() in DENSE_SUFFIXES:
            imp = load_model(path, input_shapes=_values(input_shapes),
                             input_values=_values(input_values, arrays=True))
            bits = cfg.weight_bits if cfg is not None else 4
            return as_quantized(imp, bits, seed), imp.net, imp.format, imp
        model = load(path)
        return model, (graph_of(model, str(path)) if want_graph else None), "dcmp", None
    except (FormatError, CompressorError) as exc:  # its message already names the file
        raise WorkloadError(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from None
    except OSError as exc:
        raise WorkloadError(f"{path}: cannot read model file: {exc}") from None


def _values(d: dict | None, arrays: bool = False) -> dict | None:
    """``d`` for the importer (None when empty); ``arrays``: each value a numpy array
    (int64 when every number is an integer, else float32)."""
    if not d:
        return None
    if not arrays:
        return {k: tuple(v) for k, v in d.items()}
    out = {}
    for k, v in d.items():
        a = np.asarray(v)
        out[k] = a.astype(np.int64) if a.dtype.kind in "iu" else a.astype(np.float32)
    return out


def model_workload(path: str | pathlib.Path, cfg: ArchConfig, seed: int = 0,
                   layers: list[str] | None = None, x: np.ndarray | None = None,
                   act_density: float = 0.5, graphs: bool = True, input_source: str = "input",
                   *, mode: str = "per-layer", input_paths: list | None = None,
                   images: str | None = None, preprocess: str = "caffe",
                   float_model: str | pathlib.Path | None = None,
                   input_shapes: dict | None = None, input_values: dict | None = None
                   ) -> Workload | NetWorkload:
    """A model file (any format of :data:`DENSE_SUFFIXES` or ``.dcmp``) as a workload.

    With ``graphs`` and a graph in the file, ``mode="chained"`` gives a chained
    :class:`~eie_sim.workloads.graph.NetWorkload` of every input (``input_paths``: files or
    folders, and ``images``: package image names, each checked against the graph's input
    shape and recorded layout by :mod:`compressor.inputs`; none: one seeded synthetic
    input) and the float model to compare with (``float_model``, else the file's own
    weights in float). Otherwise (``mode="per-layer"``, or no graph): fully-connected
    layers only (or ``layers`` naming only such) give :func:`from_model`'s network /
    independent layers; a model whose layers to run include a convolution runs through
    its graph per layer (the input ``x`` or ``input_paths[0]``, or a seeded synthetic
    one); without a graph it is refused, naming the layers and what is missing, never
    skipped. ``input_shapes`` / ``input_values`` (``workload.input_shape`` /
    ``input_value``, ``--input-shape`` / ``--input-value``) go to the importer of a dense
    ``.onnx`` / ``.safetensors`` file (the model's and the float model's); a ``.dcmp`` or
    ``.npz`` has its shapes already, so giving them for one alone is refused.
    """
    path = pathlib.Path(path)
    if (input_shapes or input_values) and not any(
            p is not None and pathlib.Path(p).suffix.lower() in (".onnx", ".safetensors")
            for p in (path, float_model)):
        raise WorkloadError(f"{path}: input_shape / input_value (--input-shape / --input-value) "
                            f"apply when an .onnx or .safetensors file is imported for the run; "
                            f"a {path.suffix or 'suffix-less'} file has its input shapes already "
                            f"(give them to eie-compress import)")
    dense = path.suffix.lower() in (".onnx", ".safetensors")
    model, net, fmt, imp = _read_model_file(path, cfg, seed, True,
                                            input_shapes if dense else None,
                                            input_values if dense else None)
    layout = model_inputs.input_layout(imp.meta if imp is not None else model.meta)
    if graphs and net is not None and mode == "chained":
        return _chained_workload(path, model, net, fmt, imp, layout, seed, act_density, layers,
                                 input_paths or [], images, preprocess, float_model,
                                 input_shapes, input_values)
    conv = [q.name for q in model.layers if q.kind == "conv"]
    # an Embed's input is token ids, one-hot on EIE: it runs through the graph, never as a
    # plain fully-connected layer on a synthetic vector
    embed = [lay.name for lay in net.weight_layers if lay.type == "Embed"] if net is not None else []
    run_conv = [n for n in conv + embed if not layers or n in layers]
    if x is None and input_paths and (net is not None and run_conv):
        rows = _graph_inputs(net, layout, input_paths, None, preprocess)
        if len(rows) != 1:
            raise WorkloadError(f"{input_paths[0]}: {len(rows)} inputs; per-layer mode runs one "
                                f"(several run chained: --mode chained)")
        x = rows[0][1]
    elif x is None and input_paths:
        x = load_input(input_paths[0], None)
    if not run_conv:
        return _fc_workload(model, path, cfg, layers, fmt)
    if net is None:
        raise WorkloadError(
            f"{path}: layer(s) {', '.join(run_conv)} are convolutions and the file holds no graph "
            f"(their stride, padding, group and input size are unknown), so they cannot run on "
            f"EIE; import the model from ONNX (or safetensors with eie.graph metadata) with "
            f"eie-compress import, or run only its fully-connected layers with --layers "
            f"(docs/byom.md)")
    if not graphs:
        raise WorkloadError(f"{path}: layer(s) {', '.join(run_conv)} are convolutions or "
                            f"embeddings; this workload runs fully-connected layers only "
                            f"(eie-simulate --model runs them through the model's graph)")
    x = graph_input(net, seed, act_density, x, input_source)
    names = [lay.name for lay in net.weight_layers]
    unknown = [n for n in layers or [] if n not in names]
    if unknown:
        raise WorkloadError(f"{path}: no layer named {unknown}; layers: {', '.join(names)}")
    gw = NetWorkload(net, model, x, list(layers) if layers else None,
                     {"kind": f"model ({fmt}) graph", "path": str(path)})
    gw.description = (f"model {path.name} ({fmt}): graph {net.name!r}, layers "
                      f"{gw.layer_names()} on EIE as M x V (a convolution per output "
                      f"position), inputs from the numpy forward pass")
    return gw


def _graph_inputs(net, layout, paths, images, preprocess) -> list[tuple[str, np.ndarray]]:
    """The inputs of ``paths`` and package ``images`` (comma names), shape/layout checked."""
    try:
        rows = model_inputs.load_inputs(list(paths), net, layout, preprocess) if paths else []
        if images:
            names = [n.strip() for n in str(images).split(",") if n.strip()]
            if names in (["all"], ["default"]):
                names = list(model_inputs.IMAGES if names == ["all"] else model_inputs.DEFAULT_IMAGES)
            if not model_inputs.is_image_input(net):
                shape = next(iter(net.inputs.values()))
                raise WorkloadError(f"--image: the graph's input {tuple(shape)} is not an image "
                                    f"(1, 1 or 3, H, W)")
            rows += model_inputs.package_images(net, names, preprocess)
    except CompressorError as exc:
        raise WorkloadError(str(exc)) from None
    return rows


def _chained_workload(path, model, net, fmt, imp, layout, seed, act_density, layers, paths,
                      images, preprocess, float_model, input_shapes=None,
                      input_values=None) -> NetWorkload:
    if layers:
        raise WorkloadError(f"{path}: a chained run computes every layer; to run only "
                            f"{', '.join(layers)} give --mode per-layer (workload.mode)")
    rows = _graph_inputs(net, layout, paths, images, preprocess)
    if not rows:
        x = graph_input(net, seed, act_density)
        rows = [(f"synthetic (seed {seed})", x)]
    fnet, fweights, fdesc = None, None, ""
    if float_model is not None:
        fpath = pathlib.Path(float_model)
        fdense = fpath.suffix.lower() in (".onnx", ".safetensors")
        ref, rnet, _, rimp = _read_model_file(fpath, None, seed, True,
                                              input_shapes if fdense else None,
                                              input_values if fdense else None)
        fweights = rimp.weights if rimp is not None else ref
        fnet = rnet or net
        if [lay.name for lay in fnet.weight_layers] != [lay.name for lay in net.weight_layers] \
                or tuple(next(iter(fnet.inputs.values()))) != tuple(next(iter(net.inputs.values()))):
            raise WorkloadError(f"{float_model}: not the float model of {path}: its weight layers "
                                f"{[lay.name for lay in fnet.weight_layers]} and input "
                                f"{tuple(next(iter(fnet.inputs.values())))} differ from the model's")
        fdesc = f"{pathlib.Path(float_model).name} (--float-model)"
    elif imp is not None:
        fweights = imp.weights
        fdesc = f"the float weights of {path.name} (before the run quantizes them)"
    else:
        fdesc = f"{path.name} decoded (codebook[codes]) in float; give --float-model for the original"
    gw = NetWorkload(net, model, rows[0][1], None,
                     {"kind": f"model ({fmt}) graph", "path": str(path)}, mode="chained",
                     inputs=rows, float_net=fnet, float_weights=fweights, float_model=fdesc)
    gw.synthetic = rows[0][0].startswith("synthetic (")
    gw.description = (f"model {path.name} ({fmt}): graph {net.name!r} chained on EIE in fixed "
                      f"point (every layer, every output position)")
    return gw


def _fc_workload(model: QuantizedModel, path: pathlib.Path, cfg: ArchConfig | None,
                 layers: list[str] | None, fmt: str = "dcmp") -> Workload:
    """The fully-connected layers of ``model`` (all, or ``layers``), in order."""
    by_name = {lay.name: lay for lay in model.layers}
    if layers:
        picked = []
        for n in layers:
            if n not in by_name:
                raise WorkloadError(f"{path}: no layer named {n!r}; layers: {', '.join(by_name)}")
            if by_name[n].kind != "fc":
                raise WorkloadError(f"{path}: layer {n!r} is {by_name[n].kind}; it runs on EIE "
                                    f"through the model's graph (eie-simulate --model)")
            picked.append(by_name[n])
    else:
        conv = [lay.name for lay in model.layers if lay.kind != "fc"]
        if conv:   # never skipped silently
            raise WorkloadError(f"{path}: layer(s) {', '.join(conv)} are convolutions; run the "
                                f"model with eie-simulate --model (through its graph), or pick "
                                f"fully-connected layers with --layers")
        picked = list(model.layers)
    out = []
    for q in picked:
        lw = LayerWorkload(name=q.name, codes=q.codes, codebook=q.codebook, bias=q.bias,
                           synthetic=False, bits=q.bits,
                           source={"kind": "model" if fmt == "dcmp" else f"model ({fmt})",
                                   "path": str(path), "model_meta_seed": model.meta.get("seed"),
                                   **({"codebook": q.meta["codebook"]} if "codebook" in q.meta
                                      else {})})
        if cfg is not None:
            lw.check_bits(cfg)
        out.append(lw)
    chained = all(a.rows == b.cols for a, b in zip(out, out[1:]))
    desc = f"model {path.name}" + (f" ({fmt})" if fmt != "dcmp" else "") + \
        f": fc layers {[l.name for l in out]}"
    return Workload(layers=out, network=chained, description=desc)
