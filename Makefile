PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck check clean bench chaos screenshots

$(BIN)/relay: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/relay

run: $(BIN)/relay  ## set up and serve on the embedded default (SQLite + rules.yaml)
	$(BIN)/relay serve

test: $(BIN)/relay  ## set up and run every test
	$(BIN)/pytest -q

# ruff, mypy --strict, and import-linter: the layers of docs/architecture.md, no import circles
lint: $(BIN)/relay
	$(BIN)/ruff check relay tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

check: lint test

# three `relay serve` replicas on PostgreSQL, ~2000 runs, replicas killed and restarted; exits 1
# on a lost or repeated notification, two pollers at once or a digest window sent twice
chaos: $(BIN)/relay
	$(BIN)/python -m tests.chaos $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) relay.db relay.db-wal relay.db-shm

$(VENV)/.bench: $(BIN)/relay pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

# starts everything on 127.0.0.1, installs wrk and Alertmanager with apt-get when missing (or
# says so), writes docs/benchmarks.md; BENCH_QUICK=1: a reduced run in under a minute
bench: $(VENV)/.bench
	$(BIN)/python -m bench

# docs/screenshots/*.png: the console's main pages (the README shows them), rendered by Debian's
# chromium through Playwright as in the browser tests
screenshots: $(BIN)/relay
	$(BIN)/python -m bench.screenshots
