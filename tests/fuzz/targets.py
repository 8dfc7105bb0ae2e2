"""What each fuzzed input is fed to, which errors count as clean, and how a result is
compared with the unmutated seed's (the "accepted identical" outcome).

Every target reads a file (the path the harness wrote the case to), exactly as the tools
do: ``compressor.fileformat.load`` and ``eie_sim.workloads.files.from_model`` for
``.dcmp``; ``compressor.caffe.authors_format.read_authors`` for ``.net``;
``eie_sim.workloads.files.from_npz`` / ``load_input``,
``compressor.npzio.load_npz_weights`` and ``compressor.importers.read_npz_model`` (a
weight archive with its ``__graph__``) for ``.npz``/``.npy``; ``load_config`` and
``EnergyTable.load`` for YAML; ``compressor.importers.read_onnx``, ``read_safetensors``
and ``graph_json.read_graph_json`` for the model importers' formats (whose clean refusal
must also name the file); ``compressor.caffe.prototxt.load_net`` for the prototxt;
``eie-plot``'s ``read_partial`` (and its plots) and an ``eie-sweep`` resume for a sweep
database (:mod:`tests.fuzz.sweepdb_cases`). A clean refusal is the project's own error
type with a one-line message (what the tools print as their one line before exiting 2).
"""
from __future__ import annotations

import os

import numpy as np

from compressor import fileformat as ff
from compressor.caffe.authors_format import read_authors
from compressor.caffe.prototxt import load_net
from compressor.errors import CompressorError, ModelImportError, WeightsError
from compressor.importers import read_npz_model, read_onnx, read_safetensors
from compressor.importers.graph_json import read_graph_json
from compressor.npzio import load_npz_weights
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.config_io import load_config
from eie_sim.arch.energy import EnergyTable
from eie_sim.errors import INPUT_ERRORS, ConfigError, WorkloadError
from eie_sim.workloads.files import from_model, from_npz, load_input
from tests.fuzz import sweepdb_cases

#: the errors that are a clean refusal, per target
CLEAN = {
    "dcmp": (CompressorError, WorkloadError),
    "net": (CompressorError,),
    "npz-layer": (WorkloadError,),
    "npz-weights": (CompressorError,),
    "npz-model": (CompressorError,),
    "npy": (WorkloadError,),
    "config": (ConfigError,),
    "energy": (ConfigError,),
    "onnx": (ModelImportError,),
    "safetensors": (ModelImportError, WeightsError),
    "graph-json": (ModelImportError,),
    "prototxt": (CompressorError,),
    "sweep-plot": INPUT_ERRORS,        # what eie-plot and eie-sweep report in one line, exit 2
    "sweep-resume": INPUT_ERRORS,
    **{f"selftest:{n}": () for n in ("ok", "sleep", "alloc", "spin", "crash")},
}


def _model_key(m):
    return (m.meta, [(l.name, l.kind, l.bits, l.index_bits, l.shape, l.codes.tobytes(),
                      l.codebook.tobytes(), None if l.bias is None else l.bias.tobytes(), l.meta)
                     for l in m.layers])


def _layer_key(lw):
    return (lw.codes.shape, lw.codes.indptr.tobytes(), lw.codes.indices.tobytes(),
            lw.codes.data.tobytes(), np.asarray(lw.codebook, np.float32).tobytes(),
            None if lw.bias is None else np.asarray(lw.bias).tobytes(),
            None if lw.x is None else np.asarray(lw.x).tobytes())


def _net_key(net):
    return [(l.name, l.type, l.bottoms, l.tops, l.out_shapes, l.weight_shape, repr(l.conv),
             repr(l.pool), l.num_output, l.bias_term, l.negative_slope) for l in net.layers]


def _imported_key(imp):
    arrays = imp.arrays()
    for k, v in arrays.items():          # what a reader accepts must be finite float32
        if v.dtype != np.float32 or not np.all(np.isfinite(v)):
            raise AssertionError(f"accepted a non-finite or non-float32 array {k!r}")
    return (None if imp.net is None else _net_key(imp.net),
            [(k, v.shape, v.dtype.str, v.tobytes()) for k, v in arrays.items()])


IMPORTERS = {"onnx": lambda p: _imported_key(read_onnx(p)),
             "npz-model": lambda p: _imported_key(read_npz_model(p)),
             "safetensors": lambda p: _imported_key(read_safetensors(p)),
             "graph-json": lambda p: _net_key(read_graph_json(p))}


#: targets that, on every n-th case, also feed the file to a second, slower reader:
#: the simulator's reader of a ``.dcmp``, the plots of a partial sweep (matplotlib:
#: seconds a case, its references made when first needed; EIE_FUZZ_PLOT_EVERY=0: never)
ALSO_EVERY = {"dcmp": 3, "sweep-plot": int(os.environ.get("EIE_FUZZ_PLOT_EVERY", "25"))}


def run(target: str, path: str, also_simulator: bool = False, info: dict | None = None):
    """Feed the file at ``path`` to ``target`` (``info``: the seed's facts: ``net``, the
    prototxt network of a ``.net``; ``config``, a sweep's configuration); returns a
    comparable key of the result. ``also_simulator``: also the second reader
    (:data:`ALSO_EVERY`)."""
    info = info or {}
    net = info.get("net")
    if target == "dcmp":
        key = _model_key(ff.load(path))
        if also_simulator:    # the simulator's reader of the same file, on the same checks
            try:
                wl = from_model(path, ArchConfig(weight_bits=8))
                key = (key, [_layer_key(l) for l in wl.layers])
            except WorkloadError as exc:
                if "fully-connected" not in str(exc) and "weight codes" not in str(exc):
                    raise
        return key
    if target == "net":
        return _model_key(read_authors(net, path))
    if target == "npz-layer":
        return _layer_key(from_npz(path, weight_bits=4, seed=0, name="fuzz"))
    if target == "npz-weights":
        w = load_npz_weights(path)
        return [(k, v.shape, v.tobytes()) for k, v in w.items()]
    if target == "npy":
        return load_input(path, 6).tobytes()
    if target == "config":
        d = load_config(path).resolved()
        d.pop("source", None)
        return repr(d)
    if target == "energy":
        return repr(EnergyTable.load(path).data)
    if target == "prototxt":
        return _net_key(load_net(path))
    if target == "sweep-plot":
        return sweepdb_cases.run_plot(path, also_simulator)
    if target == "sweep-resume":
        return sweepdb_cases.run_resume(path, info["config"])
    if target in IMPORTERS:
        try:
            return IMPORTERS[target](path)
        except CompressorError as exc:      # a refusal must name the file it refuses
            if path not in str(exc):
                raise AssertionError(f"the error does not name the file: {exc}") from exc
            raise
    if target.startswith("selftest:"):
        return _selftest(target.split(":", 1)[1])
    raise ValueError(f"unknown target {target}")


def _selftest(what: str):
    import os
    import signal
    import time
    if what == "sleep":
        time.sleep(3600)
    elif what == "alloc":
        return bytearray(64 << 30)                       # 64 GiB
    elif what == "spin":
        return sum(range(10 ** 15))                      # in C: no alarm gets through
    elif what == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    return None
