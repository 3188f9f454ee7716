"""`ha-cfg timeline`: the story of the last incident (or of a window) from every host's journal.

Why: the decisions of one incident are made on several hosts (the master
fences and restarts, a slave takes over, an isolated host fences itself).
Each host publishes its journal's tail in its own host record (journal.
publish), so one read of the host records through the local xapi socket
gives every host's story, even of a host that is dead now. A host whose
record is not live or marked failed, or holds no readable journal, is named in `unreachable`
with why: its latest decisions may be missing, never silently.

The last incident: the latest fault (journal.FAULT_KINDS) and every fault
before it with less than INCIDENT_GAP seconds between two of them; the story
runs from the first of those faults on, times relative to it.
"""
import datetime
import json
import re
import time

from halizard.ops import journal

INCIDENT_GAP = 900.0
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class BadTime(ValueError):
    """A --since value that is neither a duration (30m) nor a date/time."""


def parse_since(text, now=None):
    """Epoch seconds for `10m`/`2h`/`1d` ago, `HH:MM[:SS]` today (UTC), or an ISO 8601 date/time (UTC if no zone)."""
    now = time.time() if now is None else now
    value = (text or "").strip()
    match = _RELATIVE.match(value)
    if match:
        return now - float(match.group(1)) * _UNITS[match.group(2)]
    for fmt in ("%H:%M:%S", "%H:%M"):
        try:
            clock = datetime.datetime.strptime(value, fmt).time()
        except ValueError:
            continue
        today = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).date()
        return datetime.datetime.combine(today, clock, tzinfo=datetime.timezone.utc).timestamp()
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            stamp = datetime.datetime.strptime(value.replace("Z", "+0000"), fmt)
        except ValueError:
            continue
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=datetime.timezone.utc)
        return stamp.timestamp()
    raise BadTime("--since %r is not a duration (30s, 10m, 2h, 1d), a time (HH:MM) or a date (YYYY-MM-DD[THH:MM:SS])"
                  % text)


def collect(session, local_entries=(), local_uuid=None, health_key=None):
    """(entries of every host, [{host, why}] for hosts whose story may be incomplete), from the host records.

    `local_entries`: this host's own journal (fresher than what it published), for host `local_uuid`;
    `health_key`: the host field the master writes (`failed`: it judged the host dead).
    """
    x = session.xenapi
    hosts = x.host.get_all_records()
    metrics = x.host_metrics.get_all_records()
    entries, unreachable = [], []
    local_name = "this host"
    for _ref, rec in sorted(hosts.items(), key=lambda item: item[1].get("name_label", "")):
        name = rec.get("name_label") or rec.get("uuid", "?")
        if rec.get("uuid") == local_uuid:
            local_name = name
        live = bool((metrics.get(rec.get("metrics")) or {}).get("live"))
        raw = (rec.get("other_config") or {}).get(journal.PUBLISH_KEY)
        try:
            published = json.loads(raw) if raw else []
            if not isinstance(published, list):
                raise ValueError("not a list")
        except ValueError:
            published = []
            unreachable.append({"host": name, "why": "its published journal does not parse"})
        failed = health_key and (rec.get("other_config") or {}).get(health_key) == "failed"
        if not live or failed:
            unreachable.append({"host": name, "why": "%s: only what it published before is shown"
                                % ("marked failed by the master" if failed else "not live")})
        entries.extend(dict(e, by=name) for e in published if isinstance(e, dict))
    entries.extend(dict(e, by=local_name) for e in local_entries)
    return _unique(entries), unreachable


def _unique(entries):
    seen, out = set(), []
    for e in entries:
        key = (e.get("by"), e.get("kind"), e.get("subject"), e.get("at"))
        if key not in seen:
            seen.add(key)
            out.append(e)
    return sorted(out, key=lambda e: (float(e.get("at") or 0), e.get("by", "")))


def last_incident_start(entries):
    """When the last incident's first fault happened, or None without any fault."""
    faults = [float(e["at"]) for e in entries if e.get("kind") in journal.FAULT_KINDS and e.get("at")]
    if not faults:
        return None
    faults.sort()
    start = faults[-1]
    for at in reversed(faults[:-1]):
        if start - at > INCIDENT_GAP:
            break
        start = at
    return start


def story(entries, since=None):
    """{since, first_fault_at, events: [... with t = seconds after the first fault]} for the window."""
    begin = since if since is not None else last_incident_start(entries)
    chosen = [e for e in entries if begin is not None and float(e.get("at") or 0) >= begin]
    faults = [float(e["at"]) for e in chosen if e.get("kind") in journal.FAULT_KINDS]
    origin = min(faults) if faults else begin
    events = [dict(e, t=round(float(e["at"]) - origin, 3)) for e in chosen]
    return {"since": begin, "first_fault_at": origin if faults else None, "events": events}


def lines(report):
    """The text form: one line per event, like the demo's timeline."""
    out = []
    if not report["events"]:
        out.append("no incident journaled" if report["since"] is None else "nothing journaled in this window")
    for e in report["events"]:
        detail = e.get("why", "")
        if e.get("kind") == "fenced":
            detail = "%s, %s: %s" % (e.get("method", "?"), e.get("outcome", "?"), detail)
        elif e.get("kind") == "vm-restarted" and e.get("seconds") is not None:
            detail = "%s (%.1fs after the failure)" % (detail, e["seconds"])
        out.append("%+9.1fs  %-8s %-13s %-10s %s" % (e["t"], e.get("by", "?"), e.get("kind", "?"),
                                                   e.get("subject", ""), detail))
    for host in report["unreachable"]:
        out.append("unreachable: %s (%s)" % (host["host"], host["why"]))
    return out
