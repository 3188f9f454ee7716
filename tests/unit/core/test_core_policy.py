import dataclasses

import pytest

from halizard.core.policy import Policy, PolicyError


def test_defaults_are_behaviour_md_defaults():
    p = Policy.from_mapping({})
    assert (p.OP_MODE, p.GLOBAL_VM_HA, p.XAPI_COUNT, p.XAPI_DELAY, p.FENCE_ENABLED) == (2, True, 2, 10.0, True)
    assert (p.FENCE_ACTION, p.FENCE_MIN_HOSTS, p.MGT_LINK_LOSS_TOLERANCE, p.HOST_SELECT_METHOD) == ("stop", 2, 5.0, 0)
    assert p.FENCE_HEURISTICS_IPS == () and not p.heuristics_configured
    assert p.VM_RESPECT_OPERATOR_STOP and p.VM_START_CONCURRENCY == 16


@pytest.mark.parametrize("raw,expected", [
    ({"OP_MODE": "1"}, ("OP_MODE", 1)),
    ({"OP_MODE": '"1"'}, ("OP_MODE", 1)),
    ({"GLOBAL_VM_HA": "0"}, ("GLOBAL_VM_HA", False)),
    ({"GLOBAL_VM_HA": 1}, ("GLOBAL_VM_HA", True)),
    ({"XAPI_DELAY": "3"}, ("XAPI_DELAY", 3.0)),
    ({"XC_FIELD_NAME": "'ha-lizard-enabled'"}, ("XC_FIELD_NAME", "ha-lizard-enabled")),
    ({"DISABLED_VAPPS": "()"}, ("DISABLED_VAPPS", ())),
    ({"DISABLED_VAPPS": "(a:b)"}, ("DISABLED_VAPPS", ("a", "b"))),
    ({"FENCE_HEURISTICS_IPS": "127.0.0.1:127.0.0.2"}, ("FENCE_HEURISTICS_IPS", ("127.0.0.1", "127.0.0.2"))),
    ({"FENCE_HEURISTICS_IPS": ["127.0.0.1"]}, ("FENCE_HEURISTICS_IPS", ("127.0.0.1",))),
    ({"FENCE_HEURISTICS_IPS": ""}, ("FENCE_HEURISTICS_IPS", ())),
])
def test_old_literal_and_typed_values(raw, expected):
    p = Policy.from_mapping(raw)
    assert getattr(p, expected[0]) == expected[1]


def test_unknown_names_are_ignored():
    assert Policy.from_mapping({"LOG_check_vm": "1", "MAIL_ON": "0"}) == Policy()


@pytest.mark.parametrize("raw,needle", [
    ({"OP_MODE": "3"}, "OP_MODE"),
    ({"OP_MODE": "x"}, "OP_MODE"),
    ({"GLOBAL_VM_HA": "yes"}, "GLOBAL_VM_HA"),
    ({"GLOBAL_VM_HA": 2}, "GLOBAL_VM_HA"),
    ({"XAPI_COUNT": "0"}, "XAPI_COUNT"),
    ({"XAPI_DELAY": "-1"}, "XAPI_DELAY"),
    ({"XAPI_DELAY": "nan"}, "XAPI_DELAY"),
    ({"FENCE_ACTION": "off"}, "FENCE_ACTION"),
    ({"HOST_SELECT_METHOD": "2"}, "HOST_SELECT_METHOD"),
    ({"MGT_LINK_LOSS_TOLERANCE": "-5"}, "MGT_LINK_LOSS_TOLERANCE"),
    ({"XAPI_COUNT": True}, "XAPI_COUNT"),
    ({"VM_START_RETRY_CAP": "1"}, "VM_START_RETRY_CAP"),
])
def test_bad_values_name_the_parameter(raw, needle):
    with pytest.raises(PolicyError) as err:
        Policy.from_mapping(raw)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_policy_is_frozen():
    p = Policy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.OP_MODE = 1  # type: ignore[misc]


def test_defaults_agree_with_the_config_schema():
    """The core and the schema must not disagree on a default both know."""
    from halizard.config import schema

    core = Policy()
    checked = 0
    for name in Policy.__dataclass_fields__:
        try:
            param = schema.get_param(name)
        except Exception:
            continue
        value = Policy.from_mapping({name: param.default})
        assert getattr(value, name) == getattr(core, name), name
        checked += 1
    assert checked >= 20
