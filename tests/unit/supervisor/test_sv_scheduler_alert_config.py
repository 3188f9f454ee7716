"""The scheduler's own alerts (hung job) reach halizard.alerts for the service's root and with the
service's current settings, not with whatever the alerts layer would load by itself."""

from halizard.alerts import spool
from halizard.supervisor.registry import JobSpec
from halizard.supervisor.scheduler import JobScheduler
from halizard.config.settings import Settings


def _scheduler(root, overrides):
    settings = Settings(overrides=dict({"MONITOR_DELAY": "15", "MONITOR_SCANRATE": "10",
                                        "MONITOR_MAX_STARTS": "3"}, **overrides))
    return JobScheduler(root, runner=None, specs={"a": JobSpec("a", "m:f")}, settings=settings)


def test_default_alert_uses_the_services_settings_and_root(tmp_path):
    root = str(tmp_path)
    # alerts switched off in the service's settings: nothing may be queued for this root
    sched = _scheduler(root, {"ENABLE_ALERTS": "0", "MAIL_ON": "0"})
    sched.alert("monitor", "job a is hung", 2, root)
    assert spool.entry_names(root, spool.XAPI) == []
    assert spool.entry_names(root, spool.MAIL) == []
    # the settings object in force at alert time is the one used (reloads replace it)
    sched.settings = Settings(overrides={"ENABLE_ALERTS": "1", "MAIL_ON": "0"})
    sched.alert("monitor", "job a is hung again", 2, root)
    names = spool.entry_names(root, spool.XAPI)
    assert len(names) == 1
    entry = spool.load(root, names[0], spool.XAPI)
    assert entry["function"] == "monitor" and entry["text"] == "job a is hung again"


def test_alert_jobs_are_registered_with_their_period_and_deadline():
    from halizard.supervisor.registry import load_jobs

    specs = load_jobs({})
    assert (specs["alert_spool"].target, specs["alert_spool"].period, specs["alert_spool"].deadline) == \
        ("halizard.jobs.alert_spool:run", 60, 60)
    assert (specs["disk_monitor"].target, specs["disk_monitor"].period, specs["disk_monitor"].deadline) == \
        ("halizard.jobs.disk_monitor:run", 3600, 120)
