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
"""
import os
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

from halizard.core import actions as A
from halizard.ops import journal

STATE = "self-fence"
END_MARGIN = 0.5       # s kept free before the run's deadline: the run ends by itself, never killed
PROBE_SLACK = 1.0      # s a probe may overrun its own deadline before it counts as not answering


def _probe_seconds(policy):
    return max(0.5, min(2.0, policy.XE_TIMEOUT / 2.0))


def _check_bound(policy):
    """Seconds one check may take at most (probes plus local work): the loop's end is planned with it."""
    return _probe_seconds(policy) * (1 + len(policy.FENCE_HEURISTICS_IPS or ())) + PROBE_SLACK + 1.0


def _probe_all(platform, policy, peers, seconds):
    """({uuid: reached by network}, heuristics True/False/None), all at once, within a bound.

    A probe still running `seconds + PROBE_SLACK` after the start counts as
    not answering; its thread is left behind (it ends at its own deadline).
    """
    from halizard.jobs import host_health
    from halizard.probes import net
    from halizard.probes.deadline import after

    if not peers and not policy.heuristics_configured:
        return {}, None
    source = platform.source_address()

    def one(address):
        try:
            return net.probe(platform.probe_target(address), after(seconds), source).ok
        except (net.ProbeSetupError, net.ProbeInputError):
            return True  # a probe that cannot run proves nothing: never self-fence on it

    pool = ThreadPoolExecutor(max_workers=len(peers) + 1, thread_name_prefix="sfprobe")
    try:
        futures = {uuid: pool.submit(one, address) for uuid, address in peers}
        heur = pool.submit(host_health.heuristics_ok, platform, policy, seconds)
        bound = seconds * (1 + len(policy.FENCE_HEURISTICS_IPS or ())) + PROBE_SLACK
        wait_futures(list(futures.values()) + [heur], timeout=bound)
    finally:
        pool.shutdown(wait=False)
    reached = {uuid: bool(f.done() and not f.exception() and f.result()) for uuid, f in futures.items()}
    if heur.done() and not heur.exception():
        heuristics = heur.result()
    else:
        heuristics = False if policy.heuristics_configured else None
    return reached, heuristics


def _cached_hosts(view):
    return [h for h in (view or {}).get("hosts", []) if isinstance(h, dict) and h.get("uuid")]


def _stat_key(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Reader:
    """This host's configuration and files, re-read only when one of them changed (stat keys)."""

    def __init__(self, root, state):
        from halizard import paths
        from halizard.config import cache
        from halizard.config.effective import POOL_CACHE

        self.root = root
        self.state = state
        self._config_paths = (paths.under(root, paths.OVERRIDE_FILE), cache.state_path(root, POOL_CACHE))
        self._paths = {"pool.conf": paths.under(root, paths.POOL_CONF),
                       "inventory": paths.under(root, paths.INVENTORY),
                       "pool-view": state.path("pool-view")}
        self._memo = {}
        self._platform = None

    def platform(self):
        """This host's platform (simulated or dom0), made once per run."""
        if self._platform is None:
            from halizard.platform import get_platform
            self._platform = get_platform(self.root)
        return self._platform

    def _cached(self, name, keys, load):
        entry = self._memo.get(name)
        if entry is not None and entry[0] == keys:
            return entry[1]
        value = load()
        self._memo[name] = (keys, value)
        return value

    def config(self):
        from halizard.config.effective import cached_pool, load_effective

        def load():
            _uuid, other = cached_pool(self.root)
            return load_effective(self.root, pool_other_config=other or {})
        return self._cached("config", tuple(_stat_key(p) for p in self._config_paths), load)

    def self_uuid(self):
        from halizard import hostinfo
        return self._cached("inventory", _stat_key(self._paths["inventory"]),
                            lambda: hostinfo.local_host_uuid(self.root))

    def role(self):
        from halizard import hostinfo
        return self._cached("pool.conf", _stat_key(self._paths["pool.conf"]),
                            lambda: hostinfo.read_pool_conf(self.root)[0])

    def hosts(self):
        return self._cached("pool-view", _stat_key(self._paths["pool-view"]),
                            lambda: _cached_hosts(self.state.read("pool-view", {})))


def run(ctx):
    """Check every SELF_FENCE_CHECK_INTERVAL s until the next check would not fit before the deadline."""
    reader = Reader(ctx.root, ctx.state)
    stored = ctx.state.read(STATE, {}) or {}
    end = None if ctx.deadline is None else ctx.deadline - END_MARGIN
    interval, bound, failed = 1.0, 1.0, None
    while True:
        began = time.time()
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
        pause = next_at - time.time()
        if pause > 0:
            time.sleep(pause)


def check(ctx, reader, stored):
    """One self-fence check; returns (the stored state now, seconds until the next check, check bound)."""
    from halizard.config.effective import UnsafeConfig
    from halizard.core.policy import PolicyError

    config = reader.config()
    interval = _interval(config)
    if config.pool_ha_state() != "true":
        if stored:
            ctx.state.remove(STATE)
            _resume_vm_starts(ctx)
        return {}, interval, 1.0
    try:
        policy = config.policy()
    except (UnsafeConfig, PolicyError) as exc:
        return _refuse(ctx, stored, str(exc)), interval, 1.0
    if stored.get("refused"):
        ctx.log.warning("self-fence acts again: the configuration is safe now")
        stored = dict(stored)
        stored.pop("refused")
        ctx.state.write(STATE, stored)
    bound = _check_bound(policy)
    hosts = reader.hosts()
    if not hosts:
        return stored, interval, bound  # no pool view yet: nothing to judge from
    self_uuid = reader.self_uuid()
    if not any(h["uuid"] == self_uuid for h in hosts):
        return stored, interval, bound
    return _judge(ctx, reader.role(), self_uuid, hosts, policy, stored, reader.platform()), interval, bound


def _interval(config):
    try:
        return max(0.1, float(config.get("SELF_FENCE_CHECK_INTERVAL")))
    except (TypeError, ValueError):
        return 1.0


def _refuse(ctx, stored, reason):
    """HA must not act on this configuration: say so once (per reason), change nothing else."""
    if stored.get("refused") == reason:
        return stored
    ctx.log.error("self-fence refuses to act: {}", reason)
    stored = dict(stored, refused=reason)
    ctx.state.write(STATE, stored)
    return stored


def _judge(ctx, role, self_uuid, hosts, policy, stored, platform):
    """Measure, decide (core.selffence) and act; returns the state as stored now."""
    from halizard.core import quorum, selffence
    from halizard.platform.base import PlatformError

    peers = [(h["uuid"], h.get("address") or "") for h in hosts if h.get("enabled") and h["uuid"] != self_uuid]
    reached, heuristics = _probe_all(platform, policy, peers, _probe_seconds(policy))
    enabled = [h["uuid"] for h in hosts if h.get("enabled")]
    q = quorum.compute(self_uuid, enabled, {u for u, ok in reached.items() if ok}, heuristics, policy)
    lost = not q.has_quorum
    lost_rounds = int(stored.get("lost_rounds") or 0) + 1 if lost else 0
    confirmed = None if lost and lost_rounds < policy.XAPI_COUNT else q
    now = time.time()
    link_lost = bool(peers) and not any(reached.values()) and heuristics is False
    link_down_since = stored.get("link_down_since") if link_lost else None
    if link_lost and link_down_since is None:
        link_down_since = now
    # the domain list (`xl list` on a dom0) only matters once isolated or while a self-fence runs
    needed = stored.get("stopping_since") is not None or selffence.isolation(now, link_down_since, confirmed,
                                                                             policy) is not None
    local = platform.local_domains() if needed else []
    decision = selffence.decide(now, policy, link_down_since=link_down_since, quorum=confirmed, local_vms=local,
                                stopping_since=stored.get("stopping_since"),
                                reboot_requested=bool(stored.get("reboot_requested")))
    new = {"link_down_since": link_down_since, "stopping_since": stored.get("stopping_since"),
           "reboot_requested": bool(stored.get("reboot_requested")),
           "lone_rebooted": bool(stored.get("lone_rebooted")), "disabled_self": bool(stored.get("disabled_self")), "why": decision.why, "lost_rounds": lost_rounds,
           "quorum": {"votes": q.votes, "total": q.total, "has_quorum": q.has_quorum}}
    if decision.fencing and local and not any(isinstance(a, A.StopLocalVms) for a in decision.actions):
        for vm in local:  # nothing may run on a self-fenced host, whatever started it
            try:
                platform.destroy_domain(vm)
                ctx.log.warning("self-fenced: domain of VM {} destroyed", vm)
            except PlatformError as exc:
                ctx.log.error("self-fenced: VM {} not destroyed: {}", vm, exc)
    for action in decision.actions:
        if isinstance(action, A.StopLocalVms):
            if new["stopping_since"] is None:
                new["stopping_since"] = now
                ctx.log.error("SELF-FENCE: {}", action.why)
                journal.record(ctx.state, "self-fence", action.why)
            ctx.state.write(STATE, new)  # recorded before acting: a crash mid-way continues
            _suspend_vm_starts(ctx, action.why)
            if role == "master" and not stored.get("disabled_self"):
                new["disabled_self"] = _set_enabled(ctx, self_uuid, False, policy)
                ctx.state.write(STATE, new)
            for vm in action.vm_uuids:
                try:
                    platform.destroy_domain(vm)
                    ctx.log.warning("self-fence: domain of VM {} destroyed", vm)
                except PlatformError as exc:
                    ctx.log.error("self-fence: VM {} not destroyed: {}", vm, exc)
        elif isinstance(action, A.RebootSelf):
            new["reboot_requested"] = True
            ctx.state.write(STATE, new)
            ctx.log.error("self-fence: rebooting ({})", action.why)
            platform.reboot()
        elif isinstance(action, A.RestartToolstack):
            new["stopping_since"] = None
            new["reboot_requested"] = False
            if stored.get("disabled_self") and role == "master":
                _set_enabled(ctx, self_uuid, True, policy)
            new["disabled_self"] = False
            _resume_vm_starts(ctx)
            ctx.log.warning("self-fence over: restarting the toolstack ({})", action.why)
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
