"""Fuzz harness of the project's readers (issue 17).

Seeded mutations of every hostile-input format the tools read: the compressed model file
(``.dcmp``, versions 2 and 1), the authors' ``.net`` (small synthetic networks, plus the
published SqueezeNet when ``../shared/data/squeezenet`` holds it), ``.npz``/``.npy``
layers and weights, YAML configurations and energy tables, Caffe prototxts
(:mod:`tests.fuzz.prototxt_cases`), a sweep's ``sweep.db`` fed to ``eie-plot`` and to a
resume (:mod:`tests.fuzz.sweepdb_cases`), and the model importers' ONNX, safetensors and
graph JSON (:mod:`tests.fuzz.importer_cases`; when the optional onnx and safetensors
packages are installed). Each case runs in a worker
process under a time limit (an alarm per case, and a hard limit after which the worker is
killed and replaced) and a memory limit (``RLIMIT_AS``), so a hang or a huge allocation is
counted, never fatal. The outcome of every case is one of :data:`harness.OUTCOMES`.

* :mod:`tests.fuzz.corpus`: the seed inputs and the mutations (deterministic in
  ``(seed, format, case index)``);
* :mod:`tests.fuzz.targets`: what each format is fed to, and how a result is compared
  with the unmutated input's;
* :mod:`tests.fuzz.harness`: workers, limits, the outcome table;
  ``python -m tests.fuzz --cases 10000`` (``make fuzz``) runs the long campaign.
"""
