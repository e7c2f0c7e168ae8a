# Every target sets up what it needs: a fresh machine of this kind only needs `make run` or `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export QPV_DATA_DIR ?= $(abspath ../shared/geodata)
export QPV_DATABASE_URL ?= sqlite:///var/qpv.sqlite3
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
# One Prometheus folder per server, shared by its workers and emptied by `qpv serve` at start
# (set for `make run` only: tests start apps of their own, each counting by itself).
METRICS_DIR ?= var/metrics
# A PostgreSQL URL needs the PostGIS package and the server; SQLite needs nothing.
POSTGRES_URL := $(findstring postgresql,$(QPV_DATABASE_URL))
JOB_WORKERS ?= 2
# Playwright drives Debian's chromium (executable_path): never a browser download of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: setup runtime web data run test e2e lint postgis chromium nginx services wrk bench clean

# Two steps: `make run` needs the runtime dependencies only, tests and lint add the dev extra.
runtime: $(VENV)/.runtime web
setup: $(VENV)/.dev web

# The web page's scripts, styles and fonts, from npm (web/package-lock.json) into the package
# (app/web/static, not committed); node 20 and npm are on every machine. Rebuilt when a source
# or the lock file changes. --ignore-scripts: no package runs code at install.
WEB_STAMP := app/web/static/.built
web: $(WEB_STAMP)
$(WEB_STAMP): web/package-lock.json web/build.mjs $(wildcard web/src/*)
	cd web && npm ci --ignore-scripts --no-audit --no-fund && npm run build
	touch $@

$(VENV)/.runtime: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

# Whatever QPV_DATABASE_URL names, leave that database complete: created if missing, schema,
# administrative divisions, both QPV geographies (found in QPV_DATA_DIR, else downloaded) and
# the offline geocoder (BAN files under QPV_DATA_DIR/ban). `qpv setup` decides from the
# database's own state (sha256 of what it holds), so a second run only checks.
data: runtime $(if $(POSTGRES_URL),postgis services)
	$(BIN)/qpv setup

# The API and JOB_WORKERS job workers (`qpv worker`) beside it, on the Redis of `services`;
# the workers stop with the API (Ctrl-C or a signal to this shell). Open access (no API key)
# unless QPV_OPEN_ACCESS=false: this is the embedded default, production sets keys.
run: data services
	@workers=; trap 'kill $$workers 2>/dev/null; wait' EXIT INT TERM; \
	for i in $$(seq $(JOB_WORKERS)); do $(BIN)/qpv worker & workers="$$workers $$!"; done; \
	QPV_OPEN_ACCESS=$${QPV_OPEN_ACCESS:-true} \
	QPV_METRICS_DIR=$${QPV_METRICS_DIR:-$(METRICS_DIR)} $(BIN)/qpv serve --host $(HOST) --port $(PORT) \
		--workers $(WORKERS)

# PostGIS for the PostgreSQL backend tests (Debian package; needs root, as on these machines).
postgis:
	@ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-postgis-3; }

# Debian's Chromium for the HTML report tests (driven by Playwright; no browser download).
chromium:
	@test -x /usr/bin/chromium || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# Debian's nginx: `nginx -t` on deploy/nginx.conf and a proxy over two replicas in the
# deployment tests (RUNLEVEL=1: installed, not started).
nginx:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || \
		{ apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; }

# PostgreSQL and Redis are started with the machine; start them again if they stopped.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 -::1 \
		--port 6379 --save "" --appendonly no --dir /tmp --logfile /tmp/redis-qpv.log

test: setup postgis chromium nginx services
	$(BIN)/pytest

# The docker-compose topology as real processes (deploy/topology.py): a PostGIS cluster of its
# own, `qpv setup`, two replicas behind nginx, a job worker; end to end and under faults.
e2e: setup postgis nginx services
	$(BIN)/pytest --topology tests/deploy/test_topology.py

lint: setup
	$(BIN)/ruff check app tests bench migrations deploy
	$(BIN)/ruff format --check app tests bench migrations deploy
	$(BIN)/mypy
	$(BIN)/lint-imports

# The HTTP load generator of bench/bench_http.py (Debian package; needs root).
wrk:
	@command -v wrk >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }

# Figures are recorded in bench/README.md; run on a quiet machine.
bench: setup data postgis services wrk
	$(BIN)/python bench/bench_pip.py
	$(BIN)/python -m bench.bench_http
	$(BIN)/python -m bench.bench_startup
	$(BIN)/python -m bench.bench_tagging
	$(BIN)/python bench/bench_geocoder.py --seed 42 --paris-sample 20000
	$(BIN)/python -m bench.bench_batch coords
	$(BIN)/python -m bench.bench_batch addresses
	$(BIN)/python -m bench.bench_jobs --rows 100000 --workers 2

clean:
	rm -rf var $(VENV) web/node_modules app/web/static
