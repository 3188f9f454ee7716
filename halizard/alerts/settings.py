"""Mail and alert settings read out of the effective configuration, validated once.

Why: the config layer stores values as the old bash product did (literal,
possibly quoted). Mail code wants typed, checked values: a port number, a
list of recipient addresses, a subject without line breaks. Anything wrong
is a `SettingsError` with a one-line message, before any socket is opened.

Recipients (MAIL_TO) may be separated by `:`, `,`, `;` or whitespace, so the
pool store (no spaces allowed) and the override file (quotes allowed) can
both hold several addresses.
"""

import os
import re
import socket
from dataclasses import dataclass, field
from typing import List, Optional

DEFAULTS = {
    "MAIL_ON": "1",
    "ENABLE_ALERTS": "1",
    "MAIL_SUBJECT": "SYSTEM_ALERT-FROM_HOST:$HOSTNAME",
    "MAIL_FROM": "root@localhost",
    "MAIL_TO": "root@localhost",
    "SMTP_SERVER": "127.0.0.1",
    "SMTP_PORT": "25",
    "SMTP_USER": "",
    "SMTP_PASS": "",
    "MAIL_SCREEN_TIME": "60",
    "MONITOR_DELAY": "15",
}
DEFAULT_PRIORITY = 3
IMPLICIT_TLS_PORT = 465

_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+(@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)?$")
_SPLIT = re.compile(r"[:,;\s]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_FUNCTION = re.compile(r"^[A-Za-z0-9_]{1,64}$")


class SettingsError(ValueError):
    """A mail/alert setting is missing or malformed (one-line message)."""


def strip_quotes(value):
    """`"x"` or `'x'` -> `x` (the old product stores values literally, quotes included)."""
    text = "" if value is None else str(value).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1]
    return text


def raw_value(config, name):
    """The value of `name` from a config object (`.get(NAME)`), a plain dict, or the default."""
    value = None
    if config is not None:
        try:
            value = config.get(name)
        except Exception:  # unknown name in a strict schema: fall back to our default
            value = None
    if value is None:
        value = DEFAULTS.get(name)
    return strip_quotes(value)


def flag(config, name):
    """A 0/1 switch; anything but a clear `0`/false counts as on (alerts fail open)."""
    value = raw_value(config, name).lower()
    return value not in ("0", "false", "no", "off")


def number(config, name, minimum=0):
    text = raw_value(config, name)
    try:
        value = int(float(text))
    except ValueError:
        raise SettingsError("%s must be a number, not %r" % (name, text)) from None
    if value < minimum:
        raise SettingsError("%s must be at least %d, not %d" % (name, minimum, value))
    return value


def check_function(function):
    """Alert function names become config keys and XAPI message names: a plain identifier only."""
    if not isinstance(function, str) or not _FUNCTION.match(function):
        raise SettingsError("invalid alert function name %r (letters, digits, '_' only)" % (function,))
    return function


def function_mail_enabled(config, function):
    """MAIL_<function> (default on)."""
    if config is not None and hasattr(config, "function_enabled"):
        try:
            return bool(config.function_enabled("MAIL", function))
        except Exception:
            pass
    return flag(config, "MAIL_" + function)


def function_priority(config, function, explicit=None):
    """The caller's priority, else PRIORITY_<function>, else 3; always clamped to XAPI's 1..5."""
    value = explicit
    if value is None and config is not None and hasattr(config, "priority"):
        try:
            value = config.priority(function)
        except Exception:
            value = None
    if value is None:
        text = raw_value(config, "PRIORITY_" + function)
        value = text if text else DEFAULT_PRIORITY
    try:
        value = int(value)
    except (TypeError, ValueError):
        value = DEFAULT_PRIORITY
    return min(5, max(1, value))


def one_line(text, limit=900):
    """Collapse control characters (CR, LF, TAB...) to single spaces: nothing can start a new header."""
    return _CONTROL.sub(" ", "" if text is None else str(text)).strip()[:limit]


def local_hostname():
    return os.environ.get("HOSTNAME") or socket.gethostname()


def expand_subject(template, hostname):
    text = str(template).replace("${HOSTNAME}", hostname).replace("$HOSTNAME", hostname)
    return one_line(text, 200) or "HA-Lizard alert"


def check_address(address, name):
    if not _ADDRESS.match(address):
        raise SettingsError("%s holds an invalid mail address %r" % (name, one_line(address, 80)))
    return address


def parse_recipients(text):
    """MAIL_TO -> list of addresses; separators `:`, `,`, `;` or whitespace."""
    parts = [part for part in _SPLIT.split(text or "") if part]
    if not parts:
        raise SettingsError("MAIL_TO is empty: no recipient to send alerts to")
    return [check_address(part, "MAIL_TO") for part in parts]


@dataclass(frozen=True)
class MailSettings:
    """Everything needed to deliver one alert mail. `password` never appears in repr."""

    server: str = "127.0.0.1"
    port: int = 25
    user: str = ""
    password: str = field(default="", repr=False)
    mail_from: str = "root@localhost"
    mail_to: List[str] = field(default_factory=lambda: ["root@localhost"])
    subject_template: str = DEFAULTS["MAIL_SUBJECT"]
    timeout: float = 10.0

    @property
    def implicit_tls(self):
        return self.port == IMPLICIT_TLS_PORT

    def subject(self, hostname: Optional[str] = None):
        return expand_subject(self.subject_template, hostname or local_hostname())

    def to_dict(self):
        """For the hand-over to the delivery worker (through a pipe, never a file or argv)."""
        return {
            "server": self.server, "port": self.port, "user": self.user, "password": self.password,
            "mail_from": self.mail_from, "mail_to": list(self.mail_to),
            "subject_template": self.subject_template, "timeout": self.timeout,
        }

    @classmethod
    def from_dict(cls, data):
        try:
            return cls(
                server=str(data["server"]), port=int(data["port"]), user=str(data.get("user", "")),
                password=str(data.get("password", "")), mail_from=str(data["mail_from"]),
                mail_to=[str(item) for item in data["mail_to"]],
                subject_template=str(data.get("subject_template", DEFAULTS["MAIL_SUBJECT"])),
                timeout=float(data.get("timeout", 10.0)),
            ).validated()
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, SettingsError):
                raise
            raise SettingsError("malformed mail settings: %s" % exc.__class__.__name__) from None

    def validated(self):
        server = self.server.strip()
        if not server or _CONTROL.search(server) or " " in server:
            raise SettingsError("SMTP_SERVER is empty or malformed")
        if not 0 < self.port < 65536:
            raise SettingsError("SMTP_PORT must be 1..65535, not %d" % self.port)
        check_address(self.mail_from, "MAIL_FROM")
        for address in self.mail_to:
            check_address(address, "MAIL_TO")
        if not self.mail_to:
            raise SettingsError("MAIL_TO is empty: no recipient to send alerts to")
        if _CONTROL.search(self.user) or _CONTROL.search(self.password):
            raise SettingsError("SMTP_USER/SMTP_PASS must not contain control characters")
        if self.timeout <= 0:
            raise SettingsError("mail timeout must be positive")
        return self


def mail_settings(config, timeout=10.0):
    """MailSettings from the effective configuration (or a dict); raises SettingsError."""
    port_text = raw_value(config, "SMTP_PORT")
    try:
        port = int(port_text)
    except ValueError:
        raise SettingsError("SMTP_PORT must be a number, not %r" % one_line(port_text, 40)) from None
    return MailSettings(
        server=raw_value(config, "SMTP_SERVER"),
        port=port,
        user=raw_value(config, "SMTP_USER"),
        password=raw_value(config, "SMTP_PASS"),
        mail_from=raw_value(config, "MAIL_FROM"),
        mail_to=parse_recipients(raw_value(config, "MAIL_TO")),
        subject_template=raw_value(config, "MAIL_SUBJECT") or DEFAULTS["MAIL_SUBJECT"],
        timeout=timeout,
    ).validated()
