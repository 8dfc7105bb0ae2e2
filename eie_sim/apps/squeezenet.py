"""The authors' compressed SqueezeNet on EIE: its 26 convolution layers, M x V per position.

The files (the Caffe prototxt and the authors' compressed ``.net``) are read from
``../shared/data/squeezenet`` by default (never copied here). :func:`run_squeezenet` runs
the network through the one network runner (:func:`eie_sim.sim.runner.run_net`, per-layer
mode) on the seeded synthetic input: each convolution is the ``(out, in*kh*kw)`` matrix on
each output position's unrolled patch, laid out once, batched through the fast engine,
every output checked against numpy and the forward pass's own output.
``positions="all"`` simulates every output position; an integer ``N`` a seeded sample of
``N`` positions per layer, whose layer totals are **extrapolated** (mean x positions) and
labelled so (:class:`~eie_sim.sim.results.LayerResult`). The chained run on natural images
is :mod:`eie_sim.apps.squeezenet_chain`.
"""
from __future__ import annotations

import pathlib

from compressor.caffe.authors_format import read_authors
from compressor.caffe.prototxt import load_net
from compressor.errors import AuthorsFormatError
from compressor.graph.forward import SYNTHETIC_SEED, synthetic_input
from eie_sim.arch import energy as energy_mod
from eie_sim.arch.config import PAPER_CONFIG, ArchConfig
from eie_sim.errors import WorkloadError
from eie_sim.sim.options import SimOptions
from eie_sim.sim.results import NetRun
from eie_sim.sim.runner import NetSource, parse_positions, run_net

#: where the authors' SqueezeNet files are looked for by default (never copied here)
DEFAULT_SQUEEZENET_DIR = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "squeezenet"
PROTOTXT_NAME = "SqueezeNet_deploy.prototxt"
NET_NAME = "compressed_SqueezeNet.net"


def load_squeezenet(data_dir: str | pathlib.Path | None = None):
    """``(net, model)`` from ``DIR/SqueezeNet_deploy.prototxt`` and ``DIR/compressed_SqueezeNet.net``."""
    d = pathlib.Path(data_dir) if data_dir else DEFAULT_SQUEEZENET_DIR
    proto, netf = d / PROTOTXT_NAME, d / NET_NAME
    for f in (proto, netf):
        if not f.is_file():
            raise WorkloadError(f"{f}: SqueezeNet file not found (give the folder holding "
                                f"{PROTOTXT_NAME} and {NET_NAME}: --squeezenet DIR)")
    net = load_net(proto)
    try:
        return net, read_authors(net, netf)
    except AuthorsFormatError as exc:
        raise WorkloadError(f"{netf}: {exc}" if str(netf) not in str(exc) else str(exc)) from None


def run_squeezenet(data_dir: str | pathlib.Path | None = None, cfg: ArchConfig | None = None,
                   positions: int | str | None = None, seed: int = 0, *,
                   explicit: frozenset[str] | set[str] = frozenset(),
                   options: SimOptions | None = None, layers: list[str] | None = None,
                   progress=None) -> NetRun:
    """Run the authors' compressed SqueezeNet's convolution layers on EIE (one image).

    :func:`eie_sim.sim.runner.run_net` per layer on the seeded ``synthetic_input``: the
    numpy forward pass gives each layer's input; its patches are the M x V inputs, one per
    output position. ``positions``: None/``'all'`` or a sample size per layer (seed
    ``seed``). ``cfg`` (default: the paper's design point) is adapted to one network-wide
    fixed-point format (:func:`~eie_sim.sim.formats.network_format`; keys in ``explicit``
    are kept). Every layer is fit-checked (unless ``options.check_fit`` is False) and every
    simulated output is checked against numpy and the forward pass's own output.
    """
    opt = options or SimOptions()
    n_sample = parse_positions(positions)
    d = pathlib.Path(data_dir) if data_dir else DEFAULT_SQUEEZENET_DIR
    net, model = load_squeezenet(d)
    (in_shape,) = net.inputs.values()
    x = synthetic_input(tuple(in_shape), seed=SYNTHETIC_SEED)
    about = NetSource(synthetic=False, seeds={"input_seed": SYNTHETIC_SEED, "sample_seed": seed},
                      source={"kind": "squeezenet", "file": str(d / NET_NAME), "data_dir": str(d)},
                      title="SqueezeNet (authors' compressed v1.0) convolution layers on EIE, "
                            "M x V per output position")
    run = run_net(net, model, x, cfg or PAPER_CONFIG, positions=n_sample, layers=layers,
                  options=opt, seed=seed, fit_format=frozenset(explicit), about=about,
                  progress=progress)
    run.input_hw = (int(in_shape[2]), int(in_shape[3]))
    run.notes = [
        "Input: compressor.graph.forward.synthetic_input (seed "
        f"{SYNTHETIC_SEED}), a smooth seeded random image, not a natural image: activation "
        "densities are those of this input through the network's ReLUs.",
        "Each output position is one independent EIE run of the (out, in*kh*kw) matrix on its "
        "unrolled patch; loading the patch (im2col) into the source registers is not modelled "
        "(I/O mode, as for every layer here); per position: pass cycles + batch store cycles "
        "(+ pass reloads when a layer has several output passes and input batches), the "
        "store and reload cycles counted as starved on every PE (docs/timing.md).",
        "Layer inputs come from the numpy forward pass (float), not from the simulator's own "
        "fixed-point outputs of the previous layer (pooling and concat are not on EIE).",
        f"E{energy_mod.model_note(opt.energy_table)[1:]}; per layer summed over positions.",
    ]
    if n_sample is not None:
        run.notes.insert(0, f"EXTRAPOLATED: --positions {n_sample}: a seeded sample (seed {seed}) of "
                            f"{n_sample} positions per layer was simulated; every layer total (cycles, "
                            f"time, energy, MACs, reads, stalls, batch cycles, saturations) is the "
                            f"sampled sum x positions / sampled (extrapolated), not a measured sum; "
                            f"per-position values, efficiencies and errors are over the sample.")
    if not opt.check_fit:
        run.notes.append("--no-fit-check: layers were simulated without the SRAM fit check")
    return run
