"""Every error the simulator raises on purpose, in one place, and the exit codes of its tools.

Two families, told apart by the command-line tools (``eie_sim.cli``):

* **bad input** (:data:`INPUT_ERRORS`, exit status :data:`EXIT_BAD_INPUT` = 2, the same
  for every tool of the project, ``eie-compress`` included): a configuration, workload,
  file or directory the simulator refuses before or while running, with a message that
  names the problem and where it is;
* **failed check** (:data:`CHECK_ERRORS`, exit status :data:`EXIT_CHECK_FAILED` = 1): the
  simulation ran but an output differs from numpy or the two engines disagree. This is a
  bug in the simulator (or a custom engine), never the user's input.
"""
from __future__ import annotations

#: exit status of every tool for bad input (argparse uses the same for bad flags)
EXIT_BAD_INPUT = 2
#: exit status when a simulated result fails its numpy check or the engines disagree
EXIT_CHECK_FAILED = 1


class EIEError(Exception):
    """Base of the simulator's own errors."""


class ConfigError(EIEError, ValueError):
    """An architecture or run option that is unknown, mistyped or out of range."""


class WorkloadError(EIEError, ValueError):
    """A workload (layer, input, model file, synthetic spec) that cannot be built or run."""


class LayoutError(EIEError, ValueError):
    """A layer that cannot be laid out for the configuration (e.g. exceeds the SRAMs)."""


class FixedPointRangeError(EIEError, ValueError):
    """A value (codebook entry, bias) that does not fit the configured fixed-point word."""


class EngineUnavailable(EIEError, RuntimeError):
    """An unknown engine name, or an engine module that cannot be imported."""


class BundleError(EIEError, OSError):
    """A results directory that cannot be written (exists, not writable, ...)."""


class PlotError(EIEError, ValueError):
    """Results that cannot be plotted (missing files, wrong columns)."""


class TraceError(EIEError, ValueError):
    """A trace that cannot be written as asked: no such layer, a cycle range outside the
    layer, more events than the cap (docs/timeline.md)."""


class SimulationMismatch(EIEError, RuntimeError):
    """A simulated output differs from the numpy reference (bit-exact or beyond the bound),
    or an engine returned counters that do not add up."""


class EngineMismatch(EIEError, RuntimeError):
    """The two engines disagree on some counter (``verify``)."""


class AccountingError(EIEError, AssertionError):
    """Per-PE cycle classes that do not add up to the cycles (or a negative class)."""


#: errors that mean the input was refused (exit :data:`EXIT_BAD_INPUT`)
INPUT_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError, WorkloadError, LayoutError, FixedPointRangeError, EngineUnavailable,
    BundleError, PlotError, TraceError)
#: errors that mean a simulated result failed its check (exit :data:`EXIT_CHECK_FAILED`)
CHECK_ERRORS: tuple[type[BaseException], ...] = (SimulationMismatch, EngineMismatch, AccountingError)
