"""The takeover slave (`autopromote_uuid`): named by the master every cycle, remembered by every host.

Why: when the master dies, exactly one slave may take over, and it must know
it without asking the dead master. The master names it every cycle
(core roles.choose_takeover via cycle.master_start: the smallest uuid among
healthy enabled unsuspended slaves) and writes the pool field; every host
keeps the last value it saw in the state file `autopromote`. When XAPI is
silent the slaves apply the same smallest-uuid rule to the hosts their probe
round reaches (core roles.takeover_candidate), so a slave that missed an
update cannot act beside the one the master named.
"""
import time

STATE = "autopromote"


def record(state, value, source):
    """Remember the value seen (`source`: 'master' wrote it, 'pool' read it)."""
    state.write(STATE, {"value": value, "source": source, "at": time.time()})


def last_known(state):
    """The last stored autopromote value, or None."""
    stored = state.read(STATE, {}) or {}
    value = stored.get("value")
    return value if isinstance(value, str) and value else None


def run(ctx):
    """Job for every host: cache the pool's current autopromote_uuid while XAPI answers."""
    from halizard.xapi.pool_config import load_effective
    from halizard.xapi.errors import XapiError
    from halizard.xapi.session import connect

    config = load_effective(ctx.root)
    try:
        session = connect(ctx.root, timeout=float(config.get("XE_TIMEOUT")))
    except XapiError as exc:
        ctx.log.debug("autopromote kept as {} (master silent: {})", last_known(ctx.state), type(exc).__name__)
        return
    try:
        pool = session.xenapi.pool
        value = (pool.get_other_config(pool.get_all()[0]) or {}).get("autopromote_uuid")
    except XapiError as exc:
        ctx.log.debug("autopromote kept ({})", type(exc).__name__)
        return
    finally:
        session.logout()
    if value and value != last_known(ctx.state):
        record(ctx.state, value, "pool")
