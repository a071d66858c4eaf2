# swapflow: `make demo` runs the whole stack locally; `make test` runs every test.
# Both create .venv and install everything on first use (Python 3.11+, make, npm with Node 20 or newer:
# the repo brings its own supported Node, npm `node@22`, for the CDK CLI and jsii).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
# The repo's Node (node_modules/.bin/node, npm `node@22`) first on PATH for every target: the CDK CLI and
# jsii (which the python processes that synthesise the app spawn) run on it, not on the machine's Node.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export JSII_NODE := $(CURDIR)/node_modules/.bin/node
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install demo up test test-fast lint typecheck synth bootstrap deploy bench bench-batch duplicates clean

# The locked set (uv.lock, hashes checked) and this package, editable; `uv lock` after changing pyproject.toml.
$(VENV)/.installed: pyproject.toml uv.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "uv>=0.9"
	UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv sync --quiet --frozen --all-extras --inexact
	touch $@

$(CDK): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed $(CDK)

## The main job: start the local stack, swap the bundled photos, print job, S3 key, output file, event.
demo: install
	$(PY) -m infra.local demo

## Keep the local stack serving on 127.0.0.1:$${SWAPFLOW_PORT:-8000} until Ctrl-C.
up: install
	$(PY) -m infra.local up

## Every check: lint, types, then unit, integration (moto), infra (template), e2e (local stack over HTTP).
test: install
	$(VENV)/bin/ruff check functions infra tests bench
	$(VENV)/bin/mypy
	$(PY) -m pytest -n 2 --dist loadgroup -q

test-fast: install
	$(PY) -m pytest -q tests/unit

lint: install
	$(VENV)/bin/ruff check functions infra tests bench

typecheck: install
	$(VENV)/bin/mypy

synth: install
	$(CDK) synth --quiet

## Once per account/region, before the first deploy.
bootstrap: install
	$(CDK) bootstrap

## CDK_ARGS passes options, e.g. CDK_ARGS="--parameters AlarmEmail=ops@example.com".
deploy: install
	$(CDK) deploy $(CDK_ARGS)

bench: install
	$(PY) bench/overhead.py

## A 1,000-job batch on the local stack: wall time, jobs/s, AWS cost per 1,000 jobs (bench/results/batch.json).
bench-batch: install
	$(PY) bench/batch.py

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache out .swapflow
