"""One service instance per host: a file lock held for the process lifetime, then a pid file.

Why: two supervisors on one host would both fence and restart VMs. The lock
(flock via filelock) dies with the process, so a crash never leaves a stale
lock; the pid file is only a hint for `stop`/`status`, written after the lock
is held and never trusted without it.
"""
import os

from filelock import FileLock
from filelock import Timeout as LockTimeout

from halizard import paths
from halizard.atomicfile import write_atomic

LOCK_NAME = "ha-lizard.lock"
PID_NAME = "ha-lizard.pid"


class AlreadyRunning(Exception):
    """Another instance holds the lock; `pid` is the pid file's hint (or None)."""

    def __init__(self, pid):
        self.pid = pid
        super().__init__("ha-lizard is already running%s" % (" (pid %d)" % pid if pid else ""))


def run_dir(root):
    return paths.under(root, paths.RUN_DIR)


def pid_path(root):
    return os.path.join(run_dir(root), PID_NAME)


def read_pid(root):
    """The pid recorded in the pid file, or None when absent or garbage."""
    try:
        with open(pid_path(root)) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def ensure_run_dir(root):
    directory = run_dir(root)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    return directory


def _ensure_lock_file(path):
    """Create the lock file 0600 ourselves: filelock 3.4.1 (the last for Python 3.6) has no mode=."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


class InstanceLock:
    """Held from `acquire()` until `release()` or process exit."""

    def __init__(self, root):
        self.root = root
        self._lock = FileLock(os.path.join(run_dir(root), LOCK_NAME), timeout=0)

    def is_held_elsewhere(self):
        """True when some other process holds the lock right now (probe; takes and drops it)."""
        ensure_run_dir(self.root)
        _ensure_lock_file(self._lock.lock_file)
        probe = FileLock(self._lock.lock_file, timeout=0)
        try:
            probe.acquire()
        except LockTimeout:
            return True
        probe.release()
        return False

    def acquire(self):
        ensure_run_dir(self.root)
        _ensure_lock_file(self._lock.lock_file)
        try:
            self._lock.acquire()
        except LockTimeout:
            raise AlreadyRunning(read_pid(self.root)) from None
        write_atomic(pid_path(self.root), "%d\n" % os.getpid(), mode=0o644)

    def release(self):
        if not self._lock.is_locked:
            return
        if read_pid(self.root) == os.getpid():
            try:
                os.unlink(pid_path(self.root))
            except OSError:
                pass
        self._lock.release(force=True)
