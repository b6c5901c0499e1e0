PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck check clean

$(BIN)/relay: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/relay

run: $(BIN)/relay  ## set up and serve on the embedded default (SQLite + rules.yaml)
	$(BIN)/relay serve

test: $(BIN)/relay  ## set up and run every test
	$(BIN)/pytest -q

lint: $(BIN)/relay
	$(BIN)/ruff check relay tests
	$(BIN)/mypy

check: lint test

clean:
	rm -rf $(VENV) relay.db relay.db-wal relay.db-shm
