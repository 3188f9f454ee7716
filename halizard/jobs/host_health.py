"""Master: probe every enabled slave at once, carry failure streaks, judge health, compute quorum.

Why: detection time must not grow with the number of hosts or failures
(the old product probed one host after another). One probe round covers
all peers in parallel (halizard.probes.parallel); its results are folded
with the previous round's (health.carry_streak, kept in the state file
`host-probes`) so the self-fence deadline is measured from the first
failure of the whole streak. The verdicts, the quorum and what was decided
go into the status report `host-health` (read by `ha-lizard status`/tests).
"""
from halizard.config import refusal
from halizard.core import health, quorum
from halizard.core.health import ProbeResult
from halizard.jobs.base import Clocks
from halizard.probes import sweep
from halizard.probes.deadline import after
from halizard.probes.parallel import Round, probe_hosts

PROBES_STATE = "host-probes"
REPORT_STATE = "host-health"


def _from_plain(d):
    try:
        return ProbeResult(tries=int(d["tries"]), xapi_ok=bool(d["xapi_ok"]), network_ok=d.get("network_ok"),
                           first_failure_at=d.get("first_failure_at"), observed_at=d.get("observed_at"))
    except (KeyError, TypeError, ValueError):
        return None


def _to_plain(p):
    return {"tries": p.tries, "xapi_ok": p.xapi_ok, "network_ok": p.network_ok,
            "first_failure_at": p.first_failure_at, "observed_at": p.observed_at}


def round_seconds(policy):
    """Longest time one parallel probe round takes (plus a little slack)."""
    return policy.XAPI_COUNT * policy.XE_TIMEOUT + (policy.XAPI_COUNT - 1) * policy.XAPI_DELAY + 1.0


def probe_peers(platform, peers, policy, state, key=PROBES_STATE):
    """Probe `peers` ((uuid, address) pairs) in parallel; {uuid: ProbeResult} with streaks carried.

    Also returns the raw PeerProbe per uuid (for details in the report).
    The streak state `key` is rewritten for exactly these peers.
    """
    raw = probe_hosts(platform, peers, Round.of(policy, deadline=after(round_seconds(policy))))
    previous = state.read(key, {}) or {}
    results = {}
    for uuid, peer_probe in raw.items():
        prev = previous.get(uuid)
        results[uuid] = health.carry_streak(_from_plain(prev) if isinstance(prev, dict) else None,
                                            peer_probe.as_core(), health.streak_max_gap(policy))
    state.write(key, {uuid: _to_plain(p) for uuid, p in results.items()})
    return results, raw


def heuristics_ok(platform, policy, deadline_seconds=None):
    """True when every FENCE_HEURISTICS_IPS address answers a network probe; None when none are used.

    Why one function for both sides: the master (quorum for fencing a slave)
    and a slave (quorum for taking over the master) must judge the vote the
    same way, through the platform's probe (on the simulator its partitions
    and link faults apply; a plain ICMP ping of a loopback address always
    answers). Every address is probed at once (halizard.probes.sweep), all by one deadline.
    """
    if not policy.heuristics_configured:
        return None
    seconds = deadline_seconds if deadline_seconds is not None else max(0.5, min(2.0, policy.XE_TIMEOUT / 2.0))
    return heuristics_of(sweep.probe_all(heuristic_targets(platform, policy), after(seconds),
                                         platform.source_address()), policy)


def heuristic_targets(platform, policy):
    """The (key, ProbeTarget) pairs of the heuristic addresses, for one sweep with other probes."""
    return [(("heuristic", i), platform.probe_target(address))
            for i, address in enumerate(policy.FENCE_HEURISTICS_IPS or ())]


def heuristics_of(results, policy):
    """The heuristic vote from a sweep's results: True when every address answered; None when unused."""
    if not policy.heuristics_configured:
        return None
    return all(results[("heuristic", i)].ok for i in range(len(policy.FENCE_HEURISTICS_IPS or ())))


def logins_of(raw):
    """{uuid: (login outcome, master address HOST_IS_SLAVE named)} of a probe round (core.roles.resolve_masters)."""
    return {uuid: (p.xapi_state, p.master_address) for uuid, p in raw.items()}


REFUSAL_STATE = "ha-refusal"
REFUSAL_ALERT_FUNCTION = "check_ha_enabled"


def policy_or_refusal(ctx, config, what, session=None, now=None):
    """(Policy, None), or (None, why) when HA must not act on `config` (EffectiveConfig.policy()).

    Why: an unsafe timing combination (docs/timing.md) lets the pool restart
    VMs an isolated host may still run, so the HA jobs (`what`, e.g. "the
    master cycle") refuse to fence, take over or recover while the service
    keeps running. The refusal is said once (config.refusal) and alerted at
    most once per MAIL_SCREEN_TIME through the alert path (state file
    `ha-refusal`).
    """
    now = ctx.clock.wall() if now is None else now
    reason = refusal.why_unsafe(config)
    if reason is None:
        refusal.say(ctx.state, ctx.log, what, None)
        if ctx.state.read(REFUSAL_STATE, None) is not None:
            ctx.state.remove(REFUSAL_STATE)
        return config.policy(), None
    why = refusal.say(ctx.state, ctx.log, what, "%s refuses to fence, take over or recover: %s" % (what, reason))
    text = "HA will not act on this host: %s" % reason
    record = ctx.state.read(REFUSAL_STATE, {}) or {}
    alerted_at = record.get("alerted_at")
    if record.get("text") != text or not isinstance(alerted_at, (int, float)) or \
            now - alerted_at >= _screen_seconds(config):
        ctx.alert(REFUSAL_ALERT_FUNCTION, text, config=config, session=session)
        ctx.state.write(REFUSAL_STATE, {"text": text, "alerted_at": now})
    return None, why


def _screen_seconds(config):
    try:
        return max(0.0, float(config.get("MAIL_SCREEN_TIME")) * 60.0)
    except Exception:  # noqa: BLE001 - an unknown or broken value: the documented default
        return 3600.0


def reachable_of(probes):
    """Uuids reached by network or xapi in this round."""
    return {u for u, p in probes.items() if p.xapi_ok or p.network_ok}


def judge(self_uuid, pool, probes, heuristics, policy, witness_held=None, state=None):
    """(verdicts {uuid: HealthVerdict}, QuorumResult) for the enabled slaves of `pool`.

    state: this host's state store, for its membership copy (jobs.membership); None: every enabled host votes.
    """
    from halizard.jobs import membership

    verdicts = {u: health.classify(p, policy) for u, p in probes.items()}
    enabled = [h.uuid for h in pool.hosts if h.enabled]
    if state is None:
        result = quorum.compute(self_uuid, enabled, reachable_of(probes), heuristics, policy, witness_held)
    else:
        result = membership.quorum(state, self_uuid, enabled, reachable_of(probes), heuristics, policy, witness_held)
    return verdicts, result


def write_report(state, pool, verdicts, quorum_result, decisions, raw=None, now=None):
    """The status report: per host verdict and decision, the quorum, the time (`now`, wall clock)."""
    hosts = {}
    for h in pool.hosts:
        v = verdicts.get(h.uuid)
        entry = {"name_label": h.name_label, "role": "master" if h.uuid == pool.master_uuid else "slave",
                 "health": "master" if h.uuid == pool.master_uuid else (v.state.value if v else "not probed"),
                 "why": v.why if v else "", "decision": decisions.get(h.uuid, "")}
        if raw and h.uuid in raw:
            entry["detail"] = raw[h.uuid].detail
        hosts[h.uuid] = entry
    state.write(REPORT_STATE, {
        "observed": Clocks.wall() if now is None else now,
        "quorum": {"votes": quorum_result.votes, "total": quorum_result.total,
                   "has_quorum": quorum_result.has_quorum, "why": quorum_result.why},
        "hosts": hosts,
    })
