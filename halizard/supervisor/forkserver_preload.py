"""Imported once inside the forkserver process (multiprocess preload).

Why: orphaned grandchildren of a killed job are re-parented to the nearest
"child subreaper". Making the forkserver one means it reaps them (its SIGCHLD
loop already waits on any pid), so no zombie is left behind even when PID 1
does not reap. The flag is not inherited by forked jobs. Linux only; a no-op
elsewhere.

Why the rest: every job run is forked from here, so what is imported here
is paid once instead of at every run (~20 ms of CPU per run otherwise), and
three things a run would redo each time are switched off:

* re-running the parent's main module in every child (multiprocess does
  that so objects of `__main__` can be unpickled; a job run only receives
  `isolate._child_main` and plain data, resolved by import);
* loguru's library-directory scan (sysconfig) at every `logger.add`;
* building the local configuration (when the service named its root in
  HALIZARD_WARM_ROOT; rebuilt in a run only if its files changed since);
* the garbage collector walking the preloaded objects in every child
  (`gc.freeze()`: they are never garbage, and walking them copies pages).
"""
import ctypes
import ctypes.util
import gc
import os
import warnings

PR_SET_CHILD_SUBREAPER = 36
WARM_ROOT_ENV = "HALIZARD_WARM_ROOT"   # set by the service: its root, whose configuration is built here once

warnings.filterwarnings("ignore", message="forkserver: waitpid returned unexpected pid")


def become_subreaper():
    """Returns True when the flag was set."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _keep_main(_name_or_path):
    """Stands in for multiprocess.spawn's main-module fix-up: job runs never need the parent's __main__."""


def skip_main_fixup():
    """Children of this forkserver keep its own __main__ instead of re-running the parent's."""
    try:
        from multiprocess import spawn
    except ImportError:
        return False
    if not (hasattr(spawn, "_fixup_main_from_name") and hasattr(spawn, "_fixup_main_from_path")):
        return False
    spawn._fixup_main_from_name = _keep_main
    spawn._fixup_main_from_path = _keep_main
    return True


SUBREAPER = become_subreaper()
MAIN_FIXUP_SKIPPED = skip_main_fixup()

# Jobs fork from here: having these imported once keeps each run cheap.
import halizard.config.effective  # noqa: E402,F401  (every run reads its local configuration)
import halizard.core.policy  # noqa: E402,F401  (the configuration's safety check builds a Policy)
import halizard.core.timing  # noqa: E402,F401
import halizard.jobs.base  # noqa: E402,F401
import halizard.statefiles  # noqa: E402,F401
import halizard.supervisor.isolate  # noqa: E402,F401  (the run's entry point)
import halizard.supervisor.logsetup  # noqa: E402,F401  (also caches loguru's library directories)
import halizard.config.settings  # noqa: E402,F401

# What most production runs import (XAPI client, host files, probes, platform): ~15-40 ms of CPU per
# run when imported there, a few MB once here. Best effort: a module that cannot be imported here is
# imported (and fails visibly) in the run that needs it.
WARM = ("halizard.xapi.session", "halizard.xapi.errors", "halizard.hostinfo", "halizard.platform",
        "halizard.probes.net", "halizard.suspension", "halizard.core.quorum", "halizard.core.selffence")


def warm_up(names):
    """Import `names` and the production job modules; returns the ones that failed."""
    import importlib

    failed = []
    try:
        from halizard.jobs import JOBS
        jobs = [entry["target"].partition(":")[0] for entry in JOBS.values()]
    except (ImportError, KeyError, AttributeError, TypeError):
        jobs = []
    for name in list(names) + jobs:
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name)
    return failed


WARM_FAILED = warm_up(WARM)
WARM_ROOT = os.environ.get(WARM_ROOT_ENV)
WARM_CONFIG = bool(WARM_ROOT) and halizard.config.settings.warm_local_config(WARM_ROOT)
gc.collect()
if hasattr(gc, "freeze"):  # 3.7+; on 3.6 the pages are simply copied on write
    gc.freeze()  # novermin (guarded above)
