"""IPMI 2.0 (lanplus) fencing through Debian's `ipmitool`: ILO and IRMC are thin names over it.

Why: every current BMC (iLO, iRMC, iDRAC...) speaks IPMI over LAN, and the
old product's scripted SSH menus reported success without checking. Here:
  - the BMC address comes from `<FENCE_FILE_LOC>/<METHOD>/<METHOD>.hosts`
    (`<host uuid>:<address>` or `<host uuid>:<address>:<port>`, IPv6 as
    `[addr]` or `[addr]:port`);
  - the password reaches ipmitool only through its environment
    (`-E`, IPMI_PASSWORD), never a command line, a log or a result;
  - every ipmitool run has the caller's deadline and its own process group
    (killed at the deadline);
  - the result is verified by reading the power state back:
      stop  -> `power off`, verified when the BMC reads "off";
      start -> `power on`,  verified when it reads "on";
      reset -> `power off` until "off" (the old instance is gone), then
               `power on`; verified `reset` when it reads "on" again,
               verified `off` when the power-on could not be confirmed;
  - an unreachable BMC, a refused login or a timeout is never a success.
"""
import ipaddress
import re
import shutil
import time

from loguru import logger

from halizard.fence import hostmap
from halizard.fence.base import (
    FAILED, OFF, ON, RESET, UNKNOWN, FenceAgent, FenceConfigError, FenceResult, check_action)
from halizard.fence.script import SAFE_PATH, run_agent
from halizard.probes.deadline import remaining

log = logger.bind(function="fence_host")

DEFAULT_PORT = 623
POLL = 0.5
TRY_SECONDS = 1      # ipmitool -N: seconds per try
RETRIES = 2          # ipmitool -R
HOSTNAME_RE = re.compile(r"\A[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})\Z")
POWER_RE = re.compile(r"Chassis Power is (on|off)", re.IGNORECASE)


def parse_bmc(value):
    """`address[:port]` / `[ipv6][:port]` / bare IPv6 -> (address, port); ValueError with a reason."""
    port = DEFAULT_PORT
    if value.startswith("["):
        address, _, rest = value[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError("%r: expected [ipv6]:port" % value)
            port = rest[1:]
        ipaddress.IPv6Address(address)
    elif value.count(":") >= 2:
        address = value
        ipaddress.IPv6Address(address)
    else:
        address, _, given = value.partition(":")
        if given:
            port = given
        if not HOSTNAME_RE.match(address):
            raise ValueError("%r is not a BMC address" % value[:60])
    try:
        port = int(port)
    except ValueError:
        raise ValueError("%r: port is not a number" % value[:60]) from None
    if not 0 < port < 65536:
        raise ValueError("%r: port outside 1..65535" % value[:60])
    return address, port


def validate_bmc(value):
    """hostmap validator: None when `value` is a usable BMC address, else the reason."""
    try:
        parse_bmc(value)
    except ValueError as exc:
        return "bad BMC address %r: %s" % (value[:60], exc)
    return None


class _Failed(Exception):
    """One ipmitool run did not give an answer; `state` is UNKNOWN or FAILED."""

    def __init__(self, state, text):
        Exception.__init__(self, text)
        self.state = state


class IpmiAgent(FenceAgent):
    """Fences through a host's BMC over IPMI lanplus; `map_method` names the map file (ILO, IRMC)."""

    name = "IPMI"
    map_method = "IPMI"
    default_user = "ADMIN"

    def __init__(self, settings, poll=POLL):
        super().__init__(settings)
        if not settings.password:
            raise FenceConfigError("%s fencing needs FENCE_PASSWD (the BMC password)" % self.name)
        self.tool = shutil.which("ipmitool", path=SAFE_PATH)
        if self.tool is None:
            raise FenceConfigError("%s fencing needs ipmitool (Debian package ipmitool), not found in %s"
                                   % (self.name, SAFE_PATH))
        self.user = settings.user or self.default_user
        self.map_path = hostmap.map_path(settings.file_loc, self.map_method)
        self.poll = poll

    # --- plumbing -------------------------------------------------------
    def bmc_of(self, host_uuid):
        """(address, port) of the host's BMC from the map file (HostMapError when missing/malformed)."""
        return parse_bmc(hostmap.lookup(self.map_path, host_uuid, validate_bmc))

    def _env(self):
        return {"PATH": SAFE_PATH, "LANG": "C", "LC_ALL": "C", "IPMI_PASSWORD": self.settings.password}

    def _ipmitool(self, bmc, deadline, *command):
        """Run one `ipmitool ... chassis power <command>`; its stdout, or _Failed."""
        if remaining(deadline) <= 0.05:
            raise _Failed(UNKNOWN, "no time left")
        address, port = bmc
        argv = [self.tool, "-I", "lanplus", "-H", address, "-p", str(port), "-U", self.user, "-E",
                "-N", str(TRY_SECONDS), "-R", str(RETRIES), "chassis", "power"] + list(command)
        try:
            outcome = run_agent(argv, deadline, self._env(), secrets=(self.settings.password,))
        except OSError as exc:
            raise _Failed(FAILED, "ipmitool could not start: %s" % exc.strerror) from None
        if outcome.timed_out:
            raise _Failed(UNKNOWN, "the BMC did not answer before the deadline")
        if outcome.returncode != 0:
            text = (outcome.stderr or outcome.stdout or "no output").splitlines()[-1][:300]
            if "Unable to establish" in text:
                text += " (BMC unreachable, or wrong FENCE_USER/FENCE_PASSWD)"
            raise _Failed(FAILED, "ipmitool exit %s: %s" % (outcome.returncode, text))
        return outcome.stdout

    def _read_power(self, bmc, deadline):
        output = self._ipmitool(bmc, deadline, "status")
        found = POWER_RE.search(output)
        if not found:
            raise _Failed(UNKNOWN, "unreadable power status %r" % output[:100])
        return found.group(1).lower()

    def _wait_power(self, bmc, deadline, wanted):
        """Read the power until it is `wanted` or the deadline passes; the last state (or _Failed)."""
        while True:
            state = self._read_power(bmc, deadline)
            if state == wanted or remaining(deadline) <= self.poll + 0.1:
                return state
            time.sleep(self.poll)

    def _switch(self, bmc, deadline, wanted):
        """`power off|on`, then read it back; True when the BMC reads `wanted`."""
        command_error = None
        try:
            self._ipmitool(bmc, deadline, wanted)
        except _Failed as exc:  # e.g. "power off" on a chassis already off: the read-back decides
            command_error = exc
        try:
            state = self._wait_power(bmc, deadline, wanted)
        except _Failed:
            if command_error is not None:
                raise command_error from None
            raise
        return state == wanted, state

    # --- contract -------------------------------------------------------
    def fence(self, host_uuid, action, deadline):
        check_action(action)
        try:
            bmc = self.bmc_of(host_uuid)
        except hostmap.HostMapError as exc:
            log.error("{} fence of {} impossible: {}", self.name, host_uuid, exc)
            return FenceResult.unproven(FAILED, str(exc))
        what = "%s %s of host %s (BMC %s:%d)" % (self.name, action, host_uuid, bmc[0], bmc[1])
        try:
            result = self._act(bmc, deadline, action, what)
        except _Failed as exc:
            result = FenceResult(False, exc.state, "%s: %s" % (what, exc))
        (log.info if result.verified else log.error)(result.detail)
        return result

    def _act(self, bmc, deadline, action, what):
        if action == "start":
            done, state = self._switch(bmc, deadline, "on")
            if done:
                return FenceResult.proven(ON, "%s: verified on" % what)
            return FenceResult.unproven(FAILED, "%s: power reads %s, expected on" % (what, state))
        done, state = self._switch(bmc, deadline, "off")
        if not done:
            return FenceResult.unproven(FAILED, "%s: power reads %s, expected off" % (what, state))
        if action == "stop":
            return FenceResult.proven(OFF, "%s: verified off" % what)
        try:
            done, state = self._switch(bmc, deadline, "on")
        except _Failed as exc:
            return FenceResult.proven(OFF, "%s: verified off, power-on not confirmed (%s)" % (what, exc))
        if done:
            return FenceResult.proven(RESET, "%s: verified off, then on again" % what)
        return FenceResult.proven(OFF, "%s: verified off, power reads %s after power-on" % (what, state))

    def status(self, host_uuid, deadline):
        try:
            bmc = self.bmc_of(host_uuid)
        except hostmap.HostMapError as exc:
            return FenceResult.unproven(FAILED, str(exc))
        what = "%s status of host %s (BMC %s:%d)" % (self.name, host_uuid, bmc[0], bmc[1])
        try:
            state = self._read_power(bmc, deadline)
        except _Failed as exc:
            return FenceResult(False, exc.state, "%s: %s" % (what, exc))
        return FenceResult.proven(ON if state == "on" else OFF, "%s: power is %s" % (what, state))


def create(settings):
    return IpmiAgent(settings)
