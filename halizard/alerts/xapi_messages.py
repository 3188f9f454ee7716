"""Alerts as XAPI messages named `HA-Lizard - <function>`, so XenCenter and Xen Orchestra show them.

Why: admins who never read mail still see the pool's message list. These
helpers go through a connected `halizard.xapi.session.XapiSession` (every
call has its deadline there) and speak the wire as XAPI does: 64-bit ints
(the priority) travel as strings, timestamps as XML-RPC datetimes.

The message is attached to this host (class Host, its INSTALLATION_UUID)
when the host's inventory is readable, else to the pool.
"""

import datetime

from halizard.alerts.settings import one_line
from halizard.hostinfo import local_host_uuid as read_uuid
from halizard.xapi.errors import XapiFailure

PREFIX = "HA-Lizard - "
BODY_LIMIT = 4000
CALL_TIMEOUT = 5.0


def local_host_uuid(root):
    """This host's INSTALLATION_UUID, or None (then messages go to the pool)."""
    try:

        return read_uuid(root)
    except Exception:
        return None


def message_name(function):
    return PREFIX + one_line(function, 64)


def _pool_uuid(session, timeout):
    pools = session.call("pool.get_all", timeout=timeout)
    if not pools:
        raise LookupError("the pool has no pool object")
    return session.call("pool.get_uuid", pools[0], timeout=timeout)


def create(session, function, text, priority, host_uuid=None, timeout=CALL_TIMEOUT):
    """Create one alert message; returns its reference. Raises the session layer's XapiError."""
    if host_uuid:
        cls, obj_uuid = "Host", host_uuid
    else:
        cls, obj_uuid = "Pool", _pool_uuid(session, timeout)
    body = str(text)[:BODY_LIMIT]
    return session.call("message.create", message_name(function), str(int(priority)), cls, obj_uuid, body,
                        timeout=timeout)


def _when(value):
    """XML-RPC datetime (or its string form) -> ISO 8601 UTC text."""
    text = getattr(value, "value", value)
    text = "" if text is None else str(text)
    for pattern in ("%Y%m%dT%H:%M:%SZ", "%Y%m%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.datetime.strptime(text, pattern).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            continue
    return text


def _priority(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def list_alerts(session, timeout=CALL_TIMEOUT * 2):
    """HA-Lizard messages, oldest first: dicts with ref, uuid, function, name, priority, class,
    obj_uuid, timestamp (ISO UTC) and body."""
    records = session.call("message.get_all_records", timeout=timeout) or {}
    alerts = []
    for ref, record in records.items():
        name = str(record.get("name", ""))
        if not name.startswith(PREFIX):
            continue
        alerts.append({
            "ref": ref, "uuid": record.get("uuid", ""), "name": name, "function": name[len(PREFIX):],
            "priority": _priority(record.get("priority")), "class": record.get("cls", ""),
            "obj_uuid": record.get("obj_uuid", ""), "timestamp": _when(record.get("timestamp")),
            "body": str(record.get("body", "")),
        })
    alerts.sort(key=lambda alert: (alert["timestamp"], alert["uuid"]))
    return alerts


def clear_alerts(session, timeout=CALL_TIMEOUT):
    """Destroy every HA-Lizard message; returns how many were removed. Other messages stay."""

    removed = 0
    for alert in list_alerts(session):
        try:
            session.call("message.destroy", alert["ref"], timeout=timeout)
        except XapiFailure as exc:
            if exc.code != "HANDLE_INVALID":  # already gone (another admin cleared it): fine
                raise
            continue
        removed += 1
    return removed
