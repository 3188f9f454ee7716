"""Alert mail through a real SMTP server on loopback: TLS modes, login, errors, encodings."""
import io
import socket
import time

import pytest
from alerts_smtp_server import PASSWORD, USER, mail_config

from halizard.alerts import mail
from halizard.alerts.settings import mail_settings


def _parts(message):
    plain = message.get_body(preferencelist=("plain",)).get_content()
    rich = message.get_body(preferencelist=("html",)).get_content()
    return plain, rich


def test_starttls_with_login_delivers_plain_and_html_with_subject_expanded(smtp_factory, trust):
    server = smtp_factory("starttls")
    settings = mail_settings(mail_config(server, MAIL_TO="a@localhost:b@localhost,c@localhost"))
    refused = mail.send_alert(settings, "fence_host", "host h2 fenced", report="h1 master healthy",
                              hostname="dom0-a")
    assert refused == []
    assert len(server.received) == 1
    got = server.received[0]
    assert got["tls"] and got["auth"].login.decode() == USER
    assert sorted(got["rcpt_tos"]) == ["a@localhost", "b@localhost", "c@localhost"]
    assert got["message"]["Subject"] == "SYSTEM_ALERT-FROM_HOST:dom0-a"
    plain, rich = _parts(got["message"])
    assert "host h2 fenced" in plain and "fence_host" in plain
    assert plain.rstrip().endswith("h1 master healthy")  # the pool report comes last
    assert "<pre>host h2 fenced</pre>" in rich


def test_port_465_is_implicit_tls(smtp_factory, trust):
    server = smtp_factory("implicit", port=465)
    settings = mail_settings(mail_config(server))
    assert settings.implicit_tls
    stream = io.StringIO()
    mail.send_alert(settings, "email", "over implicit TLS", hostname="h", debug_stream=stream)
    assert server.received and server.received[0]["tls"]
    assert "(implicit TLS)" in stream.getvalue() and "S: 220" in stream.getvalue()
    assert "C: STARTTLS" not in stream.getvalue().upper()


def test_plain_server_without_auth(smtp_factory):
    server = smtp_factory("plain", user=None)
    settings = mail_settings(mail_config(server, SMTP_USER="", SMTP_PASS=""))
    mail.send_alert(settings, "email", "no tls no login", hostname="h")
    assert not server.received[0]["tls"]


def test_non_ascii_subject_and_body_are_encoded(smtp_factory, trust):
    server = smtp_factory("starttls")
    settings = mail_settings(mail_config(server, MAIL_SUBJECT="Störung auf $HOSTNAME ✓"))
    mail.send_alert(settings, "vm_mon", "VM «Datenbank» läuft nicht – 再起動", hostname="wirt-ä")
    got = server.received[0]
    assert [line for line in got["raw"].splitlines() if max(line, default=0) > 127] == []  # everything travelled encoded (RFC 2047 / transfer encodings)
    assert got["message"]["Subject"] == "Störung auf wirt-ä ✓"
    plain, rich = _parts(got["message"])
    assert "VM «Datenbank» läuft nicht – 再起動" in plain
    assert "VM «Datenbank» läuft nicht – 再起動" in rich


def test_header_injection_is_impossible(smtp_factory, trust):
    server = smtp_factory("starttls")
    settings = mail_settings(mail_config(server, MAIL_SUBJECT="alert\r\nBcc: victim@localhost\nX-Evil: 1"))
    mail.send_alert(settings, "email\nBcc: x@localhost", "body\r\nBcc: other@localhost\r\n.\r\nMAIL FROM:<x@y>",
                    hostname="h\r\nX-Host: 1")
    got = server.received[0]
    assert got["rcpt_tos"] == ["admin@localhost"]
    message = got["message"]
    assert message["Bcc"] is None and message["X-Evil"] is None and message["X-Host"] is None
    assert "\n" not in message["Subject"] and "Bcc: victim@localhost" in message["Subject"]
    assert len(server.received) == 1


def test_recipient_list_rejects_injection():
    from halizard.alerts.settings import SettingsError, parse_recipients
    with pytest.raises(SettingsError):
        parse_recipients("admin@localhost\r\nRCPT TO:<x@localhost>")
    assert parse_recipients(" a@localhost  b@localhost;c@localhost ") == ["a@localhost", "b@localhost", "c@localhost"]


def test_wrong_password_is_a_clear_error_without_the_password(smtp_factory, trust):
    server = smtp_factory("starttls")
    settings = mail_settings(mail_config(server, SMTP_PASS="wrong-Secret-9"))
    with pytest.raises(mail.MailError) as caught:
        mail.send_alert(settings, "email", "x", hostname="h")
    text = str(caught.value)
    assert "login refused" in text and USER in text
    assert "wrong-Secret-9" not in text and "\n" not in text
    assert caught.value.permanent
    assert server.received == []


def test_a_server_echoing_the_password_cannot_leak_it(smtp_factory, trust):
    server = smtp_factory("starttls")
    server.echo_credentials = True
    settings = mail_settings(mail_config(server, SMTP_PASS="Echoed-Secret-7"))
    with pytest.raises(mail.MailError) as caught:
        mail.send_alert(settings, "email", "x", hostname="h")
    assert "rejected %s/****" % USER in str(caught.value)
    assert "Echoed-Secret-7" not in str(caught.value)


def test_refused_recipient(smtp_factory, trust):
    server = smtp_factory("starttls")
    server.refuse.add("nobody@localhost")
    settings = mail_settings(mail_config(server, MAIL_TO="nobody@localhost"))
    with pytest.raises(mail.MailError, match="recipient refused.*nobody@localhost.*550"):
        mail.send_alert(settings, "email", "x", hostname="h")
    # one good, one refused: delivered, the refused one reported
    settings = mail_settings(mail_config(server, MAIL_TO="nobody@localhost,admin@localhost"))
    assert mail.send_alert(settings, "email", "x", hostname="h") == ["nobody@localhost"]
    assert server.received[0]["rcpt_tos"] == ["admin@localhost"]


def test_untrusted_certificate_is_a_tls_failure(smtp_factory, monkeypatch, tmp_path):
    server = smtp_factory("starttls")
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    settings = mail_settings(mail_config(server))
    with pytest.raises(mail.MailError, match="TLS failure.*certificate"):
        mail.send_alert(settings, "email", "x", hostname="h")
    assert server.received == []


def test_unreachable_server_fails_fast():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    settings = mail_settings({"SMTP_SERVER": "127.0.0.1", "SMTP_PORT": str(port)})
    started = time.monotonic()
    with pytest.raises(mail.MailError, match="cannot reach SMTP server 127.0.0.1:%d" % port):
        mail.send_alert(settings, "email", "x", hostname="h")
    assert time.monotonic() - started < 5


def test_silent_server_hits_the_deadline():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts, never greets
    try:
        settings = mail_settings({"SMTP_SERVER": "127.0.0.1", "SMTP_PORT": str(listener.getsockname()[1])},
                                 timeout=1.0)
        started = time.monotonic()
        with pytest.raises(mail.MailError, match="did not answer in time"):
            mail.send_alert(settings, "email", "x", hostname="h")
        assert time.monotonic() - started < 10
    finally:
        listener.close()


def test_debug_transcript_masks_the_password(smtp_factory, trust):
    server = smtp_factory("starttls")
    settings = mail_settings(mail_config(server))
    stream = io.StringIO()
    mail.send_alert(settings, "email", "debug me", hostname="h", debug_stream=stream)
    text = stream.getvalue()
    assert "S: 220" in text and "C: STARTTLS" in text.upper() and "AUTH" in text and "S: 235" in text
    assert "C: QUIT" in text.upper() or "QUIT" in text
    import base64
    assert PASSWORD not in text
    assert base64.b64encode(PASSWORD.encode()).decode() not in text
    assert base64.b64encode(("\0%s\0%s" % (USER, PASSWORD)).encode()).decode() not in text
    assert "****" in text


def test_auth_login_is_masked_line_by_line(smtp_factory, trust):
    server = smtp_factory("starttls", mechanisms=["LOGIN"])
    settings = mail_settings(mail_config(server))
    stream = io.StringIO()
    mail.send_alert(settings, "email", "login mechanism", hostname="h", debug_stream=stream)
    text = stream.getvalue()
    assert server.received[0]["auth"].login.decode() == USER
    import base64
    assert "C: AUTH LOGIN ****" in text and "S: 334" in text and "\nC: ****\n" in text
    for secret in (PASSWORD, base64.b64encode(PASSWORD.encode()).decode(),
                   base64.b64encode(USER.encode()).decode()):
        assert secret not in text
    assert "C: mail FROM:<ha@localhost>" in text  # masking ends with the AUTH exchange


def test_unwritable_spool_is_a_clear_failure_not_an_exception(tmp_path):
    from halizard.alerts import raise_alert
    root = str(tmp_path)
    blocker = tmp_path / "var" / "lib" / "ha-lizard" / "alert-spool"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the spool directory belongs")
    outcome = raise_alert("vm_mon", "x", root=root, config={}, cycles_since_start=3, delivery="spool")
    assert outcome.mail.startswith("failed: cannot create") and outcome.spool_entry is None
    assert outcome.xapi.startswith("failed: cannot create")
