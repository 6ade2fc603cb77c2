# Two commands do all the set-up: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PIP := $(VENV)/bin/pip

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/hybridrl demo --out demo_out

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks

# Two pytest workers (pytest-xdist): most of a test's time is single-threaded compilation, so two
# processes keep both cores busy. `make test WORKERS=0` runs in one process.
WORKERS ?= 2
test: lint
	JAX_PLATFORMS=cpu $(VENV)/bin/python -m pytest -ra -n $(WORKERS)

bench: $(VENV)/.installed
	$(VENV)/bin/hybridrl bench throughput --json benchmarks/results/throughput.json

clean:
	rm -rf $(VENV) demo_out
