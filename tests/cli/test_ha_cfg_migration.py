"""Migration in place: a pool holding the old bash product's keys, exactly as it wrote
them, reads back identically and survives `set` with the old format intact."""
import json
import shutil
import subprocess

import pytest

from ha_cfg_run import pool_other_config as stored
from ha_cfg_run import run_ha_cfg as run

# The old installer's install.params as stored by `ha-cfg insert` of HA-Lizard 2.x (the
# heuristics address replaced by a loopback one: tests never name public addresses).
OLD_KEYS = {
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
    "HA_FENCE_HEURISTICS_IPS": "127.0.0.53", "HA_MGT_LINK_LOSS_TOLERANCE": "5",
    "HA_HOST_SELECT_METHOD": "0", "HA_ENABLE_ALERTS": "1", "HA_DISK_MONITOR": "1",
    "XenCenter.CustomFields.ha-lizard-enabled": "true",
}
NEW_IN_THIS_VERSION = {"FENCE_USER": "", "VM_RESPECT_OPERATOR_STOP": "1", "VM_START_CONCURRENCY": "16",
                       "VM_START_RETRY_BASE": "5", "VM_START_RETRY_CAP": "300", "VM_START_RETRY_ALERT_AFTER": "3",
                       "SELF_FENCE_STOP_TIMEOUT": "30", "SELF_FENCE_CHECK_INTERVAL": "1", "SELF_FENCE_WAIT": "0",
                       "SELF_FENCE_WATCHDOG": "0",
                       "WITNESS_ADDRESS": "", "WITNESS_SECRET": "", "WITNESS_LEASE": "4",
                       "FAILURES_TO_TOLERATE": "1", "METRICS_FILE": "", "PEER_PORT": "694"}


POOL = (2, 2)


@pytest.fixture(scope="module")
def old_pool(pool):
    session = pool.xenapi_session()
    ref = session.xenapi.pool.get_all()[0]
    for key in list(session.xenapi.pool.get_other_config(ref)):
        if key.startswith("HA_") or key.startswith("XenCenter."):
            session.xenapi.pool.remove_from_other_config(ref, key)
    for key, value in OLD_KEYS.items():
        session.xenapi.pool.add_to_other_config(ref, key, value)
    session.xenapi.session.logout()
    return pool


def bash_reads(pool_keys, names):
    """What the old product's reader gets: `NAME=value` lines sourced by bash."""
    lines = ["%s=%s" % (key[3:], value) for key, value in pool_keys.items() if key.startswith("HA_")]
    script = "\n".join(["HOSTNAME=oldhost"] + lines + ['printf "%s\\n" ' + " ".join('"$%s"' % n for n in names)])
    result = subprocess.run([shutil.which("bash"), "-c", script], stdout=subprocess.PIPE,
                            universal_newlines=True, timeout=10, check=True)
    return dict(zip(names, result.stdout.split("\n")))


def test_migration_reads_back_identically_and_survives_set(old_pool):
    # 1. Read back exactly as stored, on the master and on the slave.
    expected = sorted(["%s=%s" % (k[3:], v) for k, v in OLD_KEYS.items()
                       if k.startswith("HA_") and k != "HA_FENCE_LOG"]
                      + ["%s=%s" % item for item in NEW_IN_THIS_VERSION.items()])
    for host in ("host1", "host2"):
        status, out, err = run(old_pool, host, "get", "-l")
        assert status == 0, err
        assert out.splitlines() == expected
    status, out, _err = run(old_pool, "host2", "get", "--json")
    typed = json.loads(out)
    assert typed["XC_FIELD_NAME"] == "ha-lizard-enabled"
    assert typed["SMTP_PORT"] == 25
    assert typed["DISABLED_VAPPS"] == []
    assert typed["MAIL_SUBJECT"] == "SYSTEM_ALERT-FROM_HOST:host2"
    assert typed["FENCE_HEURISTICS_IPS"] == ["127.0.0.53"]
    assert run(old_pool, "host2", "ha-status")[1].strip() == "true"

    # 2. `set` changes exactly one key, in the old format; every other key byte-for-byte intact.
    for name, value, literal in [("monitor_delay", "30", "30"), ("smtp_port", "2525", '"2525"'),
                                 ("mail_from", "ha@example.invalid", '"ha@example.invalid"'),
                                 ("disabled_vapps", "0e4f6d0c-1111-2222-3333-444455556666",
                                  "(0e4f6d0c-1111-2222-3333-444455556666)"),
                                 ("mail_subject", "HA:$HOSTNAME", '"HA:$HOSTNAME"')]:
        before = stored(old_pool)
        status, _out, err = run(old_pool, "host2", "set", name, value)
        assert status == 0, err
        after = stored(old_pool)
        key = "HA_" + name.upper()
        assert after[key] == literal
        assert {k: v for k, v in after.items() if k != key} == {k: v for k, v in before.items() if k != key}
    assert stored(old_pool)["HA_FENCE_LOG"] == "/var/log/ha-lizard"

    # 3. The old product's reader (bash `source`) still parses what we wrote.
    seen = bash_reads(stored(old_pool), ["MONITOR_DELAY", "SMTP_PORT", "MAIL_FROM", "DISABLED_VAPPS",
                                          "MAIL_SUBJECT", "XC_FIELD_NAME"])
    assert seen == {"MONITOR_DELAY": "30", "SMTP_PORT": "2525", "MAIL_FROM": "ha@example.invalid",
                    "DISABLED_VAPPS": "0e4f6d0c-1111-2222-3333-444455556666", "MAIL_SUBJECT": "HA:oldhost",
                    "XC_FIELD_NAME": "ha-lizard-enabled"}
