# Two commands on a fresh machine:  `make demo` runs the workbench, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SRC    := workbench tests $(wildcard benchmarks)
STAMP  := $(VENV)/.installed-test

CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test lint typecheck pytest bench clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## demo: install, start a local Temporal dev server and print how to connect to it
demo: $(STAMP)
	$(BIN)/workbench demo

## test: install everything the tests need, then lint, type-check and run the whole suite
test: $(STAMP) chromium lint typecheck pytest

## chromium: Debian's Chromium, which the browser tests drive through Playwright
chromium:
	@test -x $(CHROMIUM) || command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Chromium: sudo apt-get install -y chromium"; exit 1; \
	  fi; }

lint: $(STAMP)
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)

typecheck: $(STAMP)
	$(BIN)/mypy workbench

pytest: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
