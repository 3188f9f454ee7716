"""The host's VM action lock: one plan execution per host at a time, on filelock.

Every job that starts or releases VMs on this host holds it meanwhile
(vm_monitor, vm_events, slave_recovery, takeover). A holder that acted
touches a marker file beside the lock on release, so the next holder can
tell that a snapshot it took before acquiring is stale (`changed_since`).
The marker is a file of its own: filelock may remove or rewrite the lock
file itself.
"""
import os

from filelock import FileLock, Timeout

from halizard import paths

LOCK_FILE = "vm-actions.lock"
FIX_LOCK_FILE = "vm-fixes.lock"
POLL = 0.02   # s between tries while waiting


def _file_lock(path):
    """A FileLock that one thread may take and another release (a recovery's worker threads)."""
    try:
        return FileLock(path, thread_local=False)
    except TypeError:  # filelock 3.4.1 (the last for Python 3.6) has no per-thread state to switch off
        return FileLock(path)


class ActionLock:
    """An exclusive lock on a file of the state directory; `acquire(wait)` never blocks longer than `wait`."""

    def __init__(self, root, directory=None, name=None):
        directory = directory or paths.under(root, paths.STATE_DIR)
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, name or LOCK_FILE)
        self.marker = self.path + ".acted"
        self._lock = _file_lock(self.path)

    def acquire(self, wait=0.0):
        """True when held; waits up to `wait` seconds."""
        try:
            self._lock.acquire(timeout=max(0.0, wait), poll_interval=POLL)
        except Timeout:
            return False
        return True

    def release(self, acted=False):
        """Let go; `acted`: VMs were started or released meanwhile (later holders re-read the pool)."""
        if not self._lock.is_locked:
            return
        if acted:
            with open(self.marker, "a"):
                pass
            os.utime(self.marker)
        self._lock.release()

    def wait_free(self, wait):
        """Wait (up to `wait` s) until no one holds the lock; True when free. Holds nothing afterwards.

        Why: a VM job reads the whole pool before it plans; reading while a
        recovery holds the lock is wasted work (the view is stale when the
        lock comes free) that slows the recovery's own calls down.
        """
        if not self.acquire(wait):
            return False
        self.release()
        return True

    def changed_since(self, when):
        """True when a holder acted after `when` (epoch seconds): a view read before then is stale."""
        try:
            return os.stat(self.marker).st_mtime > when
        except OSError:
            return False
