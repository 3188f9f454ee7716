"""The host override file: bash-like, read never executed, bad lines named."""
import pytest

from halizard.config import override


def test_reads_values_comments_quotes_and_families():
    settings = override.parse_override(
        "# comment\n\n"
        'MAIL_SUBJECT="HA alert from $HOSTNAME"   # with spaces\n'
        "SLAVE_VM_STAT=1\n"
        "export LOG_check_xapi=0\n"
        "LOC_write_status_report=0\n"
        "PRIORITY_fence_host=1\n"
        "DISABLED_VAPPS=()\n"
        "FENCE_HEURISTICS_IPS='127.0.0.1:127.0.0.2'\n")
    assert settings["MAIL_SUBJECT"].value == "HA alert from $HOSTNAME"
    assert settings["MAIL_SUBJECT"].line == 3
    assert settings["SLAVE_VM_STAT"].value == 1
    assert settings["LOG_check_xapi"].value == 0
    assert settings["LOG_write_status_report"].value == 0
    assert settings["PRIORITY_fence_host"].value == 1
    assert settings["DISABLED_VAPPS"].value == ()
    assert settings["FENCE_HEURISTICS_IPS"].value == ("127.0.0.1", "127.0.0.2")


@pytest.mark.parametrize("line,fragment", [
    ("FOO=1", "unknown parameter FOO"),
    ("SLAVE_VM_STAT = 1", "no spaces allowed"),
    ("SLAVE_VM_STAT=2", "not 0 or 1"),
    ("MAIL_SUBJECT=a b", "quote values with spaces"),
    ('MAIL_SUBJECT="open', "unterminated"),
    ("just garbage", "expected KEY=VALUE"),
    ("MONITOR_DELAY=$(reboot)", "MONITOR_DELAY"),
    ("PRIORITY_check_xapi=9", "above the maximum"),
])
def test_bad_line_is_named(line, fragment):
    with pytest.raises(override.OverrideError) as info:
        override.parse_override("# first\nSLAVE_VM_STAT=1\n" + line + "\n", "/x/ha-lizard.conf")
    assert info.value.line == 3
    assert "/x/ha-lizard.conf line 3" in str(info.value)
    assert fragment in str(info.value)


@pytest.mark.parametrize("line", ['SMTP_PASS="hunter2', "SMTP_PASS=hunter2 tail", "SMTP_PASS hunter2",
                                  "FENCE_PASSWD=a$(hunter2)"])
def test_secrets_never_appear_in_errors(line):
    with pytest.raises(override.OverrideError) as info:
        override.parse_override(line + "\n")
    assert "hunter2" not in str(info.value)


def test_missing_file_is_empty(tmp_path):
    assert override.load_override(str(tmp_path)) == {}


def test_generated_file_is_all_commented_and_every_line_parses_when_uncommented():
    import re

    from halizard.config import docgen, schema
    text = docgen.override_conf()
    assert override.parse_override(text) == {}
    uncommented = "".join(line[1:] + "\n" if re.match(r"^#[A-Z][A-Za-z_]*=", line) else line + "\n"
                          for line in text.splitlines())
    assert len(override.parse_override(uncommented)) == len(schema.PARAMETERS)
