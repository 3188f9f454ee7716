"""Host-failure helpers (B1): fence agents for simulated hosts, a host's health field, where VMs run.

Why: each scenario file stays short: it names the pool, the fault and what must follow.
"""
import os
import stat

from halizard.sim.outer import outer_vm_uuid

HEALTH_KEY = "XenCenter.CustomFields.ha-lizard-enabled"


def use_xvm(sc, hosts=None):
    """Fence through the simulator's outer dom0 (XVM) from every host (or `hosts`)."""
    for host in sc.pool.hosts:
        if hosts is not None and host["name_label"] not in hosts:
            continue
        folder = os.path.join(host["root"], "etc", "ha-lizard", "fence", "XVM")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "XVM.hosts"), "w") as handle:
            for h in sc.pool.hosts:
                handle.write("%s:%s\n" % (h["uuid"], outer_vm_uuid(h["uuid"])))
    outer = sc.pool.json["outer_url"].split("//", 1)[-1].rstrip("/")
    sc.set_config(FENCE_METHOD="XVM", FENCE_IPADDRESS=outer,
                  FENCE_PASSWD=sc.pool.json["outer_password"])


def use_script(sc, name, body):
    """A custom fence agent `name` (shell `body`, args: host-uuid action) on every host."""
    for host in sc.pool.hosts:
        folder = os.path.join(host["root"], "etc", "ha-lizard", "fence", name)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name + ".sh")
        with open(path, "w") as handle:
            handle.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    sc.set_config(FENCE_METHOD=name)


def host_health(sc, name):
    """The health field the master wrote on host `name` ('' when none)."""
    def read(x):
        ref = x.host.get_by_name_label(name)[0]
        return (x.host.get_other_config(ref) or {}).get(HEALTH_KEY, "")
    return sc.xapi(read)


def wait_self_fence_ready(sc, name, timeout=30):
    """Until `name`'s self_fence has judged its quorum once (it needs the host's own pool view first).

    Why: the master marks a slave healthy from the simulator's answers alone; the slave's own jobs
    may not have cached a pool view yet, and without one self-fencing has nothing to judge from.
    """
    def judged():
        quorum = (sc.supervisor(name).state("self-fence") or {}).get("quorum") or {}
        return quorum.get("has_quorum") is True
    sc.wait_until(judged, timeout, interval=0.3, message="%s's self-fence judged its quorum" % name)


def vms_on(sc, host_name):
    """Names of the VMs really running on `host_name`."""
    return sorted(vm["name_label"] for vm in sc.status()["vms"] if host_name in vm["running_on"])


def wait_moved(sc, vms, away_from, timeout):
    """Until every VM in `vms` runs exactly once, on a host other than `away_from`."""
    def moved():
        for vm in vms:
            where = sc.vm(vm)["running_on"]
            if len(where) != 1 or where == [away_from]:
                return False
        return True
    return sc.wait_until(moved, timeout, interval=0.3, message="%s running away from %s" % (vms, away_from))


def device_log(sup):
    """What the simulated watchdog device of that supervisor's host did (halizard.platform.simdog)."""
    try:
        with open(os.path.join(sup.root, "run", "ha-lizard", "sim-watchdog.log"), encoding="utf-8") as log:
            return log.read()
    except FileNotFoundError:
        return ""
