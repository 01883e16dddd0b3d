# Two commands for a fresh machine (see README.md):
#   make run    installs into .venv, sets up an embedded SQLite installation in ./pulse-data, shows it
#   make test   installs into .venv, starts PostgreSQL if it is installed and stopped, runs the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/pulse init
	$(BIN)/pulse status

test: $(VENV)/.installed
	bash scripts/ensure-postgres
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .

bench: $(VENV)/.installed
	bash scripts/ensure-postgres
	$(BIN)/python bench/bench_core.py --json bench/results/core.json
	$(BIN)/python bench/bench_aggregation.py --json bench/results/aggregation.json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
