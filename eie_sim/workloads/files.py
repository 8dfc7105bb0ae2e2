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

The readers are split by job: :mod:`eie_sim.workloads.model_files` reads model files,
:mod:`eie_sim.workloads.array_files` the simulator's one-layer ``.npz`` and input vectors
(their functions are importable from here too); this module builds the workload of a
``workload:`` block (:func:`from_block`, :func:`from_spec`).
"""
from __future__ import annotations

import pathlib

from eie_sim.arch.config import ArchConfig
from eie_sim.arch.workload_spec import (
    DEFAULT_ACT_DENSITY,
    MODEL_MODES,
    WorkloadSpec,
    parse_workload,
)
from eie_sim.errors import WorkloadError
from eie_sim.workloads.array_files import NPZ_KEYS, _legacy_npz, from_npz, load_input
from eie_sim.workloads.graph import NetWorkload
from eie_sim.workloads.layer import Workload
from eie_sim.workloads.model_files import (
    DENSE_SUFFIXES,
    from_model,
    model_code_bits,
    model_workload,
)
from eie_sim.workloads.synthetic import (
    synthetic_from_spec,
    synthetic_input,
    table3_layer,
    table3_names,
)

__all__ = ["NPZ_KEYS", "DENSE_SUFFIXES", "from_npz", "load_input", "from_model",
           "model_code_bits", "model_workload", "from_block", "from_spec"]


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
