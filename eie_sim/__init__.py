"""Cycle-accurate simulator of EIE, the Efficient Inference Engine (Han et al., ISCA 2016).

The simulator reads models written by ``compressor`` (or plain/synthetic layer specs),
lays them out over the PE array, runs them on a discrete-event model of the PE units
(or on the numba engine with identical timing) and reports cycles, time, energy and
load balance per layer, with the computed outputs checked against numpy.

Public API (docs/api.md)::

    import eie_sim
    res = eie_sim.simulate(W, x, pes=64)         # a LayerResult; res.cycles, res.to_dict()
    rows = eie_sim.sweep(W, x, pes=[16, 32, 64])  # one row per point
    run = eie_sim.run_net(net, weights, x, cfg, mode="chained")   # a NetRun (any Net)
    run = eie_sim.run_squeezenet(positions=32)    # the authors' SqueezeNet, per layer
    eie_sim.write_bundle("out", eie_sim.netrun_report.bundle_files(run))

The rooms of the package (docs/architecture.md): ``arch/`` (the design point, YAML, fixed
point, energy tables, paper values), ``hw/`` (layout, the hardware units, both engines,
counters), ``workloads/``, ``sim/`` (the stage pipeline, results, networks), ``apps/``
(LeNet on MNIST, SqueezeNet, sweeps), ``output/`` (reports, bundles, plots), ``cli/``.

Also re-exported for reports and the benchmarks (``benchmarks/``): ``paper`` (the module
of the paper's published values, :mod:`eie_sim.arch.paper`), :class:`EnergyTable` (the
``energy_table=`` of :func:`simulate`), :func:`synthetic_input` (the seeded input vectors
of the synthetic layers), ``LAYER_COLUMNS`` (the ``layers.csv`` columns),
:func:`csv_text` and :func:`write_bundle` (a CSV and a results folder, written whole) and
:func:`sweep_plots` (the sweep figures).
"""
from eie_sim.api import layer, make_config, simulate, sweep
from eie_sim.apps.hw_prune import hw_prune_layer, hw_prune_network
from eie_sim.apps.images import DEFAULT_IMAGES, IMAGES, image_input, parse_images
from eie_sim.apps.llm import run_llm
from eie_sim.apps.networks import NETWORK_NAMES, run_network
from eie_sim.apps.networks import load_case as load_network
from eie_sim.apps.networks import run_case as run_network_case
from eie_sim.apps.squeezenet import DEFAULT_SQUEEZENET_DIR as SQUEEZENET_DIR
from eie_sim.apps.squeezenet import NET_NAME as SQUEEZENET_NET
from eie_sim.apps.squeezenet import PROTOTXT_NAME as SQUEEZENET_PROTOTXT
from eie_sim.apps.squeezenet import load_squeezenet, run_squeezenet
from eie_sim.apps.squeezenet_chain import run_squeezenet_chain
from eie_sim.workloads.llm import LLM_NAMES
from eie_sim.apps.sweep import run_sweep
from eie_sim.arch import paper
from eie_sim.arch.config import PAPER_CONFIG, ArchConfig
from eie_sim.arch.config_io import load_config
from eie_sim.arch.energy import EnergyTable
from eie_sim.arch.fixed_point_spec import FixedPointSpec
from eie_sim.arch.sweep_spec import grid_size
from eie_sim.errors import (
                            ConfigError,
                            EIEError,
                            EngineMismatch,
                            LayoutError,
                            SimulationMismatch,
                            WorkloadError,
)
from eie_sim.output import netrun as netrun_report
from eie_sim.output import squeezenet_chain as chained_images_report
from eie_sim.output.plots import sweep_plots
from eie_sim.output.report import csv_text, write_bundle
from eie_sim.sim.chain import EieChain
from eie_sim.sim.formats import calibrate_formats, single_format
from eie_sim.sim.layer import simulate_conv_layer, simulate_layer
from eie_sim.sim.network import run_workload, simulate_network
from eie_sim.sim.options import SimOptions
from eie_sim.sim.results import LAYER_COLUMNS, LayerResult, NetRun, NetworkResult
from eie_sim.sim.runner import NetSource, run_net
from eie_sim.workloads import (
                            LayerWorkload,
                            Workload,
                            from_model,
                            from_npz,
                            synthetic_input,
                            synthetic_layer,
                            table3_layer,
)

__version__ = "0.1.0"

__all__ = ["ArchConfig", "ConfigError", "EIEError", "EngineMismatch", "LayerResult",
           "LayerWorkload", "LayoutError", "NetworkResult", "PAPER_CONFIG",
           "SimulationMismatch", "Workload", "WorkloadError", "from_model", "from_npz",
           "layer", "load_config", "make_config", "run_workload", "simulate",
           "simulate_conv_layer", "simulate_layer", "simulate_network", "sweep",
           "synthetic_layer", "table3_layer", "__version__",
           # networks: the one runner, its options and result, the applications on it
           "EieChain", "NetRun", "NetSource", "SimOptions", "calibrate_formats", "run_net",
           "single_format", "FixedPointSpec", "DEFAULT_IMAGES", "IMAGES", "image_input",
           "parse_images", "NETWORK_NAMES", "load_network", "run_network", "run_network_case",
           "SQUEEZENET_DIR", "SQUEEZENET_NET", "SQUEEZENET_PROTOTXT", "load_squeezenet",
           "run_squeezenet", "run_squeezenet_chain", "run_llm", "LLM_NAMES",
           # eie-sweep from Python: the design-space sweep into a folder, its grid size
           "grid_size", "run_sweep",
           # pruning with the simulator in the loop (docs/hw_prune.md)
           "hw_prune_layer", "hw_prune_network",
           # for reports and the benchmarks
           "EnergyTable", "LAYER_COLUMNS", "chained_images_report", "csv_text",
           "netrun_report", "paper", "sweep_plots", "synthetic_input", "write_bundle"]
