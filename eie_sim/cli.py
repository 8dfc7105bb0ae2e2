"""Command-line entry points ``eie-simulate``, ``eie-sweep`` and ``eie-plot``."""
from __future__ import annotations

import argparse
import sys


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=prog, description=description)


def simulate_main(argv: list[str] | None = None) -> int:
    p = _parser("eie-simulate", "Simulate layers or whole networks on the EIE PE array.")
    p.parse_args(argv)
    p.print_help()
    return 2


def sweep_main(argv: list[str] | None = None) -> int:
    p = _parser("eie-sweep", "Sweep architecture parameters (PEs, queue depth, SRAM width) from YAML.")
    p.parse_args(argv)
    p.print_help()
    return 2


def plot_main(argv: list[str] | None = None) -> int:
    p = _parser("eie-plot", "Plot utilisation, load balance and scaling from simulation results.")
    p.parse_args(argv)
    p.print_help()
    return 2
