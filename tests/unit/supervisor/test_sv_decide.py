"""The monitor rule, one test per edge, and the effective timing of a job."""
import pytest

from halizard.supervisor.registry import JobSpec
from halizard.supervisor.scheduler import ALERT, ALERT_KILL, START, WAIT, Timing, decide
from halizard.config.settings import Settings


@pytest.mark.parametrize("busy,checks,max_starts,killall,alerted,expected", [
    (False, 0, 20, True, False, START),
    (False, 25, 20, True, True, START),          # idle always starts, whatever happened before
    (True, 1, 20, True, False, WAIT),
    (True, 19, 20, True, False, WAIT),
    (True, 20, 20, True, False, ALERT_KILL),
    (True, 20, 20, False, False, ALERT),
    (True, 21, 20, False, True, WAIT),           # alert once per hung run
    (True, 1, 1, True, False, ALERT_KILL),
])
def test_decide(busy, checks, max_starts, killall, alerted, expected):
    assert decide(busy, checks, max_starts, killall, alerted) == expected


def test_timing_defaults_come_from_the_monitor_parameters():
    timing = Timing(JobSpec("a", "m:f"), Settings(overrides={}), default_grace=3.0)
    assert (timing.period, timing.scanrate, timing.max_starts, timing.killall) == (15.0, 10.0, 20, True)
    assert timing.deadline is None and timing.grace == 3.0


def test_explicit_job_values_beat_the_monitor_parameters():
    settings = Settings(overrides={"MONITOR_DELAY": "30", "MONITOR_KILLALL": "0", "MONITOR_MAX_STARTS": "4"})
    timing = Timing(JobSpec("a", "m:f", period=2, deadline=5, grace=1), settings, default_grace=3.0)
    assert (timing.period, timing.deadline, timing.grace) == (2.0, 5.0, 1.0)
    assert timing.killall is False and timing.max_starts == 4


def test_a_bad_monitor_value_falls_back_to_its_default():
    settings = Settings(overrides={"MONITOR_DELAY": "soon", "MONITOR_SCANRATE": "-1"})
    timing = Timing(JobSpec("a", "m:f"), settings, default_grace=3.0)
    assert (timing.period, timing.scanrate) == (15.0, 10.0)
