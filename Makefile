# Two commands for a fresh machine (see README.md):
#   make demo   installs into .venv and runs `pulse demo` (SQLite, the real bot, no Telegram account)
#   make test   installs into .venv, starts PostgreSQL if it is installed and stopped, runs the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/pulse demo

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
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
