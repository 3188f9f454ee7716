"""Which VMs must run, in what order, where, and why not for the rest.

Input: a PoolView, the Policy, the operator-stopped VMs (intent.py), the
retry states (backoff.py), the hosts usable this cycle, and the clock.
Output: a VmPlan with

* groups of StartVm, by VM.order (lowest first), `best-effort` VMs after all
  others; parallel within a group, `delay_after` seconds (the largest
  start_delay in the group) before the next group;
* StartAppliance for OP_MODE 1;
* fixes: SetVmHaField for missing/invalid XenCenter values (+ Alert when
  invalid), StampHomePool for running VMs, MarkOperatorStop to keep an
  operator stop seen here in XAPI (and to clear it once the VM runs again);
* one VmStatus per VM: protected or not, and the reason (the `get-vm-ha` text).

Placement (HOST_SELECT_METHOD=0): among usable hosts, the one with the most
free memory left after earlier placements of this plan (spreading load,
largest VMs first within a group); a VM that fits nowhere is reported
NO_CAPACITY, never dropped. HOST_SELECT_METHOD=1 leaves placement to XAPI.
"""


from dataclasses import dataclass
from typing import AbstractSet, Dict, List, Mapping, Optional, Tuple

from halizard.core import actions as A
from halizard.core.backoff import RetryState
from halizard.core.model import (
    HALTED, HEALTH_HEALTHY, HEALTH_MASTER, RUNNING, PoolView, VmView, operator_stop_over,
)
from halizard.core.policy import Policy
from halizard.core.strenum import StrEnum


class Reason(StrEnum):
    """Why a VM is (not) started: stable words, shown by `ha-cfg plan` and `get-vm-ha` and kept in
    the vm-protection report."""

    WILL_START = "will-start"
    RUNNING_OK = "running"
    CONTROL_DOMAIN = "control-domain"
    TEMPLATE = "template"
    SNAPSHOT = "snapshot"
    NOT_HALTED = "not-halted"
    OPERATION_IN_PROGRESS = "operation-in-progress"
    MODE = "mode"
    FIELD_FALSE = "field-false"
    FIELD_MISSING = "field-missing"
    FIELD_INVALID = "field-invalid"
    HOME_POOL_MISSING = "home-pool-missing"
    HOME_POOL_MISMATCH = "home-pool-mismatch"
    OPERATOR_STOP = "operator-stop"
    APPLIANCE_DISABLED = "appliance-disabled"
    APPLIANCE_START = "appliance-start"
    NO_CAPACITY = "no-capacity"
    BACKING_OFF = "backing-off"
    POOL_HA_OFF = "pool-ha-off"  # get-vm-ha: the pool's HA switch is not "true", nothing is protected


@dataclass(frozen=True)
class VmStatus:
    """One VM: is it protected, and what happens to it (reason code + sentence)."""

    vm_uuid: str
    name_label: str
    protected: bool
    reason: Reason
    why: str


@dataclass(frozen=True)
class StartGroup:
    """VMs started in parallel, then `delay_after` seconds before the next group."""

    order: int
    best_effort: bool
    delay_after: int
    starts: Tuple[A.StartVm, ...]


@dataclass(frozen=True)
class VmPlan:
    """Everything the VM decision produced for one cycle."""

    groups: Tuple[StartGroup, ...]
    appliance_starts: Tuple[A.StartAppliance, ...]
    fixes: Tuple[A.Action, ...]
    statuses: Tuple[VmStatus, ...]

    def status_of(self, vm_uuid: str) -> Optional[VmStatus]:
        for s in self.statuses:
            if s.vm_uuid == vm_uuid:
                return s
        return None

    @property
    def starts(self) -> Tuple[A.StartVm, ...]:
        return tuple(s for g in self.groups for s in g.starts)

    @property
    def unplaced(self) -> Tuple[VmStatus, ...]:
        return tuple(s for s in self.statuses if s.reason == Reason.NO_CAPACITY)


def usable_hosts_from_fields(pool: PoolView) -> Tuple[str, ...]:
    """Hosts usable for placement when no fresh probe results are given."""
    return tuple(h.uuid for h in pool.hosts
                 if h.enabled and h.health_field in (HEALTH_HEALTHY, HEALTH_MASTER))


def plan(
    pool: PoolView,
    policy: Policy,
    *,
    operator_stopped: AbstractSet[str] = frozenset(),
    retry: Optional[Mapping[str, RetryState]] = None,
    usable_hosts: Optional[AbstractSet[str]] = None,
    now: float = 0.0,
) -> VmPlan:
    """The VM plan for this cycle (pure: same inputs, same plan)."""
    retry = retry or {}
    usable = set(usable_hosts) if usable_hosts is not None else set(usable_hosts_from_fields(pool))
    usable = {u for u in usable if pool.host(u) is not None and pool.host(u).enabled}
    fixes: List[A.Action] = []
    statuses: Dict[str, VmStatus] = {}
    candidates: List[VmView] = []
    respect = policy.VM_RESPECT_OPERATOR_STOP

    def leave(vm: VmView, protected: bool, reason: str, why: str) -> None:
        statuses[vm.uuid] = VmStatus(vm.uuid, vm.name_label, protected, reason, why)

    for vm in pool.vms:
        never = next(((reason, why) for test, reason, why in _NEVER_MANAGED if test(vm)), None)
        if never is not None:
            leave(vm, False, *never)
            continue
        protected, reason, why = _protection(vm, pool, policy, fixes)
        _keep_operator_stop(vm, respect and vm.uuid in operator_stopped, fixes)
        if vm.is_running and vm.home_pool != pool.uuid:
            fixes.append(A.StampHomePool(
                why="%s runs in this pool, so it belongs here" % _n(vm), vm_uuid=vm.uuid, pool_uuid=pool.uuid))
        if not protected:
            leave(vm, False, reason, why)
            continue
        stopped = respect and (vm.uuid in operator_stopped or vm.operator_stop)
        held = _held(vm, pool.uuid, stopped, retry.get(vm.uuid), now)
        if held is not None:
            leave(vm, True, *held)
            continue
        candidates.append(vm)

    appliance_starts: List[A.StartAppliance] = []
    if policy.OP_MODE == 1:
        appliance_starts = _appliances(pool, policy, candidates, statuses, retry, now)
        candidates = []
    groups = _place(pool, policy, candidates, usable, statuses)
    ordered = tuple(statuses[v.uuid] for v in pool.vms)
    return VmPlan(tuple(groups), tuple(appliance_starts), tuple(fixes), ordered)


# VMs HA never manages: (test, reason, why), the first that matches
_NEVER_MANAGED = (
    (lambda vm: vm.is_control_domain, Reason.CONTROL_DOMAIN, "a control domain is never managed"),
    (lambda vm: vm.is_a_template, Reason.TEMPLATE, "a template is never started"),
    (lambda vm: vm.is_a_snapshot, Reason.SNAPSHOT, "a snapshot is never started"),
)
NEVER_MANAGED = frozenset(reason for _test, reason, _why in _NEVER_MANAGED)


def _held(vm: VmView, pool_uuid: str, stopped: bool, retry: Optional[RetryState],
          now: float) -> Optional[Tuple[str, str]]:
    """(reason, why) a protected VM is not started this cycle, or None when it is a candidate."""
    if vm.power_state == RUNNING:
        return Reason.RUNNING_OK, "protected and running"
    if vm.power_state != HALTED:
        return Reason.NOT_HALTED, "%s is %s, which only an operator resolves" % (_n(vm), vm.power_state)
    if vm.current_operations:
        return Reason.OPERATION_IN_PROGRESS, "an operation is in progress (%s)" % ", ".join(vm.current_operations)
    if vm.home_pool is None:
        return Reason.HOME_POOL_MISSING, "halted and never stamped as running in this pool (no home-pool)"
    if vm.home_pool != pool_uuid:
        return Reason.HOME_POOL_MISMATCH, "its home-pool %s is another pool, so it may run there" % vm.home_pool
    if stopped:
        return Reason.OPERATOR_STOP, "an operator shut it down; it stays halted until started again"
    if retry is not None and not retry.ready(now):
        return Reason.BACKING_OFF, "its start failed %d times; next try in %gs" % (retry.failures, retry.next_attempt_at - now)
    return None


def _keep_operator_stop(vm: VmView, seen_here: bool, fixes: List[A.Action]) -> None:
    """The operator stop lives in XAPI (VmView.operator_stop), not only in the intent of the host that saw
    the events: recorded once a stop seen here left the VM halted, cleared once the VM runs again."""
    if operator_stop_over(vm.power_state, vm.operator_stop):
        fixes.append(A.MarkOperatorStop(why="%s runs again: the operator stop is over" % _n(vm),
                                        vm_uuid=vm.uuid, stopped=False))
    elif seen_here and vm.power_state == HALTED and not vm.operator_stop:
        fixes.append(A.MarkOperatorStop(why="an operator shut %s down" % _n(vm), vm_uuid=vm.uuid, stopped=True))


def _n(vm: VmView) -> str:
    return vm.name_label or vm.uuid


def _protection(vm: VmView, pool: PoolView, policy: Policy,
                fixes: List[A.Action]) -> Tuple[bool, str, str]:
    """(protected, reason, why) from OP_MODE, GLOBAL_VM_HA and the XenCenter field."""
    if policy.OP_MODE == 1:
        if vm.appliance is None:
            return False, Reason.MODE, "OP_MODE=1 protects appliances and this VM is in none"
        if vm.appliance in policy.DISABLED_VAPPS:
            return False, Reason.APPLIANCE_DISABLED, "its appliance is listed in DISABLED_VAPPS"
        return True, Reason.APPLIANCE_START, "protected through its appliance"
    value = vm.ha_field
    if value is not None and value not in ("true", "false"):
        fixes.append(A.SetVmHaField(why="%r is not true or false" % value, vm_uuid=vm.uuid, value="false",
                                    seen=value))
        fixes.append(A.Alert(
            why="an invalid HA field value was reset", function="check_vm_field",
            text="VM %s had %s=%r; set to false (HA off for this VM)" % (_n(vm), policy.XC_FIELD_NAME, value),
            reset_of=vm.uuid))
        if not policy.GLOBAL_VM_HA:
            return False, Reason.FIELD_INVALID, "its HA field held %r, reset to false" % value
    elif value is None and not policy.GLOBAL_VM_HA:
        fixes.append(A.SetVmHaField(why="the HA field is missing", vm_uuid=vm.uuid, value="false", seen=None))
        return False, Reason.FIELD_MISSING, "GLOBAL_VM_HA=0 and its HA field is missing (set to false)"
    if policy.GLOBAL_VM_HA:
        return True, Reason.WILL_START, "GLOBAL_VM_HA=1 protects every VM"
    if value == "true":
        return True, Reason.WILL_START, "its HA field is true"
    return False, Reason.FIELD_FALSE, "GLOBAL_VM_HA=0 and its HA field is false"


def _appliances(pool: PoolView, policy: Policy, candidates: List[VmView], statuses: Dict[str, VmStatus],
                retry: Mapping[str, RetryState], now: float) -> List[A.StartAppliance]:
    """OP_MODE 1: start each enabled appliance that has an eligible halted member."""
    by_appliance: Dict[str, List[VmView]] = {}
    for vm in candidates:
        by_appliance.setdefault(vm.appliance or "", []).append(vm)
    starts = []
    known = {a.uuid: a for a in pool.appliances}
    for app_uuid in sorted(by_appliance):
        members = by_appliance[app_uuid]
        label = known[app_uuid].name_label if app_uuid in known and known[app_uuid].name_label else app_uuid
        state = retry.get(app_uuid)
        if state is not None and not state.ready(now):
            for vm in members:
                statuses[vm.uuid] = VmStatus(vm.uuid, vm.name_label, True, Reason.BACKING_OFF,
                                             "appliance %s is backing off after failed starts" % label)
            continue
        names = ", ".join(_n(v) for v in members)
        starts.append(A.StartAppliance(why="appliance %s has members not running: %s" % (label, names),
                                       appliance_uuid=app_uuid))
        for vm in members:
            statuses[vm.uuid] = VmStatus(vm.uuid, vm.name_label, True, Reason.APPLIANCE_START,
                                         "started with appliance %s" % label)
    return starts


def _place(pool: PoolView, policy: Policy, candidates: List[VmView], usable: AbstractSet[str],
           statuses: Dict[str, VmStatus]) -> List[StartGroup]:
    """Group by (best-effort last, order) and place each VM."""
    keyed: Dict[Tuple[bool, int], List[VmView]] = {}
    for vm in candidates:
        keyed.setdefault((vm.best_effort, vm.order), []).append(vm)
    free = {u: pool.host(u).memory_free for u in usable}
    groups = []
    for key in sorted(keyed):
        members = sorted(keyed[key], key=lambda v: (-v.memory, v.uuid))
        starts = []
        for vm in members:
            target, why = _choose_host(vm, policy, free, pool)
            if target is False:
                statuses[vm.uuid] = VmStatus(vm.uuid, vm.name_label, True, Reason.NO_CAPACITY, why)
                continue
            starts.append(A.StartVm(why=why, vm_uuid=vm.uuid, host_uuid=target))  # type: ignore[arg-type]
            statuses[vm.uuid] = VmStatus(vm.uuid, vm.name_label, True, Reason.WILL_START, why)
        if starts:
            delay = max(v.start_delay for v in members if statuses[v.uuid].reason == Reason.WILL_START)
            groups.append(StartGroup(order=key[1], best_effort=key[0], delay_after=max(delay, 0),
                                     starts=tuple(starts)))
    return groups


def _choose_host(vm: VmView, policy: Policy, free: Dict[str, int], pool: PoolView):
    """(host uuid | None for XAPI | False when nothing fits, why)."""
    base = "%s is protected and halted" % _n(vm)
    if policy.HOST_SELECT_METHOD == 1:
        return None, base + "; XAPI chooses the host (HOST_SELECT_METHOD=1)"
    fitting = [u for u, f in free.items() if f >= vm.memory]
    if not fitting:
        if not free:
            return False, "%s cannot start: no enabled, healthy host" % _n(vm)
        return False, ("%s needs %d bytes and no enabled, healthy host has that much free"
                       % (_n(vm), vm.memory))
    best = sorted(fitting, key=lambda u: (-free[u], u))[0]
    free[best] -= vm.memory
    host = pool.host(best)
    return best, "%s; %s has the most free memory" % (base, host.name_label or best)


def fallback_hosts(pool: PoolView, vm_uuid: str, usable_hosts: AbstractSet[str],
                   tried: AbstractSet[str] = frozenset()) -> Tuple[str, ...]:
    """Hosts to try next after a start failed on the hosts in `tried`.

    Usable, enabled hosts not tried yet that have room, most free memory
    first (ties by uuid). Empty means: report NO_CAPACITY / back off.
    """
    vm = pool.vm(vm_uuid)
    if vm is None:
        raise ValueError("unknown VM %s" % vm_uuid)
    out = []
    for u in usable_hosts:
        h = pool.host(u)
        if h is None or not h.enabled or u in tried or h.memory_free < vm.memory:
            continue
        out.append(h)
    return tuple(h.uuid for h in sorted(out, key=lambda h: (-h.memory_free, h.uuid)))
