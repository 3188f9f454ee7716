"""The check before a takeover: do the peers this slave reaches agree that the master is gone?

Why: with a partition that is not transitive (only the master-Y link cut), Y
sees a silent master while its peers still read it; its timed proof of
death would then be wrong and two masters would run the same VMs (issue 13
finding 4). Before any step that acts on the old master (its fence, the
emergency transition that a timed proof leads to) and again in the last
check right before the transition, the takeover slave asks every peer its
round reached (halizard.peers.client) and applies the pure rule
halizard.core.peers.master_gone_for_all. A held takeover is said once with a
WARNING line and one alert (until the reason changes); it resumes by itself
once every peer reached lost the master too.
"""
import re

from halizard.core import actions as A
from halizard.core import peers as rule
from halizard.core.roles import Permission
from halizard.core.takeover import Step
from halizard.ops import journal

HOLD = "peer-hold"
FUNCTION = "promote_slave"


def _targets(env, pool, reached):
    """[(uuid, address)] of the peers in `reached`, neither this host nor the old master."""
    return sorted((h.uuid, h.address) for h in pool.hosts
                  if h.uuid in (reached or ()) and h.uuid not in (env.self_uuid, pool.master_uuid) and h.address)


class NotAsked(Exception):
    """The peers could not be asked at all (no pool secret, no port, a bad address); the text says why."""


def _ask(env, targets):
    """{uuid: PeerAnswer or None} of a query made now; raises NotAsked."""
    from halizard.peers import client, wire

    if not targets:
        return {}
    try:
        key = wire.pool_key(env.root)
        port = env.platform.peer_port(int(env.config.get("PEER_PORT")))
        return client.ask(targets, port, key, env.self_uuid, env.clock.monotonic() + env.timeout,
                          source=env.source, log=env.log)
    except (wire.WireError, OSError, TypeError, ValueError) as exc:
        raise NotAsked(getattr(exc, "strerror", None) or exc) from None


def check(env, pool, reached, master_probe):
    """rule.master_gone_for_all from a query made now to the peers in `reached` (not the old master)."""
    old = pool.host(pool.master_uuid)
    targets = _targets(env, pool, reached)
    failing_for = None
    if master_probe is not None and master_probe.first_failure_at is not None:
        failing_for = max(0.0, env.clock.boot() - master_probe.first_failure_at)
    try:
        answers = _ask(env, targets)
    except NotAsked as exc:
        return Permission(False, "the peers cannot be asked: %s" % exc)
    return rule.master_gone_for_all(old.address if old is not None else "", failing_for,
                                    [u for u, _a in targets], answers, env.policy)


def voteless(env, pool, reached, ranked_last):
    """The peers to skip as the takeover slave (core.roles.takeover_candidate): the candidate by
    rank, asked now, for as long as it answers that it has no vote. Why: a host back from the dead
    whose exclusion this host never read (the master died first) ranks first by uuid here, but its
    own copy gives it no vote, so it never acts and the pool would wait for it for ever. No answer
    keeps it the candidate (unknown: this host waits, as before)."""
    from halizard.core.roles import takeover_candidate

    skipped = set()
    while True:
        candidate = takeover_candidate(pool, env.self_uuid, reached or frozenset(), ranked_last, skipped)
        if candidate is None or candidate == env.self_uuid:
            return frozenset(skipped)
        try:
            answer = _ask(env, _targets(env, pool, {candidate})).get(candidate)
        except NotAsked:
            answer = None
        if answer is None or answer.votes:
            return frozenset(skipped)
        env.log.info("peer {} has no vote (it came back after this host's membership copy): it is not the "
                     "takeover slave", candidate)
        skipped.add(candidate)


def acts_on_master(step, master_uuid):
    """True when the step fences the old master or issues the emergency transition."""
    return any(isinstance(a, A.EmergencyTransition) or (isinstance(a, A.FenceHost) and a.host_uuid == master_uuid)
               for a in step.actions)


def hold(env, inputs, state, step):
    """`step`, or (when the peers do not all agree the master is gone) a step that stays in `state`."""
    master = state.master_uuid or inputs.pool.master_uuid
    if not acts_on_master(step, master):
        return step
    perm = check(env, inputs.pool, inputs.reachable, inputs.master_probe)
    say(env, perm)
    if perm.allowed:
        return step
    return Step(state, (), "the takeover is held: %s" % perm.why)


def say(env, perm):
    """One WARNING line and one alert when a hold starts or its reason changes; one line when it ends."""
    stored = env.store.read(HOLD, None)
    if perm.allowed:
        if stored is not None:
            env.log.info("the peers no longer hold the takeover: {}", perm.why)
            env.store.remove(HOLD)
        return
    reason = re.sub(r"[0-9.]+ s\b", "N s", perm.why)
    if stored is not None and stored.get("reason") == reason:
        env.log.debug("the takeover is still held: {}", perm.why)
        return
    env.log.warning("the takeover is held: {}", perm.why)
    env.store.write(HOLD, {"reason": reason, "since": env.clock.wall()})
    journal.record(env.store, "takeover", "held: %s" % perm.why, subject="held")
    if stored is None:
        _alert(env, "This host does not take over the silent pool master: %s. A partition that is not "
                    "transitive (this host cut from the master only) looks like this; the takeover goes on "
                    "once every peer it reaches lost the master too." % perm.why)


def forget(store):
    """The master answers again: a hold recorded earlier is over."""
    store.remove(HOLD)


def _alert(env, text):
    env.job.alert(FUNCTION, text)  # never raises: an alert never stops the check
