"""VM_appliance.start: members start in `order` groups, `start_delay` apart.

Why: OP_MODE 1 of the HA manager relies on appliances starting their VMs in
the right sequence (database before application, ...). Members of one order
start together; the group's largest start_delay passes before the next.
Members already running are left alone.
"""
import threading
import time

from halizard.sim.api import vm as vm_api
from halizard.sim.api.errors import XapiError


def _groups(call, appliance):
    db = call.db
    members = []
    for vm in db.field("VM_appliance", appliance, "VMs"):
        if db.exists("VM", vm):
            rec = db.get("VM", vm)
            members.append((int(rec["order"]), rec["name_label"], vm, float(rec["start_delay"])))
    members.sort()
    groups = []
    for order, _name, vm, delay in members:
        if not groups or groups[-1][0] != order:
            groups.append([order, [], 0.0])
        groups[-1][1].append(vm)
        groups[-1][2] = max(groups[-1][2], delay)
    return groups


def _clone(call):
    twin = type(call)(call.pool, call.host_uuid, call.client_addr, call.method)
    twin.session, twin.local, twin.db, twin.master_uuid = call.session, call.local, call.db, call.master_uuid
    return twin


def _start_one(call, vm, paused, errors):
    try:
        vm_api._start(_clone(call), vm, None, paused)
    except XapiError as exc:
        errors.append(exc.description)


def start(call, self_ref, paused):
    pool = call.pool
    with pool._lock:
        groups = _groups(call, self_ref)
    failures = []
    for index, (_order, vms, delay) in enumerate(groups):
        with pool._lock:
            todo = [vm for vm in vms if call.db.exists("VM", vm) and call.db.field("VM", vm, "power_state") == "Halted"]
        errors = []
        threads = [threading.Thread(target=_start_one, args=(call, vm, paused, errors), daemon=True)
                   for vm in todo]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        failures.extend(errors)
        if index < len(groups) - 1 and delay > 0:
            time.sleep(delay)
    if failures:
        raise XapiError("OPERATION_PARTIALLY_FAILED", "start")
    return ""


def _shutdown(call, self_ref, hard):
    db = call.db
    failed = False
    for vm in reversed([vm for _o, vms, _d in _groups(call, self_ref) for vm in vms]):
        if db.field("VM", vm, "power_state") == "Halted":
            continue
        try:
            (vm_api.hard_shutdown if hard else vm_api.clean_shutdown)(call, vm)
        except XapiError:
            failed = True
    if failed:
        raise XapiError("OPERATION_PARTIALLY_FAILED", "shutdown")
    return ""


def clean_shutdown(call, self_ref):
    return _shutdown(call, self_ref, hard=False)


def hard_shutdown(call, self_ref):
    return _shutdown(call, self_ref, hard=True)


def register(reg):
    reg.explicit("VM_appliance", "start", start, blocking=True)
    reg.explicit("VM_appliance", "clean_shutdown", clean_shutdown)
    reg.explicit("VM_appliance", "hard_shutdown", hard_shutdown)
    reg.explicit("VM_appliance", "shutdown", clean_shutdown)
