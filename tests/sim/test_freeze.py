"""`sim fault freeze HOST SECONDS`: the whole dom0 stops, then resumes where it was.

Seen by the real XenAPI client and the simulator's network probe (calls and probes hang, they are
not refused), by the host's registered service (SIGSTOP, then SIGCONT: the same process goes on),
and through the CLI (status, bad input).
"""
import os
import socket
import time

import pytest
import XenAPI

from halizard.sim import control
from halizard.sim.probe import probe
from sim_pools import cli_pool_for_module
from waiting import wait_until


def process_state(pid):
    with open("/proc/%d/stat" % pid) as handle:
        return handle.read().rsplit(")", 1)[1].split()[0]


def host(pool, name):
    return pool.host_status(name)


def probe_port(pool, name):
    from halizard.sim.roots import read_sim_host

    return int(read_sim_host(pool.host(name)["root"])["probe_port"])


def register_sleeper(pool, name):
    """A stand-in service for host `name` (the simulator runs it); returns its pid."""
    state = control.call(pool.json["control_url"], "service_start", pool.json["control_token"], name,
                         ["sleep", "1005"], None, None, None)
    return state["pid"]


@pytest.fixture
def pool(inproc_pool):
    return inproc_pool(hosts=3, vms=3)


@pytest.fixture(scope="module")
def refusing_pool(tmp_path_factory):
    """One `sim up` pool for the refused freezes: each case checks it changed nothing."""
    yield from cli_pool_for_module(tmp_path_factory.mktemp("freeze"), 2, 2)


def test_a_frozen_host_hangs_calls_and_probes_stops_its_service_and_resumes(pool):
    pid = register_sleeper(pool, "host2")
    began = time.monotonic()
    pool.fault("freeze", "host2", "3")
    entry = host(pool, "host2")
    assert entry["service"] == "frozen" and entry["service_pid"] == pid and entry["xapi"] == "hung"
    assert 0 < entry["frozen_until"] - time.time() <= 3.01
    assert process_state(pid) == "T", "the service is stopped (SIGSTOP)"

    session = pool.xenapi_session("host1")  # the rest of the pool answers
    with pytest.raises(socket.timeout):  # hangs: neither an answer nor a refusal
        pool.xenapi_session("host2", timeout=0.5)
    started = time.monotonic()
    assert not probe(pool.host("host2")["address"], probe_port(pool, "host2"), timeout=0.5,
                     source=pool.host("host1")["address"])
    assert time.monotonic() - started >= 0.45, "a frozen host's probe times out, it is not reset"
    assert probe(pool.host("host3")["address"], probe_port(pool, "host3"), timeout=2.0,
                 source=pool.host("host1")["address"])
    assert pool.vm_status("vm002")["running_on"] == ["host2"], "its guests keep running"

    wait_until(lambda: host(pool, "host2")["frozen_until"] is None, 10)
    assert time.monotonic() - began >= 2.95, "resumed early"
    assert host(pool, "host2")["service"] == "running" and host(pool, "host2")["service_pid"] == pid
    assert process_state(pid) in ("S", "R"), "the same process goes on (SIGCONT)"
    with pytest.raises(XenAPI.Failure, match="HOST_IS_SLAVE"):
        pool.xenapi_session("host2", timeout=2.0)
    assert probe(pool.host("host2")["address"], probe_port(pool, "host2"), timeout=2.0,
                 source=pool.host("host1")["address"])
    session.xenapi.session.logout()
    assert pool.status()["violations"] == []


def test_a_probe_held_by_the_freeze_is_answered_once_the_host_resumes(pool):
    began = time.monotonic()
    pool.fault("freeze", "host2", "1.5")
    assert probe(pool.host("host2")["address"], probe_port(pool, "host2"), timeout=6.0,
                 source=pool.host("host1")["address"])
    assert time.monotonic() - began >= 1.45, "answered while frozen"


def test_a_call_held_by_the_freeze_is_answered_once_the_host_resumes(pool):
    began = time.monotonic()  # before the fault: the freeze may start before pool.fault returns
    pool.fault("freeze", "host1", "1.5")
    session = pool.xenapi_session("host1", timeout=10.0)  # waits out the freeze, then logs in
    assert time.monotonic() - began >= 1.45
    assert len(session.xenapi.host.get_all()) == 3
    session.xenapi.session.logout()


def test_power_off_ends_a_freeze_and_power_on_starts_a_fresh_service(pool):
    pid = register_sleeper(pool, "host3")
    pool.fault("freeze", "host3", "600")
    pool.fault("power-off", "host3")
    entry = host(pool, "host3")
    assert entry["frozen_until"] is None and entry["service"] == "stopped"
    assert not os.path.exists("/proc/%d" % pid) or process_state(pid) == "Z"
    pool.fault("power-on", "host3")
    entry = host(pool, "host3")
    assert entry["service"] == "running" and entry["service_pid"] != pid and entry["xapi"] == "up"
    assert process_state(entry["service_pid"]) in ("S", "R")


def test_freezing_again_sets_the_new_end(pool):
    pool.fault("freeze", "host2", "600")
    pool.fault("freeze", "host2", "1")
    assert host(pool, "host2")["frozen_until"] - time.time() <= 1.01
    wait_until(lambda: host(pool, "host2")["xapi"] == "up", 10)


@pytest.mark.parametrize("targets, fragment", [
    (["host2", "0"], "more than 0"),
    (["host2", "-5"], "more than 0"),
    (["host2", "soon"], "not a number"),
    (["host2", "inf"], "more than 0"),
    (["host9", "5"], "unknown host"),
    (["host2"], "a host name and a number of seconds"),
    (["host2", "5", "host3"], "a host name and a number of seconds"),
])
def test_bad_freeze_exits_2_with_one_line_and_changes_nothing(refusing_pool, targets, fragment):
    pool = refusing_pool
    before = pool.status()
    done = pool.run("fault", "freeze", *targets)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert len(done.stderr.strip().splitlines()) == 1 and fragment in done.stderr, done.stderr
    assert pool.status() == before


def test_bad_freeze_is_refused_by_the_pool_itself(pool):
    from halizard.sim.pool import SimUsageError

    before = pool.status()
    for targets in (["host2", "0"], ["host2", "nan"], ["host2", "-1"], ["nohost", "3"], ["host2", "100000"]):
        with pytest.raises(SimUsageError):
            pool.pool.fault("freeze", targets)
    pool.fault("power-off", "host3")
    with pytest.raises(SimUsageError, match="powered off"):
        pool.pool.fault("freeze", ["host3", "5"])
    after = pool.status()
    assert [h["frozen_until"] for h in after["hosts"]] == [None, None, None]
    assert [h["frozen_until"] for h in before["hosts"]] == [None, None, None]


def test_status_shows_the_frozen_host_and_its_service(sim_pool, sim_cli):
    pool = sim_pool(hosts=2, vms=2)
    done = sim_cli("service", "--dir", pool.dir, "start", "host2", "--", "sleep", "1006")
    assert done.returncode == 0, done.stderr
    assert pool.run("fault", "freeze", "host2", "30").returncode == 0
    table = pool.run("status").stdout
    line = next(line for line in table.splitlines() if line.startswith("host2"))
    assert "hung" in line and "frozen (pid" in line and "dom0 frozen for" in line, table
    assert pool.run("service", "stop", "host2").returncode == 0  # a frozen service stops too
    assert host(pool, "host2")["service"] == "none"
