"""The mail spool: alerts wait in `<root>/var/lib/ha-lizard/alert-spool/` until a server takes them.

Why: HA must never wait on mail. `enqueue()` only writes a small file
(atomically: temp file, fsync, rename; 0600 in a 0700 directory) and returns.
`flush()` delivers the waiting alerts oldest first within a deadline; the
first failure stops the pass (a down server would fail every entry alike) and
the entries stay for the next attempt (the delivery worker started by each
new alert, or the `alert_spool` job). One flusher at a time (file lock);
a second one waits for the first, within its own deadline, then rescans, so
an alert spooled during a flush is never left behind.

Limits: at most MAX_ENTRIES files (the oldest are dropped with a warning)
and entries older than MAX_AGE_SECONDS are dropped unsent.
"""

import json
import os
import time
import uuid
from collections import namedtuple

from filelock import FileLock
from filelock import Timeout as LockTimeout
from loguru import logger

from halizard import paths
from halizard.atomicfile import write_atomic
from halizard.alerts import xapi_messages
from halizard.xapi.session import connect as session_connect

log = logger.bind(function="email")

SPOOL_DIR = "/var/lib/ha-lizard/alert-spool"
MAIL = "mail"
XAPI = "xapi"
QUEUES = (MAIL, XAPI)
SUFFIX = ".alert.json"
MAX_ENTRIES = 500
MAX_AGE_SECONDS = 3 * 24 * 3600
FIELDS = ("function", "text", "priority", "hostname", "report")


class SpoolError(Exception):
    """The spool directory cannot be written."""


def spool_dir(root, queue=MAIL):
    """The queue's directory: mail entries at the top, XAPI message entries in `xapi/`."""
    if queue not in QUEUES:
        raise ValueError("unknown spool queue %r" % (queue,))
    base = paths.under(root, SPOOL_DIR)
    return base if queue == MAIL else os.path.join(base, queue)


def _ensure(root, queue=MAIL):
    directory = spool_dir(root, queue)
    try:
        os.makedirs(paths.under(root, SPOOL_DIR), mode=0o700, exist_ok=True)
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise SpoolError("cannot create %s: %s" % (directory, exc.strerror or exc)) from None
    return directory


def _write_atomic(directory, name, document):
    write_atomic(os.path.join(directory, name), json.dumps(document, sort_keys=True) + "\n", mode=0o600)


def entry_names(root, queue=MAIL):
    """Spooled entry file names, oldest first (names start with a nanosecond timestamp)."""
    try:
        names = os.listdir(spool_dir(root, queue))
    except FileNotFoundError:
        return []
    return sorted(name for name in names if name.endswith(SUFFIX) and not name.startswith("."))


class Alert(namedtuple("Alert", "function text priority hostname report")):
    """What a spool entry holds for delivery (hostname and report: for the mail)."""

    def __new__(cls, function, text, priority=3, hostname="", report=""):
        return super().__new__(cls, function, text, priority, hostname, report)


def enqueue(root, alert, now=None, queue=MAIL):
    """Store one Alert for delivery; returns its entry name. Raises SpoolError."""
    moment = time.time() if now is None else now
    directory = _ensure(root, queue)
    name = "%020d-%s%s" % (int(moment * 1e9), uuid.uuid4().hex[:12], SUFFIX)
    document = {"version": 1, "created": moment, "attempts": 0, "last_error": "",
                "function": str(alert.function), "text": str(alert.text), "priority": int(alert.priority),
                "hostname": str(alert.hostname), "report": str(alert.report or "")}
    try:
        _write_atomic(directory, name, document)
    except OSError as exc:
        raise SpoolError("cannot spool alert in %s: %s" % (directory, exc.strerror or exc)) from None
    _trim(root, queue)
    return name


def _trim(root, queue):
    names = entry_names(root, queue)
    for name in names[:max(0, len(names) - MAX_ENTRIES)]:
        log.warning("alert spool full: dropping the oldest unsent alert {} ({})", name, queue)
        _remove(root, name, queue)


def _remove(root, name, queue=MAIL):
    try:
        os.unlink(os.path.join(spool_dir(root, queue), name))
    except FileNotFoundError:
        pass


def load(root, name, queue=MAIL):
    """The entry as a dict, or None when it vanished or is corrupt (a corrupt one is set aside)."""
    path = os.path.join(spool_dir(root, queue), name)
    try:
        with open(path, "rb") as handle:
            document = json.loads(handle.read().decode("utf-8"))
        if not isinstance(document, dict) or any(field not in document for field in FIELDS):
            raise ValueError("missing fields")
        return document
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        log.warning("alert spool entry {} is unreadable; set aside", name)
        try:
            os.replace(path, path + ".bad")
        except OSError:
            pass
        return None


def pending(root, queue=MAIL):
    """All readable entries, oldest first (for status output and tests)."""
    return [entry for entry in (load(root, name, queue) for name in entry_names(root, queue)) if entry is not None]


class FlushResult:
    """What one flush did: `sent` count, `left` entries still waiting, `error` (first failure or "")."""

    def __init__(self):
        self.sent = 0
        self.dropped = 0
        self.left = 0
        self.error = ""

    def __repr__(self):
        return "FlushResult(sent=%d, dropped=%d, left=%d, error=%r)" % (self.sent, self.dropped, self.left,
                                                                        self.error)


def _waiter_lock(directory):
    return FileLock(os.path.join(directory, ".waiter.lock"))


def worker_waiting(root, queue=MAIL):
    """True when a flusher is queued for the queue's flush lock: it will list the queue after
    getting it, so an entry written before this call needs no new worker."""
    probe = _waiter_lock(spool_dir(root, queue))
    try:
        probe.acquire(timeout=0)
    except LockTimeout:
        return True
    except OSError:
        return False
    probe.release()
    return False


def _serialized(root, queue, deadline_seconds, handle_batch):
    """Run `handle_batch(names, end) -> bool (go on)` over the queue's new entries, one flusher at a time.

    At most one flusher works and at most one more waits: a third one
    returns at once, because the waiting one lists the queue only after it
    gets the flush lock and so also handles what the third would have.
    """
    end = time.monotonic() + deadline_seconds
    directory = _ensure(root, queue)
    lock = FileLock(os.path.join(directory, ".flush.lock"))
    waiter = _waiter_lock(directory)
    tried = set()
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        try:
            waiter.acquire(timeout=0)
        except LockTimeout:
            return  # another flusher is queued and will see everything spooled so far
        try:
            lock.acquire(timeout=left)
        except LockTimeout:
            waiter.release()
            return
        waiter.release()  # before listing: see worker_waiting()
        try:
            names = [name for name in entry_names(root, queue) if name not in tried]
            if not names:
                return
            tried.update(names)
            if not handle_batch(names, end):
                return
        finally:
            lock.release()


def _expired(root, name, entry, queue, now, result):
    moment = time.time() if now is None else now
    if moment - float(entry.get("created", moment)) <= MAX_AGE_SECONDS:
        return False
    log.warning("alert {} from {} is older than {} h: dropped unsent ({})", entry["function"],
                time.strftime("%Y-%m-%d %H:%M", time.gmtime(entry["created"])), MAX_AGE_SECONDS // 3600, queue)
    _remove(root, name, queue)
    result.dropped += 1
    return True


def _keep(root, name, entry, queue, error):
    entry["attempts"] = int(entry.get("attempts", 0)) + 1
    entry["last_error"] = str(error)
    try:
        _write_atomic(spool_dir(root, queue), name, entry)
    except OSError:
        pass


def _mail():
    """halizard.alerts.mail, imported only to send: smtplib and the email package (~2 MB per process) are
    needed by the delivery worker and the alert_spool job, not by every job that may spool an alert."""
    from halizard.alerts import mail

    return mail


def flush(root, settings, deadline_seconds=60.0, now=None, sender=None):
    """Mail the spooled alerts oldest first until done, the first failure, or the deadline."""
    result = FlushResult()
    send = sender or _mail().send_alert

    def batch(names, end):
        for name in names:
            if time.monotonic() >= end:
                return False
            if not _deliver_one(root, name, settings, send, now, result):
                return False
        return True

    try:
        _serialized(root, MAIL, deadline_seconds, batch)
    except SpoolError as exc:
        result.error = str(exc)
    result.left = len(entry_names(root))
    return result


def _deliver_one(root, name, settings, send, now, result):
    entry = load(root, name)
    if entry is None or _expired(root, name, entry, MAIL, now, result):
        return True
    try:
        refused = send(settings, entry["function"], entry["text"], report=entry.get("report", ""),
                       hostname=entry.get("hostname") or None, when=entry.get("created"))
    except _mail().MailError as exc:
        _keep(root, name, entry, MAIL, exc)
        log.warning("alert mail not delivered, kept in the spool ({} waiting): {}", len(entry_names(root)), exc)
        result.error = str(exc)
        return False
    if refused:
        log.warning("alert mail delivered, but the server refused {}", ", ".join(refused))
    _remove(root, name)
    result.sent += 1
    return True


def flush_messages(root, deadline_seconds=30.0, now=None, connect=None):
    """Post the queued XAPI alert messages (alerts raised without a session) through a new session."""
    result = FlushResult()
    if not entry_names(root, XAPI):
        return result

    connect = connect or session_connect
    host_uuid = xapi_messages.local_host_uuid(root)

    def batch(names, end):
        try:
            session = connect(root, timeout=max(0.5, min(10.0, end - time.monotonic())))
        except Exception as exc:  # master silent or no credentials: keep them for later
            result.error = "no XAPI session: %s" % exc
            return False
        try:
            for name in names:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                entry = load(root, name, XAPI)
                if entry is None or _expired(root, name, entry, XAPI, now, result):
                    continue
                try:
                    xapi_messages.create(session, entry["function"], _late_body(entry, now), entry["priority"],
                                         host_uuid=host_uuid, timeout=max(0.5, min(5.0, left)))
                except Exception as exc:  # any XAPI trouble: keep it, try later
                    _keep(root, name, entry, XAPI, exc)
                    result.error = str(exc)
                    return False
                _remove(root, name, XAPI)
                result.sent += 1
            return True
        finally:
            session.logout()

    try:
        _serialized(root, XAPI, deadline_seconds, batch)
    except SpoolError as exc:
        result.error = str(exc)
    result.left = len(entry_names(root, XAPI))
    if result.error:
        log.warning("{} XAPI alert message(s) kept for later: {}", result.left, result.error)
    return result


def _late_body(entry, now):
    """The alert text, plus when it was raised if that was more than a minute ago."""
    moment = time.time() if now is None else now
    created = float(entry.get("created", moment))
    if moment - created <= 60:
        return entry["text"]
    return "%s (raised %s UTC)" % (entry["text"], time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(created)))
