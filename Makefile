# insightd — developer entry points. `make serve` and `make test` are the README's quick start.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= .insightd
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install serve test lint format check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

serve: install
	$(BIN)/insightd demo --data-dir $(DATA_DIR) --if-empty
	$(BIN)/insightd projects show --data-dir $(DATA_DIR) --project 1
	$(BIN)/insightd serve --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT) --print-key

test: install
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

check: lint test

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info
