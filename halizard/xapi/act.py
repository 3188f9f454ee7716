"""Core VM actions -> XAPI calls.

Why: the core (halizard.core.vm_plan) decides which VM starts where; this
module is the only place that turns those decisions into XAPI calls and
reports what happened, so the jobs stay thin:

* a start goes to its planned host (`VM.start_on`), or lets XAPI place it
  (`VM.start`, HOST_SELECT_METHOD=1); a failure moves on to the next host
  with room (core vm_plan.fallback_hosts); a disk still marked attached to
  a host that does not run the VM (SR_BACKEND_FAILURE_46) is released and
  the start retried once;
* a start XAPI declines because the VM is already running or another start
  is in progress (the loser of a race between hosts) is "declined", never a
  failure: someone else is starting it;
* starts of one group run concurrently, at most VM_START_CONCURRENCY at a
  time, each under its own deadline;
* appliance starts, the per-VM HA field, the home-pool stamp, zombie
  domain destruction (through the platform layer).
"""
import collections
import enum
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from halizard.core import actions as A
from halizard.core import vm_plan
from halizard.core.model import OPERATOR_STOP_KEY
from halizard.xapi.errors import XapiError, XapiFailure, XapiTimeout
from halizard.xapi.observe import HOME_POOL_KEY

DISK_BUSY = "SR_BACKEND_FAILURE_46"
DECLINED = ("VM_BAD_POWER_STATE", "OTHER_OPERATION_IN_PROGRESS")
# Failures that say "this host cannot take it": try the next host.
START_DEADLINE = 120.0  # seconds one VM start may take in all (its calls share this deadline)


class StartOutcome(enum.Enum):
    """What became of one VM or appliance start (its value names the vm_monitor report's list)."""

    STARTED = "started"
    DECLINED = "declined"  # XAPI would not start it now (VM_BAD_POWER_STATE, another operation): not a failure
    FAILED = "failed"


OK, DECLINED_RESULT, FAILED = StartOutcome.STARTED, StartOutcome.DECLINED, StartOutcome.FAILED  # callers' names


class StartResult:
    """What became of one start: outcome (a StartOutcome), host uuid, error text, attempts."""

    __slots__ = ("vm_uuid", "outcome", "host_uuid", "error", "attempts", "finished_at")

    def __init__(self, vm_uuid, outcome, host_uuid=None, error="", attempts=()):
        self.vm_uuid = vm_uuid
        self.outcome = outcome
        self.host_uuid = host_uuid
        self.error = error
        self.attempts = tuple(attempts)
        self.finished_at = time.monotonic()

    @property
    def ok(self):
        return self.outcome == OK

    def __repr__(self):
        return "StartResult(%s %s on %s %s)" % (self.vm_uuid, self.outcome.value, self.host_uuid, self.error)


def _describe(exc):
    if isinstance(exc, XapiFailure):
        return " ".join([exc.code] + [str(p) for p in exc.params if p][:2])
    return "%s" % (type(exc).__name__,)


def release_disk_markers(session, vm_ref, keep_host_ref=None, timeout=None):
    """Remove `host_<ref>` attach markers from the VM's disks (not `keep_host_ref`'s); count removed.

    Only called for a VM XAPI reports halted: a marker then only says a host
    once had the disk attached, and blocks the start until cleared.
    """
    x = session.xenapi
    removed = 0
    for vbd in x.VM.get_VBDs(vm_ref, timeout=timeout):
        vdi = x.VBD.get_VDI(vbd, timeout=timeout)
        if not vdi or vdi == "OpaqueRef:NULL":
            continue
        for key in list(x.VDI.get_sm_config(vdi, timeout=timeout)):
            if key.startswith("host_") and key != "host_%s" % keep_host_ref:
                x.VDI.remove_from_sm_config(vdi, key, timeout=timeout)
                removed += 1
    return removed


class LazyVmRefs:
    """vm uuid -> ref, looked up (VM.get_by_uuid) only for the VMs actually started."""

    def __init__(self, session, timeout, known=None):
        self.session = session
        self.timeout = timeout
        self.known = dict(known or {})  # refs a read already returned: no call for these

    def get(self, uuid, default=None):
        if uuid in self.known:
            return self.known[uuid]
        for _attempt in range(2):  # one retry: a lookup that times out must not cost a VM its restart
            try:
                return self.session.xenapi.VM.get_by_uuid(uuid, timeout=self.timeout)
            except XapiFailure:
                return default
            except XapiError:
                continue
        return default


class ViewTargets:
    """What a Starter needs from a snapshot, built from a core PoolView (host refs in the view).

    Why: a recovery already holds a fresh PoolView; reading every VM record
    again only to learn refs costs seconds in a large pool.
    """

    def __init__(self, session, pool, timeout, vm_refs=None):
        self.pool = pool
        self.vm_refs = LazyVmRefs(session, timeout, vm_refs)
        self.host_refs = {h.uuid: h.ref for h in pool.hosts if h.ref}


class Starter:
    """Starts VMs of one snapshot (observe.Snapshot or ViewTargets) through one (thread-safe) session."""

    def __init__(self, session, snapshot, usable_hosts, call_timeout=10.0, start_deadline=START_DEADLINE,
                 log=None, on_call=None):
        self.session = session
        self.snapshot = snapshot
        self.usable = frozenset(usable_hosts)
        self.call_timeout = float(call_timeout)
        self.start_deadline = float(start_deadline)
        self.log = log
        self.on_call = on_call  # test/benchmark hook: on_call(vm_uuid, host_uuid) before each start call
        self._lock = threading.Lock()

    def _timeout(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise XapiTimeout(getattr(self.session, "url", "xapi"), self.start_deadline, "VM.start")
        return remaining

    def _call_start(self, vm_ref, vm_uuid, host_uuid, deadline):
        if self.on_call is not None:
            self.on_call(vm_uuid, host_uuid)
        x = self.session.xenapi
        if host_uuid is None:
            x.VM.start(vm_ref, False, False, timeout=self._timeout(deadline))
        else:
            x.VM.start_on(vm_ref, self.snapshot.host_refs[host_uuid], False, False,
                          timeout=self._timeout(deadline))

    def _try_host(self, vm_ref, vm_uuid, host_uuid, deadline, attempts):
        """One host (None = XAPI places); a busy disk is released and retried once. Raises XapiError."""
        try:
            attempts.append(host_uuid)
            self._call_start(vm_ref, vm_uuid, host_uuid, deadline)
            return
        except XapiFailure as exc:
            if exc.code != DISK_BUSY:
                raise
        keep = self.snapshot.host_refs.get(host_uuid) if host_uuid else None
        removed = release_disk_markers(self.session, vm_ref, keep, timeout=self._timeout(deadline))
        if self.log is not None:
            self.log.warning("VM {}: a disk was still marked attached elsewhere; released {} marker(s), "
                             "retrying once", self._name(vm_uuid), removed)
        attempts.append(host_uuid)
        self._call_start(vm_ref, vm_uuid, host_uuid, deadline)

    def _name(self, vm_uuid):
        vm = self.snapshot.pool.vm(vm_uuid)
        return (vm.name_label or vm_uuid) if vm else vm_uuid

    def start(self, start):
        """Start one VM (core StartVm); never raises, returns a StartResult."""
        vm_uuid = start.vm_uuid
        vm_ref = self.snapshot.vm_refs.get(vm_uuid)
        if vm_ref is None:
            return StartResult(vm_uuid, FAILED, error="VM not in the snapshot")
        deadline = time.monotonic() + self.start_deadline
        tried, attempts, errors = set(), [], []
        host = start.host_uuid
        while True:
            try:
                self._try_host(vm_ref, vm_uuid, host, deadline, attempts)
                return StartResult(vm_uuid, OK, host, attempts=attempts)
            except XapiFailure as exc:
                if exc.code in DECLINED:
                    return StartResult(vm_uuid, DECLINED_RESULT, host, _describe(exc), attempts)
                errors.append("%s: %s" % (self._host_name(host), _describe(exc)))
            except XapiError as exc:
                errors.append("%s: %s" % (self._host_name(host), _describe(exc)))
                if isinstance(exc, XapiTimeout) or time.monotonic() >= deadline:
                    break
            if host is None:
                break
            tried.add(host)
            following = vm_plan.fallback_hosts(self.snapshot.pool, vm_uuid, self.usable, tried)
            if not following or time.monotonic() >= deadline:
                break
            host = following[0]
            if self.log is not None:
                self.log.info("VM {}: start failed ({}); trying {}", self._name(vm_uuid), errors[-1],
                              self._host_name(host))
        return StartResult(vm_uuid, FAILED, host, "; ".join(errors), attempts)

    def _host_name(self, host_uuid):
        if host_uuid is None:
            return "XAPI placement"
        host = self.snapshot.pool.host(host_uuid)
        return (host.name_label or host_uuid) if host else host_uuid

    def start_many(self, starts, concurrency, on_done=None):
        """Start `starts` concurrently, at most `concurrency` at once; StartResults in the same order.

        on_done(result) is called as each start finishes (e.g. to log it at its real time).
        """
        starts = list(starts)
        if not starts:
            return []

        def one(start):
            result = self.start(start)
            if on_done is not None:
                on_done(result)
            return result
        workers = max(1, min(int(concurrency), len(starts)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vmstart") as pool:
            return list(pool.map(one, starts))

    def start_appliance(self, action, timeout=None):
        """VM_appliance.start (members in the appliance's own order and delays); StartResult."""
        ref = self.snapshot.appliance_refs.get(action.appliance_uuid)
        if ref is None:
            return StartResult(action.appliance_uuid, FAILED, error="appliance not in the snapshot")
        try:
            self.session.xenapi.VM_appliance.start(ref, False, timeout=timeout or self.start_deadline)
            return StartResult(action.appliance_uuid, OK)
        except XapiFailure as exc:
            if exc.code in DECLINED:
                return StartResult(action.appliance_uuid, DECLINED_RESULT, error=_describe(exc))
            return StartResult(action.appliance_uuid, FAILED, error=_describe(exc))
        except XapiError as exc:
            return StartResult(action.appliance_uuid, FAILED, error=_describe(exc))


def set_other_config(api, ref, key, value, timeout=None):
    """Replace one other_config key (a missing key is fine to remove)."""
    try:
        api.remove_from_other_config(ref, key, timeout=timeout)
    except XapiFailure:
        pass
    api.add_to_other_config(ref, key, value, timeout=timeout)


def _set_ha_field(vm_api, ref, action, ha_key, timeout):
    # XAPI has no compare-and-set: re-reading right before the write narrows the window in which an
    # admin's new value is overwritten from a whole cycle to one round trip
    now = (vm_api.get_other_config(ref, timeout=timeout) or {}).get(ha_key)
    if now != action.seen:
        return False, "HA field of %s left at %r: it changed since this cycle read it" % (action.vm_uuid, now)
    set_other_config(vm_api, ref, ha_key, action.value, timeout)
    return True, "HA field of %s set to %s (%s)" % (action.vm_uuid, action.value, action.why)


def _stamp_home_pool(vm_api, ref, action, ha_key, timeout):
    set_other_config(vm_api, ref, HOME_POOL_KEY, action.pool_uuid, timeout)
    return True, "home-pool of %s stamped" % action.vm_uuid


def _mark_operator_stop(vm_api, ref, action, ha_key, timeout):
    if action.stopped:
        set_other_config(vm_api, ref, OPERATOR_STOP_KEY, "true", timeout)
    else:
        vm_api.remove_from_other_config(ref, OPERATOR_STOP_KEY, timeout=timeout)
    return True, "operator stop of %s %s (%s)" % (action.vm_uuid, "kept in XAPI" if action.stopped else "cleared",
                                                  action.why)


# The VM fixes of the master: action type -> what writes it and says what was done.
_FIXES = {A.SetVmHaField: _set_ha_field, A.StampHomePool: _stamp_home_pool, A.MarkOperatorStop: _mark_operator_stop}


class FixResult(collections.namedtuple("FixResult", "done text written")):
    """done: no failure (a write left alone because its value changed meanwhile is done, not written)."""


def apply_fix(session, snapshot, action, ha_key, timeout=None):
    """SetVmHaField / StampHomePool / MarkOperatorStop through XAPI; a FixResult. Never raises on an XAPI error."""
    vm_ref = snapshot.vm_refs.get(getattr(action, "vm_uuid", None))
    if vm_ref is None:
        return FixResult(False, "VM %s not in the snapshot" % getattr(action, "vm_uuid", "?"), False)
    fix = _FIXES.get(type(action))
    if fix is None:
        return FixResult(False, "not a VM fix: %s" % type(action).__name__, False)
    try:
        written, text = fix(session.xenapi.VM, vm_ref, action, ha_key, timeout)
    except XapiError as exc:
        return FixResult(False, "%s on %s failed: %s" % (type(action).__name__, action.vm_uuid, _describe(exc)), False)
    return FixResult(True, text, written)
