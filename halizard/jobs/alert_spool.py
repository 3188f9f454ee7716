"""Job `alert_spool`: deliver what still waits in the alert spool: mails and queued XAPI messages.

Why: `raise_alert()` starts a delivery worker for each new alert, but when
the SMTP server is down the mail stays spooled; this job retries every
period (suggested: 60 s) so it goes out once the server is back. XAPI messages of alerts raised
without a usable session are posted the same way once the master answers.
An empty spool costs two directory listings and no configuration read.
"""
from halizard.alerts import spool
from halizard.alerts.settings import SettingsError, flag, mail_settings
from halizard.jobs.base import Outcome, Report

DEFAULT_BUDGET = 50.0
SAFETY = 5.0


def run(env):
    """Flush both queues within the job's deadline; a Report whose detail is the mail FlushResult
    (None: no mail work)."""
    clock = env.clock
    end = clock.monotonic() + max(1.0, env.remaining(DEFAULT_BUDGET + SAFETY) - SAFETY)
    said = []
    if spool.entry_names(env.root, spool.XAPI):
        posted = spool.flush_messages(env.root, deadline_seconds=(end - clock.monotonic()) / 2)
        if posted.sent:
            said.append("posted %d queued XAPI alert message(s)" % posted.sent)
    waiting = len(spool.entry_names(env.root))
    if not waiting:
        return _report(said, None, Outcome.DONE if said else Outcome.IDLE, "no spooled alert mail")
    config = env.config
    if not flag(config, "MAIL_ON"):
        return _report(said, None, Outcome.DONE, "MAIL_ON=0: %d spooled alert mail(s) left unsent" % waiting)
    try:
        settings = mail_settings(config)
    except SettingsError as exc:
        return _report(said, None, Outcome.DEGRADED, "spooled alert mails not sent: %s" % exc)
    result = spool.flush(env.root, settings, deadline_seconds=max(1.0, end - clock.monotonic()))
    if result.sent:
        said.append("sent %d spooled alert mail(s)" % result.sent)
    if result.left:
        return _report(said, result, Outcome.DEGRADED, "%d alert mail(s) still spooled: %s"
                       % (result.left, result.error or "deadline reached"))
    return _report(said, result, Outcome.DONE, None)


def _report(said, result, outcome, last):
    return Report(outcome, "; ".join(said + ([last] if last else [])) or "nothing to deliver", result)
