"""Imported once inside the forkserver process (multiprocess preload).

Why: orphaned grandchildren of a killed job are re-parented to the nearest
"child subreaper". Making the forkserver one means it reaps them (its SIGCHLD
loop already waits on any pid), so no zombie is left behind even when PID 1
does not reap. The flag is not inherited by forked jobs. Linux only; a no-op
elsewhere.
"""
import ctypes
import ctypes.util
import warnings

PR_SET_CHILD_SUBREAPER = 36

warnings.filterwarnings("ignore", message="forkserver: waitpid returned unexpected pid")


def become_subreaper():
    """Returns True when the flag was set."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


SUBREAPER = become_subreaper()

# Jobs fork from here: having these imported once keeps each run cheap.
import halizard.cli.ha_lizard  # noqa: E402,F401  (each run re-runs the service's main module)
import halizard.config.effective  # noqa: E402,F401  (every run reads its local configuration)
import halizard.jobs.base  # noqa: E402,F401
import halizard.supervisor.settings  # noqa: E402,F401
import halizard.statefiles  # noqa: E402,F401
import halizard.supervisor.logsetup  # noqa: E402,F401
