"""VM.*: start, start_on, shutdowns, reboot, power_state_reset, and setters with side effects.

Why: the power operations are where an HA manager can start a VM twice or
not at all. Each checks what the real XAPI checks (power state, operations
in progress, capacity, disks still attached elsewhere, host liveness) and
VM.start takes `start_latency` seconds with the lock released, so many starts
run at once and two starts of one VM collide as they do for real. A shutdown
takes `shutdown_latency` seconds and shows its operation on the way to
Halted, as XAPI does (how an operator's stop is told from a crash).
"""
import time
import uuid as uuidlib

from halizard.sim.api.common import (RUNNING_STATES, free_memory, halt_in_db, marker_hosts, total_memory,
                                     used_memory_by_host, vm_memory, vm_vdis)
from halizard.sim.api.errors import XapiError
from halizard.sim.db import NULL_REF, wire_value


def _check_startable(call, vm):
    rec = call.db.get("VM", vm)
    if rec["is_a_template"]:
        raise XapiError("VM_IS_TEMPLATE", vm)
    if rec["is_control_domain"]:
        raise XapiError("OPERATION_NOT_ALLOWED", "Operation not allowed on a control domain")
    if rec["current_operations"]:
        raise XapiError("OTHER_OPERATION_IN_PROGRESS", "VM", vm)
    if rec["power_state"] != "Halted":
        raise XapiError("VM_BAD_POWER_STATE", vm, "halted", rec["power_state"].lower())
    return rec


def _disk_conflict(call, vm, host):
    """The VDI attach error when a disk is still attached on another powered-on host."""
    pool = call.pool
    for holder in marker_hosts(call.db, vm):
        if holder == host:
            continue
        holder_uuid = pool.host_by_ref.get(holder)
        if holder_uuid is not None and pool.world.hosts[holder_uuid].power == "on":
            vdi = vm_vdis(call.db, vm)[0]
            return XapiError("SR_BACKEND_FAILURE_46", "",
                             "The VDI is not available [opterr=VDI %s already attached RW on host %s]" % (
                                 call.db.field("VDI", vdi, "uuid"), pool.world.hosts[holder_uuid].name_label),
                             "")
    return None


def _usable(call, host):
    """Whether the master can start something on this host right now."""
    db, pool = call.db, call.pool
    return db.field("host", host, "enabled") and pool.host_answers_master(call.master_uuid, host)


def _choose_host(call, vm, need):
    db = call.db
    used = used_memory_by_host(db)
    affinity = db.field("VM", vm, "affinity")
    if db.exists("host", affinity) and _usable(call, affinity) and _disk_conflict(call, vm, affinity) is None:
        if total_memory(db, affinity) - used.get(affinity, 0) >= need:
            return affinity  # XAPI tries the VM's home (affinity) host first
    best, best_free = None, -1
    for host, _rec in sorted(db.items("host"), key=lambda item: item[1]["name_label"]):
        if not _usable(call, host) or _disk_conflict(call, vm, host) is not None:
            continue
        free = max(0, total_memory(db, host) - used.get(host, 0))
        if free >= need and free > best_free:
            best, best_free = host, free
    if best is None:
        conflict = _disk_conflict(call, vm, NULL_REF)
        if conflict is not None:
            raise conflict
        raise XapiError("NO_HOSTS_AVAILABLE")
    return best


def _start(call, vm, host, paused):
    pool = call.pool
    with pool._lock:
        db = call.db
        _check_startable(call, vm)
        need = vm_memory(db, vm)
        if host is None:
            host = _choose_host(call, vm, need)
        else:
            if not db.field("host", host, "enabled"):
                raise XapiError("HOST_DISABLED", host)
            if not pool.host_answers_master(call.master_uuid, host):
                raise XapiError("HOST_OFFLINE", host)
            conflict = _disk_conflict(call, vm, host)
            if conflict is not None:
                raise conflict
            free = free_memory(db, host)
            if free < need:
                raise XapiError("HOST_NOT_ENOUGH_FREE_MEMORY", str(need), str(free))
        op = call.task or "OpaqueRef:%s" % uuidlib.uuid4()
        db.set("VM", vm, current_operations={op: "start"}, scheduled_to_be_resident_on=host)
    time.sleep(pool.spec.start_latency)
    with pool._lock:
        pool._tick()
        if not db.exists("VM", vm):
            raise XapiError("HANDLE_INVALID", "VM", vm)
        db.set("VM", vm, current_operations={}, scheduled_to_be_resident_on=NULL_REF)
        host_uuid = pool.host_by_ref.get(host)
        if pool.world.hosts[call.master_uuid].power != "on":
            raise XapiError("CANNOT_CONTACT_HOST", pool.host_specs[call.master_uuid].address)
        if host_uuid is None or not pool.host_answers_master(call.master_uuid, host):
            raise XapiError("HOST_OFFLINE", host)
        pool.start_domain(db, vm, host_uuid, paused=bool(paused))
    pool._notify()
    return ""


def start(call, vm, start_paused, force):
    return _start(call, vm, None, start_paused)


def start_on(call, vm, host, start_paused, force):
    return _start(call, vm, host, start_paused)


def _check_running(call, vm, allowed, expected):
    rec = call.db.get("VM", vm)
    if rec["is_a_template"]:
        raise XapiError("VM_IS_TEMPLATE", vm)
    if rec["is_control_domain"]:
        raise XapiError("OPERATION_NOT_ALLOWED", "Operation not allowed on a control domain")
    if rec["current_operations"]:
        raise XapiError("OTHER_OPERATION_IN_PROGRESS", "VM", vm)
    if rec["power_state"] not in allowed:
        raise XapiError("VM_BAD_POWER_STATE", vm, expected, rec["power_state"].lower())
    host = rec["resident_on"]
    if not call.pool.host_answers_master(call.master_uuid, host):
        raise XapiError("HOST_OFFLINE", host)
    return rec


def _shutdown(call, vm, allowed, operation):
    """A shutdown as XAPI shows it: the operation in current_operations from the request until after Halted.

    Three changes reach event.from: Running with the operation, Halted with
    the operation still listed, then Halted with it cleared; `shutdown_latency`
    seconds pass (lock released) between the first two. This is how a watcher
    tells an operator's stop from a crash or an in-guest shutdown.
    """
    pool = call.pool
    with pool._lock:
        db = call.db
        _check_running(call, vm, allowed, "running")
        op = call.task or "OpaqueRef:%s" % uuidlib.uuid4()
        before = list(db.field("VM", vm, "allowed_operations"))
        db.set("VM", vm, current_operations={op: operation}, allowed_operations=[])
    pool._notify()
    try:
        time.sleep(pool.spec.shutdown_latency)
        with pool._lock:
            pool._tick()
            if not db.exists("VM", vm):
                raise XapiError("HANDLE_INVALID", "VM", vm)
            if pool.world.hosts[call.master_uuid].power != "on":
                raise XapiError("CANNOT_CONTACT_HOST", pool.host_specs[call.master_uuid].address)
            resident = db.field("VM", vm, "resident_on")
            if resident != NULL_REF and not pool.host_answers_master(call.master_uuid, resident):
                raise XapiError("HOST_OFFLINE", resident)
            pool.stop_domain(db, vm, by_fault=False)  # Halted, the operation still listed
        pool._notify()
    finally:
        with pool._lock:
            if db.exists("VM", vm) and op in db.field("VM", vm, "current_operations"):
                db.set("VM", vm, current_operations={}, allowed_operations=before)
        pool._notify()
    return ""


def hard_shutdown(call, vm):
    return _shutdown(call, vm, ("Running", "Paused", "Suspended"), "hard_shutdown")


def clean_shutdown(call, vm):
    return _shutdown(call, vm, ("Running",), "clean_shutdown")


def shutdown(call, vm):
    """VM.shutdown: clean, as XAPI does when the guest can take it (the operation is named "shutdown")."""
    return _shutdown(call, vm, ("Running",), "shutdown")


def hard_reboot(call, vm):
    rec = _check_running(call, vm, RUNNING_STATES, "running")
    pool = call.pool
    host_uuid = pool.host_by_ref[rec["resident_on"]]
    pool.world.stop_domain(rec["uuid"], host_uuid, by_fault=False)
    pool.start_domain(call.db, vm, host_uuid)
    return ""


def power_state_reset(call, vm):
    """Database-only reset to Halted; refused while the VM's host still answers."""
    db, pool = call.db, call.pool
    rec = db.get("VM", vm)
    if rec["power_state"] == "Halted":
        return ""
    host = rec["resident_on"]
    if host != NULL_REF and pool.host_answers_master(call.master_uuid, host):
        raise XapiError("HOST_IS_LIVE", host)

    halt_in_db(db, vm, clear_disks=False)
    db.set("VM", vm, current_operations={})
    return ""


def set_appliance(call, self_ref, value):
    db = call.db
    if value != NULL_REF and not db.exists("VM_appliance", value):
        raise XapiError("HANDLE_INVALID", "VM_appliance", value)
    old = db.field("VM", self_ref, "appliance")
    if old != NULL_REF and db.exists("VM_appliance", old) and self_ref in db.field("VM_appliance", old, "VMs"):
        db.get("VM_appliance", old)["VMs"].remove(self_ref)
        db.touch("VM_appliance", old)
    if value != NULL_REF and self_ref not in db.field("VM_appliance", value, "VMs"):
        db.get("VM_appliance", value)["VMs"].append(self_ref)
        db.touch("VM_appliance", value)
    db.set("VM", self_ref, appliance=value)
    return ""


def _memory_setter(field, static):
    def set_memory_field(call, self_ref, value):
        if static:
            state = call.db.field("VM", self_ref, "power_state")
            if state != "Halted":
                raise XapiError("VM_BAD_POWER_STATE", self_ref, "halted", state.lower())
        call.db.set("VM", self_ref, **{field: wire_value("int", value, field)})
        return ""
    return set_memory_field


def set_memory(call, self_ref, value):
    stored = wire_value("int", value, "memory")
    state = call.db.field("VM", self_ref, "power_state")
    if state != "Halted":
        raise XapiError("VM_BAD_POWER_STATE", self_ref, "halted", state.lower())
    call.db.set("VM", self_ref, memory_static_max=stored, memory_dynamic_max=stored,
                memory_dynamic_min=stored, memory_target=stored)
    return ""


def register(reg):
    reg.explicit("VM", "start", start, blocking=True)
    reg.explicit("VM", "start_on", start_on, blocking=True)
    reg.explicit("VM", "hard_shutdown", hard_shutdown, blocking=True)
    reg.explicit("VM", "clean_shutdown", clean_shutdown, blocking=True)
    reg.explicit("VM", "shutdown", shutdown, blocking=True)
    reg.explicit("VM", "hard_reboot", hard_reboot)
    reg.explicit("VM", "power_state_reset", power_state_reset)
    reg.explicit("VM", "set_appliance", set_appliance)
    reg.explicit("VM", "set_memory", set_memory)
    for field, static in (("memory_static_max", True), ("memory_static_min", True),
                          ("memory_dynamic_max", False), ("memory_dynamic_min", False)):
        reg.explicit("VM", "set_" + field, _memory_setter(field, static))

