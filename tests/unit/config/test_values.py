"""The old product's literal format: read exactly, written so bash still reads it."""
import shutil
import subprocess

import pytest

from halizard.config import values

OLD_LITERALS = [
    # raw as the bash tool stored it, text we must read
    ("20", "20", "bare"),
    ("'ha-lizard-enabled'", "ha-lizard-enabled", "single"),
    ("()", "", "paren"),
    ('"SYSTEM_ALERT-FROM_HOST:$HOSTNAME"', "SYSTEM_ALERT-FROM_HOST:h1", "double"),
    ('"root@localhost"', "root@localhost", "double"),
    ('"25"', "25", "double"),
    ('""', "", "double"),
    ("", "", "bare"),
    ("/usr/libexec/ha-lizard/fence", "/usr/libexec/ha-lizard/fence", "bare"),
    ("127.0.0.1:127.0.0.2", "127.0.0.1:127.0.0.2", "bare"),
    ("(uuid-a:uuid-b)", "uuid-a:uuid-b", "paren"),
    ("(uuid-a uuid-b)", "uuid-a:uuid-b", "paren"),
]


@pytest.mark.parametrize("raw,text,style", OLD_LITERALS)
def test_old_literals_read_as_bash_would(raw, text, style):
    lit = values.parse_literal(raw, {"HOSTNAME": "h1"})
    assert lit.text == text
    assert lit.style == style


def test_unknown_variables_stay_literal_and_single_quotes_never_expand():
    assert values.parse_literal('"a$OTHER"', {"HOSTNAME": "h"}).text == "a$OTHER"
    assert values.parse_literal("'$HOSTNAME'", {"HOSTNAME": "h"}).text == "$HOSTNAME"
    assert values.parse_literal('"\\$HOSTNAME"', {"HOSTNAME": "h"}).text == "$HOSTNAME"


@pytest.mark.parametrize("raw", ["a b", "a;b", "$(reboot)", '"`reboot`"', "'open", '"open', "a|b",
                                 "(a", "x&", "a>b"])
def test_dangerous_or_broken_literals_are_refused(raw):
    with pytest.raises(values.LiteralError):
        values.parse_literal(raw)


@pytest.mark.parametrize("text,style,expected", [
    ("15", "bare", "15"),
    ("x", "single", "'x'"),
    ("26", "double", '"26"'),
    ("a:b", "paren", "(a:b)"),
    ("", "paren", "()"),
    ("ALERT:$HOSTNAME", "double", '"ALERT:$HOSTNAME"'),
    ("ALERT:$HOSTNAME", "bare", '"ALERT:$HOSTNAME"'),
    ("p@ss!w#rd$x", "bare", "'p@ss!w#rd$x'"),
    ("it's", "single", '"it\'s"'),
    ('q"uote', "double", '"q\\"uote"'),
])
def test_format_literal(text, style, expected):
    raw = values.format_literal(text, style)
    assert raw == expected
    assert values.parse_literal(raw, {"HOSTNAME": "$HOSTNAME"}).text == text


BASH = shutil.which("bash")


@pytest.mark.parametrize("text", ["plain", "a:b", "p@ss!w#rd$x", "it's", 'q"uote', "ALERT:$HOSTNAME",
                                  "back\\slash", "semi`tick"])
def test_written_literals_are_read_back_by_real_bash(text, tmp_path):
    """What we write must mean the same to the old product's reader (bash `source`)."""
    raw = values.format_literal(text, "bare")
    conf = tmp_path / "pool.conf"
    conf.write_text("HOSTNAME=$HOSTNAME\nVALUE=%s\n" % raw)
    script = 'HOSTNAME=\'$HOSTNAME\'; source "$1"; printf %s "$VALUE"'
    result = subprocess.run([BASH, "-c", script, "bash", str(conf)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=10, check=True)
    assert result.stdout == text


def test_parse_leading_word_stops_at_comment():
    lit, rest = values.parse_leading_word('"two words"  # note')
    assert lit.text == "two words"
    assert rest.strip() == "# note"


def test_check_pool_text():
    values.check_pool_text("abc:def")
    for bad in ("a b", "a;b", "a\nb", "a\tb"):
        with pytest.raises(values.LiteralError):
            values.check_pool_text(bad)
