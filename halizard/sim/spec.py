"""What a simulated pool looks like before it starts, and its first database.

Why: one small value object the CLI, tests and benchmark build, and from
which `build_database` derives a realistic, deterministic database (names
`host1..`, `vm001..`), so scenarios can name things.
"""
import ipaddress
import os
import secrets
import time
import uuid as uuidlib
from dataclasses import dataclass
from typing import Optional

from halizard.sim.api.common import add_markers
from halizard.sim.db import Database, new_uuid, now_datetime

GIB = 1024 ** 3
MIB = 1024 ** 2


class SpecError(ValueError):
    """A pool description that cannot be simulated (one-line message)."""


class HostSpec(object):
    """One simulated host: its name, loopback address and root directory."""

    def __init__(self, name_label, address, root=None):
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            raise SpecError("host %s: %r is not an IP address" % (name_label, address)) from None
        if not parsed.is_loopback or parsed.version != 4:
            raise SpecError("host %s: address %s is not IPv4 loopback (127.0.0.0/8)" % (name_label, address))
        if address == "127.0.0.1":
            raise SpecError("host %s: 127.0.0.1 is reserved for the outside world" % name_label)
        self.name_label = name_label
        self.address = address
        self.root = os.path.abspath(root) if root else None

    def __repr__(self):
        return "HostSpec(%r, %r)" % (self.name_label, self.address)


@dataclass(eq=False, repr=False)  # no repr: it would show the password
class PoolSpec(object):
    """A whole pool: hosts (the first is the initial master), VM count and timings.

    start_latency: seconds a VM.start takes; shutdown_latency: seconds a
    VM shutdown takes (its operation shows meanwhile); fuse: seconds an emergency
    transition keeps xapi down; toolstack_restart: seconds a toolstack restart
    keeps it down; lost_grace: seconds a protected VM may run nowhere before
    status() reports it lost; auth_failure_delay: seconds a TCP login with a
    wrong password waits before its failure (real xapi: 5; default 0 for
    speed). Memory in bytes; host_memory None sizes hosts so
    every VM still fits with one host gone.
    """

    hosts: list
    vms: int = 0
    password: Optional[str] = None
    start_latency: float = 0.5
    fuse: float = 10.0
    toolstack_restart: float = 1.0
    lost_grace: float = 120.0
    host_memory: Optional[int] = None
    vm_memory: int = GIB
    dom0_memory: int = 4 * GIB
    appliance_size: int = 3
    templates: int = 2
    shutdown_latency: float = 0.1
    auth_failure_delay: float = 0.0

    def __post_init__(self):
        """Validate, then normalise (floats, ints, a random password, a memory size that fits)."""
        self._check()
        self.hosts = list(self.hosts)
        self.password = self.password or secrets.token_urlsafe(12)
        for name in ("start_latency", "shutdown_latency", "fuse", "toolstack_restart", "lost_grace",
                     "auth_failure_delay"):  # real xapi pauses 5 s before refusing a wrong password
            setattr(self, name, float(getattr(self, name)))
        self.vm_memory = int(self.vm_memory)
        self.dom0_memory = int(self.dom0_memory)
        if self.host_memory is None:
            survivors = max(1, len(self.hosts) - 1)
            per_host = -(-self.vms * self.vm_memory // survivors)
            self.host_memory = max(64 * GIB, self.dom0_memory + per_host + 8 * GIB)
        if self.host_memory <= self.dom0_memory:
            raise SpecError("host memory must exceed the control domain's")
        self.host_memory = int(self.host_memory)

    def _check(self):
        hosts = self.hosts
        if not hosts:
            raise SpecError("a pool needs at least one host")
        names = [h.name_label for h in hosts]
        addresses = [h.address for h in hosts]
        if len(set(names)) != len(names):
            raise SpecError("host names must be unique")
        if len(set(addresses)) != len(addresses):
            raise SpecError("host addresses must be unique")
        for label in ("vms", "appliance_size", "templates"):
            value = getattr(self, label)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise SpecError("%s must be a non-negative integer, not %r" % (label, value))
        for label in ("start_latency", "shutdown_latency", "fuse", "toolstack_restart", "lost_grace",
                      "auth_failure_delay"):
            value = getattr(self, label)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise SpecError("%s must be a non-negative number of seconds, not %r" % (label, value))
        if self.vm_memory <= 0 or self.dom0_memory < 0:
            raise SpecError("memory sizes must be positive")

    @classmethod
    def simple(cls, hosts, vms, prefix, root_dir=None, **kwargs):
        """hosts host1..hostN at <prefix>.1.., roots <root_dir>/hostN."""
        if not isinstance(hosts, int) or hosts < 1:
            raise SpecError("hosts must be a positive integer")
        host_specs = []
        for index in range(1, hosts + 1):
            name = "host%d" % index
            root = os.path.join(root_dir, name) if root_dir else None
            host_specs.append(HostSpec(name, "%s.%d" % (prefix, index), root))
        return cls(host_specs, vms=vms, **kwargs)

    def vm_names(self):
        width = max(3, len(str(self.vms)))
        return ["vm%0*d" % (width, i) for i in range(1, self.vms + 1)]


# --- the initial database -------------------------------------------------
API_MAJOR, API_MINOR = "2", "21"


def dom0_uuid_of(host_uuid):
    """The control domain's uuid: the CONTROL_DOMAIN_UUID roots.py writes to the inventory."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "sim-dom0:" + host_uuid))


def _mac(index):
    return "02:00:00:00:%02x:%02x" % (index // 256, index % 256)


def build_database(spec, desc, host_uuids, vm_uuids):
    """(database, host refs by uuid, vm refs by uuid); VMs spread round-robin."""
    db = Database(desc)
    stamp = now_datetime(time.time())
    network = db.create("network", {"name_label": "Pool-wide network associated with eth0",
                                    "bridge": "xenbr0", "MTU": "1500"})
    sr = db.create("SR", {"name_label": "Shared SR", "type": "lvmoiscsi", "shared": True,
                          "content_type": "", "physical_size": str(4 * 1024 ** 4),
                          "allowed_operations": ["vdi_create", "vdi_destroy", "scan"]})
    host_refs = {}
    for index, host in enumerate(spec.hosts):
        host_uuid = host_uuids[index]
        metrics = db.create("host_metrics", {"memory_total": str(spec.host_memory),
                                             "live": True,
                                             "last_updated": stamp})
        host_ref = db.create("host", {
            "uuid": host_uuid, "name_label": host.name_label, "hostname": host.name_label,
            "address": host.address, "enabled": True, "metrics": metrics,
            "API_version_major": API_MAJOR, "API_version_minor": API_MINOR, "API_version_vendor": "XenSource",
            "software_version": {"product_brand": "XCP-ng", "product_version": "8.2.1", "xapi": "1.20"},
            "cpu_info": {"cpu_count": "8"}, "memory_overhead": "0", "other_config": {},
            "allowed_operations": ["provision", "evacuate", "reboot", "shutdown"],
        })
        host_refs[host_uuid] = host_ref
        pif_metrics = db.create("PIF_metrics", {"carrier": True, "speed": "1000", "duplex": True,
                                                "last_updated": stamp})
        pif = db.create("PIF", {"device": "eth0", "host": host_ref, "network": network, "management": True,
                                "IP": host.address, "netmask": "255.0.0.0", "MAC": _mac(index + 1),
                                "MTU": "1500", "VLAN": "-1", "metrics": pif_metrics, "physical": True,
                                "currently_attached": True, "ip_configuration_mode": "Static"})
        db.get("host", host_ref)["PIFs"].append(pif)
        db.get("network", network)["PIFs"].append(pif)
        pbd = db.create("PBD", {"host": host_ref, "SR": sr, "currently_attached": True,
                                "device_config": {"target": "iscsi-target", "targetIQN": "iqn.sim:shared"}})
        db.get("host", host_ref)["PBDs"].append(pbd)
        db.get("SR", sr)["PBDs"].append(pbd)
        dom0 = db.create("VM", {
            "uuid": dom0_uuid_of(host_uuid),
            "name_label": "Control domain on host: %s" % host.name_label, "is_control_domain": True,
            "power_state": "Running", "resident_on": host_ref, "domid": "0",
            "memory_static_max": str(spec.dom0_memory), "memory_dynamic_max": str(spec.dom0_memory),
            "memory_dynamic_min": str(spec.dom0_memory), "memory_static_min": str(spec.dom0_memory),
            "memory_target": str(spec.dom0_memory), "VCPUs_max": "4", "VCPUs_at_startup": "4",
        })
        db.set("host", host_ref, control_domain=dom0)
        db.get("host", host_ref)["resident_VMs"].append(dom0)
    master_ref = host_refs[host_uuids[0]]
    db.create("pool", {"name_label": "sim-pool", "master": master_ref, "default_SR": sr,
                       "suspend_image_SR": sr, "crash_dump_SR": sr, "ha_enabled": False, "other_config": {}})
    for index in range(spec.templates):
        db.create("VM", {"name_label": "Sim template %d" % (index + 1), "is_a_template": True, "domid": "-1",
                         "is_default_template": True, "power_state": "Halted",
                         "memory_static_max": str(spec.vm_memory), "memory_dynamic_max": str(spec.vm_memory),
                         "memory_dynamic_min": str(spec.vm_memory), "memory_static_min": str(spec.vm_memory)})
    appliance = None
    if spec.appliance_size and spec.vms >= spec.appliance_size:
        appliance = db.create("VM_appliance", {"name_label": "app1",
                                               "name_description": "three-tier demo appliance"})
    host_list = [host_refs[u] for u in host_uuids]
    vm_refs = {}
    vdi_size = str(8 * 1024 ** 3)
    for index, name in enumerate(spec.vm_names()):
        host_ref = host_list[index % len(host_list)]
        metrics = db.create("VM_metrics", {"memory_actual": str(spec.vm_memory), "VCPUs_number": "1",
                                           "start_time": stamp, "install_time": stamp})
        in_app = appliance is not None and index < spec.appliance_size
        vm_ref = db.create("VM", {
            "uuid": vm_uuids[index], "name_label": name, "power_state": "Running", "resident_on": host_ref,
            "domid": str(index + 1), "memory_static_max": str(spec.vm_memory),
            "memory_dynamic_max": str(spec.vm_memory), "memory_dynamic_min": str(spec.vm_memory),
            "memory_static_min": str(spec.vm_memory), "memory_target": str(spec.vm_memory),
            "VCPUs_max": "1", "VCPUs_at_startup": "1", "metrics": metrics, "user_version": "1",
            "ha_restart_priority": "restart", "order": str(index) if in_app else "0", "start_delay": "0",
            "appliance": appliance if in_app else "OpaqueRef:NULL", "other_config": {},
            "actions_after_shutdown": "destroy", "actions_after_reboot": "restart",
            "actions_after_crash": "restart", "domain_type": "hvm",
        })
        vm_refs[vm_uuids[index]] = vm_ref
        db.get("host", host_ref)["resident_VMs"].append(vm_ref)
        if in_app:
            db.get("VM_appliance", appliance)["VMs"].append(vm_ref)
        vdi = db.create("VDI", {"name_label": "%s disk 0" % name, "SR": sr, "virtual_size": vdi_size,
                                "physical_utilisation": vdi_size, "type": "user", "sharable": False,
                                "read_only": False, "managed": True, "location": new_uuid(),
                                "sm_config": {"vdi_type": "vhd"}})
        db.get("SR", sr)["VDIs"].append(vdi)
        vbd = db.create("VBD", {"VM": vm_ref, "VDI": vdi, "device": "xvda", "userdevice": "0",
                                "bootable": True, "mode": "RW", "type": "Disk", "currently_attached": True})
        db.get("VM", vm_ref)["VBDs"].append(vbd)
        db.get("VDI", vdi)["VBDs"].append(vbd)
        add_markers(db, vm_ref, host_ref)
    return db, host_refs, vm_refs
