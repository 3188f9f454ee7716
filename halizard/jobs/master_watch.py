"""Job `master_watch`: a slave watches its master and, if it is the chosen one, takes over.

Why: only one pre-chosen slave (the master's `autopromote_uuid`) may take
over a dead master, and only after XAPI_COUNT tries XAPI_DELAY apart. Each
cycle this job:

* reads the master with a short deadline. When it answers: refresh the
  cached configuration and the cached pool view (hosts with refs, VMs, disk
  markers, the autopromote winner: what the takeover needs once the master
  is silent), and lift this host's suspension once the master marks it
  `healthy` (core cycle.slave_start); publish this host's suspension in its
  host record (halizard.suspension.HOST_KEY) so the master never names a
  suspended host its takeover slave, and the peers its self-fence check does
  not reach (model.UNREACHED_KEY: the master's timed proof of a peer's death
  counts only when every host it reaches lists that peer, fencing.still_seen_by); drop a master-conflict suspension left
  from when this host was a (stale) master;
  record when this read began (jobs.peer_answer.note_read: what this host
  answers a slave that asks whether it still reads the master);
* when it is silent: keep every cache, probe the master and every peer in
  parallel (quorum needs them all), and step the master-failure state
  machine (halizard.jobs.takeover.drive). The core decides who acts
  (roles.takeover_candidate: the smallest uuid among the enabled slaves the
  round reached, the rule the master publishes as autopromote; never a
  suspended host, nor a peer that answers the peer query that it has no
  vote: jobs.peer_check.voteless). Nothing acts on the old master while a peer this round
  reached still reads it or does not answer (jobs.peer_check).

With an unsafe configuration (EffectiveConfig.policy() raises UnsafeConfig)
the caches are still refreshed, but nothing is taken over or lifted.

A takeover under way continues even after this host became master.

The job reaches the world through its Env (halizard.jobs.base.Env) and
returns one Report; the takeover runs on a view over that Env (takeover.Env).
"""
from halizard import suspension
from halizard.probes import clock as bootclock
from halizard.core import cycle, health, quorum
from halizard.core import takeover as core
from halizard.config.pool_store import FlagState
from halizard.core.model import UNREACHED_KEY, unreached_value
from halizard.jobs import host_health, membership, peer_answer, peer_check, takeover, witness
from halizard.jobs.base import Outcome, Report

HOST_KEY = suspension.HOST_KEY
UNKNOWN = object()  # this host's published suspension could not be read this cycle
PROBES = "master-watch-probes"
REPORT = "master-watch"


def _read_master(env, timeout, self_uuid=None):
    """(pool other_config, PoolView, this host's other_config or UNKNOWN) from the master, or None
    when it does not answer in time.

    From this host's event-driven pool view (halizard.xapi.view) when there is one to go on from:
    one event.from with what changed, instead of every host record each cycle (at 64 hosts those
    were most of a slave's cycle and much of the master's load). Else the pool and host records.
    """
    from halizard.xapi import takeover_ops as ops
    from halizard.xapi.errors import XapiError
    from halizard.xapi.view import watch

    log = env.log
    try:
        session = env.connect(timeout)
    except XapiError as exc:
        log.info("the master does not answer: {}", exc)
        return None
    try:
        key = env.effective(pool_other_config={}, cache=False).xc_field_key
        records = watch(env.root, env.state, env.log).stored(session, timeout)
        if records is not None:  # one event.from: what changed since this host's pool view (issue 16)
            other, view = ops.from_records({"pool": records["pool"], "host": records["host"]}, key)
            me = view.host(self_uuid) if self_uuid else None
            if me is None or not me.ref:
                return other, view, UNKNOWN
            return other, view, dict(records["host"][me.ref].get("other_config") or {})
        other, view = ops.snapshot(session, key, light=True)
        me = view.host(self_uuid) if self_uuid else None
        published = UNKNOWN  # else this host's other_config as the master holds it
        if me is not None and me.ref:
            try:
                published = dict(session.xenapi.host.get_other_config(me.ref) or {})
            except XapiError:  # the view is read: the master answers; publish next cycle
                published = UNKNOWN
        return other, view, published
    except (XapiError, KeyError, StopIteration, ValueError) as exc:
        log.info("the master stopped answering during the read: {}", type(exc).__name__)
        return None
    finally:
        session.logout()


def _judged_by_probes(store, self_uuid, master_address):
    """True when this cycle may go straight to the probe round, without reading the master first.

    Only for the takeover slave, after a probe round found the master silent,
    while pool.conf still names the master of the cached view (a hung master
    would otherwise cost a read timeout every cycle). Every other slave reads
    each cycle, so it notices at once when a new master took over.
    """
    last = store.read(REPORT, {}) or {}
    if last.get("master") != "silent" or last.get("probed") is not True:
        return False
    cached = takeover.load_view(store)
    if cached is None or cached.autopromote_uuid != self_uuid:
        return False
    master = cached.host(cached.master_uuid)
    return master is not None and master.address == master_address


def _config(env, other, pool_uuid, answered):
    from halizard.config.effective import save_pool_cache
    if answered:
        try:
            save_pool_cache(env.root, pool_uuid, other)
        except OSError:
            pass
        return env.effective(pool_other_config=other, cache=False)
    _uuid, cached = env.cached_pool()
    return env.effective(pool_other_config=cached or {}, cache=False)


def _publish(env, timeout, view, self_uuid, published, wanted):
    """Write (or remove, value None) keys of this host's other_config through the master where they
    differ from what it holds (`published`: that other_config, or UNKNOWN: then nothing is written).

    wanted: {key: (value or None, what to log once written)}.
    """
    from halizard.xapi.errors import XapiError

    log = env.log
    me = view.host(self_uuid)
    if me is None or not me.ref or published is UNKNOWN:
        return
    changes = {k: v for k, v in wanted.items() if published.get(k) != v[0]}
    if not changes:
        return
    try:
        session = env.connect(timeout)
    except XapiError as exc:
        log.info("host record not updated ({}); the next cycle retries", type(exc).__name__)
        return
    try:
        host = session.xenapi.host
        for key, (value, what) in sorted(changes.items()):
            if key in published:
                host.remove_from_other_config(me.ref, key)
            if value is not None:
                host.add_to_other_config(me.ref, key, value)
            log.info("{}", what)
    except XapiError as exc:
        log.info("host record not updated ({}); the next cycle retries", type(exc).__name__)
    finally:
        session.logout()


def _unreached(store):
    """The UNREACHED_KEY value from this host's last self-fence check (None: no check to publish)."""
    from halizard.jobs.self_fence import STATE
    stored = store.read(STATE, {}) or {}
    unreached = stored.get("unreached")
    if stored.get("boot") != bootclock.boot_id() or not isinstance(unreached, list):
        return None
    return unreached_value(unreached)


def _probe_round(ctx, platform, pool, self_uuid, policy):
    """Probe every enabled peer at once: ({uuid: ProbeResult} with the failure streak carried, the raw round).

    The master's round (host_health.probe_peers) under this job's own state key: a streak has the
    same age limit (health.streak_max_gap) as on the master.
    """
    peers = [(h.uuid, h.address) for h in pool.hosts if h.uuid != self_uuid and h.enabled and h.address]
    return host_health.probe_peers(platform, peers, policy, ctx.state, key=PROBES)


def _env(ctx, config, policy, self_uuid, pool):
    me = pool.host(self_uuid) if pool is not None else None
    address = (me.address if me is not None and me.address else None) or ctx.platform.source_address() or "127.0.0.1"
    return takeover.Env(ctx, config, policy, self_uuid, address)


def _report(ctx, **facts):
    facts["at"] = ctx.clock.wall()
    try:
        ctx.state.write(REPORT, facts)
    except Exception:  # noqa: BLE001 - the report is informative only
        pass


def run(ctx):
    """One watch of the master; returns a Report."""
    log = ctx.log
    store = ctx.state
    self_uuid = ctx.self_uuid()
    role, master_addr = ctx.role(), ctx.master_address()
    if not self_uuid or role is None:
        return Report(Outcome.FAILED, "master watch impossible: this host's uuid (inventory) or pool role "
                                      "(pool.conf) is unknown")
    state = takeover.load_state(store, log)
    # Short: a silent master is judged by the probe round that follows, not by this read.
    timeout = max(1.0, min(ctx.xe_timeout() / 2.0, 5.0))

    if role == "master" and not takeover.in_progress(state):
        if state.phase in (core.DONE, core.FAILED):
            log.info("this host is master; the takeover ended ({}), so its state is cleared", state.phase)
            takeover.save_state(store, core.TakeoverState())
            return Report(Outcome.DONE, "master watch: this host is master; the ended takeover is cleared")
        return Report(Outcome.IDLE, "master watch idle: this host is master")

    skip_read = (takeover.in_progress(state) and state.phase in takeover.AFTER_TRANSITION) or \
        _judged_by_probes(store, self_uuid, master_addr)
    began = ctx.clock.boot()
    answer = None if skip_read else _read_master(ctx, timeout, self_uuid)
    if answer is not None:
        if master_addr:  # what this host answers its peers (jobs.peer_answer)
            peer_answer.note_read(store, began, master_addr, ctx.clock.boot_id())
        peer_check.forget(store)
        return _answered(ctx, answer, role, self_uuid, state, timeout)
    return _silent(ctx, self_uuid, state)


def _answered(ctx, answer, role, self_uuid, state, timeout):
    """The master answered: refresh the caches, lift this host's suspension when due, publish its record."""
    store = ctx.state
    other, view, published = answer
    config = _config(ctx, other, view.uuid, True)
    takeover.save_view(store, view)
    if role != "master":
        from halizard.jobs.master_cycle import clear_conflict_flag
        clear_conflict_flag(ctx, "this host follows the master that answers")
    policy, refused = host_health.policy_or_refusal(ctx, config, "the master watch")
    if policy is not None:
        _master_answers(ctx, policy, view, self_uuid, state)
    suspended = suspension.is_suspended(ctx.root)
    unreached = _unreached(store) if role != "master" else None
    _publish(ctx, timeout, view, self_uuid, published, {
        HOST_KEY: ("true" if suspended else None,
                   "this host's record now says HA is %s" % ("suspended" if suspended else "not suspended")),
        UNREACHED_KEY: (unreached, "this host's record now lists the peers it does not reach: %s" % unreached)})
    if policy is None:
        return Report(Outcome.SKIPPED, "master watch: the master answers; caches refreshed, %s" % refused)
    return Report(Outcome.QUIET, "master watch: the master answers%s" % ("; HA is suspended here" if suspended else ""))


def _silent(ctx, self_uuid, state):
    """The master is silent (or the takeover is past the transition): judge it from the cached view."""
    log, store = ctx.log, ctx.state
    config = _config(ctx, None, None, False)
    policy, refused = host_health.policy_or_refusal(ctx, config, "the master watch")
    if policy is None:
        return Report(Outcome.SKIPPED, "master watch: the master is silent; %s" % refused)
    cached = takeover.load_view(store)
    if cached is None:
        log.error("the master does not answer and no pool view was ever cached: nothing can be judged")
        return Report(Outcome.FAILED, "master watch: the master is silent and no pool view was ever cached")
    if config.pool_ha_state() != FlagState.TRUE and not takeover.in_progress(state):
        log.info("the master does not answer; HA is not enabled for this pool ({}), so nothing is done",
                 config.pool_ha_state())
        return Report(Outcome.IDLE, "master watch: the master is silent; HA is not enabled for this pool")
    suspended = suspension.takeover_suspended(store)
    if not suspended and state.phase == core.SUSPENDED:
        # The suspension was lifted (recover_fenced_host) after this run read the state: that
        # suspended takeover is over. Writing the stale phase back would leave it stuck for good.
        log.info("the HA suspension was lifted; the suspended takeover is cleared")
        state = core.TakeoverState()
        takeover.save_state(store, state)
    if suspended and not takeover.in_progress(state):
        log.warning("the master does not answer; HA is suspended on this host, so it does not act")
        _report(ctx, master="silent", suspended=True, autopromote=cached.autopromote_uuid)
        return Report(Outcome.SKIPPED, "master watch: the master is silent; HA is suspended on this host")
    return _master_silent(ctx, config, policy, cached, self_uuid, state, suspended)


def _master_answers(ctx, policy, view, self_uuid, state):
    log, store = ctx.log, ctx.state
    suspended = suspension.takeover_suspended(store)
    start = cycle.slave_start(view, policy, self_uuid, suspended)
    if any(a.kind == "ClearSuspension" for a in start.actions):
        takeover.clear_suspension(store)
        log.info("HA suspension lifted: {}", start.why)
        suspended = False
    elif suspended:
        log.info("HA stays suspended: {}", start.why)
    if not suspended and state.phase != core.IDLE and state.phase not in takeover.AFTER_TRANSITION:
        log.info("the master answers; the takeover state {} is cleared", state.phase)
        takeover.save_state(store, core.TakeoverState())
    store.remove(PROBES)
    _report(ctx, master="answers", suspended=suspended, autopromote=view.autopromote_uuid)


def _master_silent(ctx, config, policy, cached, self_uuid, state, suspended):
    env = _env(ctx, config, policy, self_uuid, cached)
    seen = "silent"
    reachable = None
    if takeover.in_progress(state) and state.phase in takeover.AFTER_TRANSITION:
        master_probe = None  # the restart checks quorum itself (takeover_checks._vm_start_gate)
        q = quorum.QuorumResult(1, 1, True, False, False, "the takeover is past the transition")
    else:
        probes, raw = _probe_round(ctx, env.platform, cached, self_uuid, policy)
        env.answered = frozenset(u for u, p in raw.items() if p.xapi_ok)
        master_probe = probes.get(cached.master_uuid)
        heur = host_health.heuristics_ok(env.platform, policy)
        reachable = frozenset(u for u, p in probes.items() if p.xapi_ok or p.network_ok)
        q = membership.quorum(ctx.state, self_uuid, [h.uuid for h in cached.hosts if h.enabled], reachable, heur,
                              policy, witness.held(ctx.state, policy))
        verdict = health.classify(master_probe, policy)
        ctx.log.info("master {}: {}; quorum: {}", cached.master_uuid, verdict.why, q.why)
        if verdict.state == health.HEALTHY:
            seen = "answers"
    ranked_last = membership.takeover_order(ctx.state)
    skipped = frozenset()
    if reachable is not None and seen != "answers":
        skipped = peer_check.voteless(env, cached, reachable, ranked_last)
    inputs = core.TakeoverInputs(self_uuid=self_uuid, pool=cached, master_probe=master_probe, quorum=q,
                                 autopromote=cached.autopromote_uuid, suspended=suspended, reachable=reachable,
                                 ranked_last=ranked_last, voteless=skipped)
    final = takeover.drive(env, inputs, state)
    _report(ctx, master=seen, probed=True, suspended=suspension.takeover_suspended(ctx.state),
            autopromote=cached.autopromote_uuid, takeover=final.phase.value)
    return _silent_report(seen, state, final)


def _silent_report(seen, before, final):
    """The run's Report after a probe round and the takeover's steps: DONE when the takeover moved on,
    DEGRADED when it ended failed or suspended, QUIET when nothing changed."""
    if final.phase == before.phase:
        now = "no takeover" if final.phase == core.IDLE else "takeover still %s" % final.phase
        return Report(Outcome.QUIET, "master watch: the master %s; %s" % (seen, now))
    if final.phase in (core.FAILED, core.SUSPENDED):
        return Report(Outcome.DEGRADED, "master watch: the takeover ended %s" % final.phase)
    return Report(Outcome.DONE, "master watch: the master %s; takeover %s -> %s" % (seen, before.phase, final.phase))
