"""A 3-host pool splits 1|2: the lone slave self-fences at once; the 2-host side (POOL fencing, no
agent) restarts its VMs only after the proven self-fence wait, and nothing ever runs twice."""
import time

import pytest

import harness
from harness import host_health, vms_on, wait_self_fence_ready

from halizard.core import timing
from halizard.core.policy import Policy

SHORT = harness.WAITING_W


@pytest.mark.timeout(300)  # waits out the self-fence wait; slow on a loaded machine
@pytest.mark.slow
def test_partition_one_against_two(scenario):
    sc = scenario(hosts=3, vms=6, config=SHORT)
    config = dict(harness.DEFAULT_CONFIG, **SHORT)
    wait = timing.recovery_wait(Policy.from_mapping(config))
    sc.start_supervisors()
    sc.wait_until(lambda: host_health(sc, "host3") == "healthy", 30, interval=0.3,
                  message="the master marks host3 healthy")
    wait_self_fence_ready(sc, "host3")
    victims = vms_on(sc, "host3")
    assert victims

    cut = time.monotonic()
    sc.pool.fault("partition", "host3", "host1,host2")
    sc.wait_until(lambda: all(sc.vm(vm)["running_on"] == [] for vm in victims), 15, interval=0.2,
                  message="host3 stops its own VMs")
    stopped = time.monotonic() - cut
    assert stopped < timing.self_fence_deadline(Policy.from_mapping(config))
    for vm in victims:
        sc.wait_vm_running(vm, wait + 30)
    restarted = time.monotonic() - cut
    assert restarted >= wait - 1, "restarted %.1fs after the cut, before the %gs wait" % (restarted, wait)
    harness.wait_decision(sc, "host3", "self-fence deadline")

    sc.pool.fault("heal")
    sc.wait_until(lambda: host_health(sc, "host3") == "healthy", 40, interval=0.3,
                  message="host3 back and healthy")
    sc.check_final()
