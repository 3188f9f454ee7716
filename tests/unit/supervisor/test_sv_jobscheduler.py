"""JobScheduler driven check by check, with a recording runner and a fixed clock."""
from halizard.supervisor.isolate import Run
from halizard.supervisor.registry import JobSpec
from halizard.supervisor.scheduler import JobScheduler
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
                         wall=lambda: 1000.0,
                         alert=lambda fn, text, prio, root: alerts.append((fn, text, prio, root))
                         if alerts is not None else None)
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
    sched = JobScheduler("/nonexistent-root", RecordingRunner(), specs, settings, wall=lambda: later)
    sched.start()
    try:
        due = {name: state.next_check - later for name, state in sched.jobs.items()}
    finally:
        sched.shutdown()
    # the 0.4 s job first; the others a quarter of a second apart (never more than half their period)
    assert due == {"sf": 0.0, "a": 0.25, "c": 0.5}
