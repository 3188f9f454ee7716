"""host.*: enable/disable, declare_dead, destroy, reboot, shutdown, free memory.

Why: these are the calls an HA manager uses to fence and clean up after a
failed host; their preconditions (HOST_IS_LIVE, HOST_NOT_DISABLED, ...) are
what keep it honest.
"""
from halizard.sim.api.common import free_memory, halt_in_db
from halizard.sim.api.errors import XapiError


def enable(call, host):
    call.db.set("host", host, enabled=True)
    return ""


def disable(call, host):
    call.db.set("host", host, enabled=False)
    return ""


def compute_free_memory(call, host):
    return str(free_memory(call.db, host))


def declare_dead(call, host):
    """Every VM of the host is reset to Halted in the database; the host is disabled."""
    db = call.db
    for vm_ref in list(db.field("host", host, "resident_VMs")):
        if db.exists("VM", vm_ref) and not db.field("VM", vm_ref, "is_control_domain"):
            halt_in_db(db, vm_ref, clear_disks=False)
    db.set("host", host, enabled=False)
    metrics = db.field("host", host, "metrics")
    if db.exists("host_metrics", metrics):
        db.set("host_metrics", metrics, live=False)
    return ""


def destroy(call, self_ref):
    pool, db = call.pool, call.db
    if self_ref == pool.host_refs[call.master_uuid]:
        raise XapiError("HOST_CANNOT_DESTROY_SELF", self_ref)
    if pool.host_answers_master(call.master_uuid, self_ref):
        raise XapiError("HOST_IS_LIVE", self_ref)
    rec = db.get("host", self_ref)
    busy = [v for v in rec["resident_VMs"] if db.exists("VM", v) and not db.field("VM", v, "is_control_domain")
            and db.field("VM", v, "power_state") != "Halted"]
    if busy:
        raise XapiError("HOST_HAS_RESIDENT_VMS", self_ref)
    for pif in rec["PIFs"]:
        _destroy_pif(db, pif)
    for pbd in rec["PBDs"]:
        _destroy_pbd(db, pbd)
    for vm_ref in rec["resident_VMs"]:
        if db.exists("VM", vm_ref) and db.field("VM", vm_ref, "is_control_domain"):
            db.destroy("VM", vm_ref)
    if db.exists("host_metrics", rec["metrics"]):
        db.destroy("host_metrics", rec["metrics"])
    db.destroy("host", self_ref)
    return ""


def _destroy_pif(db, pif):
    """A destroyed host's PIF goes, with its metrics and its place in its network."""
    if not db.exists("PIF", pif):
        return
    metrics = db.field("PIF", pif, "metrics")
    if db.exists("PIF_metrics", metrics):
        db.destroy("PIF_metrics", metrics)
    network = db.field("PIF", pif, "network")
    if db.exists("network", network) and pif in db.field("network", network, "PIFs"):
        db.get("network", network)["PIFs"].remove(pif)
        db.touch("network", network)
    db.destroy("PIF", pif)


def _destroy_pbd(db, pbd):
    """A destroyed host's PBD goes, with its place in its SR."""
    if not db.exists("PBD", pbd):
        return
    sr = db.field("PBD", pbd, "SR")
    if db.exists("SR", sr) and pbd in db.field("SR", sr, "PBDs"):
        db.get("SR", sr)["PBDs"].remove(pbd)
        db.touch("SR", sr)
    db.destroy("PBD", pbd)


def _require_disabled(call, host):
    if call.db.field("host", host, "enabled"):
        raise XapiError("HOST_NOT_DISABLED")
    host_uuid = call.pool.host_by_ref.get(host)
    if host_uuid is None or not call.pool.host_answers_master(call.master_uuid, host):
        raise XapiError("HOST_OFFLINE", host)
    return host_uuid


def reboot(call, host):
    host_uuid = _require_disabled(call, host)
    call.pool.reboot_host(host_uuid)
    return ""


def shutdown(call, host):
    host_uuid = _require_disabled(call, host)
    call.pool.fault("power-off", [host_uuid])
    return ""


def register(reg):
    reg.explicit("host", "enable", enable)
    reg.explicit("host", "disable", disable)
    reg.explicit("host", "compute_free_memory", compute_free_memory)
    reg.explicit("host", "declare_dead", declare_dead)
    reg.explicit("host", "destroy", destroy)
    reg.explicit("host", "reboot", reboot)
    reg.explicit("host", "shutdown", shutdown)
