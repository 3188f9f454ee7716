"""Job `disk_monitor`: the hourly SMART check of this host's disk (DISK_MONITOR), alerting on failure.

Why: a dying dom0 disk takes the host, and its VMs, down without warning;
the old product checked SMART hourly. The check goes through the platform
layer (smartctl on a real dom0, the simulator's disk state on a simulated
host). A failing disk alerts on every hourly check; a check that cannot run
(no smartctl, no PRIMARY_DISK) is logged, not alerted, so a host without
SMART support does not mail every hour. The last result is kept in the
state file `disk-health.json`.
"""
import time

from halizard.alerts import raise_alert
from halizard.alerts.settings import flag, one_line

FUNCTION = "disk_monitor"
STATE_NAME = "disk-health"
REPEAT_SECONDS = 3000  # below the hourly period: every failing check alerts once


def _session(ctx):
    """A master session for the XAPI message, best effort within the job's time."""
    try:
        from halizard.xapi.session import connect

        return connect(ctx.root, timeout=max(1.0, min(10.0, ctx.remaining(10.0) / 3)))
    except Exception as exc:  # no session: the mail still goes out
        ctx.log.info("no XAPI session for the disk alert message: {}", one_line(str(exc), 200))
        return None


def run(ctx, platform=None):
    """Check the disk once; returns the DiskHealth (None when disabled or the check could not run)."""
    config = ctx.config
    if not flag(config, "DISK_MONITOR"):
        return None
    if platform is None:
        from halizard.platform import get_platform

        platform = get_platform(ctx.root)
    from halizard.platform.base import PlatformError

    try:
        health = platform.disk_health()
    except PlatformError as exc:
        ctx.log.warning("disk health check could not run: {}", exc)
        return None
    try:
        ctx.state.write(STATE_NAME, {"checked": time.time(), "healthy": bool(health.healthy),
                                     "detail": one_line(health.detail, 300)})
    except Exception as exc:  # the record is informative only
        ctx.log.warning("cannot record the disk health: {}", exc)
    if health.healthy:
        ctx.log.info("disk healthy: {}", one_line(health.detail, 200))
        return health
    session = _session(ctx)
    try:
        raise_alert(FUNCTION, "Disk health check FAILED on this host: %s. Replace the disk or move the VMs "
                    "away." % one_line(health.detail, 300), root=ctx.root, config=config, session=session,
                    screen_seconds=REPEAT_SECONDS)
    finally:
        if session is not None:
            session.logout()
    return health
