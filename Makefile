# Every target bootstraps what it needs: a fresh clone needs only python3 (3.11+), node and npm.
SHELL := /bin/bash
ENV ?= dev
PY := .venv/bin/python
VENV := .venv/.installed
CDK := node_modules/.bin/cdk
PYTEST_ARGS ?= -n 2

.PHONY: help run test bench synth deploy lint invoke openapi layers pr clean console packages

help:
	@echo "make run            start the local cloud (console :8000, gateway :8080, AWS endpoint :4566)"
	@echo "make console        build the web console (console/dist) from its package-lock"
	@echo "make test           run the whole test suite (unit, integration, infra, API fuzzing)"
	@echo "make bench          run the benchmarks (engine throughput, cold starts)"
	@echo "make synth ENV=dev  synthesize the CDK app for one environment into cdk.out/"
	@echo "make deploy ENV=dev deploy one environment (needs AWS credentials)"
	@echo "make lint           ruff, mypy and the import contract (lint-imports)"
	@echo "make invoke FUNCTION=projects EVENT=events/projects/list_projects.json   run one handler on one event"

$(VENV): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

layers: $(VENV)
	$(PY) layers/build.py

# The web console: npm ci + the build, each only when its inputs changed (console/build.py).
console: $(VENV)
	$(PY) console/build.py

# Debian packages the tests start: chromium (the console's browser tests) and postgresql (tests/postgres.py,
# also the bench). One apt-get for whatever is missing (CI runs as root on a fresh machine); else a no-op.
APT_MISSING = $(if $(wildcard /usr/bin/chromium),,chromium) $(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
packages:
	@$(if $(strip $(APT_MISSING)),echo "installing$(APT_MISSING) (apt-get)" && $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_MISSING) >/dev/null,true)

run: $(VENV) console
	$(PY) -m infra.local

# What the suite needs, made side by side (apt, pip, npm), then the suite.
test:
	$(MAKE) --no-print-directory -j4 --output-sync=target $(VENV) layers node_modules/.installed console packages
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV) packages
	$(PY) -m tests.benchmarks

openapi: $(VENV)
	$(PY) -m functions.core.openapi

synth: $(VENV) layers console node_modules/.installed
	$(CDK) synth -c env=$(ENV) --quiet

deploy: $(VENV) layers console node_modules/.installed
	$(CDK) deploy -c env=$(ENV) --all --require-approval broadening

lint: $(VENV)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy functions infra cli
	.venv/bin/lint-imports --no-cache

invoke: $(VENV)
	$(PY) -m infra.local.invoke $(FUNCTION) $(EVENT)

pr: lint test

clean:
	rm -rf cdk.out layers/build .pytest_cache .ruff_cache .mypy_cache console/dist test-output
