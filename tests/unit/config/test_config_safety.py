"""The parameters the core reads exist in the schema with the core's defaults; every alert/log
function has its switches; an unsafe timing combination is refused when the configuration loads."""
import dataclasses
import os
import re

import pytest

from halizard.config import effective, schema
from halizard.core import timing
from halizard.core.policy import Policy

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")
NEW = {"SELF_FENCE_STOP_TIMEOUT": 30, "SELF_FENCE_CHECK_INTERVAL": 1, "SELF_FENCE_WAIT": 0,
       "VM_START_RETRY_BASE": 5, "VM_START_RETRY_CAP": 300, "VM_START_RETRY_ALERT_AFTER": 3}


def test_every_policy_field_is_a_pool_parameter_with_the_same_default():
    for field in dataclasses.fields(Policy):
        param = schema.get_param(field.name)
        assert not param.host_local_only, field.name
        if field.name in NEW:
            assert param.default == NEW[field.name] == field.default, field.name
    built = effective.build_effective({}, {}, "h").policy()
    assert built == Policy()


def test_new_parameters_reach_the_policy_from_pool_literals():
    pool = {"HA_SELF_FENCE_STOP_TIMEOUT": "45", "HA_SELF_FENCE_WAIT": "400", "HA_VM_START_RETRY_BASE": "2",
            "HA_VM_START_RETRY_CAP": "60", "HA_VM_START_RETRY_ALERT_AFTER": "5",
            "HA_SELF_FENCE_CHECK_INTERVAL": "2"}
    policy = effective.build_effective(pool, {}, "h").policy()
    assert (policy.SELF_FENCE_STOP_TIMEOUT, policy.SELF_FENCE_WAIT, policy.VM_START_RETRY_BASE,
            policy.VM_START_RETRY_CAP, policy.VM_START_RETRY_ALERT_AFTER, policy.SELF_FENCE_CHECK_INTERVAL) == \
        (45, 400, 2, 60, 5, 2)


def _function_names_in_code():
    pattern = re.compile(r'(?:function=|FUNCTION\s*=\s*|raise_alert\(\s*)"([a-z][a-z0-9_]*)"')
    names = set()
    for folder, _dirs, files in os.walk(os.path.join(ROOT, "halizard")):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    names.update(pattern.findall(handle.read()))
    return names


def test_every_function_named_in_code_has_log_mail_priority_switches():
    names = _function_names_in_code()
    assert {"disk_monitor", "suspended_ha", "monitor", "fence_host"} <= names
    missing = sorted(n for n in names if n not in schema.FUNCTIONS)
    assert missing == []
    for name in ("disk_monitor", "suspended_ha", "monitor", "alert_spool"):
        for family in ("LOG_", "MAIL_", "PRIORITY_"):
            assert schema.get_param(family + name).host_local_only


def test_unsafe_self_fence_wait_is_refused_at_load_with_the_reason():
    minimum = timing.minimum_wait(Policy())
    config = effective.build_effective({"HA_SELF_FENCE_WAIT": str(int(minimum))}, {}, "h")
    assert "SELF_FENCE_WAIT=%g" % int(minimum) in config.unsafe
    assert any("HA will not act" in p and "SELF_FENCE_WAIT" in p for p in config.problems)
    with pytest.raises(effective.UnsafeConfig) as info:
        config.policy()
    assert "set it above %g" % minimum in str(info.value)
    safe = effective.build_effective({"HA_SELF_FENCE_WAIT": str(int(minimum) + 1)}, {}, "h")
    assert safe.unsafe is None and safe.problems == []
    assert safe.policy().SELF_FENCE_WAIT == int(minimum) + 1


def test_a_faster_probe_setting_does_not_make_a_long_wait_unsafe_but_a_slower_one_can():
    pool = {"HA_SELF_FENCE_WAIT": "180"}
    assert effective.build_effective(pool, {}, "h").unsafe is None
    slower = dict(pool, HA_XE_TIMEOUT="20")
    assert "SELF_FENCE_WAIT=180" in effective.build_effective(slower, {}, "h").unsafe


def test_retry_cap_below_base_is_unsafe():
    config = effective.build_effective({"HA_VM_START_RETRY_BASE": "60", "HA_VM_START_RETRY_CAP": "30"}, {}, "h")
    assert "VM_START_RETRY_CAP" in config.unsafe


def test_override_file_can_make_this_host_unsafe(tmp_path):
    from halizard.config import override

    path = tmp_path / "etc/ha-lizard/ha-lizard.conf"
    path.parent.mkdir(parents=True)
    path.write_text("SELF_FENCE_WAIT=10\n")
    settings = override.load_override(str(tmp_path))
    config = effective.build_effective({}, settings, "h")
    assert config.source("SELF_FENCE_WAIT") == "override" and "SELF_FENCE_WAIT=10" in config.unsafe


def test_generated_reference_documents_the_new_parameters():
    from halizard.config import docgen

    outputs = dict(docgen.outputs())
    for name in NEW:
        assert "`%s`" % name in outputs[docgen.DOC_PATH]
        assert "#%s=" % name in outputs[docgen.CONF_PATH]
    for rel, text in outputs.items():
        with open(os.path.join(ROOT, rel), encoding="utf-8") as handle:
            assert handle.read() == text, "%s is stale: run scripts/gen-config-doc" % rel
