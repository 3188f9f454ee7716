"""FENCE_ENABLED=0 and the master powers off: nothing can fence it, yet the takeover slave recovers
the pool once the self-fence wait has proven the isolated master dead (the old product never did)."""
import time

import pytest

import harness
from harness import vms_on
from harness import masters, wait_master, wait_takeover_slave

from halizard.core import timing
from halizard.core.policy import Policy

CONFIG = dict(harness.WAITING_W, FENCE_ENABLED=0)


@pytest.mark.slow
def test_fence_disabled_master_is_recovered_after_the_self_fence_wait(scenario):
    policy = Policy.from_mapping(dict(harness.DEFAULT_CONFIG, **CONFIG))
    wait = timing.recovery_wait(policy)
    assert wait < 60, "keep the scenario short: %g s" % wait
    sc = scenario(hosts=3, vms=6, config=CONFIG)
    sc.start_supervisors()
    old = sc.pool.master_name()
    winner = wait_takeover_slave(sc)
    victims = vms_on(sc, old)

    cut = time.monotonic()
    sc.pool.fault("power-off", old)
    # No takeover before the wait has passed: the old master might still be stopping its VMs.
    sc.stays(lambda: masters(sc) == [], wait - 6, interval=0.5, message="no master during the self-fence wait")
    wait_master(sc, winner, 60)
    assert time.monotonic() - cut >= wait - 3
    for vm in victims:
        sc.wait_vm_running(vm, 60)
    assert "self-fence deadline" in sc.supervisor(winner).log()
    sc.check_final()
