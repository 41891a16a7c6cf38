# Two commands do all the set-up on a machine with only Python 3.10+:
#   make demo   runs the bundled demo app under zmqscope with the TUI attached
#   make test   creates .venv, installs zmqscope with its test tools,
#               then runs ruff, mypy --strict and the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/zmqscope demo

lint: $(STAMP)
	$(BIN)/ruff check zmqscope tests benchmarks scripts
	$(BIN)/ruff format --check zmqscope tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy --strict zmqscope

# Two workers: the suite is mostly subprocesses waiting on each other.
# --zmqscope: our own suite must leak no socket either.
test: lint typecheck
	$(BIN)/pytest -n 2 --zmqscope

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# screenshots/*.svg of each TUI view, taken from the demo (see the script's docstring)
screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
