"""The generic calls XAPI generates for every class, driven by the description.

Why: get_record, get_all, get_all_records(_where), get_by_uuid,
get_by_name_label, get_<field>, set_<field>, add_to_/remove_from_<map>,
add_/remove_<set>, create and destroy behave the same for every class; one
implementation serves exactly the ones the description lists.
"""
from halizard.sim.api.errors import XapiError
from halizard.sim.api.where import compile_where
from halizard.sim.db import NULL_REF, copy_record, wire_value

# field setters with their own semantics elsewhere (they keep other records consistent)
SPECIAL_SETTERS = {("VM", "set_appliance"), ("VM", "set_memory_static_max"), ("VM", "set_memory_static_min"),
                   ("VM", "set_memory_dynamic_max"), ("VM", "set_memory_dynamic_min")}
# creating/destroying these by the generic path would break invariants the simulator relies on
NO_GENERIC_LIFECYCLE = {"host", "pool", "session", "task", "event", "message", "VM_metrics", "host_metrics",
                        "PIF_metrics"}
WHERE_PARAMS = [["session ref", "session_id"], ["string", "expr"]]


def _getter(cls, field):
    def get_field(call, self_ref):
        value = call.db.field(cls, self_ref, field)
        if isinstance(value, dict):
            return dict(value)
        if isinstance(value, list):
            return list(value)
        return value
    return get_field


def _setter(cls, field, ftype):
    def set_field(call, self_ref, value):
        stored = wire_value(ftype, value, field)
        if ftype.endswith(" ref") and stored != NULL_REF:
            target = ftype[:-len(" ref")]
            if target in call.db.tables and not call.db.exists(target, stored):
                raise XapiError("HANDLE_INVALID", target, stored)
        call.db.set(cls, self_ref, **{field: stored})
        return ""
    return set_field


def _map_add(cls, field):
    def add_to(call, self_ref, key, value):
        if not isinstance(key, str):
            raise XapiError("FIELD_TYPE_ERROR", field)
        record = call.db.get(cls, self_ref)
        if key in record[field]:
            raise XapiError("MAP_DUPLICATE_KEY", cls, field, self_ref, key)
        record[field][str(key)] = value
        call.db.touch(cls, self_ref)
        return ""
    return add_to


def _map_remove(cls, field):
    def remove_from(call, self_ref, key):
        if not isinstance(key, str):
            raise XapiError("FIELD_TYPE_ERROR", field)
        record = call.db.get(cls, self_ref)
        if key in record[field]:
            del record[field][key]
            call.db.touch(cls, self_ref)
        return ""
    return remove_from


def _set_add(cls, field):
    def add(call, self_ref, value):
        if isinstance(value, (dict, list)):
            raise XapiError("FIELD_TYPE_ERROR", field)
        record = call.db.get(cls, self_ref)
        if value not in record[field]:
            record[field].append(value)
            call.db.touch(cls, self_ref)
        return ""
    return add


def _set_remove(cls, field):
    def remove(call, self_ref, value):
        if isinstance(value, (dict, list)):
            raise XapiError("FIELD_TYPE_ERROR", field)
        record = call.db.get(cls, self_ref)
        if value in record[field]:
            record[field].remove(value)
            call.db.touch(cls, self_ref)
        return ""
    return remove


def _get_record(cls):
    return lambda call, self_ref: call.db.record(cls, self_ref)


def _get_all(cls):
    return lambda call: call.db.refs(cls)


def _get_all_records(cls):
    return lambda call: {ref: copy_record(rec) for ref, rec in call.db.items(cls)}


def _get_all_records_where(cls):
    def where(call, expr):
        predicate = compile_where(expr)
        return {ref: copy_record(rec) for ref, rec in call.db.items(cls) if predicate(rec)}
    return where


def _get_by_uuid(cls):
    def by_uuid(call, uuid):
        ref = call.db.by_uuid(cls, uuid)
        if ref is None:
            raise XapiError("UUID_INVALID", cls, uuid)
        return ref
    return by_uuid


def _get_by_name_label(cls):
    return lambda call, label: [ref for ref, rec in call.db.items(cls) if rec.get("name_label") == label]


def _create(cls, desc):
    fields = desc.fields(cls)

    def create(call, record):
        if not isinstance(record, dict):
            raise XapiError("FIELD_TYPE_ERROR", "args")
        given = {}
        for name, value in record.items():
            if name not in fields or name == "uuid":
                continue
            ftype, qualifier = fields[name]
            if qualifier in ("RW", "RO/constructor"):
                given[name] = wire_value(ftype, value, name)
        return call.db.create(cls, given)
    return create


def _destroy(cls):
    def destroy(call, self_ref):
        call.db.destroy(cls, self_ref)
        return ""
    return destroy


def _field_message(cls, name, fields):
    """(kind, field) for a field-shaped message name, or None."""
    for prefix, kind in (("get_", "get"), ("set_", "set"), ("add_to_", "map_add"),
                         ("remove_from_", "map_remove"), ("add_", "set_add"), ("remove_", "set_remove")):
        if name.startswith(prefix) and name[len(prefix):] in fields:
            return kind, name[len(prefix):]
    return None


# message name -> its handler builder (cls), for every class
_BY_NAME = {"get_record": _get_record, "get_all": _get_all, "get_all_records": _get_all_records,
            "get_by_uuid": _get_by_uuid, "get_by_name_label": _get_by_name_label}
# (field message kind, parameter count) -> its handler builder (cls, field, the class's fields)
_FIELD_CALLS = {
    ("get", 2): lambda cls, field, _fields: _getter(cls, field),
    ("set", 3): lambda cls, field, fields: _setter(cls, field, fields[field][0]),
    ("map_add", 4): lambda cls, field, _fields: _map_add(cls, field),
    ("map_remove", 3): lambda cls, field, _fields: _map_remove(cls, field),
    ("set_add", 3): lambda cls, field, _fields: _set_add(cls, field),
    ("set_remove", 3): lambda cls, field, _fields: _set_remove(cls, field),
}


def _implicit_fn(desc, cls, name, message, fields):
    """The generic handler of cls.name, or None when the simulator has none (or a special one)."""
    if name in _BY_NAME:
        return _BY_NAME[name](cls)
    if name in ("create", "destroy") and message["implicit"]:
        if cls in NO_GENERIC_LIFECYCLE:
            return None
        return _create(cls, desc) if name == "create" else _destroy(cls)
    shape = _field_message(cls, name, fields)
    if shape is None or (cls, name) in SPECIAL_SETTERS:
        return None
    kind, field = shape
    arity = len(message["params"])
    if not message["implicit"] and not (kind == "set" and arity == 3):
        return None
    build = _FIELD_CALLS.get((kind, arity))
    return build(cls, field, fields) if build is not None else None


def register(reg):
    desc = reg.desc
    for cls in desc.class_names():
        fields = desc.fields(cls)
        for name, message in desc.messages(cls).items():
            fn = _implicit_fn(desc, cls, name, message, fields)
            if fn is not None:
                reg.explicit(cls, name, fn)
        if cls not in ("session", "event") and desc.message(cls, "get_all_records_where") is None:
            reg.hidden(cls, "get_all_records_where", WHERE_PARAMS, _get_all_records_where(cls),
                       result="(%s ref -> %s record) map" % (cls, cls))
