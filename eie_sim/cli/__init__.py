"""The command-line tools, each a thin layer over the public API (docs/api.md):
``eie-simulate`` (:mod:`~eie_sim.cli.simulate`), ``eie-sweep`` (:mod:`~eie_sim.cli.sweep`),
``eie-plot`` (:mod:`~eie_sim.cli.plot`); :mod:`~eie_sim.cli.common` holds their shared
options and the error-to-exit-status rule."""
