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


from halizard.core import actions as A
from halizard.core import cycle, health, roles
from halizard.core import membership as rule
from halizard.jobs import autoselect, host_health, membership, slave_recovery, witness
from halizard.jobs.base import Outcome, Report
from halizard.jobs.host_health import REPORT_STATE
from halizard.jobs.self_fence import is_self_fencing
from halizard.suspension import MASTER_CONFLICT
from halizard.xapi import act_host, takeover_ops
from halizard.xapi.errors import XapiError
from halizard.xapi.pool_view import read_pool_and_suspended


def _execute(env, session, actions, health_key, alert):
    for action in actions:
        if isinstance(action, A.Alert):
            alert(action.function, action.text)
            continue
        ok, detail = act_host.execute(session, action, health_key)
        (env.log.info if ok else env.log.error)("{} ({})", detail, action.why)
        if ok and isinstance(action, A.SetAutopromote):
            autoselect.record(env.state, action.value, "master", env.clock.wall())


def run(env):
    """One master cycle; returns a Report. On a slave it does nothing (the slave side has its own jobs)."""

    role = env.role()
    if role != "master":
        if role is None:
            return Report(Outcome.FAILED, "master cycle impossible: this host's pool role is unknown (pool.conf)")
        return Report(Outcome.IDLE, "master cycle not run: this host is a slave")
    if is_self_fencing(env.state):
        raise_conflict_flag(env, "this master self-fenced; a cycle must confirm that no other host took over "
                                 "before VMs start here")
        return Report(Outcome.IDLE, "master cycle idle: this host is self-fencing")
    self_uuid = env.self_uuid()
    if not self_uuid:
        return Report(Outcome.FAILED, "master cycle impossible: this host's uuid is unknown (inventory)")
    config = env.effective()
    policy, refused = host_health.policy_or_refusal(env, config, "the master cycle")
    if policy is None:
        return Report(Outcome.SKIPPED, refused)  # said once at ERROR, alerted (policy_or_refusal)
    try:
        session = env.connect(policy.XE_TIMEOUT)
    except XapiError as exc:
        return _own_xapi_silent(env, exc)
    try:
        return _cycle(env, session, config, policy, self_uuid)
    finally:
        session.logout()


def _own_xapi_silent(env, exc):
    """No login, or (with the service's shared login, which costs no call) no answer to the cycle's first
    read: VM starts stay suspended until a cycle confirms that no other host took over."""
    raise_conflict_flag(env, "this master's own xapi did not answer; a cycle must confirm that no other "
                             "host took over before VMs start here")
    return Report(Outcome.FAILED, "master cycle skipped: own xapi not answering (%s)" % type(exc).__name__)


def _cycle(env, session, config, policy, self_uuid):
    """The cycle with this master's session: read, gate, probe, settle two masters, housekeeping, recovery."""

    def alert(function, text):
        env.alert(function, text, config=config, session=session)  # never raises: an alert never ends the cycle

    key = config.xc_field_key
    read_at = env.clock.wall()  # a VM job acting after this makes the view stale (slave_recovery)
    try:
        pool, suspended = read_pool_and_suspended(session, key, full=False)
    except XapiError as exc:
        return _own_xapi_silent(env, exc)
    gate = cycle.ha_enabled(pool, policy)
    if not gate.proceed:
        _execute(env, session, gate.actions, key, alert)
        return Report(Outcome.IDLE, "master cycle: %s" % gate.why)
    platform = env.platform
    peers = [(u, pool.host(u).address) for u in cycle.watched_slaves(pool, self_uuid)]
    probes, raw = host_health.probe_peers(platform, peers, policy, env.state)
    heuristics = host_health.heuristics_ok(platform, policy)
    verdicts, quorum_result = host_health.judge(self_uuid, pool, probes, heuristics, policy,
                                                witness.held(env.state, policy, env.clock), state=env.state)
    conflict = _masters(env, session, pool, self_uuid, raw, policy)
    if not _settle_masters(env, session, pool, conflict, quorum_result, policy, alert):
        host_health.write_report(env.state, pool, verdicts, quorum_result,
                                 {u: "answers as master: %s" % conflict.why for u in conflict.others}, raw,
                                 now=env.clock.wall())
        return Report(Outcome.SKIPPED, "master cycle stands down: %s" % conflict.why)  # said at ERROR above
    membership.confirm_master(env.state)  # no other master: this database's membership counts
    failed = [u for u, v in verdicts.items() if v.state == health.FAILED]
    if failed:
        read_at = env.clock.wall()
        pool, suspended = read_pool_and_suspended(session, key)  # VMs and disks matter only when a slave failed
    start = cycle.master_start(pool, policy, self_uuid, verdicts, suspended | set(conflict.others),
                               membership.takeover_order(env.state))
    _execute(env, session, start.actions, key, alert)
    usable = {self_uuid} | {u for u, v in verdicts.items() if v.state == health.HEALTHY}
    rec = slave_recovery.Recovery(env, session, config,
                                  slave_recovery.Cycle(pool, policy, probes, quorum_result, usable, read_at))
    decisions = slave_recovery.recover_failed(rec, verdicts)
    _sync_membership(env, session, pool, verdicts)
    host_health.write_report(env.state, pool, verdicts, quorum_result, decisions, raw, now=env.clock.wall())
    return cycle_report(verdicts, decisions)


def cycle_report(verdicts, decisions):
    """The run's Report: the slaves' verdicts, and what was decided for each failed one."""
    counts = {}
    for verdict in verdicts.values():
        counts[verdict.state] = counts.get(verdict.state, 0) + 1
    text = "master cycle: %d slave(s) probed%s" % (len(verdicts), "".join(
        ", %d %s" % (n, state) for state, n in sorted(counts.items())))
    failed = sorted(u for u, v in verdicts.items() if v.state == health.FAILED)
    if not failed:
        return Report(Outcome.QUIET, text)
    return Report(Outcome.DONE, text + "; " + "; ".join("%s: %s" % (u, decisions.get(u, "?")) for u in failed),
                  decisions)


def _masters(env, session, pool, self_uuid, raw, policy):
    """core.roles.resolve_masters for this probe round: whom the peers follow, and who replaced whom."""

    logins = host_health.logins_of(raw)
    me = pool.host(self_uuid)
    elsewhere = any(state == health.Login.SLAVE and named and me is not None and named != me.address
                    for state, named in logins.values())
    replaced, tie_due = _standoff(env, session, roles.masters_among(logins, self_uuid), policy, elsewhere)
    return roles.resolve_masters(pool, self_uuid, logins, replaced, tie_due)


def _sync_membership(env, session, pool, verdicts):
    """Last man standing (core.membership): exclude the slaves proven dead and released this cycle or
    before (slave_recovery's recovery entries), re-admit excluded hosts that are healthy members again,
    and end a change's joint rule once every voter acknowledged it."""

    dead = set((env.state.read(slave_recovery.RECOVERY_STATE, {}) or {}).keys())
    m, _fresh = membership.current(env.state)
    healthy = {u for u, v in verdicts.items() if v.state == health.HEALTHY}
    back = rule.to_readmit(m or rule.Membership(), healthy, {h.uuid for h in pool.hosts if h.enabled})
    try:
        if dead - (m.excluded if m else frozenset()) or back:
            m = membership.change(session, env.state, env.log, exclude=dead, readmit=back - dead)
        if m is not None and m.joint is not None:
            voters = {h.uuid for h in pool.hosts if h.enabled} - m.excluded
            membership.commit_if_acknowledged(session, env.state, env.log, voters)
    except XapiError as exc:
        env.log.warning("membership not changed ({}); the next cycle tries again", type(exc).__name__)


# --- two masters after a takeover (core.roles.resolve_masters) ---------------------------------
RECOVER_ATTEMPTS = 3
RECOVER_PAUSE = 1.0


def raise_conflict_flag(env, why):
    """Suspend VM starts on this master (halizard.suspension) until a cycle confirms it is the only master."""
    current = env.state.read(MASTER_CONFLICT, {}) or {}
    if not current.get("suspended") or current.get("why") != why:
        env.state.write(MASTER_CONFLICT, {"suspended": True, "by": "master_cycle", "since": env.clock.wall(), "why": why})
        env.log.warning("VM starts suspended on this host: {}", why)


def clear_conflict_flag(env, why):
    """Lift the master-conflict suspension (this host is the only master, or follows one)."""
    if env.state.read(MASTER_CONFLICT, None) is not None:
        env.state.remove(MASTER_CONFLICT)
        env.log.info("VM starts allowed again: {}", why)


def _settle_masters(env, session, pool, conflict, quorum_result, policy, alert):
    """Act on resolve_masters; True when the rest of the cycle may run.

    A master that stands down keeps its VM starts suspended and
    skips the cycle: nothing it fences, starts or writes can be trusted. The
    newer master calls pool.recover_slaves (retried, each call with a
    deadline) so the stale one becomes its slave.
    """
    if conflict.action == roles.STAND_DOWN:
        raise_conflict_flag(env, conflict.why)
        env.log.error("master cycle stands down: {}", conflict.why)
        alert("check_xapi", "Another host answers as pool master: %s" % conflict.why)
        return False
    if conflict.action == roles.RECOVER:
        env.log.warning("{}; calling pool.recover_slaves", conflict.why)
        _recover_stale_masters(env, session, pool, conflict.others + conflict.strays, policy)
        if conflict.others:
            alert("check_xapi", "A stale pool master answered after a takeover: %s; pool.recover_slaves called"
                  % conflict.why)
    if conflict.action == roles.RECOVER or quorum_result.has_quorum or not policy.FENCE_QUORUM_REQUIRED:
        clear_conflict_flag(env, "no other host of this pool answers as master (%s)" % conflict.why)
    return True


TWO_MASTERS = "two-masters"


def _standoff(env, session, others, policy, elsewhere):
    """(the master this host's takeover replaced, whether the tie rule is due) for resolve_masters.

    Only when a peer answers as master or a slave follows another address (`elsewhere`): the
    usual cycle costs no extra call. The state file `two-masters` remembers since when this host
    has seen the same other master(s).
    """

    if not others and env.state.read(TWO_MASTERS, None) is not None:
        env.state.remove(TWO_MASTERS)
    if not others and not elsewhere:
        return None, False
    try:
        replaced = roles.parse_takeover(takeover_ops.read_takeover(session)).replaced
    except XapiError as exc:
        env.log.warning("this database's takeover record is unreadable: {}", type(exc).__name__)
        replaced = None
    if not others:
        return replaced, False
    now = env.clock.wall()
    seen = env.state.read(TWO_MASTERS, {}) or {}
    if seen.get("others") != list(others) or not isinstance(seen.get("since"), (int, float)):
        seen = {"others": list(others), "since": now}
        env.state.write(TWO_MASTERS, seen)
    return replaced, roles.tie_break_due(seen["since"], now, policy)


def _recover_stale_masters(env, session, pool, others, policy, attempts=RECOVER_ATTEMPTS, pause=RECOVER_PAUSE):
    """pool.recover_slaves until every host in `others` follows this master (attempts, each with a deadline)."""
    wanted = {pool.host(u).ref: (pool.host(u).name_label or u) for u in others
              if pool.host(u) is not None and pool.host(u).ref}
    for attempt in range(1, attempts + 1):
        try:
            refs = set(session.xenapi.pool.recover_slaves(timeout=policy.XE_TIMEOUT) or [])
        except XapiError as exc:
            env.log.warning("pool.recover_slaves attempt {}/{} failed: {}", attempt, attempts, type(exc).__name__)
            refs = set()
        missing = [u for ref, u in wanted.items() if ref not in refs]
        if not missing:
            env.log.info("pool.recover_slaves: {} follow this master now", ", ".join(sorted(wanted.values())))
            return True
        if attempt < attempts:
            env.clock.sleep(pause)
    env.log.error("pool.recover_slaves did not reach {} after {} attempts; the next cycle retries",
                  ", ".join(sorted(missing)), attempts)
    return False


def summary(state):
    """The last status report (for `ha-lizard status` and tests), or None."""
    return state.read(REPORT_STATE, None)
