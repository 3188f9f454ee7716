"""Generic XAPI object store driven by the API description.

Why: XAPI exposes ~100 fields per class and generic get/set/add_to/... calls
on all of them; writing them by hand would drift from the real API. Records
hold wire values (64-bit ints as strings, refs `OpaqueRef:<uuid>`), so
answering `get_all_records` is a cheap copy. Every change is numbered for
`event.from`.
"""
import collections
import copy
import uuid as uuidlib
import xmlrpc.client

from halizard.sim.api.errors import XapiError, handle_invalid

NULL_REF = "OpaqueRef:NULL"
KEPT_DELETIONS = 5000  # deletions event.from still reports; older ones are forgotten, as XAPI does
EPOCH = "19700101T00:00:00Z"


def new_ref():
    return "OpaqueRef:%s" % uuidlib.uuid4()


def new_uuid():
    return str(uuidlib.uuid4())


def now_datetime(timestamp):
    """An XML-RPC dateTime for a unix time, as XAPI sends them (UTC)."""
    import time as _time

    return xmlrpc.client.DateTime(_time.strftime("%Y%m%dT%H:%M:%SZ", _time.gmtime(timestamp)))


def default_for(ftype, desc):
    """The value a field of this description type holds when nobody set it."""
    if ftype.endswith(" set"):
        return []
    if ftype.endswith(" map") or ftype.endswith(" record"):
        return {}
    if ftype.endswith(" ref"):
        return NULL_REF
    if ftype == "int":
        return "0"
    if ftype == "float":
        return 0.0
    if ftype == "bool":
        return False
    if ftype == "datetime":
        return xmlrpc.client.DateTime(EPOCH)
    if ftype.startswith("enum "):
        values = desc.enum_values(ftype[len("enum "):])
        return values[0] if values else ""
    return ""


def copy_record(record):
    """A copy safe to hand out: containers copied one level deep."""
    out = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out[key] = dict(value)
        elif isinstance(value, list):
            out[key] = list(value)
        else:
            out[key] = value
    return out


def _type_error(field):
    return XapiError("FIELD_TYPE_ERROR", field)


def _int_value(value, field):
    if isinstance(value, bool):
        raise _type_error(field)
    try:
        return str(int(value))
    except (TypeError, ValueError):
        raise _type_error(field) from None


def _float_value(value, field):
    if isinstance(value, bool):
        raise _type_error(field)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _type_error(field) from None


def _bool_value(value, field):
    if not isinstance(value, bool):
        raise _type_error(field)
    return value


def _set_value(value, field):
    if not isinstance(value, (list, tuple)):
        raise _type_error(field)
    return list(value)


def _map_value(value, field):
    if not isinstance(value, dict):
        raise _type_error(field)
    return {str(k): v for k, v in value.items()}


def _string_value(value, field):
    if not isinstance(value, str):
        raise _type_error(field)
    return value


# field type -> coercion; then by suffix (" set", " map"); anything else is a string (refs, enums too)
_BY_TYPE = {"int": _int_value, "float": _float_value, "bool": _bool_value, "datetime": lambda v, _f: v}
_BY_SUFFIX = ((" set", _set_value), (" map", _map_value))


def wire_value(ftype, value, field):
    """Coerce a value a client sent for a field to its stored wire form."""
    coerce = _BY_TYPE.get(ftype)
    if coerce is None:
        coerce = next((c for suffix, c in _BY_SUFFIX if ftype.endswith(suffix)), _string_value)
    return coerce(value, field)


class Database(object):
    """What one XAPI master believes: tables of records plus a change log."""

    def __init__(self, desc):
        self.desc = desc
        self.tables = {cls: {} for cls in desc.class_names()}
        self.uuids = {cls: {} for cls in desc.class_names()}
        self.event_id = 0
        # (cls, ref) -> [last event id, creation event id, snapshot at deletion or None], oldest change first:
        # event.from reads from the end back to its token, so a call costs what changed, not the pool's size
        self.changes = collections.OrderedDict()
        self.deleted = collections.deque()  # (cls, ref) in deletion order, to forget old ones
        self.kept_deletions = KEPT_DELETIONS
        self.forgotten = 0  # the newest event id of a forgotten deletion: older tokens get EVENTS_LOST

    # --- basic access ---------------------------------------------------
    def exists(self, cls, ref):
        return ref in self.tables.get(cls, {})

    def get(self, cls, ref):
        """The live record (do not hand out: use `record`)."""
        try:
            return self.tables[cls][ref]
        except KeyError:
            raise handle_invalid(cls, ref) from None

    def record(self, cls, ref):
        return copy_record(self.get(cls, ref))

    def refs(self, cls):
        return list(self.tables[cls])

    def items(self, cls):
        return self.tables[cls].items()

    def by_uuid(self, cls, uuid):
        return self.uuids[cls].get(uuid)

    def field(self, cls, ref, name):
        return self.get(cls, ref)[name]

    # --- changes --------------------------------------------------------
    def _touch(self, cls, ref, operation):
        self.event_id += 1
        key = (cls, ref)
        entry = self.changes.get(key)
        if entry is None or operation == "add":
            entry = self.changes[key] = [self.event_id, self.event_id, None]
        entry[0] = self.event_id
        self.changes.move_to_end(key)
        if operation == "del":
            entry[2] = {}

    def create(self, cls, fields, ref=None):
        """Insert a record with defaults for every field not given; returns its ref."""
        ref = ref or new_ref()
        record = {}
        for name, (ftype, _qualifier) in self.desc.fields(cls).items():
            record[name] = default_for(ftype, self.desc)
        unknown = [name for name in fields if name not in record]
        if unknown:
            raise KeyError("%s has no fields %s in the API description" % (cls, ", ".join(unknown)))
        record.update(fields)
        if not record.get("uuid"):
            record["uuid"] = new_uuid()
        self.tables[cls][ref] = record
        self.uuids[cls][record["uuid"]] = ref
        self._touch(cls, ref, "add")
        return ref

    def set(self, cls, ref, **fields):
        record = self.get(cls, ref)
        unknown = [name for name in fields if name not in record]
        if unknown:
            raise KeyError("%s has no fields %s in the API description" % (cls, ", ".join(unknown)))
        record.update(fields)
        self._touch(cls, ref, "mod")

    def touch(self, cls, ref):
        """Record a change made in place (e.g. a map updated directly)."""
        self.get(cls, ref)
        self._touch(cls, ref, "mod")

    def destroy(self, cls, ref):
        record = self.get(cls, ref)
        del self.tables[cls][ref]
        self.uuids[cls].pop(record.get("uuid"), None)
        self._touch(cls, ref, "del")
        self.changes[(cls, ref)][2] = copy_record(record)
        self.deleted.append((cls, ref))
        while len(self.deleted) > self.kept_deletions:
            old = self.deleted.popleft()
            entry = self.changes.get(old)
            if entry is not None and entry[2] is not None:
                self.forgotten = max(self.forgotten, entry[0])
                del self.changes[old]

    def snapshot(self):
        """An independent copy (the local database a promoted slave starts from)."""
        twin = Database(self.desc)
        twin.tables = copy.deepcopy(self.tables)
        twin.uuids = copy.deepcopy(self.uuids)
        twin.event_id = self.event_id
        twin.changes = copy.deepcopy(self.changes)
        twin.deleted = collections.deque(self.deleted)
        twin.kept_deletions = self.kept_deletions
        twin.forgotten = self.forgotten
        return twin

    # --- events -------------------------------------------------------
    def changes_since(self, event_id, classes):
        """[(id, cls, operation, ref, snapshot)] changed after event_id, oldest first.

        The operation is relative to event_id, as XAPI's event.from reports it:
        "add" for objects created since, "del" for deleted ones, else "mod".
        """
        out = []
        for (cls, ref), (last, created, gone) in reversed(self.changes.items()):
            if last <= event_id:
                break  # every older entry changed before the token too
            if classes is not None and cls.lower() not in classes:
                continue
            if gone is not None:
                out.append((last, cls, "del", ref, gone))
            else:
                operation = "add" if created > event_id else "mod"
                out.append((last, cls, operation, ref, copy_record(self.tables[cls][ref])))
        out.reverse()
        return out
