"""Deadlines as absolute `time.monotonic()` values.

Why: every call that leaves the process must end in time. Passing one
absolute deadline down a call chain (instead of a timeout per step) keeps
the sum of the steps bounded: each step uses only what is left.
"""
import time


def after(seconds, clock=time.monotonic):
    """The deadline `seconds` from now."""
    return clock() + float(seconds)


def remaining(deadline, clock=time.monotonic):
    """Seconds left until `deadline` (never negative)."""
    return max(0.0, float(deadline) - clock())


def expired(deadline, clock=time.monotonic):
    """True once `deadline` has passed."""
    return remaining(deadline, clock) <= 0.0
