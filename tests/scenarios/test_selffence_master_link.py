"""The master loses its management link: it stops its own VMs within the self-fence deadline, the
takeover slave promotes itself after the proven wait (POOL fencing) and restarts them; nothing runs twice."""
import time

import pytest

import harness
from harness import host_health, vms_on, wait_moved, wait_self_fence_ready

from halizard.core import timing
from halizard.core.policy import Policy

SHORT = harness.WAITING_W


@pytest.mark.timeout(300)  # waits out the self-fence wait; slow on a loaded machine
@pytest.mark.slow
def test_master_link_loss_self_fences_and_the_pool_recovers(scenario):
    sc = scenario(hosts=3, vms=6, config=SHORT)
    policy = Policy.from_mapping(dict(harness.DEFAULT_CONFIG, **SHORT))
    sc.start_supervisors()
    sc.wait_until(lambda: host_health(sc, "host3") == "healthy" and host_health(sc, "host2") == "healthy",
                  30, interval=0.3, message="the master marks its slaves healthy")
    wait_self_fence_ready(sc, "host1")
    victims = vms_on(sc, "host1")
    assert victims

    cut = time.monotonic()
    sc.pool.fault("link-down", "host1")
    sc.wait_until(lambda: vms_on(sc, "host1") == [], timing.self_fence_deadline(policy), interval=0.2,
                  message="the isolated master stops its VMs")
    assert (sc.supervisor("host1").state("self-fence") or {}).get("stopping_since"), "stopped by its self-fence"
    wait_moved(sc, victims, "host1", timing.recovery_wait(policy) + 120)
    assert time.monotonic() - cut >= timing.recovery_wait(policy) - 1
    sc.check_final()
