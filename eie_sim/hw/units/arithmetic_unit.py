"""Arithmetic unit (paper Fig. 4 "Arithm Unit"; docs/timing.md rule A).

An entry ``(v, z)`` issued by the pointer/Spmat read unit in cycle ``c`` goes through

1. ``c + 1``: the Spmat SRAM read of the entry;
2. ``c + 2``: codebook lookup ``w = codebook[v]`` (16-bit fixed point) and the row
   decode (``csc``: address accumulation ``row = previous row + z + 1``, restarting at
   -1 for each column; other encodings: :mod:`eie_sim.hw.units.index_decode`);
3. ``c + 3``: multiply ``w * a_j`` and read accumulator ``row`` from the destination
   registers;
4. ``c + 4``: round the product to the accumulator format (to nearest, ties towards
   +infinity, ``fixed_point.round_product``), add, write back: the write happens
   ``arithmetic_latency`` (4) cycles after the issue, and the run ends 2 cycles after the
   last write (docs/timing.md "End of a run").

Padding entries (``v = 0``) flow through and write nothing. A *bypass* hit is counted
when an entry that writes follows, in the very next cycle, an entry of the same PE
that wrote the same row (the adder output is forwarded instead of re-read).

Entries of the bias column (broadcast with activation 1.0) add the bias of their row
exactly (docs/timing.md choice 3): ``bias_q`` already has the accumulator's format.

With ``batch: B`` (docs/dram.md "Batching") the unit holds ``B`` sets of accumulators
and each entry issues once per vector whose activation of the column is non-zero, in
vector order, one per cycle (the bias column: every vector); a bypass hit then needs the
same row *and* the same vector.

Because every product is rounded on its own, the accumulators do not depend on the
order of the additions; the unit therefore applies a whole column slice when it starts
issuing it (the timing of each entry - issue cycle, bypass, latency - is kept exact).
"""
from __future__ import annotations

from eie_sim.arch.fixed_point import round_product


class ArithmeticUnit:
    """Decode, multiply-accumulate and bypass detection of one PE."""

    def __init__(self, codes: list[int], decoder, codebook_q: list[int], shift: int,
                 bias_col: int, bias_of_row: list[int], dest: list[int], latency: int,
                 batch_x: list[list[int]] | None = None, batch_dest: list[list[int]] | None = None):
        self.codes = codes              #: Spmat SRAM: weight index v of each entry
        self.decoder = decoder          #: row decoder over the stored index fields
        self.codebook_q = codebook_q    #: decoded weights, weight_frac_bits fixed point
        self.shift = shift              #: product fraction bits dropped (cfg.product_shift)
        self.bias_col = bias_col        #: index of the bias column (-1: no bias)
        self.bias_of_row = bias_of_row  #: bias of each local row, output_frac_bits
        self.dest = dest                #: destination registers (accumulators)
        self.batch_x = batch_x          #: a batch: the B vectors' activations (None: one)
        self.batch_dest = batch_dest    #: a batch: the B vectors' accumulators
        self.writes = 0                 #: accumulator writes of real entries
        self.padding = 0                #: padding entries that flowed through
        self.bypass_hits = 0
        self.latency = latency          #: cycles from issue to accumulator write
        self.last_write_cycle = -1      #: cycle of the last accumulator write (-1: none)
        self._last_cycle = -2           #: issue cycle of the last entry
        self._last_write_row = -1       #: its row if it wrote, else -1

    def execute(self, col: int, a: int, start: int, end: int, first_cycle: int) -> int:
        """Process entries ``start .. end-1`` of column ``col`` with activation ``a``,
        issued one per cycle from ``first_cycle`` on; returns the issue cycles."""
        if self.batch_x is not None:
            return self._execute_batch(col, start, end, first_cycle)
        codes, dest = self.codes, self.dest
        codebook_q, shift = self.codebook_q, self.shift
        is_bias = col == self.bias_col
        prev_cycle, prev_row = self._last_cycle, self._last_write_row
        cycle = first_cycle
        rows = self.decoder.rows(col, start, end)        # stage 1: the row decode
        for addr in range(start, end):
            row = rows[addr - start]
            v = codes[addr]
            if v == 0:                                   # padding: flows through, no write
                self.padding += 1
                prev_row = -1
            else:
                if prev_row == row and prev_cycle == cycle - 1:
                    self.bypass_hits += 1                # stage 3 result forwarded to stage 2
                if is_bias:
                    dest[row] += self.bias_of_row[row]   # bias x 1.0, exact
                else:                                    # stages 1-3: decode, multiply, add
                    dest[row] += round_product(codebook_q[v] * a, shift)
                self.writes += 1
                self.last_write_cycle = cycle + self.latency
                prev_row = row
            prev_cycle = cycle
            cycle += 1
        self._last_cycle, self._last_write_row = prev_cycle, prev_row
        return end - start

    def _execute_batch(self, col: int, start: int, end: int, first_cycle: int) -> int:
        """:meth:`execute` for a batch: each entry once per vector with a non-zero."""
        codes, codebook_q, shift = self.codes, self.codebook_q, self.shift
        is_bias = col == self.bias_col
        X = self.batch_x
        vecs = [b for b in range(len(X)) if is_bias or X[b][col] != 0]
        prev_cycle, prev = self._last_cycle, self._last_write_row     # prev: (vector, row)
        cycle = first_cycle
        rows = self.decoder.rows(col, start, end)
        for addr in range(start, end):
            row = rows[addr - start]
            v = codes[addr]
            for b in vecs:
                if v == 0:
                    self.padding += 1
                    prev = -1
                else:
                    if prev == (b, row) and prev_cycle == cycle - 1:
                        self.bypass_hits += 1
                    dest = self.batch_dest[b]
                    if is_bias:
                        dest[row] += self.bias_of_row[row]
                    else:
                        dest[row] += round_product(codebook_q[v] * X[b][col], shift)
                    self.writes += 1
                    self.last_write_cycle = cycle + self.latency
                    prev = (b, row)
                prev_cycle = cycle
                cycle += 1
        self._last_cycle, self._last_write_row = prev_cycle, prev
        return (end - start) * len(vecs)
