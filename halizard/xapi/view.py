"""The pool as this host last saw it, kept up to date from `event.from` (issue 16).

Why: reading every VM record every cycle on every host made HA the pool's
biggest XAPI client, growing with hosts x VMs. A `PoolWatch` keeps the
records a snapshot needs (pool, host, host_metrics, VM, VM_appliance,
trimmed to the fields observe.build_snapshot reads) in the state file
`xapi-view` with its event token. Jobs are separate processes per run
(supervisor/isolate.py), so the view lives in that file: each run asks
`event.from(classes, token, 0)` once for what changed since, applies it and
stores it back (only when something changed). A full read happens only:

* at start (no file, or a token from another master: pool.conf changed),
* after EVENTS_LOST or any other token failure from xapi,
* when the answer shows the view out of step (the token went backwards: a
  restarted xapi; a class's object count differs from xapi's
  valid_ref_counts; the pool's master changed),
* after a garbage answer: then one full read with get_all_records
  (observe), one log line, and the next run starts from a fresh token;
* after an incremental call that hung until its deadline: the same one
  full read, once; the stored token is kept (a slow master, not a broken
  stream), and while the next incremental calls hang too they raise
  XapiTimeout (the callers' "master silent") instead of reading in full
  again, so a slow master is not loaded further.

A full read is `event.from(classes, "", 0)`: every object plus a token, in
one consistent call; when it hangs it raises XapiTimeout.
"""
import json
import os
import time

from filelock import FileLock, Timeout
from loguru import logger

from halizard.xapi import observe
from halizard.xapi.errors import XapiError, XapiFailure, XapiTimeout

STATE = "xapi-view"
FIRST_READ_FAILED = "xapi-view-first-read-failed"   # when this host's last first full read failed
CLASSES = ("pool", "host", "host_metrics", "vm", "vm_appliance")
# the fields observe.build_snapshot (and pool_state) read; the rest of a record is dropped
FIELDS = {
    "pool": ("uuid", "master", "other_config", "ha_enabled"),
    "host": ("uuid", "name_label", "address", "enabled", "other_config", "metrics", "memory_overhead"),
    "host_metrics": ("uuid", "live", "memory_total", "memory_free"),
    "vm": ("uuid", "name_label", "power_state", "resident_on", "scheduled_to_be_resident_on",
           "is_control_domain", "is_a_template", "is_a_snapshot", "memory_static_max", "order", "start_delay",
           "ha_restart_priority", "appliance", "other_config", "current_operations"),
    "vm_appliance": ("uuid", "name_label"),
}
FULL, INCREMENTAL, FALLBACK = "full", "incremental", "fallback"
GARBLED = ("MALFORMED_RESPONSE", "XMLRPC_FAULT")  # the session layer's codes for an answer that is not XAPI's


class BadAnswer(Exception):
    """event.from answered something that is not an event batch."""


def trim(cls, record):
    return {k: record[k] for k in FIELDS[cls] if k in record}


def _batch(answer):
    """(events, token, counts) of an event.from answer; BadAnswer when it has not that shape."""
    if not isinstance(answer, dict):
        raise BadAnswer("not a struct")
    events, token, counts = answer.get("events"), answer.get("token"), answer.get("valid_ref_counts") or {}
    if not isinstance(events, list) or not isinstance(token, str) or not token or not isinstance(counts, dict):
        raise BadAnswer("no events, token or counts")
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("ref"), str):
            raise BadAnswer("an event without a ref")
        cls, operation = str(event.get("class", "")).lower(), event.get("operation")
        if operation not in ("add", "mod", "del"):
            raise BadAnswer("an event with operation %r" % (operation,))
        if cls in FIELDS and operation != "del" and not isinstance(event.get("snapshot"), dict):
            raise BadAnswer("an event without its record")
    return events, token, counts


def _apply(records, events):
    """Apply one batch to records {class: {ref: record}}; the classes it touched."""
    touched = set()
    for event in events:
        cls = str(event["class"]).lower()
        if cls not in records:
            continue
        touched.add(cls)
        if event["operation"] == "del":
            records[cls].pop(event["ref"], None)
        else:
            records[cls][event["ref"]] = trim(cls, event["snapshot"])
    return touched


def _out_of_step(records, counts, old_token, token, old_master):
    """Why the view no longer matches xapi after a batch, or None."""
    if token < old_token:
        return "the event token went backwards (xapi restarted)"
    for cls, table in records.items():
        if cls in counts and int(counts[cls]) != len(table):
            return "%s: %d objects seen, xapi has %s" % (cls, len(table), counts[cls])
    master = _master_ref(records)
    if master != old_master:
        return "the pool's master changed"
    return None


def _master_ref(records):
    pools = records.get("pool") or {}
    return next(iter(pools.values()), {}).get("master") if pools else None


class PoolWatch:
    """One host's event-driven copy of the pool records, persisted between job runs.

    ident: what names the xapi the token belongs to (this host's pool.conf
    text); a different one means another master: start from a full read.
    """

    def __init__(self, store, ident="", log=None, clock=time.time, full_timeout=None):
        self.store = store
        self.ident = str(ident or "")
        self.full_timeout = full_timeout  # seconds a full read may take (the run's time left); None: as any call
        self.log = log if log is not None else logger
        self._clock = clock
        self.records = None
        self.token = ""
        self.last = None     # FULL, INCREMENTAL or FALLBACK: how the last refresh read
        self.why = None      # why the last refresh read in full
        self.taken_at = None
        self._slow = False   # the stored token's last event.from timed out (and fell back once)

    def _load(self):
        saved = self.store.read(STATE, {}) or {}
        records = saved.get("records")
        if (saved.get("ident") != self.ident or not isinstance(records, dict)
                or set(records) != set(CLASSES) or not isinstance(saved.get("token"), str)):
            return None, ""
        self._slow = saved.get("slow") is True
        return records, saved["token"]

    def _save(self, records=None, token=None):
        """Atomically, root-only: the pool's other_config holds the configuration's secrets (FENCE_PASSWD).

        records, token: what to store (default: the view's own)."""
        from halizard.atomicfile import write_atomic

        records = self.records if records is None else records
        token = self.token if token is None else token
        text = json.dumps({"ident": self.ident, "token": token, "records": records,
                           "saved_at": self._clock(), "slow": self._slow}, separators=(",", ":"))
        try:
            os.makedirs(self.store.directory, exist_ok=True)
            write_atomic(self.store.path(STATE), text, 0o600)
        except Exception as exc:  # noqa: BLE001 - an unwritable state dir costs a full read next run, nothing more
            self._say("warning", "pool view not stored ({}); the next run reads in full", exc)

    def _say(self, level, text, *args):
        getattr(self.log, level)(text, *args)

    def _event_from(self, session, token, timeout):
        return getattr(session.xenapi.event, "from")(list(CLASSES), token, 0.0, timeout=timeout)

    def refresh(self, session, timeout=None):
        """Bring the records up to date (one event.from, or a full read); returns them.

        Raises XapiError only when xapi cannot be read at all (the caller's usual "master silent").
        """
        self.taken_at = self._clock()
        records, token = self._load()
        if records is None:
            return self._first_read(session, timeout)
        return self._incremental(session, timeout, records, token)

    def _first_read(self, session, timeout):
        """The full read of a host with no stored view, one job of this host at a time.

        Why: pool_state, zombies and vm_monitor start together; three full reads
        of a large pool at once triple the load on a master that must answer
        them all before their deadline. The jobs that waited find the view
        stored and go on with the cheap incremental call. When that full read
        failed instead (a master too loaded to answer it in time), they do not
        repeat it at once: each repeat is the same heavy read on the same
        loaded master (in a 64 x 1,000 start that doubled the load). The next
        run tries again.
        """
        wait = self._full_seconds(session, timeout)
        queued = self._clock()
        try:
            os.makedirs(self.store.directory, exist_ok=True)
            with FileLock(self.store.path(STATE) + ".lock", timeout=wait):
                records, token = self._load()
                if records is not None:  # another job of this host read it meanwhile
                    return self._incremental(session, timeout, records, token)
                failed = self.store.read(FIRST_READ_FAILED, {}) or {}
                if isinstance(failed, dict) and isinstance(failed.get("at"), (int, float)) and failed["at"] >= queued:
                    raise XapiTimeout(getattr(session, "url", "xapi"), wait,
                                      "event.from (another job's full read failed while this one waited)")
                try:
                    return self._full(session, timeout, "no stored view for this master")
                except XapiError:
                    try:
                        self.store.write(FIRST_READ_FAILED, {"at": self._clock()})
                    except Exception:  # noqa: BLE001 - unwritable: the waiters read again, as before
                        pass
                    raise
        except Timeout:
            raise XapiTimeout(getattr(session, "url", "xapi"), wait, "event.from (another job's full read)") from None

    def _full_seconds(self, session, timeout):
        """How long a full read may take: the run's time left when known, else the call's timeout."""
        if self.full_timeout is not None:  # a second's margin before the run's deadline
            return max(float(self.full_timeout) - 1.0, float(timeout or 0))
        return float(timeout) if timeout is not None else float(getattr(session, "timeout", 10.0))

    def _incremental(self, session, timeout, records, token):
        """What changed since the stored token (one event.from), applied to the stored records."""
        try:
            fresh, why = self._step(session, timeout, records, token)
        except XapiFailure as exc:
            if exc.code in observe.TOKEN_LOST:
                return self._full(session, timeout, "event.from: %s" % exc.code)
            if exc.code not in GARBLED:
                raise
            return self._fallback(session, timeout, "event.from answered garbage (%s)" % exc.code)
        except XapiTimeout as exc:
            return self._slow_answer(session, timeout, records, token, exc)
        except BadAnswer as exc:
            return self._fallback(session, timeout, "event.from answered garbage (%s)" % exc)
        if fresh is None:
            return self._full(session, timeout, why)
        return fresh

    def stored(self, session, timeout=None):
        """The stored records brought up to date by one incremental event.from; None when there is
        no stored view of this master, or the answer is not a good step from it (lost token, garbage,
        out of step). It never reads in full: for a caller with a short deadline (master_watch), for
        whom a whole large pool is the wrong read, and who reads otherwise. A hang raises XapiTimeout.
        """
        self.taken_at = self._clock()
        records, token = self._load()
        if records is None:
            return None
        try:
            fresh, _why = self._step(session, timeout, records, token)
        except XapiFailure as exc:
            if exc.code not in GARBLED + observe.TOKEN_LOST:
                raise
            return None
        except BadAnswer:
            return None
        return fresh

    def _step(self, session, timeout, records, token):
        """(the records after one incremental event.from, None) or (None, why they are out of step)."""
        events, new_token, counts = _batch(self._event_from(session, token, timeout))
        old_master = _master_ref(records)
        _apply(records, events)
        why = _out_of_step(records, counts, token, new_token, old_master)
        if why is not None:
            return None, why
        was_slow, self._slow = self._slow, False
        self.records, self.token, self.last, self.why = records, new_token, INCREMENTAL, None
        if events or was_slow:
            self._save()
        return self.records, None

    def _slow_answer(self, session, timeout, records, token, timed_out):
        """An event.from that hung: one full read, keeping the stored token; a second hang in a row raises.

        Why: a hang is a slow or stuck master, not a broken stream: the token
        stays good. A heavier read after every hang would multiply the load on
        a master that is already slow (a 16-host pool on 2 cores spiralled into
        timeouts that way), so the fallback comes once, and the next runs try
        the cheap incremental call again until one answers.
        """
        if self._slow:
            raise timed_out
        fresh = self._fallback(session, timeout, "event.from did not answer in time", drop=False)
        self._slow = True
        self._save(records, token)  # as they were: the next incremental call replays the events from there
        return fresh

    def _full(self, session, timeout, why):
        """Every object and a fresh token in one event.from; a bad answer falls back to get_all_records.

        It may take the run's time left (full_timeout): on a loaded master a
        whole large pool may take longer than one call's timeout, and a read
        cut at that timeout is all cost, no view. A timeout raises
        (XapiTimeout): this call already is the full read, so the same read by
        another method would only double a slow master's load.
        """
        try:
            events, token, _counts = _batch(self._event_from(session, "", self._full_seconds(session, timeout)))
        except BadAnswer as exc:
            return self._fallback(session, timeout, "event.from answered garbage (%s)" % exc)
        except XapiFailure as exc:
            if exc.code not in GARBLED + observe.TOKEN_LOST:
                raise
            return self._fallback(session, timeout, "event.from failed (%s)" % exc.code)
        records = {cls: {} for cls in CLASSES}
        _apply(records, events)
        self._slow = False
        self.records, self.token, self.last, self.why = records, token, FULL, why
        self._say("debug", "pool view read in full: {}", why)
        self._save()
        return records

    def _fallback(self, session, timeout, why, drop=True):
        """One full read with get_all_records; the stored view is dropped (unless not `drop`: the next run
        starts afresh).

        The line is logged once that read worked: a master that answers nothing at all (the read fails too)
        is the caller's usual "master silent", not a bad event stream.
        """
        x = session.xenapi
        reads = {"pool": x.pool, "host": x.host, "host_metrics": x.host_metrics, "vm": x.VM,
                 "vm_appliance": x.VM_appliance}
        records = {cls: {ref: trim(cls, rec) for ref, rec in api.get_all_records(timeout=timeout).items()}
                   for cls, api in reads.items()}
        self.records, self.token, self.last, self.why = records, "", FALLBACK, why
        self._say("warning", "{}: pool read in full instead", why)
        if not drop:
            return records
        try:
            self.store.remove(STATE)
        except Exception:  # noqa: BLE001 - a stale file is refused by its token next run anyway
            pass
        return records

    def snapshot(self, session, ha_key, timeout=None, free_memory=True, fresh=True):
        """An observe.Snapshot of the view (refreshed first unless `fresh` is False and it was read).

        free_memory: ask host.compute_free_memory of each live host (one call
        per host, as observe.read_snapshot); else estimated from the records.
        """
        records = self.records if (not fresh and self.records is not None) else self.refresh(session, timeout)
        hosts, metrics = records["host"], records["host_metrics"]
        free = {}
        if free_memory:
            live = [ref for ref, rec in hosts.items() if (metrics.get(rec.get("metrics")) or {}).get("live")]
            free = observe.free_memory(session, live, timeout)
        return observe.build_snapshot(records, ha_key, free, taken_at=self.taken_at)


def pool_ident(root):
    """This host's pool.conf text: names the master a stored token belongs to."""
    from halizard import hostinfo

    try:
        role, master = hostinfo.read_pool_conf(root)
    except hostinfo.HostInfoError:
        return ""
    return role if master is None else "%s:%s" % (role, master)


def watch(root, store=None, log=None, full_timeout=None):
    """The PoolWatch of this host (its state dir, its pool.conf); full_timeout: see PoolWatch."""
    if store is None:
        from halizard.statefiles import StateStore
        store = StateStore(root)
    return PoolWatch(store, pool_ident(root), log, full_timeout=full_timeout)
