# smokejumper — the two commands users need: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: run demo test lint typecheck pytest bench soak install install-dev clean

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

# The retest tests run a real LiteLLM proxy; its pins conflict with ours, so it gets a
# venv of its own (tests/retest/conftest.py fails loudly without it).
LITELLM_VENV ?= .venv-litellm
LITELLM      := $(LITELLM_VENV)/bin/litellm

$(LITELLM):
	$(PYTHON) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LITELLM_VENV)/bin/pip install --quiet 'litellm[proxy]==1.108.0'

# Test processes: each has its own Temporal dev server and service fixtures, and every
# test its own database, so they do not meet.
PYTEST_WORKERS ?= 2

pytest: $(STAMP) $(CHROMIUM) $(LITELLM)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# The chaos test of the multi-process topology, for longer than `make test` runs it.
SOAK_SECONDS ?= 600
soak: $(STAMP)
	SMOKEJUMPER_SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python -m pytest -p no:cacheprovider \
		-o timeout=$$(( $(SOAK_SECONDS) + 600 )) tests/faults/test_chaos.py

clean:
	rm -rf $(VENV) $(LITELLM_VENV) .mypy_cache .pytest_cache .ruff_cache
