"""The watchdog backstop on a simulated pool: a frozen service gets its host rebooted within the
device's timeout (the simulated device reboots it through the simulator), while the hosts whose
service runs keep their VMs and their devices stay quiet."""
import os
import signal
import time

import pytest

from harness import SHORT_PROBES, device_log, host_health, vms_on, wait_self_fence_ready

TIMEOUT = 10
CONFIG = dict(SHORT_PROBES, SELF_FENCE_WATCHDOG=TIMEOUT)


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
    assert "rebooting" not in device_log(frozen), "a running service keeps feeding its device"

    leader = frozen.service()["pid"]
    os.killpg(leader, signal.SIGSTOP)   # the supervisor and its forkserver; the device runs on
    try:
        cut = time.monotonic()
        # the device logs that it fires; the reboot kills it with the rest of the host (it cannot log more)
        sc.wait_until(lambda: "not fed in time: rebooting host" in device_log(frozen), TIMEOUT + 15,
                      interval=0.2, message="the watchdog reboots host3")
        took = time.monotonic() - cut
        assert took <= TIMEOUT + 5, took   # its timeout after the last feed, which came before the freeze
        # the reboot killed host3's domains: the master starts those VMs again
        master = sc.supervisor("host1")
        sc.wait_until(lambda: all("VM %s started" % vm in master.log() for vm in victims), 60, interval=0.3,
                      message="the master restarts the VMs the reboot killed")
        assert not any("VM %s started" % vm in master.log() for vm in others), \
            "the hosts whose service runs were not rebooted"
        for name in ("host1", "host2"):
            assert "rebooting" not in device_log(sc.supervisor(name)), name
    finally:
        try:  # the watchdog's reboot killed that group and started a fresh service
            os.killpg(leader, signal.SIGCONT)
        except ProcessLookupError:
            pass
    assert sc.status()["violations"] == []
