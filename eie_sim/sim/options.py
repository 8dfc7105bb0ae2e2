"""How a layer, a network or a sweep point is simulated: one :class:`SimOptions` object.

The engine, the cross-check engine, the numpy check, the SRAM fit check, the energy table
and the window of the utilisation counters are the same choices on every path (a layer,
:func:`eie_sim.sim.runner.run_net`, a sweep point), so they travel together instead of as
long parameter lists.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # types only (arch and hw are below sim)
    from eie_sim.arch.energy import EnergyTable
    from eie_sim.hw.engines import Engine


@dataclass(frozen=True)
class SimOptions:
    """Choices of one simulation run.

    ``engine``: ``'fast'`` (numba), ``'simpy'`` (the discrete-event model of hw/units),
    an :class:`~eie_sim.hw.engines.Engine` or a ``run_pass`` callable; ``verify``: True
    (compare every pass with the other named engine) or an engine to compare with;
    ``check``: hold every output to numpy (bit-exact integer reference, bounded float
    reference); ``check_fit``: refuse a layer that exceeds the SRAMs (False: simulate it
    anyway, reports say so); ``energy_table``: the energy model (None: the default
    table, docs/energy.md); ``window``: also count per window of that many cycles
    (one-vector layers, docs/timeline.md).
    """

    engine: "str | Engine" = "fast"
    verify: "bool | str | Engine" = False
    check: bool = True
    check_fit: bool = True
    energy_table: "EnergyTable | None" = None
    window: int | None = None

    def replace(self, **changes) -> "SimOptions":
        return replace(self, **changes)


DEFAULT_OPTIONS = SimOptions()
