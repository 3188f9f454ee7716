"""message.*: the XAPI alerts an HA manager raises and clears.

Why: every HA alert also becomes a XAPI message (`HA-Lizard - <function>`);
create checks the object it is about exists, as the real XAPI does.
"""
import time

from halizard.sim.api.errors import XapiError
from halizard.sim.api.where import compile_where
from halizard.sim.db import copy_record, now_datetime, wire_value

CLASS_OF = {"VM": "VM", "Host": "host", "SR": "SR", "Pool": "pool", "VDI": "VDI"}


def create(call, name, priority, cls, obj_uuid, body):
    db = call.db
    if cls not in db.desc.enum_values("cls"):
        raise XapiError("INVALID_VALUE", "cls", cls)
    table = CLASS_OF.get(cls)
    if table is not None and db.by_uuid(table, obj_uuid) is None:
        raise XapiError("UUID_INVALID", cls, obj_uuid)
    for label, value in (("name", name), ("obj_uuid", obj_uuid), ("body", body)):
        if not isinstance(value, str):
            raise XapiError("FIELD_TYPE_ERROR", label)
    return db.create("message", {"name": name, "priority": wire_value("int", priority, "priority"), "cls": cls,
                                 "obj_uuid": obj_uuid, "body": body, "timestamp": now_datetime(time.time())})


def destroy(call, self_ref):
    call.db.destroy("message", self_ref)
    return ""


def destroy_many(call, messages):
    for ref in messages:
        if not call.db.exists("message", ref):
            raise XapiError("HANDLE_INVALID", "message", ref)
    for ref in messages:
        call.db.destroy("message", ref)
    return ""


def _stamp(value):
    return str(getattr(value, "value", value)).rstrip("Z").replace("-", "")


def get_since(call, since):
    edge = _stamp(since)
    return {ref: copy_record(rec) for ref, rec in call.db.items("message") if _stamp(rec["timestamp"]) > edge}


def get(call, cls, obj_uuid, since):
    edge = _stamp(since)
    return {ref: copy_record(rec) for ref, rec in call.db.items("message")
            if rec["cls"] == cls and rec["obj_uuid"] == obj_uuid and _stamp(rec["timestamp"]) > edge}


def get_all_records_where(call, expr):
    predicate = compile_where(expr)
    return {ref: copy_record(rec) for ref, rec in call.db.items("message") if predicate(rec)}


def register(reg):
    reg.explicit("message", "create", create)
    reg.explicit("message", "destroy", destroy)
    reg.explicit("message", "destroy_many", destroy_many)
    reg.explicit("message", "get_since", get_since)
    reg.explicit("message", "get", get)
    reg.explicit("message", "get_all_records_where", get_all_records_where)
