"""The one error guard of the project's command-line tools (``eie-compress``,
``eie-simulate``, ``eie-sweep``, ``eie-plot``).

A tool runs its command through :func:`run_guarded`, which turns what the command
raises into one line on stderr and an exit status, never a traceback:

* a failed check of the tool's own output (``rules.check_errors``):
  ``<prog>: check failed: <why>``, status ``rules.exit_check_failed`` (1);
* bad input (``rules.input_errors``): ``<prog>: error: <what and where>``
  (``rules.describe`` words the exception), status ``rules.exit_bad_input`` (2,
  argparse's status for usage errors);
* running out of memory: ``<prog>: error: <rules.out_of_memory>``, bad input too;
* Ctrl-C: ``<prog>: <rules.interrupted>``, status :data:`EXIT_INTERRUPTED` (130).

Each package keeps its own error classes and wording in an :class:`ErrorRules`
(``compressor.cli`` for ``eie-compress``, ``eie_sim.cli.common`` for the simulator's
tools).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

__all__ = ["ErrorRules", "run_guarded", "EXIT_INTERRUPTED"]

#: exit status after Ctrl-C (128 + SIGINT, what a shell reports)
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class ErrorRules:
    """Which exceptions mean what for one tool, their exit statuses and wording."""

    #: a check of the tool's own result failed
    check_errors: tuple[type[BaseException], ...]
    #: the input was refused
    input_errors: tuple[type[BaseException], ...]
    exit_check_failed: int = 1
    exit_bad_input: int = 2
    #: the text of an input error after ``<prog>: error: ``
    describe: Callable[[BaseException], str] = str
    #: the text after ``<prog>: error: `` when memory runs out
    out_of_memory: str = "out of memory"
    #: the text after ``<prog>: `` on Ctrl-C
    interrupted: str = "interrupted"


def run_guarded(prog: str, command: Callable[[], int], rules: ErrorRules) -> int:
    """``command()``'s exit status, or the status of what it raised under ``rules`` (one
    line on stderr naming ``prog``; see the module docstring). Other exceptions propagate."""
    try:
        return command()
    except rules.check_errors as exc:
        print(f"{prog}: check failed: {exc}", file=sys.stderr)
        return rules.exit_check_failed
    except rules.input_errors as exc:
        print(f"{prog}: error: {rules.describe(exc)}", file=sys.stderr)
        return rules.exit_bad_input
    except MemoryError:
        print(f"{prog}: error: {rules.out_of_memory}", file=sys.stderr)
        return rules.exit_bad_input
    except KeyboardInterrupt:
        print(f"{prog}: {rules.interrupted}", file=sys.stderr)
        return EXIT_INTERRUPTED
