"""Sessions and wire-level errors, through the real XenAPI client.

Covers: master login, HOST_IS_SLAVE [master address] on a slave, wrong
password, slave-local logins, logout, SESSION_INVALID, unknown methods,
parameter count mismatches, HANDLE_INVALID, UUID_INVALID, malformed XML.
"""
import http.client
import urllib.parse

import pytest
import XenAPI


def failure(answer):
    assert answer["Status"] == "Failure", answer
    return answer["ErrorDescription"]


@pytest.fixture
def pool(inproc_pool):
    return inproc_pool(hosts=3, vms=3)


def test_master_login_and_logout(pool):
    session = pool.xenapi_session("host1")
    ref = session.handle
    assert ref.startswith("OpaqueRef:")
    assert session.xenapi.session.get_this_host(ref) == session.xenapi.pool.get_master(session.xenapi.pool.get_all()[0])
    session.xenapi.session.logout()
    raw = pool.xenapi_session("host1", login=False)
    assert failure(getattr(raw, "VM.get_all")(ref)) == ["SESSION_INVALID", ref]


def test_slave_answers_host_is_slave_with_master_address(pool):
    raw = pool.xenapi_session("host2", login=False)
    with pytest.raises(XenAPI.Failure) as caught:
        raw.login_with_password("root", pool.password, "2.0", "test")
    assert caught.value.details == ["HOST_IS_SLAVE", pool.host("host1")["address"]]


def test_wrong_password_is_refused_without_echoing_it(pool):
    raw = pool.xenapi_session("host1", login=False)
    with pytest.raises(XenAPI.Failure) as caught:
        raw.login_with_password("root", "not-the-password", "2.0", "test")
    assert caught.value.details[0] == "SESSION_AUTHENTICATION_FAILED"
    assert "not-the-password" not in str(caught.value.details)
    with pytest.raises(XenAPI.Failure) as caught:
        raw.login_with_password("admin", pool.password, "2.0", "test")
    assert caught.value.details[0] == "SESSION_AUTHENTICATION_FAILED"
    assert pool.password not in str(caught.value.details)


def test_slave_local_login_works_on_any_host_and_only_there(pool):
    for name in ("host1", "host2"):
        raw = pool.xenapi_session(name, login=False)
        raw.slave_local_login_with_password("root", pool.password)
        assert raw.handle.startswith("OpaqueRef:")
        raw.xenapi.session.local_logout()
    raw = pool.xenapi_session("host2", login=False)
    raw.slave_local_login_with_password("root", pool.password)
    local = raw.handle
    other = pool.xenapi_session("host3", login=False)
    assert failure(getattr(other, "session.local_logout")(local)) == ["SESSION_INVALID", local]
    with pytest.raises(XenAPI.Failure) as caught:
        pool.xenapi_session("host3", login=False).slave_local_login_with_password("root", "wrong")
    assert caught.value.details[0] == "SESSION_AUTHENTICATION_FAILED"


def test_slave_local_session_reads_through_the_master(pool):
    raw = pool.xenapi_session("host2", login=False)
    raw.slave_local_login_with_password("root", pool.password)
    assert len(raw.xenapi.host.get_all()) == 3


def test_unknown_method_and_parameter_count(pool):
    session = pool.xenapi_session()
    assert failure(getattr(session, "VM.fly_to_the_moon")(session.handle)) == [
        "MESSAGE_METHOD_UNKNOWN", "VM.fly_to_the_moon"]
    assert failure(getattr(session, "Async.VM.get_all")(session.handle)) == [
        "MESSAGE_METHOD_UNKNOWN", "Async.VM.get_all"]
    assert failure(getattr(session, "VM.start")(session.handle, "OpaqueRef:x")) == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "4", "2"]
    assert failure(getattr(session, "session.login_with_password")("root")) == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH", "session.login_with_password", "4", "1"]


def test_bad_refs_and_uuids(pool):
    session = pool.xenapi_session()
    x = session.xenapi
    with pytest.raises(XenAPI.Failure) as caught:
        x.VM.get_record("OpaqueRef:00000000-dead-beef-0000-000000000000")
    assert caught.value.details == ["HANDLE_INVALID", "VM", "OpaqueRef:00000000-dead-beef-0000-000000000000"]
    host = x.host.get_all()[0]
    with pytest.raises(XenAPI.Failure) as caught:
        x.VM.start_on(x.VM.get_by_name_label("vm001")[0], "OpaqueRef:NULL", False, False)
    assert caught.value.details == ["HANDLE_INVALID", "host", "OpaqueRef:NULL"]
    with pytest.raises(XenAPI.Failure) as caught:
        x.VM.hard_shutdown(host)  # a host ref where a VM ref belongs
    assert caught.value.details == ["HANDLE_INVALID", "VM", host]
    with pytest.raises(XenAPI.Failure) as caught:
        x.VM.get_by_uuid("no-such-uuid")
    assert caught.value.details == ["UUID_INVALID", "VM", "no-such-uuid"]


def test_malformed_xml_is_http_500(pool):
    url = urllib.parse.urlparse(pool.host("host1")["xapi_url"])
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
    try:
        conn.request("POST", "/", body=b"<methodCall><methodName>VM.get_all", headers={"Content-Type": "text/xml"})
        assert conn.getresponse().status == 500
    finally:
        conn.close()


def test_ints_travel_as_strings(pool):
    x = pool.xenapi_session().xenapi
    vm = x.VM.get_by_name_label("vm001")[0]
    assert isinstance(x.VM.get_memory_static_max(vm), str)
    assert int(x.VM.get_memory_static_max(vm)) > 0
    assert isinstance(x.host.compute_free_memory(x.host.get_all()[0]), str)


def test_wrongly_typed_parameters_are_refused_cleanly(pool):
    session = pool.xenapi_session()
    x = session.xenapi
    pool_ref = x.pool.get_all()[0]
    assert failure(getattr(session, "VM.get_all")({"not": "a session"}))[0] == "SESSION_INVALID"
    assert failure(getattr(session, "pool.add_to_other_config")(session.handle, pool_ref, ["k"], "v")) == [
        "FIELD_TYPE_ERROR", "other_config"]
    assert failure(getattr(session, "VM.get_record")(session.handle, ["x"]))[0] == "HANDLE_INVALID"


def test_sessions_beyond_the_per_originator_limit_are_destroyed_oldest_first(pool):
    from halizard.sim.api import session as session_api

    first = pool.xenapi_session()
    x = first.xenapi
    raw = pool.xenapi_session(login=False)
    login = getattr(raw, "session.login_with_password")
    for _ in range(session_api.SESSIONS_PER_ORIGINATOR):
        assert login("root", pool.password, "2.0", "ha-lizard-tests")["Status"] == "Success"
    count = len([r for r in pool.pool.dbs[pool.host("host1")["uuid"]].tables["session"].values()
                 if r["originator"] == "ha-lizard-tests"])
    assert count == session_api.SESSIONS_PER_ORIGINATOR
    assert failure(getattr(raw, "VM.get_all")(first.handle)) == ["SESSION_INVALID", first.handle]
    assert x.VM.get_all()  # the XenAPI client logs in again by itself
