"""The takeover's last checks, each from a probe round made right then: before the transition, before VM starts.

Why: the round that chose this host may be seconds old; another host may
have become master meanwhile, quorum may be gone or this host may be
self-fencing. Each check asks halizard.core.roles with a fresh round.
"""
from halizard import suspension
from halizard.jobs import peer_check


def _round_now(env, pool):
    """One quick probe round of every other enabled host: ({uuid: (login state, named master)}, quorum)."""
    from halizard.jobs import host_health, membership, witness
    from halizard.probes.deadline import after
    from halizard.probes.parallel import Round, probe_hosts

    peers = [(h.uuid, h.address) for h in pool.hosts if h.uuid != env.self_uuid and h.enabled and h.address]
    raw = probe_hosts(env.platform, peers, Round(1, 0.0, env.timeout, deadline=after(env.timeout + 1.0))) if peers else {}
    logins = {u: (p.xapi_state, p.master_address) for u, p in raw.items()}
    reachable = {u for u, p in raw.items() if p.xapi_ok or p.network_ok}
    env.reached = frozenset(reachable)
    q = membership.quorum(env.store, env.self_uuid, [h.uuid for h in pool.hosts if h.enabled], reachable,
                          host_health.heuristics_ok(env.platform, env.policy), env.policy,
                          witness.held(env.store, env.policy))
    return logins, q


def _self_fencing(env):
    from halizard.jobs.self_fence import is_self_fencing
    return is_self_fencing(env.store)


def _last_check(env, pool):
    """roles.may_transition from a round made right now: no second master, no transition elsewhere;
    then the peers that round reached must agree the master is gone (peer_check)."""
    from halizard.core import roles
    from halizard.core.health import Login

    old = pool.host(pool.master_uuid)
    logins, q = _round_now(env, pool)
    peers = {u: v for u, v in logins.items() if u != pool.master_uuid}
    if logins.get(pool.master_uuid, ("", None))[0] == Login.MASTER:
        peers[pool.master_uuid] = logins[pool.master_uuid]  # the old master itself is back
    perm = roles.may_transition(old.address if old is not None else "", env.answered - {pool.master_uuid},
                                peers, q, _self_fencing(env), env.policy)
    return peer_check.check(env, pool, env.reached, env.master_probe) if perm.allowed else perm


def _vm_start_gate(env, pool):
    """roles.may_start_vms with a fresh quorum and this host's self-fence state, right before starts."""
    from halizard.core import roles

    _logins, q = _round_now(env, pool)
    return roles.may_start_vms(True, suspension.takeover_suspended(env.store), q, _self_fencing(env), env.policy)
