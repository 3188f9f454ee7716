"""The alert subcommands of `ha-cfg`: email, email_debug, show-alerts, clear-alerts.

Why: admins test their mail settings and read or clear the pool's HA-Lizard
messages from any host. `ha-cfg` (halizard/cli/ha_cfg/service.py) calls these with
its context: `.root`, `.session()` (master session), `.config()` (the
effective configuration), `.out`/`.err` streams. They return the exit status
(0 ok, 1 error); XAPI errors propagate to ha-cfg's one-line error handling.

`email` sends synchronously (not through the spool) with a deadline on every
SMTP step, and exits 0 only when the server accepted the mail for every
recipient. `email_debug` also prints the whole SMTP conversation on stdout,
the password masked.
"""

import json
import sys

from halizard.alerts import mail, report, xapi_messages
from halizard.alerts.settings import SettingsError, flag, mail_settings, one_line
from halizard.config import effective
from halizard.hostinfo import local_hostname
from halizard.xapi.errors import XapiError

PROG = "ha-cfg"
TEST_FUNCTION = "email"


def _out(ctx):
    return getattr(ctx, "out", None) or sys.stdout


def _err(ctx):
    return getattr(ctx, "err", None) or sys.stderr


def _fail(ctx, message):
    _err(ctx).write("%s: %s\n" % (PROG, one_line(message, 600)))
    return 1


def _config_and_session(ctx):
    """(config, session or None, note): the live config, or the cached one when the master is silent."""

    try:
        return ctx.config(), ctx.session(), ""
    except XapiError as exc:

        _uuid, cached = effective.cached_pool(ctx.root)
        config = effective.effective_with_pool(ctx.root, cached or {}, False)
        source = "its cached pool configuration" if cached is not None else "default pool values"
        return config, None, "pool master unavailable (%s); using %s" % (one_line(str(exc), 200), source)


def _hostname(config, ctx):
    name = getattr(config, "hostname", None)
    if name:
        return str(name)

    return local_hostname(ctx.root)


def cmd_email(ctx, debug=False):
    """Send a test alert mail now; 0 only when the server accepted it for every recipient."""
    out = _out(ctx)
    config, session, note = _config_and_session(ctx)
    if note:
        _err(ctx).write("%s: warning: %s\n" % (PROG, note))
    try:
        settings = mail_settings(config)
    except SettingsError as exc:
        return _fail(ctx, "mail settings: %s" % exc)
    if not flag(config, "MAIL_ON"):
        _err(ctx).write("%s: note: MAIL_ON=0, HA alerts are not mailed; sending the test mail anyway\n" % PROG)
    hostname = _hostname(config, ctx)
    if session is not None:
        try:
            field = config.get("XC_FIELD_NAME")
        except Exception:
            field = report.XC_FIELD_DEFAULT
        pool_report = report.from_session(session, field or report.XC_FIELD_DEFAULT)
    else:
        pool_report = report.from_state(ctx.root)
    text = ("This is a test alert from HA-Lizard on host %s (ha-cfg email). If you can read it, alert mail "
            "works." % hostname)
    try:
        refused = mail.send_alert(settings, TEST_FUNCTION, text, report=pool_report, hostname=hostname,
                                  debug_stream=out if debug else None)
    except mail.MailError as exc:
        return _fail(ctx, "test mail not sent: %s" % exc)
    accepted = [address for address in settings.mail_to if address not in refused]
    if refused:
        out.write("Test mail accepted for %s\n" % ", ".join(accepted))
        return _fail(ctx, "the server refused recipient(s) %s" % ", ".join(refused))
    out.write("Test mail accepted by %s:%d for %s\n" % (settings.server, settings.port, ", ".join(accepted)))
    return 0


def _host_names(session):
    try:
        records = session.call("host.get_all_records") or {}
    except Exception:
        return {}
    return {record.get("uuid"): record.get("name_label", "") for record in records.values()}


def cmd_show_alerts(ctx, as_json=False):
    """The HA-Lizard messages of the pool, oldest first: a table, or JSON with --json."""
    session = ctx.session()
    alerts = xapi_messages.list_alerts(session)
    names = _host_names(session) if alerts else {}
    for alert in alerts:
        alert["object"] = names.get(alert["obj_uuid"], "") if alert["class"] == "Host" else alert["class"].lower()
    out = _out(ctx)
    if as_json:
        shown = [{key: alert[key] for key in ("uuid", "timestamp", "function", "priority", "class", "obj_uuid",
                                              "object", "body")} for alert in alerts]
        out.write(json.dumps(shown, indent=2, ensure_ascii=False) + "\n")
        return 0
    if not alerts:
        out.write("No HA-Lizard alerts.\n")
        return 0
    rows = [[alert["timestamp"], str(alert["priority"]), alert["function"], alert["object"] or alert["obj_uuid"],
             one_line(alert["body"], 120)] for alert in alerts]
    headers = ["TIME (UTC)", "PRIO", "FUNCTION", "ON", "MESSAGE"]
    widths = [max(len(row[i]) for row in rows + [headers]) for i in range(len(headers) - 1)]
    for row in [headers] + rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]
        out.write("  ".join(cells).rstrip() + "\n")
    out.write("%d alert(s)\n" % len(alerts))
    return 0


def cmd_clear_alerts(ctx):
    """Delete every HA-Lizard message (other XAPI messages stay)."""
    removed = xapi_messages.clear_alerts(ctx.session())
    _out(ctx).write("Cleared %d HA-Lizard alert(s).\n" % removed)
    return 0
