"""Faults and ground truth: what really runs versus what the database says."""
import time

import pytest
import XenAPI

from halizard.sim.pool import SimUsageError
from waiting import stays, wait_until


@pytest.fixture
def pool(inproc_pool):
    return inproc_pool(hosts=3, vms=3, fuse=0.5)


def carrier(x, name):
    host = x.host.get_by_name_label(name)[0]
    pif = [p for p in x.host.get_PIFs(host) if x.PIF.get_management(p)][0]
    return x.PIF_metrics.get_carrier(x.PIF.get_metrics(pif))


def call_fails_from(pool, target, source):
    try:
        pool.xenapi_session(target, login=False, source=source, timeout=2.0).login_with_password(
            "root", pool.password, "2.0", "t")
    except XenAPI.Failure:
        return False
    except OSError:
        return True
    return False


def test_ground_truth_agrees_with_the_database_at_start(pool):
    status = pool.status()
    assert [h["role"] for h in status["hosts"]] == ["master", "slave", "slave"]
    assert all(h["power"] == "on" and h["xapi"] == "up" for h in status["hosts"])
    for vm in status["vms"]:
        assert vm["power_state"] == "Running" and vm["running_on"] == [vm["resident_on"]]
    assert status["violations"] == []


def test_power_off_kills_domains_but_the_database_still_says_running(pool):
    pool.fault("power-off", "host2")
    vm = pool.vm_status("vm002")
    assert vm["running_on"] == [] and vm["power_state"] == "Running" and vm["resident_on"] == "host2"
    host = pool.host_status("host2")
    assert host["power"] == "off" and host["xapi"] == "down"
    assert pool.pool.local_domains(pool.host("host2")["uuid"]) == []
    pool.fault("power-on", "host2")
    vm = pool.vm_status("vm002")
    assert vm["power_state"] == "Halted" and vm["resident_on"] is None and vm["running_on"] == []


def test_hang_xapi_keeps_domains_and_never_answers(pool):
    pool.fault("hang-xapi", "host2")
    assert pool.host_status("host2")["xapi"] == "hung"
    assert pool.vm_status("vm002")["running_on"] == ["host2"]
    began = time.monotonic()
    with pytest.raises(OSError):
        pool.xenapi_session("host2", login=False, timeout=0.5).login_with_password("root", pool.password, "2.0", "t")
    assert time.monotonic() - began >= 0.4
    x = pool.xenapi_session().xenapi
    vm = x.VM.get_by_name_label("vm002")[0]
    x.VM.power_state_reset(vm)  # a hung xapi does not answer the master either
    pool.fault("unhang-xapi", "host2")
    assert pool.host_status("host2")["xapi"] == "up"


def test_link_down_drops_carrier_and_reachability_but_not_domains(pool):
    x = pool.xenapi_session().xenapi
    assert carrier(x, "host2") is True
    pool.fault("link-down", "host2")
    assert carrier(x, "host2") is False
    assert pool.vm_status("vm002")["running_on"] == ["host2"]
    assert call_fails_from(pool, "host2", None)
    assert call_fails_from(pool, "host1", "host2")
    pool.fault("link-up", "host2")
    assert carrier(x, "host2") is True
    assert not call_fails_from(pool, "host2", "host1")


def test_crash_vm_halts_it_in_the_database(pool):
    pool.fault("crash-vm", "vm003")
    vm = pool.vm_status("vm003")
    assert vm["running_on"] == [] and vm["power_state"] == "Halted"


def test_partition_and_heal_by_source_address(pool):
    pool.fault("partition", "host1", "host2,host3")
    assert call_fails_from(pool, "host1", "host2")
    assert call_fails_from(pool, "host3", "host1")
    assert not call_fails_from(pool, "host3", "host2")
    assert not call_fails_from(pool, "host1", None)  # the outside (127.0.0.1) reaches every group
    assert not call_fails_from(pool, "host2", None)
    pool.fault("heal")
    assert not call_fails_from(pool, "host1", "host2")


def test_reboot_restarts_with_no_domains(pool):
    pool.fault("reboot", "host3")
    assert pool.host_status("host3")["power"] == "on"
    assert pool.vm_status("vm003")["running_on"] == []
    assert pool.vm_status("vm003")["power_state"] == "Halted"


def test_disk_fault_shows_in_disk_health(pool):
    host = pool.host("host2")["uuid"]
    assert pool.pool.disk_health(host)["healthy"] is True
    pool.fault("disk-fail", "host2")
    assert pool.pool.disk_health(host)["healthy"] is False
    pool.fault("disk-ok", "host2")
    assert pool.pool.disk_health(host)["healthy"] is True


def test_platform_calls(pool):
    sim = pool.pool
    host2 = pool.host("host2")["uuid"]
    vm2 = [v["uuid"] for v in pool.json["vms"] if v["name_label"] == "vm002"][0]
    assert sim.local_domains(host2) == [vm2]
    sim.destroy_domain(host2, vm2)
    assert sim.local_domains(host2) == []
    assert pool.vm_status("vm002")["power_state"] == "Halted"
    sim.restart_toolstack(host2)
    wait_until(lambda: pool.host_status("host2")["xapi"] == "down", timeout=5)
    wait_until(lambda: pool.host_status("host2")["xapi"] == "up", timeout=5)
    sim.reboot_host(host2)
    assert pool.host_status("host2")["power"] == "on"


def test_unknown_names_are_usage_errors(pool):
    for action, targets in (("explode", ["host1"]), ("power-off", ["host9"]), ("crash-vm", ["vm999"]),
                            ("partition", ["host1"]), ("partition", ["host1", "host1,host2"]),
                            ("heal", ["host1"]), ("power-off", [])):
        with pytest.raises(SimUsageError):
            pool.pool.fault(action, targets)
    with pytest.raises(SimUsageError):
        pool.pool.local_domains("no-such-host")


def test_a_protected_vm_lost_beyond_the_grace_is_a_violation(pool):
    pool.pool.spec.lost_grace = 0.3
    x = pool.xenapi_session().xenapi
    x.VM.add_to_other_config(x.VM.get_by_name_label("vm003")[0], "sim-protected", "false")
    pool.fault("power-off", "host2", "host3")
    assert pool.status()["violations"] == []
    time.sleep(0.4)  # the grace period itself is what is tested
    violations = wait_until(lambda: pool.status()["violations"])
    assert len(violations) == 1 and "vm002" in violations[0]


def test_operator_shutdown_is_not_a_loss(pool):
    pool.pool.spec.lost_grace = 0.2
    x = pool.xenapi_session().xenapi
    x.VM.clean_shutdown(x.VM.get_by_name_label("vm001")[0])
    stays(lambda: pool.status()["violations"] == [], 0.3, interval=0.05, message="no violation")


def test_a_rebooted_host_drops_its_disk_markers(pool):
    x = pool.xenapi_session().xenapi
    vm = x.VM.get_by_name_label("vm002")[0]
    host2 = x.VM.get_resident_on(vm)
    vdi = x.VBD.get_VDI(x.VM.get_VBDs(vm)[0])
    pool.fault("power-off", "host2")
    x.VM.power_state_reset(vm)
    assert "host_%s" % host2 in x.VDI.get_sm_config(vdi)  # a reset alone leaves the marker
    x.VM.start_on(vm, x.host.get_by_name_label("host3")[0], False, False)
    pool.fault("power-on", "host2")
    wait_until(lambda: "host_%s" % host2 not in x.VDI.get_sm_config(vdi))
    assert pool.vm_status("vm002")["running_on"] == ["host3"]
    x.VM.hard_shutdown(vm)
    x.VM.start_on(vm, host2, False, False)  # no stale marker of host2 blocks anything
    assert pool.status()["violations"] == []


def test_status_table_shows_a_paused_leftover(pool):
    from halizard.sim.cli import format_status
    status = pool.status()
    vm = next(v for v in status["vms"] if v["name_label"] == "vm001")
    where = set(vm["running_on"])  # host uuids or names, whichever status uses
    other = next(h["name_label"] for h in status["hosts"] if not {h["uuid"], h["name_label"]} & where)
    pool.fault("leave-paused", "vm001", other)
    line = next(row for row in format_status(pool.status()).splitlines() if row.startswith("vm001"))
    assert line.endswith("(paused on %s)" % other)
