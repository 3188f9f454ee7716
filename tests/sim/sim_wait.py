"""Poll until a condition holds, for the simulator tests (one copy instead of one per file)."""
import time


def wait_until(predicate, timeout=10.0, interval=0.05):
    """The predicate's first truthy value; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached within %.1f s" % timeout)
