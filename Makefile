# One task runner. `make wizard` and `make test` set everything up on a bare machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
DEST ?= my-service

.PHONY: setup wizard test test-fast docs bench clean

$(STAMP): pyproject.toml
	rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(STAMP)  ## create .venv with the tool and its test tooling

wizard: setup  ## run the wizard: make wizard DEST=path/to/new-service
	$(BIN)/trigger-scaffold new $(DEST)

test: setup  ## the whole suite, render matrix included (what CI runs)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy
	$(BIN)/python -m pytest -n auto -m "matrix or not matrix"

test-fast: setup  ## everything but the render matrix
	$(BIN)/python -m pytest -n auto

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

docs: setup  ## regenerate the catalog tables in README.md
	$(BIN)/python -m trigger_scaffold._docs README.md

bench: setup  ## generation speed and generated-function cold start figures
	$(BIN)/python benchmarks/bench.py
