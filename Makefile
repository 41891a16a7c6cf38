# Two commands do all the set-up on a machine with only Python 3.10+:
#   make demo   creates .venv with zmqscope alone (pyzmq, rich, textual,
#               psutil), then runs the bundled demo app with the TUI attached
#   make test   adds the test tools to .venv, then runs ruff, import-linter, mypy --strict
#               (the package and the tests) and the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
BASE   := $(VENV)/.installed-base
STAMP  := $(VENV)/.installed

.PHONY: demo test test-newest-pytest lint typecheck bench screenshots clean

# zmqscope and its own dependencies: all the demo needs.
$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(BASE)

# The test tools on top (pytest and its plugins, ruff, mypy, gevent, ...).
$(STAMP): $(BASE)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(BASE)
	$(BIN)/zmqscope demo

lint: $(STAMP)
	$(BIN)/ruff check zmqscope tests benchmarks scripts
	$(BIN)/ruff format --check zmqscope tests benchmarks scripts
	$(BIN)/lint-imports --no-cache

# The package, then the tests (as strictly: see [tool.mypy] in pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy --strict zmqscope
	$(BIN)/mypy --strict tests

# Two workers: the suite is mostly subprocesses waiting on each other.
# --zmqscope: our own suite must leak no socket either.
test: lint typecheck
	$(BIN)/pytest -n 2 --zmqscope

# The pytest plugin runs pytest's test protocol itself, so it follows pytest's
# internals (zmqscope/pytest_plugin/pytest_internals.py): its tests again, and
# mypy over the package, under the newest pytest (the suite above runs the
# pytest the snapshot tests pin), in a virtualenv of their own.
NEWEST := .venv-newest-pytest
test-newest-pytest:
	$(PYTHON) -m venv $(NEWEST)
	$(NEWEST)/bin/python -m pip install --quiet --upgrade pip
	$(NEWEST)/bin/python -m pip install --quiet --upgrade -e . pytest pytest-timeout pytest-asyncio pytest-xdist mypy types-psutil
	$(NEWEST)/bin/python -m pytest --version
	$(NEWEST)/bin/mypy --strict zmqscope
	$(NEWEST)/bin/python -m pytest -n 2 -p no:cacheprovider tests/plugin

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# screenshots/*.svg of each TUI view, taken from the demo (see the script's docstring)
screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) $(NEWEST) .pytest_cache .mypy_cache .ruff_cache
