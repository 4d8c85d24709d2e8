# The single entry point. `make up` runs the whole stack locally; `make test` runs every test.
SHELL := /bin/bash
export UV_COMPILE_BYTECODE := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(shell python3 -m pip install --quiet uv >&2 && command -v uv || echo python3 -m uv)
endif
ARGS ?=

.PHONY: install install-python install-node torch model-artifact browser velocity up test test-unit test-integration test-workflow test-e2e test-web test-infra lint format bench synth deploy clean

# Everything: the Python environment and the Node packages.
install: install-python install-node

# Python from uv.lock: all that `make up` and most tests need. --inexact keeps torch, which
# `make torch` adds outside the lock.
install-python:
	$(UV) sync --frozen --inexact

# The CDK CLI and asl-validator from package-lock.json, for synth, deploy and the infra tests
# only. npm ci starts node_modules afresh: it runs when package-lock.json is newer than what
# the last npm ci installed (npm writes node_modules/.package-lock.json), not on every call.
install-node: node_modules/.package-lock.json
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

# torch for the diffusers endpoint code (tests, --model diffusers:DIR, the batching bench).
# Not in uv.lock: uv would lock PyPI's CUDA build of several GB. pip installs it into the
# project's venv; where pip offers no CPU build, pick one, e.g.
# make torch TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.13.0
TORCH_PIP_ARGS ?=
torch: install-python
	@$(UV) run --no-sync python -c "import torch" 2>/dev/null || \
	  python3 -m pip --python .venv/bin/python install --quiet --disable-pip-version-check $(TORCH_PIP_ARGS) "$(TORCH)"

# dist/model.tar.gz for the SageMaker Hugging Face inference container (code/ only; add
# ARGS="--model DIR" to pack a diffusers folder's weights too). See README "Endpoints".
model-artifact: install-python
	$(UV) run text2image model-artifact $(ARGS)

# Browser tests drive Debian's Chromium (never a downloaded browser). Installed when missing
# and possible; otherwise a clear failure, not a silent skip.
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests" >&2; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  { echo "chromium is missing and could not be installed: run 'apt-get install chromium' as root" >&2; exit 1; }; }

# API Gateway's mapping templates are Apache Velocity 1.7: tests render them in the real engine
# (Debian's velocity + the commons-lang 2 that $util.escapeJavaScript comes from, json-simple
# for $util.parseJson), run by a JDK. Installed when missing and possible, as for chromium.
VELOCITY_PACKAGES := velocity libcommons-lang-java libjson-simple-java default-jdk-headless
velocity:
	@{ test -f /usr/share/java/velocity.jar && test -f /usr/share/java/commons-lang.jar && \
	   test -f /usr/share/java/json-simple.jar && test -f /usr/share/java/commons-collections3.jar && \
	   command -v javac >/dev/null; } || { \
	  echo "installing Apache Velocity 1.7 and a JDK for the mapping-template tests" >&2; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(VELOCITY_PACKAGES) >/dev/null; } || \
	  { echo "Velocity is missing and could not be installed: run 'apt-get install $(VELOCITY_PACKAGES)' as root" >&2; exit 1; }; }

# Python only: Node is for synth and deploy.
up: install-python
	$(UV) run text2image up $(ARGS)

test: install torch browser velocity test-lambda-runtime
	$(UV) run pytest

test-unit: install-python torch test-lambda-runtime
	$(UV) run pytest tests/unit

# The handlers against the local stack's moto and endpoint server (tests/unit starts neither).
test-integration: install-python
	$(UV) run pytest tests/integration

test-workflow: install-python
	$(UV) run pytest tests/workflow

test-e2e: install-python torch
	$(UV) run pytest tests/e2e

test-web: install-python browser
	$(UV) run pytest tests/web

test-infra: install velocity
	$(UV) run pytest tests/infra

# The Lambda folders' tests on the Python the functions deploy on (LAMBDA_PYTHON, declared once
# in text2image/manifest.py), in a second environment from the same uv.lock. uv cannot
# download interpreters here and pyenv's shims answer only for its active version, so pyenv's
# folder of that version goes first on PATH where there is one.
.PHONY: lambda-venv test-lambda-runtime
LAMBDA_PYTHON = $(shell sed -n 's/^LAMBDA_PYTHON = "\([0-9.]*\)"$$/\1/p' text2image/manifest.py)
LAMBDA_PYTHON_PATH = $(shell pyenv prefix "$$(pyenv latest $(LAMBDA_PYTHON) 2>/dev/null)" 2>/dev/null)
LAMBDA_TESTS := tests/unit/test_handlers.py tests/unit/test_planning.py tests/unit/test_request_validation.py tests/unit/test_sources.py tests/unit/test_quota.py tests/unit/test_run_page.py tests/unit/test_model_answer.py \
	tests/unit/test_collect_response.py tests/unit/test_collect_handler.py tests/unit/test_invocation_errors.py tests/unit/test_workflow_state.py tests/unit/test_event_patterns.py \
	tests/unit/test_function_assets.py tests/unit/test_lambda_runtime.py tests/unit/test_pre_sign_up.py tests/unit/test_warm.py \
	tests/unit/test_batch_input.py tests/unit/test_batches_handler.py tests/unit/test_batch_status.py tests/unit/test_batch_dealing.py tests/integration tests/workflow
lambda-venv:
	@test -n "$(LAMBDA_PYTHON)" || { echo "no LAMBDA_PYTHON = \"X.Y\" line in text2image/manifest.py" >&2; exit 1; }
	PATH="$(if $(LAMBDA_PYTHON_PATH),$(LAMBDA_PYTHON_PATH)/bin:)$$PATH" UV_PROJECT_ENVIRONMENT=.venv-lambda \
	  $(UV) sync --frozen --python $(LAMBDA_PYTHON) --no-default-groups --group lambda-test
test-lambda-runtime: lambda-venv
	.venv-lambda/bin/python -m pytest $(LAMBDA_TESTS)

# The CloudFormation template in cdk.out/, cdk-nag included (fails on any unacknowledged finding).
synth: install
	npx aws-cdk@2 synth --quiet

# Needs AWS credentials and a bootstrapped account: npx aws-cdk@2 bootstrap (see README).
deploy: install
	npx aws-cdk@2 deploy $(ARGS)

lint: install-python
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

format: install-python
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

bench: install-python torch
	$(UV) run --group bench python bench/fanout.py
	$(UV) run python bench/load.py
	$(UV) run python bench/bulk.py
	$(UV) run python bench/batch_check.py
	$(UV) run python bench/coldstart.py
	$(UV) run python bench/batching.py
	$(UV) run python bench/cost.py

clean:
	rm -rf .venv node_modules cdk.out .mypy_cache .ruff_cache .pytest_cache test-output
