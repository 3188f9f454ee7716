"""Two slaves of a 5-host pool power off at once: both are fenced and recovered in the same cycle."""
import pytest

import harness
from harness import host_health, use_xvm, vms_on

@pytest.mark.timeout(300)  # five hosts; slow on a loaded machine
def test_two_slaves_failing_at_once_are_recovered_together(scenario):
    sc = scenario(hosts=5, vms=10)
    use_xvm(sc)
    sc.start_supervisors()
    harness.wait_until(lambda: host_health(sc, "host5") == "healthy", 30, interval=0.3,
                       message="the master marks host5 healthy")
    victims = vms_on(sc, "host4") + vms_on(sc, "host5")
    assert len(victims) >= 2

    sc.pool.fault("power-off", "host4", "host5")
    for vm in victims:
        sc.wait_vm_running(vm, 45)
    assert host_health(sc, "host4") == host_health(sc, "host5") == "failed"
    report = sc.supervisor("host1").state("host-health")
    for name in ("host4", "host5"):
        assert "fenced" in report["hosts"][sc.pool.host(name)["uuid"]]["decision"], report
    sc.check_final()
