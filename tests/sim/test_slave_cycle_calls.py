"""A slave's cycle makes the same XAPI calls whatever the VM count (issue 16), counted by the simulator.

Each job a slave runs every cycle (the registry's periodic jobs) runs once
in this process against host2 of a 2-host pool, as the supervisor would run
it; the second cycle (the first read the pool view in full) is counted at
host2's xapi. 10 VMs and 200 VMs must give the same calls, none of them a
read of every VM record.
"""
import importlib
import time

import pytest

from halizard.jobs import JOBS
from halizard.jobs.base import JobContext

# the periodic jobs of every cycle (the loop jobs and the event stream hold their own connection;
# disk_monitor and alert_spool run hourly / on alerts only)
CYCLE = ("pool_state", "vm_monitor", "zombies", "master_watch", "master_cycle", "autoselect", "ops_report")
WHOLE_TABLE = ("VM.get_all_records", "host_metrics.get_all_records", "VM_appliance.get_all_records",
               "VDI.get_all_records", "VM.get_all")


def _cycle(root):
    for name in CYCLE:
        module, function = JOBS[name]["target"].split(":")
        try:
            getattr(importlib.import_module(module), function)(JobContext(root, name, deadline=time.time() + 30))
        except SystemExit:
            pass  # a job that ends in "error" still made its calls; the counts say what they were


def _slave_cycle_calls(inproc_pool, vms):
    pool = inproc_pool(hosts=2, vms=vms, start_latency=0.05)
    root = next(h["root"] for h in pool.json["hosts"] if h["name_label"] == "host2")
    _cycle(root)  # the first cycle reads the pool view in full and publishes this host's state
    before = pool.pool.calls().get("host2", {})
    _cycle(root)
    after = pool.pool.calls().get("host2", {})
    return {m: n - before.get(m, 0) for m, n in after.items() if n != before.get(m, 0)}


@pytest.mark.parametrize("job", CYCLE)
def test_cycle_jobs_are_registered(job):
    assert job in JOBS and not JOBS[job].get("loop")


def test_a_slave_cycle_makes_the_same_calls_with_10_or_200_vms(inproc_pool):
    small = _slave_cycle_calls(inproc_pool, 10)
    large = _slave_cycle_calls(inproc_pool, 200)
    assert small == large
    assert not set(small) & set(WHOLE_TABLE), "a slave reads every VM record each cycle: %s" % small
    assert small.get("event.from", 0) >= 1, "the slave's VM view follows event.from"


def test_a_slave_master_watch_reads_its_pool_view_not_every_host_record(inproc_pool):
    """Failed before: master_watch read every host record (and its own other_config) each cycle; at
    64 hosts that parse was most of a slave's cycle and much of the master's load."""
    from halizard.config import schema
    from halizard.jobs import master_watch, takeover
    from halizard.jobs.base import Outcome
    from halizard.statefiles import StateStore
    from halizard.xapi.view import STATE

    pool = inproc_pool(hosts=3, vms=6, start_latency=0.05)
    root = next(h["root"] for h in pool.json["hosts"] if h["name_label"] == "host2")
    _cycle(root)  # the pool view is stored

    def watched():
        before = pool.pool.calls().get("host2", {})
        report = master_watch.run(JobContext(root, "master_watch", deadline=time.time() + 30))
        after = pool.pool.calls().get("host2", {})
        return report, {m: n - before.get(m, 0) for m, n in after.items() if n != before.get(m, 0)}

    session = pool.xenapi_session("host1")
    x = session.xenapi
    key = schema.xc_field_key(schema.PARAMETERS["XC_FIELD_NAME"].default)
    host3 = x.host.get_by_name_label("host3")[0]
    x.host.remove_from_other_config(host3, key)
    x.host.add_to_other_config(host3, key, "marked by the test")
    report, calls = watched()
    assert report.outcome is Outcome.QUIET, report
    assert calls.get("event.from") == 1 and not {"host.get_all_records", "pool.get_all_records",
                                                 "host.get_other_config"} & set(calls), calls
    seen = {h.name_label: h.health_field for h in takeover.load_view(StateStore(root)).hosts}
    assert seen["host3"] == "marked by the test", "the change came through the event stream"

    StateStore(root).remove(STATE)  # no view to go on from: the pool and host records, as before
    report, calls = watched()
    assert report.outcome is Outcome.QUIET and calls.get("host.get_all_records") == 1, calls
    session.xenapi.session.logout()


def test_autoselect_takes_the_value_from_the_live_configuration_read(inproc_pool):
    """Failed before: autoselect read the pool's other_config again after the configuration's live read of
    it (pool.get_all and pool.get_other_config on every host each cycle)."""
    from halizard.jobs import autoselect

    pool = inproc_pool(hosts=2, vms=2, start_latency=0.05)
    root = next(h["root"] for h in pool.json["hosts"] if h["name_label"] == "host2")
    session = pool.xenapi_session("host1")
    x = session.xenapi
    pool_ref = x.pool.get_all()[0]
    x.pool.remove_from_other_config(pool_ref, "autopromote_uuid")
    x.pool.add_to_other_config(pool_ref, "autopromote_uuid", "named-by-the-test")
    before = pool.pool.calls().get("host2", {})
    report = autoselect.run(JobContext(root, "autoselect", deadline=time.time() + 30))
    after = pool.pool.calls().get("host2", {})
    calls = {m: n - before.get(m, 0) for m, n in after.items() if n != before.get(m, 0)}
    assert report.text == "autopromote is now named-by-the-test", report
    assert "pool.get_other_config" not in calls and calls.get("pool.get_record") == 1, calls
    session.xenapi.session.logout()
