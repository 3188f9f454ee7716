"""ILO fencing that cannot log in proves nothing: with a wrong FENCE_PASSWD the dead slave's VMs stay
down (FENCE_HA_ONFAIL=0) and the password shows in no log; once the admin sets the right password
(and FENCE_ACTION=reset: power off, then on) the fence is verified, the VMs restart elsewhere and the
host comes back on, with no violation."""
import pytest

import harness
from b1_helpers import host_health, vms_on
from test_ilo_slave_poweroff import ilo_scenario, scenario  # noqa: F401 - fixtures

WRONG = "Not-The-Bmc-Pw-7"


@pytest.mark.timeout(300)  # a few failed cycles, then a reset; slow on a loaded machine
def test_wrong_bmc_password_fences_nothing_until_fixed_then_reset_releases(ilo_scenario):  # noqa: F811
    sc = ilo_scenario(hosts=3, vms=6, password=WRONG, config={"FENCE_HA_ONFAIL": 0})
    sc.start_supervisors()
    harness.wait_until(lambda: host_health(sc, "host3") == "healthy", 30, interval=0.3,
                       message="the master marks host3 healthy")
    victims = vms_on(sc, "host3")
    assert victims
    host3 = sc.pool.host("host3")["uuid"]
    master = sc.supervisor("host1")

    def decision():
        return ((master.state("host-health") or {}).get("hosts", {}).get(host3) or {}).get("decision", "")

    sc.pool.fault("power-off", "host3")
    sc.wait_until(lambda: "was not verified" in decision(), 40, message="the ILO fence refused")
    assert "wrong FENCE_USER/FENCE_PASSWD" in master.log()
    # Two more cycles (MONITOR_DELAY 2): still no proof, so still no restart.
    sc.stays(lambda: all(sc.vm(vm)["running_on"] == [] for vm in victims), 5, interval=0.5,
             message="no VM of host3 restarted without a verified fence")
    assert "FENCE_HA_ONFAIL=0" in decision()
    assert WRONG not in sc.logs() + master.log()

    right = sc.pool.json["bmcs"][host3]["password"]
    sc.set_config(FENCE_PASSWD=right, FENCE_ACTION="reset")
    for vm in victims:
        sc.wait_vm_running(vm, 60)
    # (the decision moves on once host3 answers again after the reset: read the fence in the log)
    assert "ILO reset of host %s" % host3 in master.log() and "verified off, then on again" in master.log()
    harness.wait_until(lambda: sc.pool.host_status("host3")["power"] == "on", 20, interval=0.3,
                       message="host3 powered on again by the reset")
    sc.check_final()
