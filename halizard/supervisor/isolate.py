"""One process per job run, in its own process group, with a deadline.

Why: a hung XAPI call in one job must never freeze the others or the
supervisor. Each run is forked by a multiprocess *forkserver* (safe with the
supervisor's threads, cheap because the server has the job machinery
preloaded), becomes leader of a new session/process group, and is watched by
one supervisor thread. At the deadline (or on a kill request) the whole group
gets SIGTERM, then after a grace period SIGKILL: grandchildren included.
After every run the group is swept with SIGKILL so nothing is left behind.

Outcomes: ok (exit 0), error (exception or non-zero exit), timed_out
(deadline hit), killed (kill request, or the process died by a signal it did
not get from us).
"""
import json
import os
import signal
import threading

import multiprocess
from multiprocess.connection import Pipe
from multiprocess.connection import wait as wait_ready

from halizard.atomicfile import write_atomic
from halizard.core.strenum import StrEnum
from halizard.probes.clock import Clocks
from halizard.supervisor.jobproc import child_main


class RunOutcome(StrEnum):
    """How a job run ended as the supervisor saw it: the words of state files, status and metrics."""

    OK = "ok"
    ERROR = "error"
    TIMED_OUT = "timed_out"
    KILLED = "killed"


OK, ERROR, TIMED_OUT, KILLED = RunOutcome.OK, RunOutcome.ERROR, RunOutcome.TIMED_OUT, RunOutcome.KILLED
OUTCOMES = tuple(RunOutcome)

_CONTEXT = None
_CONTEXT_LOCK = threading.Lock()


def _without_resource_tracker():
    """Point multiprocess's resource tracker at /dev/null instead of starting its process.

    Why: the tracker is a whole extra interpreter (~17 MB RSS) that only
    cleans up named semaphores / shared memory after crashes; jobs use
    neither (they talk through state files). Pre-setting its descriptor makes
    `ensure_running()` find a "live" tracker. If multiprocess changes its
    internals, this quietly does nothing and the tracker runs as usual.
    """
    try:
        from multiprocess import resource_tracker

        tracker = resource_tracker._resource_tracker
        if getattr(tracker, "_fd", 0) is None and getattr(tracker, "_pid", 0) is None:
            tracker._fd = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    except (ImportError, AttributeError, OSError):
        pass


def mp_context():
    """The shared forkserver context (started on first use, preloaded with the job machinery)."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            _without_resource_tracker()
            ctx = multiprocess.get_context("forkserver")
            ctx.set_forkserver_preload(["halizard.supervisor.forkserver_preload"])
            _CONTEXT = ctx
        return _CONTEXT


def signal_group(pid, sig, leader_fallback=False):
    """Send `sig` to the process group led by `pid`; False when no such group exists.

    `leader_fallback`: when the group does not exist yet (the job has not
    reached setsid), signal the still-running leader itself. Only used while
    the process is known to be alive, so the pid cannot belong to someone else.
    """
    try:
        os.killpg(pid, sig)
        return True
    except ProcessLookupError:
        pass
    except PermissionError:
        return False
    if leader_fallback:
        try:
            os.kill(pid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            pass
    return False


def session_members(sid):
    """Live pids of session `sid` (a job run's session: setsid makes sid == pgid == leader pid)."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == sid and int(fields[3]) == sid:
            members.append(int(entry))
    return members


def _read_report(reader):
    """(summary, stale_session) a finished run sent (jobproc._send): its (outcome word, level, sentence)
    or None, and whether the login handed to it proved invalid; closes `reader`."""
    try:
        if reader.poll(0):
            value = reader.recv()
            if isinstance(value, dict):
                summary = value.get("summary")
                if not (isinstance(summary, tuple) and len(summary) == 3 and all(isinstance(v, str) for v in summary)):
                    summary = None
                return summary, value.get("stale_session") is True
    except (OSError, EOFError, ValueError, TypeError):
        pass
    finally:
        reader.close()
    return None, False


class RunJournal:
    """`<run dir>/runs.json`: pids of the runs in flight, so a restarted service can end leftovers.

    Why: if the supervisor itself is killed (SIGKILL, OOM) without systemd
    cleaning its cgroup (SysV), its job runs live on. The next instance
    reads this file and kills whatever is still in those sessions.
    """

    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()

    def record(self, pids):
        with self._lock:
            try:
                write_atomic(self.path, json.dumps(sorted(pids)), mode=0o600)
            except OSError:
                pass

    def sweep(self):
        """Kill leftover sessions of a previous instance; returns {leader pid: members killed}."""
        try:
            with open(self.path) as handle:
                pids = json.load(handle)
        except (OSError, ValueError):
            return {}
        killed = {}
        for pid in pids if isinstance(pids, list) else []:
            if not isinstance(pid, int) or pid <= 1 or pid == os.getpid():
                continue
            members = session_members(pid)
            if members:
                signal_group(pid, signal.SIGKILL)
                killed[pid] = members
        self.record([])
        return killed


class RunnerClosed(RuntimeError):
    """The service is stopping: no new run starts."""


class Run:
    """One execution: what `jobs list` shows and what the history records."""

    def __init__(self, name, started, deadline):
        self.name = name
        self.pid = None
        self.started = started          # wall clock (epoch s)
        self.deadline = deadline        # wall clock (epoch s) or None
        self.finished = None
        self.duration = None
        self.outcome = None
        self.exitcode = None
        self.reason = None
        self.summary = None             # the run's Report: (outcome word, log level, sentence)
        self.login = None               # the service's login handed to it (never shown: as_dict)
        self.kill_reason = None
        self.done = threading.Event()

    def as_dict(self):
        return {"name": self.name, "pid": self.pid, "started": self.started, "deadline": self.deadline,
                "finished": self.finished, "duration": self.duration, "outcome": self.outcome,
                "exit": self.exitcode, "reason": self.reason,
                "summary": self.summary[2] if self.summary else None}


_START_LOCK = threading.Lock()   # every start of every Runner in this process


def _start_watched_only(process):
    """Start `process` and take it off multiprocess's list of children, so only its watcher polls it.

    Why: Process.start() polls every listed child first (its _cleanup), so a run that just ended was
    read by the starter and its watcher at once, and the loser recorded exit status 255 over the real
    one (CPython gh-130895, gh-140867). The lock: no start polls a process not yet off the list."""
    import multiprocess.process

    with _START_LOCK:
        process.start()
        multiprocess.process._children.discard(process)


class Runner:
    """Starts runs and watches each one until its process group is gone."""

    def __init__(self, on_finish=None, log_stderr=False, log_file=None, clocks=Clocks,
                 context_factory=mp_context, kill_wait=5.0, journal=None):
        self.on_finish = on_finish
        self.journal = journal
        self.login = None   # the service sets its SharedLogin (halizard.xapi.shared_login): handed to every run
        self.log_stderr = log_stderr
        self.log_file = log_file
        self.clock = clocks.monotonic
        self.wall = clocks.wall
        self.context_factory = context_factory
        self.kill_wait = kill_wait
        self._lock = threading.Lock()
        self._active = {}    # Run -> (process, wake_w)
        self._closed = None  # the stop reason once stop_all began: no new run starts
        self._forking = 0    # starts between the closed check and their registration
        self._forked = threading.Condition(self._lock)
        self._finishing = set()  # runs off the active list whose watcher has not yet set `done`

    def start(self, name, target, root, overrides=None, deadline=None, grace=3.0):
        """Start one run now; `deadline` is seconds from now (None = no deadline).

        Raises RunnerClosed once stop_all began. A start already forking then
        is waited for by stop_all and ended with the others.
        """
        with self._lock:
            if self._closed is not None:
                raise RunnerClosed(self._closed)
            self._forking += 1
        try:
            return self._start(name, target, root, overrides, deadline, grace)
        finally:
            with self._lock:
                self._forking -= 1
                self._forked.notify_all()

    def _start(self, name, target, root, overrides, deadline, grace):
        start_wall = self.wall()
        start_mono = self.clock()
        run = Run(name, start_wall, None if deadline is None else start_wall + deadline)
        report_r, report_w = Pipe(duplex=False)
        run.login = self.login.current() if self.login is not None else None
        job = {"name": name, "target": target, "root": root, "overrides": dict(overrides or {}),
               "deadline": run.deadline, "log_stderr": self.log_stderr, "log_file": self.log_file,
               "xapi_session": run.login}
        process = self.context_factory().Process(target=child_main, name="ha-lizard-job-" + name,
                                                 args=(job, report_w))
        try:
            _start_watched_only(process)
        except BaseException:
            report_r.close()
            raise
        finally:
            report_w.close()
        run.pid = process.pid
        wake_r, wake_w = os.pipe()
        with self._lock:
            self._active[run] = (process, wake_w)
            self._journal_locked()
            if self._closed is not None:   # stop_all began while this one forked: end it too
                run.kill_reason = self._closed
                os.write(wake_w, b"k")
        deadline_mono = None if deadline is None else start_mono + deadline
        watcher = threading.Thread(target=self._watch, name="watch-" + name,
                                   args=(run, process, (wake_r, report_r), start_mono, deadline_mono, grace),
                                   daemon=True)
        watcher.start()
        return run

    def _journal_locked(self):
        if self.journal is not None:
            self.journal.record([r.pid for r in self._active if r.pid])

    def kill(self, run, reason):
        """Ask the watcher to end `run` (SIGTERM, grace, SIGKILL); returns at once."""
        with self._lock:
            entry = self._active.get(run)
            if entry is None:
                return False
            run.kill_reason = reason
            try:
                os.write(entry[1], b"k")
            except OSError:
                pass
        return True

    def active(self):
        with self._lock:
            return list(self._active)

    def stop_all(self, reason, timeout):
        """Refuse new runs, kill every active one (those still forking too) and wait (bounded) for their
        watchers; returns the runs still alive."""
        limit = self.clock() + timeout
        with self._lock:
            self._closed = reason
            while self._forking and self.clock() < limit:
                self._forked.wait(max(0.0, limit - self.clock()))
        with self._lock:   # a run its watcher is still finishing is waited for too
            runs = list(self._active) + list(self._finishing)
        for run in runs:
            self.kill(run, reason)
        for run in runs:
            run.done.wait(max(0.0, limit - self.clock()))
        return [run for run in runs if not run.done.is_set()]

    def _terminate(self, process, grace):
        pid = process.pid
        signal_group(pid, signal.SIGTERM, leader_fallback=process.exitcode is None)
        process.join(grace)
        signal_group(pid, signal.SIGKILL, leader_fallback=process.exitcode is None)
        process.join(self.kill_wait)

    def _until_gone(self, run, process, wake_r, window, grace):
        """Wait until the run's process ends, is killed (a kill request) or passes its deadline
        (`window`: its start and deadline, monotonic); then sweep its group and set its outcome."""
        start_mono, deadline_mono = window
        while True:
            timeout = None if deadline_mono is None else max(0.0, deadline_mono - self.clock())
            ready = wait_ready([process.sentinel, wake_r], timeout)
            if process.sentinel in ready:
                break
            if wake_r in ready:
                os.read(wake_r, 64)
            if run.kill_reason is not None:
                run.outcome, run.reason = KILLED, run.kill_reason
                self._terminate(process, grace)
                break
            if deadline_mono is not None and self.clock() >= deadline_mono:
                run.outcome = TIMED_OUT
                run.reason = "deadline of %.1f s reached" % (deadline_mono - start_mono)
                self._terminate(process, grace)
                break
        process.join(self.kill_wait)
        signal_group(run.pid, signal.SIGKILL)   # sweep grandchildren left in the group
        run.exitcode = process.exitcode
        if run.outcome is None:
            run.outcome, run.reason = _exit_outcome(run.exitcode)

    def _watch(self, run, process, pipes, start_mono, deadline_mono, grace):
        wake_r, report_r = pipes
        try:
            self._until_gone(run, process, wake_r, (start_mono, deadline_mono), grace)
        finally:
            run.summary, stale = _read_report(report_r)
            if stale and run.login is not None:
                self.login.stale(run.login)
            run.finished = self.wall()
            run.duration = round(self.clock() - start_mono, 3)
            with self._lock:
                _proc, wake_w = self._active.pop(run, (None, None))
                self._finishing.add(run)
                self._journal_locked()
            for fd in (wake_r, wake_w):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            try:
                if hasattr(process, "close"):  # 3.7+; on 3.6 its sentinel closes when it is collected
                    process.close()
            except ValueError:
                pass
            run.done.set()
            with self._lock:
                self._finishing.discard(run)
            if self.on_finish is not None:
                self.on_finish(run)


def _exit_outcome(exitcode):
    """(outcome, reason) of a run that ended by itself with `exitcode`."""
    if exitcode == 0:
        return OK, None
    if exitcode is not None and exitcode < 0:
        return KILLED, "killed by signal %d" % -exitcode
    return ERROR, "exit status %s" % exitcode
