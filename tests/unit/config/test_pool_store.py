"""Encoding admin input into the old literal format, keeping each key's style."""
import pytest

from halizard.config import pool_store, schema


def enc(name, text, previous=None):
    return pool_store.encode(schema.get_param(name), text, previous)


@pytest.mark.parametrize("name,text,previous,expected", [
    ("MONITOR_DELAY", "20", "15", "20"),
    ("SMTP_PORT", "2525", '"25"', '"2525"'),
    ("SMTP_PORT", "2525", "25", "2525"),
    ("XC_FIELD_NAME", "my-field", "'ha-lizard-enabled'", "'my-field'"),
    ("DISABLED_VAPPS", "", "()", "()"),
    ("DISABLED_VAPPS", "0e4f6d0c-1111-2222-3333-444455556666", "()", "(0e4f6d0c-1111-2222-3333-444455556666)"),
    ("FENCE_HEURISTICS_IPS", "127.0.0.1:127.0.0.2", "127.0.0.9", "127.0.0.1:127.0.0.2"),
    ("FENCE_HEURISTICS_IPS", "", "127.0.0.9", ""),
    ("MAIL_SUBJECT", "ALERT:$HOSTNAME", '"SYSTEM_ALERT-FROM_HOST:$HOSTNAME"', '"ALERT:$HOSTNAME"'),
    ("MAIL_FROM", "ha@example.invalid", None, '"ha@example.invalid"'),
    ("FENCE_METHOD", "xvm", "POOL", "XVM"),
    ("SMTP_PASS", "p@ss!word", '""', '"p@ss!word"'),
    ("FENCE_PASSWD", "", "", ""),
    ("MAIL_FROM", '"quoted@example.invalid"', '"root@localhost"', '"quoted@example.invalid"'),
])
def test_encode_keeps_the_old_style(name, text, previous, expected):
    assert enc(name, text, previous) == expected


@pytest.mark.parametrize("name,text", [
    ("MONITOR_DELAY", "fast"), ("MAIL_SUBJECT", "two words"), ("SMTP_PASS", "a;b"),
    ("LOG_check_xapi", "1"), ("FENCE_HEURISTICS_IPS", "127.0.0.1:1.2.3.4.5"), ("OP_MODE", "0"),
])
def test_encode_refuses(name, text):
    with pytest.raises(ValueError):
        enc(name, text)


def test_default_literals_are_the_old_installers():
    expected = {"XC_FIELD_NAME": "'ha-lizard-enabled'", "DISABLED_VAPPS": "()",
                "MAIL_SUBJECT": '"SYSTEM_ALERT-FROM_HOST:$HOSTNAME"', "MAIL_FROM": '"root@localhost"',
                "SMTP_PORT": '"25"', "SMTP_PASS": '""', "FENCE_PASSWD": "", "MONITOR_DELAY": "15",
                "FENCE_HEURISTICS_IPS": ""}
    for name, literal in expected.items():
        assert pool_store.default_literal(schema.get_param(name)) == literal


def test_validate_literal_takes_backup_lines_verbatim():
    assert pool_store.validate_literal(schema.get_param("MAIL_TO"), '"a@example.invalid"') == '"a@example.invalid"'
    with pytest.raises(ValueError):
        pool_store.validate_literal(schema.get_param("MAIL_TO"), '"a b@x"')
    with pytest.raises(ValueError):
        pool_store.validate_literal(schema.get_param("MONITOR_DELAY"), "$(reboot)")


def test_flag_state():
    assert pool_store.flag_state("true") == "true"
    assert pool_store.flag_state(None) == "missing"
    assert pool_store.flag_state("True") == "invalid"


def test_docs_are_generated_from_the_schema():
    """docs/configuration.md and etc/ha-lizard/ha-lizard.conf must match scripts/gen-config-doc."""
    import os

    from halizard.config import docgen
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    for rel, text in docgen.outputs():
        with open(os.path.join(top, rel), encoding="utf-8") as handle:
            assert handle.read() == text, "%s is stale: run scripts/gen-config-doc" % rel


class _PoolApi:
    """The pool calls set_parameters/apply_changes make, on one other_config dict."""

    def __init__(self, other):
        self.other = other

    def get_all(self):
        return ["OpaqueRef:p"]

    def get_record(self, ref):
        return {"uuid": "pool-1", "other_config": dict(self.other)}

    def get_other_config(self, ref):
        return dict(self.other)

    def remove_from_other_config(self, ref, key):
        del self.other[key]

    def add_to_other_config(self, ref, key, value):
        assert key not in self.other, "add_to_other_config on an existing key fails in xapi"
        self.other[key] = value


class _Session:
    def __init__(self, other):
        self.xenapi = type("X", (), {})()
        self.xenapi.pool = _PoolApi(other)


def test_set_parameters_keeps_each_keys_literal_style_and_refuses_a_bad_value():
    other = {"HA_SMTP_PORT": '"25"', "HA_MONITOR_DELAY": "15", "unrelated": "x"}
    session = _Session(other)
    assert pool_store.set_parameters(session, {"SMTP_PORT": 2525, "MONITOR_DELAY": 20}) == "OpaqueRef:p"
    assert other == {"HA_SMTP_PORT": '"2525"', "HA_MONITOR_DELAY": "20", "unrelated": "x"}
    with pytest.raises(ValueError):
        pool_store.set_parameters(session, {"MONITOR_DELAY": "soon"})
    assert other["HA_MONITOR_DELAY"] == "20"


def test_decoding_is_remembered_but_never_mixes_hosts_or_hides_an_error():
    # every job run builds its configuration from the same literals: decode remembers them (issue 16)
    subject = schema.get_param("MAIL_SUBJECT")
    raw = '"up-$HOSTNAME"'
    assert pool_store.decode(subject, raw, {"HOSTNAME": "h1"}) == "up-h1"
    assert pool_store.decode(subject, raw, {"HOSTNAME": "h2"}) == "up-h2"
    assert pool_store.decode(subject, raw, {"HOSTNAME": "h1"}) == "up-h1"
    assert pool_store.decode(subject, raw) == "up-$HOSTNAME"
    delay = schema.get_param("MONITOR_DELAY")
    for _ in range(2):
        with pytest.raises(ValueError):
            pool_store.decode(delay, "soon")
    assert pool_store.decode(delay, "20") == 20
    assert pool_store.default_literal(delay) == pool_store.default_literal(delay) == "15"
