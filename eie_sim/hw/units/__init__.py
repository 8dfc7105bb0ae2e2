"""The units of one EIE PE (paper Fig. 4) and of the central control unit, as simpy
processes and the state they share. ``eie_sim.hw.engine_simpy`` wires them into one pass.

One module per paper unit:

* :mod:`.clock` - the clock edge: registered (start-of-cycle read, end-of-cycle write)
  state for every unit (docs/timing.md, first paragraph).
* :mod:`.activation_queue` - the activation queue FIFO (rule Q) and the wired-OR
  "some queue is full" signal that stalls the broadcast.
* :mod:`.pointer_read` - the pointer read unit, even/odd pointer banks (rule P).
* :mod:`.spmat_read` - the sparse-matrix read unit and its SRAM line counter (rule S).
* :mod:`.arithmetic_unit` - codebook decode, address accumulation, multiply-accumulate
  with per-product rounding, bypass detection (rule A).
* :mod:`.act_rw` - activation read/write: source and destination register files.
* :mod:`.lnzd` - leading non-zero detection quadtree (rule B's row scan).
* :mod:`.ccu` - the central control unit: computing-mode broadcast loop, queue-full
  stalls, input batch loads, bias broadcast (rule B).
* :mod:`.pe` - one processing element wiring its units as a simpy process (rule P).
* :mod:`.dram` - the DRAM channel that streams a layer's weights into the PEs' SRAMs
  (docs/dram.md rule D), its presets and the tile plan both engines share.
"""
