"""Activation queue (paper Fig. 4 "Act Queue"; docs/timing.md rule Q).

Each PE buffers the broadcast ``(j, a_j)`` pairs in a FIFO that holds ``queue_depth``
entries and is *full* when it holds ``queue_depth`` (our choice 1: depth = entries held).
The content is registered state: a broadcast in cycle ``t`` is visible from ``t + 1``, a
pop in cycle ``t`` frees its slot from ``t + 1`` (see :mod:`.clock`).

:class:`FullSignal` is the wired-OR of all queues' full flags that the central control
unit samples at the start of each cycle to decide whether it must stall the broadcast.
"""
from __future__ import annotations

from collections import deque

import simpy

from eie_sim.hw.units.clock import Clock


class FullSignal:
    """The wired-OR "some activation queue is full" (start-of-cycle value) and its wait event."""

    def __init__(self, env: simpy.Environment):
        self.env = env
        self.full_queues = 0          # queues holding queue_depth entries right now
        self._waiter: simpy.Event | None = None

    @property
    def asserted(self) -> bool:
        return self.full_queues > 0

    def wait_clear(self) -> simpy.Event:
        """An event that fires in the first cycle that starts with no queue full."""
        self._waiter = self.env.event()
        if not self.asserted:
            self._waiter.succeed()
        return self._waiter

    def changed(self) -> None:
        """Called by a queue at the clock edge when its full flag changed."""
        if self._waiter is not None and not self.asserted and not self._waiter.triggered:
            self._waiter.succeed()


class ActivationQueue:
    """One PE's activation FIFO of ``depth`` entries (registered; rule Q).

    In a cycle the queue may be popped by its PE and pushed by the broadcast; both
    take effect together at the next clock edge (pop first, then push), so the
    occupancy seen by everyone is the start-of-cycle one.
    """

    def __init__(self, env: simpy.Environment, clock: Clock, depth: int, full_signal: FullSignal):
        if depth < 1:
            raise ValueError(f"queue depth must be >= 1, got {depth}")
        self.env = env
        self.clock = clock
        self.depth = depth
        self.full_signal = full_signal
        self._items: deque = deque()          # the content at the start of this cycle
        self._popping = False                 # popped in this cycle
        self._incoming = None                 # entry broadcast in this cycle
        self._update_cycle = -1               # cycle whose edge update is registered
        self._waiter: simpy.Event | None = None
        self.max_occupancy = 0                #: most entries held at the start of a cycle

    # ---- start-of-cycle reads ------------------------------------------------------
    def __len__(self) -> int:
        return len(self._items)

    @property
    def full(self) -> bool:
        return len(self._items) >= self.depth

    def wait_nonempty(self) -> simpy.Event:
        """An event that fires in the first cycle that starts with an entry in the queue."""
        self._waiter = self.env.event()
        if self._items:
            self._waiter.succeed()
        return self._waiter

    # ---- writes in this cycle, applied at the next clock edge ----------------------
    def pop(self):
        """Take the head entry in this cycle; its slot is free from the next cycle."""
        if not self._items:
            raise RuntimeError("pop from an empty activation queue")
        if self._popping:
            raise RuntimeError("two pops from one activation queue in one cycle")
        self._popping = True
        self._register_update()
        return self._items[0]

    def push(self, entry) -> None:
        """Receive a broadcast in this cycle; it is in the queue from the next cycle."""
        if len(self._items) >= self.depth:
            raise RuntimeError("broadcast into a full activation queue")
        if self._incoming is not None:
            raise RuntimeError("two broadcasts into one activation queue in one cycle")
        self._incoming = entry
        self._register_update()

    def _register_update(self) -> None:
        if self._update_cycle != self.env.now:
            self._update_cycle = self.env.now
            self.clock.at_edge(self._update)

    def _update(self, _arg) -> None:
        """The clock edge: apply this cycle's pop and push."""
        items = self._items
        was_full = len(items) >= self.depth
        if self._popping:
            items.popleft()
            self._popping = False
        if self._incoming is not None:
            items.append(self._incoming)
            self._incoming = None
            waiter = self._waiter
            if waiter is not None and not waiter.triggered:
                waiter.succeed()
        n = len(items)
        if n > self.max_occupancy:
            self.max_occupancy = n
        is_full = n >= self.depth
        if is_full != was_full:
            self.full_signal.full_queues += 1 if is_full else -1
            self.full_signal.changed()
