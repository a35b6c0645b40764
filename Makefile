# Centralino. Quickstart: `make run` (platform + demo call), `make test` (whole suite).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install run test test-fast lint format bench clean

install:
	bash scripts/install.sh

run: install
	$(VENV)/bin/centralino run

test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Unit tests only (no Asterisk, no browser): quick feedback while editing.
test-fast:
	$(VENV)/bin/pytest -m "not asterisk and not browser and not slow" $(PYTEST_ARGS)

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format:
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) -m bench

clean:
	rm -rf var bench-results
