"""Clients nobody here wrote, and one written from xapi's documentation, against the simulator.

Each connects through a slave (HOST_IS_SLAVE names the master), reads every
object, follows event.from (also spelled event_from) and stops and starts a
VM, checked against the simulator's ground truth:
- the official XenAPI Python client (XML-RPC; the package has no JSON-RPC);
- jsonrpc_client.py (JSON-RPC 2.0 and 1.0, from wire-protocol.md);
- ClusterLabs fence_xenapi from Debian's fence-agents (XML-RPC, through its
  own bundled XenAPI.py). It does not follow HOST_IS_SLAVE itself (it prints
  the failure and exits 1) and has no event calls: the test re-runs it at the
  address the failure names, as an operator would.
"""
import functools
import os
import subprocess

import pytest
import XenAPI
from jsonrpc_client import Failure, JsonRpcSession
from waiting import wait_until

from halizard.sim import apidesc
from halizard.sim.addresses import BoundTransport

FENCE_XENAPI = "/usr/sbin/fence_xenapi"


@pytest.fixture
def pool(inproc_pool):
    return inproc_pool(hosts=3, vms=3)


def xenapi_client(pool):
    """(call, list_methods, ints_as) of the official client, logged in through a slave."""
    session = XenAPI.Session(pool.host("host2")["xapi_url"], transport=BoundTransport(timeout=10.0))
    with pytest.raises(XenAPI.Failure) as redirect:
        session.login_with_password("root", pool.password, "2.0", "wire-clients")
    assert redirect.value.details[0] == "HOST_IS_SLAVE"
    session = XenAPI.Session("http://%s/" % redirect.value.details[1], transport=BoundTransport(timeout=10.0))
    session.login_with_password("root", pool.password, "2.0", "wire-clients")

    def call(method, *args):
        return functools.reduce(getattr, method.split("."), session.xenapi)(*args)

    return call, session.system.listMethods, str


def json_client(pool, version):
    session = JsonRpcSession(pool.host("host2")["address"], version=version)
    session.login("root", pool.password)
    assert session.address == pool.host("host1")["address"], "the login must have followed HOST_IS_SLAVE"
    return session.call, lambda: session.request("system.listMethods", []), int


CLIENTS = {"xenapi-xmlrpc": xenapi_client,
           "jsonrpc-2.0": functools.partial(json_client, version="2.0"),
           "jsonrpc-1.0": functools.partial(json_client, version="1.0")}


def int_fields(cls):
    return [name for name, (ftype, _q) in apidesc.load().fields(cls).items() if ftype == "int"]


def wait_for_power(call, token, vm, state, method):
    """Follow event.from (under `method`'s spelling) until vm's snapshot shows `state`; returns the token."""
    seen = {}

    def arrived():
        batch = call(method, ["vm"], seen.get("token", token), 2.0)
        seen["token"] = batch["token"]
        return any(e["ref"] == vm and e.get("snapshot", {}).get("power_state") == state for e in batch["events"])

    assert wait_until(arrived, timeout=15.0), "no event showed %s %s" % (vm, state)
    return seen["token"]


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_client_reads_everything_follows_events_and_stops_and_starts_a_vm(pool, client):
    call, list_methods, int_type = CLIENTS[client](pool)
    classes = sorted(n[:-len(".get_all_records")] for n in list_methods()
                     if n.endswith(".get_all_records") and not n.startswith("Async."))
    assert {"VM", "host", "pool", "SR", "VDI", "VBD", "PBD", "PIF", "network"} <= set(classes)
    for cls in classes:
        records = call("%s.get_all_records" % cls)
        assert isinstance(records, dict), cls
        for ref, record in records.items():
            assert ref.startswith("OpaqueRef:") and record["uuid"], cls
            for field in int_fields(cls):
                assert type(record[field]) is int_type, "%s.%s is %r over %s" % (cls, field, record[field], client)
    assert len(call("host.get_all_records")) == 3
    vm = call("VM.get_by_name_label", "vm001")[0]
    token = call("event.from", ["vm"], "", 0.0)["token"]

    call("VM.hard_shutdown", vm)
    token = wait_for_power(call, token, vm, "Halted", "event.from")
    assert pool.vm_status("vm001")["running_on"] == [], "ground truth: the domain is gone"
    call("VM.start", vm, False, False)
    wait_for_power(call, token, vm, "Running", "event_from")
    assert len(pool.vm_status("vm001")["running_on"]) == 1
    assert call("VM.get_power_state", vm) == "Running"


@pytest.mark.parametrize("version", ["2.0", "1.0"])
def test_json_client_sees_xapi_errors(pool, version):
    session = JsonRpcSession(pool.host("host1")["address"], version=version).login("root", pool.password)
    with pytest.raises(Failure) as failure:
        session.call("VM.start", "OpaqueRef:NULL", False, False)
    assert failure.value.details == ["HANDLE_INVALID", "VM", "OpaqueRef:NULL"]
    vm = session.call("VM.get_by_name_label", "vm002")[0]
    with pytest.raises(Failure) as failure:
        session.call("VM.start", vm, False, False)
    assert failure.value.details == ["VM_BAD_POWER_STATE", vm, "halted", "running"]
    session.call("session.logout")
    with pytest.raises(Failure) as failure:
        session.call("VM.get_all")
    assert failure.value.details[0] == "SESSION_INVALID"


def fence_xenapi(pool, address, action, vm_name="vm001"):
    """Run the ClusterLabs agent (options on stdin, so the password is in no argv)."""
    options = "action=%s\nsession_url=http://%s/\nlogin=root\npasswd=%s\nplug=%s\n" % (
        action, address, pool.password, vm_name)
    return subprocess.run([FENCE_XENAPI], input=options, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60, check=False)


def test_fence_xenapi_is_installed():
    assert os.access(FENCE_XENAPI, os.X_OK), "Debian's fence-agents must be installed (make test installs it)"


def test_fence_xenapi_through_a_slave_lists_reads_and_powers_a_vm(pool):
    redirected = fence_xenapi(pool, pool.host("host2")["address"], "status")
    assert redirected.returncode == 1 and "HOST_IS_SLAVE" in redirected.stdout, redirected
    master = pool.host("host1")["address"]
    assert master in redirected.stdout
    listed = fence_xenapi(pool, master, "list")
    assert listed.returncode == 0, listed
    names = {line.split(",")[1] for line in listed.stdout.splitlines()}
    assert names == {"vm001", "vm002", "vm003"}, "templates and control domains are left out"
    assert fence_xenapi(pool, master, "status").stdout.strip() == "Status: ON"
    off = fence_xenapi(pool, master, "off")
    assert off.returncode == 0, off
    assert pool.vm_status("vm001")["running_on"] == []
    status = fence_xenapi(pool, master, "status")
    assert (status.returncode, status.stdout.strip()) == (2, "Status: OFF")
    on = fence_xenapi(pool, master, "on")
    assert on.returncode == 0, on
    assert len(pool.vm_status("vm001")["running_on"]) == 1
