"""The real Env on a bare host root: what it answers when nothing is there, and that an alert never raises."""
from fake_env import FakeClock

from halizard.jobs.base import Env, Outcome, Report, as_report


def test_a_silent_master_is_a_reason_not_an_exception(tmp_path):
    env = Env(str(tmp_path), "job", config={"XE_TIMEOUT": "2"})
    session, why = env.try_session()
    assert session is None and why.startswith("Xapi")
    assert env.xe_timeout() == 2.0 and Env(str(tmp_path), "job", config={"XE_TIMEOUT": "x"}).xe_timeout() == 10.0


def test_a_bare_root_has_no_uuid_and_no_role(tmp_path):
    env = Env(str(tmp_path), "job", config={})
    assert env.self_uuid() is None and env.role() is None


def test_remaining_is_measured_on_the_envs_wall_clock(tmp_path):
    env = Env(str(tmp_path), "job", config={})
    env.clock = FakeClock(wall=100.0)
    assert env.remaining(7.0) == 7.0
    env.deadline = 130.0
    assert env.remaining() == 30.0
    env.clock.advance(45)
    assert env.remaining() == 0.0


def test_an_alert_that_cannot_be_raised_is_one_warning(tmp_path, monkeypatch):
    import halizard.alerts as alerts

    from recording_log import RecordingLog

    def broken(*args, **kwargs):
        raise RuntimeError("spool full")

    monkeypatch.setattr(alerts, "raise_alert", broken)
    env = Env(str(tmp_path), "job", config={}, log=RecordingLog())
    assert env.alert("disk_monitor", "disk failing") is None
    assert env.log.at("WARNING") == ["alert not raised (RuntimeError): disk failing"]


def test_what_a_job_returns_becomes_a_report():
    assert as_report(None) is None
    assert as_report("did it") == Report(Outcome.DONE, "did it")
    report = Report(Outcome.FAILED, "no master")
    assert as_report(report) is report and report.detail is None
    assert as_report(42) is None   # anything else: no sentence, the run is logged as before
    assert {o.level for o in Outcome} == {"DEBUG", "INFO", "WARNING"}
