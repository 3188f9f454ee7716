"""An empty login proves xapi alive when answered HOST_IS_SLAVE (a slave) or SESSION_AUTHENTICATION_FAILED
(a master), or accepted; nothing secret is sent."""
import time

from halizard.probes.deadline import after
from halizard.probes.xapi_alive import GARBAGE, MASTER, REFUSED, SLAVE, TIMEOUT, UNREACHABLE, xapi_alive


def test_slave_answer_is_alive_and_names_master(fake_xapi):
    server = fake_xapi("slave")
    result = xapi_alive(server.url, after(5))
    assert result.alive and result.state == SLAVE and result.master_address == "127.0.0.1"


def test_accepted_login_is_alive_and_logs_out(fake_xapi):
    server = fake_xapi("master")
    result = xapi_alive(server.url, after(5))
    assert result.alive and result.state == MASTER
    assert server.calls == ["session.login_with_password", "session.logout"]


def test_a_master_refusing_the_empty_login_is_alive_as_master(fake_xapi):
    server = fake_xapi("refuse")
    result = xapi_alive(server.url, after(5))
    assert result.alive and result.state == MASTER and "SESSION_AUTHENTICATION_FAILED" in result.detail
    assert server.calls == ["session.login_with_password"]


def test_the_probe_sends_no_password(fake_xapi):
    server = fake_xapi("slave")
    xapi_alive(server.url, after(5))
    assert [tuple(p[:2]) for p in server.params] == [("root", "")]


def test_other_failure_is_not_proof(fake_xapi):
    result = xapi_alive(fake_xapi("booting").url, after(5))
    assert not result.alive and result.state == REFUSED and "HOST_STILL_BOOTING" in result.detail


def test_garbage_page_is_not_proof(fake_xapi):
    result = xapi_alive(fake_xapi("garbage").url, after(5))
    assert not result.alive and result.state in (REFUSED, GARBAGE)


def test_hung_xapi_times_out_by_the_deadline(fake_xapi):
    server = fake_xapi("hang")
    started = time.monotonic()
    result = xapi_alive(server.url, after(0.6))
    assert not result.alive and result.state == TIMEOUT
    assert time.monotonic() - started < 3


def test_closed_port_is_unreachable(closed_port):
    result = xapi_alive("http://127.0.0.1:%d/" % closed_port, after(2))
    assert not result.alive and result.state == UNREACHABLE


def test_expired_deadline_does_not_call(fake_xapi):
    server = fake_xapi("slave")
    result = xapi_alive(server.url, time.monotonic() - 1)
    assert not result.alive and server.calls == []
