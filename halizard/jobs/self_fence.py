"""Job `self_fence` (every host, one long run looping every SELF_FENCE_CHECK_INTERVAL): stop this host's VMs when it is cut off from the pool.

Why: without a fence that can prove death (POOL, FENCE_ENABLED=0, a 3-host
split), the other side restarts our VMs after the timed self-fence wait
(core timing.recovery_wait). That is only safe if this host, once it lost
quorum or its management link, really stops its VMs within the deadline
the wait assumes. This job measures reachability by network only (a hung
xapi still counts as reachable), works from the cached pool view and
configuration (no XAPI call: the master may be the one that is gone) and
follows core selffence.decide: stop every local domain, reboot once if
some survive the deadline, restart the toolstack when whole again.

Management link loss is observed as: no peer and no heuristic address
answers. Without heuristic addresses that is indistinguishable from "every
peer died", so only quorum loss counts then (a 2-host pool keeps its VMs).
A master that reaches nobody reboots once with FENCE_REBOOT_LONE_HOST=1.

Quorum loss that threatens (the unreached side could win; for the lone-master reboot too) must be seen in XAPI_COUNT consecutive checks (each at most
SELF_FENCE_CHECK_INTERVAL + min(2, XE_TIMEOUT/2) s) before the VMs are
stopped: one slow probe on a loaded host must not stop them. That stays
inside the detection time the timing rule allows (two probe rounds).

One run loops (a loop job, halizard.jobs.JOBS): a check every
SELF_FENCE_CHECK_INTERVAL s until the next check would not fit before the
run's deadline, then it ends and the supervisor starts the next run at once,
so no check comes later than one process start after it was due. Forking
a process per check cost ~30-45 ms of CPU each second; a check inside the
loop costs a few stat() calls when there is nothing to do, and lists the
local domains only once isolated or while a self-fence runs.
The configuration, pool view and host files are re-read only when their
modification time changes. A probe that does not answer within its bound
counts as not answering (it never stalls the loop). An unsafe configuration
(EffectiveConfig.policy() raises UnsafeConfig) makes the job refuse to act:
one ERROR line when the refusal starts or its reason changes.

Fail closed once isolated: domains that cannot be listed (`xl list` failed
or took over LIST_SECONDS) count as running; every domain is destroyed at
once under the self-fence deadline and whatever is not confirmed gone then
ends in the reboot in the same check; a refused configuration, HA switched
off or unreadable host files carry a self-fence in progress on (it is never
cancelled). Every time is env.clock.boot() (CLOCK_BOOTTIME, kept with the boot id).

The job reaches the world only through its Env (halizard.jobs.base): clocks, XAPI (its own
host disabled while self-fenced), platform, configuration; each run returns one Report.
"""
import dataclasses

from halizard.config import refusal
from halizard.core import actions as A
from halizard.core import selffence, timing
from halizard.core import witness as witness_rule
from halizard.jobs import self_fence_host as host
from halizard.jobs.base import Outcome, Report
from halizard.ops import journal

STATE = "self-fence"
END_MARGIN = 0.5       # s kept free before the run's deadline: the run ends by itself, never killed
PROBE_SLACK = timing.PROBE_SLACK
LIST_SECONDS = timing.DOMAIN_LIST_SECONDS
_probe_seconds = timing.self_fence_probe_seconds
_check_bound = timing.self_fence_check_bound
_list_domains = host.list_domains
_probe_all = host.probe_all
Reader = host.Reader
Seen = host.Seen


def run(env):
    """Check every SELF_FENCE_CHECK_INTERVAL s until the next check would not fit before the deadline.

    The run's deadline (wall time, from the supervisor) is turned into env.clock.boot() time once: a
    wall-clock step during the run neither stalls nor hurries the checks. Returns the run's Report."""
    clock = env.clock
    reader = Reader(env)
    stored = env.state.read(STATE, {}) or {}
    if env.deadline is not None:
        reader.end = clock.boot() + (env.deadline - END_MARGIN - clock.wall())
    end = reader.end
    interval, bound, failed, checks = 1.0, 1.0, None, 0
    while True:
        began = clock.boot()
        checks += 1
        try:
            stored, interval, bound = check(env, reader, stored)
            failed = None
        except Exception as exc:  # one failed check must not end the loop; said once until it changes
            if end is None:
                raise
            text = "%s: %s" % (type(exc).__name__, exc)
            if text != failed:
                env.log.error("self-fence check failed ({}); checking again in {:g} s", text, interval)
            failed = text
            stored = env.state.read(STATE, {}) or {}
        next_at = began + interval
        if end is None or next_at + bound > end:
            # one check without a deadline; else the next run (started as this one ends) takes the next check
            return _summary(reader, checks, stored, failed)
        pause = next_at - clock.boot()
        if pause > 0:
            clock.sleep(pause)


def _summary(reader, checks, stored, failed):
    """The run's Report: how many checks, and what the last one found."""
    if failed:
        return Report(Outcome.DEGRADED, "%d self-fence check(s), the last failed: %s" % (checks, failed))
    if stored.get("stopping_since") is not None:
        return Report(Outcome.DONE, "%d self-fence check(s), this host is self-fenced (%s)"
                      % (checks, stored.get("why")))
    outcome, text = reader.note or (Outcome.QUIET, stored.get("why") or "not isolated")
    return Report(outcome, "%d self-fence check(s): %s" % (checks, text))


def check(env, reader, stored):
    """One self-fence check; returns (the stored state now, seconds until the next check, check bound)."""
    from halizard.config.effective import UnsafeConfig
    from halizard.core.policy import PolicyError

    config = reader.config()
    interval = _interval(config)
    reader.watchdog = bool(config.get("SELF_FENCE_WATCHDOG"))
    if reader.watchdog:
        reader.beat(env.clock.boot() + timing.beat_window(_any_policy(config)))
    stored = _this_boot(env, stored)
    if config.pool_ha_state() != "true":
        stored, bound = _ha_off(env, reader, config, stored)
        return stored, interval, bound
    try:
        policy = config.policy()
    except (UnsafeConfig, PolicyError) as exc:
        refusal.say(env.state, env.log, "self-fence", "self-fence refuses to act: %s" % exc)
        reader.note = (Outcome.SKIPPED, "refused to act: %s" % exc)
        if stored.get("stopping_since") is not None:  # a refusal never cancels a self-fence in progress
            stored = _go_on(env, reader, config, stored, "the configuration became unusable: %s" % exc)
        return stored, interval, 1.0 + LIST_SECONDS
    refusal.say(env.state, env.log, "self-fence", None)
    bound = _check_bound(policy)
    if stored.get("stopping_since") is not None or stored.get("lost_rounds") \
            or stored.get("link_down_since") is not None:
        bound += LIST_SECONDS  # the domains may be listed in this check
    return _with_view(env, reader, config, policy, stored), interval, bound


def _ha_off(env, reader, config, stored):
    """HA is switched off: nothing to judge; a self-fence in progress still ends in "nothing runs here".
    Returns (the stored state now, check bound)."""
    reader.note = (Outcome.IDLE, "HA is disabled")
    if stored.get("stopping_since") is not None:
        stored = _go_on(env, reader, config, stored, "HA was disabled during the self-fence")
        if not stored.get("nothing_runs"):
            return stored, 1.0 + LIST_SECONDS
    if stored:
        env.state.remove(STATE)
        host.resume_vm_starts(env)
    return {}, 1.0


def _with_view(env, reader, config, policy, stored):
    """Judge from this host's pool view; without one (or without itself in it) only carry a self-fence on."""
    fencing = stored.get("stopping_since") is not None
    try:
        hosts = reader.hosts()
        self_uuid = reader.self_uuid() if hosts else None
    except Exception as exc:  # noqa: BLE001 - unreadable host files never cancel a self-fence
        if not fencing:
            raise
        hosts, self_uuid = [], "%s: %s" % (type(exc).__name__, exc)
    if not hosts or not any(h["uuid"] == self_uuid for h in hosts):
        reader.note = (Outcome.SKIPPED, "no pool view of this host to judge from yet")
        if fencing:  # no pool view to judge from: nothing to end the self-fence with either
            return _go_on(env, reader, config, stored, "no pool view to judge from")
        return stored
    reader.note = None
    return _judge(env, reader, Seen(reader.role(), self_uuid, hosts), policy, stored)


def _this_boot(env, stored):
    """The stored state with its clock readings, or without them when they come from another boot
    (or an older version that used the wall clock): a self-fence in progress restarts its deadline now."""
    boot = env.clock.boot_id()
    if not stored or stored.get("boot") == boot:
        return stored
    fresh = {k: v for k, v in stored.items()
             if k not in ("link_down_since", "stopping_since", "lost_rounds", "lost_at", "confirm_at")}
    if stored.get("stopping_since") is not None:
        fresh["stopping_since"] = env.clock.boot()
        fresh["reboot_requested"] = False
    fresh["boot"] = boot
    return fresh


def _any_policy(config):
    """The configuration's Policy without the safety check (stopping VMs is the safe side), else the
    defaults: what a self-fence in progress and the watchdog beat go on with."""
    from halizard.core.policy import Policy, PolicyError
    try:
        return Policy.from_mapping(config.as_mapping())
    except PolicyError:
        return Policy()


def _go_on(env, reader, config, stored, why):
    """Carry a self-fence in progress on without judging isolation: stop, or reboot at its deadline."""
    policy = _any_policy(config)
    timeout = stored.get("stop_timeout")
    if isinstance(timeout, (int, float)) and timeout > 0:
        policy = dataclasses.replace(policy, SELF_FENCE_STOP_TIMEOUT=float(timeout))
    new = dict(stored, why="self-fence held: %s" % why)
    now = env.clock.boot()
    local = _list_domains(env, reader.platform())
    decision = selffence.decide(now, policy, link_down_since=None, quorum=None, local_vms=local,
                                in_progress=selffence.InProgress.of(
                                    stored["stopping_since"], bool(stored.get("reboot_requested")), why))
    _act(env, reader, decision, new, now)
    new["nothing_runs"] = local == []
    if new != stored:
        env.state.write(STATE, new)
    return new


def _interval(config):
    try:
        return max(0.1, float(config.get("SELF_FENCE_CHECK_INTERVAL")))
    except (TypeError, ValueError):
        return 1.0


def _reboot(env, new, platform, why):
    """Reboot now (the platform's immediate reboot); a failed request is retried at the next check."""
    from halizard.platform.base import PlatformError
    new["reboot_requested"] = True
    env.state.write(STATE, new)
    env.log.error("self-fence: rebooting ({})", why)
    try:
        platform.reboot()
    except PlatformError as exc:
        new["reboot_requested"] = False
        env.state.write(STATE, new)
        env.log.error("self-fence: the reboot failed ({}); trying again at the next check", exc)


def _loss_times(env, stored, q, confirmed):
    """(when the quorum loss began to threaten, when it was confirmed), monotonic, for
    witness.waits_for_vote (core.witness.loss_anchors)."""
    def number(key):
        value = stored.get(key)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return witness_rule.loss_anchors(number("lost_at"), number("confirm_at"), not q.has_quorum,
                                     q.other_side_could_win, confirmed, env.clock.monotonic())


def _judge(env, reader, seen, policy, stored):
    """Measure, decide (core.selffence) and act; returns the state as stored now.

    `seen`: this host's role, uuid and the enabled hosts of its pool view (a Seen)."""
    from halizard.jobs import membership, witness

    self_uuid, hosts, platform = seen.self_uuid, seen.hosts, reader.platform()
    peers = [(h["uuid"], h.get("address") or "") for h in hosts if h.get("enabled") and h["uuid"] != self_uuid]
    reached, heuristics = _probe_all(platform, policy, peers, _probe_seconds(policy))
    enabled = [h["uuid"] for h in hosts if h.get("enabled")]
    q = membership.quorum(env.state, self_uuid, enabled, {u for u, ok in reached.items() if ok}, heuristics,
                          policy, witness.held(env.state, policy, env.clock))
    lost = not q.has_quorum
    membership.note_quorum(env.state, q.has_quorum, env.clock.boot(), policy)
    threat = selffence.loss_counts(q, seen.role == "master")
    lost_rounds = int(stored.get("lost_rounds") or 0) + 1 if threat else 0
    confirmed = None if threat and lost_rounds < policy.XAPI_COUNT else q
    loss = _loss_times(env, stored, q, confirmed is not None)
    if confirmed is not None and lost and witness.waits_for_vote(env.state, policy, *loss, clock=env.clock) and \
            membership.quorum(env.state, self_uuid, enabled, {u for u, ok in reached.items() if ok}, heuristics,
                              policy, True).has_quorum:
        confirmed = None  # the holder's lease is not renewed: its vote may come to this side (core.witness)
    now = env.clock.boot()
    link_lost = bool(peers) and not any(reached.values()) and heuristics is False
    link_down_since = stored.get("link_down_since") if link_lost else None
    if link_lost and link_down_since is None:
        link_down_since = now
    # the domain list (`xl list` on a dom0) only matters once isolated or while a self-fence runs
    needed = stored.get("stopping_since") is not None or selffence.isolation(now, link_down_since, confirmed,
                                                                             policy) is not None
    local = _list_domains(env, platform) if needed else []
    decision = selffence.decide(now, policy, link_down_since=link_down_since, quorum=confirmed, local_vms=local,
                                in_progress=selffence.InProgress.of(stored.get("stopping_since"),
                                                                    bool(stored.get("reboot_requested"))))
    new = {"boot": env.clock.boot_id(), "link_down_since": link_down_since,
           "stopping_since": stored.get("stopping_since"), "stop_timeout": policy.SELF_FENCE_STOP_TIMEOUT,
           "reboot_requested": bool(stored.get("reboot_requested")),
           "lone_rebooted": bool(stored.get("lone_rebooted")), "disabled_self": bool(stored.get("disabled_self")),
           "why": decision.why, "lost_rounds": lost_rounds, "lost_at": loss[0], "confirm_at": loss[1],
           "unreached": sorted(u for u, ok in reached.items() if not ok),
           "quorum": {"votes": q.votes, "total": q.total, "has_quorum": q.has_quorum}}
    if decision.fencing and local and not any(isinstance(a, A.StopLocalVms) for a in decision.actions):
        # nothing may run on a self-fenced host, whatever started it
        host.stop_domains(env, platform, local, now + LIST_SECONDS, "self-fenced")
    master = seen.role == "master"
    if any(isinstance(a, A.StopLocalVms) for a in decision.actions) and master and not stored.get("disabled_self"):
        _act(env, reader, decision, new, now, before_stop=lambda: new.update(
            disabled_self=host.set_enabled(env, self_uuid, False, policy)))
    else:
        _act(env, reader, decision, new, now)
    _after(env, seen, policy, decision, stored, new)
    if master and not decision.fencing and confirmed is not None:
        for action in selffence.lone_host(q, policy, new["lone_rebooted"]):
            new["lone_rebooted"] = True
            env.state.write(STATE, new)
            env.log.error("lone master: rebooting once ({})", action.why)
            platform.reboot()
    if q.votes > 1:
        new["lone_rebooted"] = False
    if new != stored:
        env.state.write(STATE, new)
    return new


def _after(env, seen, policy, decision, stored, new):
    """The end of a self-fence (RestartToolstack): this host rejoins; `new` records it."""
    from halizard.platform.base import PlatformError

    for action in decision.actions:
        if isinstance(action, A.RestartToolstack):
            new["stopping_since"] = None
            new["reboot_requested"] = False
            if stored.get("disabled_self") and seen.role == "master":
                host.set_enabled(env, seen.self_uuid, True, policy)
            new["disabled_self"] = False
            host.resume_vm_starts(env)
            env.log.warning("self-fence over: restarting the toolstack ({})", action.why)
            try:
                env.platform.restart_toolstack()
            except PlatformError as exc:
                env.log.error("toolstack restart failed: {}", exc)


def _act(env, reader, decision, new, now, before_stop=None):
    """Carry out the self-fence actions (StopLocalVms, RebootSelf) of `decision`, updating `new`.

    The domains are destroyed all at once under the self-fence deadline; if any is not confirmed
    gone when that deadline comes, the host reboots in the same check (the budget counts on it).
    The wait never outlasts the run's own end (reader.end, env.clock.boot() time): the next run goes on."""
    platform, end = reader.platform(), reader.end
    for action in decision.actions:
        if isinstance(action, A.StopLocalVms):
            if new.get("stopping_since") is None:
                new["stopping_since"] = now
                env.log.error("SELF-FENCE: {}", action.why)
                journal.record(env.state, "self-fence", action.why)
            env.state.write(STATE, new)  # recorded before acting: a crash mid-way continues
            host.suspend_vm_starts(env, action.why)
            if before_stop is not None:
                before_stop()
                env.state.write(STATE, new)
            until = action.deadline if end is None else min(action.deadline, end)
            # the decision is made: the backstop feeds the device until the deadline (when it watches)
            reader.beat(action.deadline + LIST_SECONDS + 1.0)
            left = host.stop_domains(env, platform, list(action.vm_uuids), until)
            if left and env.clock.boot() >= action.deadline and not new.get("reboot_requested"):
                _reboot(env, new, platform, "%d domains still run at the self-fence deadline" % len(left))
        elif isinstance(action, A.RebootSelf):
            _reboot(env, new, platform, action.why)


def is_self_fencing(state):
    """True while this host is self-fenced: no job may start a VM here (roles.may_start_vms).

    `state` is this host's halizard.statefiles.StateStore.
    """
    stored = state.read(STATE, {}) or {}
    return stored.get("stopping_since") is not None


def has_quorum(state):
    """The quorum this job measured last (True/False), or None before its first round."""
    stored = state.read(STATE, {}) or {}
    q = stored.get("quorum")
    return bool(q.get("has_quorum")) if isinstance(q, dict) else None
