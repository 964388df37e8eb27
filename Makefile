# The two commands a newcomer needs: `make up` (run the suite) and `make test` (run the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: up test lint docs clean

$(BIN)/tameio: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/tameio

up: $(BIN)/tameio  ## install, then run the whole suite in embedded mode on :8000
	$(BIN)/tameio up

lint: $(BIN)/tameio
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint  ## install, lint, then every test against local RabbitMQ and PostgreSQL
	# Two processes share the tests (each file stays in one); then the fault proof alone,
	# since it stops the broker and restarts databases under everything else.
	$(BIN)/pytest -n 2 --dist loadfile --ignore=tests/faults
	$(BIN)/pytest tests/faults

docs: $(BIN)/tameio  ## regenerate docs/api/*.openapi.json and docs/events/asyncapi.json
	$(BIN)/tameio docs

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
