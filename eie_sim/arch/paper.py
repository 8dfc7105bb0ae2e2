"""Values printed in the EIE paper (Han et al., ISCA 2016) that reports compare with.

PAPER VALUES only: nothing here is measured, fitted or used by the model itself. The
Table III layer specifications (sizes and densities) live with their generator,
:data:`eie_sim.workload.TABLE3`.
"""
from __future__ import annotations

#: Table IV, EIE rows: theoretical time per layer (microseconds, batch 1, 64 PEs, 800 MHz)
TABLE4_THEORETICAL_US: dict[str, float] = {
    "Alex-6": 28.1, "Alex-7": 11.7, "Alex-8": 8.9, "VGG-6": 28.1, "VGG-7": 7.9,
    "VGG-8": 7.3, "NT-We": 5.2, "NT-Wd": 13.0, "NT-LSTM": 6.5}

#: Table IV, EIE rows: actual time per layer (microseconds, batch 1, 64 PEs, 800 MHz)
TABLE4_ACTUAL_US: dict[str, float] = {
    "Alex-6": 30.3, "Alex-7": 12.2, "Alex-8": 9.9, "VGG-6": 34.4, "VGG-7": 8.7,
    "VGG-8": 8.4, "NT-We": 8.0, "NT-Wd": 13.9, "NT-LSTM": 7.5}
