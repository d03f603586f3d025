# Two commands on a fresh machine:  `make demo` runs the workbench, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SRC    := workbench workbench_demo tests $(wildcard benchmarks)
STAMP  := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed-demo
PORT     ?= 7233
LAB_PORT ?= 8888

CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test lint typecheck pytest bench clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	$(BIN)/jupyter labextension disable --level sys_prefix @jupyterlab/apputils-extension:announcements
	touch $@

## demo: install, start a persistent dev server (.demo/), seed the demo data once, run its worker
##       and open JupyterLab on notebooks/00-start-here.ipynb; Ctrl-C stops it all.
##       Other ports: make demo PORT=7300 LAB_PORT=8890
demo: $(DEMO_STAMP)
	$(BIN)/workbench demo --port $(PORT) --lab-port $(LAB_PORT)

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
	$(BIN)/mypy workbench workbench_demo

pytest: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
