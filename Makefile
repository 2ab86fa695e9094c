# `make run` and `make test` do all the set-up on a fresh machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: run classroom test lint typecheck jscheck pytest install browser-deps postgres-deps bench clean

$(STAMP): pyproject.toml setup.py
	python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev,cluster]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m app --host $(HOST) --port $(PORT)

# A class on the school's network: every interface, class links and QR codes naming this
# machine's LAN address (PLAYGROUND_PUBLIC_URL=http://HOST:PORT overrides it).
classroom: $(STAMP)
	$(PY) -m app --classroom --port $(PORT)

# Debian's chromium for the browser tests; Playwright drives it, never downloads one.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium fonts-dejavu-core; }

# Debian's PostgreSQL for the store tests; the tests start a cluster of their own (initdb in a
# temporary folder, loopback, a free port) and stop it: the system's default one is not used.
postgres-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian postgresql for the store tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q postgresql; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The page's JS (static/js, no build step): TypeScript checks its JSDoc types (jsconfig.json)
# and ESLint lints it (eslint.config.mjs), both pinned in package-lock.json and installed
# into ./node_modules with the machine's npm, as the venv is for Python.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

jscheck: $(NODE_STAMP)
	node_modules/.bin/tsc --project jsconfig.json
	node_modules/.bin/eslint static/js

# The browser tests get a pytest process of their own: Playwright's sync API keeps an event
# loop running in the main thread for the whole session, and tests that start their own
# (asyncio.run) cannot share a process with it.
pytest: $(STAMP) browser-deps postgres-deps
ifeq ($(strip $(PYTEST_ARGS)),)
	$(PY) -m pytest --ignore=tests/browser
	$(PY) -m pytest tests/browser
else
	$(PY) -m pytest $(PYTEST_ARGS)
endif

test: lint typecheck jscheck pytest

bench: $(STAMP) browser-deps
	$(PY) bench/engine.py
	$(PY) bench/stream.py
	$(PY) bench/store.py
	$(PY) bench/page.py
	$(PY) bench/load.py
	$(PY) bench/class.py

clean:
	rm -rf $(VENV) node_modules build dist *.egg-info tests/artifacts
