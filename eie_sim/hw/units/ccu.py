"""Central control unit (paper sec. IV "Central Control Unit"; docs/timing.md rule B).

In computing mode the CCU repeatedly takes the next non-zero input from the root of the
leading-non-zero-detection tree (:mod:`.lnzd`) and broadcasts ``(j, a_j)`` over the
H-tree into every PE's activation queue (:class:`BroadcastBus`). Cycle 0 loads detector
row 0; from cycle 1 on its state is ``(row, last_bank)``, starting at ``(0, -1)``, and
each cycle it

1. does nothing once it is done;
2. spends the cycle loading an input batch if it is loading one;
3. while ``row < n_rows``: looks for the first non-zero after ``last_bank`` in ``row``
   (every row is ``N`` banks wide; banks past the last column hold zeros). Found: if any
   queue was full at the start of the cycle it stalls (changes nothing; a *queue-full
   stall*), else it broadcasts it (moving on to the next row in the same cycle if that
   was bank ``N - 1``). Nothing left: it moves to the next row, full queues or not;
4. after the last row, broadcasts the bias column (activation 1.0) if the layer has a
   bias (stalling like any broadcast while a queue is full), and is done.

Input batches: the source registers hold ``N x R`` activations (``R`` rows of banks).
Moving into a row that starts a new batch makes the CCU spend the next
``batch_load_cycles`` cycles loading it (queues full or not), while the PEs keep
working. The first batch is loaded in I/O mode before the pass and costs nothing here.
"""
from __future__ import annotations

import math

import simpy

from eie_sim.hw.trace import EVENT_LOAD, EVENT_ROW_MOVE, EVENT_STALL
from eie_sim.hw.units.act_rw import ActRW
from eie_sim.hw.units.activation_queue import ActivationQueue, FullSignal
from eie_sim.hw.units.lnzd import LeadingNonZeroDetector


class BroadcastBus:
    """The H-tree from the CCU to all activation queues (one entry per cycle at most)."""

    def __init__(self, queues: list[ActivationQueue]):
        self.queues = queues

    def broadcast(self, entry: tuple[int, int]) -> None:
        """Send ``(j, a_j)`` in this cycle; every queue holds it from the next cycle."""
        for q in self.queues:
            q.push(entry)


class CentralControlUnit:
    """The CCU's computing-mode loop as a simpy process (:attr:`process`)."""

    def __init__(self, env: simpy.Environment, bus: BroadcastBus, full_signal: FullSignal,
                 lnzd: LeadingNonZeroDetector, act_rws: list[ActRW], *, cols: int,
                 has_bias: bool, bias_activation: int, regs_per_pe: int,
                 batch_load_cycles: int):
        self.env = env
        self.bus = bus
        self.full_signal = full_signal
        self.lnzd = lnzd
        self.act_rws = act_rws
        self.n_banks = len(act_rws)
        self.cols = cols
        self.n_rows = math.ceil(cols / self.n_banks)
        self.has_bias = has_bias
        self.bias_activation = bias_activation
        self.regs = regs_per_pe
        self.load_cycles = batch_load_cycles
        # state (rule B)
        self.row = 0
        self.last_bank = -1
        self.done = False
        self._batch_to_load = -1
        # counters
        self.broadcasts = 0
        self.broadcast_cycles: list[int] = []   #: the cycle of every broadcast, in order
        self.broadcast_columns: list[int] = []  #: the column of every broadcast, in order
        #: (kind, first, last) of every stall run, batch load and row move, in order
        #: (kinds: eie_sim.hw.trace.EVENT_*)
        self.events: list[tuple[int, int, int]] = []
        self.queue_full_stalls = 0
        self.batch_load_cycles = 0
        self.last_active_cycle = -1    #: last cycle the CCU loaded row 0, broadcast, moved, stalled or loaded
        self.process = env.process(self.run())

    def run(self):
        env = self.env
        yield env.timeout(1)                           # cycle 0: the detector loads row 0
        self.last_active_cycle = 0
        self.done = self.row == self.n_rows and not self.has_bias
        while not self.done:
            if self.full_signal.asserted and self.wants_to_broadcast():   # step 3: stall
                stalled_from = env.now
                yield self.full_signal.wait_clear()
                self.events.append((EVENT_STALL, stalled_from, env.now - 1))
                self.queue_full_stalls += env.now - stalled_from
                self.last_active_cycle = env.now - 1
                continue
            self.last_active_cycle = env.now
            self.step()                                # steps 3-4
            yield env.timeout(1)
            if self._batch_to_load >= 0:               # step 2, for the next cycles
                self.load_batch(self._batch_to_load)
                self._batch_to_load = -1
                self.events.append((EVENT_LOAD, env.now, env.now + self.load_cycles - 1))
                self.batch_load_cycles += self.load_cycles
                self.last_active_cycle = env.now + self.load_cycles - 1
                yield env.timeout(self.load_cycles)

    def wants_to_broadcast(self) -> bool:
        """This cycle would broadcast (a non-zero is left in the row, or the bias is next):
        only then does a full queue stall the CCU."""
        if self.row < self.n_rows:
            return self.lnzd.scan(self.row % self.regs, self.last_bank) >= 0
        return True

    def step(self) -> None:
        """One unstalled cycle of rule B (steps 3 and 4)."""
        if self.row < self.n_rows:
            n = self.n_banks
            reg = self.row % self.regs
            bank = self.lnzd.scan(reg, self.last_bank)
            if bank >= 0:
                self.broadcast(self.row * n + bank, self.act_rws[bank].source[reg])
                self.last_bank = bank
                if bank == n - 1:                      # every row is N banks wide
                    self.next_row()
            else:
                self.events.append((EVENT_ROW_MOVE, self.env.now, self.env.now))
                self.next_row()
        else:                                          # after the last row: the bias
            self.broadcast(self.cols, self.bias_activation)
            self.done = True

    def next_row(self) -> None:
        self.row += 1
        self.last_bank = -1
        if self.row < self.n_rows and self.row % self.regs == 0:
            self._batch_to_load = self.row // self.regs
        if self.row == self.n_rows and not self.has_bias:
            self.done = True

    def broadcast(self, j: int, a: int) -> None:
        self.bus.broadcast((j, a))
        self.broadcasts += 1
        self.broadcast_cycles.append(self.env.now)
        self.broadcast_columns.append(j)

    def load_batch(self, batch: int) -> None:
        """Load input batch ``batch`` from the activation SRAMs into the source registers."""
        for act in self.act_rws:
            act.load_source_batch(batch)
        self.lnzd.latch_sources([act.source for act in self.act_rws])
