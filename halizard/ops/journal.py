"""The incident journal: each decision that changed the pool, on the host that made it, with its why.

Why: the morning after, the admin asks what happened and in which order;
the answers are in the `why` of the decisions, spread over hosts. Each host
keeps the last MAX_ENTRIES decisions in its state directory (StateStore,
atomic), and the counters the metrics show are fed by the same append, so
the figures and the story never disagree. `publish` copies the recent
entries into this host's record (other_config key PUBLISH_KEY), which lives
in the pool database: any host reads every host's journal through its local
xapi socket, and it survives a master change (XAPI messages stay on the
master that received them).

Kinds: host-failed, fenced (method, outcome: verified or not), released,
vm-restarted (host, seconds from the first evidence of the failure to
running), takeover (step; `started` on the first: the master was judged
lost), self-fence, vm-down (a protected VM found halted). Fences, releases,
a completed takeover and a self-fence are also posted as XAPI messages
(`post_messages`): failures already are, as alerts. A hook never raises: a journal that
cannot be written loses an entry, never a recovery.
"""
import hashlib
import json
import time

from loguru import logger
from halizard.alerts import xapi_messages
from halizard.xapi import act

STATE = "ops-journal"
MAX_ENTRIES = 200
PUBLISH_KEY = "halizard-journal"
PUBLISH_ENTRIES = 40
PUBLISH_BYTES = 16000
PUBLISHED_STATE = "ops-journal-published"   # the digest of the entries last copied to the host record, and when
REPUBLISH_SECONDS = 3600.0
REPEAT_SECONDS = 600.0  # the same kind + subject again within this is one decision, not a new one
FAULT_KINDS = ("host-failed", "self-fence", "takeover", "vm-down")
LATENCY_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

log = logger.bind(function="monitor")


def _empty():
    return {"entries": [], "counters": {}, "latency": {"buckets": [0] * len(LATENCY_BUCKETS), "sum": 0.0,
                                                       "count": 0}, "last_incident": None}


def _count(doc, name, **labels):
    key = name + json.dumps(labels, sort_keys=True) if labels else name
    doc["counters"][key] = doc["counters"].get(key, 0) + 1


def _feed(doc, entry):
    """The counters one entry adds (the metrics read these, never the bounded entries)."""
    kind = entry["kind"]
    if kind == "fenced":
        _count(doc, "fence_attempts", method=str(entry.get("method", "")), outcome=str(entry.get("outcome", "")))
    elif kind == "vm-restarted":
        _count(doc, "vm_restarts")
        seconds = entry.get("seconds")
        if isinstance(seconds, (int, float)):
            hist = doc["latency"]
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    hist["buckets"][i] += 1
            hist["sum"] += seconds
            hist["count"] += 1
    else:
        _count(doc, kind.replace("-", "_"))
    if kind in FAULT_KINDS and (kind != "takeover" or entry.get("started")):  # a takeover's first step
        doc["last_incident"] = entry["at"]


def record(state, kind, why, subject="", now=None, **fields):
    """Append one decision to this host's journal (state: its StateStore); never raises."""
    if state is None:
        return None
    at = time.time() if now is None else now
    entry = dict(fields, kind=kind, why=str(why), subject=str(subject), at=at)

    def change(doc):
        doc = doc if isinstance(doc, dict) and "entries" in doc else _empty()
        for old in reversed(doc["entries"]):
            if at - old.get("at", 0) > REPEAT_SECONDS:
                break
            if old.get("kind") == kind and old.get("subject") == entry["subject"] and kind != "vm-restarted":
                return doc  # already journaled: a cycle repeats its decision until it is done
        doc["entries"] = (doc["entries"] + [entry])[-MAX_ENTRIES:]
        _feed(doc, entry)
        return doc

    try:
        state.update(STATE, change, {})
    except Exception as exc:  # noqa: BLE001 - the journal never stops a recovery
        log.warning("journal entry {} lost: {}", kind, exc)
    return entry


def vm_results(state, pool, results, since, now=None, fault=None):
    """Journal each VM a start put in Running; `since`: when the failure was first seen (epoch s;
    None: this host's last journaled fault).

    fault="vm-down": the restart answers a VM found halted at `since` (a crash), journaled first.
    """
    at = time.time() if now is None else now
    if since is None and state is not None and any(r.outcome == act.OK for r in results):
        since = read(state)[1].get("last_incident")  # the fault this recovery answers
    for r in results:
        if r.outcome != act.OK:
            continue
        vm, host = pool.vm(r.vm_uuid), pool.host(r.host_uuid) if r.host_uuid else None
        if fault:
            record(state, fault, "a protected VM was found halted", subject=(vm.name_label or vm.uuid) if vm
                   else r.vm_uuid, now=since or at)
        record(state, "vm-restarted", "started on %s" % ((host.name_label or host.uuid) if host else "XAPI's choice"),
               subject=(vm.name_label or vm.uuid) if vm else r.vm_uuid, now=at,
               on=(host.name_label or host.uuid) if host else "",
               seconds=round(max(0.0, at - since), 3) if since else None)


def read(state):
    """(entries, the whole document) of this host's journal."""
    doc = state.read(STATE, {}) or {}
    if not isinstance(doc, dict) or "entries" not in doc:
        doc = _empty()
    return list(doc.get("entries") or []), doc


def published(entries, host_name):
    """The text stored in the host record: the newest entries that fit PUBLISH_BYTES, each with its host."""
    chosen = [dict(e, by=host_name) for e in entries[-PUBLISH_ENTRIES:]]
    text = json.dumps(chosen, sort_keys=True, separators=(",", ":"))
    while len(text) > PUBLISH_BYTES and chosen:
        chosen = chosen[1:]
        text = json.dumps(chosen, sort_keys=True, separators=(",", ":"))
    return text


def publish_due(state, entries, now):
    """Whether `entries` (this host's journal) must be copied to its host record: they changed since the
    last copy, or that copy is REPUBLISH_SECONDS old (a renamed host, a record rewritten elsewhere).

    Why: ops_report runs every cycle, and the three calls that found the record unchanged were a
    sixth of an idle slave's XAPI calls, on every host of the pool."""
    last = state.read(PUBLISHED_STATE, {}) or {}
    if not isinstance(last, dict) or last.get("digest") != _digest(entries):
        return True
    try:
        return not 0 <= now - float(last.get("at")) < REPUBLISH_SECONDS
    except (TypeError, ValueError):
        return True


def mark_published(state, entries, now):
    """Note that `entries` are in the host record now (publish_due); never raises: an unnoted copy is
    only made again next cycle."""
    try:
        state.write(PUBLISHED_STATE, {"digest": _digest(entries), "at": now})
    except Exception as exc:  # noqa: BLE001 - the copy is done; noting it is an optimisation
        log.debug("journal copy not noted: {}", exc)


def unposted(state, entries):
    """The entries worth an XAPI message not posted yet, oldest first (post_messages)."""
    done_until = state.read(MESSAGE_STATE, 0.0) or 0.0
    return [e for e in entries if float(e.get("at") or 0) > done_until and _worth_a_message(e)]


def _digest(entries):
    text = json.dumps(entries[-PUBLISH_ENTRIES:], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def publish(session, host_ref, entries, host_name):
    """Copy these recent entries of this host's journal into its host record when they differ from
    what it holds (one or two calls)."""
    text = published(entries, host_name)
    x = session.xenapi
    if (x.host.get_other_config(host_ref) or {}).get(PUBLISH_KEY) == text:
        return False
    try:
        x.host.remove_from_other_config(host_ref, PUBLISH_KEY)
    except Exception:  # noqa: BLE001 - absent key
        pass
    x.host.add_to_other_config(host_ref, PUBLISH_KEY, text)
    return True


MESSAGE_STATE = "ops-journal-posted"
MESSAGE_FUNCTION = "journal"


def _worth_a_message(entry):
    """The decisions XenCenter / Xen Orchestra users must see (failures already come as alerts)."""
    kind = entry.get("kind")
    return kind in ("fenced", "released", "self-fence") or (kind == "takeover" and entry.get("subject") == "done")


def post_messages(session, state, host_uuid, priority=3):
    """Post each not yet posted decision worth it as XAPI message `HA-Lizard - journal`; returns how many.

    Entries are posted oldest first and the last posted time is kept, so a
    host that was cut off posts its self-fence when it can reach the pool again.
    """
    entries, _doc = read(state)
    posted = 0
    for e in unposted(state, entries):
        text = "%s %s: %s" % (e["kind"], e.get("subject", ""), e.get("why", ""))
        if e.get("kind") == "fenced":
            text = "%s (%s, %s)" % (text, e.get("method", "?"), e.get("outcome", "?"))
        xapi_messages.create(session, MESSAGE_FUNCTION, text, priority, host_uuid=host_uuid)
        state.write(MESSAGE_STATE, float(e["at"]))
        posted += 1
    return posted
