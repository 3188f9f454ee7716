"""Mail settings from the configuration: parsing, validation, the real EffectiveConfig."""
import pytest

from halizard.alerts.settings import (
    MailSettings,
    SettingsError,
    expand_subject,
    function_mail_enabled,
    function_priority,
    mail_settings,
    parse_recipients,
)
from halizard.config.effective import build_effective


def test_defaults_match_the_old_product():
    settings = mail_settings({})
    assert (settings.server, settings.port, settings.user, settings.mail_from, settings.mail_to) == \
        ("127.0.0.1", 25, "", "root@localhost", ["root@localhost"])
    assert settings.subject("h1") == "SYSTEM_ALERT-FROM_HOST:h1"
    assert not settings.implicit_tls
    assert mail_settings({"SMTP_PORT": '"465"'}).implicit_tls  # quoted literal as the old product stores


@pytest.mark.parametrize("text, expected", [
    ("a@localhost", ["a@localhost"]),
    ("a@localhost:b@localhost", ["a@localhost", "b@localhost"]),
    ("a@localhost, b@localhost;c@localhost  d@localhost", ["a@localhost", "b@localhost", "c@localhost",
                                                            "d@localhost"]),
    ("root", ["root"]),
])
def test_recipient_separators(text, expected):
    assert parse_recipients(text) == expected


@pytest.mark.parametrize("bad", ["", " : ", "a@@localhost", "a@localhost\nRCPT TO:<b@localhost>", "<a@localhost>",
                                 "a@-bad-"])
def test_bad_recipients_are_refused(bad):
    with pytest.raises(SettingsError):
        parse_recipients(bad)


@pytest.mark.parametrize("values, fragment", [
    ({"SMTP_PORT": "smtp"}, "SMTP_PORT must be a number"),
    ({"SMTP_PORT": "70000"}, "SMTP_PORT must be 1..65535"),
    ({"SMTP_SERVER": ""}, "SMTP_SERVER"),
    ({"MAIL_FROM": "x\r\nBcc: y@localhost"}, "MAIL_FROM"),
    ({"SMTP_PASS": "pa\nss"}, "control characters"),
])
def test_bad_settings_are_one_line_errors(values, fragment):
    with pytest.raises(SettingsError) as caught:
        mail_settings(values)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_password_never_in_repr():
    settings = mail_settings({"SMTP_USER": "u", "SMTP_PASS": "Hidden-123"})
    assert "Hidden-123" not in repr(settings)
    assert MailSettings.from_dict(settings.to_dict()) == settings


def test_subject_expansion_and_injection():
    assert expand_subject("alert on ${HOSTNAME}/$HOSTNAME", "h2") == "alert on h2/h2"
    assert expand_subject("a\r\nBcc: x@localhost", "h") == "a Bcc: x@localhost"
    assert expand_subject("\n", "h") == "HA-Lizard alert"


def test_with_the_real_effective_configuration():
    config = build_effective(
        {"HA_SMTP_SERVER": "127.0.0.1", "HA_SMTP_PORT": '"465"', "HA_MAIL_TO": "a@localhost:b@localhost",
         "HA_MAIL_SUBJECT": "ALERT-$HOSTNAME", "HA_MAIL_ON": "1"}, {}, hostname="dom0-x")
    settings = mail_settings(config)
    assert settings.port == 465 and settings.implicit_tls
    assert settings.mail_to == ["a@localhost", "b@localhost"]
    assert settings.subject("ignored") == "ALERT-dom0-x"  # the config layer expands $HOSTNAME itself
    assert function_mail_enabled(config, "fence_host")
    assert function_priority(config, "fence_host") == 3
    assert function_priority(config, "fence_host", 1) == 1
    assert function_priority(config, "not_in_schema") == 3
    off = build_effective({"HA_MAIL_ON": "0"}, {}, hostname="h")
    assert not function_mail_enabled(off, "fence_host")
