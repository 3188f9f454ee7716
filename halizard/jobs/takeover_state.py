"""The takeover's stored state: the state file, the pool view cached for it, the VMs it released, the suspension.

Why: a takeover run that is killed (deadline, reboot) resumes from the state
file `takeover` instead of starting over or, worse, fencing twice; a slave
judges a silent master from the pool view cached while it answered; a
suspended host (flag `suspended`, read by `ha-cfg status`) never takes over.
"""
import time

from halizard import suspension
from halizard.core import takeover as core
from halizard.core.model import pool_from_plain, pool_to_plain
from halizard.probes import clock as bootclock

STATE = "takeover"
SUSPENSION = suspension.TAKEOVER_FLAG
REBOOTED = "takeover-reboot"
CACHED_VIEW = "takeover-pool-view"
RELEASED = "takeover-released"
IN_PROGRESS = (core.TIE_WAIT, core.FENCING, core.AWAIT_DEADLINE, core.TRANSITION, core.AWAIT_MASTER,
               core.RECOVER_SLAVES, core.RELEASE, core.RESTART)
AFTER_TRANSITION = (core.AWAIT_MASTER, core.RECOVER_SLAVES, core.RELEASE, core.RESTART)


def load_state(store, log=None):
    """The stored takeover state; IDLE when missing or malformed (a malformed one is logged).

    A wait stored without this boot's id (written by a version that timed it with the wall clock, or
    before a reboot) is on another clock: read on the boot clock it could last for ever, so the state
    is discarded (logged) and the sequence starts again from idle with fresh times.
    """
    raw = store.read(STATE, None)
    if raw is None:
        return core.TakeoverState()
    try:
        state = core.state_from_plain(raw)
    except ValueError:
        if log is not None:
            log.warning("takeover state file is malformed; starting from idle")
        return core.TakeoverState()
    if state.wait_until is not None and raw.get("boot_id") != bootclock.boot_id():
        if log is not None:
            log.warning("takeover state {} waits until {} on another clock (an older version or another "
                        "boot); discarded, starting from idle", state.phase, state.wait_until)
        return core.TakeoverState()
    return state


def save_state(store, state):
    plain = core.state_to_plain(state)
    plain["boot_id"] = bootclock.boot_id()  # its times are on this boot's clock (load_state)
    store.write(STATE, plain)


def in_progress(state):
    """True while a takeover has begun and not ended."""
    return state.phase in IN_PROGRESS


def suspend(store, why, now=None):
    store.write(SUSPENSION, {"suspended": True, "since": now if now is not None else time.time(), "why": why})


def clear_suspension(store):
    """Lift the suspension and forget the finished takeover (so the next failure starts afresh)."""
    store.remove(SUSPENSION)
    store.remove(REBOOTED)
    state = load_state(store)
    if state.phase in (core.SUSPENDED, core.FAILED, core.DONE):
        save_state(store, core.TakeoverState())


def save_view(store, pool):
    store.write(CACHED_VIEW, pool_to_plain(pool))


def load_view(store):
    """The last pool view taken while the master answered, or None."""
    raw = store.read(CACHED_VIEW, None)
    if not isinstance(raw, dict):
        return None
    try:
        return pool_from_plain(raw)
    except (KeyError, TypeError, ValueError):
        return None
