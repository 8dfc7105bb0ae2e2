"""The two timing engines behind one interface (docs/timing.md).

An engine runs one output pass of a laid-out layer: ``run_pass(pass_layout, layer_layout,
x_q, cfg) -> PassStats`` for one input vector, and :meth:`Engine.run_batch` for ``P``
independent vectors (a :class:`~eie_sim.hw.counters.PassBatch`). ``fast`` is the numba
engine (:mod:`eie_sim.hw.engine_fast`, batched natively); ``simpy`` the readable
discrete-event model (:mod:`eie_sim.hw.engine_simpy`, one vector a run). Any callable with
``run_pass``'s signature can be used as a custom engine: it runs a batch one vector at a
time and records no trace. What an engine can do beyond ``run_pass`` is declared in its
fields (``batch``: a native batched run; ``traced``: a single-vector run that also records
its :class:`~eie_sim.hw.trace.PassTrace`), not read off the identity of its function.

``analytical`` (:mod:`eie_sim.hw.analytical`, docs/analytical.md) is an estimate, not a
third cycle-exact engine: ``exact=False``, so it records no trace and is never used for,
or cross-checked by, ``verify``. :func:`estimate_engine` is its cheaper form for sweeps
(``estimate_only``: no accumulators, no pass over the entries).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from eie_sim.arch.config import ENGINE_NAMES
from eie_sim.errors import EngineUnavailable
from eie_sim.hw import analytical, engine_fast, engine_simpy
from eie_sim.hw.counters import PassBatch, PassStats
from eie_sim.hw.trace import PassTrace

RunPass = Callable[..., PassStats]
#: ``batch(pass_layout, layer_layout, X_q, cfg) -> PassBatch``
RunBatch = Callable[..., PassBatch]
#: ``traced(pass_layout, layer_layout, x_q, cfg) -> (PassStats, PassTrace)``
RunTraced = Callable[..., "tuple[PassStats, PassTrace]"]


@dataclass(frozen=True)
class Engine:
    """A named timing engine and what it can do: ``run_pass`` always; ``batch`` when it
    runs ``P`` vectors natively (else one ``run_pass`` per vector); ``traced`` when it can
    record a trace (None: it cannot)."""

    name: str
    run_pass: RunPass
    batch: RunBatch | None = None
    traced: RunTraced | None = None
    exact: bool = True
    #: counters only at column granularity and no accumulators (``analytical`` in sweeps,
    #: docs/analytical.md "Estimate-only sweeps"): results mark what it cannot fill
    estimate_only: bool = False

    def run_batch(self, pass_layout, layer_layout, X_q: np.ndarray, cfg) -> PassBatch:
        """One output pass for every row of ``X_q`` (``(P, cols)`` int64)."""
        if self.batch is not None:
            return self.batch(pass_layout, layer_layout, X_q, cfg)
        B = int(getattr(cfg, "batch", 1))
        if B > 1:                  # batches of B vectors, one run each (docs/dram.md)
            if self.name not in ENGINE_NAMES:
                raise EngineUnavailable(f"engine {self.name!r} runs one vector at a time: "
                                        f"batch: {B} needs the fast or simpy engine")
            return PassBatch.from_stats([self.run_pass(pass_layout, layer_layout, X_q[i:i + B], cfg)
                                         for i in range(0, len(X_q), B)])
        return PassBatch.from_stats([self.run_pass(pass_layout, layer_layout, x, cfg) for x in X_q])

    def run(self, pass_layout, layer_layout, X_q: np.ndarray, cfg,
            record: bool = False) -> "tuple[PassBatch, PassTrace | None]":
        """One output pass for every row of ``X_q``; with ``record`` (one row only, the
        fast and simpy engines) also its :class:`~eie_sim.hw.trace.PassTrace`."""
        if not record:
            return self.run_batch(pass_layout, layer_layout, X_q, cfg), None
        if self.traced is None:
            raise EngineUnavailable(f"engine {self.name!r} cannot record a trace (windows, "
                                    f"timelines): use the fast or simpy engine")
        st, tr = self.traced(pass_layout, layer_layout, X_q[0], cfg)
        return PassBatch.from_stats([st]), tr

    def other(self) -> "Engine":
        """The other named engine (what ``verify=True`` compares with)."""
        if not self.exact:
            raise EngineUnavailable(f"engine {self.name!r} is an estimate: verify compares cycle-exact "
                                    "engines counter by counter; measure its error with "
                                    "benchmarks/bench_analytical.py instead")
        if self.name not in ENGINE_NAMES:
            raise EngineUnavailable("verify=True with a custom engine: pass the engine to compare against")
        return get_engine("simpy" if self.name == "fast" else "fast")


def estimate_engine() -> Engine:
    """The analytical model's estimate-only engine (:func:`eie_sim.hw.analytical.estimate_pass`):
    what a sweep or search with ``engine: analytical`` runs unless it verifies."""
    return Engine("analytical", analytical.estimate_pass, batch=analytical.estimate_batch,
                  exact=False, estimate_only=True)


def get_engine(engine: "str | RunPass | Engine") -> Engine:
    """The :class:`Engine` for ``'fast'``, ``'simpy'``, ``'analytical'``, an :class:`Engine`
    or a ``run_pass`` callable."""
    if isinstance(engine, Engine):
        return engine
    if callable(engine):
        return Engine(getattr(engine, "__name__", "custom"), engine)
    if engine == "fast":
        return Engine("fast", engine_fast.run_pass, batch=engine_fast.run_batch,
                      traced=engine_fast.run_pass_traced)
    if engine == "simpy":
        return Engine("simpy", engine_simpy.run_pass, traced=engine_simpy.run_pass_traced)
    if engine == "analytical":
        return Engine("analytical", analytical.run_pass, batch=analytical.run_batch, exact=False)
    raise EngineUnavailable(f"unknown engine {engine!r}; choose one of {', '.join(ENGINE_NAMES)}")
