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
  `jobproc.child_main` and plain data, resolved by import);
* loguru's library-directory scan (sysconfig) at every `logger.add`, and
  the log sinks themselves (the service names them in HALIZARD_WARM_LOG; a
  run only points their filter at its configuration);
* building the local configuration (when the service named its root in
  HALIZARD_WARM_ROOT; rebuilt in a run only if its files changed since),
  and importing that root's platform module;
* the garbage collector walking the preloaded objects in every child
  (`gc.freeze()`: they are never garbage, and walking them copies pages).
"""
import ctypes
import ctypes.util
import gc
import json
import os
import warnings

PR_SET_CHILD_SUBREAPER = 36
WARM_ROOT_ENV = "HALIZARD_WARM_ROOT"   # set by the service: its root, whose configuration is built here once
WARM_LOG_ENV = "HALIZARD_WARM_LOG"     # set by the service: {"stderr", "file"}, the log sinks of its runs

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
import halizard.platform  # noqa: E402  (warm_platform)
import halizard.statefiles  # noqa: E402,F401
import halizard.supervisor.isolate  # noqa: E402,F401
import halizard.supervisor.jobproc  # noqa: E402,F401  (the run's entry point)
import halizard.supervisor.logsetup  # noqa: E402,F401  (also caches loguru's library directories)
import halizard.config.settings  # noqa: E402,F401

# What most production runs import (XAPI client, host files, probes, platform): ~15-40 ms of CPU per
# run when imported there, a few MB once here. Best effort: a module that cannot be imported here is
# imported (and fails visibly) in the run that needs it.
# The loop runs' own (witness requests, the watchdog beat) and the codecs every XAPI or peer call uses are
# here too: what a run imports is private to it, what is imported here is shared by every run.
WARM = ("halizard.xapi.session", "halizard.xapi.errors", "halizard.hostinfo", "halizard.platform",
        "halizard.probes.net", "halizard.suspension", "halizard.core.quorum", "halizard.core.selffence",
        "halizard.probes.witness", "halizard.witness.protocol", "halizard.jobs.beat",
        "encodings.ascii", "encodings.idna")


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


def warm_platform(root):
    """Import the platform module of the host at `root` (the dom0's, or the simulated one) once here, as
    get_platform does in every run that touches the host; True when it could."""
    try:
        halizard.platform.get_platform(root)
    except Exception:  # noqa: BLE001 - the run that needs its platform says what is wrong
        return False
    return True


WARM_FAILED = warm_up(WARM)
WARM_ROOT = os.environ.get(WARM_ROOT_ENV)
WARM_CONFIG = bool(WARM_ROOT) and halizard.config.settings.warm_local_config(WARM_ROOT)
WARM_PLATFORM = bool(WARM_ROOT) and warm_platform(WARM_ROOT)


def warm_logging(spec):
    """Set up the log sinks every run will ask for (`spec`: the service's JSON {"stderr", "file"}), so
    that a run's setup_logging keeps them instead of building them again; True when done."""
    if not spec:
        return False
    try:
        wanted = json.loads(spec)
        halizard.supervisor.logsetup.setup_logging(None, stderr=wanted["stderr"], extra_sink=wanted["file"])
    except Exception:  # noqa: BLE001 - then each run sets its sinks up itself, as it would anyway
        return False
    return True


WARM_LOG = warm_logging(os.environ.get(WARM_LOG_ENV))
gc.collect()
if hasattr(gc, "freeze"):  # 3.7+; on 3.6 the pages are simply copied on write
    gc.freeze()  # novermin (guarded above)
