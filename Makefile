# Two commands a new user runs: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# yarn (jlpm) reads the npm registry from the environment, so no registry address is
# ever written into a committed file (see shared/recipes/labextension.md).
export YARN_NPM_REGISTRY_SERVER ?= $(shell npm config get registry 2>/dev/null)
export PATH := $(abspath $(VENV))/bin:$(PATH)
# As `activate` would: another virtualenv active in the caller's shell must not leak into
# the tests (IPython warns about a foreign VIRTUAL_ENV, and the suite fails on warnings).
export VIRTUAL_ENV := $(abspath $(VENV))

.PHONY: setup demo test test-fast lab bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: setup
	$(PY) -m sqlflow_magic.demo

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not notebook and not browser"

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

bench: setup
	$(PY) bench/modes.py

clean:
	rm -rf $(VENV) sqlflow_magic/labextension labextension/node_modules labextension/lib
