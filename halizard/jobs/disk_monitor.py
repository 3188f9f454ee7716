"""Job `disk_monitor`: the hourly SMART check of this host's disk (DISK_MONITOR), alerting on failure.

Why: a dying dom0 disk takes the host, and its VMs, down without warning;
the old product checked SMART hourly. The check goes through the platform
layer (smartctl on a real dom0, the simulator's disk state on a simulated
host). A failing disk alerts on every hourly check; a check that cannot run
(no smartctl, no PRIMARY_DISK) is logged, not alerted, so a host without
SMART support does not mail every hour. The last result is kept in the
state file `disk-health.json`.
"""
from halizard.alerts.settings import flag, one_line
from halizard.jobs.base import Outcome, Report
from halizard.platform.base import PlatformError

FUNCTION = "disk_monitor"
STATE_NAME = "disk-health"
REPEAT_SECONDS = 3000  # below the hourly period: every failing check alerts once


def run(env):
    """Check the disk once; returns a Report whose detail is the DiskHealth (None when disabled or
    the check could not run)."""

    config = env.config
    if not flag(config, "DISK_MONITOR"):
        return Report(Outcome.IDLE, "DISK_MONITOR=0: no disk check")
    try:
        health = env.platform.disk_health()
    except PlatformError as exc:
        return Report(Outcome.DEGRADED, "disk health check could not run: %s" % exc)
    detail = one_line(health.detail, 300)
    try:
        env.state.write(STATE_NAME, {"checked": env.clock.wall(), "healthy": bool(health.healthy),
                                     "detail": detail})
    except Exception as exc:  # the record is informative only
        env.log.warning("cannot record the disk health: {}", exc)
    if health.healthy:
        return Report(Outcome.DONE, "disk healthy: %s" % one_line(health.detail, 200), health)
    # a master session for the XAPI message, best effort within the job's time; without one the mail goes out
    session, why = env.try_session(max(1.0, min(10.0, env.remaining(10.0) / 3)))
    if session is None:
        env.log.info("no XAPI session for the disk alert message: {}", why)
    try:
        env.alert(FUNCTION, "Disk health check FAILED on this host: %s. Replace the disk or move the VMs "
                  "away." % detail, config=config, session=session, screen_seconds=REPEAT_SECONDS)
    finally:
        if session is not None:
            session.logout()
    return Report(Outcome.DEGRADED, "disk health check FAILED: %s" % detail, health)
