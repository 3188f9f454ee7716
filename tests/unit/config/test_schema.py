"""The schema: every parameter of behaviour.md section 1, real defaults, validators."""
import pytest

from halizard.config import schema

BEHAVIOUR_DEFAULTS = {
    "MONITOR_MAX_STARTS": 20, "MONITOR_DELAY": 15, "MONITOR_KILLALL": 1, "MONITOR_SCANRATE": 10,
    "XC_FIELD_NAME": "ha-lizard-enabled", "XE_TIMEOUT": 10, "OP_MODE": 2, "GLOBAL_VM_HA": 1,
    "ENABLE_LOGGING": 1, "DISABLED_VAPPS": (), "XAPI_COUNT": 2, "XAPI_DELAY": 10, "SLAVE_HA": 1,
    "PROMOTE_SLAVE": 1, "SLAVE_VM_STAT": 0, "MAIL_ON": 1,
    "MAIL_SUBJECT": "SYSTEM_ALERT-FROM_HOST:$HOSTNAME", "MAIL_FROM": "root@localhost",
    "MAIL_TO": "root@localhost", "SMTP_SERVER": "127.0.0.1", "SMTP_PORT": 25, "SMTP_USER": "",
    "SMTP_PASS": "", "FENCE_ENABLED": 1, "FENCE_FILE_LOC": "/etc/ha-lizard/fence", "FENCE_HA_ONFAIL": 0,
    "FENCE_METHOD": "POOL", "FENCE_PASSWD": "", "FENCE_ACTION": "stop", "FENCE_REBOOT_LONE_HOST": 0,
    "FENCE_IPADDRESS": "", "FENCE_HOST_FORGET": 0, "FENCE_MIN_HOSTS": 2, "FENCE_QUORUM_REQUIRED": 1,
    "FENCE_USE_IP_HEURISTICS": 1, "FENCE_HEURISTICS_IPS": (), "MGT_LINK_LOSS_TOLERANCE": 5,
    "HOST_SELECT_METHOD": 0, "ENABLE_ALERTS": 1, "DISK_MONITOR": 1,
    # added for later issues
    "FENCE_USER": "", "VM_RESPECT_OPERATOR_STOP": 1, "VM_START_CONCURRENCY": 16,
}


@pytest.mark.parametrize("name,default", sorted(BEHAVIOUR_DEFAULTS.items()))
def test_every_parameter_with_its_real_default(name, default):
    param = schema.get_param(name)
    assert param.default == default
    assert not param.host_local_only
    # The default must pass its own validator.
    assert param.validator(param.default_text()) == default


def test_secrets_and_restart_flags():
    assert {p.name for p in schema.PARAMETERS.values() if p.secret} == {"SMTP_PASS", "FENCE_PASSWD", "WITNESS_SECRET"}
    assert {p.name for p in schema.PARAMETERS.values() if p.needs_restart} == {
        "MONITOR_DELAY", "MONITOR_MAX_STARTS", "MONITOR_SCANRATE", "MONITOR_KILLALL"}


def test_host_local_families():
    for fn in ("check_xapi", "fence_host", "write_status_report", "validate_this_host_vm_states"):
        for family in ("LOG_", "MAIL_", "PRIORITY_"):
            assert schema.get_param(family + fn).host_local_only
    assert schema.get_param("LOG_write_pool_state").default == 0
    assert schema.get_param("LOG_check_xapi").default == 1
    assert schema.get_param("PRIORITY_fence_host").default == 3
    assert schema.get_param("MAIL_SCREEN_TIME").default == 60
    assert schema.canonical_name("LOC_write_status_report") == "LOG_write_status_report"


@pytest.mark.parametrize("spelling", ["enable_logging", "ENABLE_LOGGING", "HA_ENABLE_LOGGING", "Enable_Logging"])
def test_names_are_case_insensitive(spelling):
    assert schema.get_param(spelling).name == "ENABLE_LOGGING"


def test_unknown_name():
    with pytest.raises(schema.UnknownParameter):
        schema.get_param("MONITOR_DELAYS")


@pytest.mark.parametrize("name,bad", [
    ("MONITOR_DELAY", "abc"), ("MONITOR_DELAY", "0"), ("MONITOR_DELAY", "-5"), ("MONITOR_KILLALL", "2"),
    ("OP_MODE", "3"), ("FENCE_ACTION", "explode"), ("FENCE_HEURISTICS_IPS", "127.0.0.1:999.1.1.1"),
    ("FENCE_HEURISTICS_IPS", "127.0.0.1:-bad-"), ("FENCE_IPADDRESS", "1.2.3"), ("MAIL_TO", "nobody"),
    ("SMTP_PORT", "70000"), ("DISABLED_VAPPS", "not-a-uuid"), ("FENCE_FILE_LOC", "relative/path"),
    ("FENCE_METHOD", "bad name!"), ("XC_FIELD_NAME", ""), ("MAIL_FROM", ""),
])
def test_validators_refuse_bad_values(name, bad):
    with pytest.raises(ValueError):
        schema.get_param(name).validator(bad)


@pytest.mark.parametrize("name,good,value", [
    ("FENCE_HEURISTICS_IPS", "127.0.0.1:127.0.0.2", ("127.0.0.1", "127.0.0.2")),
    ("FENCE_HEURISTICS_IPS", "", ()),
    ("FENCE_METHOD", "xvm", "XVM"), ("FENCE_METHOD", "my_agent", "my_agent"),
    ("FENCE_ACTION", "RESET", "reset"), ("OP_MODE", "1", 1),
    ("DISABLED_VAPPS", "0e4f6d0c-1111-2222-3333-444455556666", ("0e4f6d0c-1111-2222-3333-444455556666",)),
    ("MAIL_TO", "a@example.invalid,b@example.invalid", "a@example.invalid,b@example.invalid"),
    ("FENCE_IPADDRESS", "localhost", "localhost"),
])
def test_validators_accept(name, good, value):
    assert schema.get_param(name).validator(good) == value
