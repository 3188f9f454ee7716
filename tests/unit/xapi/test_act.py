"""act.py against a real (in-process) simulated pool: placement, fallback, disk release, limits, fixes."""
import threading
import time

import pytest

from halizard.core import actions as A
from halizard.core.model import OPERATOR_STOP_KEY
from halizard.xapi import act, observe
from halizard.xapi.session import open_session

import sim_pools as _sim
KEY = "XenCenter.CustomFields.ha-lizard-enabled"


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """One pool for the module (a pool takes seconds to build on a busy machine): each test has its own VMs."""
    from sim_pools import assemble

    handle = _sim.InprocPool(assemble(str(tmp_path_factory.mktemp("act")), 3, 15, start_latency=0.3, fuse=0.5))
    yield handle
    handle.close()


@pytest.fixture
def session(pool):
    s = open_session(pool.host(pool.master_name())["address"], "root", pool.password, 10.0)
    yield s
    s.logout()


def halt(session, *names):
    for name in names:
        session.xenapi.VM.hard_shutdown(session.xenapi.VM.get_by_name_label(name)[0])


def snap_of(session):
    return observe.read_snapshot(session, KEY)


def uuid_of(snap, name):
    return snap.vm_by_name(name)[0].uuid


def host_uuid(snap, name):
    return [h.uuid for h in snap.pool.hosts if h.name_label == name][0]


def test_start_on_the_planned_host(pool, session):
    halt(session, "vm001")
    snap = snap_of(session)
    target = host_uuid(snap, "host3")
    result = act.Starter(session, snap, snap.usable_hosts()).start(A.StartVm("t", uuid_of(snap, "vm001"), target))
    assert result.ok and result.host_uuid == target and pool.vm_status("vm001")["running_on"] == ["host3"]


def test_a_failed_host_moves_on_to_the_next(pool, session):
    halt(session, "vm002")
    snap = snap_of(session)
    host3 = host_uuid(snap, "host3")
    session.xenapi.host.disable(snap.host_refs[host3])  # after the snapshot: the plan still picks it
    result = act.Starter(session, snap, snap.usable_hosts()).start(A.StartVm("t", uuid_of(snap, "vm002"), host3))
    assert result.ok and result.host_uuid != host3 and result.attempts[0] == host3
    assert pool.vm_status("vm002")["running_on"] != ["host3"]
    session.xenapi.host.enable(snap.host_refs[host3])


def test_stale_disk_marker_is_released_and_the_start_retried_once(pool, session):
    halt(session, "vm003")
    snap = snap_of(session)
    x = session.xenapi
    vm_ref = snap.vm_refs[uuid_of(snap, "vm003")]
    vdi = x.VBD.get_VDI(x.VM.get_VBDs(vm_ref)[0])
    stale = snap.host_refs[host_uuid(snap, "host2")]
    x.VDI.add_to_sm_config(vdi, "host_" + stale, "RW")   # host2 is powered on: XAPI refuses the disk
    target = host_uuid(snap, "host1")
    result = act.Starter(session, snap, snap.usable_hosts()).start(A.StartVm("t", uuid_of(snap, "vm003"), target))
    assert result.ok and result.attempts == (target, target)
    assert pool.vm_status("vm003")["running_on"] == ["host1"]


def test_a_running_vm_or_a_concurrent_start_is_declined_not_failed(pool, session):
    snap = snap_of(session)
    running = act.Starter(session, snap, snap.usable_hosts()).start(A.StartVm("t", uuid_of(snap, "vm004"), None))
    assert running.outcome == act.DECLINED_RESULT and "VM_BAD_POWER_STATE" in running.error
    halt(session, "vm004")
    snap = snap_of(session)
    starter = act.Starter(session, snap, snap.usable_hosts())
    results = starter.start_many([A.StartVm("a", uuid_of(snap, "vm004"), None)] * 2, 2)
    assert sorted(r.outcome.value for r in results) == ["declined", "started"]
    assert len(pool.vm_status("vm004")["running_on"]) == 1


def test_concurrency_limit_bounds_parallel_starts(pool, session):
    names = ["vm%03d" % i for i in range(5, 11)]
    halt(session, *names)
    snap = snap_of(session)
    starts = [A.StartVm("t", uuid_of(snap, n), None) for n in names]
    active, peak, lock = [0], [0], threading.Lock()
    real = act.Starter._call_start

    def counting(self, *args):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            return real(self, *args)
        finally:
            with lock:
                active[0] -= 1
    act.Starter._call_start = counting
    try:
        began = time.monotonic()
        results = act.Starter(session, snap, snap.usable_hosts()).start_many(starts, 2)
        took = time.monotonic() - began
    finally:
        act.Starter._call_start = real
    assert all(r.ok for r in results) and peak[0] == 2
    assert took >= 3 * 0.3 - 0.05, "6 starts of 0.3 s, 2 at a time"


def test_each_start_has_its_own_deadline(pool, session):
    halt(session, "vm011")
    snap = snap_of(session)
    starter = act.Starter(session, snap, snap.usable_hosts(), start_deadline=0.1)
    result = starter.start(A.StartVm("t", uuid_of(snap, "vm011"), None))
    assert result.outcome == act.FAILED and "XapiTimeout" in result.error


def test_no_host_at_all_fails_with_the_reason(pool, session):
    halt(session, "vm012")
    session.xenapi.VM.set_memory(session.xenapi.VM.get_by_name_label("vm012")[0], str(2 ** 50))
    snap = snap_of(session)
    result = act.Starter(session, snap, snap.usable_hosts()).start(A.StartVm("t", uuid_of(snap, "vm012"), None))
    assert result.outcome == act.FAILED and "NO_HOSTS_AVAILABLE" in result.error


def test_fixes_and_appliance_start(pool, session):
    snap = snap_of(session)
    vm = uuid_of(snap, "vm013")
    assert act.apply_fix(session, snap, A.SetVmHaField("w", vm, "false"), KEY)[0]
    assert act.apply_fix(session, snap, A.StampHomePool("w", vm, snap.pool.uuid), KEY)[0]
    other = session.xenapi.VM.get_other_config(snap.vm_refs[vm])
    assert other[KEY] == "false" and other["home-pool"] == snap.pool.uuid
    x = session.xenapi
    app_ref = x.VM_appliance.create({"name_label": "app-act", "name_description": ""})
    for name in ("vm013", "vm014"):
        x.VM.set_appliance(x.VM.get_by_name_label(name)[0], app_ref)
    halt(session, "vm013", "vm014")
    snap = snap_of(session)
    app = x.VM_appliance.get_uuid(app_ref)
    result = act.Starter(session, snap, snap.usable_hosts()).start_appliance(A.StartAppliance("w", app))
    assert result.ok and pool.vm_status("vm013")["running_on"] and pool.vm_status("vm014")["running_on"]


def test_operator_stop_is_kept_then_cleared_and_other_actions_are_no_fix(pool, session):
    snap = snap_of(session)
    vm = uuid_of(snap, "vm011")  # the key is cleared again at the end
    done, text, _written = act.apply_fix(session, snap, A.MarkOperatorStop("stopped by hand", vm, True), KEY)
    assert done and text == "operator stop of %s kept in XAPI (stopped by hand)" % vm
    assert session.xenapi.VM.get_other_config(snap.vm_refs[vm])[OPERATOR_STOP_KEY] == "true"
    done, text, _written = act.apply_fix(session, snap, A.MarkOperatorStop("started again", vm, False), KEY)
    assert done and text == "operator stop of %s cleared (started again)" % vm
    assert OPERATOR_STOP_KEY not in session.xenapi.VM.get_other_config(snap.vm_refs[vm])
    assert act.apply_fix(session, snap, A.StartVm("t", vm, None), KEY)[:2] == (False, "not a VM fix: StartVm")


def test_destroy_zombie_through_the_platform(pool):
    from halizard.jobs.zombies import destroy_zombie
    from halizard.platform import get_platform

    vm = pool.vm_status("vm015")
    platform = get_platform(pool.host(vm["running_on"][0])["root"])
    done, text = destroy_zombie(platform, A.DestroyDomain("w", vm["uuid"]))
    assert done and vm["uuid"] not in platform.local_domains()


def test_an_ha_field_changed_since_the_cycle_read_it_is_left_alone(pool, session):
    """The master resets a missing HA field to false; an admin who set it to true after the cycle's read
    keeps true. Before, the reset overwrote it (a lost update: the VM silently lost its protection)."""
    snap = snap_of(session)
    vm = uuid_of(snap, "vm014")
    ref = snap.vm_refs[vm]
    assert KEY not in session.xenapi.VM.get_other_config(ref)
    reset = A.SetVmHaField("the HA field is missing", vm, "false", seen=None)
    act.set_other_config(session.xenapi.VM, ref, KEY, "true")  # the admin, after the cycle's read
    done, text, written = act.apply_fix(session, snap, reset, KEY)
    assert session.xenapi.VM.get_other_config(ref)[KEY] == "true"
    assert done and not written and text == "HA field of %s left at 'true': it changed since this cycle read it" % vm
    # unchanged since the read: the reset is written
    invalid = A.SetVmHaField("'yes' is not true or false", vm, "false", seen="true")
    assert act.apply_fix(session, snap, invalid, KEY).written
    assert session.xenapi.VM.get_other_config(ref)[KEY] == "false"
