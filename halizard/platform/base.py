"""What ha-lizard does to the host it runs on, behind one interface.

Why: the same manager code runs on a real dom0 (xl, xe, reboot) and on a
simulated host (asks the simulator), as Proxmox HA runs against real nodes
and its simulator through one environment object. Jobs receive a Platform;
they never run host commands themselves.
"""
import collections

from halizard.probes.net import ProbeTarget  # noqa: F401 - re-exported: the one probe description


class PlatformError(Exception):
    """A host operation failed or did not finish within its deadline (one-line message)."""


DiskHealth = collections.namedtuple("DiskHealth", "healthy detail")
DiskHealth.__doc__ = """Outcome of a disk check: healthy (bool) and a one-line detail."""


class Platform(object):
    """The host-touching operations; every call has a deadline and raises PlatformError on failure."""

    def source_address(self):
        """Local address every outgoing connection should come from (None: any)."""
        raise NotImplementedError

    def probe_target(self, address):
        """The probes.net.ProbeTarget that checks whether the peer at `address` is reachable.

        Send it from source_address()."""
        raise NotImplementedError

    def peer_port(self, configured):
        """The UDP port every host of this pool answers the peer query on (PEER_PORT: `configured`)."""
        return configured

    def peer_gate(self):
        """None, or a function(sender address) -> bool: whether that sender's packets reach this
        host; the peer query's server answers only those (a real network decides by itself)."""
        return None

    def local_domains(self):
        """UUIDs of the VMs whose domains really run on this host (control domain excluded)."""
        raise NotImplementedError

    def destroy_domain(self, vm_uuid):
        """Kill the local domain of VM `vm_uuid` at once (no guest shutdown)."""
        raise NotImplementedError

    def reboot(self):
        """Reboot this host (self-fencing)."""
        raise NotImplementedError

    def restart_toolstack(self):
        """Restart xapi and its companions on this host."""
        raise NotImplementedError

    def disk_health(self):
        """DiskHealth of the host's primary disk."""
        raise NotImplementedError

    def open_watchdog(self, timeout):
        """Arm this host's watchdog device with `timeout` seconds; a Watchdog. PlatformError (one
        line) when the device is missing, busy or refuses the timeout: nothing is armed then."""
        raise NotImplementedError


class Watchdog(object):
    """An armed watchdog device: reboots the host unless fed within its timeout."""

    timeout = 0

    def feed(self):
        """Start the timeout again (PlatformError when the device is gone)."""
        raise NotImplementedError

    def disarm(self):
        """Stop it on purpose (the magic close): a clean service stop must not reboot the host."""
        raise NotImplementedError
