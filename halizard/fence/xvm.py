"""XVM fencing: pool hosts that are VMs of one outer Xen host, fenced through its XenAPI.

Why: for nested test pools. The old product sent nothing for `reset` and
never checked the result. Here every action is a XenAPI call to the outer
dom0 at FENCE_IPADDRESS (address, `address:port`, or an https URL) as
`root` (or FENCE_USER) with FENCE_PASSWD, always over HTTPS (port 443
unless given): this is the one login with a password ha-lizard makes, to a
host outside the pool, so the password never crosses the wire in clear.
The outer dom0's certificate is self-signed on XCP-ng 8.2 and not checked
(docs/fencing.md). The result is verified by reading the outer VM's power
state back:
  stop  -> VM.hard_shutdown, verified when the VM reads Halted;
  start -> VM.start,         verified when it reads Running;
  reset -> VM.hard_reboot,   verified when the call succeeded and the VM
           reads Running again (the old instance is gone); a VM already
           Halted is verified off and left off.
The host -> VM mapping is `<FENCE_FILE_LOC>/XVM/XVM.hosts`, lines
`<host uuid>:<outer VM uuid>`.
"""
import time

from loguru import logger

from halizard.fence import hostmap
from halizard.fence.base import (
    FAILED, OFF, ON, RESET, UNKNOWN, FenceAgent, FenceConfigError, FenceResult, check_action)
from halizard.probes.deadline import remaining
from halizard.xapi.errors import XapiError, XapiFailure
from halizard.xapi.session import open_session, url_for

log = logger.bind(function="fence_host")

HALTED = "Halted"
RUNNING = "Running"
POLL = 0.2


class _NoTime(Exception):
    """The deadline passed before the next call could start."""


class XvmAgent(FenceAgent):
    """Fences a host by powering its outer VM; verified by reading the power state back."""

    name = "XVM"

    def __init__(self, settings, source_address=None, poll=POLL):
        super().__init__(settings)
        if not settings.ip_address:
            raise FenceConfigError("XVM fencing needs FENCE_IPADDRESS (the outer dom0's address)")
        self.url = url_for(settings.ip_address, "https")
        if not self.url.lower().startswith("https://"):
            raise FenceConfigError("XVM fencing sends FENCE_PASSWD, so FENCE_IPADDRESS must be an address or an "
                                   "https URL, not %s" % self.url.split("://", 1)[0])
        self.map_path = hostmap.map_path(settings.file_loc, "XVM")
        self.source_address = source_address
        self.poll = poll

    # --- plumbing -------------------------------------------------------
    def outer_vm(self, host_uuid):
        """The outer VM uuid of `host_uuid` from XVM.hosts (HostMapError when missing/malformed)."""
        return hostmap.lookup(self.map_path, host_uuid, hostmap.validate_uuid_value)

    def _time(self, deadline):
        left = remaining(deadline)
        if left <= 0.05:
            raise _NoTime()
        return left

    def _open(self, deadline):
        return open_session(self.url, self.settings.user or "root", self.settings.password,
                            timeout=self._time(deadline), source_address=self.source_address)

    def _call(self, session, deadline, method, *args):
        return session.call(method, *args, timeout=self._time(deadline))

    def _power(self, session, deadline, ref):
        return self._call(session, deadline, "VM.get_power_state", ref)

    def _wait_power(self, session, deadline, ref, wanted):
        """Read the power state until it is `wanted` or the deadline passes; the last state read."""
        state = None
        while True:
            try:
                state = self._power(session, deadline, ref)
            except XapiError as exc:
                log.warning("XVM: reading the power state failed: {}", exc)
            if state == wanted or remaining(deadline) <= self.poll:
                return state
            time.sleep(self.poll)

    # --- contract -------------------------------------------------------
    def fence(self, host_uuid, action, deadline):
        check_action(action)
        try:
            vm_uuid = self.outer_vm(host_uuid)
        except hostmap.HostMapError as exc:
            log.error("XVM fence of {} impossible: {}", host_uuid, exc)
            return FenceResult.unproven(FAILED, str(exc))
        what = "XVM %s of host %s (outer VM %s)" % (action, host_uuid, vm_uuid)
        session = None
        try:
            session = self._open(deadline)
            ref = self._call(session, deadline, "VM.get_by_uuid", vm_uuid)
            result = self._act(session, deadline, ref, action, what)
        except _NoTime:
            result = FenceResult.unproven(UNKNOWN, "%s: deadline passed before it was verified" % what)
        except XapiError as exc:
            result = FenceResult.unproven(UNKNOWN, "%s: %s" % (what, exc))
        finally:
            if session is not None:
                session.logout()
        (log.info if result.verified else log.error)(result.detail)
        return result

    def _act(self, session, deadline, ref, action, what):
        before = self._power(session, deadline, ref)
        if action == "reset" and before == HALTED:
            return FenceResult.proven(OFF, "%s: the VM was already halted, left off" % what)
        wanted = RUNNING if action == "start" else HALTED
        call_error = None
        if action == "reset":
            wanted = RUNNING
            call = ("VM.hard_reboot", ref)
        elif action == "start":
            call = None if before == RUNNING else ("VM.start", ref, False, True)
        else:
            call = None if before == HALTED else ("VM.hard_shutdown", ref)
        if call is not None:
            try:
                self._call(session, deadline, *call)
            except XapiFailure as exc:
                call_error = exc
                log.warning("{}: {} answered {}", what, call[0], exc)
        after = self._wait_power(session, deadline, ref, wanted)
        if action == "reset":
            if call_error is None and after == RUNNING:
                return FenceResult.proven(RESET, "%s: hard_reboot done, VM running again" % what)
            if after == HALTED:
                return FenceResult.proven(OFF, "%s: reboot did not complete but the VM is halted" % what)
            return FenceResult.unproven(FAILED, "%s: reboot not verified (%s, state %s)" % (what, call_error, after))
        if after == wanted:
            return FenceResult.proven(ON if wanted == RUNNING else OFF, "%s: verified %s" % (what, after))
        reason = " after %s" % call_error if call_error else ""
        return FenceResult.unproven(FAILED, "%s: power state %s%s, expected %s" % (what, after, reason, wanted))

    def status(self, host_uuid, deadline):
        try:
            vm_uuid = self.outer_vm(host_uuid)
        except hostmap.HostMapError as exc:
            return FenceResult.unproven(FAILED, str(exc))
        session = None
        try:
            session = self._open(deadline)
            ref = self._call(session, deadline, "VM.get_by_uuid", vm_uuid)
            state = self._power(session, deadline, ref)
        except _NoTime:
            return FenceResult.unproven(UNKNOWN, "XVM status of %s: deadline passed" % host_uuid)
        except XapiError as exc:
            return FenceResult.unproven(UNKNOWN, "XVM status of %s: %s" % (host_uuid, exc))
        finally:
            if session is not None:
                session.logout()
        if state == RUNNING:
            return FenceResult.proven(ON, "outer VM %s is Running" % vm_uuid)
        if state == HALTED:
            return FenceResult.proven(OFF, "outer VM %s is Halted" % vm_uuid)
        return FenceResult.unproven(UNKNOWN, "outer VM %s is %s" % (vm_uuid, state))


def create(settings):
    return XvmAgent(settings)
