"""Job `alert_spool`: deliver what still waits in the alert spool: mails and queued XAPI messages.

Why: `raise_alert()` starts a delivery worker for each new alert, but when
the SMTP server is down the mail stays spooled; this job retries every
period (suggested: 60 s) so it goes out once the server is back. XAPI messages of alerts raised
without a usable session are posted the same way once the master answers.
An empty spool costs two directory listings and no configuration read.
"""
import time

from halizard.alerts import spool
from halizard.alerts.settings import SettingsError, flag, mail_settings

DEFAULT_BUDGET = 50.0
SAFETY = 5.0


def run(ctx):
    """Flush both queues within the job's deadline; returns the mail FlushResult (None: no mail work)."""
    end = time.monotonic() + max(1.0, ctx.remaining(DEFAULT_BUDGET + SAFETY) - SAFETY)
    if spool.entry_names(ctx.root, spool.XAPI):
        posted = spool.flush_messages(ctx.root, deadline_seconds=(end - time.monotonic()) / 2)
        if posted.sent:
            ctx.log.info("posted {} queued XAPI alert message(s)", posted.sent)
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
    result = spool.flush(ctx.root, settings, deadline_seconds=max(1.0, end - time.monotonic()))
    if result.sent:
        ctx.log.info("sent {} spooled alert mail(s)", result.sent)
    if result.left:
        ctx.log.warning("{} alert mail(s) still spooled: {}", result.left, result.error or "deadline reached")
    return result
