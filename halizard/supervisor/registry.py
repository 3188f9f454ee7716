"""Which jobs run, and with which period / deadline / grace.

Why: the job set is data. Production jobs come from `halizard.jobs.JOBS`.
For tests and development only, the environment variable HALIZARD_JOBS may
name a JSON file adding (or, with `"replace": true`, replacing) jobs:

    {"replace": true,
     "jobs": {"sleepy": {"target": "tests.component.supervisor.jobs:hang",
                         "period": 1, "deadline": 2, "grace": 0.5}}}

It is re-read on SIGHUP like the configuration. A bad file is a clear error
at start and keeps the previous job set on reload.

`"loop": true` marks a job whose run checks again and again inside its
deadline and then ends by itself (self_fence): the next run starts as soon
as it ends (at most `period` after the previous start), and the monitor's
busy re-checks (MONITOR_MAX_STARTS) leave it alone until its deadline has
passed, because being busy is its normal state. A loop job needs a deadline.
"""
import json
import os
import re

ENV_JOBS = "HALIZARD_JOBS"
DEFAULT_GRACE = 3.0
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class RegistryError(Exception):
    """The job set is invalid (bad name, target or number)."""


class JobSpec:
    """One job: entry point plus optional explicit period, deadline and grace (seconds)."""

    __slots__ = ("name", "target", "period", "deadline", "grace", "loop")

    def __init__(self, name, target, period=None, deadline=None, grace=None, loop=False):
        if not isinstance(name, str) or not _NAME.match(name):
            raise RegistryError("invalid job name %r" % (name,))
        if not isinstance(target, str) or not _TARGET.match(target):
            raise RegistryError("job %s: target must look like 'package.module:function', got %r" % (name, target))
        self.name = name
        self.target = target
        self.period = _seconds(name, "period", period)
        self.deadline = _seconds(name, "deadline", deadline)
        self.grace = _seconds(name, "grace", grace)
        if not isinstance(loop, bool):
            raise RegistryError("job %s: loop must be true or false, got %r" % (name, loop))
        if loop and self.deadline is None:
            raise RegistryError("job %s: a loop job needs a deadline (it ends its run there)" % name)
        self.loop = loop

    def __eq__(self, other):
        return isinstance(other, JobSpec) and all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __repr__(self):
        return "JobSpec(%s)" % ", ".join("%s=%r" % (k, getattr(self, k)) for k in self.__slots__)


def _seconds(name, field, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise RegistryError("job %s: %s must be a number of seconds > 0, got %r" % (name, field, value))
    return float(value)


def _specs(table, source):
    if not isinstance(table, dict):
        raise RegistryError("%s: 'jobs' must be an object of name -> {target, period, deadline, grace, loop}"
                            % source)
    specs = {}
    for name, entry in table.items():
        if isinstance(entry, str):
            entry = {"target": entry}
        if not isinstance(entry, dict):
            raise RegistryError("%s: job %s must be an object" % (source, name))
        unknown = set(entry) - {"target", "period", "deadline", "grace", "loop"}
        if unknown:
            raise RegistryError("%s: job %s has unknown keys %s" % (source, name, ", ".join(sorted(unknown))))
        specs[name] = JobSpec(name, entry.get("target"), entry.get("period"), entry.get("deadline"),
                              entry.get("grace"), entry.get("loop", False))
    return specs


def load_jobs(environ=None):
    """The job set: name -> JobSpec. Raises RegistryError with a one-line reason."""
    from halizard.jobs import JOBS

    env = os.environ if environ is None else environ
    specs = _specs(JOBS, "halizard.jobs.JOBS")
    extra = env.get(ENV_JOBS)
    if not extra:
        return specs
    try:
        with open(extra, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as exc:
        raise RegistryError("%s=%s: %s" % (ENV_JOBS, extra, exc.strerror or exc)) from None
    except ValueError as exc:
        raise RegistryError("%s=%s: not valid JSON (%s)" % (ENV_JOBS, extra, exc)) from None
    if not isinstance(document, dict):
        raise RegistryError("%s=%s: expected an object with 'jobs'" % (ENV_JOBS, extra))
    added = _specs(document.get("jobs", {}), extra)
    if document.get("replace"):
        return added
    specs.update(added)
    return specs
