"""The outer dom0 (`outer_url`): every simulated host is one of its VMs, for XVM fencing."""
import http.client
import xmlrpc.client

import pytest
import XenAPI

from halizard.sim.addresses import BoundTransport
from halizard.sim.outer import outer_vm_uuid
from halizard.sim.probe import probe


@pytest.fixture
def pool(inproc_pool):
    return inproc_pool(hosts=3, vms=3)


def xapi_reachable(pool, name):
    try:
        pool.xenapi_session(name, timeout=2.0)
    except XenAPI.Failure:
        return True
    except (OSError, http.client.HTTPException):
        return False
    return True


def test_login_needs_the_outer_dom0s_own_password(pool):
    session = XenAPI.Session(pool.json["outer_url"], transport=BoundTransport(timeout=5.0, tls=True))
    with pytest.raises(XenAPI.Failure) as failure:
        session.login_with_password("root", "wrong", "2.0", "test")
    assert failure.value.details[0] == "SESSION_AUTHENTICATION_FAILED"
    assert pool.json["outer_password"] not in str(failure.value)
    assert pool.json["outer_password"] != pool.password
    with pytest.raises(xmlrpc.client.Fault) as unauthenticated:
        session.xenapi.VM.get_all()  # SESSION_INVALID, which the client turns into "must log in"
    assert unauthenticated.value.faultCode == 401


def test_the_outer_dom0_takes_its_password_over_https_only(pool):
    assert pool.json["outer_url"].startswith("https://")
    plain = XenAPI.Session(pool.json["outer_url"].replace("https://", "http://", 1), transport=BoundTransport(
        timeout=5.0))
    with pytest.raises((OSError, http.client.HTTPException, xmlrpc.client.ProtocolError)):
        plain.login_with_password("root", pool.json["outer_password"], "2.0", "test")


def test_every_host_is_an_outer_vm_with_its_power_state(pool):
    outer = pool.outer_session()
    records = outer.xenapi.VM.get_all_records()
    by_name = {record["name_label"]: (ref, record) for ref, record in records.items()}
    assert sorted(by_name) == ["host1", "host2", "host3"]
    for host in pool.hosts:
        ref, record = by_name[host["name_label"]]
        assert record["uuid"] == outer_vm_uuid(host["uuid"]) == pool.json["outer_vms"][host["uuid"]]
        assert record["power_state"] == "Running"
        assert outer.xenapi.VM.get_by_uuid(record["uuid"]) == ref
        assert outer.xenapi.VM.get_record(ref)["name_label"] == host["name_label"]
        assert outer.xenapi.VM.get_by_name_label(host["name_label"]) == [ref]


def test_shutdown_start_and_reboot_drive_host_power(pool):
    outer = pool.outer_session()
    victim = pool.host("host2")
    ref = outer.xenapi.VM.get_by_uuid(outer_vm_uuid(victim["uuid"]))
    on_victim = [vm["name_label"] for vm in pool.status()["vms"] if vm["running_on"] == ["host2"]]

    outer.xenapi.VM.hard_shutdown(ref)
    assert outer.xenapi.VM.get_power_state(ref) == "Halted"
    assert pool.host_status("host2")["power"] == "off"
    assert not xapi_reachable(pool, "host2")
    assert not probe(victim["address"], 7, timeout=2.0)
    for name in on_victim:
        assert pool.vm_status(name)["running_on"] == []
    with pytest.raises(XenAPI.Failure) as failure:
        outer.xenapi.VM.clean_shutdown(ref)
    assert failure.value.details == ["VM_BAD_POWER_STATE", ref, "running", "halted"]

    outer.xenapi.VM.start(ref, False, False)
    assert outer.xenapi.VM.get_power_state(ref) == "Running"
    assert pool.host_status("host2")["power"] == "on"
    assert xapi_reachable(pool, "host2")
    with pytest.raises(XenAPI.Failure) as again:
        outer.xenapi.VM.start(ref, False, False)
    assert again.value.details[0] == "VM_BAD_POWER_STATE"

    outer.xenapi.VM.hard_reboot(ref)
    assert outer.xenapi.VM.get_power_state(ref) == "Running"
    assert pool.host_status("host2")["power"] == "on"


def test_outer_errors_are_xapi_errors(pool):
    outer = pool.outer_session()
    with pytest.raises(XenAPI.Failure) as bad_ref:
        outer.xenapi.VM.hard_shutdown("OpaqueRef:00000000-0000-0000-0000-000000000000")
    assert bad_ref.value.details[:2] == ["HANDLE_INVALID", "VM"]
    with pytest.raises(XenAPI.Failure) as bad_uuid:
        outer.xenapi.VM.get_by_uuid("no-such-uuid")
    assert bad_uuid.value.details[0] == "UUID_INVALID"
    with pytest.raises(XenAPI.Failure) as unknown:
        outer.xenapi.VM.migrate_send()
    assert unknown.value.details == ["MESSAGE_METHOD_UNKNOWN", "VM.migrate_send"]
    with pytest.raises(XenAPI.Failure) as count:
        outer.xenapi.VM.start(outer.xenapi.VM.get_all()[0])
    assert count.value.details[0] == "MESSAGE_PARAMETER_COUNT_MISMATCH"


def test_partitions_never_cut_off_the_outer_dom0(pool):
    pool.fault("partition", "host1", "host2", "host3")
    session = XenAPI.Session(pool.json["outer_url"],
                             transport=BoundTransport(timeout=5.0, source=pool.host("host1")["address"], tls=True))
    session.login_with_password("root", pool.json["outer_password"], "2.0", "fencer")
    assert len(session.xenapi.VM.get_all()) == 3


@pytest.mark.parametrize("fault", ["power-off", "link-down"])
def test_a_dead_or_unplugged_host_cannot_reach_the_outer_dom0(pool, fault):
    """A powered-off host sends nothing (its service is killed); an unplugged one's packets never leave it."""
    pool.fault(fault, "host2")
    session = XenAPI.Session(pool.json["outer_url"],
                             transport=BoundTransport(timeout=5.0, source=pool.host("host2")["address"], tls=True))
    with pytest.raises((OSError, http.client.HTTPException, xmlrpc.client.ProtocolError)):
        session.login_with_password("root", pool.json["outer_password"], "2.0", "fencer")
    live = XenAPI.Session(pool.json["outer_url"],
                          transport=BoundTransport(timeout=5.0, source=pool.host("host1")["address"], tls=True))
    live.login_with_password("root", pool.json["outer_password"], "2.0", "fencer")
    assert len(live.xenapi.VM.get_all()) == 3
