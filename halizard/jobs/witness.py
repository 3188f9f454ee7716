"""Job `witness` (every host, a loop job): keep asking the witness for its vote; record the lease.

Why: the vote has to be held before it is needed. Every host asks every
WITNESS_LEASE/3 s; the witness renews the holder's lease and refuses the
others, so while the pool is whole one host holds it, and after a split only
the side that still reaches the witness can get it (after the old lease
plus the witness's margin). The lease is recorded in the state file
`witness-lease` with both clocks: the quorum computations (`held`) count it
only while neither the monotonic nor the wall-clock deadline has passed,
so a lease written before a reboot never counts after it.

A witness that stops answering changes nothing while the hosts reach each
other; the master raises one alert when that starts (and logs when it
answers again); every failed request is one log line (probes.witness).
"""
import time

from halizard.core import witness as rule

STATE = "witness-lease"
FUNCTION = "witness"
END_MARGIN = 0.5


def held(state, policy):
    """None without a witness; else whether this host holds the witness's lease right now."""
    if not policy.witness_configured:
        return None
    stored = state.read(STATE, {}) or {}
    if stored.get("address") != policy.WITNESS_ADDRESS:
        return False
    try:
        mono, wall = float(stored["held_until"]), float(stored["held_until_wall"])
    except (KeyError, TypeError, ValueError):
        return False
    return rule.holds(mono, time.monotonic()) and rule.holds(wall, time.time())


def witness_status(root, address, self_uuid):
    """What `ha-cfg status` shows of the witness (None without one), from this host's last request."""
    if not address:
        return None
    from halizard.statefiles import StateStore

    stored = StateStore(root).read(STATE, {}) or {}
    if stored.get("address") != address:
        text = "%s, not asked yet (is the service running?)" % address
    elif not stored.get("answered"):
        text = "%s, NOT ANSWERING: %s" % (address, stored.get("why") or "no answer")
    elif stored.get("held_until") is not None and stored.get("holder") == self_uuid:
        text = "%s, its vote is leased to this host" % address
    else:
        text = "%s, its vote is leased to %s" % (address, stored.get("holder") or "another host")
    return {"address": address, "holder": stored.get("holder") or None, "answered": bool(stored.get("answered")),
            "text": text}


def run(ctx):
    """Ask every WITNESS_LEASE/3 s until the next request would not fit before the run's deadline."""
    end = None if ctx.deadline is None else ctx.deadline - END_MARGIN
    failed = None
    while True:
        began = time.time()
        try:
            interval, failed = ask_once(ctx), None
        except Exception as exc:  # one failed round must not end the loop; said once until it changes
            if end is None:
                raise
            text = "%s: %s" % (type(exc).__name__, exc)
            if text != failed:
                ctx.log.error("witness round failed ({}); trying again", text)
            interval, failed = 5.0, text
        if end is None or began + 2 * interval > end:
            return
        pause = began + interval - time.time()
        if pause > 0:
            time.sleep(pause)


def ask_once(ctx):
    """One request (when a witness is configured); returns the seconds until the next."""
    from halizard import hostinfo
    from halizard.config.effective import cached_pool
    from halizard.xapi.pool_config import load_effective
    from halizard.platform import get_platform
    from halizard.probes import witness as client
    from halizard.probes.deadline import after

    pool_uuid, other = cached_pool(ctx.root)
    config = load_effective(ctx.root, pool_other_config=other or {})
    address, lease = config.get("WITNESS_ADDRESS"), float(config.get("WITNESS_LEASE"))
    every = rule.renew_every(lease)
    if not address or not pool_uuid:
        if ctx.state.read(STATE, None) is not None:
            ctx.state.remove(STATE)
        return 5.0  # look again for a witness now and then
    secret = str(config.get("WITNESS_SECRET")).encode("utf-8")
    vote = client.ask(address, secret, pool_uuid, hostinfo.local_host_uuid(ctx.root), lease, after(every),
                      source=get_platform(ctx.root).source_address(), quiet=True)
    stored = ctx.state.read(STATE, {}) or {}
    answered = vote.answered
    wall = None if vote.held_until is None else time.time() + (vote.held_until - time.monotonic())
    new = {"address": address, "holder": vote.holder, "why": vote.why, "answered": answered,
           "held_until": vote.held_until, "held_until_wall": wall,
           "alerted": bool(stored.get("alerted")) and not answered}
    if not answered and not new["alerted"] and hostinfo.read_pool_conf(ctx.root)[0] == "master":
        _alert(ctx, config, "The witness %s does not answer (%s): the pool keeps running as it is, but a "
                            "split of the pool can no longer be decided by its vote." % (address, vote.why))
        new["alerted"] = True
    if not answered and (vote.why != stored.get("why") or stored.get("answered", True)):
        ctx.log.warning("witness {}: no vote: {}", address, vote.why)  # once, until the reason changes
    if answered and stored.get("alerted"):
        ctx.log.warning("witness {} answers again", address)
    if new != stored:
        ctx.state.write(STATE, new)
    return every


def _alert(ctx, config, text):
    try:
        from halizard.alerts import raise_alert
        raise_alert(FUNCTION, text, root=ctx.root, config=config)
    except Exception as exc:  # noqa: BLE001 - an alert never stops the job
        ctx.log.warning("alert not raised ({}): {}", type(exc).__name__, text)
