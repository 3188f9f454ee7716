"""The master powers off with FENCE_METHOD=ILO: the takeover slave fences it through the old
master's simulated BMC (ipmitool reads it off), promotes itself and restarts the old master's VMs."""
import harness
from harness import masters, wait_master, wait_takeover_slave
from test_ilo_slave_poweroff import ilo_scenario  # noqa: F401 - fixtures
from harness import vms_on


def test_master_power_off_is_fenced_through_ilo_and_taken_over(ilo_scenario):  # noqa: F811
    sc = ilo_scenario(hosts=3, vms=6)
    sc.start_supervisors()
    old = sc.pool.master_name()
    winner = wait_takeover_slave(sc)
    victims = vms_on(sc, old)
    assert victims

    sc.pool.fault("power-off", old)
    wait_master(sc, winner, 60)
    for vm in victims:
        sc.wait_vm_running(vm, 60)
    old_uuid = sc.pool.host(old)["uuid"]
    harness.wait_until(lambda: "fence %s stop: " % old_uuid in sc.supervisor(winner).log(), 20, interval=0.3,
                       message="the winner logging the ILO fence of %s" % old)
    fence_line = next(line for line in sc.supervisor(winner).log().splitlines()
                      if "fence %s stop: " % old_uuid in line)
    assert "ILO stop of host %s" % old_uuid in fence_line and "verified off" in fence_line, fence_line
    assert sc.pool.host_status(old)["power"] == "off"
    assert masters(sc) == [winner]
    sc.check_final()
