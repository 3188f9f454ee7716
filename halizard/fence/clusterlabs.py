"""FENCE_METHOD=fence_<agent>: any installed ClusterLabs fence agent, through its stdin contract.

Why: the ClusterLabs fence agents (Debian package fence-agents) cover some
eighty devices with one contract: `key=value` lines on stdin (action, ip,
username, password, plug, ...), exit 0 for success; for `status`, exit 0 =
on, 2 = off. ha-lizard runs `fence_<agent>` found in the system PATH, with
no shell, a small environment, its own process group and the caller's
deadline; the password travels only on the agent's stdin (a pipe).

Per-host options: `<FENCE_FILE_LOC>/fence_<agent>/fence_<agent>.hosts`,
one line per host: `<host uuid>:<key>=<value>[,<key>=<value>...]`, e.g.
`<uuid>:ip=127.0.0.1,ipport=623,lanplus=1` (a value without `=` is
short for `ip=<value>`). Keys are lower-case letters, digits and `_`;
`action`, `password` and `password_script` are refused (the action is
ha-lizard's, the password is FENCE_PASSWD). FENCE_USER becomes `username`
unless the line sets one.

Actions: stop -> `off`, start -> `on`, reset -> `reboot`; every result is
verified with the agent's `status` action (exit 2 = off, 0 = on).
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from loguru import logger

from halizard.fence import hostmap
from halizard.fence.base import (
    FAILED, OFF, ON, RESET, UNKNOWN, FenceAgent, FenceConfigError, FenceResult, check_action)
from halizard.fence.script import SAFE_PATH, TERM_GRACE, RunOutcome, _kill_group, _read_capture, _wait_exit
from halizard.probes.deadline import remaining

log = logger.bind(function="fence_host")

AGENT_RE = re.compile(r"\Afence_[A-Za-z0-9_]+\Z")
KEY_RE = re.compile(r"\A[a-z][a-z0-9_]*\Z")
REFUSED_KEYS = ("action", "password", "passwd", "password_script", "passwd_script")
AGENT_ACTIONS = {"stop": "off", "start": "on", "reset": "reboot"}
STATUS_ON, STATUS_OFF = 0, 2
MAX_STDIN = 16 * 1024


def parse_options(value):
    """Map value -> [(key, value)]; ValueError with a reason."""
    pairs = []
    for item in value.split(","):
        if not item:
            raise ValueError("empty option in %r" % value[:80])
        if "=" not in item:
            if pairs or "," in value:
                raise ValueError("option %r is not key=value" % item[:60])
            item = "ip=" + item
        key, _, text = item.partition("=")
        if not KEY_RE.match(key):
            raise ValueError("option name %r is not [a-z][a-z0-9_]*" % key[:40])
        if key in REFUSED_KEYS:
            raise ValueError("option %r is not allowed in the map (ha-lizard sets it)" % key)
        if not text:
            raise ValueError("option %r has no value" % key)
        if any(key == seen for seen, _v in pairs):
            raise ValueError("option %r given twice" % key)
        pairs.append((key, text))
    return pairs


def validate_options(value):
    """hostmap validator for fence_<agent>.hosts lines."""
    try:
        parse_options(value)
    except ValueError as exc:
        return str(exc)
    return None


def run_with_input(argv, data, deadline, env, secrets=(), term_grace=TERM_GRACE):
    """Run `argv` (no shell, own process group) with `data` on stdin through a pipe, until `deadline`.

    Same kill rules as halizard.fence.script.run_agent; the input never touches the disk.
    """
    if len(data) > MAX_STDIN:
        raise ValueError("agent input larger than %d bytes" % MAX_STDIN)
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)  # fits the pipe buffer: never blocks
    finally:
        os.close(write_end)
    try:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(  # noqa: S603 - argv list, no shell, agent found in SAFE_PATH
                argv, stdin=read_end, stdout=out, stderr=err, env=env, close_fds=True, start_new_session=True)
            os.close(read_end)
            read_end = None
            timed_out = not _wait_exit(proc.pid, deadline)
            if timed_out:
                _kill_group(proc.pid, signal.SIGTERM)
                _wait_exit(proc.pid, time.monotonic() + term_grace)
            _kill_group(proc.pid, signal.SIGKILL)
            returncode = proc.wait(timeout=10)
            return RunOutcome(None if timed_out else returncode, timed_out,
                              _read_capture(out, secrets), _read_capture(err, secrets))
    finally:
        if read_end is not None:
            os.close(read_end)


class ClusterLabsAgent(FenceAgent):
    """Runs `fence_<agent>` with per-host options; verified by the agent's `status`."""

    def __init__(self, settings, poll=0.5):
        super().__init__(settings)
        self.name = settings.method
        if not AGENT_RE.match(settings.method or ""):
            raise FenceConfigError("invalid fence agent name %r (expected fence_<name>)" % (settings.method,))
        self.program = shutil.which(settings.method, path=SAFE_PATH)
        if self.program is None:
            raise FenceConfigError("fence agent %s is not installed (not found in %s; Debian package "
                                   "fence-agents)" % (settings.method, SAFE_PATH))
        self.map_path = hostmap.map_path(settings.file_loc, settings.method)
        self.poll = poll

    def options_of(self, host_uuid):
        """The host's [(key, value)] from the map file (HostMapError when missing/malformed)."""
        return parse_options(hostmap.lookup(self.map_path, host_uuid, validate_options))

    def _input(self, options, agent_action):
        lines = ["action=%s" % agent_action]
        keys = set()
        for key, value in options:
            lines.append("%s=%s" % (key, value))
            keys.add(key)
        if self.settings.user and "username" not in keys and "login" not in keys:
            lines.append("username=%s" % self.settings.user)
        if self.settings.password:
            lines.append("password=%s" % self.settings.password)
        return ("\n".join(lines) + "\n").encode("utf-8")

    def _run(self, options, agent_action, deadline):
        """One agent run: (returncode, output) or (None, reason) when it gave no answer."""
        if remaining(deadline) <= 0.05:
            return None, "no time left"
        env = {"PATH": SAFE_PATH, "LANG": "C", "LC_ALL": "C", "PYTHONWARNINGS": "ignore"}
        try:
            outcome = run_with_input([self.program], self._input(options, agent_action), deadline, env,
                                     secrets=(self.settings.password,))
        except OSError as exc:
            return None, "could not start: %s" % exc.strerror
        output = "; ".join(t for t in (outcome.stdout, outcome.stderr) if t)[:300]
        if outcome.timed_out:
            return None, "timed out and was killed%s" % ("; output: " + output if output else "")
        return outcome.returncode, output

    def _status(self, options, deadline):
        code, output = self._run(options, "status", deadline)
        if code == STATUS_ON:
            return "on", output
        if code == STATUS_OFF:
            return "off", output
        return None, output if code is None else "status exit %d: %s" % (code, output)

    def _wait_status(self, options, deadline, wanted, stop_on_error=False):
        """Poll `status` until it reads `wanted` or the deadline; `stop_on_error`: also stop at the
        first status that reads no state (after a failed action: a wrong password or a dead device
        would only burn the whole fence deadline, and with it the master's cycle)."""
        while True:
            state, output = self._status(options, deadline)
            if state == wanted or remaining(deadline) <= self.poll + 0.1 or (stop_on_error and state is None):
                return state, output
            time.sleep(self.poll)

    def fence(self, host_uuid, action, deadline):
        check_action(action)
        try:
            options = self.options_of(host_uuid)
        except hostmap.HostMapError as exc:
            log.error("{} fence of {} impossible: {}", self.name, host_uuid, exc)
            return FenceResult.unproven(FAILED, str(exc))
        agent_action = AGENT_ACTIONS[action]
        what = "%s %s of host %s" % (self.name, agent_action, host_uuid)
        code, output = self._run(options, agent_action, deadline)
        said = "no answer (%s)" % output if code is None else "exit %d%s" % (code, ": " + output if output else "")
        wanted = "on" if action in ("start", "reset") else "off"
        state, status_output = self._wait_status(options, deadline, wanted, stop_on_error=code != 0)
        if code == 0 and state == wanted:
            result = FenceResult.proven({"stop": OFF, "start": ON, "reset": RESET}[action],
                                        "%s: %s, status verified %s" % (what, said, state))
        elif state == "off" and action in ("stop", "reset"):
            result = FenceResult.proven(OFF, "%s: %s, but status verified off" % (what, said))
        else:
            result = FenceResult.unproven(FAILED if code is not None else UNKNOWN, "%s: %s; status %s" % (
                what, said, state or "unknown (%s)" % status_output))
        (log.info if result.verified else log.error)(result.detail)
        return result

    def status(self, host_uuid, deadline):
        try:
            options = self.options_of(host_uuid)
        except hostmap.HostMapError as exc:
            return FenceResult.unproven(FAILED, str(exc))
        state, output = self._status(options, deadline)
        what = "%s status of host %s" % (self.name, host_uuid)
        if state is None:
            return FenceResult.unproven(UNKNOWN, "%s: %s" % (what, output))
        return FenceResult.proven(ON if state == "on" else OFF, "%s: power is %s" % (what, state))


def create(settings):
    return ClusterLabsAgent(settings)
