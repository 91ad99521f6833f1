# Two commands a new clone needs: `make demo` and `make test`. Both create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench lint

$(VENV)/.installed: pyproject.toml setup.py src/pairs_tui/feed/replay/_lines.c src/pairs_tui/_columns.c src/pairs_tui/_runs.c
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,dev]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/pairs-tui --demo

test: $(VENV)/.installed
	$(PY) -m pytest

bench: $(VENV)/.installed
	$(PY) -m benchmarks

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy src tests
	$(VENV)/bin/lint-imports
