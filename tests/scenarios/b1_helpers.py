"""Helpers for the host-failure scenarios (B1): fence agents for simulated hosts, host facts.

Why: each scenario file stays short: it names the pool, the fault and what
must follow; the set-up of a fence agent and the reading of a host's health
field live here.
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
                  FENCE_PASSWD=sc.pool.password)


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


class HeuristicEndpoint:
    """A loopback address that answers the simulator's network probe only for the hosts in `allowed`.

    Why: FENCE_HEURISTICS_IPS must be reachable from one side of a split and
    not the other; the simulated hosts probe from their own addresses, so
    the endpoint decides by the caller's address (a stand-in for a router).
    """

    def __init__(self, sc, address, allowed_hosts):
        import json
        import socketserver
        import threading

        from halizard.sim.probe import PROBE_REPLY

        root = sc.pool.hosts[0]["root"]
        with open(os.path.join(root, "etc", "ha-lizard", "sim-host.json")) as handle:
            port = int(json.load(handle)["probe_port"])
        # a powered-off host probes nothing: the simulator killed its service
        self.allowed = {sc.pool.host(name)["address"] for name in allowed_hosts}
        endpoint = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                if self.client_address[0] in endpoint.allowed:
                    try:
                        self.request.sendall(PROBE_REPLY)
                    except OSError:
                        pass

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((address, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                       daemon=True)
        self.thread.start()
        self.address = address

    def close(self):
        self.server.shutdown()
        self.server.server_close()
