"""`raise_alert()`: the one call every part of HA-Lizard uses to tell the admin something.

Why: alerts have many rules (per-function switches, quiet start, repeat
screening, mail plus XAPI message) and must never stall HA. This module
applies the rules and returns at once: the mail is written to the spool and
a detached worker delivers it within its own deadline; the XAPI message is
one call through the caller's session (at most INLINE_XAPI_SECONDS), queued
for that worker instead when there is no session or the call fails.

Rules, in order:
- MAIL_ON and MAIL_<function> decide the mail, ENABLE_ALERTS the XAPI message;
- no mail during the first two cycles after the service started (startup.py);
- the same function + text is screened for MAIL_SCREEN_TIME minutes, per
  channel (mail, XAPI message), so a quiet-start alert still mails later;
- `screen_seconds` overrides the window (a suspended host re-alerts hourly).
"""

from collections import namedtuple

from loguru import logger

from halizard.alerts import deliver, report, spool, startup, throttle, xapi_messages
from halizard.alerts.settings import (
    SettingsError,
    check_function,
    flag,
    function_mail_enabled,
    function_priority,
    local_hostname,
    mail_settings,
    number,
    one_line,
)
from halizard.config import effective
from halizard.hostinfo import local_hostname as config_hostname

SUSPENDED_FUNCTION = "suspended_ha"
SUSPENDED_REPEAT_SECONDS = 3600
DELIVERY_MODES = ("spawn", "spool")
INLINE_XAPI_SECONDS = 3.0

AlertOutcome = namedtuple("AlertOutcome", "function priority mail xapi spool_entry worker_pid")
AlertOutcome.__doc__ = """What raise_alert did. mail: spooled | disabled | quiet-start | screened | failed: ...;
xapi: created | disabled | screened | queued | failed: ..."""


def _load_config(root):
    """The configuration without any network call: override file + the cached pool copy.

    Why: an alert is often raised because the master is silent; waiting
    XE_TIMEOUT for it here would block the caller. Defaults when even that fails.
    """
    try:

        _uuid, cached = effective.cached_pool(root)
        return effective.effective_with_pool(root, cached or {}, False)
    except Exception as exc:  # an alert must go out even with a broken config layer
        logger.bind(function="email").warning("configuration unavailable for alerts ({}); using defaults",
                                              one_line(str(exc), 200))
        return {}


def _hostname(config, root, explicit):
    if explicit:
        return explicit
    name = getattr(config, "hostname", None)
    if name:
        return str(name)
    try:

        return config_hostname(root)
    except Exception:
        return local_hostname()


def _screen_seconds(config, explicit):
    if explicit is not None:
        return float(explicit)
    try:
        return number(config, "MAIL_SCREEN_TIME") * 60.0
    except SettingsError:
        return 3600.0


def raise_alert(function, text, priority=None, *, root=None, config=None, session=None,
                cycles_since_start=None, screen_seconds=None, delivery="spawn", hostname=None, now=None):
    """Raise one alert; returns an AlertOutcome and never raises for runtime trouble.

    `function` must be a plain identifier (it names config keys and the XAPI
    message): anything else is a ValueError, a caller bug. `cycles_since_start`
    overrides what the service's files say; `delivery="spool"` only spools
    (tests; the `alert_spool` job sends later). Without `config` the host's
    override file and cached pool configuration are used (no network call).
    """
    check_function(function)
    if delivery not in DELIVERY_MODES:
        raise ValueError("delivery must be one of %s" % ", ".join(DELIVERY_MODES))
    text = "" if text is None else str(text)
    if config is None:
        config = _load_config(root)
    prio = function_priority(config, function, priority)
    log = logger.bind(function=function)
    log.warning("ALERT (priority {}): {}", prio, one_line(text, 2000))

    screen = _screen_seconds(config, screen_seconds)
    xapi_state = _xapi_part(function, text, prio, root, config, session, screen, now)
    mail_state, entry, settings = _mail_part(function, text, prio, root, config, screen, cycles_since_start,
                                             hostname, now)
    pid = None
    if delivery == "spawn":
        pid = _start_worker(root, settings if mail_state == "spooled" else None, xapi_state == "queued")
    return AlertOutcome(function, prio, mail_state, xapi_state, entry, pid)


def _start_worker(root, settings, xapi_queued):
    """One detached delivery worker, unless one is already queued that will see our entries."""
    need = (settings is not None and not spool.worker_waiting(root, spool.MAIL)) or \
        (xapi_queued and not spool.worker_waiting(root, spool.XAPI))
    if not need:
        return None
    try:
        return deliver.spawn(root, settings)
    except OSError as exc:  # the alert_spool job will deliver
        logger.bind(function="email").warning("alert worker not started ({}); the alert_spool job will deliver",
                                              exc.strerror or exc)
        return None


def _queue_message(function, text, prio, root, now, why):
    try:
        spool.enqueue(root, function, text, prio, now=now, queue=spool.XAPI)
    except spool.SpoolError as exc:
        logger.bind(function=function).warning("XAPI alert message lost ({}): {}", why, exc)
        throttle.forget(root, "xapi:" + function, text)
        return "failed: %s" % exc
    return "queued"


def _xapi_part(function, text, prio, root, config, session, screen, now):
    """created | disabled | screened | queued (posted later by the worker) | failed: ..."""
    if not flag(config, "ENABLE_ALERTS"):
        return "disabled"
    if not throttle.admit(root, "xapi:" + function, text, screen, now=now):
        return "screened"
    if session is None:
        return _queue_message(function, text, prio, root, now, "no session")
    try:
        timeout = min(float(getattr(session, "timeout", INLINE_XAPI_SECONDS)), INLINE_XAPI_SECONDS)
        xapi_messages.create(session, function, text, prio, host_uuid=xapi_messages.local_host_uuid(root),
                             timeout=timeout)
    except Exception as exc:  # XAPI trouble must not break the caller: post it later
        logger.bind(function=function).warning("could not create the XAPI alert message now ({}); queued",
                                               one_line(str(exc), 300))
        return _queue_message(function, text, prio, root, now, one_line(str(exc), 300))
    return "created"


def _mail_part(function, text, prio, root, config, screen, cycles, hostname, now):
    """(spooled | disabled | quiet-start | screened | failed: ..., spool entry, MailSettings)."""
    if not (flag(config, "MAIL_ON") and function_mail_enabled(config, function)):
        return "disabled", None, None
    if cycles is None:
        try:
            delay = number(config, "MONITOR_DELAY", minimum=1)
        except SettingsError:
            delay = 15
        cycles = startup.cycles_since_start(root, delay, now=now)
    if startup.in_quiet_start(cycles):
        return "quiet-start", None, None
    try:
        settings = mail_settings(config)
    except SettingsError as exc:
        logger.bind(function="email").error("alert mail not sent: {}", exc)
        return "failed: %s" % exc, None, None
    if not throttle.admit(root, "mail:" + function, text, screen, now=now):
        return "screened", None, None
    try:
        entry = spool.enqueue(root, function, text, prio, _hostname(config, root, hostname),
                              report.from_state(root), now=now)
    except spool.SpoolError as exc:
        logger.bind(function="email").error("alert mail not spooled: {}", exc)
        throttle.forget(root, "mail:" + function, text)
        return "failed: %s" % exc, None, None
    return "spooled", entry, settings


def alert_suspended_host(host_name, *, root=None, config=None, session=None, **options):
    """The suspended-HA alert: repeated every hour while the suspension lasts."""
    text = ("HA is suspended on host %s after it could not fence; it stays suspended until the master "
            "marks it healthy (see ha-cfg status)." % one_line(host_name, 100))
    options.setdefault("screen_seconds", SUSPENDED_REPEAT_SECONDS)
    return raise_alert(SUSPENDED_FUNCTION, text, root=root, config=config, session=session, **options)
