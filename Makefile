# One command to run the product, one to test it. See README.md.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: lock demo test lint typecheck unit bench drill system-deps screenshot clean

$(STAMP): requirements.lock requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
		{ echo "MistCircuitStats needs Python 3.11 or newer: run e.g. make $(MAKECMDGOALS) PYTHON=python3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $(STAMP)

venv: $(STAMP)

## demo: run redis + worker + web (against the built-in simulator when MIST_API_TOKEN is unset)
demo: $(STAMP)
	$(PY) -m scripts.demo

## lock: recompute requirements.lock and requirements-dev.lock (with hashes) after editing
## requirements*.txt; pip-tools runs from a throwaway venv in var/
lock:
	$(PYTHON) -m venv var/pip-tools
	var/pip-tools/bin/pip install --quiet pip-tools==7.6.2
	for name in requirements requirements-dev; do \
		CUSTOM_COMPILE_COMMAND="make lock" var/pip-tools/bin/pip-compile --quiet --generate-hashes \
			--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
			-o $$name.lock $$name.txt || exit 1; \
	done

## system-deps: redis-server, nginx and chromium from Debian's packages (as root), else say what to install
system-deps:
	bash scripts/install-system-deps.sh

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

## test: everything — lint, types and the whole suite with real redis-server, mistsim and Chromium
test: $(STAMP) system-deps lint typecheck
	$(PY) -m pytest

## screenshot: refresh docs/screenshot.png (the README's) from the browser test
screenshot: $(STAMP) system-deps
	UPDATE_SCREENSHOT=1 $(PY) -m pytest -n0 tests/test_dashboard_scale.py -k readme_screenshot

## bench: the performance table (writes docs/BENCHMARKS.md)
bench: $(STAMP) system-deps
	$(PY) -m bench

## drill: the fault drill (bounded, loopback only)
drill: $(STAMP) system-deps
	$(PY) -m bench.drill

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
