"""Job `alert_spool`: send the alert mails still waiting in the spool (server was down, worker lost).

Why: `raise_alert()` starts a delivery worker for each new alert, but when
the SMTP server is down the mail stays spooled; this job retries every
period (suggested: 60 s) so it goes out once the server is back. An empty
spool costs one directory listing and no configuration read.
"""
from halizard.alerts import spool
from halizard.alerts.settings import SettingsError, flag, mail_settings

DEFAULT_BUDGET = 50.0
SAFETY = 5.0


def run(ctx):
    """Flush the spool within the job's deadline; logs what is still waiting."""
    if not spool.entry_names(ctx.root):
        return None
    config = ctx.config
    if not flag(config, "MAIL_ON"):
        ctx.log.info("MAIL_ON=0: {} spooled alert mail(s) left unsent", len(spool.entry_names(ctx.root)))
        return None
    try:
        settings = mail_settings(config)
    except SettingsError as exc:
        ctx.log.error("spooled alert mails not sent: {}", exc)
        return None
    budget = max(1.0, ctx.remaining(DEFAULT_BUDGET + SAFETY) - SAFETY)
    result = spool.flush(ctx.root, settings, deadline_seconds=budget)
    if result.sent:
        ctx.log.info("sent {} spooled alert mail(s)", result.sent)
    if result.left:
        ctx.log.warning("{} alert mail(s) still spooled: {}", result.left, result.error or "deadline reached")
    return result
