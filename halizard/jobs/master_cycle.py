"""Job `master_cycle`: the master's host-failure cycle (issue 6, behaviour.md section 4).

Why: one coordinator keeps the order of the guide's master cycle and runs
nothing on a slave: read the pool, check the HA switch and the native-HA
conflict (refuse + alert), probe every enabled slave, and every disabled
one that still runs guests (core.cycle.watched_slaves), in parallel
(host_health), settle two masters (below), then the housekeeping of
core.cycle.master_start (re-enable a master left in maintenance, health
fields, the takeover slave via autoselect, never a host whose record says it
is suspended), then fence and recover failed slaves (slave_recovery, every
failed host in parallel). Decisions come from halizard.core; this module only
reads, sequences and executes.

Two masters: an old master that powers on after a takeover still believes it
is master of its own stale database. The probe round shows which peers
accept a login as master and whom the slaves follow; a master's own database
records which master its takeover replaced (core.roles.resolve_masters): the
master that replaced the other calls pool.recover_slaves so the old one
becomes its slave; the old one skips its cycles and keeps its VM starts
suspended (flag `master-conflict`, read by halizard.suspension) meanwhile.
A master raises that flag itself whenever its own xapi was silent or it
self-fenced, so it starts nothing after such a gap until a cycle confirms
that no other host took over.

With an unsafe configuration (EffectiveConfig.policy() raises UnsafeConfig)
the cycle does nothing: it logs why and alerts (host_health.policy_or_refusal).
"""


import time

from halizard.core import actions as A
from halizard.core import cycle, roles
from halizard.xapi.pool_view import read_pool_and_suspended

def _alerter(ctx, config, session):
    def alert(function, text):
        from halizard.alerts import raise_alert
        try:
            raise_alert(function, text, root=ctx.root, config=config, session=session)
        except Exception as exc:  # noqa: BLE001 - an alert never ends the cycle
            ctx.log.error("alert {} not raised: {}", function, type(exc).__name__)
    return alert


def _execute(ctx, session, actions, health_key, alert):
    from halizard.jobs import autoselect
    from halizard.xapi import act_host
    for action in actions:
        if isinstance(action, A.Alert):
            alert(action.function, action.text)
            continue
        ok, detail = act_host.execute(session, action, health_key)
        (ctx.log.info if ok else ctx.log.error)("{} ({})", detail, action.why)
        if ok and isinstance(action, A.SetAutopromote):
            autoselect.record(ctx.state, action.value, "master")


def run(ctx):
    """One master cycle; on a slave it does nothing (the slave side has its own jobs)."""
    from halizard import hostinfo
    from halizard.xapi.pool_config import load_effective
    from halizard.jobs import host_health, membership, slave_recovery, witness
    from halizard.platform import get_platform
    from halizard.probes.still_alive import host_still_answers
    from halizard.xapi.errors import XapiError
    from halizard.xapi.session import connect

    from halizard.jobs.self_fence import is_self_fencing

    role, _master = hostinfo.read_pool_conf(ctx.root)
    if role != "master":
        return
    if is_self_fencing(ctx.state):
        ctx.log.debug("master cycle idle: this host is self-fencing")
        raise_conflict_flag(ctx, "this master self-fenced; a cycle must confirm that no other host took over "
                                 "before VMs start here")
        return
    self_uuid = hostinfo.local_host_uuid(ctx.root)
    config = load_effective(ctx.root)
    policy, _refused = host_health.policy_or_refusal(ctx, config, "the master cycle")
    if policy is None:
        return
    key = config.xc_field_key
    try:
        session = connect(ctx.root, timeout=policy.XE_TIMEOUT)
    except XapiError as exc:
        ctx.log.warning("master cycle skipped: own xapi not answering ({})", type(exc).__name__)
        raise_conflict_flag(ctx, "this master's own xapi did not answer; a cycle must confirm that no other "
                                 "host took over before VMs start here")
        raise SystemExit(1) from None
    try:
        alert = _alerter(ctx, config, session)
        read_at = time.time()  # a VM job acting after this makes the view stale (slave_recovery)
        pool, suspended = read_pool_and_suspended(session, key, full=False)
        gate = cycle.ha_enabled(pool, policy)
        if not gate.proceed:
            _execute(ctx, session, gate.actions, key, alert)
            ctx.log.debug("master cycle: {}", gate.why)
            return
        platform = get_platform(ctx.root)
        peers = [(u, pool.host(u).address) for u in cycle.watched_slaves(pool, self_uuid)]
        probes, raw = host_health.probe_peers(platform, peers, policy, ctx.state)
        heuristics = host_health.heuristics_ok(platform, policy)
        verdicts, quorum_result = host_health.judge(self_uuid, pool, probes, heuristics, policy,
                                                    witness.held(ctx.state, policy), state=ctx.state)
        logins = host_health.logins_of(raw)
        me = pool.host(self_uuid)
        elsewhere = any(state == roles.XAPI_SLAVE and named and me is not None and named != me.address
                        for state, named in logins.values())
        replaced, tie_due = _standoff(ctx, session, roles.masters_among(logins, self_uuid), policy, elsewhere)
        conflict = roles.resolve_masters(pool, self_uuid, logins, replaced, tie_due)
        if not _settle_masters(ctx, session, pool, conflict, quorum_result, policy, alert):
            host_health.write_report(ctx.state, pool, verdicts, quorum_result,
                                     {u: "answers as master: %s" % conflict.why for u in conflict.others}, raw)
            return
        membership.confirm_master(ctx.state)  # no other master: this database's membership counts
        if any(v.state == "failed" for v in verdicts.values()):
            read_at = time.time()
            pool, suspended = read_pool_and_suspended(session, key)  # VMs and disks matter only when a slave failed
        start = cycle.master_start(pool, policy, self_uuid, verdicts, suspended | set(conflict.others),
                                   membership.takeover_order(ctx.state))
        _execute(ctx, session, start.actions, key, alert)
        usable = {self_uuid} | {u for u, v in verdicts.items() if v.state == "healthy"}
        source = platform.source_address()

        def still_alive(address, deadline):
            return host_still_answers(platform, address, deadline, source)

        rec = slave_recovery.Recovery(
            session, pool, policy, probes, quorum_result, usable,
            lambda: _agent(config, ctx.root), still_alive, alert, ctx.log, key, config=config, pool_read_at=read_at)
        decisions = slave_recovery.recover_failed(rec, ctx.state, verdicts)
        _sync_membership(ctx, session, pool, verdicts)
        host_health.write_report(ctx.state, pool, verdicts, quorum_result, decisions, raw)
    finally:
        session.logout()


def _sync_membership(ctx, session, pool, verdicts):
    """Last man standing (core.membership): exclude the slaves proven dead and released this cycle or
    before (slave_recovery's recovery entries), re-admit excluded hosts that are healthy members again,
    and end a change's joint rule once every voter acknowledged it."""
    from halizard.core import membership as rule
    from halizard.jobs import membership, slave_recovery
    from halizard.xapi.errors import XapiError

    dead = set((ctx.state.read(slave_recovery.RECOVERY_STATE, {}) or {}).keys())
    m, _fresh = membership.current(ctx.state)
    healthy = {u for u, v in verdicts.items() if v.state == "healthy"}
    back = rule.to_readmit(m or rule.Membership(), healthy, {h.uuid for h in pool.hosts if h.enabled})
    try:
        if dead - (m.excluded if m else frozenset()) or back:
            m = membership.change(session, ctx.state, ctx.log, exclude=dead, readmit=back - dead)
        if m is not None and m.joint is not None:
            voters = {h.uuid for h in pool.hosts if h.enabled} - m.excluded
            membership.commit_if_acknowledged(session, ctx.state, ctx.log, voters)
    except XapiError as exc:
        ctx.log.warning("membership not changed ({}); the next cycle tries again", type(exc).__name__)


# --- two masters after a takeover (core.roles.resolve_masters) ---------------------------------
RECOVER_ATTEMPTS = 3
RECOVER_PAUSE = 1.0


def raise_conflict_flag(ctx, why):
    """Suspend VM starts on this master (halizard.suspension) until a cycle confirms it is the only master."""
    from halizard.suspension import MASTER_CONFLICT
    current = ctx.state.read(MASTER_CONFLICT, {}) or {}
    if not current.get("suspended") or current.get("why") != why:
        ctx.state.write(MASTER_CONFLICT, {"suspended": True, "by": "master_cycle", "since": time.time(), "why": why})
        ctx.log.warning("VM starts suspended on this host: {}", why)


def clear_conflict_flag(ctx, why):
    """Lift the master-conflict suspension (this host is the only master, or follows one)."""
    from halizard.suspension import MASTER_CONFLICT
    if ctx.state.read(MASTER_CONFLICT, None) is not None:
        ctx.state.remove(MASTER_CONFLICT)
        ctx.log.info("VM starts allowed again: {}", why)


def _settle_masters(ctx, session, pool, conflict, quorum_result, policy, alert):
    """Act on resolve_masters; True when the rest of the cycle may run.

    A master that stands down keeps its VM starts suspended and
    skips the cycle: nothing it fences, starts or writes can be trusted. The
    newer master calls pool.recover_slaves (retried, each call with a
    deadline) so the stale one becomes its slave.
    """
    if conflict.action == roles.STAND_DOWN:
        raise_conflict_flag(ctx, conflict.why)
        ctx.log.error("master cycle stands down: {}", conflict.why)
        alert("check_xapi", "Another host answers as pool master: %s" % conflict.why)
        return False
    if conflict.action == roles.RECOVER:
        ctx.log.warning("{}; calling pool.recover_slaves", conflict.why)
        _recover_stale_masters(ctx, session, pool, conflict.others + conflict.strays, policy)
        if conflict.others:
            alert("check_xapi", "A stale pool master answered after a takeover: %s; pool.recover_slaves called"
                  % conflict.why)
    if conflict.action == roles.RECOVER or quorum_result.has_quorum or not policy.FENCE_QUORUM_REQUIRED:
        clear_conflict_flag(ctx, "no other host of this pool answers as master (%s)" % conflict.why)
    return True


TWO_MASTERS = "two-masters"


def _standoff(ctx, session, others, policy, elsewhere):
    """(the master this host's takeover replaced, whether the tie rule is due) for resolve_masters.

    Only when a peer answers as master or a slave follows another address (`elsewhere`): the
    usual cycle costs no extra call. The state file `two-masters` remembers since when this host
    has seen the same other master(s).
    """
    from halizard.xapi import takeover_ops as ops
    from halizard.xapi.errors import XapiError

    if not others and ctx.state.read(TWO_MASTERS, None) is not None:
        ctx.state.remove(TWO_MASTERS)
    if not others and not elsewhere:
        return None, False
    try:
        replaced = roles.parse_takeover(ops.read_takeover(session)).replaced
    except XapiError as exc:
        ctx.log.warning("this database's takeover record is unreadable: {}", type(exc).__name__)
        replaced = None
    if not others:
        return replaced, False
    now = time.time()
    seen = ctx.state.read(TWO_MASTERS, {}) or {}
    if seen.get("others") != list(others) or not isinstance(seen.get("since"), (int, float)):
        seen = {"others": list(others), "since": now}
        ctx.state.write(TWO_MASTERS, seen)
    return replaced, roles.tie_break_due(seen["since"], now, policy)


def _recover_stale_masters(ctx, session, pool, others, policy, attempts=RECOVER_ATTEMPTS, pause=RECOVER_PAUSE):
    """pool.recover_slaves until every host in `others` follows this master (attempts, each with a deadline)."""
    from halizard.xapi.errors import XapiError
    wanted = {pool.host(u).ref: (pool.host(u).name_label or u) for u in others
              if pool.host(u) is not None and pool.host(u).ref}
    for attempt in range(1, attempts + 1):
        try:
            refs = set(session.xenapi.pool.recover_slaves(timeout=policy.XE_TIMEOUT) or [])
        except XapiError as exc:
            ctx.log.warning("pool.recover_slaves attempt {}/{} failed: {}", attempt, attempts, type(exc).__name__)
            refs = set()
        missing = [u for ref, u in wanted.items() if ref not in refs]
        if not missing:
            ctx.log.info("pool.recover_slaves: {} follow this master now", ", ".join(sorted(wanted.values())))
            return True
        if attempt < attempts:
            time.sleep(pause)
    ctx.log.error("pool.recover_slaves did not reach {} after {} attempts; the next cycle retries",
                  ", ".join(sorted(missing)), attempts)
    return False


def _agent(config, root):
    from halizard.fence.registry import agent_from_config
    return agent_from_config(config, root)


def summary(state):
    """The last status report (for `ha-lizard status` and tests), or None."""
    from halizard.jobs.host_health import REPORT_STATE
    return state.read(REPORT_STATE, None)



