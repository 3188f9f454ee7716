"""FENCE_ENABLED=0: no agent is ever called; a powered-off slave's VMs restart only after the timed
self-fence wait (strict majority, host unreachable the whole time); the host then comes back cleanly."""
import time

import pytest

import harness
from harness import host_health, vms_on

from halizard.core import timing
from halizard.core.policy import Policy

SHORT = dict(harness.WAITING_W, FENCE_ENABLED=0, FENCE_METHOD="XVM")


@pytest.mark.timeout(300)  # waits out the self-fence wait; slow on a loaded machine
@pytest.mark.slow
def test_fencing_disabled_recovers_after_the_self_fence_wait(scenario):
    sc = scenario(hosts=3, vms=6, config=SHORT)
    wait = timing.recovery_wait(Policy.from_mapping(dict(harness.DEFAULT_CONFIG, **SHORT)))
    sc.start_supervisors()
    sc.wait_until(lambda: host_health(sc, "host2") == "healthy", 30, interval=0.3,
                  message="the master marks host2 healthy")
    victims = vms_on(sc, "host2")

    cut = time.monotonic()
    sc.pool.fault("power-off", "host2")
    for vm in victims:
        sc.wait_vm_running(vm, wait + 30)
    assert time.monotonic() - cut >= wait - 1, "restarted before the self-fence wait"
    assert sc.pool.host_status("host2")["power"] == "off"
    harness.wait_decision(sc, "host2", "fencing is disabled")

    sc.pool.fault("power-on", "host2")
    sc.wait_until(lambda: host_health(sc, "host2") == "healthy", 40, interval=0.3,
                  message="host2 back and healthy")
    assert vms_on(sc, "host2") == [] or set(vms_on(sc, "host2")).isdisjoint(victims)
    sc.check_final()
