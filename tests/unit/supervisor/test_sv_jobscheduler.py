"""JobScheduler driven check by check, with a recording runner and a fixed clock."""
from halizard.supervisor.isolate import Run
from halizard.supervisor.registry import JobSpec
from halizard.supervisor.scheduler import Hooks, JobScheduler
from halizard.config.settings import Settings


class RecordingRunner:
    def __init__(self):
        self.started = []
        self.killed = []

    def start(self, name, target, root, overrides=None, deadline=None, grace=3.0):
        run = Run(name, 1000.0, None if deadline is None else 1000.0 + deadline)
        run.pid = 4242 + len(self.started)
        self.started.append((name, deadline, grace))
        return run

    def kill(self, run, reason):
        self.killed.append((run.pid, reason))
        return True


def _scheduler(killall="1", alerts=None):
    runner = RecordingRunner()
    settings = Settings(overrides={"MONITOR_DELAY": "15", "MONITOR_SCANRATE": "10",
                                   "MONITOR_MAX_STARTS": "3", "MONITOR_KILLALL": killall})
    sched = JobScheduler("/nonexistent-root", runner, {"a": JobSpec("a", "m:f", deadline=40)}, settings,
                         hooks=Hooks(wall=lambda: 1000.0,
                                     alert=lambda fn, text, prio, root: alerts.append((fn, text, prio, root))
                                     if alerts is not None else None))
    sched._started = True   # drive checks by hand; APScheduler only queues the timers
    return sched, runner


def _finish(sched, runner, outcome="ok"):
    run = sched.jobs["a"].run
    run.outcome, run.duration, run.finished = outcome, 1.0, 1001.0
    sched.on_finish(run)


def test_idle_check_starts_with_the_job_deadline_and_arms_the_period():
    sched, runner = _scheduler()
    sched._check("a")
    assert runner.started == [("a", 40.0, 3.0)]
    assert sched.jobs["a"].next_check == 1015.0


def test_busy_checks_wait_then_alert_and_kill_once():
    alerts = []
    sched, runner = _scheduler(alerts=alerts)
    sched._check("a")
    sched._check("a")
    sched._check("a")
    assert runner.killed == [] and sched.jobs["a"].next_check == 1010.0
    sched._check("a")
    sched._check("a")
    assert runner.killed == [(4242, "MONITOR_MAX_STARTS reached (3 checks)")]
    import time
    deadline = time.monotonic() + 5
    while not alerts and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(alerts) == 1 and alerts[0][0] == "monitor" and alerts[0][3] == "/nonexistent-root"
    assert len(runner.started) == 1, "never a second run while the first is busy"


def test_without_killall_only_an_alert():
    sched, runner = _scheduler(killall="0")
    for _ in range(6):
        sched._check("a")
    assert runner.killed == [] and len(runner.started) == 1
    assert sched.jobs["a"].alerted


def test_finish_records_and_next_run_starts():
    sched, runner = _scheduler()
    sched._check("a")
    _finish(sched, runner, "error")
    snapshot = sched.snapshot()[0]
    assert snapshot["state"] == "idle" and snapshot["last"]["outcome"] == "error"
    assert snapshot["counts"]["error"] == 1
    sched._check("a")
    assert len(runner.started) == 2 and sched.jobs["a"].busy_checks == 0


def test_kill_request_and_unknown_job():
    sched, runner = _scheduler()
    assert sched.kill("a") == "idle"
    sched._check("a")
    assert sched.kill("a") == "killing" and runner.killed[-1][1] == "killed on request"
    try:
        sched.kill("nope")
    except KeyError:
        pass
    else:
        raise AssertionError("unknown job must raise KeyError")


def test_reload_retires_removed_jobs_and_adds_new_ones():
    sched, runner = _scheduler()
    sched.reload({"b": JobSpec("b", "m:g", period=5)}, Settings())
    assert sched.jobs["a"].retired and not sched.jobs["b"].retired
    sched._check("a")
    assert runner.started == []
    sched._check("b")
    assert runner.started[0][0] == "b"


def test_repair_rearms_a_job_whose_timer_was_lost():
    sched, runner = _scheduler()
    sched.scheduler.start(paused=True)
    try:
        assert sched.repair() == ["a"]          # never armed: lost
        assert sched.scheduler.get_job("a") is not None
        assert sched.repair() == []             # armed now
        sched.scheduler.remove_job("a")
        assert sched.repair() == ["a"]
    finally:
        sched.scheduler.shutdown(wait=False)


def test_a_kill_decided_while_the_run_is_still_being_forked_is_applied_once_it_exists():
    sched, runner = _scheduler()
    state = sched.jobs["a"]
    state.starting = True            # as between the START decision and the fork's return
    for _ in range(3):
        sched._check("a")
    assert runner.killed == [] and state.kill_pending.startswith("MONITOR_MAX_STARTS")
    sched._start(state)
    assert runner.killed == [(4242, "MONITOR_MAX_STARTS reached (3 checks)")]
    assert state.kill_pending is None and not state.starting


def test_start_staggers_first_runs_shortest_period_first():
    settings = Settings(overrides={"MONITOR_DELAY": "15", "MONITOR_SCANRATE": "10", "MONITOR_MAX_STARTS": "3"})
    specs = {"a": JobSpec("a", "m:f"), "sf": JobSpec("sf", "m:f", period=0.4), "c": JobSpec("c", "m:f")}
    import time
    later = time.time() + 3600.0   # the timers lie an hour ahead: none fires while we look
    sched = JobScheduler("/nonexistent-root", RecordingRunner(), specs, settings, hooks=Hooks(wall=lambda: later))
    sched.start()
    try:
        due = {name: state.next_check - later for name, state in sched.jobs.items()}
    finally:
        sched.shutdown()
    # the 0.4 s job first; the others a quarter of a second apart (never more than half their period)
    assert due == {"sf": 0.0, "a": 0.25, "c": 0.5}


def test_interval_triggers_do_the_timing_and_are_replaced_only_when_the_cadence_changes():
    sched, runner = _scheduler()
    sched.scheduler.start(paused=True)   # triggers installed, none fires: the checks are driven by hand
    try:
        sched._arm("a", 0.0, "idle")
        job = sched.scheduler.get_job("a")
        assert job.trigger.interval.total_seconds() == 15.0 and job.max_instances == 1 and job.coalesce
        sched._check("a")                               # idle: starts, the same trigger keeps the period
        assert sched.scheduler.get_job("a").trigger is job.trigger
        sched._check("a")                               # busy: re-checked every MONITOR_SCANRATE from now on
        busy = sched.scheduler.get_job("a").trigger
        assert busy is not job.trigger and busy.interval.total_seconds() == 10.0
        sched._check("a")
        assert sched.scheduler.get_job("a").trigger is busy   # still busy: no re-arm
        _finish(sched, runner)                          # back to the period trigger, due at start + period
        idle = sched.scheduler.get_job("a").trigger
        assert idle.interval.total_seconds() == 15.0 and sched.jobs["a"].next_check == 1015.0
    finally:
        sched.scheduler.shutdown(wait=False)


def test_a_check_due_now_runs_now_not_one_interval_later():
    """An interval trigger whose start lies (even a little) in the past fires one interval later: the
    first check of a job is armed with its own time, so a job due now runs now."""
    import threading
    import time

    runner = RecordingRunner()
    started = threading.Event()
    runner.start = lambda *a, **kw: (started.set(), Run("a", 0.0, None))[1]
    settings = Settings(overrides={"MONITOR_DELAY": "3600", "MONITOR_SCANRATE": "10", "MONITOR_MAX_STARTS": "3"})
    sched = JobScheduler("/nonexistent-root", runner, {"a": JobSpec("a", "m:f")}, settings,
                         hooks=Hooks(wall=lambda: time.time() - 5.0))   # "now" as the scheduler sees it lies in the past
    sched.start()
    try:
        assert started.wait(10), "the first check waited for its period"
    finally:
        sched.shutdown()


def test_a_check_skipped_by_max_instances_is_not_a_warning_line():
    import logging

    from halizard.supervisor import scheduler

    record = logging.LogRecord("apscheduler.scheduler", logging.WARNING, __file__, 1,
                               'Execution of job "%s" skipped: maximum number of running instances reached (%d)',
                               ("a", 1), None)
    other = logging.LogRecord("apscheduler.scheduler", logging.WARNING, __file__, 1, "Error getting due jobs",
                              (), None)
    checks = logging.getLogger("apscheduler.scheduler")
    assert checks.filter(record) in (False, None) and checks.filter(other)
    assert any(isinstance(f, scheduler._SkippedCheck) for f in checks.filters)
