"""The platform of a simulated host: every operation is a call to the simulator.

Why: a simulated host has no hypervisor of its own; the simulator's control
endpoint holds its ground truth (domains, power). The host's outgoing
connections come from its own loopback address so partitions apply to it,
and peers are probed on their reachability port.
"""
from halizard import hostinfo, paths
from halizard.platform.base import DiskHealth, Platform, PlatformError, ProbeTarget
from halizard.sim import control
from halizard.sim.probe import PROBE_REPLY
from halizard.platform.simdog import SimWatchdog

DEFAULT_TIMEOUT = 10.0


class SimPlatform(Platform):
    def __init__(self, root, timeout=DEFAULT_TIMEOUT):
        try:
            marker = hostinfo.sim_marker(root)
        except hostinfo.HostInfoError as exc:
            raise PlatformError(str(exc)) from None
        if marker is None:
            raise PlatformError("%s is not a simulated host root (no etc/ha-lizard/sim-host.json)" % root)
        try:
            self.host_uuid = marker["host_uuid"]
            self.address = marker["address"]
            self.control_url = marker["control_url"]
            self.probe_port = int(marker["probe_port"])
            self.peer_port_number = int(marker.get("peer_port", 0)) or None
        except (KeyError, TypeError, ValueError):
            raise PlatformError("%s: incomplete sim-host.json" % root) from None
        self.root = root
        self.timeout = timeout
        self.has_watchdog = marker.get("watchdog", True) is not False

    def _call(self, method, *params):
        try:
            return control.call(self.control_url, method, *params, timeout=self.timeout)
        except control.ControlError as exc:
            raise PlatformError("simulator %s failed: %s" % (method, exc)) from None

    def source_address(self):
        return self.address

    def probe_target(self, address):
        return ProbeTarget(address=address, method="udp", port=self.probe_port, expect=PROBE_REPLY)

    def peer_port(self, configured):
        """The simulated pool's own unprivileged port (sim-host.json), else PEER_PORT."""
        return self.peer_port_number or configured

    def peer_gate(self):
        """The simulator's links, partitions, cuts and power decide, as for the reachability probe."""
        def reaches(sender):
            try:
                return bool(self._call("can_reach", sender, self.host_uuid))
            except PlatformError:
                return False  # the simulator cannot say: the query goes unanswered (unknown is not dead)
        return reaches

    def local_domains(self):
        return list(self._call("local_domains", self.host_uuid))

    def destroy_domain(self, vm_uuid):
        self._call("destroy_domain", self.host_uuid, vm_uuid)

    def reboot(self):
        self._call("reboot_host", self.host_uuid)

    def restart_toolstack(self):
        self._call("restart_toolstack", self.host_uuid)

    def disk_health(self):
        answer = self._call("disk_health", self.host_uuid)
        if isinstance(answer, dict):
            return DiskHealth(bool(answer.get("healthy")), str(answer.get("detail", "")))
        return DiskHealth(bool(answer), "simulated disk")

    def open_watchdog(self, timeout):
        if not self.has_watchdog:
            raise PlatformError("no watchdog device on simulated host %s" % self.host_uuid)
        return SimWatchdog(self.control_url, self.host_uuid, timeout, paths.under(self.root, paths.RUN_DIR))

    def __repr__(self):
        return "SimPlatform(%s at %s)" % (self.host_uuid, self.address)
