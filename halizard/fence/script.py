"""Custom fence agents: `<FENCE_FILE_LOC>/<NAME>/<NAME>.sh <host-uuid> <start|stop|reset>`.

Why: the guide's bolt-on contract (exit 0 = the action succeeded) is kept,
but the old product ran whatever the name pointed at, waited forever and
dropped the output. Here:
  - the name must match [A-Za-z0-9_-]+, the resolved path must stay inside
    FENCE_FILE_LOC, and the file must be a regular executable owned by root,
    not group/world-writable, in a directory nobody else can write;
  - the agent runs in its own process group with no shell, a small fixed
    environment (no password) and stdin closed;
  - at the deadline the whole group gets SIGTERM, then SIGKILL after a short
    grace; a hung agent is NOT a verified fence;
  - stdout/stderr are captured (bounded, secrets redacted) into the log and
    the result detail.
A grandchild that leaves the process group on purpose (setsid) escapes the
group kill; agents must not do that.
"""
import os
import re
import signal
import stat
import subprocess
import tempfile
import time

from loguru import logger

from halizard.fence.base import (
    FAILED, OFF, ON, RESET, UNKNOWN, FenceAgent, FenceConfigError, FenceResult, check_action)
from halizard.probes.deadline import remaining

log = logger.bind(function="fence_host")

NAME_RE = re.compile(r"\A[A-Za-z0-9_-]+\Z")
OUTPUT_LIMIT = 16 * 1024
TERM_GRACE = 1.0
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
VERIFIED_STATE = {"stop": OFF, "start": ON, "reset": RESET}


def _check_not_writable_by_others(path, info, what):
    if info.st_mode & (stat.S_IWOTH | stat.S_IWGRP):
        raise FenceConfigError("%s %s is writable by group or others" % (what, path))


def resolve_agent(file_loc, name):
    """The real path of custom agent `name`, after every safety check; FenceConfigError otherwise."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise FenceConfigError(
            "invalid custom fence agent name %r (only letters, digits, '_' and '-')" % (name,))
    base = os.path.realpath(file_loc)
    if not os.path.isdir(base):
        raise FenceConfigError("FENCE_FILE_LOC %s is not a directory" % file_loc)
    real = os.path.realpath(os.path.join(base, name, name + ".sh"))
    if os.path.commonpath([base, real]) != base or real == base:
        raise FenceConfigError("custom fence agent %s resolves outside %s" % (name, file_loc))
    try:
        info = os.stat(real)
    except OSError as exc:
        raise FenceConfigError("custom fence agent %s: %s: %s" % (name, real, exc.strerror)) from None
    if not stat.S_ISREG(info.st_mode):
        raise FenceConfigError("custom fence agent %s is not a regular file" % real)
    if info.st_uid != 0:
        raise FenceConfigError("custom fence agent %s is not owned by root" % real)
    _check_not_writable_by_others(real, info, "custom fence agent")
    if not info.st_mode & stat.S_IXUSR:
        raise FenceConfigError("custom fence agent %s is not executable" % real)
    directory = os.path.dirname(real)
    while True:
        dir_info = os.stat(directory)
        if dir_info.st_uid != 0:
            raise FenceConfigError("directory %s is not owned by root" % directory)
        _check_not_writable_by_others(directory, dir_info, "directory")
        if directory == base:
            break
        directory = os.path.dirname(directory)
    return real


def _redact(text, secrets):
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _read_capture(handle, secrets):
    handle.seek(0)
    data = handle.read(OUTPUT_LIMIT + 1)
    text = data[:OUTPUT_LIMIT].decode("utf-8", errors="replace")
    if len(data) > OUTPUT_LIMIT:
        text += "...[truncated]"
    printable = "".join(ch if ch.isprintable() or ch in "\n\t" else "?" for ch in text)
    return _redact(printable, secrets).strip()


def _exited(pid):
    """True once `pid` has exited, without reaping it (its group id stays reserved)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _wait_exit(pid, until):
    pause = 0.01
    while not _exited(pid):
        if time.monotonic() >= until:
            return False
        time.sleep(min(pause, max(0.0, until - time.monotonic())))
        pause = min(pause * 2, 0.1)
    return True


def _kill_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class RunOutcome:
    """How one agent run ended: returncode (None when killed at the deadline), output."""

    def __init__(self, returncode, timed_out, stdout, stderr):
        self.returncode = returncode
        self.timed_out = timed_out
        self.stdout = stdout
        self.stderr = stderr


def run_agent(argv, deadline, env, secrets=(), cwd=None, term_grace=TERM_GRACE):
    """Run `argv` (no shell) in its own process group until it exits or `deadline`.

    At the deadline: SIGTERM to the group, SIGKILL after `term_grace`. After a
    normal exit any leftover group members are killed too. Raises OSError when
    the program cannot be started.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(  # noqa: S603 - argv list, no shell, validated path
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd,
            close_fds=True, start_new_session=True)
        timed_out = not _wait_exit(proc.pid, deadline)
        if timed_out:
            _kill_group(proc.pid, signal.SIGTERM)
            _wait_exit(proc.pid, time.monotonic() + term_grace)
        _kill_group(proc.pid, signal.SIGKILL)  # stragglers (grandchildren), or the hung leader
        returncode = proc.wait(timeout=10)
        return RunOutcome(None if timed_out else returncode, timed_out,
                          _read_capture(out, secrets), _read_capture(err, secrets))


class ScriptAgent(FenceAgent):
    """A bolt-on agent script; exit 0 within the deadline is the only success."""

    def __init__(self, settings, term_grace=TERM_GRACE):
        super().__init__(settings)
        self.name = settings.method
        self.term_grace = term_grace
        self.path = resolve_agent(settings.file_loc, settings.method)

    def _env(self, action):
        return {
            "PATH": SAFE_PATH, "LANG": "C", "LC_ALL": "C",
            "FENCE_METHOD": self.settings.method, "FENCE_ACTION": action,
            "FENCE_FILE_LOC": self.settings.file_loc, "FENCE_IPADDRESS": self.settings.ip_address,
        }

    def fence(self, host_uuid, action, deadline):
        check_action(action)
        try:
            path = resolve_agent(self.settings.file_loc, self.settings.method)  # re-check: it may have changed
        except FenceConfigError as exc:
            log.error("fence agent refused: {}", exc)
            return FenceResult.unproven(FAILED, str(exc))
        if remaining(deadline) <= 0:
            return FenceResult.unproven(UNKNOWN, "no time left to run fence agent %s" % self.name)
        started = time.monotonic()
        try:
            outcome = run_agent([path, host_uuid, action], deadline, self._env(action),
                                secrets=(self.settings.password,), cwd=os.path.dirname(path),
                                term_grace=self.term_grace)
        except OSError as exc:
            log.error("fence agent {} could not start: {}", path, exc.strerror)
            return FenceResult.unproven(FAILED, "fence agent %s could not start: %s" % (path, exc.strerror))
        elapsed = time.monotonic() - started
        for stream, text in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
            if text:
                log.info("fence agent {} {} {} {}: {}", self.name, action, host_uuid, stream, text)
        output = "; ".join(t for t in (outcome.stdout, outcome.stderr) if t)
        if outcome.timed_out:
            detail = "fence agent %s %s %s timed out after %.1fs and was killed" % (
                self.name, action, host_uuid, elapsed)
            log.error(detail)
            return FenceResult.unproven(UNKNOWN, _with_output(detail, output))
        if outcome.returncode == 0:
            detail = "fence agent %s %s %s succeeded (exit 0)" % (self.name, action, host_uuid)
            log.info(detail)
            return FenceResult.proven(VERIFIED_STATE[action], _with_output(detail, output))
        if outcome.returncode < 0:
            detail = "fence agent %s %s %s killed by signal %d" % (
                self.name, action, host_uuid, -outcome.returncode)
        else:
            detail = "fence agent %s %s %s failed (exit %d)" % (self.name, action, host_uuid, outcome.returncode)
        log.error(detail)
        return FenceResult.unproven(FAILED, _with_output(detail, output))

    def status(self, host_uuid, deadline):
        return FenceResult.unproven(
            UNKNOWN, "custom fence agent %s has no status action (contract: start|stop|reset)" % self.name)


def _with_output(detail, output):
    return "%s; output: %s" % (detail, output[:500]) if output else detail


def create(settings):
    return ScriptAgent(settings)
