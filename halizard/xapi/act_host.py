"""Host-level XAPI actions of the master: health field, autopromote, release of a dead host.

Why: the core decides (halizard.core.fencing.release_plan, cycle.master_start);
this module is the only place that turns those host-level decisions into
XAPI calls. Each function takes a logged-in session (whose calls carry the
session's deadline), works by uuid, and raises halizard.xapi.errors.XapiError
subclasses on failure; `execute` runs one core action and reports instead.
"""
from halizard.core import actions as A
from halizard.xapi.errors import XapiError, XapiFailure

AUTOPROMOTE_KEY = "autopromote_uuid"


def _set_other_config(cls, ref, key, value):
    """Replace one other_config key (remove is harmless when the key is missing)."""
    try:
        cls.remove_from_other_config(ref, key)
    except XapiFailure:
        pass
    cls.add_to_other_config(ref, key, value)


def set_host_health(session, host_uuid, key, value):
    """Write the host's XenCenter health field (`master`, `healthy`, `failed`)."""
    host = session.xenapi.host
    _set_other_config(host, host.get_by_uuid(host_uuid), key, value)


def set_autopromote(session, value):
    """Store the takeover slave's uuid (or none_available) in the pool's other_config."""
    pool = session.xenapi.pool
    ref = pool.get_all()[0]
    _set_other_config(pool, ref, AUTOPROMOTE_KEY, value)


def enable_host(session, host_uuid):
    """Take a host out of maintenance (disabled) state."""
    host = session.xenapi.host
    host.enable(host.get_by_uuid(host_uuid))


def reset_vm_power_state(session, vm_uuid):
    """Mark a VM of a dead host Halted (XAPI refuses with HOST_IS_LIVE while its host answers)."""
    vm = session.xenapi.VM
    vm.power_state_reset(vm.get_by_uuid(vm_uuid))


def clear_vdi_marker(session, vdi_uuid, key):
    """Remove a `host_<ref>` attach marker from a VDI's sm_config."""
    vdi = session.xenapi.VDI
    vdi.remove_from_sm_config(vdi.get_by_uuid(vdi_uuid), key)


def forget_host(session, host_uuid):
    """Remove a dead host from the pool database (FENCE_HOST_FORGET)."""
    host = session.xenapi.host
    host.destroy(host.get_by_uuid(host_uuid))


def start_vm(session, vm_uuid, host_uuid=None):
    """Start a halted VM, on `host_uuid` when given, else where XAPI places it."""
    vm = session.xenapi.VM
    ref = vm.get_by_uuid(vm_uuid)
    if host_uuid:
        vm.start_on(ref, session.xenapi.host.get_by_uuid(host_uuid), False, False)
    else:
        vm.start(ref, False, False)


# One entry per host-level action: (how to carry it out, what to say when done).
_HANDLERS = {
    A.SetHostHealth: (lambda session, a, key: set_host_health(session, a.host_uuid, key, a.value),
                      lambda a: "host %s health set to %s" % (a.host_uuid, a.value)),
    A.SetAutopromote: (lambda session, a, key: set_autopromote(session, a.value),
                       lambda a: "autopromote set to %s" % a.value),
    A.EnableHost: (lambda session, a, key: enable_host(session, a.host_uuid),
                   lambda a: "host %s enabled" % a.host_uuid),
    A.ResetVmPowerState: (lambda session, a, key: reset_vm_power_state(session, a.vm_uuid),
                          lambda a: "VM %s power state reset" % a.vm_uuid),
    A.ClearVdiMarker: (lambda session, a, key: clear_vdi_marker(session, a.vdi_uuid, a.key),
                       lambda a: "VDI %s marker %s cleared" % (a.vdi_uuid, a.key)),
    A.ForgetHost: (lambda session, a, key: forget_host(session, a.host_uuid),
                   lambda a: "host %s forgotten" % a.host_uuid),
}


def execute(session, action, health_key):
    """Carry out one host-level core action; returns (ok, detail). Never raises XapiError.

    Handles the actions of `_HANDLERS`; other actions are refused (ValueError),
    since the caller must route them elsewhere.
    """
    handler = _HANDLERS.get(type(action))
    if handler is None:
        raise ValueError("act_host cannot execute %s" % action.kind)
    run, done = handler
    try:
        run(session, action, health_key)
    except XapiFailure as exc:
        return False, "%s failed: %s %s" % (action.kind, exc.code, " ".join(str(p) for p in exc.params)[:200])
    except XapiError as exc:
        return False, "%s failed: %s" % (action.kind, type(exc).__name__)
    return True, done(action)
