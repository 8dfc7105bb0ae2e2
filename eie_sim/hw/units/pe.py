"""One processing element (paper Fig. 4; docs/timing.md rule P) as a simpy process.

The PE wires its units in the order of the paper's figure::

    activation queue -> pointer read -> Spmat read -> arithmetic unit -> act R/W

and runs rule P: in the cycle its current column finishes (or in any cycle while it
holds no column) it pops the queue head if the queue held one at the start of the
cycle; the column's ``e`` entries are then issued one per cycle from the next cycle on
(an empty column slice takes one cycle that issues nothing). Nothing another unit can
observe happens while a column is being issued, so the process waits for the whole
column with one ``timeout(max(1, e))``; the per-entry work (Spmat line reads,
arithmetic, bypass) is done by the units with each entry's exact issue cycle.

Cycle classes (docs/timing.md "Per-PE cycle accounting"): ``busy`` = real entries
issued, ``padding`` = padding entries issued (both counted by the arithmetic unit),
``empty`` = empty-column cycles, and ``idle`` = the cycles in which the PE worked on no
column, counted by the PE from its own timeline: the gap before each pop (waiting for
the queue, including the pop cycle itself) and, once the run's length is known
(:meth:`finish`), the cycles after its last column. The engine checks that the four
add up to the run's cycles; nothing derives one class from the others.

With a DRAM stream (docs/dram.md rule D) the PE pops a column only once its tile has
arrived (:class:`~eie_sim.hw.units.dram.DramChannel`); the cycles it waits for it are
counted as ``dram_stall`` (part of ``idle``), and after popping the last column of a tile
it tells the channel when it will be done with that tile.
"""
from __future__ import annotations

import simpy

from eie_sim.hw.units.act_rw import ActRW
from eie_sim.hw.units.activation_queue import ActivationQueue
from eie_sim.hw.units.arithmetic_unit import ArithmeticUnit
from eie_sim.hw.units.pointer_read import PointerReadUnit
from eie_sim.hw.units.spmat_read import SpmatReadUnit


class ProcessingElement:
    """PE ``index`` with its units; :attr:`process` is its simpy process."""

    def __init__(self, env: simpy.Environment, index: int, queue: ActivationQueue,
                 pointer_read: PointerReadUnit, spmat_read: SpmatReadUnit,
                 arithmetic: ArithmeticUnit, act_rw: ActRW, dram=None, tile_of=None):
        self.env = env
        self.index = index
        self.queue = queue
        self.pointer_read = pointer_read
        self.spmat_read = spmat_read
        self.arithmetic = arithmetic
        self.act_rw = act_rw
        self.empty = 0                 #: empty-column cycles
        self.idle = 0                  #: cycles spent on no column (starved), see finish()
        self.last_work_cycle = -1      #: last cycle this PE issued or spent on a column
        self.pop_cycles: list[int] = []   #: the cycle of every pop (pointer read), in order
        self.dram = dram                  #: the DRAM channel when the layer streams
        self.tile_of = tile_of            #: the tile of each broadcast (rule D)
        self.dram_stall = 0               #: cycles waiting for a tile that had not arrived
        self.process = env.process(self.run())

    @property
    def busy(self) -> int:
        return self.arithmetic.writes

    @property
    def padding(self) -> int:
        return self.arithmetic.padding

    def run(self):
        env, queue = self.env, self.queue
        while True:
            # This is a cycle in which the PE holds no column (or its last one ends now).
            if not len(queue):
                yield queue.wait_nonempty()      # idle until a broadcast has arrived
            m = len(self.pop_cycles)             # the broadcast at the queue head
            if self.dram is not None and not self.dram.arrived(self.tile_of[m]):
                waited_from = env.now            # its tile is not here yet (rule D)
                yield self.dram.wait(self.tile_of[m])
                self.dram_stall += env.now - waited_from
            t = env.now
            # cycles last_work_cycle + 1 .. t held no column (none when the previous
            # column ended in this very cycle: back-to-back columns have no gap)
            self.idle += t - self.last_work_cycle
            col, a, start, end = self.pointer_read.pop_column(queue)
            self.pop_cycles.append(t)
            # the column occupies cycles t+1 .. t+work
            entries = end - start
            self.spmat_read.issue(start, end)
            issued = self.arithmetic.execute(col, a, start, end, first_cycle=t + 1)
            if entries:
                work = issued                    # entries x vectors served (a batch)
            else:
                work = 1                         # empty column slice: one idle-issue cycle
                self.empty += 1
            self.last_work_cycle = t + work
            if self.dram is not None and (m + 1 == len(self.tile_of)
                                          or self.tile_of[m + 1] != self.tile_of[m]):
                self.dram.release(int(self.tile_of[m]), t + work + 1)
            yield env.timeout(work)

    def finish(self, cycles: int) -> None:
        """The run lasted ``cycles`` cycles: the ones after this PE's last column are idle."""
        if cycles <= self.last_work_cycle:
            raise RuntimeError(f"PE {self.index} worked in cycle {self.last_work_cycle} "
                               f"of a {cycles}-cycle run")
        self.idle += cycles - 1 - self.last_work_cycle
        self.last_work_cycle = cycles - 1
