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

# Debian packages: a real OCI registry and skopeo (the registry tests need them), and binutils
# for arm64 (infra/slimming.py strips the arm64 layer's shared objects; optional). Missing ones
# are named, then installed with apt-get when running as root; otherwise the command is printed.
REQUIRED_DEBS := docker-registry:docker-registry skopeo:skopeo
OPTIONAL_DEBS := aarch64-linux-gnu-strip:binutils-aarch64-linux-gnu
system-deps:
	@missing=""; optional=""; \
	for pair in $(REQUIRED_DEBS); do \
	  command -v "$${pair%%:*}" >/dev/null || missing="$$missing $${pair#*:}"; done; \
	for pair in $(OPTIONAL_DEBS); do \
	  command -v "$${pair%%:*}" >/dev/null || optional="$$optional $${pair#*:}"; done; \
	if [ -z "$$missing$$optional" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "make setup: apt-get install$$missing$$optional (Debian packages the tests and synth use)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing $$optional >/dev/null; \
	elif [ -n "$$missing" ]; then \
	  echo "missing Debian packages; run: sudo apt-get install$$missing$$optional"; exit 1; \
	else echo "optional: sudo apt-get install$$optional (strips the arm64 layer)"; fi

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

# Coverage of the engine, the functions and the CDK app (settings and floor: pyproject.toml).
test: setup lint typecheck
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(BIN)/pytest -n 2 --dist loadgroup \
	  --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

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
