# The single entry point. `make up` runs the whole stack locally; `make test` runs every test.
SHELL := /bin/bash
export UV_COMPILE_BYTECODE := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(shell python3 -m pip install --quiet uv >&2 && command -v uv || echo python3 -m uv)
endif
ARGS ?=

.PHONY: install up test test-unit test-workflow test-e2e lint format bench clean

install:
	$(UV) sync --frozen

up: install
	$(UV) run text2image up $(ARGS)

test: install
	$(UV) run pytest

test-unit: install
	$(UV) run pytest tests/unit

test-workflow: install
	$(UV) run pytest tests/workflow

test-e2e: install
	$(UV) run pytest tests/e2e

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

format: install
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

bench: install
	$(UV) run python bench/latency.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache test-output
