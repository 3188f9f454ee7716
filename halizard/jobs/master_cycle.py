"""Job `master_cycle`: the master's host-failure cycle (issue 6, behaviour.md section 4).

Why: one coordinator keeps the order of the guide's master cycle and runs
nothing on a slave: read the pool, check the HA switch and the native-HA
conflict (refuse + alert), probe every enabled slave in parallel
(host_health), then the housekeeping of core.cycle.master_start (re-enable
a master left in maintenance, health fields, the takeover slave via
autoselect), then fence and recover failed slaves (slave_recovery, every
failed host in parallel). Decisions come from halizard.core; this module only
reads, sequences and executes.
"""


from halizard.core import cycle
from halizard.core import actions as A
from halizard.core.model import (
    HALTED, PAUSED, RUNNING, SUSPENDED, HostView, PoolView, VdiView, VmView,
)

NULL_REF = "OpaqueRef:NULL"
_STATES = {s.lower(): s for s in (RUNNING, HALTED, SUSPENDED, PAUSED)}
def _int(value, default=0):
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return default


def _free_memory(x, host_ref, metrics):
    """host.compute_free_memory (what a start really has), else the metrics' memory_free."""
    from halizard.xapi.errors import XapiFailure
    try:
        return _int(x.host.compute_free_memory(host_ref))
    except XapiFailure:
        return _int(metrics.get("memory_free"))


def read_pool(session, ha_key, full=True):
    """The pool as a PoolView; `ha_key` is the XenCenter field key (pool, hosts, VMs).

    full=False reads only the pool and its hosts (no VMs, VDIs, free memory):
    all a cycle needs while every slave answers, and cheap in a large pool.
    """
    x = session.xenapi
    pools = x.pool.get_all_records()
    hosts = x.host.get_all_records()
    metrics = x.host_metrics.get_all_records() if full else {}
    vms = x.VM.get_all_records() if full else {}
    vdis = x.VDI.get_all_records() if full else {}
    appliances = x.VM_appliance.get_all_records() if full else {}
    pool_ref, pool = next(iter(pools.items()))
    host_uuid = {ref: rec["uuid"] for ref, rec in hosts.items()}
    app_uuid = {ref: rec["uuid"] for ref, rec in appliances.items()}
    host_views = []
    for ref, rec in hosts.items():
        other = rec.get("other_config") or {}
        free = _free_memory(x, ref, metrics.get(rec.get("metrics")) or {}) if full else 0
        host_views.append(HostView(
            uuid=rec["uuid"], name_label=rec.get("name_label", ""), ref=ref, address=rec.get("address", ""),
            enabled=bool(rec.get("enabled")), is_master=(ref == pool.get("master")),
            health_field=str(other.get(ha_key, "") or ""), memory_free=free))
    vm_views = []
    for rec in vms.values():
        other = rec.get("other_config") or {}
        resident = rec.get("resident_on")
        state = _STATES.get(str(rec.get("power_state", "")).lower(), HALTED)
        vm_views.append(VmView(
            uuid=rec["uuid"], name_label=rec.get("name_label", ""), power_state=state,
            resident_on=host_uuid.get(resident) if resident and resident != NULL_REF else None,
            is_control_domain=bool(rec.get("is_control_domain")), is_a_template=bool(rec.get("is_a_template")),
            is_a_snapshot=bool(rec.get("is_a_snapshot")), memory=_int(rec.get("memory_static_max")),
            order=_int(rec.get("order")), start_delay=_int(rec.get("start_delay")),
            ha_restart_priority=str(rec.get("ha_restart_priority", "") or ""),
            appliance=app_uuid.get(rec.get("appliance")), ha_field=other.get(ha_key),
            home_pool=other.get("home-pool") or None,
            current_operations=tuple(sorted((rec.get("current_operations") or {}).values()))))
    vdi_views = [VdiView(uuid=rec["uuid"], sm_config_keys=tuple(sorted(
        k for k in (rec.get("sm_config") or {}) if k.startswith("host_")))) for rec in vdis.values()]
    other = pool.get("other_config") or {}
    return PoolView(
        uuid=pool["uuid"], master_uuid=host_uuid[pool["master"]], hosts=tuple(host_views), vms=tuple(vm_views),
        vdis=tuple(vdi_views), ha_field=other.get(ha_key), native_ha_enabled=bool(pool.get("ha_enabled")),
        autopromote_uuid=other.get("autopromote_uuid") or None)


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
    from halizard.config.effective import load_effective
    from halizard.core.policy import Policy
    from halizard.jobs import host_health, slave_recovery
    from halizard.platform import get_platform
    from halizard.probes.xapi_alive import xapi_alive
    from halizard.xapi.errors import XapiError
    from halizard.xapi.session import connect, load_credentials

    from halizard.jobs.self_fence import is_self_fencing

    role, _master = hostinfo.read_pool_conf(ctx.root)
    if role != "master":
        return
    if is_self_fencing(ctx.state):
        ctx.log.debug("master cycle idle: this host is self-fencing")
        return
    self_uuid = hostinfo.local_host_uuid(ctx.root)
    config = load_effective(ctx.root)
    policy = Policy.from_mapping(dict(config.as_mapping()))
    key = config.xc_field_key
    try:
        session = connect(ctx.root, timeout=policy.XE_TIMEOUT)
    except XapiError as exc:
        ctx.log.warning("master cycle skipped: own xapi not answering ({})", type(exc).__name__)
        raise SystemExit(1) from None
    try:
        alert = _alerter(ctx, config, session)
        pool = read_pool(session, key, full=False)
        gate = cycle.ha_enabled(pool, policy)
        if not gate.proceed:
            _execute(ctx, session, gate.actions, key, alert)
            ctx.log.debug("master cycle: {}", gate.why)
            return
        platform = get_platform(ctx.root)
        credentials = load_credentials(ctx.root)
        peers = [(h.uuid, h.address) for h in pool.hosts if h.enabled and h.uuid != self_uuid]
        probes, raw = host_health.probe_peers(platform, peers, policy, credentials, ctx.state)
        heuristics = host_health.heuristics_ok(platform, policy)
        verdicts, quorum_result = host_health.judge(self_uuid, pool, probes, heuristics, policy)
        if any(v.state == "failed" for v in verdicts.values()):
            pool = read_pool(session, key)  # VMs and disks matter only when a slave failed
        start = cycle.master_start(pool, policy, self_uuid, verdicts)
        _execute(ctx, session, start.actions, key, alert)
        usable = {self_uuid} | {u for u, v in verdicts.items() if v.state == "healthy"}
        source = platform.source_address()

        def still_alive(address, deadline):
            return xapi_alive(address, credentials[0], credentials[1], deadline, source).alive

        rec = slave_recovery.Recovery(
            session, pool, policy, probes, quorum_result, usable,
            lambda: _agent(config, ctx.root), still_alive, alert, ctx.log, key)
        decisions = slave_recovery.recover_failed(rec, ctx.state, verdicts)
        host_health.write_report(ctx.state, pool, verdicts, quorum_result, decisions, raw)
    finally:
        session.logout()


def _agent(config, root):
    from halizard.fence.registry import agent_from_config
    return agent_from_config(config, root)


def summary(state):
    """The last status report (for `ha-lizard status` and tests), or None."""
    from halizard.jobs.host_health import REPORT_STATE
    return state.read(REPORT_STATE, None)



