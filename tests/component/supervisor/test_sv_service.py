"""The service as a whole: CLI, one instance, reload, stop, state trouble, systemd notify."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

from sv_helpers import (Service, cli, env_for, evidence, group_members, jobs, running, wait_until,
                        write_override)

TICK = {"tick": {"target": "sv_testjobs:tick", "period": 0.5}}


def test_jobs_list_and_kill_through_the_cli(root, service):
    svc = service({"hang": {"target": "sv_testjobs:hang", "period": 30, "grace": 0.5},
                   "tick": {"target": "sv_testjobs:tick", "period": 0.5}})
    first = wait_until(lambda: evidence(root, "hang"), 30, message="hang to start")[0]
    # the run's own evidence can come before the supervisor's handshake marks it running ("starting")
    listing = wait_until(lambda: (lambda now: now if (now.get("hang") or {}).get("state") == "running" else None)(
        jobs(root, svc.env)), 10, message="hang listed as running")
    assert set(listing) == {"hang", "tick"}
    hang = listing["hang"]
    assert hang["state"] == "running" and hang["pid"] == first["pid"]
    for key in ("started", "deadline", "last", "next_run"):
        assert key in hang
    text = cli(root, "jobs", "list", env=svc.env)
    assert text.returncode == 0
    assert text.stdout.split()[:7] == ["NAME", "STATE", "PID", "STARTED", "DEADLINE", "LAST", "NEXT"]
    assert "running" in text.stdout and str(first["pid"]) in text.stdout

    killed = cli(root, "jobs", "kill", "hang", env=svc.env)
    assert killed.returncode == 0, killed.stderr
    last = wait_until(lambda: jobs(root, svc.env)["hang"]["last"], 30, message="the kill to be recorded")
    assert last["outcome"] == "killed" and last["reason"] == "killed on request"
    assert group_members(first["pid"]) == []

    unknown = cli(root, "jobs", "kill", "nosuch", env=svc.env)
    assert unknown.returncode == 1 and "no job named 'nosuch'" in unknown.stderr
    usage = cli(root, "jobs", env=svc.env)
    assert usage.returncode == 2


def test_second_instance_is_refused_and_first_untouched(root, service):
    svc = service(TICK)
    pid_file = os.path.join(root, "run", "ha-lizard", "ha-lizard.pid")
    with open(pid_file) as handle:
        before = handle.read()
    second = subprocess.run(svc.command, env=svc.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
    assert second.returncode == 1
    assert "already running (pid %d)" % svc.proc.pid in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1, second.stderr
    with open(pid_file) as handle:
        assert handle.read() == before
    assert svc.proc.poll() is None
    status = json.loads(cli(root, "status", "--json", env=svc.env).stdout)
    assert status["pid"] == svc.proc.pid
    with open(os.path.join(root, "var", "lib", "ha-lizard", "service-start.json")) as handle:
        assert json.load(handle)["pid"] == svc.proc.pid
    started = cli(root, "start", env=svc.env)
    assert started.returncode == 1 and "already running" in started.stdout


def test_sighup_picks_up_a_changed_override(root, service):
    write_override(root, MONITOR_DELAY=60)
    svc = service({"show": {"target": "sv_testjobs:show_param"}})
    wait_until(lambda: evidence(root, "show"), 30, message="the first run")
    assert jobs(root, svc.env)["show"]["timing"]["period"] == 60
    write_override(root, MONITOR_DELAY=1)
    svc.signal(signal.SIGHUP)
    wait_until(lambda: len(evidence(root, "show")) >= 3, 30, message="runs at the new period")
    assert jobs(root, svc.env)["show"]["timing"]["period"] == 1
    assert evidence(root, "show")[-1]["MONITOR_DELAY"] == "1"
    assert "SIGHUP: reloading" in svc.log()
    assert svc.proc.poll() is None

    write_override(root, MONITOR_DELAY="soon")
    svc.signal(signal.SIGHUP)
    answer = wait_until(lambda: running(root)["warnings"] and running(root), 30, message="a config warning")
    assert any("override file not applied" in w and "MONITOR_DELAY" in w for w in answer["warnings"])
    assert jobs(root, svc.env)["show"]["timing"]["period"] == 1, "last good value kept"


def test_sigterm_stops_every_job_within_bounds(root, service):
    svc = service({"stubborn": {"target": "sv_testjobs:stubborn", "period": 30, "grace": 1.0},
                   "hang": {"target": "sv_testjobs:hang_with_grandchild", "period": 30, "grace": 1.0}})
    wait_until(lambda: evidence(root, "stubborn") and evidence(root, "hang"), 30, message="both jobs")
    pids = [evidence(root, name)[0]["pid"] for name in ("stubborn", "hang")]
    began = time.monotonic()
    assert svc.stop(timeout=20) == 0
    assert time.monotonic() - began < 20
    for pid in pids:
        assert group_members(pid) == []
    assert not os.path.exists(os.path.join(root, "run", "ha-lizard", "ha-lizard.pid"))
    assert not os.path.exists(os.path.join(root, "run", "ha-lizard", "control.sock"))


def test_corrupt_state_file_is_ignored_and_rebuilt(root, service):
    state = os.path.join(root, "var", "lib", "ha-lizard")
    os.makedirs(state)
    with open(os.path.join(state, "counter.json"), "w") as handle:
        handle.write("{not json")
    with open(os.path.join(state, "supervisor-jobs.json"), "w") as handle:
        handle.write("\x00\x01garbage")
    svc = service({"counter": {"target": "sv_testjobs:counter", "period": 0.3}})
    wait_until(lambda: len(evidence(root, "counter")) >= 2, 30, message="two counted runs")
    assert [e["n"] for e in evidence(root, "counter")][:2] == [1, 2]
    with open(os.path.join(state, "counter.json")) as handle:
        assert json.load(handle)["n"] >= 2
    assert os.path.exists(os.path.join(state, "counter.json.corrupt"))
    assert "is corrupt; ignored, it will be rebuilt" in svc.log()
    wait_until(lambda: os.path.exists(os.path.join(state, "supervisor-jobs.json")), 15, message="history")
    with open(os.path.join(state, "supervisor-jobs.json")) as handle:
        assert json.load(handle)["counter"]["last"]["outcome"] == "ok"


def test_read_only_state_dir_keeps_the_service_running(root, service):
    state = os.path.join(root, "var", "lib", "ha-lizard")
    os.makedirs(state)
    prefix = [sys.executable, os.path.join(os.path.dirname(__file__), "sv_readonly.py"), state, "--"]
    svc = service({"counter": {"target": "sv_testjobs:counter", "period": 0.3},
                   "tick": {"target": "sv_testjobs:tick", "period": 0.3}}, prefix=["unshare", "-m"] + prefix)

    def failing():
        answer = json.loads(cli(root, "jobs", "list", "--json", env=svc.env).stdout)
        counter = {j["name"]: j for j in answer["jobs"]}["counter"]
        return answer if (counter["last"] or {}).get("outcome") == "error" and answer["warnings"] else None

    answer = wait_until(failing, 15, message="counter failing and a warning")
    assert any("Read-only file system" in w for w in answer["warnings"]), answer["warnings"]
    wait_until(lambda: len(evidence(root, "tick")) >= 3, 30, message="other jobs still running")
    assert "cannot record job outcomes" in svc.log()
    text = cli(root, "jobs", "list", env=svc.env).stdout
    assert "warning: cannot write state file" in text


def test_start_stop_restart_status_in_the_background(root):
    env = env_for(root, TICK)
    assert cli(root, "status", env=env).returncode == 3
    started = cli(root, "start", "--log-file", os.path.join(root, "daemon.log"), env=env)
    assert started.returncode == 0, started.stderr
    try:
        status = json.loads(cli(root, "status", "--json", env=env).stdout)
        first_pid = status["pid"]
        assert status["running"] and os.getsid(first_pid) != os.getsid(0)  # detached: own session
        wait_until(lambda: evidence(root, "tick"), 30, message="the daemon's jobs to run")
        restarted = cli(root, "restart", env=env)
        assert restarted.returncode == 0, restarted.stderr
        second_pid = json.loads(cli(root, "status", "--json", env=env).stdout)["pid"]
        assert second_pid != first_pid
    finally:
        stopped = cli(root, "stop", env=env)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert cli(root, "status", env=env).returncode == 3
    assert cli(root, "stop", env=env).returncode == 0


def test_systemd_notify_ready_watchdog_reloading_stopping(root, tmp_path):
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(10)
    env = env_for(root, TICK)
    env["NOTIFY_SOCKET"] = address
    env["WATCHDOG_USEC"] = "600000"
    svc = Service(root, TICK, env=env)
    svc.start(wait=False)
    seen = []

    def expect(field):
        limit = time.monotonic() + 10
        while time.monotonic() < limit:
            message = sock.recv(4096).decode()
            seen.append(message)
            if field in message.split("\n"):
                return message
        raise AssertionError("no %s in %s" % (field, seen))

    try:
        ready = expect("READY=1")
        assert "MAINPID=%d" % svc.proc.pid in ready
        expect("WATCHDOG=1")
        expect("WATCHDOG=1")
        svc.signal(signal.SIGHUP)
        expect("RELOADING=1")
        expect("READY=1")
        svc.signal(signal.SIGTERM)
        expect("STOPPING=1")
        assert svc.proc.wait(20) == 0
    finally:
        svc.stop()
        sock.close()


def test_a_new_instance_ends_the_jobs_a_crashed_one_left_behind(root, service):
    first = service({"hang": {"target": "sv_testjobs:hang_with_grandchild", "period": 30}})
    start = wait_until(lambda: evidence(root, "hang"), 30, message="hang to start")[0]
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    assert group_members(start["pid"]), "the crashed instance's job should still be running"
    second = service({"tick": {"target": "sv_testjobs:tick", "period": 1}})
    wait_until(lambda: not group_members(start["pid"]), 15, message="leftovers gone")
    assert "leftover process(es) of job run %d" % start["pid"] in second.log()


def test_invalid_job_set_refuses_to_start_with_one_line(root):
    env = env_for(root, {"bad": {"target": "not a target"}})
    result = cli(root, "run", env=env, timeout=30)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "ha-lizard: job bad: target must look like" in lines[0], lines
    assert not os.path.exists(os.path.join(root, "run", "ha-lizard", "ha-lizard.pid"))
