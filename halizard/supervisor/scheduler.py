"""When each job runs: APScheduler timing plus the old monitor semantics, per job.

Why: the old monitor started one big cycle every MONITOR_DELAY s, never two
at once; while a cycle was still busy it re-checked every MONITOR_SCANRATE s
and after MONITOR_MAX_STARTS such checks it alerted and (MONITOR_KILLALL=1)
killed the hung cycle. We keep exactly that, but per job, so one hung job
never delays another. `decide()` (halizard.supervisor.jobstate) is the rule.

APScheduler's interval triggers do the timing: each job has one, checking
every MONITOR_DELAY (its period) while idle, with `max_instances=1` (never
two checks of one job at once) and `coalesce` (a late scheduler runs a
missed check once). A trigger is replaced only when the job's cadence
changes: a check finds the run still busy (re-check every MONITOR_SCANRATE),
the run ends after its next check was due (the next start at once), a loop
run is busy inside its deadline, or a reload changes the numbers. Where
triggers alone would not keep today's semantics is in docs/service.md.

A loop job (JobSpec.loop, e.g. self_fence) checks again and again inside one
run until its deadline: while that run is within its deadline (plus grace)
a busy check is its normal state, so it is neither logged nor counted
towards MONITOR_MAX_STARTS; past it the usual rule applies. Its next run is
armed when the previous one ends (on_finish), so the hand-over has no gap.
"""
import collections
import datetime
import logging
import threading
import time

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from halizard.ops import jobstats
from halizard.supervisor import isolate
from halizard.supervisor.jobstate import ALERT_KILL, START, WAIT, JobState, Timing, decide, log, log_run, raise_alert

IDLE, BUSY = "idle", "busy"   # a job's cadence: every period while idle, every scanrate while its run is busy
STAGGER = 0.25   # seconds between the first runs of two jobs at start (see JobScheduler.start)


class _SkippedCheck(logging.Filter):
    """max_instances=1 skips a check that comes due while the previous check of the same job is still
    forking its run: that run is starting, so the skipped check had nothing to decide; no warning line."""

    def filter(self, record):
        return not str(record.msg).startswith("Execution of job")


logging.getLogger("apscheduler.scheduler").addFilter(_SkippedCheck())


class Hooks(collections.namedtuple("Hooks", "wall alert on_change")):
    """What the scheduler reaches outside with: its wall clock; `alert(function, text, priority, root)`
    (None: halizard.alerts with the service's current settings); `on_change()`, called when a job's
    state changed (the daemon persists it), or None."""

    def __new__(cls, wall=time.time, alert=None, on_change=None):
        return super().__new__(cls, wall, alert, on_change)


class JobScheduler:
    """Schedules every registered job and applies the monitor rule at each check."""

    def __init__(self, root, runner, specs, settings, overrides=None, default_grace=3.0, hooks=Hooks()):
        self.root = root
        self.runner = runner
        self.overrides = dict(overrides or {})
        self.default_grace = default_grace
        self.wall = hooks.wall
        self.alert = hooks.alert or self._alert_with_settings
        self.on_change = hooks.on_change
        self.settings = settings
        self._lock = threading.RLock()
        self.jobs = {}
        self.scheduler = BackgroundScheduler(
            timezone=datetime.timezone.utc,
            # misfire_grace_time None: a check that comes late (a frozen or loaded host) still runs
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self._started = False
        self._apply(specs, settings)

    # --- lifecycle -----------------------------------------------------------------------
    def start(self):
        """Arm every job: the shortest periods first, each STAGGER s after the previous one.

        Why staggered: jobs with the same period keep their start offsets, so
        jobs started together would always run together (a burst of forks and
        memory every MONITOR_DELAY); a fraction of a second apart they rarely
        overlap. No job's first run is delayed by more than half its period.
        """
        with self._lock:
            self.scheduler.start()
            self._started = True
            order = sorted(self.jobs, key=lambda n: (self.jobs[n].timing.period, n))
            for index, name in enumerate(order):
                self._arm(name, min(index * STAGGER, self.jobs[name].timing.period / 2.0), IDLE)

    def shutdown(self):
        """Stop deciding (no new runs); running ones are ended by the runner."""
        with self._lock:
            self._started = False
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def alive(self):
        return self.scheduler.running

    # --- configuration -------------------------------------------------------------------
    def reload(self, specs, settings):
        """New settings and job set: timings change at the next check, removed jobs retire."""
        with self._lock:
            added = self._apply(specs, settings)
            for name, state in self.jobs.items():
                if state.retired:
                    self._disarm(name)
                elif name in added:
                    self._arm(name, 0.0, IDLE)
                elif state.run is None and state.last_start is not None:
                    due = state.last_start + state.timing.period - self.wall()
                    self._arm(name, max(0.0, due), IDLE)
                elif state.run is None:
                    self._arm(name, 0.0, IDLE)
                elif state.next_check is not None:   # busy: the new numbers from its next check on
                    self._arm(name, max(0.0, state.next_check - self.wall()), state.cadence)

    def _apply(self, specs, settings):
        self.settings = settings
        added = []
        for name, spec in specs.items():
            timing = Timing(spec, settings, self.default_grace)
            state = self.jobs.get(name)
            if state is None:
                self.jobs[name] = JobState(spec, timing)
                added.append(name)
            else:
                state.spec, state.timing, state.retired = spec, timing, False
        for name, state in self.jobs.items():
            if name not in specs:
                state.retired = True
        return added

    # --- timers --------------------------------------------------------------------------
    def _arm(self, name, delay, cadence):
        """Install the job's interval trigger: first check in `delay` s, then every period (IDLE) or
        every scanrate (BUSY)."""
        if not self._started:
            return
        state = self.jobs[name]
        every = state.timing.period if cadence == IDLE else state.timing.scanrate
        when = self.wall() + delay
        state.next_check, state.cadence = when, cadence
        first = datetime.datetime.fromtimestamp(when, datetime.timezone.utc)
        # next_run_time: the first check at `when` even when that is already past (a trigger alone
        # would put it one interval later), then every `every` s from there
        self.scheduler.add_job(self._check, trigger=IntervalTrigger(seconds=every, start_date=first,
                                                                    timezone=datetime.timezone.utc),
                               args=[name], id=name, replace_existing=True, next_run_time=first)

    def _keep(self, name, cadence):
        """The check just made keeps the job's cadence: the trigger stays; re-armed only on a change."""
        state = self.jobs[name]
        if state.cadence != cadence:
            self._arm(name, state.timing.period if cadence == IDLE else state.timing.scanrate, cadence)
        else:
            state.next_check = self.wall() + (state.timing.period if cadence == IDLE else state.timing.scanrate)

    def repair(self):
        """Re-arm any live job that lost its timer (e.g. a check APScheduler skipped); returns their names.

        Called from the service's main loop: a job must never silently stop being scheduled.
        """
        lost = []
        with self._lock:
            if not self._started:
                return lost
            for name, state in self.jobs.items():
                if state.retired or self.scheduler.get_job(name) is not None:
                    continue
                lost.append(name)
                idle = state.run is None and not state.starting
                self._arm(name, 0.0 if idle else state.timing.scanrate, IDLE if idle else BUSY)
        for name in lost:
            log.warning("job {} had no pending check; re-armed", name)
        return lost

    def _disarm(self, name):
        self.jobs[name].next_check = None
        try:
            self.scheduler.remove_job(name)
        except Exception:
            pass

    # --- the monitor rule ----------------------------------------------------------------
    def _check(self, name):
        with self._lock:
            state = self.jobs.get(name)
            if state is None or state.retired or not self._started:
                return
            timing = state.timing
            busy = state.run is not None or state.starting
            quiet = self._loop_within_deadline(state) if busy else None
            if quiet is not None:   # a loop job busy inside its deadline: look again once it is due
                self._arm(name, quiet, BUSY)
                return
            if busy:
                state.busy_checks += 1
            action = decide(busy, state.busy_checks, timing.max_starts, timing.killall, state.alerted)
            if action == START:
                state.starting = True
                state.busy_checks = 0
                state.alerted = False
                state.kill_pending = None
                self._keep(name, IDLE)
            else:
                self._busy(state, action)
                self._keep(name, BUSY)
        if action == START:
            self._start(state)   # outside the lock: a slow fork never blocks status or other jobs

    def _loop_within_deadline(self, state):
        """For a busy loop job still inside its deadline + grace: seconds until that passes, else None."""
        timing = state.timing
        if not timing.loop:
            return None
        run = state.run
        if run is None:   # still being forked
            return timing.scanrate
        if run.deadline is None:
            return None
        left = run.deadline + timing.grace - self.wall()
        return max(timing.scanrate, left) if left > 0 else None

    def _busy(self, state, action):
        """A check found the previous run still going: log, and at MONITOR_MAX_STARTS alert (and kill)."""
        name, timing, run = state.spec.name, state.timing, state.run
        pid = run.pid if run is not None else None
        if action == WAIT:
            log.info("job {} (pid {}) still running after check {} of {}; re-check in {:g} s",
                     name, pid, state.busy_checks, timing.max_starts, timing.scanrate)
            return
        state.alerted = True
        text = ("job %s (pid %s) still running after %d checks (MONITOR_MAX_STARTS); %s"
                % (name, pid, state.busy_checks,
                   "killing it (MONITOR_KILLALL=1)" if action == ALERT_KILL
                   else "leaving it running (MONITOR_KILLALL=0)"))
        log.warning(text)
        self._alert_async(text)
        if action == ALERT_KILL:
            reason = "MONITOR_MAX_STARTS reached (%d checks)" % state.busy_checks
            if run is not None:
                self.runner.kill(run, reason)
            else:   # still being forked: killed as soon as it exists
                state.kill_pending = reason

    def _start(self, state):
        with self._lock:
            name, timing, target = state.spec.name, state.timing, state.spec.target
        try:
            run = self.runner.start(name, target, self.root, overrides=self.overrides,
                                    deadline=timing.deadline, grace=timing.grace)
        except isolate.RunnerClosed:   # the service is stopping
            with self._lock:
                state.starting = False
            return
        except Exception as exc:
            log.error("job {} could not be started ({}: {}); next try in {:g} s",
                      name, type(exc).__name__, exc, timing.period)
            with self._lock:
                state.starting = False
                state.last = {"outcome": isolate.ERROR, "reason": "could not start: %s" % type(exc).__name__,
                              "finished": self.wall(), "duration": 0.0, "exit": None, "pid": None,
                              "started": self.wall()}
                state.counts[isolate.ERROR] += 1
            return
        with self._lock:
            state.starting = False
            state.last_start = run.started
            if not run.done.is_set():   # a very quick run may already be over (on_finish recorded it)
                state.run = run
                if state.kill_pending:
                    self.runner.kill(run, state.kill_pending)
                    state.kill_pending = None
        log.debug("job {} started (pid {}){}", name, run.pid,
                  "" if timing.deadline is None else ", deadline in %g s" % timing.deadline)

    def on_finish(self, run):
        """Runner callback: record the outcome and arm the next start (start + period, or now if overdue)."""
        with self._lock:
            state = self.jobs.get(run.name)
            if state is None:
                return
            if state.run is run:
                state.run = None
                state.busy_checks = 0
                due = None if state.last_start is None else state.last_start + state.timing.period - self.wall()
                if not state.retired and due is not None and (state.cadence != IDLE or due <= 0):
                    # due again at start + period; don't wait for the next busy re-check (a run that ended
                    # before its next check keeps its IDLE trigger, which fires at start + period)
                    self._arm(run.name, max(0.0, due), IDLE)
            previous = (state.last or {}).get("outcome")
            state.last = run.as_dict()
            state.counts[run.outcome] = state.counts.get(run.outcome, 0) + 1
            jobstats.observe(run.name, run.duration)
        log_run(run, previous)
        if self.on_change is not None:
            self.on_change()

    def _alert_with_settings(self, function, text, priority, root):
        raise_alert(function, text, priority, root=root, config=self.settings)

    def _alert_async(self, text):
        thread = threading.Thread(target=self.alert, args=("monitor", text, self._priority(), self.root),
                                  name="alert", daemon=True)
        thread.start()

    def _priority(self):
        try:
            return int(str(self.settings.get("PRIORITY_monitor", 3)).strip())
        except (TypeError, ValueError):
            return 3

    # --- control -------------------------------------------------------------------------
    def snapshot(self):
        with self._lock:
            return [state.as_dict() for _name, state in sorted(self.jobs.items())]

    def kill(self, name, reason="killed on request"):
        """Kill the running run of `name`. Returns 'killing', 'idle' or raises KeyError."""
        with self._lock:
            state = self.jobs[name]
            if state.run is None and state.starting:
                state.kill_pending = reason
                return "killing"
            if state.run is None:
                return "idle"
            self.runner.kill(state.run, reason)
            return "killing"
