"""Simulated BMCs: real IPMI 2.0 (lanplus) over UDP on loopback, wired to the simulated hosts' power.

Why: hardware fencing (ILO, IRMC, fence_ipmilan) must be tested through the
real `ipmitool` and fence agents, against something that answers like a
server's management controller. Each simulated host gets one BMC on its own
loopback address of the pool's block (`.201` + host index, standard port
623), answering as long as the pool runs, whether the host is on or off (a
real BMC runs on standby power). Chassis control goes to the simulator's
control endpoint: power off = `power-off` fault (the host dies, its domains
with it), power on = `power-on`, reset/cycle = `reboot`; the power state is
read from the simulator's ground truth.

The BMCs of one pool run in one child process (`python -m halizard.sim.bmc`):
pyghmi's IPMI machinery is process-global, and a child can be stopped
cleanly (sockets closed, port free) by ending it. The BMC password reaches
the child through its environment, never its command line. The child ends
by itself when its parent (the pool) is gone.
"""
import argparse
import errno
import os
import select
import signal
import subprocess
import sys
import threading
import time

BMC_PORT = 623
BMC_FIRST_OCTET = 201
MAX_BMCS = 252 - BMC_FIRST_OCTET  # .201 .. .251 (.252 gateway, .253 outer dom0, .254 control)
BMC_USER = "admin"
PASSWORD_ENV = "HALIZARD_SIM_BMC_PASSWORD"
READY = "ready"
START_TIMEOUT = 60.0  # generous: a loaded 2-core machine starts Python slowly
CONTROL_TIMEOUT = 5.0


class BmcError(Exception):
    """The BMC process could not be started."""


def available():
    """True when pyghmi (the test extra) is installed; without it a pool runs without BMCs."""
    import importlib.util

    return importlib.util.find_spec("pyghmi") is not None


def bmc_address(prefix, index):
    """Loopback address of the BMC of the index-th host (0-based) in block `127.X.Y`."""
    if not 0 <= index < MAX_BMCS:
        raise BmcError("no BMC address for host index %d (at most %d BMCs per pool)" % (index, MAX_BMCS))
    return "%s.%d" % (prefix, BMC_FIRST_OCTET + index)


# --- the child process --------------------------------------------------------------------------
class ControlPower(object):
    """A host's power as the simulator's control endpoint sees and changes it."""

    def __init__(self, control_url):
        self.control_url = control_url

    def state(self, host_uuid):
        from halizard.sim.control import call

        for host in call(self.control_url, "status", timeout=CONTROL_TIMEOUT)["hosts"]:
            if host["uuid"] == host_uuid:
                return host["power"]
        raise KeyError(host_uuid)

    def fault(self, action, host_uuid):
        from halizard.sim.control import call

        call(self.control_url, "fault", action, [host_uuid], timeout=CONTROL_TIMEOUT)


def _bmc_class():
    import pyghmi.ipmi.bmc as pyghmi_bmc

    class SimBmc(pyghmi_bmc.Bmc):
        """One host's BMC: chassis status and chassis control only (IPMI completion codes)."""

        def __init__(self, host_uuid, power, authdata, address, port):
            self.host_uuid = host_uuid
            self.power = power
            super(SimBmc, self).__init__(authdata, port=port, address=address)

        def _act(self, action):
            try:
                self.power.fault(action, self.host_uuid)
            except Exception as exc:  # noqa: BLE001 - the BMC answers "unspecified error"
                sys.stderr.write("bmc %s: %s failed: %s\n" % (self.host_uuid, action, exc))
                return 0xFF
            return 0

        def get_power_state(self):
            return "on" if self.power.state(self.host_uuid) == "on" else "off"

        def power_off(self):
            return self._act("power-off")

        def power_shutdown(self):  # soft off: the simulated host has no ACPI, it goes off
            return self._act("power-off")

        def power_on(self):
            return self._act("power-on")

        def power_reset(self):
            return self._act("reboot")

        def power_cycle(self):
            return self._act("reboot")

        def cold_reset(self):
            return 0

    return SimBmc


def _wakeup_socket(ipmisession):
    """Give pyghmi's IO thread a wake-up socket on 127.0.0.1 before any BMC socket exists.

    pyghmi wakes its select() by sending a byte to its first socket's port on
    127.0.0.1; when the first socket is a BMC bound to another loopback
    address the byte is lost and requests stall. A socket of our own,
    bound to 127.0.0.1 only, comes first instead.
    """
    import socket

    if ipmisession.iosockets:
        return
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    ipmisession.iosockets.append(sock)
    ipmisession.myself = "127.0.0.1"


def serve(bindings, control_url, user, password, stop, parent_pid=None, ready=None):
    """Run BMCs for `bindings` [(host_uuid, address, port)] until `stop` is set or the parent is gone."""
    import pyghmi.ipmi.private.session as ipmisession

    _wakeup_socket(ipmisession)
    cls = _bmc_class()
    power = ControlPower(control_url)
    bmcs = [cls(host_uuid, power, {user: password}, address, port) for host_uuid, address, port in bindings]
    if ready is not None:
        ready()
    while not stop.is_set():
        ipmisession.Session.wait_for_rsp(timeout=0.5)
        if parent_pid is not None and os.getppid() != parent_pid:
            break
    return bmcs


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m halizard.sim.bmc",
                                     description="Simulated BMCs of one pool (started by the pool).")
    parser.add_argument("--control-url", required=True)
    parser.add_argument("--user", default=BMC_USER)
    parser.add_argument("--parent", type=int, default=None, help="exit when this process is gone")
    parser.add_argument("--bmc", action="append", default=[], metavar="HOST_UUID=ADDRESS:PORT")
    return parser.parse_args(argv)


def _binding(text):
    host_uuid, _, where = text.partition("=")
    address, _, port = where.rpartition(":")
    return host_uuid, address, int(port)


def main(argv=None):
    """Child entry point: bind every BMC, print `ready`, serve until SIGTERM or the parent's end."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    password = os.environ.pop(PASSWORD_ENV, "")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _s, _f: stop.set())
    signal.signal(signal.SIGINT, lambda _s, _f: stop.set())

    def ready():
        sys.stdout.write(READY + "\n")
        sys.stdout.flush()

    try:
        serve([_binding(text) for text in args.bmc], args.control_url, args.user, password, stop,
              parent_pid=args.parent, ready=ready)
    except OSError as exc:
        sys.stdout.write("error %s %s\n" % (errno.errorcode.get(exc.errno, "?"), exc.strerror))
        sys.stdout.flush()
        return 1
    return 0


# --- the parent side ----------------------------------------------------------------------------
class BmcSet(object):
    """The running BMC child of one pool: `.entries[host_uuid] = {address, port, user, password}`."""

    def __init__(self, process, entries):
        self.process = process
        self.entries = entries

    def wait_ready(self, timeout=START_TIMEOUT):
        """Return once every BMC listens. OSError(EADDRINUSE/EADDRNOTAVAIL) when an address is
        taken (the pool then picks another block), BmcError for any other failure."""
        line = _read_line(self.process.stdout, time.monotonic() + timeout)
        if line == READY:
            return self
        time.sleep(0.1)  # an exiting child: let its status be collected
        exited = self.process.poll()
        self.close()
        if not line and exited is not None:
            line = "the BMC process exited with status %s (is pyghmi installed? pip install -e '.[test]')" % exited
        for name in ("EADDRINUSE", "EADDRNOTAVAIL"):
            if line and line.startswith("error " + name):
                raise OSError(getattr(errno, name), "simulated BMC address: %s" % line)
        raise BmcError("simulated BMCs did not start: %s" % (line or "no answer within %.0fs" % timeout))

    def close(self):
        """Stop the child (idempotent); its sockets close with it."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


def _read_line(stream, deadline):
    buffer = b""
    while not buffer.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        readable, _w, _x = select.select([stream], [], [], left)
        if not readable:
            return None
        chunk = os.read(stream.fileno(), 256)
        if not chunk:
            break
        buffer += chunk
    return buffer.decode("utf-8", errors="replace").strip()


def start_bmcs(control_url, hosts, password, user=BMC_USER, port=BMC_PORT):
    """Start the BMCs of `hosts` [(host_uuid, address)] in one child; call `.wait_ready()` next."""
    argv = [sys.executable, "-m", "halizard.sim.bmc", "--control-url", control_url, "--user", user,
            "--parent", str(os.getpid())]
    for host_uuid, address in hosts:
        argv += ["--bmc", "%s=%s:%d" % (host_uuid, address, port)]
    env = dict(os.environ)
    env[PASSWORD_ENV] = password
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env,  # noqa: S603
                               close_fds=True)
    return BmcSet(process, {host_uuid: {"address": address, "port": port, "user": user, "password": password}
                            for host_uuid, address in hosts})

if __name__ == "__main__":
    sys.exit(main())
