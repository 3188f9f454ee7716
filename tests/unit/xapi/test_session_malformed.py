"""A peer that answers 200 with something other than a XAPI XML-RPC response gives a typed
XapiFailure("MALFORMED_RESPONSE"), never a raw xmlrpc/expat/TypeError; the session stays usable."""
import pytest
from xapi_loopback import reply, success

from halizard.xapi import session as xs
from halizard.xapi.errors import XapiFailure

JUNK = {
    "plain text": (b"hello, this is not XML", "text/plain"),
    "html page": (b"<html><body>proxy login</body></html>", "text/html"),
    "empty body": (b"", "text/xml"),
    "cut xml": (success("x")[:40], "text/xml"),
    "bad int": (b"<?xml version='1.0'?><methodResponse><params><param><value><int>abc</int></value>"
                b"</param></params></methodResponse>", "text/xml"),
    "not a struct": (b"<?xml version='1.0'?><methodResponse><params><param><value><int>7</int></value>"
                     b"</param></params></methodResponse>", "text/xml"),
    "no status": (b"<?xml version='1.0'?><methodResponse><params><param><value><struct><member>"
                  b"<name>Value</name><value>x</value></member></struct></value></param></params>"
                  b"</methodResponse>", "text/xml"),
    "empty error": (b"<?xml version='1.0'?><methodResponse><params><param><value><struct><member>"
                    b"<name>Status</name><value>Failure</value></member><member><name>ErrorDescription"
                    b"</name><value><array><data></data></array></value></member></struct></value>"
                    b"</param></params></methodResponse>", "text/xml"),
}


def junk_for(method_name, kind):
    body, content_type = JUNK[kind]

    def answer(handler, method, _number):
        if method == method_name:
            reply(handler, body, content_type=content_type)
        elif method == "session.login_with_password":
            reply(handler, success("OpaqueRef:session-1"))
        else:
            reply(handler, success(["OpaqueRef:pool-1"]))
    return answer


@pytest.mark.parametrize("kind", sorted(JUNK))
def test_junk_answer_to_a_call_is_typed_and_the_session_recovers(scripted_server, kind):
    server = scripted_server(junk_for("VM.get_all", kind))
    session = xs.open_session(server.url, "root", "pw", timeout=5)
    with pytest.raises(XapiFailure) as info:
        session.xenapi.VM.get_all()
    assert info.value.code == "MALFORMED_RESPONSE"
    assert info.value.params[0] == "VM.get_all"
    assert session.xenapi.pool.get_all() == ["OpaqueRef:pool-1"]
    assert server.count("VM.get_all") == 1


@pytest.mark.parametrize("kind", ["html page", "not a struct", "no status"])
def test_junk_answer_to_login_is_typed(scripted_server, kind):
    server = scripted_server(junk_for("session.login_with_password", kind))
    with pytest.raises(XapiFailure) as info:
        xs.open_session(server.url, "root", "Secret-pw-77", timeout=5)
    assert info.value.code == "MALFORMED_RESPONSE"
    assert "Secret-pw-77" not in str(info.value)


def test_http_error_status_is_typed(scripted_server):
    def answer(handler, method, _number):
        reply(handler, b"<html>bad gateway</html>", status=502, content_type="text/html")
    server = scripted_server(answer)
    with pytest.raises(XapiFailure) as info:
        xs.open_session(server.url, "root", "pw", timeout=5)
    assert info.value.code == "HTTP_ERROR" and info.value.params[0] == "502"
