# One task runner. `make wizard` and `make test` set everything up on a bare machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CKSUM := $(shell cksum < pyproject.toml | cut -d' ' -f1)
# The tool alone (what `make wizard` needs), then the test tooling on top (`make test`).
TOOL_STAMP := $(VENV)/.tool-$(CKSUM)
STAMP := $(VENV)/.installed-$(CKSUM)
# Beside this clone, not inside it: inside, the project would become part of this repository.
DEST ?= ../my-service

.PHONY: setup wizard test test-fast docs bench clean

$(TOOL_STAMP): pyproject.toml
	@echo "==> Creating $(VENV) with trigger-scaffold (first run only, under a minute)"
	rm -f $(VENV)/.tool-* $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): $(TOOL_STAMP)
	@echo "==> Adding the test tooling to $(VENV) (first run only, about a minute)"
	rm -f $(VENV)/.installed-*
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# checkov pins older cfn-lint and aws-sam-translator: it gets an environment of its own so the
# validators the gates rely on stay current.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-3.3.30

$(CHECKOV_STAMP):
	@echo "==> Creating $(CHECKOV_VENV) with checkov (first run only, about a minute)"
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==3.3.30
	touch $@

# The SAM CLI pins its own boto3, which clashes with the generated projects' pin: the tests
# that run `sam build` and `sam validate` take it from an environment of its own too.
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed-1.170.0

$(SAM_STAMP):
	@echo "==> Creating $(SAM_VENV) with the SAM CLI (first run only, about a minute)"
	rm -rf $(SAM_VENV)
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli==1.170.0
	touch $@

# The `sam build` test builds a python3.13/arm64 function offline: the wheels its Makefile asks
# pip for (Powertools with its parser, so a compiled dependency is included) are fetched here,
# at setup, and the test installs them with --no-index.
WHEELHOUSE := .wheelhouse
POWERTOOLS := $(shell sed -n 's/^aws-lambda-powertools==//p' templates/partials/requirements-runtime.txt)
WHEELHOUSE_STAMP := $(WHEELHOUSE)/.downloaded-$(POWERTOOLS)

$(WHEELHOUSE_STAMP): $(STAMP)
	@echo "==> Downloading the python3.13/arm64 wheels the sam build test packages (first run only)"
	rm -rf $(WHEELHOUSE)
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --dest $(WHEELHOUSE) \
		--implementation cp --python-version 3.13 --only-binary=:all: \
		$(addprefix --platform ,manylinux_2_17_aarch64 manylinux_2_28_aarch64 manylinux_2_34_aarch64 manylinux2014_aarch64) \
		'aws-lambda-powertools[parser]==$(POWERTOOLS)'
	touch $@

setup: $(STAMP) $(CHECKOV_STAMP) $(SAM_STAMP) $(WHEELHOUSE_STAMP)  ## create .venv (tool + test tooling), .venv-checkov, .venv-sam, .wheelhouse

wizard: $(TOOL_STAMP)  ## run the wizard: make wizard DEST=path/to/new-service
	$(BIN)/trigger-scaffold new $(DEST)

# pytest's progress line shows how far the run is; --durations names the slowest tests.
test: setup  ## the whole suite, render matrix included (what CI runs; 30-35 min on 2 cores)
	@echo "==> Linters and mypy"
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy
	@echo "==> Test suite, render matrix included (30-35 min on 2 cores)"
	$(BIN)/python -m pytest -n auto -m "matrix or not matrix" --durations=10

test-fast: setup  ## everything but the render matrix
	$(BIN)/python -m pytest -n auto

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

docs: setup  ## regenerate the catalog's derived fields (stack costs: renders ~120 projects, 1-2 min) and README.md's tables
	$(BIN)/python -m trigger_scaffold._docs README.md

bench: setup  ## generation speed and generated-function cold start figures
	$(BIN)/python benchmarks/bench.py
