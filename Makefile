# gankit: two commands on a fresh machine.
#   make demo   set up .venv and train the default GAN on the embedded digits (samples in runs/demo/)
#   make test   set up .venv with the test extras and run the whole test suite
# torch is pinned to 2.13.0 so pip takes the local CPU wheel instead of a multi-GB CUDA build.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0
PIP    := $(BIN)/pip install --quiet --disable-pip-version-check

.PHONY: setup setup-test demo test test-fast bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.setup: $(BIN)/python pyproject.toml
	$(PIP) $(TORCH)
	$(PIP) -e .
	touch $@

$(VENV)/.setup-test: $(VENV)/.setup requirements-test.txt requirements-test-nodeps.txt
	$(PIP) -r requirements-test.txt
	$(PIP) --no-deps -r requirements-test-nodeps.txt
	touch $@

setup: $(VENV)/.setup

setup-test: $(VENV)/.setup-test

demo: setup
	rm -rf runs/demo
	$(BIN)/gankit train --out runs/demo
	@echo "open runs/demo/samples/final.png (sample grids over time: runs/demo/samples/)"

test: setup-test
	$(BIN)/python -m pytest -q

test-fast: setup-test
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) runs .pytest_cache
