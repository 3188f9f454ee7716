"""Alert mail: build a plain + HTML message and hand it to an SMTP server, with deadlines.

Why: admins learn about failovers by mail, so delivery must be correct
(encodings, TLS, login) and must never hang: every socket step has the
settings' timeout and the whole conversation an overall deadline. Errors
become a `MailError` with one clear line; the SMTP password never appears in
it, nor in the debug transcript (see transcript.py).

TLS: port 465 is implicit TLS; on any other port STARTTLS is used whenever
the server offers it. Certificates are verified against the system trust
store (or the file named by the standard SSL_CERT_FILE variable).
"""

import base64
import html
import smtplib
import socket
import ssl
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid

from halizard.alerts.settings import MailSettings, local_hostname, one_line
from halizard.alerts.transcript import DebugSMTP, DebugSMTP_SSL


class MailError(Exception):
    """Delivery failed; `permanent` is True when retrying the same mail cannot help by itself."""

    def __init__(self, message, permanent=False):
        super().__init__(message)
        self.permanent = permanent


def _body_text(function, text):
    """Alert text for the body: keep its lines, drop other control characters."""
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(one_line(line, 4000) for line in lines)


def build_message(settings: MailSettings, function, text, report="", hostname=None, when=None):
    """An RFC 5322 message: subject from MAIL_SUBJECT ($HOSTNAME expanded), plain + HTML parts."""
    host = one_line(hostname or local_hostname(), 100)
    body = _body_text(function, text)
    stamp = formatdate(when, usegmt=True)
    plain = "HA-Lizard alert from host %s\nFunction: %s\nTime: %s\n\n%s\n" % (host, function, stamp, body)
    if report:
        plain += "\n---- pool status report ----\n%s\n" % report.rstrip("\n")
    rich = (
        "<html><body><h3>HA-Lizard alert from host %s</h3>"
        "<p><b>Function:</b> %s<br><b>Time:</b> %s</p><pre>%s</pre>"
        % (html.escape(host), html.escape(function), html.escape(stamp), html.escape(body))
    )
    if report:
        rich += "<h4>Pool status report</h4><pre>%s</pre>" % html.escape(report.rstrip("\n"))
    rich += "</body></html>\n"

    message = EmailMessage(policy=SMTP_POLICY)
    message["Subject"] = settings.subject(host)
    message["From"] = settings.mail_from
    message["To"] = ", ".join(settings.mail_to)
    message["Date"] = stamp
    message["Message-ID"] = make_msgid(domain="ha-lizard.local")
    message["X-HA-Lizard-Function"] = one_line(function, 64)
    message.set_content(plain, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rich, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def _tls_context():
    return ssl.create_default_context()


class _Deadline:
    """Remaining time of the whole conversation; each step gets min(step timeout, remaining)."""

    def __init__(self, settings, total):
        self.step = settings.timeout
        self.end = time.monotonic() + (total if total else settings.timeout * 6)

    def arm(self, client):
        left = self.end - time.monotonic()
        if left <= 0:
            raise socket.timeout("overall mail deadline passed")
        if client.sock is not None:
            client.sock.settimeout(min(self.step, left))


def _connect(settings, debug_stream, deadline):
    """Connected, greeted, TLS in place (implicit or STARTTLS when offered)."""
    common = dict(local_hostname="ha-lizard", timeout=settings.timeout,
                  debug_stream=debug_stream, secrets=[settings.password])
    if debug_stream is not None:
        debug_stream.write("-- connecting to %s port %d%s\n" % (
            settings.server, settings.port, " (implicit TLS)" if settings.implicit_tls else ""))
    if settings.implicit_tls:
        client = DebugSMTP_SSL(settings.server, settings.port, context=_tls_context(), **common)
    else:
        client = DebugSMTP(settings.server, settings.port, **common)
    try:
        deadline.arm(client)
        client.ehlo_or_helo_if_needed()
        if not settings.implicit_tls and client.has_extn("starttls"):
            deadline.arm(client)
            client.starttls(context=_tls_context())
            client.ehlo()
    except BaseException:
        client.close()
        raise
    return client


def _explain(exc, settings):
    """One line for an exception, never including the password."""
    where = "%s:%d" % (settings.server, settings.port)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return MailError("SMTP login refused for user %r at %s: %s" % (settings.user, where, _reply(exc)), True)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = ", ".join("%s (%s)" % (addr, _reply_of(code, msg)) for addr, (code, msg) in exc.recipients.items())
        return MailError("recipient refused by %s: %s" % (where, refused), True)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return MailError("sender %s refused by %s: %s" % (exc.sender, where, _reply(exc)), True)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailError("SMTP server %s does not support login (AUTH not offered; TLS missing?)" % where, True)
    if isinstance(exc, smtplib.SMTPResponseException):
        return MailError("SMTP server %s answered: %s" % (where, _reply(exc)), exc.smtp_code >= 500)
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
        # Python 3.6 has no verify_message: its reason is OpenSSL's code, e.g. CERTIFICATE_VERIFY_FAILED.
        code = str(getattr(exc, "reason", None) or "").replace("_", " ").lower()
        reason = getattr(exc, "verify_message", None) or code or exc.__class__.__name__
        return MailError("TLS failure with SMTP server %s: %s" % (where, reason))
    if isinstance(exc, socket.timeout) or (isinstance(exc, smtplib.SMTPServerDisconnected)
                                           and "timed out" in str(exc)):
        return MailError("SMTP server %s did not answer in time (deadline %gs per step)" % (where, settings.timeout))
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return MailError("SMTP server %s closed the connection: %s" % (where, exc))
    if isinstance(exc, OSError):
        return MailError("cannot reach SMTP server %s: %s" % (where, exc.strerror or exc))
    return MailError("mail to %s failed: %s" % (where, exc.__class__.__name__))


def _scrub(text, secret):
    """A server may echo what it got: never let the password (clear or base64) into a message."""
    if secret:
        for form in (secret, base64.b64encode(secret.encode("utf-8")).decode("ascii")):
            text = text.replace(form, "****")
    return text


def _reply_of(code, msg):
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    return one_line("%s %s" % (code, msg), 200)


def _reply(exc):
    return _reply_of(getattr(exc, "smtp_code", ""), getattr(exc, "smtp_error", ""))


def send(settings: MailSettings, message, debug_stream=None, total_timeout=None):
    """Deliver `message`; returns the addresses the server refused (empty when all accepted).

    Raises MailError when nothing was accepted. `debug_stream` receives the
    whole conversation, the password masked.
    """
    deadline = _Deadline(settings, total_timeout)
    client = None
    try:
        client = _connect(settings, debug_stream, deadline)
        if settings.user:
            deadline.arm(client)
            client.login(settings.user, settings.password)
        deadline.arm(client)
        refused = client.send_message(message, from_addr=settings.mail_from, to_addrs=list(settings.mail_to))
        deadline.arm(client)
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            pass
        client = None
        return sorted(refused)
    except Exception as exc:  # every failure becomes one clear line
        error = _explain(exc, settings)
        raise MailError(_scrub(str(error), settings.password), error.permanent) from None
    finally:
        if client is not None:
            try:
                client.close()
            except OSError:
                pass


def send_alert(settings, function, text, report="", hostname=None, debug_stream=None, when=None):
    """Build and deliver one alert mail (see `send`)."""
    message = build_message(settings, function, text, report=report, hostname=hostname, when=when)
    return send(settings, message, debug_stream=debug_stream)
