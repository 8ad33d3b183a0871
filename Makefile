# One entry point per habit. `make test` is what CI runs: set up from a fresh clone, then
# lint, type-check and run the whole suite (engine, registry, Lambda, CDK synth).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup system-deps test check lint typecheck unit bench demo synth clean format

$(STAMP): requirements/dev.txt requirements/runtime.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -r requirements/dev.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian packages the tests use: a real OCI registry and skopeo (interoperability checks).
system-deps:
	@if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry skopeo >/dev/null; \
	  else echo "install docker-registry and skopeo (apt-get install docker-registry skopeo)"; exit 1; fi; \
	fi

setup: $(STAMP) node_modules/.installed system-deps

check: setup lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

test: setup lint typecheck
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/pytest -m "not registry and not infra" $(PYTEST_ARGS)

synth: setup
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" npx cdk synth --no-notices -q

demo: $(STAMP)
	$(BIN)/soci-index-builder demo

bench: setup
	$(BIN)/python bench/ztoc_vs_inflate.py
	$(BIN)/python bench/small_entries.py
	$(BIN)/python bench/index_parallel.py
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/reuse.py

clean:
	rm -rf $(VENV) node_modules cdk.out build .mypy_cache .ruff_cache .pytest_cache .hypothesis .demo
