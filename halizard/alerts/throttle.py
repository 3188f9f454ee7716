"""Repeat suppression: the same alert text is not sent again within MAIL_SCREEN_TIME minutes.

Why: a failed host is seen every cycle (every few seconds); without this the
admin would get one mail per cycle. State lives in one JSON state file
(`alert-throttle.json`, locked read-modify-write through StateStore) so
every job process and the CLI share it. Keys are hashes of function + text,
so the file never holds alert text. If the state cannot be read or locked in
time we let the alert through: a duplicate mail beats a lost one.
"""

import hashlib
import time

from loguru import logger

from halizard.statefiles import StateError, StateStore

log = logger.bind(function="alerts")

STATE_NAME = "alert-throttle"
LOCK_TIMEOUT = 1.0


def alert_key(function, text):
    return hashlib.sha256(("%s\0%s" % (function, text)).encode("utf-8", "replace")).hexdigest()[:32]


def admit(root, function, text, screen_seconds, now=None, store=None):
    """True when this alert may go out now (and records it); False while a repeat is screened."""
    if screen_seconds <= 0:
        return True
    moment = time.time() if now is None else now
    key = alert_key(function, text)
    verdict = []

    def change(table):
        table = {k: v for k, v in (table or {}).items()
                 if isinstance(v, dict) and isinstance(v.get("until"), (int, float)) and v["until"] > moment}
        if key in table:
            verdict.append(False)
        else:
            verdict.append(True)
            table[key] = {"at": moment, "until": moment + screen_seconds}
        return table

    store = store or StateStore(root, lock_timeout=LOCK_TIMEOUT)
    try:
        store.update(STATE_NAME, change, {})
    except StateError as exc:
        log.warning("alert throttle state unusable ({}); sending the alert anyway", exc)
        return True
    return verdict[-1]


def forget(root, function=None, text=None, store=None):
    """Drop one screened alert (function + text) or, without arguments, all of them."""
    store = store or StateStore(root, lock_timeout=LOCK_TIMEOUT)
    if function is None:
        store.remove(STATE_NAME)
        return
    key = alert_key(function, text)
    store.update(STATE_NAME, lambda table: {k: v for k, v in (table or {}).items() if k != key}, {})
