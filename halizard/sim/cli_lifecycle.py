"""`ha-lizard sim up` and `down`, and the pool directory they manage (pid, pool.json, log).

Why: starting a pool is the slow, failure-prone part (a daemon in the
background, every endpoint proven to answer before `up` returns); `down`
must free everything even when the daemon is stuck.
"""
import json
import os
import signal
import subprocess
import sys
import time

from halizard.sim import control
from halizard.sim.addresses import MAX_HOSTS, BoundTransport
from halizard.sim.daemon import LOG_FILE, PID_FILE, POOL_FILE
from halizard.sim.probe import probe

UP_DEADLINE = 60.0
DOWN_DEADLINE = 15.0


class UsageError(Exception):
    """Bad input: one line, exit 2."""


class Failure(Exception):
    """Could not do it: one line, exit 1."""


# --- pool directory -------------------------------------------------------

def _read_pid(directory):
    try:
        with open(os.path.join(directory, PID_FILE), encoding="utf-8") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def _is_our_daemon(pid, directory):
    """True when `pid` is alive and is the simulator daemon of `directory` (guards against pid reuse)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return False
    return b"halizard.sim.daemon" in argv and os.fsencode(directory) in argv


def read_pool_file(directory):
    """pool.json of a running pool, or Failure."""
    path = os.path.join(directory, POOL_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise Failure("no simulated pool running in %s (no %s)" % (directory, POOL_FILE)) from None
    except OSError as exc:
        raise Failure("cannot read %s: %s" % (path, exc.strerror or exc)) from None
    except ValueError:
        raise Failure("cannot read %s: not valid JSON" % path) from None


def _control(directory, method, *params):
    document = read_pool_file(directory)
    try:
        return control.call(document["control_url"], method, *params, timeout=30.0)
    except control.ControlUsageError as exc:
        raise UsageError(str(exc)) from None
    except control.ControlError as exc:
        raise Failure(str(exc)) from None


# --- up -------------------------------------------------------------------

def _log_tail(directory, lines=3):
    try:
        with open(os.path.join(directory, LOG_FILE), encoding="utf-8", errors="replace") as handle:
            tail = [line.strip() for line in handle.read().splitlines() if line.strip()][-lines:]
    except OSError:
        return ""
    return " | ".join(tail)


def _xapi_answers(url, password=""):
    """Any XAPI answer (Success, HOST_IS_SLAVE from a slave, SESSION_AUTHENTICATION_FAILED from a master
    asked with no password) proves the endpoint serves. The password only goes over HTTPS."""
    import XenAPI

    tls = url.startswith("https:")
    session = XenAPI.Session(url, transport=BoundTransport(timeout=5.0, tls=tls))
    try:
        session.login_with_password("root", password if tls else "", "2.0", "ha-lizard-sim")
    except XenAPI.Failure as failure:
        return failure.details[0] in ("HOST_IS_SLAVE", "SESSION_AUTHENTICATION_FAILED")
    except OSError:
        return False
    try:
        session.xenapi.session.logout()
    except (XenAPI.Failure, OSError):
        pass
    return True


def _endpoints_answer(document):
    try:
        control.call(document["control_url"], "ping", timeout=5.0)
    except control.ControlError:
        return False
    if not _xapi_answers(document["outer_url"], document.get("outer_password") or ""):
        return False
    status = control.call(document["control_url"], "status", timeout=10.0)
    ports = {}
    for host in document["hosts"]:
        ports[host["uuid"]] = _probe_port(host["root"])
    for host in document["hosts"]:
        if not _xapi_answers(host["xapi_url"]):
            return False
        if not probe(host["address"], ports[host["uuid"]], timeout=5.0):
            return False
    return bool(status["hosts"])


def _probe_port(root):
    from halizard.sim.roots import read_sim_host

    marker = read_sim_host(root) or {}
    return int(marker.get("probe_port", 7))


def cmd_up(args):
    directory = os.path.abspath(args.dir)
    if not 1 <= args.hosts <= MAX_HOSTS:
        raise UsageError("ha-lizard sim up: --hosts must be within 1..%d" % MAX_HOSTS)
    os.makedirs(directory, exist_ok=True)
    pid = _read_pid(directory)
    if pid and _is_our_daemon(pid, directory):
        raise Failure("a simulated pool already runs in %s (pid %d): run `ha-lizard sim down --dir %s` first"
                      % (directory, pid, directory))
    for name in (POOL_FILE, PID_FILE):
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    command = [sys.executable, "-m", "halizard.sim.daemon", "--dir", directory,
               "--hosts", str(args.hosts), "--vms", str(args.vms),
               "--start-latency", repr(args.start_latency), "--shutdown-latency", repr(args.shutdown_latency),
               "--fuse", repr(args.fuse)]
    if args.bmcs:
        command.append("--bmcs")
    if args.services:
        command.append("--services")
    if args.witness:
        command.append("--witness")
    with open(os.path.join(directory, LOG_FILE), "ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   cwd=directory, close_fds=True, start_new_session=True)
    deadline = time.monotonic() + UP_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Failure("simulated pool did not start (exit %s): %s" % (process.returncode, _log_tail(directory)))
        if os.path.exists(os.path.join(directory, POOL_FILE)):
            document = read_pool_file(directory)
            if _endpoints_answer(document):
                _print_up(directory, document)
                return 0
        time.sleep(0.05)
    _stop_pid(process.pid, directory)
    raise Failure("simulated pool did not answer within %d s: %s" % (UP_DEADLINE, _log_tail(directory)))


def _print_up(directory, document):
    print("simulated pool up in %s: %d hosts, %d VMs" % (directory, len(document["hosts"]), len(document["vms"])))
    for host in document["hosts"]:
        print("  %-8s %-15s %s" % (host["name_label"], host["address"], host["root"]))
    print("  control %s  outer dom0 %s" % (document["control_url"], document["outer_url"]))
    if document.get("gateway"):
        print("  gateway %s (answers the reachability probe: a FENCE_HEURISTICS_IPS address)" % document["gateway"])
    if document.get("witness"):
        print("  witness %s:%d (secret in pool.json; fault target 'witness')"
              % (document["witness"]["address"], document["witness"]["port"]))
    bmcs = document.get("bmcs") or {}
    if bmcs:
        first = sorted(entry["address"] for entry in bmcs.values())[0]
        print("  BMCs (IPMI lanplus, user/password in pool.json) from %s, one per host" % first)
    print("  details: %s" % os.path.join(directory, POOL_FILE))


# --- fault / status -------------------------------------------------------


def _wait_gone(pid, directory, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _is_our_daemon(pid, directory):
            return True
        time.sleep(0.05)
    return not _is_our_daemon(pid, directory)


def _stop_pid(pid, directory):
    """SIGTERM, then SIGKILL, to our daemon only (checked by its command line)."""
    for sig, wait in ((signal.SIGTERM, DOWN_DEADLINE), (signal.SIGKILL, 5.0)):
        if not _is_our_daemon(pid, directory):
            return True
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        if _wait_gone(pid, directory, wait):
            return True
    return False


def cmd_down(args):
    directory = os.path.abspath(args.dir)
    pid = _read_pid(directory)
    if not pid or not _is_our_daemon(pid, directory):
        for name in (POOL_FILE, PID_FILE):
            try:
                os.unlink(os.path.join(directory, name))
            except FileNotFoundError:
                pass
        print("no simulated pool running in %s" % directory)
        return 0
    try:
        _control(directory, "shutdown")
        stopped = _wait_gone(pid, directory, DOWN_DEADLINE)
    except (Failure, UsageError):
        stopped = False
    if not stopped and not _stop_pid(pid, directory):
        raise Failure("simulated pool (pid %d) in %s did not stop" % (pid, directory))
    for name in (POOL_FILE, PID_FILE):
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    print("simulated pool in %s stopped" % directory)
    return 0
