# Every target sets up what it needs: a fresh machine of this kind only needs `make run` or `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export QPV_DATA_DIR ?= $(abspath ../shared/geodata)
export QPV_DATABASE_URL ?= sqlite:///var/qpv.sqlite3
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
# One Prometheus folder per server, shared by its workers and emptied by `qpv serve` at start.
export QPV_METRICS_DIR ?= var/metrics
BAN_FILES = $(wildcard $(QPV_DATA_DIR)/ban/adresses-*.csv*)

.PHONY: setup runtime data run test lint postgis testtools services wrk bench clean

# Two steps: `make run` needs the runtime dependencies only, tests and lint add the dev extra.
runtime: $(VENV)/.runtime
setup: $(VENV)/.dev

$(VENV)/.runtime: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

# Schema, both QPV geographies (found in QPV_DATA_DIR, else downloaded) and the offline geocoder.
data: runtime
	$(BIN)/qpv db upgrade
	$(BIN)/qpv data sync
	$(MAKE) var/.ban-imported

var/.ban-imported: $(BAN_FILES) | runtime
	$(if $(BAN_FILES),$(BIN)/qpv geocoder import $(BAN_FILES),@echo "no BAN file under $(QPV_DATA_DIR)/ban: address lookups need the ban provider")
	mkdir -p var && touch $@

run: data
	$(BIN)/qpv serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

# PostGIS for the PostgreSQL backend tests (Debian package; needs root, as on these machines).
postgis:
	@ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-postgis-3; }

# Debian's Chromium (rendering /docs, driven by Playwright: no browser download) and nginx
# (checking deploy/nginx.conf and proxying two replicas in the deployment tests; RUNLEVEL=1:
# installed, not started).
testtools:
	@test -x /usr/bin/chromium && command -v nginx >/dev/null 2>&1 || \
		{ apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx; }

# PostgreSQL and Redis are started with the machine; start them again if they stopped.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 -::1 \
		--port 6379 --save "" --appendonly no --dir /tmp --logfile /tmp/redis-qpv.log

test: setup postgis testtools services
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/ruff format --check app tests bench migrations
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

clean:
	rm -rf var $(VENV)
