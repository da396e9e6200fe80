# The README's first two commands: `make demo` and `make test`. Each works on a fresh machine
# with Python 3.11 and the system package manager: it builds .venv from pyproject.toml and the
# pinned lock (requirements.lock), then runs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint postgres bench bench-zoho bench-calendar bench-availability

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

postgres:
	@scripts/ensure-postgres.sh

demo: install
	$(BIN)/lineup-integrations demo

# Guard rails (run by `make test`, so CI runs them): lint and format, types, import contracts.
lint: install
	$(BIN)/ruff check lineup_integrations tests benchmarks
	$(BIN)/ruff format --check lineup_integrations tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install postgres lint
	$(BIN)/pytest

# Both benchmarks (benchmarks/README.md): the second runs even when the first misses a target,
# and `make bench` fails when either does.
bench: install postgres
	$(BIN)/python benchmarks/zoho_sync.py; zoho=$$?; $(BIN)/python benchmarks/calendar_sync.py && exit $$zoho

bench-zoho: install postgres
	$(BIN)/python benchmarks/zoho_sync.py

bench-calendar: install postgres
	$(BIN)/python benchmarks/calendar_sync.py

bench-availability: install
	$(BIN)/python benchmarks/availability.py
