"""Job `witness` (every host, a loop job): keep asking the witness for its vote; record the lease.

Why: the vote has to be held before it is needed. Every host asks every
WITNESS_LEASE/3 s; the witness renews the holder's lease and refuses the
others, so while the pool is whole one host holds it, and after a split only
the side that still reaches the witness can get it (after the old lease
plus the witness's margin). The lease is recorded in the state file
`witness-lease` with both clocks: the quorum computations (`held`) count it
only while neither the monotonic nor the wall-clock deadline has passed,
so a lease written before a reboot never counts after it.

The same run answers the slaves' peer query while it waits between
requests (jobs.peer_answer.Answering): one always-present process for both.

A witness that stops answering changes nothing while the hosts reach each
other; the master raises one alert when that starts (and logs when it
answers again); every failed request is one log line (probes.witness).
"""
from halizard.core import witness as rule
from halizard.jobs import peer_answer
from halizard.jobs.base import Clocks, Outcome, Report

STATE = "witness-lease"
FUNCTION = "witness"
END_MARGIN = 0.5


def held(state, policy, clock=Clocks):
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
    return rule.holds(mono, clock.monotonic()) and rule.holds(wall, clock.wall())


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


def _refusal(stored, vote, now, lease):
    """What a refusal says of the holder's lease, for waits_for_vote: when the vote frees ("free_at",
    monotonic) and when the holder was last seen renewing ("renewed_at"); nothing while held or silent."""
    if vote.held_until is not None or not vote.answered or vote.free_in is None:
        return {"free_at": None, "renewed_at": None}
    free_at = now + vote.free_in
    moved = rule.renewed(stored.get("free_at"), free_at, lease) or stored.get("holder") != vote.holder
    return {"free_at": free_at, "renewed_at": now if moved else stored.get("renewed_at")}


def waits_for_vote(state, policy, lost_at, confirm_at, clock=Clocks):
    """core.witness.worth_waiting from this host's last lease request (monotonic times)."""
    if not policy.witness_configured:
        return False
    stored = state.read(STATE, {}) or {}
    if stored.get("address") != policy.WITNESS_ADDRESS or not stored.get("answered"):
        return False
    return rule.worth_waiting(lost_at, confirm_at, stored.get("renewed_at"), stored.get("free_at"),
                              clock.monotonic(), float(policy.WITNESS_LEASE))


def run(env):
    """Ask every WITNESS_LEASE/3 s until the next request would not fit before the run's deadline;
    meanwhile answer the peers' query (jobs.peer_answer: one process for both)."""
    answering = peer_answer.Answering(env)
    try:
        return answering.summary(_rounds(env, answering.pause))
    finally:
        answering.close()


def _rounds(env, pause):
    """The witness requests of one run; `pause(seconds)` waits between them."""
    clock = env.clock
    end = None if env.deadline is None else env.deadline - END_MARGIN
    failed, rounds = None, 0
    while True:
        began = clock.wall()
        try:
            interval, failed = ask_once(env), None
        except Exception as exc:  # one failed round must not end the loop; said once until it changes
            if end is None:
                raise
            text = "%s: %s" % (type(exc).__name__, exc)
            if text != failed:
                env.log.error("witness round failed ({}); trying again", text)
            interval, failed = 5.0, text
        rounds += 1
        if end is None or began + 2 * interval > end:
            return _summary(env, rounds, failed)
        left = began + interval - clock.wall()
        if left > 0:
            pause(left)


def _summary(env, rounds, failed):
    """The run's Report, from the lease record its last request left."""
    stored = env.state.read(STATE, None)
    if failed:
        return Report(Outcome.DEGRADED, "%d witness round(s), the last failed: %s" % (rounds, failed))
    if not stored:
        return Report(Outcome.IDLE, "no witness configured")
    if not stored.get("answered"):
        return Report(Outcome.QUIET, "witness %s, %d round(s): no vote: %s"
                      % (stored.get("address"), rounds, stored.get("why") or "no answer"))
    return Report(Outcome.QUIET, "witness %s, %d round(s): its vote is leased to %s"
                  % (stored.get("address"), rounds, stored.get("holder") or "nobody"))


def ask_once(env):
    """One request (when a witness is configured); returns the seconds until the next."""
    from halizard import hostinfo
    from halizard.probes import witness as client
    from halizard.probes.deadline import after

    clock = env.clock
    pool_uuid, other = env.cached_pool()
    config = env.effective(pool_other_config=other or {})
    address, lease = config.get("WITNESS_ADDRESS"), float(config.get("WITNESS_LEASE"))
    every = rule.renew_every(lease)
    if not address or not pool_uuid:
        if env.state.read(STATE, None) is not None:
            env.state.remove(STATE)
        return 5.0  # look again for a witness now and then
    me = env.self_uuid()
    if not me:
        raise hostinfo.HostInfoError("this host's uuid is unknown (inventory)")
    secret = str(config.get("WITNESS_SECRET")).encode("utf-8")
    vote = client.ask(client.Witness(address, secret, env.platform.source_address()), pool_uuid, me, lease,
                      after(every), clocks=clock, quiet=True)
    stored = env.state.read(STATE, {}) or {}
    answered = vote.answered
    wall = None if vote.held_until is None else clock.wall() + (vote.held_until - clock.monotonic())
    new = {"address": address, "holder": vote.holder, "why": vote.why, "answered": answered,
           "held_until": vote.held_until, "held_until_wall": wall,
           "alerted": bool(stored.get("alerted")) and not answered}
    new.update(_refusal(stored, vote, clock.monotonic(), lease))
    if not answered and not new["alerted"] and env.role() == "master":
        env.alert(FUNCTION, "The witness %s does not answer (%s): the pool keeps running as it is, but a "
                            "split of the pool can no longer be decided by its vote." % (address, vote.why),
                  config=config)
        new["alerted"] = True
    if not answered and (vote.why != stored.get("why") or stored.get("answered", True)):
        env.log.warning("witness {}: no vote: {}", address, vote.why)  # once, until the reason changes
    if answered and stored.get("alerted"):
        env.log.warning("witness {} answers again", address)
    if new != stored:
        env.state.write(STATE, new)
    return every
