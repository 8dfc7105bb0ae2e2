"""Values printed in the EIE paper (Han et al., ISCA 2016) that reports compare with.

PAPER VALUES only: nothing here is measured, fitted or used by the model itself. The
Table III layer specifications (sizes and densities) are paper values too:
:data:`TABLE3` (below).
"""
from __future__ import annotations

from typing import Any

#: Table IV, EIE rows: theoretical time per layer (microseconds, batch 1, 64 PEs, 800 MHz)
TABLE4_THEORETICAL_US: dict[str, float] = {
    "Alex-6": 28.1, "Alex-7": 11.7, "Alex-8": 8.9, "VGG-6": 28.1, "VGG-7": 7.9,
    "VGG-8": 7.3, "NT-We": 5.2, "NT-Wd": 13.0, "NT-LSTM": 6.5}

#: Table IV, EIE rows: actual time per layer (microseconds, batch 1, 64 PEs, 800 MHz)
TABLE4_ACTUAL_US: dict[str, float] = {
    "Alex-6": 30.3, "Alex-7": 12.2, "Alex-8": 9.9, "VGG-6": 34.4, "VGG-7": 8.7,
    "VGG-8": 8.4, "NT-We": 8.0, "NT-Wd": 13.9, "NT-LSTM": 7.5}

#: Table III of the paper: size = inputs x outputs, densities as fractions. Paper values.
TABLE3: dict[str, dict[str, Any]] = {
    "Alex-6": {"inputs": 9216, "outputs": 4096, "weight_density": 0.09, "act_density": 0.351},
    "Alex-7": {"inputs": 4096, "outputs": 4096, "weight_density": 0.09, "act_density": 0.353},
    "Alex-8": {"inputs": 4096, "outputs": 1000, "weight_density": 0.25, "act_density": 0.375},
    "VGG-6": {"inputs": 25088, "outputs": 4096, "weight_density": 0.04, "act_density": 0.183},
    "VGG-7": {"inputs": 4096, "outputs": 4096, "weight_density": 0.04, "act_density": 0.375},
    "VGG-8": {"inputs": 4096, "outputs": 1000, "weight_density": 0.23, "act_density": 0.411},
    "NT-We": {"inputs": 4096, "outputs": 600, "weight_density": 0.10, "act_density": 1.0},
    "NT-Wd": {"inputs": 600, "outputs": 8791, "weight_density": 0.11, "act_density": 1.0},
    "NT-LSTM": {"inputs": 1201, "outputs": 2400, "weight_density": 0.10, "act_density": 1.0},
}

