"""XAPI -> core snapshots, and the VM event watcher.

Why: the core decides from frozen PoolViews (halizard.core.model). This
module is the one place that reads XAPI records into them: one
`get_all_records` round per class needed, refs kept aside for the actions.
`VmEventWatcher` follows `event.from` on VMs so a VM that stops is seen
within a second; when the stream breaks it says so (the caller falls back
to a full sweep) and reconnects with a growing pause.
"""
import collections
import time
from concurrent.futures import ThreadPoolExecutor

from halizard.core.intent import VmEvent
from halizard.core.model import (
    HALTED, PAUSED, RUNNING, SUSPENDED, ApplianceView, HostView, PoolView, VdiView, VmView, operator_stop_of,
)
from halizard.probes.clock import Clocks
from halizard.xapi.errors import XapiError, XapiFailure

NULL_REF = "OpaqueRef:NULL"
HOME_POOL_KEY = "home-pool"
AUTOPROMOTE_KEY = "autopromote_uuid"
_STATES = {s.lower(): s for s in (RUNNING, HALTED, SUSPENDED, PAUSED)}
# event.from failures after which the token is useless: start from a fresh one.
TOKEN_LOST = ("EVENTS_LOST", "EVENT_FROM_TOKEN_PARSE_FAILURE", "SESSION_INVALID", "EVENT_SUBSCRIPTION_PARSE_FAILURE")


def _int(value, default=0):
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return default


def power_state(record):
    """The record's power state in the core's spelling (unknown -> Halted)."""
    return _STATES.get(str(record.get("power_state", "")).lower(), HALTED)


def operations(record):
    """The VM's operations in progress, as a sorted tuple of names."""
    ops = record.get("current_operations") or {}
    return tuple(sorted(str(v) for v in ops.values()))


Refs = collections.namedtuple("Refs", "vms hosts appliances")   # uuid -> ref, per class


class Snapshot:
    """A PoolView plus what turning decisions into calls needs (refs, live hosts)."""

    def __init__(self, pool, refs, live_hosts, pool_ref, taken_at, pool_other_config=None):
        self.pool = pool
        self.pool_other_config = dict(pool_other_config or {})  # the pool's configuration keys
        self.vm_refs = refs.vms                # vm uuid -> ref
        self.host_refs = refs.hosts            # host uuid -> ref
        self.appliance_refs = refs.appliances  # appliance uuid -> ref
        self.live_hosts = frozenset(live_hosts)
        self.pool_ref = pool_ref
        self.taken_at = taken_at

    def usable_hosts(self):
        """Hosts a VM may be placed on: enabled, live, and not marked failed by the master."""
        return frozenset(h.uuid for h in self.pool.hosts
                         if h.enabled and h.uuid in self.live_hosts and h.health_field != "failed")

    def vm_by_name(self, name):
        return [v for v in self.pool.vms if v.name_label == name]


def vm_view(record, ha_key, host_uuid, app_uuid):
    """One VM record -> VmView (refs translated to uuids through the given maps)."""
    other = record.get("other_config") or {}
    resident = record.get("resident_on")
    return VmView(
        uuid=record["uuid"], name_label=record.get("name_label", ""), power_state=power_state(record),
        resident_on=host_uuid.get(resident) if resident and resident != NULL_REF else None,
        is_control_domain=bool(record.get("is_control_domain")), is_a_template=bool(record.get("is_a_template")),
        is_a_snapshot=bool(record.get("is_a_snapshot")), memory=_int(record.get("memory_static_max")),
        order=_int(record.get("order")), start_delay=_int(record.get("start_delay")),
        ha_restart_priority=str(record.get("ha_restart_priority", "") or ""),
        appliance=app_uuid.get(record.get("appliance")), ha_field=other.get(ha_key),
        home_pool=other.get(HOME_POOL_KEY) or None, current_operations=operations(record),
        operator_stop=operator_stop_of(other))


def read_snapshot(session, ha_key, with_vdis=False, timeout=None):
    """The whole pool in one round of get_all_records (pool, host, host_metrics, VM, VM_appliance[, VDI])."""
    x = session.xenapi
    began = time.time()  # the view is as old as its first read (stale-plan checks compare against it)
    pools = x.pool.get_all_records(timeout=timeout)
    hosts = x.host.get_all_records(timeout=timeout)
    metrics = x.host_metrics.get_all_records(timeout=timeout)
    vms = x.VM.get_all_records(timeout=timeout)
    appliances = x.VM_appliance.get_all_records(timeout=timeout)
    vdis = x.VDI.get_all_records(timeout=timeout) if with_vdis else {}
    live = [ref for ref, rec in hosts.items() if (metrics.get(rec.get("metrics")) or {}).get("live")]
    records = {"pool": pools, "host": hosts, "host_metrics": metrics, "vm": vms, "vm_appliance": appliances,
               "vdi": vdis}
    return build_snapshot(records, ha_key, free_memory(session, live, timeout), taken_at=began)


def free_memory(session, host_refs, timeout=None):
    """host ref -> bytes free from host.compute_free_memory (one call per host, all at once).

    What XAPI itself would place against (host_metrics.memory_free lags
    behind); a host whose call fails is left out (build_snapshot estimates it).
    """
    x = session.xenapi

    def free_of(ref):
        try:
            return ref, _int(x.host.compute_free_memory(ref, timeout=timeout))
        except XapiFailure:
            return ref, None
    if not host_refs:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(host_refs)), thread_name_prefix="freemem") as pool:
        return {ref: value for ref, value in pool.map(free_of, host_refs) if value is not None}


def estimated_free(hosts, metrics, vms):
    """host ref -> bytes free, from the records: total minus every domain there or scheduled there."""
    used = {}
    for rec in vms.values():
        if power_state(rec) != HALTED:
            host = rec.get("resident_on")
        else:
            host = rec.get("scheduled_to_be_resident_on")
        if host and host != NULL_REF:
            used[host] = used.get(host, 0) + _int(rec.get("memory_static_max"))
    out = {}
    for ref, rec in hosts.items():
        metric = metrics.get(rec.get("metrics")) or {}
        total = _int(metric.get("memory_total"))
        out[ref] = max(0, total - used.get(ref, 0) - _int(rec.get("memory_overhead")))
    return out


def build_snapshot(records, ha_key, free=None, taken_at=None):
    """Snapshot from the raw record maps (ref -> record), as get_all_records returns them.

    records: class -> record map, for "pool", "host", "host_metrics", "vm", "vm_appliance" and
    optionally "vdi"; free: host ref -> bytes free (host.compute_free_memory); missing hosts are
    estimated from the records.
    """
    pools, hosts, metrics = records["pool"], records["host"], records["host_metrics"]
    vms, appliances, vdis = records["vm"], records["vm_appliance"], records.get("vdi") or {}
    if not pools:
        raise XapiFailure("NO_POOL", [])
    pool_ref, pool = sorted(pools.items())[0]
    host_uuid = {ref: rec["uuid"] for ref, rec in hosts.items()}
    app_uuid = {ref: rec["uuid"] for ref, rec in appliances.items()}
    estimate = estimated_free(hosts, metrics, vms)
    free = dict(free or {})
    host_views, live = [], set()
    for ref, rec in sorted(hosts.items(), key=lambda item: item[1].get("name_label", "")):
        other = rec.get("other_config") or {}
        metric = metrics.get(rec.get("metrics")) or {}
        if metric.get("live"):
            live.add(rec["uuid"])
        host_views.append(HostView(
            uuid=rec["uuid"], name_label=rec.get("name_label", ""), ref=ref, address=rec.get("address", ""),
            enabled=bool(rec.get("enabled")), is_master=(ref == pool.get("master")),
            health_field=str(other.get(ha_key, "") or ""), memory_free=free.get(ref, estimate.get(ref, 0))))
    vm_views = [vm_view(rec, ha_key, host_uuid, app_uuid)
                for _ref, rec in sorted(vms.items(), key=lambda item: (item[1].get("name_label", ""),
                                                                       item[1].get("uuid", "")))]
    other = pool.get("other_config") or {}
    view = PoolView(
        uuid=pool["uuid"], master_uuid=host_uuid[pool["master"]], hosts=tuple(host_views), vms=tuple(vm_views),
        appliances=tuple(ApplianceView(uuid=rec["uuid"], name_label=rec.get("name_label", ""))
                         for rec in appliances.values()),
        vdis=tuple(VdiView(uuid=rec["uuid"], sm_config_keys=tuple(sorted(
            k for k in (rec.get("sm_config") or {}) if k.startswith("host_")))) for rec in vdis.values()),
        ha_field=other.get(ha_key), native_ha_enabled=bool(pool.get("ha_enabled")),
        autopromote_uuid=other.get(AUTOPROMOTE_KEY) or None)
    refs = Refs({rec["uuid"]: ref for ref, rec in vms.items()}, {rec["uuid"]: ref for ref, rec in hosts.items()},
                {rec["uuid"]: ref for ref, rec in appliances.items()})
    return Snapshot(view, refs, live, pool_ref, time.time() if taken_at is None else taken_at, other)


class StreamLost(Exception):
    """The event stream broke; the caller should run a full sweep. `reason` says why."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class VmEventWatcher:
    """Follows `event.from(["vm"], token, wait)` and turns batches into core VmEvents.

    `connect()` returns a logged-in session (halizard.xapi.session.connect);
    `poll()` returns the VM events of one batch (possibly empty after `wait`
    seconds) or raises StreamLost once per break. After a break the next
    `poll()` reconnects (pausing `retry_pause`, doubled up to `retry_cap`,
    between failed attempts) and starts from a fresh token, so events during
    the outage are covered by the caller's full sweep, not by replay.
    """

    def __init__(self, connect, wait=1.0, call_timeout=10.0, token="", retry_pause=0.5, retry_cap=5.0,
                 clocks=Clocks):
        self._connect = connect
        self.wait = float(wait)
        self.call_timeout = float(call_timeout)
        self.token = token or ""
        self.session = None
        self.retry_pause = float(retry_pause)
        self.retry_cap = float(retry_cap)
        self._pause = self.retry_pause
        self._sleep = clocks.sleep
        self.reconnects = 0
        self.fresh = not self.token  # the first batch of a fresh token lists every VM

    def close(self):
        if self.session is not None:
            try:
                self.session.logout()
            except Exception:  # noqa: BLE001 - logout is best effort
                pass
            self.session = None

    def _ensure_session(self):
        if self.session is not None:
            return
        try:
            self.session = self._connect()
            self._pause = self.retry_pause
        except XapiError as exc:
            self._sleep(self._pause)
            self._pause = min(self.retry_cap, self._pause * 2)
            raise StreamLost("cannot reconnect: %s" % type(exc).__name__) from None
        self.reconnects += 1

    def poll(self, wait=None):
        """One batch of VM events (list of (VmEvent, record, operation)); StreamLost on a break."""
        self._ensure_session()
        wait = self.wait if wait is None else max(0.0, float(wait))
        try:
            batch = getattr(self.session.xenapi.event, "from")(["vm"], self.token, wait,
                                                               timeout=wait + self.call_timeout)
        except XapiFailure as exc:
            if exc.code in TOKEN_LOST:
                self.token = ""
                self.fresh = True
            self._drop()
            raise StreamLost("event.from failed: %s" % exc.code) from None
        except XapiError as exc:
            self.token = ""
            self.fresh = True
            self._drop()
            raise StreamLost("event stream lost: %s" % type(exc).__name__) from None
        self.token = batch.get("token", self.token)
        first = self.fresh
        self.fresh = False
        out = []
        for event in batch.get("events") or []:
            if str(event.get("class", "")).lower() != "vm":
                continue
            record = event.get("snapshot") or {}
            if not record.get("uuid"):
                continue
            out.append((VmEvent(record["uuid"], power_state(record), operations(record)), record,
                        "initial" if first else event.get("operation", "mod")))
        return out

    def _drop(self):
        session, self.session = self.session, None
        if session is not None:
            try:
                session.close(all_threads=True)
            except Exception:  # noqa: BLE001 - the connection is already broken
                pass
