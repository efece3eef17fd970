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

# checkov pins older cfn-lint and aws-sam-translator: it gets an environment of its own so the
# validators the gates rely on stay current.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-3.3.30

$(CHECKOV_STAMP):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==3.3.30
	touch $@

setup: $(STAMP) $(CHECKOV_STAMP)  ## create .venv (tool + test tooling) and .venv-checkov

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
