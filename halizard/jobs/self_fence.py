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

Quorum loss (for the lone-master reboot too) must be seen in XAPI_COUNT consecutive checks (each at most
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
cancelled). Every time is clock.now() (CLOCK_BOOTTIME, kept with the boot id).
"""
import dataclasses
import threading
import time

from halizard.config import refusal
from halizard.core import actions as A
from halizard.core import selffence, timing
from halizard.jobs import self_fence_host as host
from halizard.probes import clock
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


def run(ctx):
    """Check every SELF_FENCE_CHECK_INTERVAL s until the next check would not fit before the deadline.

    The run's deadline (wall time, from the supervisor) is turned into clock.now() time once: a
    wall-clock step during the run neither stalls nor hurries the checks."""
    reader = Reader(ctx.root, ctx.state)
    stored = ctx.state.read(STATE, {}) or {}
    if ctx.deadline is not None:
        reader.end = clock.now() + (ctx.deadline - END_MARGIN - time.time())
    end = reader.end
    interval, bound, failed = 1.0, 1.0, None
    while True:
        began = clock.now()
        try:
            stored, interval, bound = check(ctx, reader, stored)
            failed = None
        except Exception as exc:  # one failed check must not end the loop; said once until it changes
            if end is None:
                raise
            text = "%s: %s" % (type(exc).__name__, exc)
            if text != failed:
                ctx.log.error("self-fence check failed ({}); checking again in {:g} s", text, interval)
            failed = text
            stored = ctx.state.read(STATE, {}) or {}
        next_at = began + interval
        if end is None:
            return  # one check per run (no deadline to loop within)
        if next_at + bound > end:
            return  # the next run (started as this one ends) takes the next check
        pause = next_at - clock.now()
        if pause > 0:
            time.sleep(pause)


def check(ctx, reader, stored):
    """One self-fence check; returns (the stored state now, seconds until the next check, check bound)."""
    from halizard.config.effective import UnsafeConfig
    from halizard.core.policy import PolicyError

    config = reader.config()
    interval = _interval(config)
    reader.watchdog = bool(config.get("SELF_FENCE_WATCHDOG"))
    if reader.watchdog:
        reader.beat(clock.now() + timing.beat_window(_any_policy(config)))
    stored = _this_boot(stored)
    fencing = stored.get("stopping_since") is not None
    if config.pool_ha_state() != "true":
        if fencing:  # HA switched off mid-way: the self-fence still ends in "nothing runs here"
            stored = _go_on(ctx, reader, config, stored, "HA was disabled during the self-fence")
            if not stored.get("nothing_runs"):
                return stored, interval, 1.0 + LIST_SECONDS
        if stored:
            ctx.state.remove(STATE)
            _resume_vm_starts(ctx)
        return {}, interval, 1.0
    try:
        policy = config.policy()
    except (UnsafeConfig, PolicyError) as exc:
        refusal.say(ctx.state, ctx.log, "self-fence", "self-fence refuses to act: %s" % exc)
        if fencing:  # a refusal never cancels a self-fence in progress
            stored = _go_on(ctx, reader, config, stored, "the configuration became unusable: %s" % exc)
        return stored, interval, 1.0 + LIST_SECONDS
    refusal.say(ctx.state, ctx.log, "self-fence", None)
    bound = _check_bound(policy)
    if fencing or stored.get("lost_rounds") or stored.get("link_down_since") is not None:
        bound += LIST_SECONDS  # the domains may be listed in this check
    try:
        hosts = reader.hosts()
        self_uuid = reader.self_uuid() if hosts else None
    except Exception as exc:  # noqa: BLE001 - unreadable host files never cancel a self-fence
        if not fencing:
            raise
        hosts, self_uuid = [], "%s: %s" % (type(exc).__name__, exc)
    if not hosts or not any(h["uuid"] == self_uuid for h in hosts):
        if fencing:  # no pool view to judge from: nothing to end the self-fence with either
            return _go_on(ctx, reader, config, stored, "no pool view to judge from"), interval, bound
        return stored, interval, bound
    return _judge(ctx, reader.role(), self_uuid, hosts, policy, stored, reader.platform(),
                  reader.end, reader.beat), interval, bound


def _this_boot(stored):
    """The stored state with its clock readings, or without them when they come from another boot
    (or an older version that used the wall clock): a self-fence in progress restarts its deadline now."""
    boot = clock.boot_id()
    if not stored or stored.get("boot") == boot:
        return stored
    fresh = {k: v for k, v in stored.items()
             if k not in ("link_down_since", "stopping_since", "lost_rounds", "lost_at", "confirm_at")}
    if stored.get("stopping_since") is not None:
        fresh["stopping_since"] = clock.now()
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


def _go_on(ctx, reader, config, stored, why):
    """Carry a self-fence in progress on without judging isolation: stop, or reboot at its deadline."""
    policy = _any_policy(config)
    timeout = stored.get("stop_timeout")
    if isinstance(timeout, (int, float)) and timeout > 0:
        policy = dataclasses.replace(policy, SELF_FENCE_STOP_TIMEOUT=float(timeout))
    new = dict(stored, why="self-fence held: %s" % why)
    now = clock.now()
    platform = reader.platform()
    local = _list_domains(ctx, platform)
    decision = selffence.decide(now, policy, link_down_since=None, quorum=None, local_vms=local,
                                stopping_since=stored["stopping_since"],
                                reboot_requested=bool(stored.get("reboot_requested")), held=why)
    _act(ctx, decision, new, now, platform, reader.end, beat=reader.beat)
    new["nothing_runs"] = local == []
    if new != stored:
        ctx.state.write(STATE, new)
    return new


def _interval(config):
    try:
        return max(0.1, float(config.get("SELF_FENCE_CHECK_INTERVAL")))
    except (TypeError, ValueError):
        return 1.0


def _stop_domains(ctx, platform, vm_uuids, until, what="self-fence"):
    """Destroy every domain at once (one daemon thread each) and wait until they are done or `until`
    (clock.now() time) passes; returns the VMs not confirmed destroyed."""
    done, threads = set(), []

    def one(vm):
        try:
            platform.destroy_domain(vm)
            done.add(vm)
            ctx.log.warning("{}: domain of VM {} destroyed", what, vm)
        except Exception as exc:  # noqa: BLE001 - a failed stop ends in the reboot, never in silence
            ctx.log.error("{}: VM {} not destroyed: {}", what, vm, exc)
    for vm in vm_uuids:
        thread = threading.Thread(target=one, args=(vm,), name="sfstop", daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(max(0.0, until - clock.now()))
    return [vm for vm in vm_uuids if vm not in done]


def _reboot(ctx, new, platform, why):
    """Reboot now (the platform's immediate reboot); a failed request is retried at the next check."""
    from halizard.platform.base import PlatformError
    new["reboot_requested"] = True
    ctx.state.write(STATE, new)
    ctx.log.error("self-fence: rebooting ({})", why)
    try:
        platform.reboot()
    except PlatformError as exc:
        new["reboot_requested"] = False
        ctx.state.write(STATE, new)
        ctx.log.error("self-fence: the reboot failed ({}); trying again at the next check", exc)


def _loss_times(stored, lost, confirmed):
    """(when quorum was lost, when that loss was confirmed), monotonic, for witness.waits_for_vote."""
    if not lost:
        return None, None
    now = time.monotonic()
    lost_at = stored.get("lost_at") if isinstance(stored.get("lost_at"), (int, float)) else now
    confirm_at = stored.get("confirm_at") if isinstance(stored.get("confirm_at"), (int, float)) else None
    return lost_at, (confirm_at if confirm_at is not None else (now if confirmed else None))


def _judge(ctx, role, self_uuid, hosts, policy, stored, platform, end=None, beat=None):
    """Measure, decide (core.selffence) and act; returns the state as stored now."""
    from halizard.jobs import membership, witness

    peers = [(h["uuid"], h.get("address") or "") for h in hosts if h.get("enabled") and h["uuid"] != self_uuid]
    reached, heuristics = _probe_all(platform, policy, peers, _probe_seconds(policy))
    enabled = [h["uuid"] for h in hosts if h.get("enabled")]
    q = membership.quorum(ctx.state, self_uuid, enabled, {u for u, ok in reached.items() if ok}, heuristics,
                          policy, witness.held(ctx.state, policy))
    lost = not q.has_quorum
    membership.note_quorum(ctx.state, q.has_quorum, clock.now(), policy)
    lost_rounds = int(stored.get("lost_rounds") or 0) + 1 if lost else 0
    confirmed = None if lost and lost_rounds < policy.XAPI_COUNT else q
    loss = _loss_times(stored, lost, confirmed is not None)
    if confirmed is not None and lost and witness.waits_for_vote(ctx.state, policy, *loss) and membership.quorum(
            ctx.state, self_uuid, enabled, {u for u, ok in reached.items() if ok}, heuristics, policy,
            True).has_quorum:
        confirmed = None  # the holder's lease is not renewed: its vote may come to this side (core.witness)
    now = clock.now()
    link_lost = bool(peers) and not any(reached.values()) and heuristics is False
    link_down_since = stored.get("link_down_since") if link_lost else None
    if link_lost and link_down_since is None:
        link_down_since = now
    # the domain list (`xl list` on a dom0) only matters once isolated or while a self-fence runs
    needed = stored.get("stopping_since") is not None or selffence.isolation(now, link_down_since, confirmed,
                                                                             policy) is not None
    local = _list_domains(ctx, platform) if needed else []
    decision = selffence.decide(now, policy, link_down_since=link_down_since, quorum=confirmed, local_vms=local,
                                stopping_since=stored.get("stopping_since"),
                                reboot_requested=bool(stored.get("reboot_requested")))
    new = {"boot": clock.boot_id(), "link_down_since": link_down_since,
           "stopping_since": stored.get("stopping_since"), "stop_timeout": policy.SELF_FENCE_STOP_TIMEOUT,
           "reboot_requested": bool(stored.get("reboot_requested")),
           "lone_rebooted": bool(stored.get("lone_rebooted")), "disabled_self": bool(stored.get("disabled_self")),
           "why": decision.why, "lost_rounds": lost_rounds, "lost_at": loss[0], "confirm_at": loss[1],
           "unreached": sorted(u for u, ok in reached.items() if not ok),
           "quorum": {"votes": q.votes, "total": q.total, "has_quorum": q.has_quorum}}
    if decision.fencing and local and not any(isinstance(a, A.StopLocalVms) for a in decision.actions):
        # nothing may run on a self-fenced host, whatever started it
        _stop_domains(ctx, platform, local, now + LIST_SECONDS, "self-fenced")
    if any(isinstance(a, A.StopLocalVms) for a in decision.actions) and role == "master" \
            and not stored.get("disabled_self"):
        _act(ctx, decision, new, now, platform, end, beat=beat, before_stop=lambda: new.update(
            disabled_self=_set_enabled(ctx, self_uuid, False, policy)))
    else:
        _act(ctx, decision, new, now, platform, end, beat=beat)
    for action in decision.actions:
        if isinstance(action, A.RestartToolstack):
            new["stopping_since"] = None
            new["reboot_requested"] = False
            if stored.get("disabled_self") and role == "master":
                _set_enabled(ctx, self_uuid, True, policy)
            new["disabled_self"] = False
            _resume_vm_starts(ctx)
            ctx.log.warning("self-fence over: restarting the toolstack ({})", action.why)
            from halizard.platform.base import PlatformError
            try:
                platform.restart_toolstack()
            except PlatformError as exc:
                ctx.log.error("toolstack restart failed: {}", exc)
    if role == "master" and not decision.fencing and confirmed is not None:
        for action in selffence.lone_host(q, policy, new["lone_rebooted"]):
            new["lone_rebooted"] = True
            ctx.state.write(STATE, new)
            ctx.log.error("lone master: rebooting once ({})", action.why)
            platform.reboot()
    if q.votes > 1:
        new["lone_rebooted"] = False
    if new != stored:
        ctx.state.write(STATE, new)
    return new


def _act(ctx, decision, new, now, platform, end=None, before_stop=None, beat=None):
    """Carry out the self-fence actions (StopLocalVms, RebootSelf) of `decision`, updating `new`.

    The domains are destroyed all at once under the self-fence deadline; if any is not confirmed
    gone when that deadline comes, the host reboots in the same check (the budget counts on it).
    `end`: the run's own end (clock.now() time); the wait never outlasts it, the next run goes on."""
    for action in decision.actions:
        if isinstance(action, A.StopLocalVms):
            if new.get("stopping_since") is None:
                new["stopping_since"] = now
                ctx.log.error("SELF-FENCE: {}", action.why)
                journal.record(ctx.state, "self-fence", action.why)
            ctx.state.write(STATE, new)  # recorded before acting: a crash mid-way continues
            _suspend_vm_starts(ctx, action.why)
            if before_stop is not None:
                before_stop()
                ctx.state.write(STATE, new)
            until = action.deadline if end is None else min(action.deadline, end)
            if beat is not None:  # the decision is made: the backstop feeds the device until the deadline
                beat(action.deadline + LIST_SECONDS + 1.0)
            left = _stop_domains(ctx, platform, list(action.vm_uuids), until)
            if left and clock.now() >= action.deadline and not new.get("reboot_requested"):
                _reboot(ctx, new, platform, "%d domains still run at the self-fence deadline" % len(left))
        elif isinstance(action, A.RebootSelf):
            _reboot(ctx, new, platform, action.why)


SUSPENDED_FLAG = "ha-suspended"


def _suspend_vm_starts(ctx, why):
    """Raise the HA-suspended flag the VM jobs honour (halizard.suspension.is_suspended) while self-fenced."""
    if not (ctx.state.read(SUSPENDED_FLAG, {}) or {}).get("suspended"):
        ctx.state.write(SUSPENDED_FLAG, {"suspended": True, "by": "self_fence", "since": time.time(), "why": why})


def _resume_vm_starts(ctx):
    """Lower that flag, but only if the self-fence raised it."""
    if (ctx.state.read(SUSPENDED_FLAG, {}) or {}).get("by") == "self_fence":
        ctx.state.remove(SUSPENDED_FLAG)


def _set_enabled(ctx, host_uuid, enabled, policy):
    """A self-fencing master disables itself in its own database so nothing places VMs on it
    (its other jobs would restart what it just stopped); enabled again when whole. Best effort,
    within min(2, XE_TIMEOUT) s; True when done."""
    from halizard.xapi.errors import XapiError
    from halizard.xapi.session import connect
    try:
        session = connect(ctx.root, timeout=max(0.5, min(2.0, policy.XE_TIMEOUT)))
    except XapiError as exc:
        ctx.log.warning("self-fence: own xapi not answering ({}); host left {}", type(exc).__name__,
                        "disabled" if enabled else "enabled")
        return False
    try:
        host = session.xenapi.host
        ref = host.get_by_uuid(host_uuid)
        (host.enable if enabled else host.disable)(ref)
        ctx.log.warning("self-fence: this host {} so no VM is placed here meanwhile",
                        "re-enabled" if enabled else "disabled")
        return True
    except XapiError as exc:
        ctx.log.warning("self-fence: host.{} failed ({})", "enable" if enabled else "disable", type(exc).__name__)
        return False
    finally:
        session.logout()


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
