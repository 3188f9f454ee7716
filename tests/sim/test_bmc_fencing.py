"""Hardware fencing of simulated hosts through their simulated BMCs (real IPMI lanplus over UDP),
driven by Debian's real `ipmitool` (ILO, IRMC) and `fence_ipmilan` (ClusterLabs agent)."""
import os
import socket
import subprocess
import threading
import time

import pytest

from halizard.fence import registry
from halizard.fence.base import FAILED, OFF, ON, RESET, UNKNOWN
from halizard.fence.confirm import fence_host
from halizard.probes.deadline import after
from halizard.probes.xapi_alive import xapi_alive
from sim_pools import assemble

import sim_pools as sim_fixtures


def bmc(pool, host):
    """pool.json's BMC entry of `host`: address, port, user, password."""
    return pool.json["bmcs"][host["uuid"]]


def write_map(root, method, lines):
    folder = os.path.join(root, "etc/ha-lizard/fence", method)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, method + ".hosts"), "w") as handle:
        handle.write("".join(line + "\n" for line in lines))


def ilo_lines(pool):
    return ["%s:%s" % (h["uuid"], bmc(pool, h)["address"]) for h in pool.hosts]


def agent_for(pool, method, root, password=None, user=None):
    first = bmc(pool, pool.hosts[0])
    config = {"FENCE_METHOD": method, "FENCE_PASSWD": first["password"] if password is None else password,
              "FENCE_USER": first["user"] if user is None else user}
    return registry.agent_from_config(config, root=root)


def alive_check(pool, host):
    return lambda deadline: xapi_alive(host["address"], deadline).alive


@pytest.fixture(scope="module")
def bmc_pool(tmp_path_factory):
    """One 3-host pool in this process that asked for its BMCs (they are opt-in), for the module.

    Why shared: a pool with BMCs takes seconds to start and stop on a loaded machine. Its VMs are
    unprotected, so a VM a test's power-off stopped never becomes a "lost" violation later;
    double runs still are violations.
    """
    running = assemble(str(tmp_path_factory.mktemp("bmcpool")), 3, 3, start_latency=0.05, fuse=0.5,
                       bmcs=True)
    try:
        handle = sim_fixtures.InprocPool(running)
        session = handle.xenapi_session()
        try:
            for vm in handle.json["vms"]:
                ref = session.xenapi.VM.get_by_uuid(vm["uuid"])
                session.xenapi.VM.add_to_other_config(ref, "sim-protected", "false")
        finally:
            session.xenapi.session.logout()
        yield handle
    finally:
        running.close()


@pytest.fixture
def pool(bmc_pool):
    """The module's pool with every host powered on again (a test before may have fenced some)."""
    for host in bmc_pool.status()["hosts"]:
        if host["power"] != "on":
            bmc_pool.fault("power-on", host["name_label"])
    limit = time.monotonic() + 30
    while any(h["power"] != "on" or h["xapi"] != "up" for h in bmc_pool.status()["hosts"]):
        assert time.monotonic() < limit, "hosts not back on: %s" % bmc_pool.status()["hosts"]
        time.sleep(0.05)
    return bmc_pool


def test_pool_json_names_a_bmc_per_host_on_its_own_loopback_address(pool):
    addresses = [bmc(pool, h)["address"] for h in pool.hosts]
    assert len(set(addresses)) == 3
    for host in pool.hosts:
        entry = bmc(pool, host)
        assert entry["address"].startswith("127.") and entry["address"] != host["address"]
        assert entry["port"] == 623 and entry["user"] and entry["password"]


def test_ipmitool_cli_powers_a_simulated_host_off(pool):
    victim = pool.hosts[1]
    entry = bmc(pool, victim)
    env = {"PATH": "/usr/bin:/usr/sbin:/bin", "IPMI_PASSWORD": entry["password"]}
    argv = ["ipmitool", "-I", "lanplus", "-H", entry["address"], "-U", entry["user"], "-E",
            "chassis", "power"]
    status = subprocess.run(argv + ["status"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert "Chassis Power is on" in status.stdout, status.stderr
    off = subprocess.run(argv + ["off"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert off.returncode == 0, off.stderr
    assert pool.host_status(victim["name_label"])["power"] == "off"


def test_ilo_stop_start_reset_verified_through_ipmitool(pool):
    fencer, victim = pool.hosts[0], pool.hosts[1]
    write_map(fencer["root"], "ILO", ilo_lines(pool))
    agent = agent_for(pool, "ILO", fencer["root"])
    assert agent.status(victim["uuid"], after(30)).state == ON

    result = fence_host(agent, victim["uuid"], "stop", after(40), still_alive=alive_check(pool, victim))
    assert result.verified and result.state == OFF, result.detail
    assert pool.host_status(victim["name_label"])["power"] == "off"
    assert all(victim["name_label"] not in vm["running_on"] for vm in pool.status()["vms"])
    assert pool.status()["violations"] == []

    started = agent.fence(victim["uuid"], "start", after(40))
    assert started.verified and started.state == ON, started.detail
    assert pool.host_status(victim["name_label"])["power"] == "on"

    reset = agent.fence(victim["uuid"], "reset", after(40))
    assert reset.verified and reset.state == RESET, reset.detail
    assert pool.host_status(victim["name_label"])["power"] == "on"


def test_irmc_and_fence_ipmilan_fence_and_read_status(pool):
    fencer, victim, other = pool.hosts
    write_map(fencer["root"], "IRMC", ilo_lines(pool))
    irmc = agent_for(pool, "IRMC", fencer["root"])
    result = irmc.fence(other["uuid"], "stop", after(40))
    assert result.verified and result.state == OFF, result.detail
    assert pool.host_status(other["name_label"])["power"] == "off"

    write_map(fencer["root"], "fence_ipmilan",
              ["%s:ip=%s,ipport=%d,lanplus=1" % (h["uuid"], bmc(pool, h)["address"], bmc(pool, h)["port"])
               for h in pool.hosts])
    agent = agent_for(pool, "fence_ipmilan", fencer["root"])
    assert agent.status(other["uuid"], after(40)).state == OFF
    status = agent.status(victim["uuid"], after(40))
    assert status.verified and status.state == ON, status.detail
    result = fence_host(agent, victim["uuid"], "stop", after(60), still_alive=alive_check(pool, victim))
    assert result.verified and result.state == OFF, result.detail
    assert pool.host_status(victim["name_label"])["power"] == "off"


def test_wrong_password_is_a_clear_failure_and_nothing_is_fenced(pool):
    fencer, victim = pool.hosts[0], pool.hosts[1]
    write_map(fencer["root"], "ILO", ilo_lines(pool))
    write_map(fencer["root"], "fence_ipmilan",
              ["%s:ip=%s,lanplus=1" % (h["uuid"], bmc(pool, h)["address"]) for h in pool.hosts])
    for method in ("ILO", "fence_ipmilan"):
        agent = agent_for(pool, method, fencer["root"], password="not-the-password")
        started = time.monotonic()
        result = fence_host(agent, victim["uuid"], "stop", after(30))
        assert not result.verified and result.state == FAILED, result.detail
        assert "not-the-password" not in result.detail
        # a refused login ends the fence: it does not poll the status until the deadline
        assert time.monotonic() - started < 20, (method, time.monotonic() - started)
    assert "wrong FENCE_USER/FENCE_PASSWD" in agent_for(pool, "ILO", fencer["root"], password="x").fence(
        victim["uuid"], "stop", after(20)).detail
    assert pool.host_status(victim["name_label"])["power"] == "on"


def test_unknown_host_and_malformed_map_line_are_named(pool, tmp_path):
    fencer, victim = pool.hosts[0], pool.hosts[1]
    write_map(fencer["root"], "ILO", ilo_lines(pool)[:1])
    result = fence_host(agent_for(pool, "ILO", fencer["root"]), victim["uuid"], "stop", after(10))
    assert not result.verified and result.state == FAILED
    assert "not listed" in result.detail and victim["uuid"] in result.detail

    write_map(fencer["root"], "ILO", ilo_lines(pool)[:1] + ["%s:-oProxyCommand=x" % victim["uuid"]])
    result = fence_host(agent_for(pool, "ILO", fencer["root"]), victim["uuid"], "stop", after(10))
    assert not result.verified and "ILO.hosts:2" in result.detail, result.detail

    write_map(fencer["root"], "fence_ipmilan", ["%s:ip=127.0.0.1,password=x" % victim["uuid"]])
    result = fence_host(agent_for(pool, "fence_ipmilan", fencer["root"]), victim["uuid"], "stop", after(10))
    assert not result.verified and "fence_ipmilan.hosts:1" in result.detail and "password" in result.detail
    assert pool.host_status(victim["name_label"])["power"] == "on"


def _silent_bmc(address):
    """A UDP port that reads every packet and never answers (a hung BMC)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 623))
    sock.settimeout(0.2)
    stop = threading.Event()

    def drain():
        while not stop.is_set():
            try:
                sock.recvfrom(4096)
            except OSError:
                pass

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return sock, stop


def test_bmc_that_does_not_answer_is_no_fence_and_keeps_the_deadline(pool):
    fencer, victim = pool.hosts[0], pool.hosts[1]
    silent = bmc(pool, victim)["address"].rsplit(".", 1)[0] + ".250"
    sock, stop = _silent_bmc(silent)
    try:
        write_map(fencer["root"], "ILO", ["%s:%s" % (victim["uuid"], silent)])
        started = time.monotonic()
        result = fence_host(agent_for(pool, "ILO", fencer["root"]), victim["uuid"], "stop", after(4))
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        sock.close()
    assert not result.verified and result.state in (UNKNOWN, FAILED), result.detail
    assert elapsed < 12, elapsed
    assert pool.host_status(victim["name_label"])["power"] == "on"


def test_bmc_says_off_but_host_still_answers_counts_as_failed(pool):
    fencer, victim, other = pool.hosts
    pool.fault("power-off", other["name_label"])
    # a wrong map line: the victim points at the BMC of a host that is already off
    write_map(fencer["root"], "ILO", ["%s:%s" % (victim["uuid"], bmc(pool, other)["address"])])
    result = fence_host(agent_for(pool, "ILO", fencer["root"]), victim["uuid"], "stop", after(30),
                        still_alive=alive_check(pool, victim))
    assert not result.verified and result.state == FAILED, result.detail
    assert "still answers" in result.detail
    assert pool.host_status(victim["name_label"])["power"] == "on"
