"""The watchdog backstop on a simulated pool: a frozen service gets its host rebooted within the
device's timeout (the simulated device reboots it through the simulator), while the hosts whose
service runs keep their VMs."""
import os
import signal
import time

import pytest

import harness
from b1_helpers import host_health, vms_on, wait_self_fence_ready

scenario = harness.scenario_fixture()

TIMEOUT = 5
CONFIG = {"XE_TIMEOUT": 2, "MGT_LINK_LOSS_TOLERANCE": 2, "SELF_FENCE_STOP_TIMEOUT": 3,
          "SELF_FENCE_WATCHDOG": TIMEOUT}


@pytest.mark.timeout(240)
def test_a_frozen_service_gets_its_host_rebooted_by_the_watchdog(scenario):
    sc = scenario(hosts=3, vms=6, config=CONFIG)
    sc.start_supervisors()
    sc.wait_until(lambda: host_health(sc, "host3") == "healthy", 60, interval=0.3,
                  message="the master marks host3 healthy")
    wait_self_fence_ready(sc, "host3")
    frozen = sc.supervisor("host3")
    sc.wait_until(lambda: "watchdog armed" in frozen.log(), 30, interval=0.3, message="host3's watchdog armed")
    victims, others = vms_on(sc, "host3"), vms_on(sc, "host1") + vms_on(sc, "host2")
    assert victims and others

    os.killpg(frozen.proc.pid, signal.SIGSTOP)   # the supervisor and its jobs; the device runs on
    try:
        cut = time.monotonic()
        sc.wait_until(lambda: vms_on(sc, "host3") == [], TIMEOUT + 10, interval=0.2,
                      message="the watchdog reboots host3 (its domains are gone)")
        took = time.monotonic() - cut
        assert took <= TIMEOUT + 5, took
        assert sorted(vms_on(sc, "host1") + vms_on(sc, "host2")) == sorted(others), \
            "the hosts whose service runs are not rebooted"
    finally:
        os.killpg(frozen.proc.pid, signal.SIGCONT)
    assert sc.status()["violations"] == []
