"""A slave's dom0 freezes (`sim fault freeze`): its xapi calls and network probes hang and its service
is stopped (SIGSTOP); its guests keep running, as under Xen when dom0 stalls. Then it resumes where it
was (SIGCONT), unless it was powered off meanwhile.

- Shorter than the self-fence wait W and the watchdog's timeout: the master sees a failed host but
  has no proof of death; the slave resumes, nothing moved, nothing ran twice.
- With a verified fence (XVM): the master powers the frozen slave off (its service dies with it),
  restarts its VMs once; powered on again, the slave rejoins with a fresh service.
- With POOL fencing (the default): no fence proves the frozen slave dead, and a frozen dom0 cannot
  self-fence while its guests run. The watchdog backstop (SELF_FENCE_WATCHDOG, on in the harness)
  stands outside dom0: unfed, it reboots the host, whose VMs then run once again. (Without it, the
  master would restart them after W while they still run: issue 13 finding 5.)
"""
import pytest

import harness
from harness import device_log, host_health, use_xvm, vms_on, wait_moved, wait_self_fence_ready

from halizard.core import timing
from halizard.core.policy import Policy

SHORT = harness.SHORT_PROBES
WATCHDOG = harness.DEFAULT_CONFIG["SELF_FENCE_WATCHDOG"]
PATIENT = dict(SHORT, SELF_FENCE_WATCHDOG=30)  # a watchdog that outlasts the short freeze
WAIT = timing.recovery_wait(Policy.from_mapping(dict(harness.DEFAULT_CONFIG, **PATIENT)))
VERIFIED = dict(SHORT, SELF_FENCE_WATCHDOG=0)  # the fence alone, no watchdog racing it


def healthy_pool(sc, victim="host2"):
    sc.start_supervisors()
    sc.wait_until(lambda: host_health(sc, victim) == "healthy", 30, interval=0.3,
                  message="the master marks %s healthy" % victim)
    wait_self_fence_ready(sc, victim)
    victims = vms_on(sc, victim)
    assert victims
    return victims


def resumed(sc, name):
    host = sc.pool.host_status(name)
    return host["frozen_until"] is None and host["service"] == "running"


@pytest.mark.timeout(300)
def test_short_freeze_of_a_slave_moves_nothing(scenario):
    assert WAIT > 20, "the freeze below must end well before the self-fence wait (%g s)" % WAIT
    sc = scenario(hosts=3, vms=6, config=PATIENT)
    victims = healthy_pool(sc)
    pid = sc.pool.host_status("host2")["service_pid"]

    sc.pool.fault("freeze", "host2", "10")
    assert sc.pool.host_status("host2")["service"] == "frozen"
    sc.wait_until(lambda: host_health(sc, "host2") == "failed", 20, interval=0.3,
                  message="the master sees host2 failed")
    assert vms_on(sc, "host2") == victims, "its guests keep running while dom0 is frozen"
    sc.wait_until(lambda: resumed(sc, "host2"), 20, interval=0.3, message="host2 resumed")
    assert sc.pool.host_status("host2")["service_pid"] == pid, "the same service goes on (SIGCONT)"
    sc.wait_until(lambda: host_health(sc, "host2") == "healthy", 30, interval=0.3,
                  message="host2 healthy again")
    assert vms_on(sc, "host2") == victims, "nothing moved: there was no proof of death"
    sc.check_final()


@pytest.mark.timeout(300)
def test_frozen_slave_is_fenced_and_its_vms_run_once(scenario):
    sc = scenario(hosts=3, vms=6, config=VERIFIED)
    use_xvm(sc)
    victims = healthy_pool(sc)

    sc.pool.fault("freeze", "host2", "600")
    wait_moved(sc, victims, "host2", 60)
    host = sc.pool.host_status("host2")
    assert host["power"] == "off" and host["service"] == "stopped", "fenced through the outer dom0: %s" % host
    assert host["frozen_until"] is None, "power-off ends the freeze"
    assert sc.status()["violations"] == []

    sc.pool.fault("power-on", "host2")  # repaired: a fresh service, nothing of the frozen one resumes
    sc.wait_until(lambda: host_health(sc, "host2") == "healthy", 40, interval=0.3,
                  message="host2 back and healthy")
    assert set(vms_on(sc, "host2")).isdisjoint(victims)
    sc.check_final()


@pytest.mark.timeout(300)
def test_frozen_slave_is_rebooted_by_its_watchdog_and_no_vm_runs_twice(scenario):
    sc = scenario(hosts=3, vms=6, config=SHORT)  # POOL fencing: no fence can prove the frozen host dead
    victims = healthy_pool(sc)
    frozen = sc.supervisor("host2")
    sc.wait_until(lambda: "watchdog armed" in frozen.log(), 30, interval=0.3, message="host2's watchdog armed")
    pid = sc.pool.host_status("host2")["service_pid"]

    sc.pool.fault("freeze", "host2", "600")
    # the device is not in the frozen dom0: unfed, it reboots the host (killing its guests and itself)
    sc.wait_until(lambda: "not fed in time: rebooting host" in device_log(frozen), WATCHDOG + 20, interval=0.3,
                  message="host2's watchdog firing")
    sc.wait_until(lambda: resumed(sc, "host2") and sc.pool.host_status("host2")["service_pid"] != pid, 20,
                  interval=0.3, message="host2 rebooted with a fresh service")
    for vm in victims:
        sc.wait_vm_running(vm, 60)
    sc.wait_until(lambda: host_health(sc, "host2") == "healthy", 60, interval=0.3,
                  message="host2 back and healthy")
    sc.check_final()
