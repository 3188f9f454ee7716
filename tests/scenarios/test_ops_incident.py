"""Issue 17 end to end: the demo's story (a VM crash, a slave power-off, a master power-off and its
takeover) on a pool with a real service per host, then `ha-cfg timeline --json`, `ha-lizard metrics`
(parsed by the official Prometheus client) and the metrics textfile, checked against what happened.
One host's METRICS_FILE is unwritable: one log line, one alert, its service keeps running.
"""
import json
import os
import subprocess
import sys
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from halizard.sim import demo
from halizard.sim.cli import read_pool_file

BAD_PATH = "/nonexistent-halizard-metrics/halizard.prom"


def cli(module, root, *args):
    done = subprocess.run([sys.executable, "-m", "halizard.cli.%s" % module, "--root", root] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def total(fams, family, sample, **labels):
    return sum(s.value for s in fams[family].samples
               if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()))


def timeline_of(root):
    """The timeline as host `root` tells it; DemoError (retried by wait_for) while its xapi does not answer."""
    status, out, err = cli("ha_cfg", root, "timeline", "--json")
    if status == 3:  # the local xapi is restarting after the takeover: wait_for asks again
        raise demo.DemoError(err)
    assert status == 0, err
    return json.loads(out)


def settled(what, read):
    """read() once it answers (a transition may reset a connection meanwhile)."""
    found = []
    demo.wait_for(what, lambda: found.append(read()) or True)
    return found[-1]


@pytest.mark.timeout(600)
def test_timeline_and_metrics_tell_what_happened(tmp_path_factory):
    # a short path: each host's control socket must fit AF_UNIX's ~107 bytes (xdist adds popen-gwN/)
    tmp_path = tmp_path_factory.mktemp("ops")
    directory = str(tmp_path / "p")
    textfile = str(tmp_path / "textfile" / "halizard.prom")
    os.makedirs(os.path.dirname(textfile))
    demo.sim(directory, "up", "--hosts", "3", "--vms", "6", "--start-latency", "0.2", "--fuse", "2")
    try:
        document = read_pool_file(directory)
        roots = {h["name_label"]: h["root"] for h in document["hosts"]}
        demo.configure(document, METRICS_FILE=textfile)
        with open(os.path.join(roots["host2"], "etc", "ha-lizard", "ha-lizard.conf"), "a") as handle:
            handle.write("\nMETRICS_FILE=%s\n" % BAD_PATH)
        demo.start_services(directory, document)
        demo.wait_for("slaves healthy", lambda: all(demo.host_field(document, h) == "healthy"
                                                    for h in ("host2", "host3")))
        demo.wait_for("VMs stamped", lambda: demo.all_stamped(document))

        demo.sim(directory, "fault", "crash-vm", "vm001")
        demo.wait_for("vm001 running again", lambda: demo.running_once(document, ["vm001"]))

        slave_vms = demo.vms_on(document, "host3")
        demo.sim(directory, "fault", "power-off", "host3")
        demo.wait_for("host3 failed", lambda: demo.host_field(document, "host3") == "failed")
        demo.wait_for("host3's VMs back", lambda: demo.running_once(document, slave_vms))

        # the unwritable path on host2: one ERROR line, one alert (screened), the service still runs
        status, out, _err = cli("ha_cfg", roots["host1"], "show-alerts", "--json")
        assert sum(BAD_PATH in json.dumps(a) for a in json.loads(out)) == 1
        assert cli("ha_lizard", roots["host2"], "status")[0] == 0
        demo.sim(directory, "fault", "power-on", "host3")
        demo.wait_for("host3 healthy", lambda: demo.host_field(document, "host3") == "healthy")

        old = demo.master_name(document)
        # a host publishes its journal each cycle: what it decided in its last cycle before it dies is lost
        # (that is why a dead host is named unreachable); let the master publish its recovery of host3 first
        published = lambda: {(e["by"], e["kind"], e["subject"])  # noqa: E731
                             for e in timeline_of(roots["host3"])["events"]}
        demo.wait_for("the master's journal published", lambda: {(old, "vm-restarted", vm) for vm in slave_vms}
                      <= published())
        master_vms = demo.vms_on(document, old)
        demo.sim(directory, "fault", "power-off", old)
        demo.wait_for("a new master", lambda: demo.master_name(document) not in (None, old))
        demo.wait_for("old master's VMs back", lambda: demo.running_once(document, master_vms))
        new = demo.master_name(document)  # read once the takeover is over (status follows the latest promotion)
        demo.wait_for("the old master marked failed", lambda: demo.host_field(document, old) == "failed")
        restarted_by_new = lambda: {e["subject"] for e in timeline_of(roots[new])["events"]  # noqa: E731
                                    if e["kind"] == "vm-restarted" and e["by"] == new}
        demo.wait_for("the new master's restarts published", lambda: set(master_vms) <= restarted_by_new())
        with open(os.path.join(roots["host2"], "service.log"), encoding="utf-8") as handle:
            log = handle.read()  # the simulator runs the service with --log-file <root>/service.log
        report = settled("the new master's timeline", lambda: timeline_of(roots[new]))
        # the decisions that matter are XAPI messages too, posted by the deciding host's next ops_report run
        posted = ("fenced host3", "released host3", "fenced %s" % old, "takeover done")
        demo.wait_for("the decisions posted as messages", lambda: all(
            text in cli("ha_cfg", roots[new], "show-alerts", "--json")[1] for text in posted))
        metrics = {h: cli("ha_lizard", r, "metrics")[1] for h, r in roots.items()}
    finally:
        demo.sim(directory, "down")

    # --- the timeline: faults and recoveries in order, the dead old master named ---
    events = [(e["by"], e["kind"], e["subject"]) for e in report["events"]]
    print("events (shown on failure):", old, new, events, report["unreachable"])
    assert report["first_fault_at"] == report["events"][0]["at"]
    assert events[0] == (old, "vm-down", "vm001")
    assert events.index((old, "vm-restarted", "vm001")) > 0
    failed_at = events.index((old, "host-failed", "host3"))
    fenced_at = events.index((old, "fenced", "host3"))
    released_at = events.index((old, "released", "host3"))
    assert events.index((old, "vm-restarted", "vm001")) < failed_at < fenced_at < released_at
    assert all(events.index((old, "vm-restarted", vm)) > released_at for vm in slave_vms)
    takeover = [i for i, e in enumerate(events) if e[0] == new and e[1] == "takeover"]
    assert takeover and min(takeover) > released_at
    fence_old = events.index((new, "fenced", old))
    assert min(takeover) < fence_old
    assert all(events.index((new, "vm-restarted", vm)) > fence_old for vm in master_vms)
    assert [e for e in report["events"] if e["kind"] == "fenced"] and all(
        e["outcome"] == "verified" and e["method"] == "XVM" for e in report["events"] if e["kind"] == "fenced")
    assert any(u["host"] == old for u in report["unreachable"])
    began = min(e["at"] for e in report["events"] if e["by"] == new and e["kind"] == "takeover")
    assert all(e["seconds"] >= e["at"] - began - 0.01 for e in report["events"]  # from the master's loss on
               if e["by"] == new and e["kind"] == "vm-restarted")

    # --- the metrics of the old master and of the new one ---
    before = families(metrics[old])
    assert total(before, "halizard_vm_restarts", "halizard_vm_restarts_total") == 1 + len(slave_vms)
    assert total(before, "halizard_fence_attempts", "halizard_fence_attempts_total",
                 method="XVM", outcome="verified") == 1
    assert total(before, "halizard_host_failures", "halizard_host_failures_total") == 1
    assert total(before, "halizard_vm_restart_latency_seconds",
                 "halizard_vm_restart_latency_seconds_count") == 1 + len(slave_vms)
    assert total(before, "halizard_service_up", "halizard_service_up") == 0  # powered off
    after = families(metrics[new])
    assert total(after, "halizard_service_up", "halizard_service_up") == 1
    assert total(after, "halizard_takeover_steps", "halizard_takeover_steps_total") >= 1
    assert total(after, "halizard_fence_attempts", "halizard_fence_attempts_total", outcome="verified") == 1
    assert total(after, "halizard_vm_restarts", "halizard_vm_restarts_total") >= len(master_vms)
    assert total(after, "halizard_job_runs", "halizard_job_runs_total", job="master_watch") >= 1
    assert total(after, "halizard_job_duration_seconds", "halizard_job_duration_seconds_count",
                 job="master_watch") >= 1
    assert total(after, "halizard_last_incident_timestamp_seconds",
                 "halizard_last_incident_timestamp_seconds") <= time.time()
    assert total(after, "halizard_unsafe_configuration", "halizard_unsafe_configuration") == 0
    assert families(open(textfile).read())  # the textfile parses too
    about = [line for line in log.splitlines() if "metrics file %s not written" % BAD_PATH in line]
    assert len([line for line in about if " ERROR " in line]) == 1, about
    assert len([line for line in about if "ALERT" in line]) == 1, about
