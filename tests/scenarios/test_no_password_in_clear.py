"""A whole pool runs (jobs on every host, ha-cfg on master and slave, a slave fenced by XVM) and
no password ever crosses plain HTTP, and no file under a host's root holds the pool password.

The simulator records every login over a host's TCP endpoint that carries a password
(`sim status --json` "clear_password_logins", without the password). The test harness's own
XenAPI sessions ("ha-lizard-tests") are test tooling and the only ones allowed there.
"""
import os
import stat

import harness
from b1_helpers import host_health, use_xvm, vms_on

scenario = harness.scenario_fixture()
TOOLING = "ha-lizard-tests"


def files_holding(root, secret):
    """(path, mode) of every regular file under `root` whose bytes contain `secret`."""
    found = []
    needle = secret.encode()
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode):
                continue  # the xapi socket, links
            with open(path, "rb") as handle:
                if needle in handle.read():
                    found.append((path, stat.S_IMODE(info.st_mode)))
    return found


def test_no_password_in_clear_on_the_wire_or_on_disk(scenario):
    sc = scenario(hosts=3, vms=6)
    use_xvm(sc)
    sc.start_supervisors()
    harness.wait_until(lambda: host_health(sc, "host3") == "healthy", 30, interval=0.3,
                       message="the master marks host3 healthy")
    for host in ("host1", "host2"):
        for args in (("get",), ("get", "--effective"), ("set", "MAIL_ON", "0"), ("get-vm-ha",),
                     ("ha-status",), ("show-alerts",)):
            done = sc.ha_cfg(host, *args)
            assert done.returncode == 0, (host, args, done.stderr)
    assert sc.ha_cfg("host2", "set-vm-ha", "vm001", "true").returncode == 0

    victims = vms_on(sc, "host3")
    assert victims
    sc.pool.fault("power-off", "host3")
    for vm in victims:
        sc.wait_vm_running(vm, 45)
    assert host_health(sc, "host3") == "failed"

    logins = sc.pool.status()["clear_password_logins"]
    assert logins, "the harness's own password logins are recorded (the recorder works)"
    assert [entry for entry in logins if entry["originator"] != TOOLING] == []
    addresses = {host["address"] for host in sc.pool.hosts}
    assert [entry for entry in logins if entry["from"] in addresses] == []

    for host in sc.pool.hosts:
        assert files_holding(host["root"], sc.pool.password) == [], host["name_label"]
        # the fence device's password (FENCE_PASSWD, cached so a slave can fence a dead master)
        # is only ever in files readable by root alone
        cached = files_holding(host["root"], sc.pool.json["outer_password"])
        assert all(mode == 0o600 for _path, mode in cached), cached
    sc.check_final()
