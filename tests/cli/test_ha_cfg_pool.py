"""ha-cfg against a simulated pool: every pool-parameter subcommand, on the master's
root and on a slave's root, and every bad input leaving the pool's keys unchanged."""
import os
import stat
import subprocess
import sys

import pytest

from ha_cfg_run import pool_other_config
from ha_cfg_run import run_ha_cfg as run

POOL = (3, 4)
ROLES = ["host1", "host2"]   # host1 is the master, host2 a slave


def root_of(pool, name):
    return pool.host(name)["root"]


def ha_keys(pool):
    return {k: v for k, v in pool_other_config(pool).items()
            if k.startswith("HA_") or k.startswith("XenCenter.")}


@pytest.fixture
def fresh(pool):
    """Start each test from inserted defaults."""
    run(pool, "host1", "remove")
    status, _out, err = run(pool, "host1", "insert")
    assert status == 0, err
    return pool


@pytest.mark.parametrize("host", ROLES)
def test_insert_get_set_on_master_and_slave(fresh, host):
    status, out, _err = run(fresh, host, "get", "-l")
    assert status == 0
    lines = out.splitlines()
    assert "XC_FIELD_NAME='ha-lizard-enabled'" in lines
    assert "DISABLED_VAPPS=()" in lines
    assert 'MAIL_SUBJECT="SYSTEM_ALERT-FROM_HOST:$HOSTNAME"' in lines
    assert "FENCE_HEURISTICS_IPS=" in lines
    assert lines == sorted(lines)

    status, out, err = run(fresh, host, "set", "xapi_count", "4")
    assert status == 0, err
    assert "Successfully updated XAPI_COUNT to value: 4" in out
    assert ha_keys(fresh)["HA_XAPI_COUNT"] == "4"

    status, out, _err = run(fresh, host, "get", "--json")
    assert status == 0
    import json
    data = json.loads(out)
    assert data["XAPI_COUNT"] == 4
    assert data["FENCE_HEURISTICS_IPS"] == []

    status, out, _err = run(fresh, host, "get")
    assert status == 0 and "XAPI_COUNT" in out and "PARAMETER" in out


def test_insert_keeps_existing_values_and_remove_erases(fresh):
    run(fresh, "host1", "set", "monitor_delay", "33")
    status, out, _err = run(fresh, "host2", "insert")
    assert status == 0 and "nothing inserted" in out
    assert ha_keys(fresh)["HA_MONITOR_DELAY"] == "33"
    status, out, _err = run(fresh, "host2", "remove")
    assert status == 0 and "Removing HA_MONITOR_DELAY=33" in out
    assert not [k for k in pool_other_config(fresh) if k.startswith("HA_")]


def test_set_secret_is_masked_everywhere(fresh, tmp_path):
    status, out, _err = run(fresh, "host2", "set", "smtp_pass", "-", stdin="s3cr3t!\n")
    assert status == 0 and "s3cr3t" not in out and "********" in out
    assert ha_keys(fresh)["HA_SMTP_PASS"] == '"s3cr3t!"'
    for args in (["get"], ["get", "-l"], ["get", "--json"], ["get", "--effective"], ["status", "--json"]):
        status, out, err = run(fresh, "host2", *args)
        assert "s3cr3t" not in out + err, args
    backup = tmp_path / "plain.cfg"
    assert run(fresh, "host2", "backup", str(backup))[0] == 0
    assert "s3cr3t" not in backup.read_text() and "SMTP_PASS" in backup.read_text()
    assert stat.S_IMODE(os.stat(str(backup)).st_mode) == 0o600
    full = tmp_path / "full.cfg"
    assert run(fresh, "host2", "backup", "--include-secrets", str(full))[0] == 0
    assert 'SMTP_PASS="s3cr3t!"' in full.read_text().splitlines()
    assert stat.S_IMODE(os.stat(str(full)).st_mode) == 0o600


@pytest.mark.parametrize("host", ROLES)
def test_backup_restore_round_trip(fresh, host, tmp_path):
    run(fresh, host, "set", "fence_heuristics_ips", "127.0.0.1:127.0.0.2")
    run(fresh, host, "set", "mail_to", "ops@example.invalid")
    backup = tmp_path / "pool.cfg"
    assert run(fresh, host, "backup", "--include-secrets", str(backup))[0] == 0
    saved = ha_keys(fresh)
    run(fresh, host, "set", "fence_heuristics_ips", "127.0.0.9")
    run(fresh, host, "set", "mail_to", "other@example.invalid")
    status, out, err = run(fresh, host, "restore", str(backup))
    assert status == 0, err
    assert "(2 changed)" in out
    assert ha_keys(fresh) == saved


def test_restore_default(fresh):
    run(fresh, "host1", "set", "monitor_delay", "40")
    run(fresh, "host1", "set", "smtp_port", "2525")
    before = ha_keys(fresh)
    status, _out, err = run(fresh, "host1", "restore-default")
    assert status == 2 and "--yes" in err
    assert ha_keys(fresh) == before
    status, out, err = run(fresh, "host2", "restore-default", "--yes")
    assert status == 0, err
    keys = ha_keys(fresh)
    assert keys["HA_MONITOR_DELAY"] == "15"
    assert keys["HA_SMTP_PORT"] == '"25"'
    assert "MONITOR_DELAY" in out   # the restart notice


@pytest.mark.parametrize("host", ROLES)
def test_ha_enable_disable_status(fresh, host):
    assert run(fresh, host, "ha-enable")[0] == 0
    assert run(fresh, host, "ha-status")[1].strip() == "true"
    status, out, _err = run(fresh, host, "status")
    assert status == 0
    assert "Pool HA Status: ENABLED" in out
    assert "Host Role:         %s" % ("master" if host == "host1" else "slave") in out
    assert "Daemon Status:     not running" in out
    assert run(fresh, host, "ha-disable")[0] == 0
    assert run(fresh, host, "ha-status")[1].strip() == "false"
    # --yes answers the old tool's toggle question
    status, out, _err = run(fresh, host, "status", "--yes")
    assert status == 0 and "enabled" in out
    assert ha_keys(fresh)["XenCenter.CustomFields.ha-lizard-enabled"] == "true"
    import json
    status, out, _err = run(fresh, host, "status", "--json")
    data = json.loads(out)
    assert data["ha_state"] == "true" and data["role"] in ("master", "slave")
    assert data["pool_uuid"] and data["master_uuid"] and data["host_uuid"]


def test_invalid_pool_ha_field_is_reported(fresh):
    session = fresh.xenapi_session()
    ref = session.xenapi.pool.get_all()[0]
    key = "XenCenter.CustomFields.ha-lizard-enabled"
    session.xenapi.pool.remove_from_other_config(ref, key)
    session.xenapi.pool.add_to_other_config(ref, key, "ture")
    status, out, err = run(fresh, "host2", "status")
    assert status == 0 and "INVALID" in out and "'ture'" in out
    status, out, err = run(fresh, "host2", "ha-status")
    assert out.strip() == "invalid" and "ture" in err


BAD_INPUTS = [
    (["set", "no_such_param", "1"], 1, "unknown parameter no_such_param"),
    (["set", "monitor_delay", "soon"], 1, "not a whole number"),
    (["set", "monitor_delay", "0"], 1, "below the minimum"),
    (["set", "op_mode", "3"], 1, "not one of 1, 2"),
    (["set", "fence_heuristics_ips", "127.0.0.1:300.0.0.1"], 1, "'300.0.0.1'"),
    (["set", "mail_subject", "two words"], 1, "spaces"),
    (["set", "smtp_pass", "a;b"], 1, "';'"),
    (["set", "log_check_xapi", "0"], 1, "host-local"),
    (["set", "mail_from", "nobody"], 1, "mail address"),
    (["set-vm-ha", "vm001", "ture"], 1, "must be true or false"),
    (["set-vm-ha", "no-such-vm", "true"], 1, "no VM is named"),
    (["set"], 2, "NAME"),
    (["set", "monitor_delay"], 1, "a value is required"),
    (["set", "smtp_pass", '"unbalanced'], 1, "not shown"),
    (["frobnicate"], 2, "invalid choice"),
    (["get", "monitor_delays"], 1, "unknown parameter"),
]


@pytest.mark.parametrize("argv,code,fragment", BAD_INPUTS)
@pytest.mark.parametrize("host", ROLES)
def test_bad_input_changes_nothing(inserted, host, argv, code, fragment):
    before = pool_other_config(inserted)
    status, _out, err = run(inserted, host, *argv)
    assert status == code
    assert fragment in err
    assert len(err.strip().splitlines()) == 1, err
    assert pool_other_config(inserted) == before
    assert "unbalanced" not in err


GARBAGE_BACKUPS = [
    ("MONITOR_DELAY=20\nthis is garbage\n", "line 2"),
    ("MONITOR_DELAY=20\nNO_SUCH=1\n", "unknown parameter NO_SUCH"),
    ("MONITOR_DELAY=20\nXAPI_COUNT=lots\n", "XAPI_COUNT"),
    ("MONITOR_DELAY=20\nMONITOR_DELAY=30\n", "twice"),
    ("MONITOR_DELAY=20\nLOG_check_xapi=0\n", "host-local"),
    ("MONITOR_DELAY=$(reboot)\n", "MONITOR_DELAY"),
    ("# only a comment\n", "no parameters"),
    ("MONITOR_DELAY=20\nSMTP_PASS=\"hunter2\n", "not shown"),
]


@pytest.mark.parametrize("text,fragment", GARBAGE_BACKUPS)
def test_restore_rejects_the_whole_file(inserted, tmp_path, text, fragment):
    before = pool_other_config(inserted)
    bad = tmp_path / "bad.cfg"
    bad.write_text(text)
    status, _out, err = run(inserted, "host2", "restore", str(bad))
    assert status == 1
    assert fragment in err and "nothing restored" in err
    assert "hunter2" not in err
    assert pool_other_config(inserted) == before


def test_restore_an_old_product_backup(fresh, tmp_path):
    """`ha-cfg backup` of HA-Lizard 2.x: NAME=literal lines, with keys we no longer use."""
    old = tmp_path / "old-backup"
    old.write_text("DISABLED_VAPPS=()\nFENCE_LOG=/var/log/ha-lizard\nMAIL_FROM=\"ops@example.invalid\"\n"
                   "XC_FIELD_NAME='ha-lizard-enabled'\nHA_XAPI_DELAY=12\n")
    status, out, err = run(fresh, "host2", "restore", str(old))
    assert status == 0, err
    assert "FENCE_LOG" in err and "Restored 4 parameters" in out
    keys = ha_keys(fresh)
    assert keys["HA_MAIL_FROM"] == '"ops@example.invalid"' and keys["HA_XAPI_DELAY"] == "12"
    assert "HA_FENCE_LOG" not in keys


def test_missing_files_and_directories(fresh, tmp_path):
    status, _out, err = run(fresh, "host1", "restore", str(tmp_path / "absent.cfg"))
    assert status == 1 and "cannot read" in err
    status, _out, err = run(fresh, "host1", "backup", str(tmp_path / "no" / "dir.cfg"))
    assert status == 1 and "directory does not exist" in err


def test_console_script_runs_as_a_slave(fresh):
    """The installed `ha-cfg` command itself (HALIZARD_ROOT instead of --root)."""
    script = os.path.join(os.path.dirname(sys.executable), "ha-cfg")
    env = dict(os.environ, HALIZARD_ROOT=root_of(fresh, "host3"))
    result = subprocess.run([script, "get", "-l", "MONITOR_DELAY"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=60, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "MONITOR_DELAY=15\n"


@pytest.mark.parametrize("name,content,expected", [
    ("suspended.json", "true", True), ("suspended.json", '{"suspended": true, "since": 1}', True),
    ("suspended.json", "false", False), ("suspended.json", '{"suspended": false}', False),
    ("fenced_slave", "", True), (None, None, False),
])
def test_suspension_notice(inserted, name, content, expected):
    state_dir = os.path.join(root_of(inserted, "host2"), "var/lib/ha-lizard")
    path = os.path.join(state_dir, name) if name else None
    if path:
        with open(path, "w") as handle:
            handle.write(content)
    try:
        status, out, _err = run(inserted, "host2", "status")
        assert status == 0
        assert ("HA operation has been suspended" in out) is expected
        status, out, _err = run(inserted, "host2", "status", "--json")
        import json
        assert json.loads(out)["suspended"] is expected
    finally:
        if path:
            os.unlink(path)


def test_renaming_the_field_keeps_pool_ha(fresh):
    assert run(fresh, "host1", "ha-enable")[0] == 0
    status, _out, err = run(fresh, "host2", "set", "xc_field_name", "my-ha")
    assert status == 0 and "XenCenter.CustomFields.my-ha" in err
    keys = ha_keys(fresh)
    assert keys["HA_XC_FIELD_NAME"] == "'my-ha'"
    assert keys["XenCenter.CustomFields.my-ha"] == "true"
    assert run(fresh, "host2", "ha-status")[1].strip() == "true"
    assert run(fresh, "host2", "set", "xc_field_name", "ha-lizard-enabled")[0] == 0


def test_get_shows_pool_values_not_overrides_and_flags_invalid_ones(fresh):
    import json
    root = root_of(fresh, "host2")
    conf = os.path.join(root, "etc/ha-lizard/ha-lizard.conf")
    with open(conf, "w") as handle:
        handle.write("XAPI_COUNT=9\n")
    session = fresh.xenapi_session()
    ref = session.xenapi.pool.get_all()[0]
    session.xenapi.pool.remove_from_other_config(ref, "HA_MONITOR_DELAY")
    session.xenapi.pool.add_to_other_config(ref, "HA_MONITOR_DELAY", "soon")
    session.xenapi.pool.add_to_other_config(ref, "HA_SOMETHING_OLD", "x")
    session.xenapi.session.logout()
    try:
        status, out, err = run(fresh, "host2", "get", "--json")
        data = json.loads(out)
        assert data["XAPI_COUNT"] == 2 and data["MONITOR_DELAY"] == 15
        assert "HA_MONITOR_DELAY" in err
        status, out, err = run(fresh, "host2", "get")
        row = [line for line in out.splitlines() if line.startswith("MONITOR_DELAY ")][0]
        assert "soon" in row and "INVALID" in row
        assert "SOMETHING_OLD" in out and "not used" in out
        status, out, err = run(fresh, "host2", "get", "--effective", "--json")
        assert json.loads(out)["XAPI_COUNT"] == {"value": 9, "source": "override"}
    finally:
        os.unlink(conf)
        session = fresh.xenapi_session()
        session.xenapi.pool.remove_from_other_config(session.xenapi.pool.get_all()[0], "HA_SOMETHING_OLD")
        session.xenapi.session.logout()
