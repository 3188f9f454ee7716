"""The XAPI calls of a master takeover, each bounded by a deadline.

Why: a slave taking over a dead master talks to its own xapi, always
through its Unix socket as local root (no password), in three different
ways: with a slave-local session (the only thing a slave without a master
accepts) for `pool.emergency_transition_to_master`, then by polling until
its xapi answers as master (about `fuse` seconds later), then with a normal
session on itself for `pool.recover_slaves` and the release of the old
master's VMs and disks. This module keeps those calls in one place;
the decisions stay in halizard.core.takeover and the sequencing in
halizard.jobs.takeover.
"""
import time

from halizard.core.model import (
    HEALTH_MASTER,
    ApplianceView,
    HostView,
    PoolView,
    VdiView,
    VmView,
    operator_stop_of,
)
from halizard.probes.deadline import remaining
from halizard.xapi.errors import XapiError, XapiFailure
from halizard.xapi.session import ORIGINATOR, XapiSession, local_session
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from halizard.core import actions as A
from halizard.xapi.act_host import _set_other_config

AUTOPROMOTE_KEY = "autopromote_uuid"
# pool other_config: "<takeover count> <uuid of the master replaced>", written by a new master (core.roles)
TAKEOVER_KEY = "ha-lizard-takeover"
NULL_REF = "OpaqueRef:NULL"
POLL_INTERVAL = 0.5


class LocalSession(XapiSession):
    """A slave-local login: what a slave whose master is gone still accepts (an emergency call)."""

    def login(self, user, password, timeout=None):
        proxy = self._proxy()
        self._guarded(lambda: proxy.slave_local_login_with_password(user, password),
                      "session.slave_local_login_with_password", timeout)
        self._remember(proxy)
        self.logged_in = True
        return self


def emergency_transition(root, timeout):
    """pool.emergency_transition_to_master on this host (through its socket); raises XapiError when refused
    or silent."""
    session = local_session(root, timeout, session_class=LocalSession)
    try:
        session.xenapi.pool.emergency_transition_to_master()
    finally:
        session.logout()


def is_master_now(root, timeout):
    """True when this host's own xapi answers, as the master of its pool, within `timeout` seconds.

    Through the socket: a login there always works on a master; on a slave
    whose master is gone it gets no answer (the slave waits for its master).
    """
    try:
        session = local_session(root, timeout)
    except XapiError:
        return False
    try:
        x = session.xenapi
        me = x.session.get_this_host(session.handle)
        return any(x.pool.get_master(ref) == me for ref in x.pool.get_all())
    except XapiError:
        return False
    finally:
        session.logout()


def wait_until_master(root, deadline, interval=POLL_INTERVAL, clock=time.monotonic):
    """Poll until this host's xapi answers as master; False at `deadline` (monotonic)."""
    while True:
        left = remaining(deadline, clock)
        if left <= 0:
            return False
        if is_master_now(root, min(left, max(1.0, interval * 4))):
            return True
        pause = min(interval, remaining(deadline, clock))
        if pause > 0:
            time.sleep(pause)


def master_session(root, timeout):
    """A normal session on this host once it is master (through its socket)."""
    return local_session(root, timeout)


def recover_slaves(session, timeout=None):
    """pool.recover_slaves on the new master: the refs of the hosts that now follow it."""
    return list(session.xenapi.pool.recover_slaves(timeout=timeout) or [])


def _other(record):
    other = record.get("other_config")
    return other if isinstance(other, dict) else {}


def _int(value, default=0):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def snapshot(session, xc_field_key, light=False, memory=True, refs=None):
    """(pool other_config, the pool as a core PoolView: hosts with refs and health, VMs, appliances, VDI markers).

    light: pool and hosts only (two calls), what a slave caches every cycle;
    the VMs and disks are read from the new master's own database after the
    transition. memory=False skips the per-host free-memory calls (only
    placement needs them). refs: a dict filled with {"VM": {uuid: ref},
    "VDI": {uuid: ref}}, so the release and the starts need no lookups.

    Why here: the takeover needs the host refs (VDI attach markers are named
    `host_<ref>`) and, after the transition, the old master's VMs and disks
    as the new master's own database holds them.
    """
    x = session.xenapi
    vms, vdis, appliances, metrics = {}, {}, {}, {}
    if light:
        pools = x.pool.get_all_records()
        hosts = x.host.get_all_records()
    else:  # the reads are independent: all at once (the VM and VDI tables dominate in a large pool)

        def metrics_records():
            try:
                return x.host_metrics.get_all_records()
            except XapiFailure:
                return {}
        reads = (x.pool.get_all_records, x.host.get_all_records, x.VM.get_all_records, x.VDI.get_all_records,
                 x.VM_appliance.get_all_records, metrics_records)
        with ThreadPoolExecutor(max_workers=len(reads), thread_name_prefix="snapshot") as ex:
            futures = [ex.submit(read) for read in reads]
            pools, hosts, vms, vdis, appliances, metrics = [f.result() for f in futures]

    def free_memory(ref):
        if light or not memory:
            return -1
        try:
            return _int(x.host.compute_free_memory(ref))
        except XapiFailure:
            return 0
    tables = {"pool": pools, "host": hosts, "vm": vms, "vdi": vdis, "vm_appliance": appliances, "host_metrics": metrics}
    return from_records(tables, xc_field_key, refs, free_memory)


def from_records(tables, xc_field_key, refs=None, free_memory=None):
    """snapshot's (pool other_config, PoolView) from record maps (ref -> record) by class: "pool" and
    "host", and "vm", "vdi", "vm_appliance", "host_metrics" where known (the event-driven view names
    them so). free_memory(ref): a host's free memory when its metrics do not say (default: 0)."""
    pools, hosts = tables["pool"], tables["host"]
    vms, vdis = tables.get("vm") or {}, tables.get("vdi") or {}
    appliances, metrics = tables.get("vm_appliance") or {}, tables.get("host_metrics") or {}
    pool_ref, pool = next(iter(pools.items()))
    if refs is not None:
        refs["VM"] = {rec["uuid"]: ref for ref, rec in vms.items() if rec.get("uuid")}
        refs["VDI"] = {rec["uuid"]: ref for ref, rec in vdis.items() if rec.get("uuid")}
    uuid_of = {ref: rec.get("uuid") for ref, rec in hosts.items()}
    app_uuid = {ref: rec.get("uuid") for ref, rec in appliances.items()}
    host_views = []
    for ref, rec in hosts.items():
        free = _int(metrics.get(rec.get("metrics"), {}).get("memory_free"), -1)
        if free < 0 and free_memory is not None:
            free = free_memory(ref)
        host_views.append(HostView(
            uuid=rec["uuid"], name_label=rec.get("name_label", ""), ref=ref,
            address=rec.get("address", ""), enabled=bool(rec.get("enabled", True)),
            is_master=(ref == pool.get("master")),
            health_field=str(_other(rec).get(xc_field_key, "") or ""),
            memory_free=max(0, free)))
    vm_views = []
    for rec in vms.values():
        other = _other(rec)
        vm_views.append(VmView(
            uuid=rec["uuid"], name_label=rec.get("name_label", ""),
            power_state=rec.get("power_state", "Halted"),
            resident_on=uuid_of.get(rec.get("resident_on")),
            is_control_domain=bool(rec.get("is_control_domain")),
            is_a_template=bool(rec.get("is_a_template")),
            is_a_snapshot=bool(rec.get("is_a_snapshot")),
            memory=max(0, _int(rec.get("memory_static_max"))),
            order=_int(rec.get("order")), start_delay=_int(rec.get("start_delay")),
            ha_restart_priority=str(rec.get("ha_restart_priority", "") or ""),
            appliance=app_uuid.get(rec.get("appliance")),
            ha_field=other.get(xc_field_key), home_pool=other.get("home-pool"), operator_stop=operator_stop_of(other),
            current_operations=tuple(sorted(set((rec.get("current_operations") or {}).values())))))
    vdi_views = tuple(
        VdiView(uuid=rec["uuid"], sm_config_keys=tuple(k for k in (rec.get("sm_config") or {})
                                                      if k.startswith("host_")))
        for rec in vdis.values())
    pool_other = _other(pool)
    return pool_other, PoolView(
        uuid=pool.get("uuid", pool_ref), master_uuid=uuid_of[pool.get("master")],
        hosts=tuple(sorted(host_views, key=lambda h: h.uuid)),
        vms=tuple(sorted(vm_views, key=lambda v: v.uuid)),
        appliances=tuple(ApplianceView(uuid=r["uuid"], name_label=r.get("name_label", ""))
                         for r in appliances.values()),
        vdis=vdi_views,
        ha_field=pool_other.get(xc_field_key),
        native_ha_enabled=bool(pool.get("ha_enabled")),
        autopromote_uuid=pool_other.get(AUTOPROMOTE_KEY))


def with_free_memory(session, view, timeout):
    """`view` with each host's free memory from host.compute_free_memory (all hosts at once; 0 on error).

    Why: placement needs free memory; the post-transition view skips it to
    release quickly, and only these few calls are needed to plan the starts.
    """

    def free(host):
        if not host.ref:
            return host
        try:
            return replace(host, memory_free=max(0, _int(session.xenapi.host.compute_free_memory(
                host.ref, timeout=timeout))))
        except XapiError:
            return replace(host, memory_free=0)
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(view.hosts))), thread_name_prefix="freemem") as ex:
        hosts = tuple(ex.map(free, view.hosts))
    return replace(view, hosts=hosts)


def release_by_ref(session, action, refs):
    """ResetVmPowerState / ClearVdiMarker with the ref a read already returned: one call instead of two.

    Returns (ok, detail) like act_host.execute, or None when the ref is not
    known (the caller then goes through act_host.execute, by uuid).
    """

    try:
        if isinstance(action, A.ResetVmPowerState) and action.vm_uuid in refs.get("VM", {}):
            session.xenapi.VM.power_state_reset(refs["VM"][action.vm_uuid])
            return True, "VM %s power state reset" % action.vm_uuid
        if isinstance(action, A.ClearVdiMarker) and action.vdi_uuid in refs.get("VDI", {}):
            session.xenapi.VDI.remove_from_sm_config(refs["VDI"][action.vdi_uuid], action.key)
            return True, "VDI %s marker %s cleared" % (action.vdi_uuid, action.key)
    except XapiFailure as exc:
        return False, "%s failed: %s %s" % (action.kind, exc.code, " ".join(str(p) for p in exc.params)[:200])
    except XapiError as exc:
        return False, "%s failed: %s" % (action.kind, type(exc).__name__)
    return None


TRANSIENT = ("XapiTimeout", "XapiUnreachable")


def with_retries(call, attempts=3, pause=0.3):
    """call() -> (ok, detail), again (up to `attempts` times) while it failed for a transport reason.

    Why: under load a busy xapi drops or delays some of many parallel calls;
    the release actions are idempotent (a reset VM stays Halted, a removed
    marker stays removed), so trying one call again is cheaper than
    repeating a whole release round.
    """
    for n in range(attempts):
        ok, detail = call()
        if ok or not str(detail).endswith(TRANSIENT) or n == attempts - 1:
            return ok, detail
        time.sleep(pause * (n + 1))
    return ok, detail


def read_takeover(session):
    """This database's takeover record text in the pool other_config ('' when never written)."""
    x = session.xenapi
    ref = x.pool.get_all()[0]
    return (x.pool.get_other_config(ref) or {}).get(TAKEOVER_KEY, "")


def write_takeover(session, text):
    """Set this database's takeover record (core.roles.next_takeover) in the pool other_config."""

    pool = session.xenapi.pool
    _set_other_config(pool, pool.get_all()[0], TAKEOVER_KEY, text)


__all__ = ["LocalSession", "emergency_transition", "wait_until_master", "master_session",
           "recover_slaves", "snapshot", "is_master_now", "read_takeover", "write_takeover",
           "AUTOPROMOTE_KEY", "TAKEOVER_KEY", "HEALTH_MASTER",
           "ORIGINATOR", "NULL_REF"]


def start_vm(session, vm_uuid, host_uuid, timeout):
    """Start a halted VM on `host_uuid` (None: XAPI places it), within `timeout` seconds."""
    vm = session.xenapi.VM
    ref = vm.get_by_uuid(vm_uuid)
    if host_uuid:
        vm.start_on(ref, session.xenapi.host.get_by_uuid(host_uuid), False, False, timeout=timeout)
    else:
        vm.start(ref, False, False, timeout=timeout)
