"""compressor.progress: count and ETA on stderr, nothing when quiet; the training bars."""
import io

from compressor import progress as prog


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_when_not_a_terminal(monkeypatch):
    monkeypatch.setattr(prog, "LOG_INTERVAL_S", 0.0)
    out = io.StringIO()
    with prog.Progress(4, desc="sweep", unit="pt", file=out) as bar:
        bar.update(1)
        bar.note("not in a log")
        bar.update(1)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("sweep: 1/4 (25%), ") and "pt/s" in lines[0] and "ETA " in lines[0]
    assert lines[1].startswith("sweep: 2/4 (50%)") and len(lines) == 2 and not bar.shown


def test_a_short_run_prints_nothing_in_a_log_and_quiet_prints_nothing():
    out = io.StringIO()
    with prog.Progress(3, desc="x", file=out) as bar:       # under LOG_INTERVAL_S
        bar.update(3)
    assert out.getvalue() == ""
    tty = _Tty()
    with prog.Progress(3, desc="x", file=tty, quiet=True) as bar:
        bar.update(3)
    assert tty.getvalue() == "" and bar.n == 3


def test_a_bar_on_a_terminal():
    tty = _Tty()
    with prog.Progress(5, desc="bench", unit="b", file=tty, mininterval=0) as bar:
        assert bar.shown
        bar.update(5)
    assert "bench" in tty.getvalue() and "5/5" in tty.getvalue()
    assert list(prog.progress([1, 2, 3], quiet=True)) == [1, 2, 3]


def test_a_training_bar_is_drawn_on_any_file_and_cleared_when_the_stage_ends():
    err = io.StringIO()                                    # not a terminal
    with prog.TrainingProgress(err=err).bar(4, "stage") as bar:
        assert bar.shown
        bar.update(4)
    text = err.getvalue()
    assert "stage:   0%" in text and "0/4" in text and "batch/s" in text
    assert text.split("\r")[-2].strip() == ""             # leave=False: the bar is wiped
    silent = prog.stage_bar(print, 3, "x")
    silent.update(3)
    assert not silent.shown and silent.n == 3


def test_plain_log_off_and_disabled_print_nothing(monkeypatch):
    monkeypatch.setattr(prog, "LOG_INTERVAL_S", 0.0)
    out = io.StringIO()
    with prog.Progress(2, desc="x", file=out, enabled=False) as bar:
        bar.update(2)
    assert out.getvalue() == "" and bar.n == 2 and not bar.shown
