"""`ha-lizard sim up|status|down` as a user runs them: a real background pool."""
import json
import os
import socket
import stat

import XenAPI
from sim_pools import CliPool


def is_listening(address, port):
    sock = socket.socket()
    sock.settimeout(1.0)
    try:
        sock.connect((address, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def test_up_writes_pool_json_status_and_down_frees_everything(tmp_path_factory):
    pool = CliPool(tmp_path_factory.mktemp("simpool"), own_certificate=True)  # not seed_certificate's copy
    try:
        check_up_status_and_down(pool.up(3, 5, 0.05, 0.5, []))
    finally:
        pool.down()


def check_up_status_and_down(pool):
    assert "3 hosts, 5 VMs" in pool.up_result.stdout
    document = pool.json
    assert set(document) >= {"password", "control_url", "outer_url", "hosts", "vms"}
    assert document["control_url"].startswith("http://127.") and document["outer_url"].startswith("https://127.")
    assert [host["name_label"] for host in document["hosts"]] == ["host1", "host2", "host3"]
    for host in document["hosts"]:
        assert set(host) == {"name_label", "uuid", "address", "xapi_url", "root"}
        assert host["xapi_url"] == "http://%s/" % host["address"]
        root = host["root"]
        assert root.startswith(pool.dir)
        with open(os.path.join(root, "etc/xensource-inventory"), encoding="utf-8") as handle:
            assert "INSTALLATION_UUID='%s'" % host["uuid"] in handle.read()
        with open(os.path.join(root, "etc/ha-lizard/sim-host.json"), encoding="utf-8") as handle:
            marker = json.load(handle)
        assert marker["host_uuid"] == host["uuid"] and marker["address"] == host["address"]
        assert marker["control_url"] == document["control_url"]
        assert os.path.isdir(os.path.join(root, "var/lib/ha-lizard"))
    with open(os.path.join(pool.host("host1")["root"], "etc/xensource/pool.conf"), encoding="utf-8") as handle:
        assert handle.read().strip() == "master"
    with open(os.path.join(pool.host("host3")["root"], "etc/xensource/pool.conf"), encoding="utf-8") as handle:
        assert handle.read().strip() == "slave:%s" % pool.host("host1")["address"]
    assert len(document["vms"]) == 5
    mode = stat.S_IMODE(os.stat(os.path.join(pool.dir, "pool.json")).st_mode)
    assert mode == 0o600, "pool.json holds the password"
    for name in ("pool-cert.pem", "pool-key.pem"):  # the pool's own, made by `sim up` (halizard/sim/tls.py)
        assert stat.S_IMODE(os.stat(os.path.join(pool.dir, name)).st_mode) == 0o600, name

    listed = pool.run("status", "--json")  # the CLI's document (pool.status() asks the endpoint directly)
    assert listed.returncode == 0, listed.stderr
    status = json.loads(listed.stdout)
    assert set(status) == {"hosts", "vms", "violations", "cuts", "calls", "gateway", "clear_password_logins"}
    assert status["cuts"] == [] and status["gateway"]["address"] == document["gateway"]
    assert status["violations"] == []
    assert [(h["name_label"], h["power"], h["xapi"], h["role"]) for h in status["hosts"]] == [
        ("host1", "on", "up", "master"), ("host2", "on", "up", "slave"), ("host3", "on", "up", "slave")]
    for vm in status["vms"]:
        assert set(vm) >= {"name_label", "uuid", "power_state", "resident_on", "running_on"}
        assert vm["power_state"] == "Running" and vm["running_on"] == [vm["resident_on"]]

    table = pool.run("status")
    assert table.returncode == 0
    assert "host1" in table.stdout and "master" in table.stdout and "violations: none" in table.stdout

    session = pool.xenapi_session()
    assert len(session.xenapi.host.get_all()) == 3

    addresses = [host["address"] for host in document["hosts"]]
    assert all(is_listening(address, 80) for address in addresses)
    down = pool.down()
    assert down.returncode == 0, down.stderr
    assert not os.path.exists(os.path.join(pool.dir, "pool.json"))
    assert not any(is_listening(address, 80) for address in addresses)
    status_after = pool.run("status", "--json")
    assert status_after.returncode == 1 and "no simulated pool" in status_after.stderr
    assert pool.down().returncode == 0, "down is idempotent"


def test_second_up_in_the_same_dir_is_refused(sim_pool, sim_cli):
    pool = sim_pool(hosts=1, vms=1)
    again = sim_cli("up", "--dir", pool.dir, "--hosts", "1", "--vms", "1")
    assert again.returncode == 1
    assert "already runs" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    assert pool.xenapi_session().xenapi.VM.get_all()


def test_faults_through_the_cli(sim_pool):
    pool = sim_pool(hosts=3, vms=3)
    before = {vm["name_label"]: vm for vm in pool.status()["vms"]}
    on_host2 = [name for name, vm in before.items() if vm["running_on"] == ["host2"]]
    assert on_host2

    pool.fault("power-off", "host2")
    host2 = pool.host_status("host2")
    assert host2["power"] == "off" and host2["xapi"] == "down"
    for name in on_host2:
        vm = pool.vm_status(name)
        assert vm["power_state"] == "Running" and vm["resident_on"] == "host2", "the database still believes"
        assert vm["running_on"] == [], "ground truth: the domain died with the host"
    pool.fault("power-on", "host2")
    assert pool.host_status("host2")["power"] == "on"

    pool.fault("reboot", "host3")
    assert pool.host_status("host3")["power"] == "on"

    pool.fault("hang-xapi", "host1")
    assert pool.host_status("host1")["xapi"] == "hung"
    pool.fault("unhang-xapi", "host1")
    assert pool.host_status("host1")["xapi"] == "up"

    pool.fault("link-down", "host3")
    try:
        pool.xenapi_session("host1", source="host3", timeout=2.0)
        reached = True
    except (OSError, XenAPI.Failure):
        reached = False
    assert not reached
    pool.fault("link-up", "host3")
    pool.xenapi_session("host1", source="host3")

    victim = sorted(name for name, vm in before.items() if vm["running_on"] == ["host1"])[0]
    pool.fault("crash-vm", victim)
    assert pool.vm_status(victim)["running_on"] == []

    from halizard.platform import get_platform

    disk = get_platform(pool.host("host2")["root"])
    pool.fault("disk-fail", "host2")
    assert not disk.disk_health().healthy
    pool.fault("disk-ok", "host2")
    assert disk.disk_health().healthy

    pool.fault("partition", "host1", "host2,host3")
    try:
        pool.xenapi_session("host1", source="host2", timeout=2.0)
        reached = True
    except (OSError, XenAPI.Failure):
        reached = False
    assert not reached
    pool.fault("heal")
    pool.xenapi_session("host1", source="host2")


def test_an_orphaned_pool_stops_when_its_directory_disappears(sim_pool):
    import shutil
    import time

    pool = sim_pool(hosts=2, vms=1)
    with open(os.path.join(pool.dir, "sim.pid"), encoding="utf-8") as handle:
        pid = int(handle.read())
    address = pool.host("host1")["address"]
    shutil.rmtree(pool.dir)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and os.path.exists("/proc/%d" % pid):
        time.sleep(0.05)
    assert not os.path.exists("/proc/%d" % pid), "the daemon must exit"
    assert not is_listening(address, 80)
