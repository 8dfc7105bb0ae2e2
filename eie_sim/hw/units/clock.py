"""The clock edge: registered state shared between units (docs/timing.md, first paragraph).

Every EIE unit reads the state as it was at the start of cycle ``t`` and what it writes
becomes visible at ``t + 1``. In simpy this is modelled with event priorities:

* all unit processes run at integer times with ordinary (``NORMAL``) events;
* a write to shared state made during cycle ``t`` is not applied at once but registered
  with :meth:`Clock.at_edge`; all writes of cycle ``t`` are applied together by one
  :class:`ClockEdge` event at time ``t + 1`` with ``URGENT`` priority, i.e. before any
  unit runs in cycle ``t + 1``.

So within a cycle the order in which simpy resumes the processes does not matter: they
all see the start-of-cycle state, exactly as flip-flops clocked by one edge.
"""
from __future__ import annotations

import simpy
from simpy.events import URGENT


class ClockEdge(simpy.events.Event):
    """The rising clock edge at the start of the next cycle (``URGENT``, delay 1).

    Built like simpy's own ``Timeout`` (an event that is triggered when created), only
    with ``URGENT`` priority so that it is processed before every ``NORMAL`` event of
    the same time.
    """

    def __init__(self, env: simpy.Environment):
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, URGENT, 1)


class Clock:
    """Collects the register updates of the current cycle and applies them at the edge."""

    def __init__(self, env: simpy.Environment):
        self.env = env
        self._pending: list = []
        self._edge_time = None

    def at_edge(self, update, arg=None) -> None:
        """Apply ``update(arg)`` at the start of the next cycle (before any unit reads)."""
        self._pending.append((update, arg))
        when = self.env.now + 1
        if self._edge_time != when:
            self._edge_time = when
            edge = ClockEdge(self.env)
            edge.callbacks.append(self._commit)

    def _commit(self, _edge) -> None:
        pending, self._pending = self._pending, []
        for update, arg in pending:
            update(arg)
