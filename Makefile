# mailadmin — `make run` starts the embedded shape; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The test suite runs on the production shape: PostgreSQL and Redis on loopback.
TEST_ENV := DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailadmin \
	CELERY_BROKER_URL=redis://127.0.0.1:6379/15 \
	SECRET_KEY=test-secret-key-not-for-production \
	FIELD_ENCRYPTION_KEY=6Wqhx5C5m4dYGQ9jJkZq8f3Kp0Y2vRrS1tUuVwXxYzA= \
	MAILADMIN_VAR_DIR=$(CURDIR)/var/test \
	DJANGO_ALLOW_ASYNC_UNSAFE=true

.PHONY: run install install-test node services browser test lint bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q '.[test]'
	touch $@

# The OAuth server the tests run (npm oauth2-mock-server), pinned by package-lock.json.
node_modules/.installed: package.json package-lock.json
	command -v npm >/dev/null || bash scripts/ensure-node.sh
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

node: node_modules/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(PY) -m mailadmin.keys
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_admin
	$(VENV)/bin/honcho start -f Procfile

services:
	bash scripts/ensure-services.sh

browser:
	bash scripts/ensure-chromium.sh

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install-test node services browser lint
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run > /dev/null || \
		{ echo "Models changed without a migration: run manage.py makemigrations."; exit 1; }
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

# Throughput benchmark (issue 4): PostgreSQL + Redis + real workers against smtp-sink.
bench: install-test services
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(PY) bench/throughput.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
