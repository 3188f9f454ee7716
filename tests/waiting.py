"""Waiting for a condition instead of sleeping a fixed time: the one `wait_until` (and `stays`) of the suite.

Why one module of its own, without pytest: unit, component, sim and scenario tests import it
(tests/ is on sys.path through tests/conftest.py), and so do the benchmarks through the scenario
harness, from a venv without the test extra.
"""
import time


def wait_until(predicate, timeout=10.0, interval=0.05, message="condition"):
    """Poll `predicate` until it returns something truthy; returns that value, or fails after `timeout` s.

    An AssertionError raised by the predicate counts as "not yet" (a CLI call failing while the
    pool changes); the last one is named in the failure.
    """
    limit = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            last_error = None
        except AssertionError as exc:
            value, last_error = None, exc
        if value:
            return value
        if time.monotonic() >= limit:
            detail = " (last error: %s)" % last_error if last_error else ""
            raise AssertionError("timed out after %g s waiting for %s%s" % (timeout, message, detail))
        time.sleep(interval)


def stays(predicate, seconds, interval=0.2, message="condition"):
    """Assert `predicate` holds for the whole `seconds` (a negative check with a deadline)."""
    limit = time.monotonic() + seconds
    while time.monotonic() < limit:
        if not predicate():
            raise AssertionError("%s stopped holding" % message)
        time.sleep(interval)
