"""The simulator owns each host's service: power-off kills its whole process tree, power-on starts it again.

Real processes through the real CLI (`sim up --services`, `sim service start|stop`): a powered-off
host must run nothing, as after a power loss, including the job runs and fence agents that leave
the service's process group (setsid).
"""
import json
import os

import pytest

from halizard.sim import control
from sim_pools import cli_pool_for_module
from waiting import wait_until

# A service whose tree has all three shapes the kill must reach: a child, a grandchild that left the
# session (setsid), and an orphan of a subshell that already exited (re-parented, still in the session).
TREE = ("setsid sleep 1001 & (sleep 1002 &) ; echo started >> tree.out; exec sleep 1003")


def alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pids_of(marker):
    """Live pids whose command line contains `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if marker.encode() in argv and alive(int(entry)):
            found.append(int(entry))
    return found


def host(pool, name):
    return pool.host_status(name)


@pytest.fixture(scope="module")
def refusing_pool(tmp_path_factory):
    """One `sim up` pool for the refused service requests: each test checks they changed nothing."""
    yield from cli_pool_for_module(tmp_path_factory.mktemp("services"), 2, 2)


def test_sim_up_with_services_runs_each_host_service_and_power_off_kills_it(sim_pool):
    pool = sim_pool(hosts=2, vms=2, extra=["--services"])
    first = wait_until(lambda: host(pool, "host2")["service_pid"], 30)
    assert host(pool, "host2")["service"] == "running"
    root = pool.host("host2")["root"]
    wait_until(lambda: os.path.exists(os.path.join(root, "service.log")), 30)  # its log is under its root

    pool.fault("power-off", "host2")
    assert host(pool, "host2")["service"] == "stopped" and host(pool, "host2")["service_pid"] is None
    assert not alive(first)
    assert [p for p in pids_of(root) if p != os.getpid()] == [], "nothing of host2's service runs"

    pool.fault("power-on", "host2")
    second = host(pool, "host2")["service_pid"]
    assert host(pool, "host2")["service"] == "running" and second not in (None, first)

    pool.fault("reboot", "host2")  # killed, then started again once the host is back
    assert not alive(second)
    assert host(pool, "host2")["service"] == "running" and host(pool, "host2")["service_pid"] != second


def test_power_off_kills_the_whole_tree_and_power_on_runs_the_same_command(sim_pool, sim_cli, tmp_path):
    pool = sim_pool(hosts=2, vms=2)
    workdir = tmp_path / "work"
    workdir.mkdir()
    done = sim_cli("service", "--dir", pool.dir, "start", "host2", "--", "sh", "-c", TREE,
                   cwd=str(workdir), env=dict(os.environ, SERVICE_MARK="from-the-caller"))
    assert done.returncode == 0, done.stderr
    assert "service of host2: running (pid" in done.stdout
    wait_until(lambda: len(pids_of("1001") + pids_of("1002") + pids_of("1003")) == 3, 10)
    leader = host(pool, "host2")["service_pid"]
    with open("/proc/%d/environ" % leader, "rb") as handle:
        assert b"SERVICE_MARK=from-the-caller" in handle.read().split(b"\0"), "the caller's environment"

    pool.fault("power-off", "host2")
    assert pids_of("1001") == pids_of("1002") == pids_of("1003") == [], "power loss leaves no process"

    pool.fault("power-on", "host2")
    wait_until(lambda: len(pids_of("1001") + pids_of("1002") + pids_of("1003")) == 3, 10)
    assert (workdir / "tree.out").read_text().split() == ["started", "started"], "same command, same cwd"

    done = sim_cli("service", "--dir", pool.dir, "stop", "host2")
    assert done.returncode == 0, done.stderr
    assert host(pool, "host2")["service"] == "none"
    assert pids_of("1001") == pids_of("1002") == pids_of("1003") == []


def test_a_service_registered_on_a_powered_off_host_starts_at_power_on(sim_pool, sim_cli):
    pool = sim_pool(hosts=2, vms=2)
    pool.fault("power-off", "host2")
    done = sim_cli("service", "--dir", pool.dir, "start", "host2", "--", "sleep", "1004")
    assert done.returncode == 0, done.stderr
    assert host(pool, "host2")["service"] == "stopped" and pids_of("1004") == []
    pool.fault("power-on", "host2")
    assert host(pool, "host2")["service"] == "running"


def test_a_service_that_ends_by_itself_is_reported_exited_and_not_restarted(sim_pool, sim_cli):
    pool = sim_pool(hosts=1, vms=1)
    done = sim_cli("service", "--dir", pool.dir, "start", "host1", "--", "sh", "-c", "exit 3")
    assert done.returncode == 0, done.stderr
    wait_until(lambda: host(pool, "host1")["service"] == "exited", 10)
    with open(os.path.join(pool.dir, "pool.json"), encoding="utf-8") as handle:
        url = json.load(handle)["control_url"]
    assert control.call(url, "service_state", "host1") == {"service": "exited", "pid": None, "exit": 3}


def test_bad_service_requests_exit_2_and_change_nothing(refusing_pool, sim_cli):
    pool = refusing_pool
    before = pool.status()
    for args in (["start", "host9"], ["stop", "host1"], ["stop", "host1", "--", "true"], ["restart", "host1"],
                 ["start", "host1", "--", "/no/such/program"]):
        done = sim_cli("service", "--dir", pool.dir, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert pool.status() == before


def test_registering_a_service_needs_the_pool_control_token(refusing_pool):
    pool = refusing_pool
    before = pool.status()
    for token in (None, "", "0" * 32):
        try:
            control.call(pool.json["control_url"], "service_start", token, "host1", ["true"])
        except control.ControlUsageError as exc:
            assert "control token" in str(exc)
        else:
            raise AssertionError("a service was registered without the pool's control token")
    assert host(pool, "host1")["service"] == "none" and pool.status() == before
    assert os.stat(os.path.join(pool.dir, "pool.json")).st_mode & 0o077 == 0, "the token is root's only"


def test_malformed_service_requests_are_usage_errors(refusing_pool):
    pool = refusing_pool
    url, token = pool.json["control_url"], pool.json["control_token"]
    before = pool.status()
    for args in (("host1", "sleep 5"), ("host1", ["sleep", ""]), ("host1", ["true"], {"A": 1}),
                 ("host1", ["true"], None, "/no/such/dir"), ("host1", ["true"], None, None, "/no/such/dir/out"),
                 ("host1", ["true"], None, 7)):
        with pytest.raises(control.ControlUsageError):
            control.call(url, "service_start", token, *args)
    assert host(pool, "host1")["service"] == "none" and pool.status() == before
