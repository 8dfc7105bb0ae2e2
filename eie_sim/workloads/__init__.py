"""Workloads: the layers (weight codes, codebook, bias) and inputs a run simulates.

:mod:`~eie_sim.workloads.layer` defines the form every source ends in;
:mod:`~eie_sim.workloads.synthetic` makes seeded synthetic layers and the paper's
Table III layers; :mod:`~eie_sim.workloads.files` builds a config's ``workload:`` block
from them and from files: models (:mod:`~eie_sim.workloads.model_files`), ``.npz`` layers
and input vectors (:mod:`~eie_sim.workloads.array_files`).
"""
from eie_sim.workloads.files import (
                                     from_block,
                                     from_model,
                                     from_npz,
                                     from_spec,
                                     load_input,
)
from eie_sim.workloads.layer import LayerWorkload, Workload
from eie_sim.workloads.synthetic import (
                                     parse_synthetic_arg,
                                     synthetic_from_spec,
                                     synthetic_input,
                                     synthetic_layer,
                                     table3_layer,
                                     table3_names,
)

__all__ = ["LayerWorkload", "Workload", "from_block", "from_model", "from_spec", "from_npz",
           "load_input", "parse_synthetic_arg", "synthetic_from_spec",
           "synthetic_input", "synthetic_layer", "table3_layer", "table3_names"]
