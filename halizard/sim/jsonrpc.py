"""JSON-RPC at `POST /jsonrpc`, as xapi serves it (XenServer 7.3 and later).

Why: XenCenter, Xen Orchestra and the newer SDKs speak JSON-RPC first; the
simulator answers them like xapi (sources in INTERFACE.md, "The wire"):
- requests: 2.0 (`"jsonrpc": "2.0"`) or 1.0 (no such member); `params` an
  array (2.0: also absent/null, or an object passed as one parameter); `id` a
  string or an integer, never null or absent (xapi refuses notifications).
  Anything else is HTTP 500, like xapi's `Jsonrpc.Malformed_method_request`.
- answers: the bare value in `result` (no Status struct); 1.0 errors are the
  ErrorDescription list, 2.0 errors `{"code": 1, "message": CODE, "data": [params]}`.
- typing: what XML-RPC carries as strings travels as JSON values: `int` as a
  number, `float` as a number (Yojson's `%.16g`, `.0` added to whole numbers),
  `datetime` as its string. The API description's result type says which.
- bytes: Yojson's compact output (no spaces; control characters and DEL as
  `\\u00xx`, other text as raw UTF-8).
"""
import datetime
import json
import xmlrpc.client

from halizard.sim.xmlwire import MalformedRequest

ERROR_CODE = 1  # xapi's error_code_lit: the only code it sends
_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\b"): "\\b", ord("\f"): "\\f", ord("\n"): "\\n",
            ord("\r"): "\\r", ord("\t"): "\\t"}
_ESCAPES.update({code: "\\u%04x" % code for code in list(range(0x20)) + [0x7F] if code not in _ESCAPES})


class JsonCall(object):
    """One decoded request: protocol version ("1.0"/"2.0"), id, method, params."""

    def __init__(self, version, call_id, method, params):
        self.version = version
        self.id = call_id
        self.method = method
        self.params = params


def _malformed(text):
    return MalformedRequest('Jsonrpc.Malformed_method_request("%s")' % text)


def decode_call(body):
    """A JsonCall from the request body; MalformedRequest (HTTP 500) for anything xapi refuses."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedRequest('Yojson.Json_error("%s")' % exc) from None
    if not isinstance(doc, dict):
        raise _malformed("Invalid request body")
    if "method" not in doc:
        raise _malformed("Required field method is missing")
    if not isinstance(doc["method"], str):
        raise _malformed("Invalid field 'method' in request body")
    if "jsonrpc" not in doc:
        version = "1.0"
    elif doc["jsonrpc"] == "2.0":
        version = "2.0"
    else:
        raise _malformed("Invalid field 'jsonrpc' in request body")
    params = doc.get("params")
    if version == "1.0" and "params" not in doc:
        raise _malformed("Required field params is missing")
    if version == "2.0" and params is None:
        params = []
    elif version == "2.0" and isinstance(params, dict):
        params = [params]
    elif not isinstance(params, list):
        raise _malformed("Invalid field 'params' in request body")
    call_id = doc.get("id")
    if isinstance(call_id, bool) or not isinstance(call_id, (int, str)):
        raise _malformed("Invalid field 'id' in request body")
    return JsonCall(version, call_id, doc["method"], params)


def result_type(handlers, method):
    """The description type of `method`'s answer (None: unknown, sent untyped)."""
    if method == "system.listMethods":
        return "string set"
    if method.startswith("Async."):
        return "task ref"
    handler = handlers.get(method)
    return getattr(handler, "result", None)


def encode_answer(call, answer, rtype, desc):
    """The JSON-RPC response text for pool.handle's Status struct `answer`."""
    if answer.get("Status") == "Success":
        body = [("result", typed(answer.get("Value", ""), rtype, desc))]
        if call.version == "1.0":
            body.append(("error", None))
    else:
        description = list(answer.get("ErrorDescription") or [])
        if call.version == "1.0":
            body = [("result", None), ("error", description)]
        elif call.method == "system.listMethods":
            body = [("error", description)]
        elif description and isinstance(description[0], str):
            body = [("error", {"code": ERROR_CODE, "message": description[0], "data": description[1:]})]
        else:
            body = [("error", {"code": ERROR_CODE, "message": "", "data": description})]
    if call.version == "2.0":
        body.insert(0, ("jsonrpc", "2.0"))
    body.append(("id", call.id))
    return dumps(dict(body))


# ----------------------------------------------------------------- typing
def plain(value):
    """A Python wire value as JSON values (dates to their text), without type knowledge."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, xmlrpc.client.DateTime):
        return value.value
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y%m%dT%H:%M:%SZ")
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        return int(value)
    return value


def _split_map(ftype):
    """("K", "V") of "(K -> V) map"."""
    inner = ftype[1:-len(") map")]
    depth = 0
    for index, char in enumerate(inner):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and inner.startswith(" -> ", index):
            return inner[:index], inner[index + 4:]
    return None, None


def _class_named(desc, name):
    for cls in desc.class_names():
        if cls.lower() == str(name).lower():
            return cls
    return None


def _record(value, cls, desc):
    try:
        fields = desc.fields(cls)
    except KeyError:
        fields = {}
    return {str(key): typed(item, fields[key][0], desc) if key in fields else plain(item)
            for key, item in value.items()}


def _event(event, desc):
    cls = _class_named(desc, event.get("class", ""))
    return {key: _record(item, cls, desc) if key == "snapshot" and cls and isinstance(item, dict) else plain(item)
            for key, item in event.items()}


def typed(value, ftype, desc):
    """A stored wire value as xapi's JSON-RPC carries a value of description type `ftype`."""
    if ftype == "int" and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    if not ftype:
        return plain(value)
    if ftype.endswith(" set") and isinstance(value, (list, tuple)):
        return [typed(item, ftype[:-len(" set")], desc) for item in value]
    if ftype.endswith(" map") and ftype.startswith("(") and isinstance(value, dict):
        _key_type, value_type = _split_map(ftype)
        return {str(key): typed(item, value_type, desc) for key, item in value.items()}
    if ftype.endswith(" record") and isinstance(value, dict):
        return _record(value, ftype[:-len(" record")], desc)
    if ftype == "an event batch" and isinstance(value, dict):
        return {key: [_event(e, desc) for e in item] if key == "events" else plain(item)
                for key, item in value.items()}
    return plain(value)


# ------------------------------------------------------------------ bytes
def _float(number):
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "Infinity" if number > 0 else "-Infinity"
    text = "%.16g" % number
    if float(text) != number:
        text = "%.17g" % number
    if all(char in "0123456789-" for char in text):
        text += ".0"
    return text


def _add(out, value):
    if isinstance(value, str):
        out.append('"%s"' % value.translate(_ESCAPES))
    elif value is True or value is False:
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append("%d" % value)
    elif isinstance(value, float):
        out.append(_float(value))
    elif value is None:
        out.append("null")
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            out.append(',"%s":' % str(key).translate(_ESCAPES) if index else '"%s":' % str(key).translate(_ESCAPES))
            _add(out, item)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _add(out, item)
        out.append("]")
    else:
        converted = plain(value)
        if converted is value:
            raise TypeError("cannot send %s as JSON" % type(value).__name__)
        _add(out, converted)


def dumps(value):
    """Compact JSON text written as Yojson writes it."""
    out = []
    _add(out, value)
    return "".join(out)
