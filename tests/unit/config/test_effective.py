"""Merging defaults < pool < override, with provenance; caches; last good override."""
import os
import stat

import pytest

from halizard.config import cache, effective, schema

# The old bash product's keys exactly as its installer wrote them (install.params).
OLD_POOL = {
    "HA_MONITOR_MAX_STARTS": "20", "HA_MONITOR_DELAY": "15", "HA_MONITOR_KILLALL": "1",
    "HA_MONITOR_SCANRATE": "10", "HA_XC_FIELD_NAME": "'ha-lizard-enabled'", "HA_XE_TIMEOUT": "10",
    "HA_OP_MODE": "2", "HA_GLOBAL_VM_HA": "1", "HA_ENABLE_LOGGING": "1", "HA_DISABLED_VAPPS": "()",
    "HA_XAPI_COUNT": "2", "HA_XAPI_DELAY": "10", "HA_SLAVE_HA": "1", "HA_PROMOTE_SLAVE": "1",
    "HA_SLAVE_VM_STAT": "0", "HA_MAIL_ON": "1", "HA_MAIL_SUBJECT": '"SYSTEM_ALERT-FROM_HOST:$HOSTNAME"',
    "HA_MAIL_FROM": '"root@localhost"', "HA_MAIL_TO": '"root@localhost"', "HA_SMTP_SERVER": '"127.0.0.1"',
    "HA_SMTP_PORT": '"25"', "HA_SMTP_USER": '""', "HA_SMTP_PASS": '""', "HA_FENCE_ENABLED": "1",
    "HA_FENCE_FILE_LOC": "/usr/libexec/ha-lizard/fence", "HA_FENCE_LOG": "/var/log/ha-lizard",
    "HA_FENCE_HA_ONFAIL": "0", "HA_FENCE_METHOD": "POOL", "HA_FENCE_PASSWD": "", "HA_FENCE_ACTION": "stop",
    "HA_FENCE_REBOOT_LONE_HOST": "0", "HA_FENCE_IPADDRESS": "", "HA_FENCE_HOST_FORGET": "0",
    "HA_FENCE_MIN_HOSTS": "2", "HA_FENCE_QUORUM_REQUIRED": "1", "HA_FENCE_USE_IP_HEURISTICS": "1",
    "HA_FENCE_HEURISTICS_IPS": "127.0.0.53", "HA_MGT_LINK_LOSS_TOLERANCE": "5", "HA_HOST_SELECT_METHOD": "0",
    "HA_ENABLE_ALERTS": "1", "HA_DISK_MONITOR": "1",
    "XenCenter.CustomFields.ha-lizard-enabled": "true",
}


def test_old_pool_reads_as_typed_values_from_the_pool():
    config = effective.build_effective(OLD_POOL, hostname="host7")
    assert config.problems == []
    assert config.get("XC_FIELD_NAME") == "ha-lizard-enabled"
    assert config.raw("XC_FIELD_NAME") == "'ha-lizard-enabled'"
    assert config.get("MAIL_SUBJECT") == "SYSTEM_ALERT-FROM_HOST:host7"
    assert config.get("SMTP_PORT") == 25
    assert config.get("DISABLED_VAPPS") == ()
    assert config.get("FENCE_HEURISTICS_IPS") == ("127.0.0.53",)
    assert config.get("FENCE_FILE_LOC") == "/usr/libexec/ha-lizard/fence"
    assert config.source("MONITOR_DELAY") == "pool"
    assert config.source("FENCE_USER") == "default"
    assert config.source("LOG_check_xapi") == "default"
    assert config.pool_ha_state() == "true"
    assert config.xc_field_key == "XenCenter.CustomFields.ha-lizard-enabled"


def test_override_beats_pool_and_defaults_fill_the_rest():
    from halizard.config.override import parse_override
    settings = parse_override('SLAVE_VM_STAT=1\nMAIL_SUBJECT="Alert on $HOSTNAME"\nLOG_vm_mon=0\n'
                              "MAIL_fence_host=0\nPRIORITY_fence_host=1\n")
    config = effective.build_effective({"HA_SLAVE_VM_STAT": "0", "HA_MONITOR_DELAY": "30"}, settings,
                                       hostname="h2")
    assert config.get("SLAVE_VM_STAT") == 1 and config.source("SLAVE_VM_STAT") == "override"
    assert config.get("MONITOR_DELAY") == 30 and config.source("MONITOR_DELAY") == "pool"
    assert config.get("XAPI_COUNT") == 2 and config.source("XAPI_COUNT") == "default"
    assert config.get("MAIL_SUBJECT") == "Alert on h2"
    assert config.function_enabled("LOG", "vm_mon") is False
    assert config.function_enabled("LOG", "check_xapi") is True
    assert config.function_enabled("MAIL", "fence_host") is False
    assert config.function_enabled("LOG", "some_new_job") is True
    assert config.priority("fence_host") == 1
    assert config.priority("check_xapi") == 3
    assert config.priority("unknown_function") == 3
    names = [name for name, _value, _source in config.items()]
    assert names == list(schema.PARAMETERS)


def test_global_switches_turn_whole_kinds_off():
    config = effective.build_effective({"HA_ENABLE_LOGGING": "0", "HA_MAIL_ON": "0"}, hostname="h")
    assert not config.function_enabled("LOG", "check_xapi")
    assert not config.function_enabled("MAIL", "check_xapi")
    with pytest.raises(ValueError):
        config.function_enabled("SMS", "x")


def test_invalid_pool_value_falls_back_to_default_with_a_problem():
    config = effective.build_effective({"HA_MONITOR_DELAY": "soon", "XenCenter.CustomFields.ha-lizard-enabled": "yes"},
                                       hostname="h")
    assert config.get("MONITOR_DELAY") == 15
    assert config.source("MONITOR_DELAY") == "default"
    assert any("HA_MONITOR_DELAY" in p for p in config.problems)
    assert config.pool_ha_state() == "invalid"


def test_custom_field_name_moves_the_ha_key():
    config = effective.build_effective({"HA_XC_FIELD_NAME": "'my-ha'", "XenCenter.CustomFields.my-ha": "false"},
                                       hostname="h")
    assert config.pool_ha_state() == "false"


def _write_override(root, text):
    path = os.path.join(root, "etc/ha-lizard/ha-lizard.conf")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def test_bad_override_keeps_the_last_good_values(tmp_path):
    root = str(tmp_path)
    _write_override(root, "SLAVE_VM_STAT=1\nXAPI_COUNT=5\n")
    good = effective.effective_with_pool(root, {})
    assert good.get("XAPI_COUNT") == 5 and good.override_error is None
    _write_override(root, "SLAVE_VM_STAT=1\nXAPI_COUNT=five\n")
    bad = effective.effective_with_pool(root, {})
    assert "line 2" in bad.override_error and "XAPI_COUNT" in bad.override_error
    assert bad.get("XAPI_COUNT") == 5
    assert bad.source("XAPI_COUNT") == "override"
    assert bad.get("SLAVE_VM_STAT") == 1


def test_bad_override_without_history_uses_pool_and_defaults(tmp_path):
    root = str(tmp_path)
    _write_override(root, "XAPI_COUNT=\n")
    config = effective.effective_with_pool(root, {"HA_XAPI_COUNT": "4"})
    assert config.override_error and "line 1" in config.override_error
    assert config.get("XAPI_COUNT") == 4


def test_pool_cache_round_trip_is_atomic_and_private(tmp_path):
    root = str(tmp_path)
    effective.save_pool_cache(root, "pool-uuid", dict(OLD_POOL, unrelated="x"))
    pool_uuid, other = effective.cached_pool(root)
    assert pool_uuid == "pool-uuid"
    assert other == OLD_POOL
    path = cache.state_path(root, effective.POOL_CACHE)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    leftovers = [n for n in os.listdir(os.path.dirname(path)) if n.startswith(".")]
    assert leftovers == []


def test_pool_cache_is_rewritten_only_when_the_pool_values_change(tmp_path):
    # every live read stores the pool's values; the same values again leave the file as it is (issue 16: the
    # self_fence loop rebuilds its configuration whenever this file changes)
    root = str(tmp_path)
    path = cache.state_path(root, effective.POOL_CACHE)
    effective.save_pool_cache(root, "pool-uuid", dict(OLD_POOL, unrelated="x"))
    first = os.stat(path)
    effective.save_pool_cache(root, "pool-uuid", dict(OLD_POOL, unrelated="y"))   # not an HA_ key
    again = os.stat(path)
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    effective.save_pool_cache(root, "pool-uuid", dict(OLD_POOL, HA_MONITOR_DELAY="20"))
    assert os.stat(path).st_ino != first.st_ino
    assert effective.cached_pool(root)[1]["HA_MONITOR_DELAY"] == "20"
    effective.save_pool_cache(root, "other-pool", dict(OLD_POOL, HA_MONITOR_DELAY="20"))
    assert effective.cached_pool(root)[0] == "other-pool"


def test_corrupt_cache_is_ignored(tmp_path):
    root = str(tmp_path)
    path = cache.state_path(root, effective.POOL_CACHE)
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        handle.write("{not json")
    assert effective.cached_pool(root) == (None, None)


def test_local_xe_timeout_prefers_override_then_cache(tmp_path):
    root = str(tmp_path)
    assert effective.local_xe_timeout(root) == 10
    effective.save_pool_cache(root, "p", {"HA_XE_TIMEOUT": "7"})
    assert effective.local_xe_timeout(root) == 7
    _write_override(root, "XE_TIMEOUT=3\n")
    assert effective.local_xe_timeout(root) == 3


def test_hostname_of_a_simulated_host(tmp_path):
    root = str(tmp_path)
    os.makedirs(os.path.join(root, "etc/ha-lizard"))
    with open(os.path.join(root, "etc/ha-lizard/sim-host.json"), "w") as handle:
        handle.write('{"name_label": "host3"}')
    assert effective.local_hostname(root) == "host3"
