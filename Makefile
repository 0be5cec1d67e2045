# Quick start:  make smoke   (the offline smoke study)   |   make test   (the test suite)   |   make lab   (JupyterLab)
PYTHON ?= python3
VENV ?= .venv
# the CPU build that lies on this machine's disk; GPU users: TORCH="torch" (or install theirs first)
TORCH ?= torch==2.13.0
INTERTASK_DATA ?= $(abspath ../shared/data)
export INTERTASK_DATA
BIN := $(VENV)/bin

.PHONY: smoke test status report setup clean-smoke lab

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test]"
	$(BIN)/intertask prepare-model
	touch $@

smoke: setup
	$(BIN)/intertask run params/smoke.yaml

# tests/ runs in TEST_WORKERS processes (pytest-xdist; most tests hold one torch thread), a file per worker;
# TEST_WORKERS=0 runs it in this process. The 15 slowest tests are listed. notebooks/ runs after it, in one
# process: with their defaults, 01 -> 02 -> 03 -> 04 hand their outputs on, so they must run in order.
TEST_WORKERS ?= 2
NBVAL := -p intertask.nbval_values --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg
test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15 tests $(NBVAL)
	$(BIN)/python -m pytest notebooks $(NBVAL)

status: setup
	$(BIN)/intertask status params/smoke.yaml

report: setup
	$(BIN)/intertask report params/smoke.yaml

clean-smoke:
	rm -rf outputs/smoke

# JupyterLab on the notebooks, with the [lab] extra and the offline data (INTERTASK_DATA is exported above)
lab: setup
	$(BIN)/python -m pip install -q -e ".[lab]"
	$(BIN)/jupyter lab notebooks/
