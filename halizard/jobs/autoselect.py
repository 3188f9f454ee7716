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
from halizard.jobs.base import Clocks, Outcome, Report
from halizard.xapi.errors import XapiError

STATE = "autopromote"


def record(state, value, source, now=None):
    """Remember the value seen (`source`: 'master' wrote it, 'pool' read it) at `now` (wall clock)."""
    state.write(STATE, {"value": value, "source": source, "at": Clocks.wall() if now is None else now})


def last_known(state):
    """The last stored autopromote value, or None."""
    stored = state.read(STATE, {}) or {}
    value = stored.get("value")
    return value if isinstance(value, str) and value else None


def run(env):
    """Job for every host: cache the pool's current autopromote_uuid while XAPI answers.

    From the configuration's live read of the pool's other_config when there was one (before, the
    same other_config was read a second time: two calls on every host each cycle)."""

    config = env.effective()
    if config.pool_status == "live":  # the configuration was just read from the pool's other_config: it is there
        value = config.pool_other_config.get("autopromote_uuid")
    else:
        session, why = env.try_session(float(config.get("XE_TIMEOUT")))
        if session is None:
            return Report(Outcome.SKIPPED, "autopromote kept as %s (master silent: %s)" % (last_known(env.state), why))
        try:
            pool = session.xenapi.pool
            value = (pool.get_other_config(pool.get_all()[0]) or {}).get("autopromote_uuid")
        except XapiError as exc:
            return Report(Outcome.SKIPPED, "autopromote kept (%s)" % type(exc).__name__)
        finally:
            session.logout()
    if value and value != last_known(env.state):
        record(env.state, value, "pool", env.clock.wall())
        return Report(Outcome.DONE, "autopromote is now %s" % value)
    return Report(Outcome.IDLE, "autopromote unchanged (%s)" % (value or "not set"))
