"""XML-RPC text exactly as xapi writes it (ocaml-rpc's Xmlrpc marshaller, non-strict).

Why: strict XML-RPC parsers in real clients read xapi's compact form; the
simulator must send the same bytes, not Python's pretty-printed dialect.
xapi's rules (sources in INTERFACE.md, "The wire"): no whitespace between
elements; a string is a bare `<value>text</value>`; a 64-bit int is a bare
`<value>123</value>` too (so clients read it as a string); Int32 is `<i4>`;
a bool `<boolean>1</boolean>`; a double `%.16g`; a date
`<dateTime.iso8601>20250319T04:16:24Z</dateTime.iso8601>`; text escapes
only `> < & "` and drops control characters other than tab, LF and CR.
"""
import base64
import datetime
import xmlrpc.client

HEADER = '<?xml version="1.0"?>'
_OPEN = HEADER + "<methodResponse><params><param>"
_CLOSE = "</param></params></methodResponse>"

_ESCAPES = {ord(">"): "&gt;", ord("<"): "&lt;", ord("&"): "&amp;", ord('"'): "&quot;"}
_ESCAPES.update({code: None for code in range(0x20) if chr(code) not in "\t\n\r"})


class MalformedRequest(ValueError):
    """A request xapi cannot decode: answered with HTTP 500 and this text."""


def decode_call(body):
    """(method, params) of an XML-RPC methodCall; MalformedRequest if it is not one."""
    try:
        params, method = xmlrpc.client.loads(body, use_builtin_types=False)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the client's malformed XML
        raise MalformedRequest("Xmlrpc.Parse_error(%s)" % exc) from None
    if not method:
        raise MalformedRequest("Xmlrpc.Parse_error(no methodName)")
    return method, list(params)


class Int32(int):
    """An int xapi marshals as Rpc.Int32 (`<i4>`): event.from's valid_ref_counts."""


def text(value):
    """A string escaped as xapi's marshaller escapes it."""
    return value.translate(_ESCAPES)


def _struct(out, value):
    out.append("<value><struct>")
    for name, item in value.items():
        out.append("<member><name>%s</name>" % text(str(name)))
        _add(out, item)
        out.append("</member>")
    out.append("</struct></value>")


def _array(out, value):
    out.append("<value><array><data>")
    for item in value:
        _add(out, item)
    out.append("</data></array></value>")


def _base64(out, value):
    raw = value.data if isinstance(value, xmlrpc.client.Binary) else value
    out.append("<value><base64>%s</base64></value>" % base64.b64encode(raw).decode("ascii"))


# Python type -> how xapi marshals it; a subclass uses its nearest listed class (bool before int)
_MARSHAL = {
    str: lambda out, v: out.append("<value>%s</value>" % v.translate(_ESCAPES)),
    bool: lambda out, v: out.append("<value><boolean>%d</boolean></value>" % v),
    Int32: lambda out, v: out.append("<value><i4>%d</i4></value>" % v),
    int: lambda out, v: out.append("<value>%d</value>" % v),
    float: lambda out, v: out.append("<value><double>%.16g</double></value>" % v),
    dict: _struct,
    list: _array,
    tuple: _array,
    type(None): lambda out, _v: out.append("<value><nil/></value>"),
    xmlrpc.client.DateTime: lambda out, v: out.append(
        "<value><dateTime.iso8601>%s</dateTime.iso8601></value>" % v.value),
    datetime.datetime: lambda out, v: out.append(
        "<value><dateTime.iso8601>%s</dateTime.iso8601></value>" % v.strftime("%Y%m%dT%H:%M:%SZ")),
    bytes: _base64,
    xmlrpc.client.Binary: _base64,
}


def _add(out, value):
    for klass in type(value).__mro__:
        marshal = _MARSHAL.get(klass)
        if marshal is not None:
            marshal(out, value)
            return
    raise TypeError("cannot marshal %s" % type(value).__name__)


def value(item):
    """One `<value>...</value>` (what xapi stores as a task's result)."""
    out = []
    _add(out, item)
    return "".join(out)


def response(answer):
    """The whole methodResponse document for one answer (a Status struct, or a bare value)."""
    out = [_OPEN]
    _add(out, answer)
    out.append(_CLOSE)
    return "".join(out)
