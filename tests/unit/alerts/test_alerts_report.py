"""The pool status report text."""
import os

from halizard.alerts import report
from halizard.statefiles import StateStore


def test_render_lists_hosts_then_vms():
    text = report.render("pool-1", [{"name": "h1", "address": "127.0.0.1", "role": "master", "health": "master"},
                                    {"name": "h2", "address": "127.0.0.2", "role": "slave", "enabled": False,
                                     "health": "failed"}],
                         [{"name": "web", "power_state": "Running", "host": "h1"},
                          {"name": "db", "power_state": "Halted", "host": ""}])
    lines = text.splitlines()
    assert lines[0] == "Pool: pool-1"
    assert text.index("h2") < text.index("VM")
    assert any(line.split()[:5] == ["h2", "127.0.0.2", "slave", "no", "failed"] for line in lines)
    assert text.index("db") < text.index("web")  # VMs sorted by name


def test_from_state_reads_text_or_structure_and_survives_garbage(tmp_path):
    root = str(tmp_path)
    assert report.from_state(root) == ""
    store = StateStore(root)
    store.write("status-report", {"pool": "p", "hosts": [{"name": "h9"}], "vms": []})
    assert "h9" in report.from_state(root)
    store.write("status-report", "plain text report")
    assert report.from_state(root) == "plain text report\n"
    with open(os.path.join(root, "var/lib/ha-lizard/status-report.json"), "w") as handle:
        handle.write("{broken")
    assert report.from_state(root) == ""


def test_from_the_pool_state_job_view(tmp_path):
    root = str(tmp_path)
    StateStore(root).write("pool-view", {
        "pool_uuid": "p-uuid", "master": "u1", "observed": 0,
        "hosts": [{"uuid": "u1", "name_label": "h1", "address": "127.0.0.1", "enabled": True, "health": "master"},
                  {"uuid": "u2", "name_label": "h2", "address": "127.0.0.2", "enabled": True, "health": "failed"}],
        "vms": [{"uuid": "v1", "name_label": "web", "power_state": "Running", "resident_on": "u2"}]})
    text = report.from_state(root)
    lines = text.splitlines()
    assert any(line.split() == ["h1", "127.0.0.1", "master", "yes", "master"] for line in lines)
    assert any(line.split() == ["h2", "127.0.0.2", "slave", "yes", "failed"] for line in lines)
    assert any(line.split() == ["web", "Running", "h2"] for line in lines)
    assert lines[-1] == "(as last seen by this host at 1970-01-01 00:00:00 UTC)"
