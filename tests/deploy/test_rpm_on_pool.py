"""The RPM's installed tools, run by Python 3.6 from a scratch root, against a simulated pool.

What a dom0 does after `yum install`: the scriptlets (against fake systemctl /
chkconfig, over a pool that already holds an HA-Lizard 2.x configuration),
`ha-cfg insert/get/set`, and the installed service restarting a crashed VM.
The pool is the simulator of the repository (`ha-lizard sim up`); everything of
ha-lizard itself comes from the RPM. The tools reach their host's xapi as on a
dom0: through the host root's local socket (`<root>/var/lib/xcp/xapi`, no
password on disk).
"""
import os
import signal
import stat
import subprocess
import sys

import pytest

import rpmroot

sys.path.insert(0, os.path.join(rpmroot.REPO, "tests", "scenarios"))
import harness  # noqa: E402

VM_JOBS = {"replace": True, "jobs": {
    "vm_monitor": {"target": "halizard.jobs.vm_monitor:run"},
    "vm_events": {"target": "halizard.jobs.vm_events:run", "period": 30, "deadline": 130},
    "zombies": {"target": "halizard.jobs.zombies:run"},
}}
LEGACY_KEY = "HA_FROM_AN_OLDER_RELEASE"  # a key 3.x does not know: insert must leave it too


@pytest.fixture
def rpm_tools(installed, monkeypatch, request):
    """The harness runs the RPM's launchers with Python X.Y (the test's `version`), not the repository's modules."""
    py = rpmroot.python(request.node.callspec.params["version"])
    monkeypatch.setattr(harness.base, "ha_lizard_command", lambda: [py, os.path.join(installed, "usr/bin/ha-lizard")])
    monkeypatch.setattr(harness.base, "ha_cfg_command", lambda: [py, os.path.join(installed, "usr/bin/ha-cfg")])
    original = harness.Scenario.env_for

    def env_for(self, name):
        env = original(self, name)
        env.pop("PYTHONPATH", None)  # the harness lends the repository's code; the RPM must do without
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # the .pyc files show which code ran
        return env

    monkeypatch.setattr(harness.Scenario, "env_for", env_for)
    return installed


def pool_other_config(sc):
    return sc.xapi(lambda x: x.pool.get_other_config(x.pool.get_all()[0]))


def ha_keys(other):
    return {key: value for key, value in other.items() if key.startswith("HA_")}


@pytest.mark.parametrize("version", ["3.6", "3.11"])
def test_installed_ha_cfg_insert_get_set(scenario, installed, version):
    sc = scenario(hosts=2, vms=2, ha_enabled=False)
    root = sc.host_root("host1")

    def ha_cfg(*args):
        result = rpmroot.run_tool(installed, "ha-cfg", ["--root", root] + list(args), version=version)
        assert result.returncode == 0, result.stderr
        return result.stdout

    # as on a dom0: this host's xapi socket, and no password file for the tools to use
    assert stat.S_ISSOCK(os.stat(os.path.join(root, "var/lib/xcp/xapi")).st_mode)
    assert not os.path.exists(os.path.join(root, "etc/ha-lizard/xapi-credentials"))
    before = ha_keys(pool_other_config(sc))
    inserted = ha_cfg("insert")
    after = ha_keys(pool_other_config(sc))
    assert {k: after[k] for k in before} == before  # the scenario's MONITOR_DELAY etc. stay as they were
    assert len(after) > len(before) + 30 and "Inserting HA_FENCE_METHOD=" in inserted
    assert "nothing inserted" in ha_cfg("insert")
    assert "MONITOR_DELAY=%d" % harness.DEFAULT_CONFIG["MONITOR_DELAY"] in ha_cfg("get", "-l").splitlines()
    ha_cfg("set", "XAPI_COUNT", "4")
    assert ha_cfg("get", "-l", "XAPI_COUNT").strip() == "XAPI_COUNT=4"
    assert pool_other_config(sc)["HA_XAPI_COUNT"] == "4"


@pytest.mark.parametrize("version", ["3.6", "3.11"])
def test_installed_service_restarts_a_crashed_vm(scenario, rpm_tools, version):
    sc = scenario(hosts=2, vms=2, config={"MONITOR_DELAY": 15}, jobs=VM_JOBS)
    sc.start_supervisors()
    for sup in sc.supervisors.values():  # the simulator runs each host's service: see what it runs
        with open("/proc/%d/cmdline" % sup.service()["pid"], "rb") as handle:
            argv = handle.read().decode().split("\0")
        assert argv[:2] == [rpmroot.python(version), os.path.join(rpm_tools, "usr/bin/ha-lizard")]
    sc.wait_until(lambda: sc.vm_record("vm001")["other_config"].get("home-pool"), 60, message="home-pool stamped")
    sc.wait_watching("host1")  # a crash from now on is an event (a round under way only queues the next)
    sc.pool.fault("crash-vm", "vm001")
    sc.wait_vm_running("vm001", 30)
    assert "vm_events: VM vm001 started" in sc.supervisor("host1").log(), sc.logs()
    sc.check_final()
    # the service that ran was the RPM's code, compiled by X.Y ...
    cache = os.path.join(rpm_tools, "opt/ha-lizard/halizard/supervisor/__pycache__")
    assert "daemon.cpython-%s.pyc" % version.replace(".", "") in os.listdir(cache)
    # ... and its jobs ran in a forkserver that found multiprocess in the RPM only: the interpreter has none
    bare = subprocess.run([rpmroot.python(version), "-c", "import multiprocess"], stderr=subprocess.PIPE,
                          env=rpmroot.clean_env(), cwd=rpm_tools)
    assert bare.returncode == 1 and b"No module named 'multiprocess'" in bare.stderr


def test_installed_ha_lizard_start_runs_the_daemon_from_the_rpm(scenario, installed):
    """`ha-lizard start` (what the SysV script runs) re-runs its interpreter: the RPM's paths must follow."""
    sc = scenario(hosts=2, vms=2)
    root = sc.host_root("host2")
    started = rpmroot.run_tool(installed, "ha-lizard", ["--root", root, "start"], version="3.11")
    pid = int(started.stdout.split("(pid ")[1].rstrip(")\n")) if "(pid " in started.stdout else None
    try:
        assert started.returncode == 0 and started.stdout.startswith("ha-lizard started (pid "), started.stderr
        status = rpmroot.run_tool(installed, "ha-lizard", ["--root", root, "status"], version="3.11")
        assert status.returncode == 0 and status.stdout.startswith("ha-lizard is running"), status.stderr
        with open("/proc/%d/environ" % pid, "rb") as handle:
            environ = dict(item.split("=", 1) for item in handle.read().decode().split("\0") if "=" in item)
        assert environ["PYTHONPATH"] == os.pathsep.join([os.path.join(installed, "opt/ha-lizard"),
                                                         os.path.join(installed, "opt/ha-lizard/lib/python3.11")])
    finally:
        # A stop right after a start can leave the daemon alive (reported; not the RPM's doing):
        # make sure nothing of this test outlives it.
        stopped = rpmroot.run_tool(installed, "ha-lizard", ["--root", root, "stop", "--timeout", "20"],
                                   version="3.11")
        if stopped.returncode != 0 and pid:
            _kill_tree(pid)


def _kill_tree(pid):
    """SIGKILL `pid` and its descendants (the forkserver and the job runs under it)."""
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], stdout=subprocess.PIPE,
                              universal_newlines=True).stdout.split()
    try:
        os.kill(pid, signal.SIGSTOP)  # no new children while the tree is walked
    except ProcessLookupError:
        pass
    for child in children:
        _kill_tree(int(child))
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# --- the scriptlets, with fake init tools ------------------------------------------------------
def _fake_tools(folder, installed):
    """systemctl, chkconfig, an init script and the ha-cfg the scriptlet calls; each logs its arguments."""
    os.makedirs(folder)
    calls = os.path.join(folder, "calls.log")
    for name in ("systemctl", "chkconfig", "ha-lizard-init"):
        path = os.path.join(folder, name)
        with open(path, "w") as handle:
            handle.write('#!/bin/sh\necho "%s $*" >> %s\n' % (name, calls))
        os.chmod(path, stat.S_IRWXU)
    ha_cfg = os.path.join(folder, "ha-cfg")
    with open(ha_cfg, "w") as handle:  # /usr/bin/ha-cfg as dom0's /usr/bin/python3 (3.6) runs it
        handle.write('#!/bin/sh\necho "ha-cfg $*" >> %s\nexec %s %s "$@"\n'
                     % (calls, rpmroot.python("3.6"), os.path.join(installed, "usr/bin/ha-cfg")))
    os.chmod(ha_cfg, stat.S_IRWXU)
    return calls


def run_scriptlet(installed, fakes, host_root, init, *args):
    env = rpmroot.clean_env(PATH=fakes + os.pathsep + os.environ["PATH"], HALIZARD_INIT=init,
                            HA_CFG_BIN=os.path.join(fakes, "ha-cfg"),
                            HA_LIZARD_INIT=os.path.join(fakes, "ha-lizard-init"),
                            WATCHDOG_INIT=os.path.join(fakes, "ha-lizard-init"))
    if host_root:
        env["HALIZARD_ROOT"] = host_root
    result = subprocess.run([os.path.join(installed, "usr/libexec/ha-lizard/scriptlet")] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            env=env, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return result.stdout


def _take_calls(calls):
    try:
        with open(calls) as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return []
    os.remove(calls)
    return lines


def _a_2x_configuration(sc):
    """Every HA_* key as a 2.x pool holds it, some customised, one unknown to 3.x, two of 3.x missing."""
    from halizard.config import pool_store, schema

    missing = ["HA_XAPI_COUNT", "HA_MAIL_ON"]

    def apply(x):
        ref = x.pool.get_all()[0]
        other = x.pool.get_other_config(ref)
        for param in schema.POOL_PARAMETERS:
            if param.pool_key not in other and param.pool_key not in missing:
                x.pool.add_to_other_config(ref, param.pool_key, pool_store.default_literal(param))
        for key in missing:
            if key in other:
                x.pool.remove_from_other_config(ref, key)
        x.pool.add_to_other_config(ref, LEGACY_KEY, "kept as it is")
    sc.xapi(apply)
    sc.set_config(FENCE_ENABLED=1, FENCE_METHOD="ILO", MAIL_TO="ops@example.invalid")
    return missing


def test_install_over_a_2x_configuration_keeps_every_ha_key(scenario, installed, tmp_path):
    sc = scenario(hosts=2, vms=2)
    missing = _a_2x_configuration(sc)
    before = pool_other_config(sc)
    fakes = str(tmp_path / "fakes")
    calls = _fake_tools(fakes, installed)

    out = run_scriptlet(installed, fakes, sc.host_root("host1"), "systemd", "post", "1")
    after = pool_other_config(sc)
    assert {k: after.get(k) for k in before} == before  # every key kept, every value as it was
    assert sorted(set(after) - set(before)) == sorted(missing)
    assert out == "ha-lizard: pool configuration: 2 missing parameter(s) written with their defaults, existing " \
                  "values kept\n"
    assert _take_calls(calls) == ["systemctl daemon-reload", "systemctl enable ha-lizard.service",
                                  "ha-cfg insert", "systemctl start ha-lizard.service"]

    out = run_scriptlet(installed, fakes, sc.host_root("host2"), "systemd", "post", "2")  # an upgrade
    assert pool_other_config(sc) == after
    assert "0 missing parameter(s)" in out
    assert _take_calls(calls) == ["systemctl daemon-reload", "systemctl enable ha-lizard.service",
                                  "ha-cfg insert", "systemctl try-restart ha-lizard.service"]

    assert run_scriptlet(installed, fakes, sc.host_root("host1"), "systemd", "preun", "1") == ""
    assert _take_calls(calls) == []  # the upgrade's erase of the old package keeps the service
    out = run_scriptlet(installed, fakes, sc.host_root("host1"), "systemd", "preun", "0")
    assert _take_calls(calls) == ["systemctl stop ha-lizard.service", "systemctl disable ha-lizard.service"]
    assert len(out.splitlines()) == 1 and pool_other_config(sc) == after  # erasing keeps the pool's keys


def test_sysv_scriptlets_use_chkconfig_and_the_init_scripts(scenario, installed, tmp_path):
    sc = scenario(hosts=2, vms=2)
    fakes = str(tmp_path / "fakes")
    calls = _fake_tools(fakes, installed)
    run_scriptlet(installed, fakes, sc.host_root("host1"), "sysv", "post", "1")
    assert _take_calls(calls) == ["chkconfig --add ha-lizard", "chkconfig ha-lizard on",
                                  "chkconfig --add ha-lizard-watchdog", "chkconfig ha-lizard-watchdog on",
                                  "ha-cfg insert", "ha-lizard-init start"]
    run_scriptlet(installed, fakes, sc.host_root("host1"), "sysv", "preun", "0")
    assert _take_calls(calls) == ["ha-lizard-init stop", "ha-lizard-init stop",
                                  "chkconfig --del ha-lizard-watchdog", "chkconfig --del ha-lizard"]


def test_outside_a_dom0_the_install_says_so_and_goes_on(installed, tmp_path):
    fakes = str(tmp_path / "fakes")
    calls = _fake_tools(fakes, installed)
    not_dom0 = str(tmp_path / "plain-host")
    os.makedirs(not_dom0)
    out = run_scriptlet(installed, fakes, not_dom0, "systemd", "post", "1")
    assert out == ("ha-lizard: not a XenServer/XCP-ng dom0 (%s/etc/xensource-inventory missing): installed, "
                   "enabled at boot, not started\n" % not_dom0)
    assert _take_calls(calls) == ["systemctl daemon-reload", "systemctl enable ha-lizard.service"]


def test_an_unreachable_pool_does_not_fail_the_install(scenario, installed, tmp_path):
    sc = scenario(hosts=2, vms=2)
    sc.pool.fault("power-off", "host1")
    fakes = str(tmp_path / "fakes")
    calls = _fake_tools(fakes, installed)
    out = run_scriptlet(installed, fakes, sc.host_root("host1"), "systemd", "post", "1")
    assert out.startswith("ha-lizard: could not write the pool parameters now (") and len(out.splitlines()) == 1
    assert out.rstrip().endswith("; run later: ha-cfg insert")
    assert _take_calls(calls)[-1] == "systemctl start ha-lizard.service"
