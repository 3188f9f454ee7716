"""The journal (bounded, counted once), the metrics exposition (parsed by the official client) and --since."""
import datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from halizard.ops import journal, metrics, timeline
from halizard.statefiles import StateStore


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(fams, family, sample_name, **labels):
    return sum(s.value for s in fams[family].samples if s.name == sample_name and all(
        s.labels.get(k) == v for k, v in labels.items()))


def test_journal_counts_once_bounds_entries_and_feeds_the_metrics(tmp_path):
    state = StateStore(str(tmp_path))
    journal.record(state, "host-failed", "no answer", subject="host3", now=100.0)
    journal.record(state, "host-failed", "no answer", subject="host3", now=100.0)  # next cycle: same decision
    journal.record(state, "fenced", "XVM says off", subject="host3", method="XVM", outcome="verified", now=104.0)
    for i in range(journal.MAX_ENTRIES + 5):
        journal.record(state, "vm-restarted", "started", subject="vm%d" % i, seconds=3.0, now=110.0 + i)
    entries, doc = journal.read(state)
    assert len(entries) == journal.MAX_ENTRIES
    assert doc["last_incident"] == 100.0
    fams = families(metrics.render(str(tmp_path)))
    assert value(fams, "halizard_host_failures", "halizard_host_failures_total") == 1
    assert value(fams, "halizard_fence_attempts", "halizard_fence_attempts_total",
                 method="XVM", outcome="verified") == 1
    assert value(fams, "halizard_vm_restarts", "halizard_vm_restarts_total") == journal.MAX_ENTRIES + 5
    assert value(fams, "halizard_vm_restart_latency_seconds", "halizard_vm_restart_latency_seconds_bucket",
                 le="5.0") == journal.MAX_ENTRIES + 5
    assert value(fams, "halizard_vm_restart_latency_seconds", "halizard_vm_restart_latency_seconds_bucket",
                 le="2.5") == 0
    assert value(fams, "halizard_last_incident_timestamp_seconds", "halizard_last_incident_timestamp_seconds") == 100
    assert value(fams, "halizard_service_up", "halizard_service_up") == 0


def test_unwritable_metrics_path_logs_one_error_line(tmp_path):
    class Log:
        def __init__(self):
            self.lines = []

        def error(self, fmt, *args):
            self.lines.append(("error", fmt.format(*args)))

        def debug(self, fmt, *args):
            self.lines.append(("debug", fmt.format(*args)))

        info = debug
    log = Log()
    path = str(tmp_path / "missing-dir" / "halizard.prom")
    config = {"MAIL_ON": 0, "ENABLE_ALERTS": 0}
    for _ in range(3):
        assert metrics.write_file(str(tmp_path), path, "x 1\n", log, config) is False
    errors = [text for level, text in log.lines if level == "error" and "metrics file" in text]
    assert len(errors) == 1 and path in errors[0]
    (tmp_path / "missing-dir").mkdir()
    assert metrics.write_file(str(tmp_path), path, "x 1\n", log, config) is True
    assert open(path).read() == "x 1\n"


def test_since_parses_durations_times_and_dates_and_refuses_the_rest():
    now = datetime.datetime(2026, 12, 4, 15, 0, tzinfo=datetime.timezone.utc).timestamp()
    assert timeline.parse_since("10m", now) == now - 600
    assert timeline.parse_since("14:30", now) == now - 1800
    assert timeline.parse_since("2026-12-04T14:00:00Z", now) == now - 3600
    for bad in ("yesterday", "", "10x", "25:99"):
        with pytest.raises(timeline.BadTime):
            timeline.parse_since(bad, now)


def test_last_incident_starts_at_the_first_fault_of_the_last_cluster():
    faults = [{"kind": "vm-down", "at": 0.0}, {"kind": "host-failed", "at": 5000.0},
              {"kind": "fenced", "at": 5010.0}, {"kind": "takeover", "at": 5600.0}]
    assert timeline.last_incident_start(faults) == 5000.0
    report = timeline.story(faults)
    assert [e["t"] for e in report["events"]] == [0.0, 10.0, 600.0]
    assert timeline.last_incident_start([{"kind": "fenced", "at": 1.0}]) is None
