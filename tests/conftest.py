"""Test-suite settings shared by every test file.

Hypothesis runs *derandomized* by default: each property test draws the same examples on
every run (seeded from the test itself), so ``make test`` passes or fails the same way on
every machine and every run; no test result depends on the luck of a random search. To
search new examples (what found the analytical model's one-cycle exception, see
docs/analytical.md), run with ``HYPOTHESIS_PROFILE=explore``.
"""
from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("deterministic", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
