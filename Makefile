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

lint: install ## ruff + mypy (all three parts)
	$(BIN)/ruff check runtime/src compile/src search/src tests benchmarks
	$(BIN)/mypy runtime/src/edgenas/runtime compile/src/edgenas/compile search/src/edgenas/search

demo: install ## The whole chain on the embedded default (digits, CPU, generated video)
	RUNS=$(RUNS) BIN=$(BIN) bash scripts/demo.sh

bench-runtime: install ## Runtime overhead benchmark: live pipeline FPS vs bare backend, memory over time
	$(BIN)/python benchmarks/runtime_overhead.py --out $(RUNS)/bench-runtime

clean: ## Remove run outputs (keeps the venv)
	rm -rf $(RUNS)

# --- containers (docs/containers.md) ---
DOCKER ?= docker
IMAGE_TAG ?= latest
BASE_IMAGE ?= python:3.11-slim-bookworm
COMPILE_BASE_IMAGE ?= python:3.10-slim-bookworm
HAILORT ?= auto
DFC ?= require
.PHONY: base-image build-images build-runtime build-compile build-search lint-docker test-containers deploy search-container compile-container

base-image: ## Local bookworm base without a registry (debootstrap, root); then BASE_IMAGE=edgenas-base:bookworm-py311
	bash docker/make-base-image.sh --tag edgenas-base:bookworm-py311

build-runtime: ## Runtime image (BASE_IMAGE=..., HAILORT=auto|require|off)
	$(DOCKER) build -f docker/runtime.Dockerfile --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg HAILORT=$(HAILORT) -t edgenas-runtime:$(IMAGE_TAG) .

build-compile: ## Compile image (DFC=require needs vendor/hailo_dataflow_compiler-3.*.whl; DFC=off = no-DFC variant)
	$(DOCKER) build -f docker/compile.Dockerfile --build-arg BASE_IMAGE=$(COMPILE_BASE_IMAGE) --build-arg DFC=$(DFC) --build-arg HAILORT=$(HAILORT) -t edgenas-compile:$(IMAGE_TAG) .

build-search: ## Search image (torch from vendor/ wheels, else TORCH_INDEX_URL, CPU by default)
	$(DOCKER) build -f docker/search.Dockerfile --build-arg BASE_IMAGE=$(BASE_IMAGE) $(if $(TORCH_INDEX_URL),--build-arg TORCH_INDEX_URL=$(TORCH_INDEX_URL)) -t edgenas-search:$(IMAGE_TAG) .

build-images: build-runtime build-compile build-search ## All three images

lint-docker: install ## hadolint + shellcheck on the Dockerfiles and scripts
	$(BIN)/hadolint docker/*.Dockerfile
	$(BIN)/shellcheck docker/*.sh docker/scripts/*.sh

test-containers: install ## Container tests (needs a Docker engine; builds a local debootstrap base when no registry)
	$(BIN)/python -m pytest -q -m containers tests/containers $(PYTEST_ARGS)

deploy: ## Runtime via compose until healthy: EDGENAS_BUNDLE=runs/x EDGENAS_SOURCE=0 make deploy
	$(DOCKER) compose up -d --wait runtime

search-container: ## edgenas search ARGS in the search container: make search-container ARGS="latency --help"
	$(DOCKER) compose --profile search run --rm search search $(ARGS)

compile-container: ## edgenas compile ARGS in the compile container
	$(DOCKER) compose --profile compile run --rm compile compile $(ARGS)
