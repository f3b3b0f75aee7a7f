# review-operator developer entry points. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NPM_STAMP := tests/npm/node_modules/.installed-stamp
CRD := crds/reviewjobs.review-operator.dev.yaml
CHART_CRD := charts/review-operator/crds/reviewjobs.review-operator.dev.yaml
PYTEST_ARGS ?=

.PHONY: help venv tools testdata generate lint typecheck unit test dev bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv and install the package with its dev tools
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

tools: ## build (or reuse cached) etcd, kube-*, kubectl, kwok and helm into .cache/bin
	bash tools/build.sh

testdata: $(NPM_STAMP) ## install the npm test data (webhook examples, GitHub's OpenAPI description)
$(NPM_STAMP): tests/npm/package.json tests/npm/package-lock.json
	cd tests/npm && npm ci --no-audit --no-fund --loglevel=error
	touch $@

generate: venv ## regenerate the CRD (crds/ and the chart's copy) from the pydantic models
	$(BIN)/review-operator crd > $(CRD)
	cp $(CRD) $(CHART_CRD)

lint: venv ## ruff (lint + format check) and import-layer contracts
	$(BIN)/ruff check operator tests
	$(BIN)/ruff format --check operator tests
	$(BIN)/lint-imports

typecheck: venv ## mypy --strict
	$(BIN)/mypy

unit: venv ## fast tests only (no control plane)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test: venv tools testdata lint typecheck ## everything: lint, types, unit, integration and e2e tests
	$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

dev: venv tools testdata ## run the whole stack on a local control plane (Ctrl-C stops it)
	$(PY) -m tests.harness.dev

bench: venv tools testdata ## run the benchmarks; figures go to docs/benchmarks.md
	$(PY) -m tests.bench

clean: ## remove the virtualenv and local caches (not the shared tool cache)
	rm -rf $(VENV) .cache .mypy_cache .ruff_cache .pytest_cache tests/npm/node_modules
