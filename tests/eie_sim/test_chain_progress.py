"""The chained SqueezeNet's progress total comes from the network (its parameter layers x
images), not a hard-coded count: ``run_squeezenet_chain(on_start=...)``."""
from __future__ import annotations

import pytest

from eie_sim.apps.squeezenet import DEFAULT_SQUEEZENET_DIR
from eie_sim.apps.squeezenet_chain import run_squeezenet_chain


class _Stop(Exception):
    pass


def test_chain_reports_its_layer_count_once_loaded():
    if not (DEFAULT_SQUEEZENET_DIR / "compressed_SqueezeNet.net").is_file():
        pytest.skip("SqueezeNet files not available")
    seen = []

    def on_start(n):
        seen.append(n)
        raise _Stop                       # the count is all this test needs

    with pytest.raises(_Stop):
        run_squeezenet_chain(["chelsea"], on_start=on_start)
    assert seen == [26]                   # SqueezeNet v1.0's conv layers (paper: 26)


def test_cli_bar_total_is_the_reported_count_times_the_images(monkeypatch):
    import eie_sim.cli.simulate as sim
    import eie_sim.cli.simulate_runs as runs
    totals = []

    class Recorder(runs.Progress):
        def start(self, total):
            totals.append(total)
            super().start(total)

    def fake_chain(images, *a, on_start=None, **k):
        on_start(7)                       # a network of 7 parameter layers
        raise _Stop

    monkeypatch.setattr(runs, "Progress", Recorder)
    monkeypatch.setattr(runs, "run_squeezenet_chain", fake_chain)
    with pytest.raises(_Stop):
        sim.simulate_main(["--squeezenet", "--image", "chelsea,astronaut", "--quiet"])
    assert totals == [14]
