"""The pool as the master's cycle sees it: one read of pools, hosts and (when needed) VMs, VDIs, memory.

Why apart: the master cycle and the slave recovery both read it (the
recovery again after another job acted), and it is XAPI reading.
"""
from halizard.core.model import HostView, PoolView, VdiView, unreached_of
from halizard.suspension import suspended_hosts
from halizard.xapi.errors import XapiError
from halizard.xapi.observe import _int, vm_view


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
            health_field=str(other.get(ha_key, "") or ""), memory_free=free,
            guests=len([v for v in rec.get("resident_VMs") or () if v != rec.get("control_domain")]),
            unreached=unreached_of(other)))
    vm_views = [vm_view(rec, ha_key, host_uuid, app_uuid) for rec in vms.values()]
    vdi_views = [VdiView(uuid=rec["uuid"], sm_config_keys=tuple(sorted(
        k for k in (rec.get("sm_config") or {}) if k.startswith("host_")))) for rec in vdis.values()]
    other = pool.get("other_config") or {}
    return PoolView(
        uuid=pool["uuid"], master_uuid=host_uuid[pool["master"]], hosts=tuple(host_views), vms=tuple(vm_views),
        vdis=tuple(vdi_views), ha_field=other.get(ha_key), native_ha_enabled=bool(pool.get("ha_enabled")),
        autopromote_uuid=other.get("autopromote_uuid") or None), suspended_hosts(hosts)
