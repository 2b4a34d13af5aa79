# smokejumper — the two commands users need: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: run demo test lint typecheck pytest bench install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(STAMP)

run: $(VENV)/.installed
	$(BIN)/smokejumper up

# Every example alert fired at a separate demo engine, with local providers and a Slack
# emulator; prints where to watch and how to approve (docs/demo.md).
demo: $(VENV)/.installed
	$(BIN)/smokejumper demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The console's browser tests drive Debian's chromium (never a browser Playwright downloads).
CHROMIUM ?= /usr/bin/chromium

$(CHROMIUM):
	apt-get update && apt-get install -y chromium

pytest: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
