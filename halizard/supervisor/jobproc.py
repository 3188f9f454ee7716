"""Inside a job process: the entry point the Runner forks (halizard.supervisor.isolate).

Why a module of its own: this is the only code that runs on the job's side
of the fork (new session, default signals, logging, the Env, the job), and
the Report a job returns goes back to the supervisor through a pipe.
"""
import os
import signal
import sys


def resolve_target(target):
    """'package.module:function' -> the function (imported here, in the job's process)."""
    import importlib

    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def child_main(job, report=None):
    """Entry point of a job process: new process group, default signals, logging, run.

    `job`: name, target, root, overrides, deadline, log_stderr, log_file. The run's
    Report (halizard.jobs.base) goes back through `report` for the supervisor's one line.
    """
    os.setsid()
    _name_process(job["name"])
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    from loguru import logger

    from halizard.jobs.base import Env, Outcome, as_report
    from halizard.supervisor.logsetup import setup_logging
    from halizard.xapi import session as xapi_session

    name = job["name"]
    if job.get("xapi_session"):   # the service's login (halizard.xapi.shared_login)
        xapi_session.inherit(job["root"], job["xapi_session"])
    env = Env(job["root"], name, overrides=job["overrides"], deadline=job["deadline"])
    try:
        setup_logging(env.config, stderr=job["log_stderr"], extra_sink=job["log_file"])
    except Exception:  # a logging problem must not turn into a job failure
        logger.remove()
    log = env.log
    try:
        function = resolve_target(job["target"])
        result = as_report(function(env))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if code:
            log.error("job {} exited with status {}", name, code)
        _send(report, None, xapi_session.inherited_stale())
        _leave(code)
    except BaseException as exc:  # the outcome is "error"; the traceback never shows locals
        log.opt(exception=True).error("job {} failed: {}", name, type(exc).__name__)
        _send(report, None, xapi_session.inherited_stale())
        _leave(1)
    summary = None if result is None else (result.outcome.word, result.outcome.level, str(result.text))
    if not _send(report, summary, xapi_session.inherited_stale()) and summary is not None:
        log.info("{}", result.text)   # the supervisor cannot hear it: said here instead
    _leave(1 if result is not None and result.outcome is Outcome.FAILED else 0)


def _send(report, summary, stale_session):
    """Tell the supervisor the run's Report (or None) and whether the login it handed over proved invalid;
    False when it cannot hear."""
    if report is None:
        return False
    try:
        report.send({"summary": summary, "stale_session": bool(stale_session)})
    except (OSError, ValueError):
        return False
    return True


def _name_process(name):
    """Show the job's name as this process's name (`ps -o comm`, `top`, the footprint benchmark).

    Why: every run is a fork of the job forkserver, so its command line is the
    forkserver's; the name is what tells the runs apart. Linux keeps 15 bytes.
    """
    try:
        with open("/proc/self/comm", "w") as handle:
            handle.write(name[:15])
    except OSError:
        pass


def _leave(code):
    """End the job process with `code` without the interpreter's exit handlers.

    Python 3.6's forkserver learns a child's status only from what its process
    bootstrap returns (it never sees os._exit, nor a signal: such a run shows as
    exit 255), so there the code leaves through SystemExit.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    if sys.version_info < (3, 7):
        raise SystemExit(code)
    os._exit(code)
