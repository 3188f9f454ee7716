"""Every fault as an XAPI client experiences it (real XenAPI client, in-process pool)."""
import http.client
import os
import time

import pytest
import XenAPI
from waiting import wait_until

NETWORK_ERRORS = (OSError, http.client.HTTPException)


def login_outcome(pool, name, source=None, timeout=2.0):
    """'ok', the XAPI error code, or 'unreachable'."""
    try:
        pool.xenapi_session(name, source=source, timeout=timeout)
    except XenAPI.Failure as failure:
        return failure.details[0]
    except NETWORK_ERRORS:
        return "unreachable"
    return "ok"


def power_state(session, name):
    vm = session.xenapi.VM.get_by_name_label(name)[0]
    return session.xenapi.VM.get_power_state(vm)


@pytest.fixture
def pool(inproc_pool):
    return inproc_pool(hosts=3, vms=6)


def vms_on(pool, host_name):
    return sorted(vm["name_label"] for vm in pool.status()["vms"] if vm["running_on"] == [host_name])


def test_reboot_kills_domains_and_the_host_reports_them_halted(pool):
    victims = vms_on(pool, "host3")
    pool.fault("reboot", "host3")
    assert wait_until(lambda: login_outcome(pool, "host3") == "HOST_IS_SLAVE")
    session = pool.xenapi_session()
    assert wait_until(lambda: all(power_state(session, name) == "Halted" for name in victims))
    assert vms_on(pool, "host3") == []


def test_crash_vm_is_seen_by_xapi_as_halted(pool):
    victim = vms_on(pool, "host2")[0]
    session = pool.xenapi_session()
    assert power_state(session, victim) == "Running"
    pool.fault("crash-vm", victim)
    assert pool.vm_status(victim)["running_on"] == []
    assert wait_until(lambda: power_state(session, victim) == "Halted")


def test_power_off_of_the_master_leaves_slaves_naming_it(pool):
    master_address = pool.host("host1")["address"]
    pool.fault("power-off", "host1")
    assert login_outcome(pool, "host1") == "unreachable"
    for slave in ("host2", "host3"):
        with pytest.raises(XenAPI.Failure) as failure:
            pool.xenapi_session(slave)
        assert failure.value.details == ["HOST_IS_SLAVE", master_address]


def test_emergency_transition_takes_xapi_down_for_the_fuse_then_serves_as_master(inproc_pool):
    pool = inproc_pool(hosts=3, vms=3, fuse=1.5)
    pool.fault("power-off", "host1")
    session = pool.xenapi_session("host2", login=False)
    session.slave_local_login_with_password("root", pool.password)
    session.xenapi.pool.emergency_transition_to_master()
    started = time.monotonic()
    assert wait_until(lambda: login_outcome(pool, "host2") == "unreachable", timeout=1.5), \
        "xapi restarts: connections fail during the fuse"
    assert wait_until(lambda: login_outcome(pool, "host2") == "ok", timeout=10.0)
    assert time.monotonic() - started > 1.0
    with open(os.path.join(pool.host("host2")["root"], "etc/xensource/pool.conf"), encoding="utf-8") as handle:
        assert handle.read().strip() == "master"
    new_master = pool.xenapi_session("host2")
    recovered = new_master.xenapi.pool.recover_slaves()
    assert len(recovered) == 1
    with pytest.raises(XenAPI.Failure) as failure:
        pool.xenapi_session("host3")
    assert failure.value.details == ["HOST_IS_SLAVE", pool.host("host2")["address"]]


def test_hang_and_link_faults_from_a_peer_point_of_view(pool):
    pool.fault("hang-xapi", "host2")
    assert login_outcome(pool, "host2", source="host1", timeout=0.5) == "unreachable"
    pool.fault("unhang-xapi", "host2")
    assert login_outcome(pool, "host2", source="host1") == "HOST_IS_SLAVE"
    pool.fault("link-down", "host1")
    assert login_outcome(pool, "host1", source="host3") == "unreachable"
    assert login_outcome(pool, "host1", source="host1") == "ok", "a host always reaches itself"
    session = pool.xenapi_session("host1", source="host1")
    host = session.xenapi.host.get_by_name_label("host1")[0]
    management = [pif for pif in session.xenapi.host.get_PIFs(host) if session.xenapi.PIF.get_management(pif)]
    carrier = session.xenapi.PIF_metrics.get_carrier(session.xenapi.PIF.get_metrics(management[0]))
    assert carrier is False
    pool.fault("link-up", "host1")
    assert login_outcome(pool, "host1", source="host3") == "ok"
