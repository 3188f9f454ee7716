# Two entry points for a fresh machine: `make demo` and `make test`.
# Each bootstraps .venv by itself; `make test` also installs the Debian
# packages the tests need (as root, through scripts/install-system-deps).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The suite's second interpreter: dom0's Python 3.6 (pyenv's 3.6.15). setuptools>=61 has no 3.6
# release, so the default Python builds the editable wheel and pip 21.3 installs it with its deps.
VENV36 := .venv36
PY36 := $(VENV36)/bin/python
PYTHON36_PREFIX = $(shell { pyenv prefix 3.6.15 || $${PYENV_ROOT:-$$HOME/.pyenv}/bin/pyenv prefix 3.6.15; } 2>/dev/null)
# Run on 3.6 (one whole-pool scenario stands for tests/scenarios); the rest of tests/ on the default Python.
TESTS36 := tests/unit tests/component tests/cli tests/sim tests/scenarios/test_slave_poweroff.py
# pytest-xdist workers per part: the suite waits on simulated pools' timers far more than it computes,
# so more workers than cores pay. The scenario part got its fifth worker once its pools' CPU fell (the
# pools that wait out the self-fence wait cycle every 4 s); with 5 before that, its tests each took
# 10-40% longer (docs/testing.md).
TEST_WORKERS36 ?= 6
TEST_WORKERS ?= 6

.PHONY: demo test lint venv test-venv test-venv36 python36 sysdeps clean bench rpm

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test]'
	touch $@

python36:
	@[ -n "$(PYTHON36_PREFIX)" ] && [ -x "$(PYTHON36_PREFIX)/bin/python3" ] || \
	  { echo "make: Python 3.6.15 is missing ('pyenv prefix 3.6.15' finds none); the 3.6 part of the tests needs it" >&2; exit 1; }

$(VENV36)/.test-installed: pyproject.toml $(VENV)/.test-installed
	rm -rf $(VENV36)
	$(PYTHON36_PREFIX)/bin/python3 -m venv $(VENV36)
	$(PY36) -m pip install -q --upgrade 'pip<22'
	$(PY) -c 'from setuptools import build_meta as b; b.build_editable("$(VENV36)/wheel", {"editable-mode": "compat"})' \
	  >$(VENV36)/wheel.log 2>&1 || { cat $(VENV36)/wheel.log >&2; exit 1; }
	$(PY36) -m pip install -q "$$(echo $(VENV36)/wheel/*.whl)[test]"
	touch $@

venv: $(VENV)/.installed
test-venv: $(VENV)/.test-installed
test-venv36: python36 $(VENV36)/.test-installed

sysdeps:
	./scripts/install-system-deps

demo: venv
	$(PY) -m halizard.sim.demo

lint: test-venv
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports --no-logo --no-cache
	$(PY) scripts/check-module-size
	$(VENV)/bin/vermin -q --no-tips --violations -t=3.6- --backport dataclasses --eval-annotations halizard tests benchmarks

# The spin model checks wait for nothing and need minutes of CPU: they run at nice 19 beside both parts,
# on the CPU the wait-bound tests leave idle; the run fails if they fail (docs/testing.md).
MODEL_TESTS := tests/component/witness/test_lease_model.py tests/component/witness/test_membership_model.py
MODEL_LOG := build/model-checks.log

# The default part hands out one test at a time, longest first (`slow` marker, tests/conftest.py), so no
# worker is left with a long scenario at the end. Both parts run even when the first fails.
test: python36 test-venv test-venv36 sysdeps lint
	mkdir -p build
	nice -n 19 $(PY36) -m pytest -q -p no:cacheprovider $(MODEL_TESTS) >$(MODEL_LOG) 2>&1 & models=$$!; status=0; \
	$(PY36) -m pytest -q -n $(TEST_WORKERS36) --durations=10 $(addprefix --ignore=,$(MODEL_TESTS)) $(TESTS36) || status=1; \
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist load --maxschedchunk 1 --durations=15 \
	  $(addprefix --ignore=,$(TESTS36)) || status=1; \
	wait $$models || status=1; echo "spin model checks (at nice 19 since the start):"; cat $(MODEL_LOG); \
	exit $$status

bench: venv
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

# dist/ha-lizard-<version>-<release>.noarch.rpm (see packaging/build_rpm.py and docs/install.md).
# Library trees are cached under build/vendor/, keyed by packaging/vendor/*.txt.
rpm: venv sysdeps
	$(PY) packaging/build_rpm.py

clean:
	rm -rf $(VENV) $(VENV36) .pytest_cache dist
