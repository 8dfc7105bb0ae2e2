# Every target installs what it needs itself: a fresh machine needs only Python >= 3.11.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Compiled numba kernels are cached here (kept out of git).
export NUMBA_CACHE_DIR := $(CURDIR)/.numba_cache
export MPLBACKEND := Agg

.PHONY: all install test test-slow fuzz bench clean help

# make fuzz: cases per format and the campaign seed (empty: a random one, printed)
FUZZ_CASES ?= 10000
FUZZ_SEED  ?=

help:
	@echo "make test       install into $(VENV) if needed, run the test suite (not the slow cases)"
	@echo "make test-slow  run only the slow cases"
	@echo "make fuzz       fuzz every reader (FUZZ_CASES=10000 per format, FUZZ_SEED=random), print the outcome table"
	@echo "make bench      install if needed, reproduce the paper tables into results/"
	@echo "make clean      remove the virtual environment, caches and results"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,all]'
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

fuzz: $(STAMP)
	$(PY) -m tests.fuzz --cases $(FUZZ_CASES) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED),)

bench: $(STAMP)
	$(PY) -m benchmarks.run_all

clean:
	rm -rf $(VENV) .numba_cache results .pytest_cache
