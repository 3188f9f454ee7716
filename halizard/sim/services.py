"""Each simulated host's service process, owned by the process that owns the pool.

Why: a powered-off host runs nothing. Tests and the demo used to start each
host's `ha-lizard run` themselves, so a "powered-off" host's supervisor went
on acting. Here the pool's owner (the simulator daemon, or a test process with
an in-process pool) spawns the command a host's service was registered with,
and power faults act on its whole process tree as the hardware would:
power-off SIGKILLs every process of it (supervisor, forkserver, job runs and
their children, which leave the process group with setsid), power-on starts
the same command again, freeze SIGSTOPs the tree and the thaw SIGCONTs it.

Not thread-safe on its own: SimPool calls it under its lock.
"""
import os
import signal
import subprocess
import sys
import time

RUNNING = "running"
FROZEN = "frozen"
STOPPED = "stopped"   # its host is powered off (killed, or not started yet)
EXITED = "exited"     # it ended by itself while its host was on (nothing restarts it)
NONE = "none"         # no service registered for the host
STOP_GRACE = 10.0     # seconds a service gets to stop after SIGTERM before its tree is killed
SETTLE_ROUNDS = 50
WATCHDOG_MODULE = b"halizard.platform.simdog"


def default_command(root):
    """The host's ha-lizard service, as `ha-lizard --root ROOT run` with its log under the root."""
    return [sys.executable, "-m", "halizard.cli.ha_lizard", "--root", root, "run",
            "--log-file", os.path.join(root, "service.log")]


def default_env():
    """This process's environment without what would tie the service to our own supervisor."""
    env = dict(os.environ)
    for key in ("NOTIFY_SOCKET", "HALIZARD_ROOT"):
        env.pop(key, None)
    return env


def _children(pid):
    kids = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return kids
    for task in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, task)) as handle:
                kids.extend(int(k) for k in handle.read().split())
        except (OSError, ValueError):
            continue
    return kids


def _stat(pid, field, kind=int):
    """Field `field` of /proc/PID/stat counted after the command name (0: state, 3: session, 19: start time)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return kind(handle.read().rsplit(")", 1)[1].split()[field])
    except (OSError, ValueError, IndexError):
        return None


def _session_of(pid):
    return _stat(pid, 3)


def identities(pids):
    """{pid: start time}: tells a process from a later one that reuses its pid."""
    return {pid: _stat(pid, 19) for pid in pids}


def process_tree(leader):
    """Live pids of the service led by `leader`: its session (orphans included) and every descendant."""
    roots = {leader}
    try:
        entries = [int(e) for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        entries = []
    roots.update(pid for pid in entries if _session_of(pid) == leader)
    found, stack = set(), list(roots)
    while stack:
        pid = stack.pop()
        if pid in found or not os.path.exists("/proc/%d" % pid):
            continue
        found.add(pid)
        stack.extend(_children(pid))
    return found


def _signal(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def stop_tree(leader, spare=lambda pid: False):
    """SIGSTOP the whole tree but what `spare` names, again until no new process appears (a stopped
    process cannot fork). Returns the stopped pids."""
    seen, stopped = set(), set()
    for _ in range(SETTLE_ROUNDS):
        members = process_tree(leader) - seen
        if not members:
            break
        seen |= members
        members = {pid for pid in members if not spare(pid)}
        _signal(members, signal.SIGSTOP)
        stopped |= members
    return stopped


def outside_dom0(pid):
    """The simulated watchdog device (halizard.platform.simdog): hardware or Xen's, a dom0 freeze does not
    stop it (it reboots the frozen host when it is not fed). A power loss kills it with the rest."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return WATCHDOG_MODULE in handle.read().split(b"\0")
    except OSError:
        return False


def _wait_stopped(pids, limit=1.0, states=("T", "t", "Z", "X")):
    """Until every one of `pids` is in one of `states` or gone (a signal is delivered asynchronously),
    at most `limit` s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if all(_stat(pid, 0, str) in (None,) + tuple(states) for pid in pids):
            return True
        time.sleep(0.005)
    return False


def check_spec(argv, env, cwd, output):
    """ValueError unless the command, environment, working directory and output file can be used."""
    if not argv or not all(isinstance(arg, str) and arg for arg in argv):
        raise ValueError("a service command is a list of non-empty strings")
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise ValueError("a service environment maps strings to strings")
    if not (isinstance(cwd, str) and isinstance(output, str)):
        raise ValueError("a service's working directory and output are paths")
    if not os.path.isdir(cwd):
        raise ValueError("service working directory %s does not exist" % cwd)
    if not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise ValueError("service output %s: no such directory" % output)


class HostService(object):
    """One host's registered command and its current process."""

    def __init__(self, name, argv, env, cwd, output):
        """ValueError when the command, environment, working directory or output cannot be used."""
        check_spec(argv, env, cwd, output)
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.output = output
        self.proc = None
        self.frozen = False
        self.killed = False

    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            return
        with open(self.output, "ab") as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=out, close_fds=True, start_new_session=True)
        self.frozen = self.killed = False

    def kill(self):
        """Power loss: every process of the tree dies at once (stopped first, so none escapes)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            members = stop_tree(self.proc.pid) | {self.proc.pid}
        else:  # already gone (and reaped: its pid may be reused): only what is left in its session
            members = {pid for pid in process_tree(self.proc.pid) if _session_of(pid) == self.proc.pid}
        self.kill_pids(members)

    def kill_pids(self, members):
        """SIGKILL `members`, reap the leader; the service counts as killed (stopped).

        Waits (at most 2 s) until every member is dead: a power loss is instant, so once the fault
        returns nothing of the host may still run (a stopped process takes the SIGKILL a moment later;
        test_services saw one alive right after the fault under load)."""
        _signal(members, signal.SIGKILL)
        _wait_stopped(members, 2.0, states=("Z", "X"))
        try:
            self.proc.wait(5.0)
        except subprocess.TimeoutExpired:
            pass
        self.frozen, self.killed = False, True

    def freeze(self):
        if self.proc is not None and self.proc.poll() is None:
            _wait_stopped(stop_tree(self.proc.pid, spare=outside_dom0))
            self.frozen = True

    def thaw(self):
        if self.proc is not None and self.frozen:
            _signal(process_tree(self.proc.pid), signal.SIGCONT)
        self.frozen = False

    def state(self):
        """{"service": running|frozen|stopped|exited, "pid": int or None, "exit": int or None}."""
        if self.proc is None or self.killed:
            return {"service": STOPPED, "pid": None, "exit": None}
        code = self.proc.poll()
        if code is None:
            return {"service": FROZEN if self.frozen else RUNNING, "pid": self.proc.pid, "exit": None}
        return {"service": EXITED, "pid": None, "exit": code}


class Services(object):
    """host uuid -> HostService; every power fault of the pool goes through here."""

    def __init__(self):
        self._by_host = {}

    def register(self, host_uuid, service, powered_on, frozen):
        """Record HOST's HostService and start it when its host is on (frozen at once on a frozen host).

        ValueError for a second service."""
        if host_uuid in self._by_host:
            raise ValueError("host %s already has a service: stop it first" % service.name)
        self._by_host[host_uuid] = service
        if powered_on:
            service.start()
            if frozen:
                service.freeze()
        return service.state()

    def unregister(self, host_uuid):
        """Forget HOST's service; returns it (or None) for `terminate`, called outside the pool's lock."""
        return self._by_host.pop(host_uuid, None)

    def _on_host(self, host_uuid, action):
        """HostService.`action`() of HOST's service, when it has one."""
        service = self._by_host.get(host_uuid)
        if service is not None:
            getattr(service, action)()

    def power_off(self, host_uuid):
        self._on_host(host_uuid, "kill")

    def power_on(self, host_uuid):
        self._on_host(host_uuid, "start")

    def freeze(self, host_uuid):
        self._on_host(host_uuid, "freeze")

    def thaw(self, host_uuid):
        self._on_host(host_uuid, "thaw")

    def state(self, host_uuid):
        service = self._by_host.get(host_uuid)
        if service is None:
            return {"service": NONE, "pid": None, "exit": None}
        return service.state()

    def unregister_all(self):
        services = list(self._by_host.values())
        self._by_host.clear()
        return services


def terminate(services, grace=STOP_GRACE):
    """SIGTERM each running service (thawed first), wait up to `grace` s for all, then kill what is left.

    The tree is noted before the SIGTERM: once the leader is gone, what it left behind (job runs in
    their own sessions) can no longer be found from it.
    """
    trees = {}
    for service in services:
        if service.proc is not None and service.proc.poll() is None:
            service.thaw()
            trees[service] = identities(process_tree(service.proc.pid))
            _signal([service.proc.pid], signal.SIGTERM)
    limit = time.monotonic() + grace
    for service in services:
        if service.proc is None:
            continue
        try:
            service.proc.wait(max(0.0, limit - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        known = trees.get(service, {})
        service.kill()
        service.kill_pids([pid for pid, started in identities(known).items() if started is not None
                       and started == known[pid]])
