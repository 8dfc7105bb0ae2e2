"""Progress for the project's long runs: one bar class over ``tqdm`` (count, rate, ETA).

:class:`Progress` is the one progress bar of both packages (``eie-compress`` training
stages, ``eie-simulate`` SqueezeNet and networks, ``eie-sweep``, ``make bench``). It
writes to stderr (stdout stays the tool's result), shows nothing when ``quiet`` (or not
``enabled``), and is used the same way whether or not it is shown::

    with Progress(total=n, desc="sweep", unit="pt", quiet=args.quiet) as bar:
        for ... :
            ...
            bar.update(1)          # or bar.note("point 3 failed") for a line above the bar

On a terminal the bar is redrawn in place; when stderr is not a terminal (a log file, a
pipe, a test) it prints one plain line -- ``desc: done/total (pct), rate, ETA`` -- at
most every :data:`LOG_INTERVAL_S` seconds (the first after that long, so a short run,
or one that ends in an error, prints none: an error stays the one line on stderr), and
:meth:`Progress.note` lines are left out. ``plain_log=False`` draws the bar on any file
(the compressor's training bars).

The compressor's pipeline passes one callable, ``progress``, down to every training
stage; :class:`TrainingProgress` is such a callable that also asks
:func:`compressor.training.nn.train` for a bar of the stage's mini-batches
(:func:`stage_bar`) on stderr. Lines it receives (one per epoch, one per pruning round)
go to stdout, above the bar. ``None`` instead of a :class:`TrainingProgress`
(``--quiet``) shows nothing.
"""
from __future__ import annotations

import sys
import time
from typing import Any, TextIO

# tqdm is a default dependency; a missing one only means no bar (the run is unaffected)
try:
    from tqdm import tqdm as _tqdm
except ImportError:  # pragma: no cover - tqdm is installed by default
    _tqdm = None

#: seconds between the plain progress lines written when stderr is not a terminal
LOG_INTERVAL_S = 10.0


class Progress:
    """A progress bar of ``total`` steps on ``file`` (default stderr; count, rate, ETA), a
    plain line now and then off a terminal, or nothing.

    ``leave``: the bar stays on screen when closed; ``smoothing``: tqdm's rate smoothing;
    ``plain_log=False``: a bar on any file instead of the plain lines off a terminal."""

    def __init__(self, total: int | None, desc: str = "", unit: str = "it",
                 quiet: bool = False, enabled: bool = True, initial: int = 0,
                 file: Any = None, mininterval: float = 0.5, *, plain_log: bool = True,
                 leave: bool = True, smoothing: float = 0.1):
        self.total = total
        self.n = initial
        self._bar = None
        self._log = None
        self.desc, self.unit = desc, unit
        out = file or sys.stderr
        if not enabled or quiet:
            return
        tty = not plain_log or getattr(out, "isatty", lambda: False)()
        if tty and _tqdm is not None:
            self._bar = _tqdm(total=total, desc=desc, unit=unit, initial=initial,
                              file=out, mininterval=mininterval,
                              dynamic_ncols=True, leave=leave, smoothing=smoothing)
        elif plain_log:
            now = time.monotonic()
            self._log = {"file": out, "t0": now, "last": now, "n0": initial}

    def start(self, total: int | None) -> None:
        """Set (or change) the number of steps once it is known (a network's layer count
        after it is built)."""
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    @property
    def shown(self) -> bool:
        """Whether a bar is drawn."""
        return self._bar is not None

    def update(self, n: int = 1) -> None:
        """``n`` more steps done."""
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._log is not None:
            now = time.monotonic()
            if now - self._log["last"] >= LOG_INTERVAL_S:
                self._log["last"] = now
                print(self.line(now), file=self._log["file"], flush=True)

    def line(self, now: float | None = None) -> str:
        """``desc: done/total (pct), rate, ETA`` (the plain progress line)."""
        lg = self._log or {"t0": time.monotonic(), "n0": 0}
        secs = max(1e-9, (now or time.monotonic()) - lg["t0"])
        rate = (self.n - lg["n0"]) / secs
        text = f"{self.desc}: {self.n:,}"
        if self.total:
            text += f"/{self.total:,} ({100 * self.n / self.total:.0f}%)"
        if rate >= 1.0 or self.n == lg["n0"]:
            text += f", {rate:.1f} {self.unit}/s"
        else:                                  # slow steps (benchmarks): seconds per step
            text += f", {1.0 / rate:.1f} s/{self.unit}"
        if self.total and rate > 0:
            eta = (self.total - self.n) / rate
            text += f", ETA {int(eta // 60)}:{int(eta % 60):02d}"
        return text

    def set_postfix(self, text: str) -> None:
        """Short text after the bar (the last point done, a loss, ...)."""
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def note(self, text: str) -> None:
        """One line printed above the bar on stderr (nothing without a bar)."""
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress(iterable, total: int | None = None, desc: str = "", unit: str = "it",
             quiet: bool = False):
    """Iterate ``iterable`` with a :class:`Progress` bar (``total`` from ``len`` if it has one)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    with Progress(total, desc=desc, unit=unit, quiet=quiet) as bar:
        for item in iterable:
            yield item
            bar.update(1)


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

    def bar(self, total: int, desc: str, unit: str = "batch") -> Progress:
        """A training stage's bar: drawn on ``err`` whether or not it is a terminal, and
        cleared when the stage ends."""
        return Progress(total, desc, unit, enabled=self.bars, file=self.err,
                        plain_log=False, leave=False, smoothing=0.3)


def stage_bar(progress: Any, total: int, desc: str, unit: str = "batch") -> Progress:
    """The bar of one training stage: drawn when ``progress`` is a :class:`TrainingProgress`
    with bars, otherwise a silent counter."""
    if isinstance(progress, TrainingProgress):
        return progress.bar(total, desc, unit)
    return Progress(total, desc, unit, enabled=False)
