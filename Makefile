# The two commands: `make run` and `make test`. Everything else is a helper for them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint typecheck bench clean install dev

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "shieldwall needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[postgres,exchanges]"
	touch $@

$(DEV_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(STAMP)
dev: $(DEV_STAMP)

## make run: set up everything, migrate the embedded database, seed the demo, serve.
run: $(STAMP)
	$(BIN)/shieldwall db upgrade
	$(BIN)/shieldwall demo seed
	SHIELDWALL_TRANSPARENCY_PUBLIC=$${SHIELDWALL_TRANSPARENCY_PUBLIC:-true} $(BIN)/shieldwall serve

## make test: install the dev tools, lint, and run the whole suite.
test: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -q -n auto -p no:cacheprovider

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

## make bench: side-by-side benchmarks; figures go to docs/benchmarks.md.
bench: $(DEV_STAMP)
	@command -v wrk >/dev/null || (apt-get install -y -qq wrk >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq wrk)) || echo "wrk unavailable: e2e skipped"
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
