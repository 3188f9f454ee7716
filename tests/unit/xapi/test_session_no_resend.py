"""One call = one request on the wire, and the deadline bounds the whole call.

Why: xmlrpc.client re-sends a request on a fresh connection when the first one
breaks. After a deadline cut that doubled the caller's wait (6 s for a 3 s
deadline), and a re-sent message.create or VM.start may run twice.
"""
import time

import pytest
from xapi_loopback import reply, success

from halizard.xapi import session as xs
from halizard.xapi.errors import XapiTimeout, XapiUnreachable
from waiting import stays, wait_until


def login_then(other):
    def answer(handler, method, number):
        if method == "session.login_with_password":
            reply(handler, success("OpaqueRef:session-1"))
        else:
            other(handler, method, number)
    return answer


def test_a_hung_call_ends_at_its_deadline_and_is_sent_once(scripted_server):
    holder = {}

    def hang(handler, method, _number):
        holder["server"].release.wait(8)   # never answers within the test's deadline

    server = holder["server"] = scripted_server(login_then(hang))
    session = xs.open_session(server.url, "root", "pw", timeout=5)
    started = time.monotonic()
    with pytest.raises(XapiTimeout):
        session.xenapi.message.create("HA-Lizard - x", "3", "Pool", "uuid", "body", timeout=2)
    took = time.monotonic() - started
    assert took < 3.0, "a 2 s call took %.1f s" % took
    # a re-send would arrive right after the cut; give it the chance to show
    stays(lambda: server.count("message.create") == 1, 1.0, message="one message.create")


def test_a_connection_dropped_without_answer_is_not_resent(scripted_server):
    def drop(handler, _method, _number):
        handler.close_connection = True   # read the request, close without a word

    server = scripted_server(login_then(drop))
    session = xs.open_session(server.url, "root", "pw", timeout=5)
    with pytest.raises(XapiUnreachable):
        session.xenapi.VM.start("OpaqueRef:vm", False, False)
    stays(lambda: server.count("VM.start") == 1, 0.5, message="one VM.start")


def test_a_fresh_connection_dropped_at_login_is_not_resent(scripted_server):
    def drop(handler, _method, _number):
        handler.close_connection = True

    server = scripted_server(drop)
    with pytest.raises(XapiUnreachable):
        xs.open_session(server.url, "root", "pw", timeout=5)
    assert server.count("session.login_with_password") == 1


def test_a_keepalive_connection_closed_while_idle_is_replaced_before_sending(scripted_server):
    def answer_then_close(handler, method, _number):
        # answer as if keeping the connection, then close it (an idle timeout, as XAPI has)
        reply(handler, success("OpaqueRef:session-1" if method.startswith("session.") else ["OpaqueRef:h"]))
        handler.close_connection = True

    server = scripted_server(answer_then_close)
    session = xs.open_session(server.url, "root", "pw", timeout=5)
    assert wait_until(lambda: server.closed_connections() >= 1)
    assert session.xenapi.host.get_all() == ["OpaqueRef:h"]
    assert wait_until(lambda: server.closed_connections() >= 2)
    assert session.xenapi.host.get_all() == ["OpaqueRef:h"]
    assert server.count("host.get_all") == 2


def test_url_for_keeps_host_and_port_and_brackets_ipv6():
    assert xs.url_for("127.0.0.1:8080") == "http://127.0.0.1:8080/"
    assert xs.url_for("localhost:443") == "http://localhost:443/"
    assert xs.url_for("127.0.0.1") == "http://127.0.0.1/"
    assert xs.url_for("::1") == "http://[::1]/"
    assert xs.url_for("[::1]:8080") == "http://[::1]:8080/"
    assert xs.url_for("https://127.0.0.1:8443") == "https://127.0.0.1:8443/"
