"""The monitor rule and what the supervisor knows about each job between checks.

Why apart from the scheduler: `decide()` is the old monitor's rule as a pure
function, tested on its own; Timing and JobState are the per-job data the
scheduler (halizard.supervisor.scheduler) keeps and `jobs list` shows; the
run's one log line (`log_run`) is the supervisor's side of a job's Report
(halizard.jobs.base).
"""
from loguru import logger

from halizard.ops import jobstats
from halizard.supervisor import isolate

log = logger.bind(function="monitor")

START = "start"
WAIT = "wait"
ALERT = "alert"
ALERT_KILL = "alert_kill"
STAGGER = 0.25   # seconds between the first runs of two jobs at start (see JobScheduler.start)


def decide(busy, busy_checks, max_starts, killall, alerted):
    """The monitor rule for one check. `busy_checks` counts this check too.

    Returns START (idle: launch a run), WAIT (busy: re-check later), ALERT or
    ALERT_KILL (busy for MONITOR_MAX_STARTS checks; alert once per hung run).
    """
    if not busy:
        return START
    if busy_checks >= max_starts and not alerted:
        return ALERT_KILL if killall else ALERT
    return WAIT


class Timing:
    """Effective period / deadline / grace / scanrate / max_starts / killall of one job."""

    def __init__(self, spec, settings, default_grace):
        self.period = spec.period or settings.number("MONITOR_DELAY", minimum=0.01)
        self.scanrate = settings.number("MONITOR_SCANRATE", minimum=0.01)
        self.max_starts = max(1, int(settings.number("MONITOR_MAX_STARTS", minimum=1)))
        self.killall = settings.flag("MONITOR_KILLALL")
        self.deadline = spec.deadline
        self.grace = spec.grace or default_grace
        self.loop = bool(getattr(spec, "loop", False))

    def as_dict(self):
        return {"period": self.period, "scanrate": self.scanrate, "max_starts": self.max_starts,
                "killall": self.killall, "deadline": self.deadline, "grace": self.grace, "loop": self.loop}


class JobState:
    """What the supervisor knows about one job between runs."""

    def __init__(self, spec, timing):
        self.spec = spec
        self.timing = timing
        self.run = None
        self.busy_checks = 0
        self.alerted = False
        self.last = None
        self.last_start = None
        self.next_check = None
        self.cadence = None     # the scheduler's trigger: None (none yet), "idle" or "busy"
        self.counts = {outcome: 0 for outcome in isolate.OUTCOMES}
        self.retired = False
        self.starting = False
        self.kill_pending = None

    def as_dict(self):
        run = self.run
        return {
            "name": self.spec.name,
            "target": self.spec.target,
            "state": "running" if run is not None else (
                "starting" if self.starting else ("retired" if self.retired else "idle")),
            "pid": run.pid if run is not None else None,
            "started": run.started if run is not None else None,
            "deadline": run.deadline if run is not None else None,
            "busy_checks": self.busy_checks,
            "last": self.last,
            "next_run": self.next_check,
            "counts": dict(self.counts),
            "durations": jobstats.histogram(self.spec.name),  # issue 17: metrics
            "timing": self.timing.as_dict(),
        }


def raise_alert(function, text, priority, root=None, config=None):
    """Hand an alert to halizard.alerts for host `root` with the service's configuration
    (lazily; logs instead when the alerts layer is not available)."""
    try:
        from halizard.alerts import raise_alert as alert
    except ImportError:
        log.error("ALERT ({}): {}", function, text)
        return
    try:
        alert(function, text, priority, root=root, config=config)
    except Exception as exc:
        log.error("ALERT ({}) could not be delivered ({}): {}", function, type(exc).__name__, text)


def log_run(run, previous):
    """The run's one line: its Report's sentence at its Outcome's level (halizard.jobs.base), a
    failure at WARNING, a plain success at DEBUG."""
    word, level, sentence = run.summary or (None, "DEBUG", None)
    said = "" if sentence is None else ": %s" % sentence
    if run.outcome != isolate.OK:
        log.warning("job {} finished: {} after {:.2f} s{}{}", run.name, run.outcome, run.duration or 0.0,
                    " (%s)" % run.reason if run.reason else "", said)
        return
    again = "" if previous in (None, isolate.OK) else " (ok again; previous run: %s)" % previous
    if sentence is not None:
        level = "INFO" if again and level == "DEBUG" else level
        logger.bind(function=run.name).log(level, "{} [{}, {:.2f} s]{}", sentence, word, run.duration or 0.0,
                                           again)
    elif again:
        log.info("job {} is ok again (previous run: {})", run.name, previous)
    else:
        log.debug("job {} finished: ok after {:.2f} s", run.name, run.duration or 0.0)
