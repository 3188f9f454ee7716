"""Job `self_fence` (every host, every second): stop this host's VMs when it is cut off from the pool.

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
"""
import time
from concurrent.futures import ThreadPoolExecutor

from halizard.core import actions as A

STATE = "self-fence"


def _probe_network(platform, peers, seconds):
    """{uuid: reached by network} for (uuid, address) peers, all at once."""
    from halizard.probes import net
    from halizard.probes.deadline import after
    if not peers:
        return {}
    source = platform.source_address()

    def one(peer):
        try:
            return net.probe(platform.probe_target(peer[1]), after(seconds), source).ok
        except (net.ProbeSetupError, net.ProbeInputError):
            return True  # a probe that cannot run proves nothing: never self-fence on it
    with ThreadPoolExecutor(max_workers=len(peers), thread_name_prefix="sfprobe") as pool:
        return dict(zip([p[0] for p in peers], pool.map(one, peers)))


def _cached_hosts(state):
    view = state.read("pool-view", {}) or {}
    return [h for h in view.get("hosts", []) if isinstance(h, dict) and h.get("uuid")]


def run(ctx):
    from halizard import hostinfo
    from halizard.config.effective import cached_pool, load_effective
    from halizard.core import quorum, selffence
    from halizard.core.policy import Policy
    from halizard.jobs import host_health
    from halizard.platform import get_platform
    from halizard.platform.base import PlatformError

    _uuid, other = cached_pool(ctx.root)
    config = load_effective(ctx.root, pool_other_config=other or {})
    stored = ctx.state.read(STATE, {}) or {}
    if config.pool_ha_state() != "true":
        if stored:
            ctx.state.remove(STATE)
            _resume_vm_starts(ctx)
        return
    policy = Policy.from_mapping(dict(config.as_mapping()))
    self_uuid = hostinfo.local_host_uuid(ctx.root)
    role, _master = hostinfo.read_pool_conf(ctx.root)
    hosts = _cached_hosts(ctx.state)
    if not any(h["uuid"] == self_uuid for h in hosts):
        return  # no pool view yet: nothing to judge from
    platform = get_platform(ctx.root)
    peers = [(h["uuid"], h.get("address") or "") for h in hosts if h.get("enabled") and h["uuid"] != self_uuid]
    seconds = max(0.5, min(2.0, policy.XE_TIMEOUT / 2.0))
    reached = _probe_network(platform, peers, seconds)
    heuristics = host_health.heuristics_ok(platform, policy, seconds)
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
    local = platform.local_domains()
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
