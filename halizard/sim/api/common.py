"""Database moves several call groups share (residency, disk markers, memory).

Why: a VM's residency lives in three places (VM.resident_on,
host.resident_VMs, VDI attach markers); keeping them consistent in one place
is what makes the simulated database believable.
"""
from halizard.sim.db import NULL_REF

RUNNING_STATES = ("Running", "Paused")


def marker_key(host_ref):
    """The VDI sm_config key a host's attachment leaves behind."""
    return "host_%s" % host_ref


def vm_vdis(db, vm_ref):
    out = []
    for vbd_ref in db.field("VM", vm_ref, "VBDs"):
        if db.exists("VBD", vbd_ref):
            vdi_ref = db.field("VBD", vbd_ref, "VDI")
            if vdi_ref != NULL_REF and db.exists("VDI", vdi_ref):
                out.append(vdi_ref)
    return out


def set_vbds_attached(db, vm_ref, attached):
    for vbd_ref in db.field("VM", vm_ref, "VBDs"):
        if db.exists("VBD", vbd_ref) and db.field("VBD", vbd_ref, "currently_attached") != attached:
            db.set("VBD", vbd_ref, currently_attached=attached)


def add_markers(db, vm_ref, host_ref):
    for vdi_ref in vm_vdis(db, vm_ref):
        db.get("VDI", vdi_ref)["sm_config"][marker_key(host_ref)] = "RW"
        db.touch("VDI", vdi_ref)


def clear_markers(db, vm_ref, host_ref=None):
    """Remove attach markers of the VM's disks (one host's, or every host's)."""
    for vdi_ref in vm_vdis(db, vm_ref):
        sm_config = db.get("VDI", vdi_ref)["sm_config"]
        doomed = [k for k in sm_config if k.startswith("host_") and (host_ref is None or k == marker_key(host_ref))]
        for key in doomed:
            del sm_config[key]
        if doomed:
            db.touch("VDI", vdi_ref)


def marker_hosts(db, vm_ref):
    """Host refs that hold an attach marker on any disk of the VM."""
    hosts = set()
    for vdi_ref in vm_vdis(db, vm_ref):
        for key in db.field("VDI", vdi_ref, "sm_config"):
            if key.startswith("host_"):
                hosts.add(key[len("host_"):])
    return hosts


def set_resident(db, vm_ref, host_ref, power_state):
    """Move the VM's residency (NULL_REF for none) and power state together."""
    record = db.get("VM", vm_ref)
    old = record["resident_on"]
    if old != host_ref and old != NULL_REF and db.exists("host", old):
        residents = db.get("host", old)["resident_VMs"]
        if vm_ref in residents:
            residents.remove(vm_ref)
            db.touch("host", old)
    if host_ref != NULL_REF and db.exists("host", host_ref):
        residents = db.get("host", host_ref)["resident_VMs"]
        if vm_ref not in residents:
            residents.append(vm_ref)
            db.touch("host", host_ref)
    db.set("VM", vm_ref, resident_on=host_ref, power_state=power_state)


def halt_in_db(db, vm_ref, clear_disks):
    """The database forgets a running VM (power state reset, resync, shutdown)."""
    set_resident(db, vm_ref, NULL_REF, "Halted")
    set_vbds_attached(db, vm_ref, False)
    if clear_disks:
        clear_markers(db, vm_ref)
    if db.field("VM", vm_ref, "domid") != "-1":
        db.set("VM", vm_ref, domid="-1")


def vm_memory(db, vm_ref):
    return int(db.field("VM", vm_ref, "memory_static_max"))


def used_memory(db, host_ref):
    used = 0
    for _vm_ref, rec in db.items("VM"):
        if rec["resident_on"] == host_ref and rec["power_state"] != "Halted":
            used += int(rec["memory_static_max"])
        elif rec["scheduled_to_be_resident_on"] == host_ref and rec["power_state"] == "Halted":
            used += int(rec["memory_static_max"])
    return used


def used_memory_by_host(db):
    """{host ref: bytes used} in one pass over the VMs (placement looks at every host)."""
    used = {}
    for rec in db.tables["VM"].values():
        if rec["power_state"] != "Halted":
            host = rec["resident_on"]
        elif rec["scheduled_to_be_resident_on"] != NULL_REF:
            host = rec["scheduled_to_be_resident_on"]
        else:
            continue
        used[host] = used.get(host, 0) + int(rec["memory_static_max"])
    return used


def total_memory(db, host_ref):
    metrics = db.field("host", host_ref, "metrics")
    return int(db.field("host_metrics", metrics, "memory_total")) if db.exists("host_metrics", metrics) else 0


def free_memory(db, host_ref):
    metrics = db.field("host", host_ref, "metrics")
    total = int(db.field("host_metrics", metrics, "memory_total")) if db.exists("host_metrics", metrics) else 0
    return max(0, total - used_memory(db, host_ref))


def host_refs_by_name(db):
    return {rec["name_label"]: ref for ref, rec in db.items("host")}
