"""The simulator's bytes against xapi's, sample by sample (tests/sim/wire_samples/).

Each sample is a request sent as raw HTTP and the exact answer xapi writes,
written by hand from xapi's marshallers (wire_samples/README.md names the
sources). What differs on every run (refs, the session, the token, the master
address) is a placeholder, put back in the request and taken out of the answer.
"""
import json
import os
import re
import socket

import pytest
from waiting import wait_until
from xml.sax.saxutils import escape

from halizard.sim import jsonrpc, xmlwire

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wire_samples")
REF = re.compile(r"OpaqueRef:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def load(name):
    """[{key: value}] of one samples file: blocks split by blank lines, '#' lines are notes."""
    with open(os.path.join(SAMPLES, name), encoding="utf-8") as handle:
        text = handle.read()
    blocks = []
    for chunk in text.split("\n\n"):
        lines = [line for line in chunk.splitlines() if line and not line.startswith("#")]
        if lines:
            blocks.append(dict(line.split(": ", 1) for line in lines))
    assert blocks, "no samples in %s" % name
    return blocks


def exchange(address, path, body, version="1.1", connection="close"):
    """POST body as raw HTTP; returns (head as text, body as bytes) of the answer."""
    head = ["POST %s HTTP/%s" % (path, version), "Host: %s" % address, "Content-Length: %d" % len(body),
            "Content-Type: %s" % ("application/json" if path.startswith("/jsonrpc") else "text/xml")]
    if connection != "none":
        head.append("Connection: %s" % connection)
    raw = socket.create_connection((address, 80), timeout=10.0)
    try:
        raw.sendall(("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = raw.recv(65536)
            assert chunk, "connection closed before the headers"
            data += chunk
        top, rest = data.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"content-length: (\d+)", top).group(1))
        while len(rest) < length:
            chunk = raw.recv(65536)
            assert chunk, "connection closed before the body"
            rest += chunk
        if connection == "close" or version == "1.0":
            assert raw.recv(1) == b"", "the server must close the connection it said it closes"
        return top.decode("latin-1") + "\r\n\r\n", rest
    finally:
        raw.close()


class Run(object):
    """One pool and the values the placeholders stand for."""

    def __init__(self, pool):
        self.pool = pool
        self.session = pool.xenapi_session()
        x = self.session.xenapi
        self.values = {"@SESSION@": self.session.handle, "@VM@": x.VM.get_by_name_label("vm001")[0],
                       "@POOL@": x.pool.get_all()[0], "@MASTER@": pool.host("host1")["address"]}

    def token(self):
        return getattr(self.session.xenapi.event, "from")(["*"], "", 0.0)["token"]

    def request(self, sample):
        text = sample["request"]
        if "@TOKEN@" in text:
            self.values["@TOKEN@"] = self.token()
        quote = (lambda v: json.dumps(v)[1:-1]) if sample["path"].startswith("/jsonrpc") else escape
        text = text.replace("@PASSWORD@", quote(self.pool.password))
        for key, value in self.values.items():
            text = text.replace(key, value)
        return text.encode("utf-8")

    def normalised(self, body):
        text = body.decode("utf-8")
        for key, value in self.values.items():
            text = text.replace(value, key)
        return REF.sub("@REF@", text)


@pytest.mark.parametrize("name", ["xmlrpc.samples", "jsonrpc.samples", "http.samples"])
def test_answers_are_xapis_bytes(inproc_pool, name):
    pool = inproc_pool(hosts=2, vms=2)
    run = Run(pool)
    for sample in load(name):
        address = pool.host("host1" if sample["host"] == "master" else "host2")["address"]
        head, body = exchange(address, sample["path"], run.request(sample),
                              sample.get("version", "1.1"), sample.get("connection", "close"))
        text = run.normalised(body)
        if "response-starts" in sample:
            assert text.startswith(sample["response-starts"]), sample["name"]
        else:
            assert text == sample["response"], sample["name"]
        if "head" in sample:
            expected = sample["head"].replace("\\r\\n", "\r\n").replace("@LENGTH@", str(len(body)))
            assert head == expected, sample["name"]


def test_kept_alive_connection_serves_several_requests(inproc_pool):
    """xapi keeps HTTP/1.1 connections open; one socket carries XML-RPC then JSON-RPC."""
    pool = inproc_pool(hosts=2, vms=2)
    run = Run(pool)
    address = pool.host("host1")["address"]
    raw = socket.create_connection((address, 80), timeout=10.0)
    reader = raw.makefile("rb")
    try:
        xml = ('<?xml version="1.0"?><methodCall><methodName>pool.get_all</methodName><params>'
               '<param><value>%s</value></param></params></methodCall>' % run.session.handle)
        jsn = json.dumps({"jsonrpc": "2.0", "method": "pool.get_all", "params": [run.session.handle], "id": 7})
        for path, body in (("/", xml), ("/jsonrpc", jsn), ("/", xml)):
            data = body.encode("utf-8")
            raw.sendall(("POST %s HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (path, len(data))).encode("ascii") + data)
            status = reader.readline()
            assert status == b"HTTP/1.1 200 OK\r\n"
            headers = {}
            for line in iter(reader.readline, b"\r\n"):
                key, value = line.decode("latin-1").rstrip("\r\n").split(": ", 1)
                headers[key] = value
            assert headers["connection"] == "keep-alive"
            answer = reader.read(int(headers["content-length"]))
            assert run.values["@POOL@"].encode("ascii") in answer
    finally:
        reader.close()
        raw.close()


def test_xml_text_drops_control_characters_as_xapi_does():
    assert xmlwire.text('a\x01b\tc\nd\re<>&"\'') == "ab\tc\nd\re&lt;&gt;&amp;&quot;'"
    assert xmlwire.value([1, xmlwire.Int32(2), True, None, 1.5]) == (
        "<value><array><data><value>1</value><value><i4>2</i4></value><value><boolean>1</boolean></value>"
        "<value><nil/></value><value><double>1.5</double></value></data></array></value>")


def test_json_floats_and_strings_are_yojsons():
    assert [jsonrpc.dumps(v) for v in (1.0, 0.1, 1e20, 1e-7, -0.0, 2.5e-300)] == [
        "1.0", "0.1", "1e+20", "1e-07", "-0.0", "2.5e-300"]
    assert jsonrpc.dumps("\x00\x1f\x7f\u2028é\"\\") == '"\\u0000\\u001f\\u007f\u2028é\\"\\\\"'
    assert jsonrpc.dumps({"a": [1, None, True]}) == '{"a":[1,null,true]}'


@pytest.mark.parametrize("body", [
    b"[]", b'{"params": [], "id": 1}', b'{"method": 3, "params": [], "id": 1}',
    b'{"jsonrpc": "1.0", "method": "x", "params": [], "id": 1}', b'{"method": "x", "id": 1}',
    b'{"jsonrpc": "2.0", "method": "x", "params": 3, "id": 1}', b'{"method": "x", "params": [], "id": null}',
    b'{"method": "x", "params": [], "id": 1.5}', b'{"method": "x", "params": [], "id": true}', b"{", b"\xff"])
def test_json_requests_xapi_refuses(body):
    with pytest.raises(xmlwire.MalformedRequest):
        jsonrpc.decode_call(body)


def test_json_20_params_may_be_absent_or_an_object():
    assert jsonrpc.decode_call(b'{"jsonrpc": "2.0", "method": "m", "id": 1}').params == []
    assert jsonrpc.decode_call(b'{"jsonrpc": "2.0", "method": "m", "params": null, "id": "i"}').params == []
    assert jsonrpc.decode_call(b'{"jsonrpc": "2.0", "method": "m", "params": {"a": 1}, "id": 1}').params == [{"a": 1}]


def test_underscore_names_are_served_but_not_listed(inproc_pool):
    """xapi's dispatcher matches `<class>_<message>` beside `<class>.<message>`, also after `Async.`."""
    pool = inproc_pool(hosts=2, vms=2)
    session = pool.xenapi_session()
    x = session.xenapi
    vm = x.VM.get_by_name_label("vm001")[0]
    assert x.VM_get_power_state(vm) == "Running"
    assert set(getattr(x.event, "from")(["pool"], "", 0.0)) == set(x.event_from(["pool"], "", 0.0))
    x.VM_hard_shutdown(vm)
    task = x.Async.VM_start(vm, False, False)
    assert task.startswith("OpaqueRef:")
    assert wait_until(lambda: x.task.get_status(task) != "pending")
    assert x.task.get_status(task) == "success" and x.task.get_result(task) == "<value></value>"
    assert x.VM.get_power_state(vm) == "Running"
    names = session.system.listMethods()
    assert "event.from" in names and "event_from" not in names and "Async.VM.start" in names
    assert all("." in name[len("Async."):] if name.startswith("Async.") else "." in name for name in names)


def test_our_own_transport_reads_every_xml_sample_as_xapi_writes_it():
    """halizard.xapi.transport's strict check accepts xapi's compact answers, typed as XenAPI expects."""
    import io

    from halizard.xapi.transport import DeadlineTransport

    transport = DeadlineTransport(timeout=1.0)
    transport.verbose = False  # set by xmlrpc.client when a request is made
    fake = {"@REF@": "OpaqueRef:00000000-0000-0000-0000-000000000001", "@SESSION@": "OpaqueRef:s",
            "@VM@": "OpaqueRef:v", "@POOL@": "OpaqueRef:p", "@MASTER@": "127.0.0.1", "@TOKEN@": "1,0"}
    answers = {}
    for sample in load("xmlrpc.samples"):
        text = sample["response"]
        for key, value in fake.items():
            text = text.replace(key, value)
        answers[sample["name"]] = transport.parse_response(io.BytesIO(text.encode("utf-8")))[0]
    assert answers["a 64-bit int is a bare value"]["Value"] == "1073741824"
    assert answers["a double is printed with %.16g"]["Value"] == 0.3
    assert answers["login on a slave names the master"]["ErrorDescription"] == ["HOST_IS_SLAVE", "127.0.0.1"]
    assert answers["a map escapes only > < & \""]["Value"] == {"wire": "a<b&c\"d>'e"}
    batch = answers["event_from is event.from; counts of every table are Int32"]["Value"]
    assert batch["events"] == [] and batch["valid_ref_counts"]["vm"] == 6 and batch["token"] == "1,0"
