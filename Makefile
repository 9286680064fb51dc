# The README's commands. `make run` and `make test` work on a fresh machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 5000
PYTEST_ARGS ?=
export FLASK_APP := app

.PHONY: run test worker scheduler bench lint browser demo-reset

$(VENV)/.installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements-test.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

## run: install, migrate, seed demo data on first start, then web (http://127.0.0.1:$(PORT)), worker and scheduler (Procfile)
run: $(VENV)/.installed
	$(PY) -m flask db upgrade
	PORT=$(PORT) $(PY) -m flask demo seed --if-empty
	PORT=$(PORT) $(PY) -m webapp.jobs.launcher

## demo-reset: new passwords, tokens and client secret for the demo data, printed once
demo-reset: $(VENV)/.installed
	PORT=$(PORT) $(PY) -m flask demo seed --reset

## test: install what the tests need and run the whole suite (DATABASE_URL/REDIS_URL pick the engines)
test: $(VENV)/.installed-test browser
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

## browser: Debian's Chromium for the Playwright tests (never `playwright install`)
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

worker: $(VENV)/.installed
	$(PY) -m flask jobs worker

scheduler: $(VENV)/.installed
	$(PY) -m flask jobs scheduler

## lint: ruff over the code and the tests, then mypy over webapp/ (mypy.ini)
lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check webapp tests bench app.py
	$(VENV)/bin/mypy webapp

## bench: load and scale benchmarks (by hand; not part of the test run)
bench: $(VENV)/.installed-test
	$(PY) -m bench
