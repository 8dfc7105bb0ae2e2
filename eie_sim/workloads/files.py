"""Workloads from files and from a config's ``workload:`` block.

* a model file (:func:`model_workload`, docs/byom.md): a compressed ``.dcmp`` (read with
  :func:`compressor.fileformat.load`), or a dense ``.onnx``, ``.safetensors`` or ``.npz``
  (:func:`compressor.importers.load_model`; each layer's zeros are its mask, its
  non-zeros get a ``weight_bits`` codebook, exact when it has few enough distinct values:
  :func:`compressor.importers.as_quantized`). A model of fully-connected layers runs as
  a network (chained in fixed point, ReLU between layers) when the shapes chain, else
  each layer on its own input; a model with convolutions runs through its graph
  (:class:`eie_sim.workloads.graph.NetWorkload`, run by :func:`eie_sim.sim.runner.run_net`:
  every layer M x V, per output position for a convolution) or is refused, naming the layers, when the file holds no graph;
* an ``.npz`` in the project's one convention (``X`` or ``X.weight``, ``X.bias``: what
  ``eie-compress decode`` writes and ``eie-compress npz`` reads), as a model; or, kept for
  compatibility, one layer as ``codes`` + ``codebook`` (already quantized) or ``weights``
  (a dense float matrix, zeros = pruned, quantized with the compressor's
  ``quantize_layer``), optionally ``bias`` and ``x``;
* an input vector (``.npy``) and the ``workload:`` block (docs/config.md) that names any
  of these or synthetic layers (:mod:`eie_sim.workloads.synthetic`).
"""
from __future__ import annotations

import pathlib

import numpy as np

from compressor import inputs as model_inputs
from compressor.errors import CompressorError
from compressor.fileformat import FormatError, inspect, load
from compressor.importers import as_quantized, graph_of, load_model
from compressor.model import QuantizedModel
from compressor.npzio import read_npy, read_npz
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.workload_spec import (
    DEFAULT_ACT_DENSITY,
    MODEL_MODES,
    WorkloadSpec,
    parse_workload,
)
from eie_sim.errors import WorkloadError
from eie_sim.workloads.graph import NetWorkload, graph_input
from eie_sim.workloads.layer import LayerWorkload, Workload
from eie_sim.workloads.synthetic import (
    quantize_dense,
    synthetic_from_spec,
    synthetic_input,
    table3_layer,
    table3_names,
)

# ---------------------------------------------------------------- files
NPZ_KEYS = ("codes", "codebook", "weights", "bias", "x")


def _numeric(a: np.ndarray, path, what: str) -> np.ndarray:
    """``a`` if it holds numbers (bool, integer, float), else a :class:`WorkloadError`."""
    if a.dtype.kind not in "biuf":
        raise WorkloadError(f"{path}: {what} must hold numbers, got dtype {a.dtype}")
    return a


def from_npz(path: str | pathlib.Path, weight_bits: int = 4, seed: int = 0,
             name: str | None = None) -> LayerWorkload:
    """A layer from an ``.npz``: ``codes`` + ``codebook`` or ``weights``; ``bias``, ``x`` optional."""
    path = pathlib.Path(path)
    data = _read_arrays(path, npz=True)
    unknown = sorted(set(data) - set(NPZ_KEYS))
    if unknown:
        raise WorkloadError(f"{path}: unknown array(s) {unknown}; allowed: {', '.join(NPZ_KEYS)}")
    name = name or path.stem
    if "weights" in data:
        if "codes" in data or "codebook" in data:
            raise WorkloadError(f"{path}: give either weights or codes + codebook, not both")
        w = data["weights"]
        if w.ndim != 2 or w.dtype.kind not in "fiu" or 0 in w.shape:
            raise WorkloadError(f"{path}: weights must be a 2-D numeric (rows, cols) matrix, "
                                f"got shape {w.shape} dtype {w.dtype}")
        if not np.all(np.isfinite(w)):
            raise WorkloadError(f"{path}: weights contain NaN or infinity")
        codebook, codes = quantize_dense(w, weight_bits, seed)
        bits, kind = weight_bits, "npz-dense (quantized here by k-means)"
    elif "codes" in data and "codebook" in data:
        _numeric(data["codebook"], path, "codebook")
        codes, codebook = data["codes"], data["codebook"].astype(np.float32).reshape(-1)
        if codes.ndim != 2 or codes.dtype.kind not in "iu" or 0 in codes.shape:
            raise WorkloadError(f"{path}: codes must be a 2-D integer (rows, cols) matrix, "
                                f"got shape {codes.shape} dtype {codes.dtype}")
        if codebook.size == 0 or codebook[0] != 0.0:
            raise WorkloadError(f"{path}: codebook[0] must be 0.0 (code 0 = pruned)")
        if codes.size and (codes.min() < 0 or codes.max() >= codebook.size):
            raise WorkloadError(f"{path}: codes must lie in 0..{codebook.size - 1}")
        if not np.all(np.isfinite(codebook)):
            raise WorkloadError(f"{path}: codebook contains NaN or infinity")
        bits, kind = None, "npz-quantized"
    else:
        raise WorkloadError(f"{path}: needs 'codes' and 'codebook', or 'weights' (has {sorted(data)})")
    rows, cols = codes.shape
    bias = data.get("bias")
    if bias is not None:
        bias = _numeric(bias, path, "bias").astype(np.float32).reshape(-1)
        if bias.shape != (rows,):
            raise WorkloadError(f"{path}: bias has {bias.size} values for {rows} rows")
        if not np.all(np.isfinite(bias)):
            raise WorkloadError(f"{path}: bias contains NaN or infinity (or a value beyond float32)")
    x = data.get("x")
    if x is not None:
        x = _numeric(x, path, "x").astype(np.float64).reshape(-1)
        if x.shape != (cols,):
            raise WorkloadError(f"{path}: x has {x.size} values for {cols} columns")
        if not np.all(np.isfinite(x)):
            raise WorkloadError(f"{path}: x contains NaN or infinity")
    return LayerWorkload(name=name, codes=np.asarray(codes), codebook=codebook, bias=bias, x=x,
                         synthetic=False, source={"kind": kind, "path": str(path), "seed": seed},
                         bits=bits)


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


def _read_arrays(path: pathlib.Path, npz: bool):
    """The arrays of an ``.npz`` (dict) or one ``.npy`` array, read within the limits of
    :func:`compressor.npzio.read_npz` (every member a real ``.npy``, declared sizes
    checked before reading, native byte order); any problem is a :class:`WorkloadError`."""
    try:
        return read_npz(path, WorkloadError) if npz else read_npy(path, WorkloadError)
    except FileNotFoundError:
        raise WorkloadError(f"{path}: file not found") from None
    except OSError as exc:
        raise WorkloadError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _legacy_npz(path: pathlib.Path) -> bool:
    """True for the simulator's older one-layer ``.npz`` form (arrays among
    :data:`NPZ_KEYS`, with ``weights`` or ``codes``); False for the project's convention."""
    data = _read_arrays(path, npz=True)
    return set(data) <= set(NPZ_KEYS) and ("weights" in data or "codes" in data)


def load_input(path: str | pathlib.Path, cols: int | None) -> np.ndarray:
    """An input vector from ``.npy`` (or ``.npz`` with array ``x``) of length ``cols``
    (``None``: any length, flattened)."""
    path = pathlib.Path(path)
    if path.suffix == ".npz":
        z = _read_arrays(path, npz=True)
        if "x" not in z:
            raise WorkloadError(f"{path}: no array 'x' (has {sorted(z)})")
        x = z["x"]
    else:
        x = _read_arrays(path, npz=False)
    x = _numeric(np.asarray(x), path, "the input").astype(np.float64).reshape(-1)
    if cols is not None and x.size != cols:
        raise WorkloadError(f"{path}: input has {x.size} values but the first layer has {cols} inputs")
    if not np.all(np.isfinite(x)):
        raise WorkloadError(f"{path}: input contains NaN or infinity")
    return x


def from_block(block: dict, cfg: ArchConfig, seed: int = 0, base_dir: str | pathlib.Path | None = None,
               label: str = "workload", graphs: bool = False) -> Workload | NetWorkload:
    """:func:`from_spec` of a ``workload:`` block (checked by
    :func:`eie_sim.arch.workload_spec.parse_workload`; relative paths from ``base_dir``)."""
    return from_spec(parse_workload(block, label=label, base_dir=base_dir), cfg, seed, graphs)


def from_spec(spec: WorkloadSpec, cfg: ArchConfig, seed: int = 0,
              graphs: bool = False) -> Workload | NetWorkload:
    """The layers of a layer workload (:class:`~eie_sim.arch.workload_spec.WorkloadSpec` of
    kind ``table3``, ``synthetic``, ``npz`` or ``model``), built.

    Seeds not given in a synthetic spec default to ``seed``; the synthetic input of an npz
    or model workload without ``input`` has density ``act_density`` (default 0.5). A
    ``model`` (and an ``npz`` in the project's convention) may be any model file
    (:func:`model_workload`); with ``graphs`` (``eie-simulate``) a model with convolutions
    runs through its graph (:class:`~eie_sim.workloads.graph.NetWorkload`), else it is
    refused. The networks (``network``, ``squeezenet``, ``lenet``) are run by their
    applications, not built here.
    """
    label = spec.label
    inp = spec.path("input")
    ad = DEFAULT_ACT_DENSITY if spec.act_density is None else spec.act_density
    if spec.kind in ("network", "squeezenet", "lenet"):
        raise WorkloadError(f"{label}.{spec.kind}: a whole network runs through eie-simulate "
                            f"(--{spec.kind} or this block), not as a layer workload")
    if spec.kind == "table3":
        layers = [table3_layer(n, seed=seed, weight_bits=cfg.weight_bits) for n in table3_names(spec.value)]
        return Workload(layers, network=False,
                        description=f"Table III layers {', '.join(l.name for l in layers)} "
                                    f"(synthetic, seed {seed})")
    if spec.kind == "synthetic":
        one = not isinstance(spec.value, list)
        specs = [spec.value] if one else spec.value
        layers = []
        for i, s in enumerate(specs):
            where = label if one and label.startswith("--") else f"{label}.synthetic[{i}]"
            s = {"seed": seed, **s}
            lay = synthetic_from_spec(s, cfg.weight_bits, where=where)
            if len(specs) > 1 and "name" not in s:
                lay.name = f"{lay.name}-{i}"
            layers.append(lay)
        return Workload(layers, network=False, description=f"{len(layers)} synthetic layer(s)")
    path = spec.path(spec.kind)
    if spec.kind == "npz" and _legacy_npz(path):
        lay = from_npz(path, cfg.weight_bits, seed)
        if inp:
            lay.x = load_input(inp, lay.cols)
            lay.source["input"] = str(inp)
        elif lay.x is None:
            lay.x = synthetic_input(lay.cols, ad, seed)
            lay.source["input"] = f"synthetic input (seed {seed}, density {ad})"
        return Workload([lay], network=False, description=f"npz layer {lay.source['path']}")
    # a model file (an npz in the project's one convention is a model)
    paths = spec.input_paths()
    wl = model_workload(path, cfg, seed, list(spec.layers) if spec.layers else None, None, ad,
                        graphs, input_source=str(inp) if inp else "input",
                        mode=spec.mode or (MODEL_MODES[0] if spec.kind == "model" else "per-layer"),
                        input_paths=paths,
                        images=spec.images if spec.kind == "model" else None,
                        preprocess=spec.image_preprocess or "caffe",
                        float_model=spec.path("float_model"),
                        input_shapes=spec.import_args()[0], input_values=spec.import_args()[1])
    if isinstance(wl, NetWorkload):
        if wl.mode == "chained":
            wl.description += f"; {len(wl.inputs)} input(s)"
        else:
            wl.description += (f"; input {inp}" if inp else f"; synthetic input (seed {seed}" +
                               (")" if wl.x.ndim == 4 else f", density {ad})"))
        return wl
    if len(paths) > 1 or spec.images or spec.float_model:
        raise WorkloadError(f"{path}: several inputs, --image and --float-model run a model "
                            f"through its graph (chained); this file holds fully-connected "
                            f"layers and no graph")
    cols = wl.layers[0].cols
    if inp:
        wl.x = load_input(inp, cols)
        wl.description += f"; input {inp}"
    else:
        wl.x = synthetic_input(cols, ad, seed)
        wl.description += f"; synthetic input (seed {seed}, density {ad})"
    if not wl.network:
        for lay in wl.layers:
            lay.x = synthetic_input(lay.cols, ad, seed) if lay is not wl.layers[0] else wl.x
        wl.description += "; layers do not chain, each run on its own input"
    return wl
