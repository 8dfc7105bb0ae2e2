"""Cycle-accurate simulator of EIE, the Efficient Inference Engine (Han et al., ISCA 2016).

The simulator reads models written by ``compressor`` (or plain/synthetic layer specs),
lays them out over the PE array, runs them on a discrete-event model of the PE units
(or on the numba engine with identical timing) and reports cycles, time, energy and
load balance per layer, with the computed outputs checked against numpy.
"""

__version__ = "0.1.0"
