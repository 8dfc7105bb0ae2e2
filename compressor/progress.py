"""Training progress for ``eie-compress``: a bar with count and ETA on stderr, epoch lines on stdout.

The compressor's own small wrapper over ``tqdm`` (``compressor/`` never imports
``eie_sim``, whose tools have their own). The pipeline passes one callable,
``progress``, down to every training stage; :class:`TrainingProgress` is such a callable
that also asks :func:`compressor.training.nn.train` to draw a bar of the stage's
mini-batches (count, rate, ETA) on stderr. Lines it receives (one per epoch, one per
pruning round) go to stdout, above the bar. ``None`` instead of a
:class:`TrainingProgress` (``--quiet``) shows nothing.
"""
from __future__ import annotations

import sys
from typing import Any, TextIO

try:                                   # tqdm is a default dependency; without it there is
    from tqdm import tqdm as _tqdm  # no bar and the lines are still printed
except ImportError:                    # pragma: no cover
    _tqdm = None


class Bar:
    """A bar of ``total`` steps on ``file`` (default stderr), or nothing when disabled."""

    def __init__(self, total: int | None, desc: str = "", unit: str = "it", *,
                 enabled: bool = True, file: TextIO | None = None) -> None:
        self.n = 0
        self._bar = None
        if enabled and _tqdm is not None:
            self._bar = _tqdm(total=total, desc=desc, unit=unit, file=file or sys.stderr,
                              mininterval=0.5, dynamic_ncols=True, leave=False)

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)

    def postfix(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Bar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class TrainingProgress:
    """The ``progress`` callable of the pipeline with bars: lines to ``out`` (stdout),
    a mini-batch bar per training stage on ``err`` (stderr).

    ``bars`` is read by :func:`compressor.training.nn.train`; a plain function (e.g.
    ``print``) passed as ``progress`` gets the lines only.
    """

    def __init__(self, *, bars: bool = True, out: TextIO | None = None,
                 err: TextIO | None = None) -> None:
        self.bars = bars and _tqdm is not None
        self.out = out
        self.err = err

    def __call__(self, line: str) -> None:
        out = self.out or sys.stdout
        if _tqdm is not None and self.bars:
            _tqdm.write(line, file=out)   # keeps an active bar intact
        else:
            print(line, file=out, flush=True)

    def bar(self, total: int, desc: str, unit: str = "batch") -> Bar:
        return Bar(total, desc, unit, enabled=self.bars, file=self.err)


def stage_bar(progress: Any, total: int, desc: str, unit: str = "batch") -> Bar:
    """The bar of one training stage: drawn when ``progress`` is a :class:`TrainingProgress`
    with bars, otherwise a silent counter."""
    if isinstance(progress, TrainingProgress):
        return progress.bar(total, desc, unit)
    return Bar(total, desc, unit, enabled=False)
