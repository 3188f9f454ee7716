"""event.from / event.inject / event.get_current_id.

Why: an HA manager watches the pool with event.from instead of polling; the
call blocks (without the pool lock) until something of the requested classes
changes or the timeout passes, and returns {events, valid_ref_counts, token}.
An empty token returns every current object, as the real XAPI does. The batch
has xapi's shape (ocaml/xapi/xapi_event.ml, xapi-types/event_types.ml): a
"timestamp" of "0.0", no snapshot on a "del", Int32 counts of every table
(in xapi's order: names descending) and "%020d,%020d" tokens. A token older
than the newest deletion the database forgot (KEPT_DELETIONS) gets EVENTS_LOST.
"""
import time

from halizard.sim.api.errors import XapiError
from halizard.sim.db import copy_record
from halizard.sim.xmlwire import Int32

POLL = 0.5
TIMESTAMP = "0.0"  # what xapi's event.from puts in every event
NOT_TABLES = ("event", "message")  # classes xapi keeps outside its database: not in valid_ref_counts


def _token(event_id):
    return "%020d,%020d" % (event_id, 0)


def _parse_token(token):
    if token in ("", None):
        return None
    try:
        return int(str(token).split(",")[0])
    except ValueError:
        raise XapiError("EVENT_FROM_TOKEN_PARSE_FAILURE", token) from None


def _wanted(db, classes):
    """(lowercase class names or None for all, {lowercase: class}) for a classes list."""
    lower = {cls.lower(): cls for cls in db.tables}
    if not isinstance(classes, (list, tuple)):
        raise XapiError("FIELD_TYPE_ERROR", "classes")
    names = set()
    for entry in classes:
        name = str(entry).split("/")[0].lower()
        if name == "*":
            return None, lower
        if name in lower:
            names.add(name)
    return names, lower


def _event(eid, cls, operation, ref, snapshot):
    event = {"id": str(eid), "timestamp": TIMESTAMP, "class": cls.lower(), "operation": operation, "ref": ref}
    if snapshot is not None and operation != "del":
        event["snapshot"] = snapshot
    return event


def _collect(db, since, names, lower):
    if since is None:
        events = []
        for low, cls in lower.items():
            if names is not None and low not in names:
                continue
            for ref, rec in db.items(cls):
                events.append(_event(db.event_id, cls, "add", ref, copy_record(rec)))
    else:
        events = [_event(*item) for item in db.changes_since(since, names)]
    counts = {cls.lower(): Int32(len(db.tables[cls])) for cls in sorted(db.tables, reverse=True)
              if cls not in NOT_TABLES}
    return events, counts


def event_from(call, classes, token, timeout):
    pool = call.pool
    since = _parse_token(token)
    try:
        wait = max(0.0, float(timeout))
    except (TypeError, ValueError):
        raise XapiError("FIELD_TYPE_ERROR", "timeout") from None
    deadline = time.monotonic() + wait
    while True:
        with pool._lock:
            pool._tick()
            db = call.db
            if since is not None and since < db.forgotten:  # deletions since the token are forgotten
                raise XapiError("EVENTS_LOST")
            names, lower = _wanted(db, classes)
            events, counts = _collect(db, since, names, lower)
            current = db.event_id
        remaining = deadline - time.monotonic()
        if events or remaining <= 0:
            return {"events": events, "valid_ref_counts": counts, "token": _token(current)}
        pool.wait_for_change(min(remaining, POLL))


def inject(call, cls, ref):
    db = call.db
    lower = {name.lower(): name for name in db.tables}
    target = lower.get(str(cls).lower())
    if target is None or not db.exists(target, ref):
        raise XapiError("HANDLE_INVALID", cls, ref)
    db.touch(target, ref)
    return _token(db.event_id - 1)  # xapi: the generation before the touch, so event.from sees it


def get_current_id(call):
    return str(call.db.event_id)


def register(reg):
    # also served as "event_from" (every call has xapi's <class>_<message> name: registry.Handlers)
    reg.explicit("event", "from", event_from, blocking=True)
    reg.explicit("event", "inject", inject)
    reg.explicit("event", "get_current_id", get_current_id)
