"""The takeover slave cannot fence the dead master (its agent fails): it suspends HA on itself,
reboots once and then stays passive; `recover_fenced_host` (after the admin fixed fencing) lets it
take over."""
import os
import subprocess
import sys

import pytest

import harness
from harness import use_script, vms_on
from harness import is_suspended, masters, takeover_phase, wait_master, wait_takeover_slave

SCRIPT = os.path.join(harness.REPO, "etc", "ha-lizard", "scripts", "recover_fenced_host")


def reboots(sc, name):
    return sc.supervisor(name).log().count("rebooting this host once")


@pytest.mark.timeout(300)  # its waits alone add up to more than the default 120 s on a loaded machine
def test_takeover_slave_that_cannot_fence_suspends_and_reboots_once(scenario):
    sc = scenario(hosts=3, vms=6, config={"FENCE_HA_ONFAIL": 0})
    use_script(sc, "BROKEN", "exit 1")
    sc.start_supervisors()
    old = sc.pool.master_name()
    winner = wait_takeover_slave(sc)
    victims = vms_on(sc, old)

    sc.pool.fault("power-off", old)
    harness.wait_until(lambda: is_suspended(sc, winner), 60, interval=0.3, message="%s suspended" % winner)
    harness.wait_until(lambda: reboots(sc, winner) == 1, 20, interval=0.3, message="%s rebooting" % winner)
    assert takeover_phase(sc, winner) == "suspended"
    # Passive: no second reboot, no takeover, no fence attempt, for several cycles.
    fences = sc.supervisor(winner).log().count("fence of the old master")
    sc.stays(lambda: masters(sc) == [] and is_suspended(sc, winner) and reboots(sc, winner) == 1, 10,
             interval=0.5, message="%s staying passive while suspended" % winner)
    assert sc.supervisor(winner).log().count("fence of the old master") == fences

    # The admin fixes fencing (the agent now reports the host off) and lifts the suspension.
    agent = os.path.join(sc.host_root(winner), "etc", "ha-lizard", "fence", "BROKEN", "BROKEN.sh")
    with open(agent, "w") as handle:
        handle.write("#!/bin/sh\nexit 0\n")
    env = dict(sc.env_for(winner), HALIZARD_PYTHON=sys.executable)
    done = subprocess.run([SCRIPT, "--root", sc.host_root(winner), "--yes"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert "WARNING" in done.stdout and "removed" in done.stdout
    assert not is_suspended(sc, winner)

    wait_master(sc, winner, 60)
    for vm in victims:
        sc.wait_vm_running(vm, 60)
    # The winner's own reboot also stopped its VMs: the new master restarts those too.
    for vm in sc.status()["vms"]:
        if vm["name_label"] not in sc.unprotected:
            sc.wait_vm_running(vm["name_label"], 60)
    sc.check_final()


def test_suspension_is_lifted_once_the_master_marks_the_host_healthy(scenario):
    sc = scenario(hosts=3, vms=3)
    sc.start_supervisors()
    slave = next(h["name_label"] for h in sc.pool.hosts if h["name_label"] != sc.pool.master_name())
    from halizard.jobs import takeover
    from halizard.statefiles import StateStore
    takeover.suspend(StateStore(sc.host_root(slave)), "left over from an earlier failed fence")
    assert is_suspended(sc, slave)
    harness.wait_until(lambda: not is_suspended(sc, slave), 60, interval=0.3,
                       message="%s lifting its suspension once the master marks it healthy" % slave)
    # The job's log line reaches the service log after its state write: wait for it too.
    harness.wait_until(lambda: "HA suspension lifted" in sc.supervisor(slave).log(), 30, interval=0.3,
                       message="%s logging why its suspension was lifted" % slave)
    sc.check_final()
