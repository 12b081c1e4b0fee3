# gankit: two commands on a fresh machine.
#   make demo   set up .venv and train the default GAN on the embedded digits (samples in runs/demo/)
#   make test   set up .venv with the test extras and run the whole test suite
# torch is pinned to 2.13.0 so pip takes the local CPU wheel instead of a multi-GB CUDA build.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0
PIP    := $(BIN)/pip install --quiet --disable-pip-version-check

.PHONY: setup setup-test browser demo lint test test-fast bench clean

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

setup-test: $(VENV)/.setup-test browser

# Headless Chromium for the HTML-report test (Debian packages; installed once, as root or via sudo).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ); \
	  echo "installing Debian chromium and chromium-driver (for the report test)"; \
	  $$SUDO apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    chromium chromium-driver >/dev/null || echo "warning: could not install chromium; the report test will skip"; }

demo: setup
	rm -rf runs/demo
	$(BIN)/gankit train --out runs/demo
	@echo "open runs/demo/report.html in a browser: curves, samples over training, timing (one offline file)"

# Lint first (seconds): ruff, then the import-linter contract that no floor imports upward (pyproject.toml).
lint: setup-test
	$(BIN)/ruff check gankit tests bench scripts
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -q

test-fast: lint
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) runs .pytest_cache
