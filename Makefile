# edgenas — every target wraps a CLI command, so CI and users run the same thing.
# `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNS ?= runs
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install test test-slow lint demo bench-runtime clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(BIN)/edgenas: requirements-dev.txt runtime/pyproject.toml compile/pyproject.toml search/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt -e runtime -e compile -e search
	touch $(BIN)/edgenas

install: $(BIN)/edgenas ## Create the virtual environment ($(VENV)) and install all three parts

test: install ## Run the test suite (no network, GPU, Hailo SDK or device needed)
	$(BIN)/python -m pytest -q -m "not slow and not containers and not gpu" $(PYTEST_ARGS)

test-slow: install ## Run the slow tests (training, DDP, long runs); CI runs these too
	$(BIN)/python -m pytest -q -m "slow and not containers and not gpu" $(PYTEST_ARGS)

lint: install ## ruff + mypy
	$(BIN)/ruff check runtime/src compile/src search/src tests benchmarks
	$(BIN)/mypy runtime/src/edgenas/runtime

demo: install ## The whole chain on the embedded default (digits, CPU, generated video)
	RUNS=$(RUNS) BIN=$(BIN) bash scripts/demo.sh

bench-runtime: install ## Runtime overhead benchmark: live pipeline FPS vs bare backend, memory over time
	$(BIN)/python benchmarks/runtime_overhead.py --out $(RUNS)/bench-runtime

clean: ## Remove run outputs (keeps the venv)
	rm -rf $(RUNS)
