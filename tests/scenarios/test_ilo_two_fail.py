"""Two slaves of a 5-host pool power off at once with FENCE_METHOD=ILO: both are fenced through
their simulated BMCs in the same cycle, and their VMs restart elsewhere."""
import pytest

import harness
from harness import host_health, vms_on
from test_ilo_slave_poweroff import ilo_scenario  # noqa: F401 - fixtures


@pytest.mark.timeout(300)  # five hosts; slow on a loaded machine
def test_two_slaves_failing_at_once_are_fenced_through_ilo(ilo_scenario):  # noqa: F811
    sc = ilo_scenario(hosts=5, vms=8)
    sc.start_supervisors()
    harness.wait_until(lambda: host_health(sc, "host5") == host_health(sc, "host4") == "healthy", 40,
                       interval=0.3, message="the master marks host4 and host5 healthy")
    victims = vms_on(sc, "host4") + vms_on(sc, "host5")
    assert len(victims) >= 2

    sc.pool.fault("power-off", "host4", "host5")
    for vm in victims:
        sc.wait_vm_running(vm, 60)
    assert host_health(sc, "host4") == host_health(sc, "host5") == "failed"
    report = sc.supervisor("host1").state("host-health")
    for name in ("host4", "host5"):
        assert "fenced" in report["hosts"][sc.pool.host(name)["uuid"]]["decision"], report
    sc.check_final()
