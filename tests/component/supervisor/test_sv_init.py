"""init/: the systemd unit verifies; the SysV scripts start, watch and stop the service."""
import json
import os
import signal
import subprocess
import sys

import pytest

from sv_helpers import REPO, cli, env_for, evidence, jobs, wait_until

UNIT = os.path.join(REPO, "init", "ha-lizard.service")
SYSV = os.path.join(REPO, "init", "ha-lizard")
WATCHDOG = os.path.join(REPO, "init", "ha-lizard-watchdog")


@pytest.fixture
def launcher(tmp_path):
    """An executable `ha-lizard` that exists at test time (the unit names /usr/bin/ha-lizard)."""
    path = tmp_path / "bin" / "ha-lizard"
    path.parent.mkdir()
    path.write_text("#!/bin/sh\nexec %s -m halizard.cli.ha_lizard \"$@\"\n" % sys.executable)
    path.chmod(0o755)
    return str(path)


def _unit_with(tmp_path, exec_path):
    with open(UNIT) as handle:
        text = handle.read()
    assert "ExecStart=/usr/bin/ha-lizard run" in text
    for needed in ("Type=notify", "Restart=always", "WatchdogSec=", "KillMode=mixed"):
        assert needed in text
    unit_dir = tmp_path / "units"
    unit_dir.mkdir(exist_ok=True)
    target = unit_dir / "ha-lizard.service"
    target.write_text(text.replace("/usr/bin/ha-lizard", exec_path))
    return str(target)


def test_systemd_analyze_verify_passes(tmp_path, launcher):
    result = subprocess.run(["systemd-analyze", "verify", _unit_with(tmp_path, launcher)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_systemd_analyze_verify_catches_a_missing_executable(tmp_path):
    result = subprocess.run(["systemd-analyze", "verify", _unit_with(tmp_path, str(tmp_path / "nope"))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert result.returncode != 0


def _pid(root, env):
    result = cli(root, "status", "--json", env=env)
    return json.loads(result.stdout)["pid"] if result.returncode == 0 else None


def test_sysv_scripts_start_watch_and_stop(root, launcher):
    env = env_for(root, {"tick": {"target": "sv_testjobs:tick", "period": 1}})
    env.update(HA_LIZARD_BIN=launcher, HALIZARD_ROOT=root, WATCHDOG=WATCHDOG, WATCH_INTERVAL="1",
               HALIZARD_INIT="sysv")

    def script(path, action):
        return subprocess.run([path, action], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)

    assert script(SYSV, "status").returncode == 3
    try:
        started = script(SYSV, "start")
        assert started.returncode == 0, started.stdout + started.stderr
        assert "ha-lizard-watchdog started" in started.stdout
        first = _pid(root, env)
        assert first
        assert script(WATCHDOG, "status").returncode == 0
        wait_until(lambda: evidence(root, "tick"), 30, message="jobs running under the SysV service")

        os.kill(first, signal.SIGKILL)
        wait_until(lambda: _pid(root, env) not in (None, first), 20, message="the watchdog to restart it")
        assert script(SYSV, "status").returncode == 0
    finally:
        stopped_watchdog = script(WATCHDOG, "stop")
        stopped = script(SYSV, "stop")
    assert "ha-lizard-watchdog stopped" in stopped_watchdog.stdout
    assert stopped.returncode == 0
    assert script(SYSV, "status").returncode == 3
    assert script(WATCHDOG, "status").returncode == 3
    assert script(SYSV, "bogus").returncode == 2


def test_sysv_start_runs_jobs_that_end_ok(root, launcher):
    """Issue 19 item 4: under `service ha-lizard start` (the --daemon path) every job ended `error`.

    The detached service's fds 0-2 were close-on-exec, so the job forkserver started without
    them and every run failed flushing a missing sys.stdout after its work.
    """
    env = env_for(root, {"tick": {"target": "sv_testjobs:tick", "period": 1}})
    env.update(HA_LIZARD_BIN=launcher, HALIZARD_ROOT=root, WATCHDOG="", HALIZARD_INIT="sysv")

    def script(action):
        return subprocess.run([SYSV, action], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=60)

    try:
        started = script("start")
        assert started.returncode == 0, started.stdout + started.stderr

        def finished_runs():
            counts = jobs(root)["tick"]["counts"]
            return counts if sum(counts.values()) >= 2 else None

        counts = wait_until(finished_runs, 30, message="two finished runs of the job")
        assert jobs(root)["tick"]["last"]["outcome"] == "ok", jobs(root)["tick"]["last"]
        assert set(k for k, v in counts.items() if v) == {"ok"}, counts
    finally:
        stopped = script("stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
