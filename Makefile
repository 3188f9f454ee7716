# Two entry points for a fresh machine: `make demo` and `make test`.
# Each bootstraps .venv by itself; `make test` also installs the Debian
# packages the tests need (as root, through scripts/install-system-deps).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint venv test-venv sysdeps clean bench rpm

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed
test-venv: $(VENV)/.test-installed

sysdeps:
	./scripts/install-system-deps

demo: venv
	$(PY) -m halizard.sim.demo

lint: test-venv
	$(PY) -m ruff check .
	$(VENV)/bin/vermin -q --no-tips --violations -t=3.8- halizard

test: test-venv sysdeps lint
	$(PY) -m pytest -q

bench: venv
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

# dist/ha-lizard-<version>-<release>.noarch.rpm (see packaging/build_rpm.py and docs/install.md).
# Library trees are cached under build/vendor/, keyed by packaging/vendor/*.txt.
rpm: venv sysdeps
	$(PY) packaging/build_rpm.py

clean:
	rm -rf $(VENV) .pytest_cache dist
