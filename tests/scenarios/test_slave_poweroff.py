"""A slave powers off: the master detects it, fences it (XVM, verified), releases and restarts its VMs."""
import harness
from b1_helpers import host_health, use_xvm, vms_on

scenario = harness.scenario_fixture()


def test_slave_power_off_is_fenced_and_its_vms_restart_elsewhere(scenario):
    sc = scenario(hosts=3, vms=6)
    use_xvm(sc)
    sc.start_supervisors()
    harness.wait_until(lambda: host_health(sc, "host3") == "healthy", 30, interval=0.3,
                       message="the master marks host3 healthy")
    victims = vms_on(sc, "host3")
    assert victims

    sc.pool.fault("power-off", "host3")
    for vm in victims:
        sc.wait_vm_running(vm, 45)
    assert host_health(sc, "host3") == "failed"
    report = sc.supervisor("host1").state("host-health")
    assert "fenced" in report["hosts"][sc.pool.host("host3")["uuid"]]["decision"], report
    sc.check_final()
