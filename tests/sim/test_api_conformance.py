"""Every method the simulator serves, checked against the full XAPI description.

Walks `system.listMethods` of a running simulated pool through the real
XenAPI client and compares each name, parameter count (learned from the
simulator's own MESSAGE_PARAMETER_COUNT_MISMATCH answer) and, for getters,
the wire type of a sample answer with ../shared/xapi/xenapi.json. Any
difference fails; a missing description file fails too (never skips).

Served on purpose although the description does not list them (the real
xapi serves them as hidden messages): system.listMethods and
<class>.get_all_records_where. Like xapi, system.listMethods answers a bare
array without the Status struct, so it is called on the XML-RPC proxy itself
(`session.system.listMethods()`), not through `session.xenapi`.
"""
import json
import os
import re
import xmlrpc.client

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FULL_DESCRIPTION = os.path.join(REPO_ROOT, "..", "shared", "xapi", "xenapi.json")
HIDDEN = re.compile(r"^[A-Za-z_]+\.get_all_records_where$")


def load_full():
    assert os.path.exists(FULL_DESCRIPTION), "full API description missing: %s" % FULL_DESCRIPTION
    with open(FULL_DESCRIPTION, encoding="utf-8") as handle:
        classes = json.load(handle)
    messages, fields, enums = {}, {}, {}
    for cls in classes:
        for message in cls["messages"]:
            if message["lifecycle"]["state"] != "Removed_s":
                messages["%s.%s" % (cls["name"], message["name"])] = message
        fields[cls["name"]] = {f["name"]: f["type"] for f in cls["fields"]
                               if f["lifecycle"]["state"] != "Removed_s"}
        for enum in cls.get("enums", []):
            enums[enum["name"]] = {v["name"] for v in enum["values"]}
    return messages, fields, enums


def wire_type_ok(ftype, value, enums):
    """Whether `value` is how XAPI sends a value of description type `ftype`."""
    if ftype.endswith(" set"):
        return isinstance(value, list) and all(wire_type_ok(ftype[:-4], v, enums) for v in value)
    if ftype.endswith(" map"):
        return isinstance(value, dict)
    if ftype.endswith(" record"):
        return isinstance(value, dict)
    if ftype.endswith(" ref"):
        return isinstance(value, str) and value.startswith("OpaqueRef:")
    if ftype == "int":
        return isinstance(value, str) and re.match(r"^-?\d+$", value) is not None
    if ftype == "float":
        return isinstance(value, float)
    if ftype == "bool":
        return isinstance(value, bool)
    if ftype == "datetime":
        return isinstance(value, xmlrpc.client.DateTime)
    if ftype.startswith("enum "):
        return isinstance(value, str) and value in enums[ftype[5:]]
    return isinstance(value, str)


@pytest.fixture
def served(inproc_pool):
    pool = inproc_pool(hosts=2, vms=4)
    session = pool.xenapi_session()
    yield pool, session
    session.xenapi.session.logout()


def test_full_description_is_where_ci_expects_it():
    messages, _fields, _enums = load_full()
    assert "VM.start" in messages and "session.login_with_password" in messages


def test_every_served_method_exists_with_its_parameter_count(served):
    _pool, session = served
    messages, _fields, _enums = load_full()
    names = session.system.listMethods()
    assert len(names) > 500
    problems = []
    for name in names:
        if name == "system.listMethods":
            continue
        base = name[len("Async."):] if name.startswith("Async.") else name
        if base not in messages and not HIDDEN.match(base):
            problems.append("%s: not in the description" % name)
            continue
        answer = getattr(session, name)()  # no parameters at all: the server states what it expects
        if answer.get("Status") != "Failure" or answer["ErrorDescription"][0] != "MESSAGE_PARAMETER_COUNT_MISMATCH":
            problems.append("%s: zero-parameter call answered %r" % (name, answer))
            continue
        code, wire_name, expected, received = answer["ErrorDescription"]
        described = 2 if HIDDEN.match(base) else len(messages[base]["params"])
        if wire_name != name or int(expected) != described or received != "0":
            problems.append("%s: count %s, description %d" % (name, expected, described))
    assert problems == []


def test_async_calls_shadow_served_explicit_calls(served):
    _pool, session = served
    messages, _fields, _enums = load_full()
    names = set(session.system.listMethods())
    asyncs = [n for n in names if n.startswith("Async.")]
    assert "Async.VM.start" in asyncs and "Async.VM_appliance.start" in asyncs
    for name in asyncs:
        assert name[len("Async."):] in names
        assert not messages[name[len("Async."):]]["implicit"], name


def test_every_implicit_message_of_served_classes_is_served(served):
    _pool, session = served
    messages, _fields, _enums = load_full()
    names = set(session.system.listMethods())
    served_classes = {n.split(".")[0] for n in names if not n.startswith(("Async.", "system."))}
    lifecycle_exempt = {"host", "pool", "session", "task", "event", "message", "VM_metrics", "host_metrics",
                        "PIF_metrics"}
    missing = []
    for name, message in messages.items():
        cls, short = name.split(".", 1)
        if cls not in served_classes or not message["implicit"]:
            continue
        if short in ("create", "destroy") and cls in lifecycle_exempt:
            continue
        if name not in names:
            missing.append(name)
    assert missing == []


def test_getters_answer_with_the_described_wire_types(served):
    _pool, session = served
    messages, fields, enums = load_full()
    names = set(session.system.listMethods())
    x = session.xenapi
    samples = {"VM": x.VM.get_all()[0], "host": x.host.get_all()[0], "pool": x.pool.get_all()[0],
               "SR": x.SR.get_all()[0], "VDI": x.VDI.get_all()[0], "VBD": x.VBD.get_all()[0],
               "PBD": x.PBD.get_all()[0], "PIF": x.PIF.get_all()[0], "PIF_metrics": x.PIF_metrics.get_all()[0],
               "host_metrics": x.host_metrics.get_all()[0], "VM_metrics": x.VM_metrics.get_all()[0],
               "network": x.network.get_all()[0], "VM_appliance": x.VM_appliance.get_all()[0]}
    problems = []
    checked = 0
    for cls, ref in samples.items():
        record = getattr(x, cls).get_record(ref)
        if set(record) != set(fields[cls]):
            problems.append("%s record fields differ: %s" % (cls, sorted(set(record) ^ set(fields[cls]))))
        for field, ftype in fields[cls].items():
            getter = "%s.get_%s" % (cls, field)
            if getter not in names or messages[getter]["params"][1]["type"] != "%s ref" % cls:
                continue
            value = getattr(getattr(x, cls), "get_" + field)(ref)
            checked += 1
            if not wire_type_ok(ftype, value, enums):
                problems.append("%s returned %r for type %s" % (getter, value, ftype))
            if value != record[field]:
                problems.append("%s disagrees with get_record" % getter)
        assert isinstance(getattr(x, cls).get_all_records(), dict)
        assert getattr(x, cls).get_by_uuid(record["uuid"]) == ref
    assert checked > 300
    assert problems == []


def test_packaged_description_is_what_the_generator_makes(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "apidesc.json"
    result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "scripts", "gen-sim-apidesc"),
                             FULL_DESCRIPTION, str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    packaged = os.path.join(REPO_ROOT, "halizard", "sim", "data", "apidesc.json")
    with open(packaged, encoding="utf-8") as handle:
        assert json.load(handle) == json.loads(out.read_text(encoding="utf-8"))
    assert os.path.getsize(packaged) < 1024 * 1024
