"""Loop jobs (JobSpec.loop): registry rules and the scheduler's hand-over, driven check by check."""
import pytest

from halizard.supervisor.isolate import Run
from halizard.supervisor.registry import JobSpec, RegistryError, _specs
from halizard.supervisor.scheduler import Hooks, JobScheduler
from halizard.config.settings import Settings


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


class RecordingRunner:
    def __init__(self, clock):
        self.clock = clock
        self.started = []
        self.killed = []

    def start(self, name, target, root, overrides=None, deadline=None, grace=3.0):
        run = Run(name, self.clock(), None if deadline is None else self.clock() + deadline)
        run.pid = 5000 + len(self.started)
        self.started.append((name, self.clock(), deadline))
        return run

    def kill(self, run, reason):
        self.killed.append((run.pid, reason))
        return True


def _scheduler(spec, max_starts="2"):
    clock = Clock()
    runner = RecordingRunner(clock)
    settings = Settings(overrides={"MONITOR_DELAY": "15", "MONITOR_SCANRATE": "1",
                                   "MONITOR_MAX_STARTS": max_starts, "MONITOR_KILLALL": "1"})
    sched = JobScheduler("/nonexistent-root", runner, {spec.name: spec}, settings,
                         hooks=Hooks(wall=clock, alert=lambda *args: None))
    sched._started = True   # drive checks by hand; APScheduler only queues the timers
    return sched, runner, clock


def _end(sched, clock, outcome="ok"):
    run = sched.jobs["sf"].run
    run.outcome, run.finished = outcome, clock()
    run.duration = clock() - run.started
    sched.on_finish(run)


def test_registry_accepts_a_loop_job_with_a_deadline():
    specs = _specs({"sf": {"target": "m:f", "period": 1, "deadline": 60, "loop": True}}, "test")
    assert specs["sf"].loop is True and specs["sf"].deadline == 60.0
    assert _specs({"x": {"target": "m:f"}}, "test")["x"].loop is False


@pytest.mark.parametrize("entry, words", [
    ({"target": "m:f", "loop": True}, "needs a deadline"),
    ({"target": "m:f", "deadline": 5, "loop": "yes"}, "true or false"),
    ({"target": "m:f", "deadline": 5, "loops": True}, "unknown keys loops"),
])
def test_registry_refuses_a_bad_loop_entry(entry, words):
    with pytest.raises(RegistryError, match=words):
        _specs({"sf": entry}, "test")


def test_a_busy_loop_job_is_neither_counted_nor_killed_inside_its_deadline():
    sched, runner, clock = _scheduler(JobSpec("sf", "m:f", period=1, deadline=10, loop=True))
    sched._check("sf")
    assert len(runner.started) == 1
    for _ in range(5):   # far more checks than MONITOR_MAX_STARTS=2
        clock.now += 1.0
        sched._check("sf")
    state = sched.jobs["sf"]
    assert runner.killed == [] and state.busy_checks == 0 and not state.alerted
    assert state.next_check == pytest.approx(1000.0 + 10 + 3.0), "looks again once deadline + grace passed"


def test_a_loop_job_hands_over_at_once_when_its_run_ends():
    sched, runner, clock = _scheduler(JobSpec("sf", "m:f", period=1, deadline=10, loop=True))
    sched._check("sf")
    clock.now += 9.5   # the run ends itself half a second before its deadline
    _end(sched, clock)
    assert sched.jobs["sf"].next_check == clock.now, "the next run is due immediately, no gap"
    sched._check("sf")
    assert [s[1] for s in runner.started] == [1000.0, 1009.5]


def test_a_loop_job_that_ends_early_restarts_after_its_period():
    sched, runner, clock = _scheduler(JobSpec("sf", "m:f", period=1, deadline=10, loop=True))
    sched._check("sf")
    clock.now += 0.2
    _end(sched, clock, "error")
    assert sched.jobs["sf"].next_check == pytest.approx(1001.0)


def test_a_loop_run_past_deadline_and_grace_gets_the_usual_monitor_rule():
    sched, runner, clock = _scheduler(JobSpec("sf", "m:f", period=1, deadline=10, grace=1, loop=True))
    sched._check("sf")
    clock.now += 12.0  # deadline + grace passed and the run is still there (its kill did not work)
    sched._check("sf")
    sched._check("sf")
    assert sched.jobs["sf"].busy_checks == 2
    assert runner.killed == [(5000, "MONITOR_MAX_STARTS reached (2 checks)")]


def test_a_plain_job_still_counts_busy_checks():
    sched, runner, clock = _scheduler(JobSpec("sf", "m:f", period=1, deadline=10))
    sched._check("sf")
    clock.now += 1.0
    sched._check("sf")
    assert sched.jobs["sf"].busy_checks == 1


def test_the_loop_flag_is_shown_with_the_timing():
    sched, _runner, _clock = _scheduler(JobSpec("sf", "m:f", period=1, deadline=10, loop=True))
    assert sched.snapshot()[0]["timing"]["loop"] is True
