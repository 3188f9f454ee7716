"""One login with this host's xapi, made by the service and handed to every job run.

Why: each run used to log in and out, once or twice (the live configuration
read, then its own work): half of a slave's XAPI calls, and on a slave each
login and logout is a write to the master's database (the session record
lives there). A real pool's xapi also keeps at most 500 sessions per
originator. Now the service holds one login and each run uses it
(halizard.xapi.session.connect, in the run's own process: the handle
travels in the run's arguments, never through a file or a log line).

Nothing waits for it: `current()` never blocks, and while there is no valid
login (being made, the master silent) a run logs in itself, as before. A
run that found the handle invalid (SESSION_INVALID after a new master or a
xapi restart) logs in again by itself and says so; `stale()` then drops the
handle and the next `current()` makes a new login in a thread of its own.
"""
import threading
import time

from halizard.xapi.errors import XapiError
from halizard.xapi.session import connect

RETRY_SECONDS = 1.0   # after a failed login, the next attempt waits at least this long


class SharedLogin:
    """The service's login, shared by its job runs."""

    def __init__(self, root, clock=time.monotonic, login=None):
        self.root = root
        self.clock = clock
        self._login_fn = login or (lambda: connect(root, shared=False))   # XE_TIMEOUT-bounded
        self._lock = threading.Lock()
        self._session = None
        self._logging_in = False
        self._failed_at = None
        self._closed = False
        self.logins = 0   # logins made (the tests count them)

    def current(self):
        """The shared handle, or None (the run then logs in itself); starts a login when there is none."""
        with self._lock:
            if self._session is not None:
                return self._session.handle
            if self._closed or self._logging_in:
                return None
            if self._failed_at is not None and self.clock() - self._failed_at < RETRY_SECONDS:
                return None
            self._logging_in = True
        try:
            threading.Thread(target=self._login, name="shared-login", daemon=True).start()
        except RuntimeError:   # no thread to be had (resources exhausted): the runs log in themselves
            with self._lock:
                self._logging_in = False
                self._failed_at = self.clock()
        return None

    def stale(self, handle):
        """A run found `handle` invalid: forget it (a newer login is kept)."""
        with self._lock:
            if self._session is not None and self._session.handle == handle:
                self._session = None

    def close(self):
        """Log out (best effort, bounded) and hand out nothing more."""
        with self._lock:
            self._closed = True
            session, self._session = self._session, None
        if session is not None:
            session.logout()   # bounded: at most 2 s

    def _login(self):
        try:
            session = self._login_fn()
        except XapiError:
            with self._lock:
                self._logging_in = False
                self._failed_at = self.clock()
            return
        session.close(all_threads=True)   # the runs open their own connections
        with self._lock:
            self._logging_in = False
            self._failed_at = None
            self.logins += 1
            closed = self._closed
            if not closed:
                self._session = session
        if closed:
            session.logout()
