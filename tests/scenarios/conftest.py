"""Whole-pool scenarios run real supervisors against a simulated pool on a 2-core machine:
their waits depend on scheduling. Each gets one re-run so that a slow moment on a loaded
machine does not fail CI; a scenario that fails twice in a row still fails the suite, and the
re-run is reported (pytest -ra lists it as RERUN)."""
import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/scenarios/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=1))
