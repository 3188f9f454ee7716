"""Each simulated host's xapi socket (<root>/var/lib/xcp/xapi) behaves as xapi's own (INTERFACE.md,
"The local socket"): local root without a password, TCP still asks for it, a slave forwards,
and the host's faults (hang, power-off) apply to the socket too."""
import time

import pytest
import XenAPI

from halizard.xapi import session as xs
from halizard.xapi.errors import XapiFailure, XapiTimeout, XapiUnreachable
from halizard.xapi.takeover_ops import LocalSession


@pytest.fixture
def pool(inproc_pool):
    return inproc_pool(hosts=3, vms=2)


def test_the_socket_takes_no_password_while_tcp_still_does(pool):
    for name in ("host1", "host2"):
        with xs.local_session(pool.host(name)["root"], timeout=5) as session:
            assert len(session.xenapi.host.get_all()) == 3
    tcp = XenAPI.Session(pool.host("host1")["xapi_url"])
    with pytest.raises(XenAPI.Failure) as refused:
        tcp.login_with_password("root", "", "2.0", "test")
    assert refused.value.details[0] == "SESSION_AUTHENTICATION_FAILED"


def test_a_slaves_socket_session_lives_in_the_masters_database(pool):
    with xs.local_session(pool.host("host3")["root"], timeout=5) as session:
        this_host = session.xenapi.session.get_this_host(session.handle)
        assert session.xenapi.host.get_name_label(this_host) == "host3"
        handle = session.handle
        # the same session over the slave's TCP endpoint is a pool session on a slave: HOST_IS_SLAVE
        tcp = XenAPI.Session(pool.host("host3")["xapi_url"])
        tcp._session = handle
        with pytest.raises(XenAPI.Failure) as slave:
            tcp.xenapi.host.get_all()
        assert slave.value.details[0] == "HOST_IS_SLAVE"


def test_with_the_master_gone_a_slave_answers_only_the_emergency_calls(pool):
    pool.fault("power-off", "host1")
    root = pool.host("host2")["root"]
    started = time.monotonic()
    with pytest.raises(XapiTimeout):
        xs.local_session(root, timeout=1.0)   # the login needs the master's database: no answer
    assert time.monotonic() - started < 3
    local = xs.local_session(root, timeout=5, session_class=LocalSession)   # slave_local_login, no password
    try:
        with pytest.raises(XapiTimeout):
            local.xenapi.VM.get_all(timeout=1.0)   # forwarded to a master that does not answer
    finally:
        local.logout()


def test_a_hung_host_holds_its_socket_and_a_powered_off_one_drops_it(pool):
    root = pool.host("host2")["root"]
    pool.fault("hang-xapi", "host2")
    try:
        with pytest.raises(XapiTimeout):
            xs.local_session(root, timeout=1.0)
    finally:
        pool.fault("unhang-xapi", "host2")
    with xs.local_session(root, timeout=5) as session:
        assert session.xenapi.pool.get_all()
    pool.fault("power-off", "host2")
    with pytest.raises(XapiUnreachable):
        xs.local_session(root, timeout=2.0)


def test_password_logins_over_plain_http_are_recorded_without_the_password(pool):
    assert pool.status()["clear_password_logins"] == []
    with xs.local_session(pool.host("host2")["root"], timeout=5):
        pass
    assert pool.status()["clear_password_logins"] == []   # the socket is not the wire
    session = pool.xenapi_session("host1")
    session.xenapi.session.logout()
    with pytest.raises(XenAPI.Failure):
        pool.xenapi_session("host2")   # HOST_IS_SLAVE, but the password was sent all the same
    logins = pool.status()["clear_password_logins"]
    assert [(e["host"], e["method"], e["originator"]) for e in logins] == [
        ("host1", "session.login_with_password", "ha-lizard-tests"),
        ("host2", "session.login_with_password", "ha-lizard-tests")]
    assert pool.password not in repr(logins)


def test_the_socket_is_removed_when_the_pool_stops(inproc_pool):
    import os

    handle = inproc_pool(hosts=1, vms=0)
    path = xs.local_socket_path(handle.host("host1")["root"])
    assert os.path.exists(path)
    handle.close()
    assert not os.path.exists(path)
    with pytest.raises(XapiUnreachable):
        xs.local_session(handle.host("host1")["root"], timeout=1.0)


def test_failures_through_the_socket_are_typed(pool):
    with xs.local_session(pool.host("host2")["root"], timeout=5) as session:
        with pytest.raises(XapiFailure) as info:
            session.xenapi.VM.get_by_uuid("00000000-0000-0000-0000-000000000000")
    assert info.value.code == "UUID_INVALID"


def test_a_masters_answer_to_the_empty_probe_waits_for_xapis_pause(pool):
    """Real xapi pauses 5 s before SESSION_AUTHENTICATION_FAILED (modelled here with 1 s): the probe
    proves a master alive only when its deadline outlasts the pause; a slave answers at once."""
    from halizard.probes.deadline import after
    from halizard.probes.xapi_alive import MASTER, SLAVE, TIMEOUT, xapi_alive

    pool.pool.spec.auth_failure_delay = 1.0
    started = time.monotonic()
    assert xapi_alive(pool.host("host2")["address"], after(3)).state == SLAVE
    assert time.monotonic() - started < 0.9
    started = time.monotonic()
    assert xapi_alive(pool.host("host1")["address"], after(3)).state == MASTER
    assert time.monotonic() - started >= 1.0
    assert xapi_alive(pool.host("host1")["address"], after(0.5)).state == TIMEOUT
    with xs.local_session(pool.host("host2")["root"], timeout=0.9):
        pass   # the socket asks for no password, so it never pauses


def test_json_rpc_works_through_the_socket_too(pool):
    """The socket shares the TCP endpoint's handler: xapi's JSON-RPC at /jsonrpc, as XenCenter-style
    clients on a dom0 would use it, with the same no-password login and slave forwarding."""
    import json

    from halizard.xapi.transport import UnixHTTPConnection

    def rpc(method, params):
        conn = UnixHTTPConnection(xs.local_socket_path(pool.host("host3")["root"]), timeout=5)
        try:
            body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 1})
            conn.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
            return json.loads(conn.getresponse().read().decode())
        finally:
            conn.close()

    session = rpc("session.login_with_password", ["root", "", "2.0", "json-test"])["result"]
    assert session.startswith("OpaqueRef:")
    assert len(rpc("host.get_all", [session])["result"]) == 3   # host3 is a slave: forwarded
    assert pool.status()["clear_password_logins"] == []
