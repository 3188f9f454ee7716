"""Job duration histograms, kept in the supervisor's memory and shown by its `status` answer.

Why: the supervisor already counts runs per outcome (JobState.counts); the
durations need a histogram, and writing a file at every job end would put
disk waits into the supervisor's callback. Counters restart with the
service, as Prometheus counters may.
"""
import threading

BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

_lock = threading.Lock()
_hist = {}


def observe(job, seconds):
    """Count one finished run of `job` that took `seconds`."""
    if not isinstance(seconds, (int, float)):
        return
    with _lock:
        h = _hist.setdefault(job, {"buckets": [0] * len(BUCKETS), "sum": 0.0, "count": 0})
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                h["buckets"][i] += 1
        h["sum"] += seconds
        h["count"] += 1


def histogram(job):
    """A copy of `job`'s histogram (cumulative bucket counts, sum, count), or None before its first run."""
    with _lock:
        h = _hist.get(job)
        return None if h is None else {"le": list(BUCKETS), "buckets": list(h["buckets"]),
                                       "sum": h["sum"], "count": h["count"]}
