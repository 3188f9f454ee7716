"""The platform of a real dom0: xl, xe-toolstack-restart, reboot, smartctl.

Why: the only module that runs host commands. Argument lists only (no shell,
no VM name ever reaches a command line: domains are addressed by domid), a
deadline on every command. Tests never call it; they reach SimPlatform.
"""
import errno
import fcntl
import os
import re
import shutil
import struct
import subprocess

from halizard import hostinfo, paths
from halizard.platform.base import DiskHealth, Platform, PlatformError, ProbeTarget, Watchdog

XEN_CAPABILITIES = "/proc/xen/capabilities"
SYSRQ_TRIGGER = "/proc/sysrq-trigger"
WATCHDOG_DEVICE = "/dev/watchdog"
WDIOC_SETTIMEOUT = 0xC0045706   # _IOWR('W', 6, int), linux/watchdog.h
REBOOT_TIMEOUT = 5.0   # `reboot -f -f` does not return when it works
COMMAND_TIMEOUT = 30.0
TOOLSTACK_TIMEOUT = 180.0
CONTROL_DOMAIN_ID = 0
XL_LINE = re.compile(
    r"^(?P<name>.*?)\s+(?P<domid>\d+)\s+\d+\s+\d+\s+\S+\s+[\d.]+\s+"
    r"(?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\b"
)


def parse_xl_list(text):
    """[(domid, uuid)] of the guest domains in `xl list -v` output (control domain left out)."""
    domains = []
    for line in text.splitlines():
        match = XL_LINE.match(line.strip())
        if match and int(match.group("domid")) != CONTROL_DOMAIN_ID:
            domains.append((int(match.group("domid")), match.group("uuid").lower()))
    return domains


def is_real_dom0(root, capabilities=XEN_CAPABILITIES):
    """True only for the real root of a machine whose kernel says it is Xen's control domain.

    Why: reboot, domain destroy and toolstack restart act on the machine itself. A host
    root that is not `/` (a test, a simulated host without its marker) or a machine that
    is not a dom0 (a developer's or CI's) must never reach them.
    """
    if paths.resolve_root(root) != "/":
        return False
    try:
        with open(capabilities, encoding="ascii", errors="replace") as handle:
            return "control_d" in handle.read()
    except OSError:
        return False


def run(argv, timeout=COMMAND_TIMEOUT):
    """Run a command (argument list) with a deadline; its stdout, or PlatformError."""
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise PlatformError("%s did not finish within %.0f s" % (argv[0], timeout)) from None
    except OSError as exc:
        raise PlatformError("cannot run %s: %s" % (argv[0], exc.strerror)) from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise PlatformError("%s exited %d: %s" % (argv[0], done.returncode, detail[-1] if detail else ""))
    return done.stdout.decode("utf-8", "replace")


class DeviceWatchdog(Watchdog):
    """The kernel's watchdog device (softdog, or xen_wdt on a dom0) at `path`, armed by opening it."""

    def __init__(self, path, timeout):
        try:
            self._fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise PlatformError("no watchdog device %s (load softdog or xen_wdt)" % path) from None
            if exc.errno == errno.EBUSY:
                raise PlatformError("watchdog device %s is busy (another watchdog daemon holds it)" % path) from None
            raise PlatformError("cannot open watchdog device %s: %s" % (path, exc.strerror)) from None
        try:
            answer = fcntl.ioctl(self._fd, WDIOC_SETTIMEOUT, struct.pack("i", int(timeout)))
            self.timeout = struct.unpack("i", answer)[0]
        except OSError as exc:
            self.disarm()
            raise PlatformError("watchdog device %s refuses a %d s timeout: %s"
                                % (path, timeout, exc.strerror)) from None
        if self.timeout > timeout:
            self.disarm()
            raise PlatformError("watchdog device %s allows no timeout below %d s (%d s asked)"
                                % (path, self.timeout, timeout))

    def feed(self):
        try:
            os.write(self._fd, b"\0")
        except OSError as exc:
            raise PlatformError("watchdog not fed: %s" % exc.strerror) from None

    def disarm(self):
        try:
            os.write(self._fd, b"V")
        except OSError:
            pass
        os.close(self._fd)


class XenPlatform(Platform):
    def __init__(self, root=None):
        self.root = root

    def source_address(self):
        return None

    def probe_target(self, address):
        return ProbeTarget(address=address, method="icmp")

    def _domains(self):
        return parse_xl_list(run(["xl", "list", "-v"]))

    def _require_dom0(self, action):
        if not is_real_dom0(self.root):
            raise PlatformError("refusing to %s: %s is not the root of a Xen dom0"
                                % (action, paths.resolve_root(self.root)))

    def local_domains(self):
        return [uuid for _domid, uuid in self._domains()]

    def destroy_domain(self, vm_uuid):
        self._require_dom0("destroy a domain")
        wanted = str(vm_uuid).lower()
        for domid, uuid in self._domains():
            if uuid == wanted:
                run(["xl", "destroy", str(domid)])
                return
        raise PlatformError("no local domain for VM %s" % vm_uuid)

    def reboot(self):
        """Reboot at once, not through systemd: `reboot -f -f` (the reboot(2) call itself, no
        unit stops), else the kernel's sysrq `b`. Why: a self-fence that waits for services to
        stop (plain `reboot -f` still asks systemd) can overrun the budget the pool counts on."""
        self._require_dom0("reboot")
        try:
            run([shutil.which("reboot") or "/sbin/reboot", "-f", "-f"], timeout=REBOOT_TIMEOUT)
            first = "reboot -f -f returned"
        except PlatformError as exc:
            first = str(exc)
        try:
            with open(SYSRQ_TRIGGER, "w", encoding="ascii") as trigger:
                trigger.write("b")
        except OSError as exc:
            raise PlatformError("reboot failed: %s; sysrq b: %s" % (first, exc.strerror)) from None
        raise PlatformError("reboot failed: %s; sysrq b written but the host still runs" % first)

    def restart_toolstack(self):
        self._require_dom0("restart the toolstack")
        run([shutil.which("xe-toolstack-restart") or "/opt/xensource/bin/xe-toolstack-restart"],
            timeout=TOOLSTACK_TIMEOUT)

    def open_watchdog(self, timeout):
        self._require_dom0("arm the watchdog")
        return DeviceWatchdog(WATCHDOG_DEVICE, timeout)

    def disk_health(self):
        try:
            disk = hostinfo.read_inventory(self.root).get("PRIMARY_DISK")
        except hostinfo.HostInfoError as exc:
            raise PlatformError(str(exc)) from None
        if not disk:
            raise PlatformError("no PRIMARY_DISK in xensource-inventory")
        argv = [shutil.which("smartctl") or "/usr/sbin/smartctl", "-H", disk]
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=COMMAND_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PlatformError("smartctl failed: %s" % type(exc).__name__) from None
        text = done.stdout.decode("utf-8", "replace")
        healthy = done.returncode & 0b11111000 == 0 and ("PASSED" in text or ": OK" in text)
        summary = [line for line in text.splitlines() if "overall-health" in line or "Health Status" in line]
        return DiskHealth(healthy, summary[0].strip() if summary else "smartctl exit %d" % done.returncode)
