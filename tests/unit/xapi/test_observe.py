"""observe.py against a real (in-process) simulated pool: snapshots and the VM event watcher."""
import time

import pytest

from halizard.core.model import HALTED, RUNNING
from halizard.xapi import observe
from halizard.xapi.session import open_session

import sim_pools as _sim
KEY = "XenCenter.CustomFields.ha-lizard-enabled"


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """One pool for the module (building one takes seconds on a busy machine); tests leave it whole."""
    from sim_pools import assemble

    handle = _sim.InprocPool(assemble(str(tmp_path_factory.mktemp("observe")), 3, 6, start_latency=0.05,
                                      fuse=0.5))
    yield handle
    handle.close()


def connect(pool, timeout=5.0):
    master = pool.host(pool.master_name())
    return open_session(master["address"], "root", pool.password, timeout)


def test_snapshot_reads_hosts_vms_appliances_and_free_memory(pool):
    session = connect(pool)
    snap = observe.read_snapshot(session, KEY)
    view = snap.pool
    assert len(view.hosts) == 3 and view.host(view.master_uuid).is_master
    assert snap.live_hosts == frozenset(h.uuid for h in view.hosts) == snap.usable_hosts()
    ordinary = [v for v in view.vms if not (v.is_a_template or v.is_control_domain or v.is_a_snapshot)]
    assert sorted(v.name_label for v in ordinary) == ["vm%03d" % i for i in range(1, 7)]
    assert all(v.power_state == RUNNING and v.resident_on for v in ordinary)
    assert len(view.appliances) == 1 and len(view.members_of(view.appliances[0].uuid)) == 3
    vm = snap.vm_by_name("vm001")[0]
    assert snap.vm_refs[vm.uuid].startswith("OpaqueRef:") and vm.memory > 0
    free_before = view.host(vm.resident_on).memory_free
    session.xenapi.VM.hard_shutdown(snap.vm_refs[vm.uuid])
    after = observe.read_snapshot(session, KEY).pool
    assert after.vm(vm.uuid).power_state == HALTED and after.vm(vm.uuid).resident_on is None
    assert after.host(vm.resident_on).memory_free == free_before + vm.memory
    session.xenapi.VM.start(snap.vm_refs[vm.uuid], False, False)
    session.logout()


def test_build_snapshot_estimates_free_memory_without_compute_free_memory():
    pools = {"OpaqueRef:p": {"uuid": "p", "master": "OpaqueRef:h1", "other_config": {KEY: "true"}}}
    hosts = {"OpaqueRef:h1": {"uuid": "h1", "name_label": "a", "enabled": True, "metrics": "OpaqueRef:m1",
                              "other_config": {}, "memory_overhead": "10"}}
    metrics = {"OpaqueRef:m1": {"live": True, "memory_total": "1000"}}
    vms = {"OpaqueRef:v1": {"uuid": "v1", "power_state": "Running", "resident_on": "OpaqueRef:h1",
                            "memory_static_max": "300", "other_config": {"home-pool": "p"}},
           "OpaqueRef:v2": {"uuid": "v2", "power_state": "Halted", "resident_on": "OpaqueRef:NULL",
                            "scheduled_to_be_resident_on": "OpaqueRef:h1", "memory_static_max": "200",
                            "current_operations": {"t": "start"}}}
    snap = observe.build_snapshot({"pool": pools, "host": hosts, "host_metrics": metrics, "vm": vms,
                                   "vm_appliance": {}}, KEY)
    assert snap.pool.host("h1").memory_free == 1000 - 300 - 200 - 10
    assert snap.pool.vm("v2").current_operations == ("start",) and snap.pool.vm("v1").home_pool == "p"
    assert snap.pool.ha_field == "true"


def test_watcher_sees_a_crash_within_a_second(pool):
    watcher = observe.VmEventWatcher(lambda: connect(pool), wait=0.5, call_timeout=3.0)
    first = watcher.poll()
    assert first and all(op == "initial" for _ev, _rec, op in first)
    while watcher.poll(0.0):  # drain anything still settling
        pass
    began = time.monotonic()
    pool.fault("crash-vm", "vm002")
    seen = []
    while time.monotonic() - began < 5 and not seen:
        seen = [ev for ev, rec, _op in watcher.poll(1.0)
                if rec.get("name_label") == "vm002" and ev.power_state == HALTED]
    assert seen and time.monotonic() - began < 1.0
    assert seen[0].current_operations == ()
    watcher.close()
    session = connect(pool)
    session.xenapi.VM.start(session.xenapi.VM.get_by_name_label("vm002")[0], False, False)
    session.logout()


def test_watcher_reports_a_lost_stream_once_and_reconnects(pool):
    watcher = observe.VmEventWatcher(lambda: connect(pool, timeout=1.0), wait=0.2, call_timeout=0.8,
                                     retry_pause=0.1)
    watcher.poll()
    master = pool.master_name()
    pool.fault("hang-xapi", master)
    with pytest.raises(observe.StreamLost):
        watcher.poll()
    assert watcher.token == "" and watcher.session is None
    with pytest.raises(observe.StreamLost) as lost:
        watcher.poll()  # still hung: the reconnect fails too
    assert "reconnect" in lost.value.reason
    pool.fault("unhang-xapi", master)
    deadline = time.monotonic() + 10
    batch = None
    while time.monotonic() < deadline and batch is None:
        try:
            batch = watcher.poll()
        except observe.StreamLost:
            continue
    assert batch and all(op == "initial" for _e, _r, op in batch), "a fresh token lists every VM"
    assert watcher.reconnects == 2
    watcher.close()


def test_watcher_resets_a_bad_token(pool):
    watcher = observe.VmEventWatcher(lambda: connect(pool), wait=0.1, token="not-a-token")
    with pytest.raises(observe.StreamLost) as lost:
        watcher.poll()
    assert "EVENT_FROM_TOKEN_PARSE_FAILURE" in lost.value.reason and watcher.token == ""
    assert watcher.poll()  # the fresh token's first batch
    watcher.close()
