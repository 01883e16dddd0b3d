# Two commands for a fresh machine (see README.md):
#   make demo   installs into .venv and runs `pulse demo` (SQLite, the real bot, no Telegram account)
#   make test   installs into .venv, starts PostgreSQL if it is installed and stopped, runs the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo run test lint bench clean

# uv installs in seconds where pip takes minutes; it comes from PyPI into the venv itself when it
# is not on the machine, and pip does the work when neither can be had.
$(BIN)/python:
	@echo "==> Creating $(VENV)"
	@if command -v uv >/dev/null 2>&1; then uv venv --quiet --seed $(VENV); \
	else $(PYTHON) -m venv $(VENV) && { $(BIN)/pip install --quiet uv 2>/dev/null \
	  || echo "    (uv not available: installing with pip, which is slower)"; }; fi

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "==> Installing Staff Pulse and its dependencies into $(VENV)"
	@if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install --compile-bytecode --python $(BIN)/python -e '.[dev]'; \
	elif command -v uv >/dev/null 2>&1; then uv pip install --compile-bytecode --python $(BIN)/python -e '.[dev]'; \
	else $(BIN)/pip install --progress-bar on -e '.[dev]'; fi
	@# The project's own modules are imported from the checkout (editable install): compile them
	@# once, so that no `pulse` command compiles them again (PYTHONDONTWRITEBYTECODE is common).
	@$(BIN)/python -m compileall -q survey aggregation bot local_bot_api web cli
	@touch $@

demo: $(VENV)/.installed
	$(BIN)/pulse demo

# The bot itself (needs PULSE_BOT_TOKEN in .env; see README "Going live"). `pulse init` first is
# safe: it never overwrites keys and only migrates when the schema is behind.
run: $(VENV)/.installed
	$(BIN)/pulse init
	$(BIN)/pulse run

test: $(VENV)/.installed
	bash scripts/ensure-postgres
	bash scripts/ensure-chromium
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(VENV)/.installed
	bash scripts/ensure-postgres
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
