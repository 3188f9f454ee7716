"""The pool as the master's cycle sees it: one read of pools, hosts and (when needed) VMs, VDIs, memory.

Why apart: the master cycle and the slave recovery both read it (the
recovery again after another job acted), and it is XAPI reading.
"""
from halizard.core.model import HALTED, PAUSED, RUNNING, SUSPENDED, HostView, PoolView, VdiView, VmView
from halizard.suspension import suspended_hosts
from halizard.xapi.errors import XapiError

NULL_REF = "OpaqueRef:NULL"
_STATES = {s.lower(): s for s in (RUNNING, HALTED, SUSPENDED, PAUSED)}
def _int(value, default=0):
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return default


def _free_memory(x, host_ref, metrics):
    """host.compute_free_memory (what a start really has), else the metrics' memory_free.

    Any failure of that one call (a refusal, a timeout) falls back: it must not end the whole cycle."""
    try:
        return _int(x.host.compute_free_memory(host_ref))
    except XapiError:
        return _int(metrics.get("memory_free"))


def read_pool(session, ha_key, full=True):
    """The pool as a PoolView; `ha_key` is the XenCenter field key (pool, hosts, VMs).

    full=False reads only the pool and its hosts (no VMs, VDIs, free memory):
    all a cycle needs while every slave answers, and cheap in a large pool.
    """
    return read_pool_and_suspended(session, ha_key, full)[0]


def read_pool_and_suspended(session, ha_key, full=True):
    """(PoolView, uuids of the hosts whose record says their HA is suspended) in one read."""
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
        autopromote_uuid=other.get("autopromote_uuid") or None), suspended_hosts(hosts)
