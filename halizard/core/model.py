"""Frozen snapshots of a pool: what the core decides from.

The xapi layer (observe.py) builds these from XAPI records; tests build them
by hand. They hold plain values only: uuids (never refs, except the host ref
needed to recognise `host_<ref>` VDI markers), strings, ints, bools and
tuples. Lookups are methods so callers never index lists by hand.
"""


from dataclasses import dataclass, field
from typing import Dict, Iterator, Mapping, Optional, Tuple

RUNNING = "Running"
HALTED = "Halted"
SUSPENDED = "Suspended"
PAUSED = "Paused"

HEALTH_MASTER = "master"
HEALTH_HEALTHY = "healthy"
HEALTH_FAILED = "failed"

AUTOPROMOTE_NONE = "none_available"

RESTART_PRIORITY_BEST_EFFORT = "best-effort"

# VM other_config key that keeps an operator stop in XAPI, so every master (after a takeover, after an
# event-stream gap) knows it: "true" while the VM an operator shut down stays halted; removed when it runs.
OPERATOR_STOP_KEY = "ha-lizard-operator-stop"


# Host other_config key where each slave publishes the enabled peers its self-fence check does not
# reach: comma-separated uuids, "none" when it reaches them all.
UNREACHED_KEY = "ha-lizard-unreached"


def unreached_of(other_config: Optional[Mapping]) -> Optional[Tuple[str, ...]]:
    """The uuids a host published under UNREACHED_KEY; None when it published nothing."""
    value = (other_config or {}).get(UNREACHED_KEY)
    if not isinstance(value, str) or not value:
        return None
    return () if value == "none" else tuple(sorted(u for u in value.split(",") if u))


def unreached_value(uuids) -> str:
    """The UNREACHED_KEY value for these uuids (inverse of unreached_of)."""
    return ",".join(sorted(uuids)) or "none"


def operator_stop_of(other_config: Optional[Mapping]) -> bool:
    """True when a VM's other_config records an operator stop (OPERATOR_STOP_KEY is exactly "true")."""
    return (other_config or {}).get(OPERATOR_STOP_KEY) == "true"


def operator_stop_over(power_state: str, marked: bool) -> bool:
    """The operator stop recorded in XAPI (`marked`) is over once the VM runs again: clear the key.
    One rule for the sweep's plan (vm_plan) and the master's event watcher (jobs.vm_events)."""
    return marked and power_state == RUNNING


class ModelError(ValueError):
    """A snapshot was built from inconsistent plain values."""


@dataclass(frozen=True)
class HostView:
    """One host as the database (and the master's health field) describes it."""

    uuid: str
    name_label: str = ""
    ref: str = ""
    address: str = ""
    enabled: bool = True
    is_master: bool = False
    # The XenCenter field the master writes: master / healthy / failed / "" (never written).
    health_field: str = ""
    memory_free: int = 0
    # Resident VMs other than the control domain (host.resident_VMs, cheap to read): a disabled host
    # that still runs guests must be watched like an enabled one (cycle.watched_slaves).
    guests: int = 0
    # The enabled peers this host's own self-fence check could not reach, as it published them
    # (UNREACHED_KEY); None when it published nothing. A peer's timed proof of death counts only when
    # every host the recovering side reaches lists it here (fencing.still_seen_by).
    unreached: Optional[Tuple[str, ...]] = None

    def __post_init__(self) -> None:
        if not self.uuid:
            raise ModelError("a host needs a uuid")
        if self.memory_free < 0:
            raise ModelError("host %s: negative free memory" % self.uuid)
        if self.guests < 0:
            raise ModelError("host %s: negative guest count" % self.uuid)


@dataclass(frozen=True)
class VmView:
    """One VM record, reduced to what protection decisions need."""

    uuid: str
    name_label: str = ""
    power_state: str = HALTED
    resident_on: Optional[str] = None  # host uuid, None when not resident
    is_control_domain: bool = False
    is_a_template: bool = False
    is_a_snapshot: bool = False
    memory: int = 0  # bytes a start needs (memory_static_max)
    order: int = 0
    start_delay: int = 0
    ha_restart_priority: str = ""
    appliance: Optional[str] = None  # appliance uuid
    ha_field: Optional[str] = None  # raw XenCenter.CustomFields.<XC_FIELD_NAME>, None when missing
    home_pool: Optional[str] = None
    current_operations: Tuple[str, ...] = ()
    operator_stop: bool = False  # other_config OPERATOR_STOP_KEY: an operator shut it down (any master saw it)

    def __post_init__(self) -> None:
        if not self.uuid:
            raise ModelError("a VM needs a uuid")
        if self.memory < 0:
            raise ModelError("VM %s: negative memory" % self.uuid)
        if self.power_state not in (RUNNING, HALTED, SUSPENDED, PAUSED):
            raise ModelError("VM %s: unknown power state %r" % (self.uuid, self.power_state))

    @property
    def is_running(self) -> bool:
        return self.power_state == RUNNING

    @property
    def best_effort(self) -> bool:
        return self.ha_restart_priority == RESTART_PRIORITY_BEST_EFFORT


@dataclass(frozen=True)
class ApplianceView:
    """A VM appliance; members come from the VMs' `appliance` field."""

    uuid: str
    name_label: str = ""


@dataclass(frozen=True)
class VdiView:
    """A VDI and its sm_config attach markers (`host_<host ref>` keys)."""

    uuid: str
    sm_config_keys: Tuple[str, ...] = ()

    def markers_for(self, host_ref: str) -> Tuple[str, ...]:
        wanted = "host_" + host_ref
        return tuple(k for k in self.sm_config_keys if k == wanted)


@dataclass(frozen=True)
class PoolView:
    """The whole pool at one instant: pool fields, hosts, VMs, appliances, VDIs."""

    uuid: str
    master_uuid: str
    hosts: Tuple[HostView, ...]
    vms: Tuple[VmView, ...] = ()
    appliances: Tuple[ApplianceView, ...] = ()
    vdis: Tuple[VdiView, ...] = ()
    ha_field: Optional[str] = None  # pool XenCenter.CustomFields.<XC_FIELD_NAME>
    native_ha_enabled: bool = False
    autopromote_uuid: Optional[str] = None
    _hosts_by_uuid: Dict[str, HostView] = field(default_factory=dict, repr=False, compare=False)
    _vms_by_uuid: Dict[str, VmView] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        hosts = {}
        for h in self.hosts:
            if h.uuid in hosts:
                raise ModelError("duplicate host uuid %s" % h.uuid)
            hosts[h.uuid] = h
        vms = {}
        for v in self.vms:
            if v.uuid in vms:
                raise ModelError("duplicate VM uuid %s" % v.uuid)
            if v.resident_on is not None and v.resident_on not in hosts:
                raise ModelError("VM %s resident on unknown host %s" % (v.uuid, v.resident_on))
            vms[v.uuid] = v
        if self.master_uuid not in hosts:
            raise ModelError("master %s is not a host of the pool" % self.master_uuid)
        # frozen: fill the private indexes through object.__setattr__
        object.__setattr__(self, "_hosts_by_uuid", hosts)
        object.__setattr__(self, "_vms_by_uuid", vms)

    def host(self, uuid: str) -> Optional[HostView]:
        return self._hosts_by_uuid.get(uuid)

    def vm(self, uuid: str) -> Optional[VmView]:
        return self._vms_by_uuid.get(uuid)

    @property
    def enabled_hosts(self) -> Tuple[HostView, ...]:
        return tuple(h for h in self.hosts if h.enabled)

    def vms_resident_on(self, host_uuid: str) -> Iterator[VmView]:
        return (v for v in self.vms if v.resident_on == host_uuid)

    def members_of(self, appliance_uuid: str) -> Tuple[VmView, ...]:
        return tuple(v for v in self.vms if v.appliance == appliance_uuid)


def host_from_plain(d: Mapping) -> HostView:
    """Build a HostView from a plain mapping (e.g. a cached JSON pool view)."""
    return HostView(
        uuid=str(d["uuid"]),
        name_label=str(d.get("name_label", "")),
        ref=str(d.get("ref", "")),
        address=str(d.get("address", "")),
        enabled=bool(d.get("enabled", True)),
        is_master=bool(d.get("is_master", False)),
        health_field=str(d.get("health_field", "") or ""),
        memory_free=int(d.get("memory_free", 0)),
        guests=int(d.get("guests", 0)),
        unreached=None if d.get("unreached") is None else tuple(d["unreached"]),
    )


def vm_from_plain(d: Mapping) -> VmView:
    """Build a VmView from a plain mapping."""
    return VmView(
        uuid=str(d["uuid"]),
        name_label=str(d.get("name_label", "")),
        power_state=str(d.get("power_state", HALTED)),
        resident_on=d.get("resident_on") or None,
        is_control_domain=bool(d.get("is_control_domain", False)),
        is_a_template=bool(d.get("is_a_template", False)),
        is_a_snapshot=bool(d.get("is_a_snapshot", False)),
        memory=int(d.get("memory", 0)),
        order=int(d.get("order", 0)),
        start_delay=int(d.get("start_delay", 0)),
        ha_restart_priority=str(d.get("ha_restart_priority", "") or ""),
        appliance=d.get("appliance") or None,
        ha_field=d.get("ha_field"),
        home_pool=d.get("home_pool") or None,
        current_operations=tuple(d.get("current_operations", ())),
        operator_stop=bool(d.get("operator_stop", False)),
    )


def pool_from_plain(d: Mapping) -> PoolView:
    """Build a PoolView from plain values (the shape `pool_to_plain` writes)."""
    return PoolView(
        uuid=str(d["uuid"]),
        master_uuid=str(d["master_uuid"]),
        hosts=tuple(host_from_plain(h) for h in d.get("hosts", ())),
        vms=tuple(vm_from_plain(v) for v in d.get("vms", ())),
        appliances=tuple(
            ApplianceView(uuid=str(a["uuid"]), name_label=str(a.get("name_label", "")))
            for a in d.get("appliances", ())
        ),
        vdis=tuple(
            VdiView(uuid=str(x["uuid"]), sm_config_keys=tuple(x.get("sm_config_keys", ())))
            for x in d.get("vdis", ())
        ),
        ha_field=d.get("ha_field"),
        native_ha_enabled=bool(d.get("native_ha_enabled", False)),
        autopromote_uuid=d.get("autopromote_uuid") or None,
    )


def pool_to_plain(p: PoolView) -> dict:
    """Plain JSON-able form of a PoolView (inverse of pool_from_plain)."""
    return {
        "uuid": p.uuid,
        "master_uuid": p.master_uuid,
        "ha_field": p.ha_field,
        "native_ha_enabled": p.native_ha_enabled,
        "autopromote_uuid": p.autopromote_uuid,
        "hosts": [
            {
                "uuid": h.uuid, "name_label": h.name_label, "ref": h.ref, "address": h.address,
                "enabled": h.enabled, "is_master": h.is_master, "health_field": h.health_field,
                "memory_free": h.memory_free, "guests": h.guests,
                "unreached": None if h.unreached is None else list(h.unreached),
            }
            for h in p.hosts
        ],
        "vms": [
            {
                "uuid": v.uuid, "name_label": v.name_label, "power_state": v.power_state,
                "resident_on": v.resident_on, "is_control_domain": v.is_control_domain,
                "is_a_template": v.is_a_template, "is_a_snapshot": v.is_a_snapshot,
                "memory": v.memory, "order": v.order, "start_delay": v.start_delay,
                "ha_restart_priority": v.ha_restart_priority, "appliance": v.appliance,
                "ha_field": v.ha_field, "home_pool": v.home_pool,
                "current_operations": list(v.current_operations), "operator_stop": v.operator_stop,
            }
            for v in p.vms
        ],
        "appliances": [{"uuid": a.uuid, "name_label": a.name_label} for a in p.appliances],
        "vdis": [{"uuid": x.uuid, "sm_config_keys": list(x.sm_config_keys)} for x in p.vdis],
    }
