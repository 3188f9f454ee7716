"""A slave powers off with FENCE_METHOD=ILO: the master fences it through its simulated BMC
(real ipmitool, IPMI lanplus, power read back), releases it and restarts its VMs; no violation."""
import os

import harness
from b1_helpers import host_health, vms_on

scenario = harness.scenario_fixture()


def use_ilo(sc):
    """ILO.hosts on every host (host uuid -> its simulated BMC), FENCE_USER/PASSWD of the BMCs."""
    for host in sc.pool.hosts:
        folder = os.path.join(host["root"], "etc", "ha-lizard", "fence", "ILO")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "ILO.hosts"), "w") as handle:
            for h in sc.pool.hosts:
                entry = sc.pool.json["bmcs"][h["uuid"]]
                handle.write("%s:%s:%d\n" % (h["uuid"], entry["address"], entry["port"]))
    first = sc.pool.json["bmcs"][sc.pool.hosts[0]["uuid"]]
    sc.set_config(FENCE_METHOD="ILO", FENCE_USER=first["user"], FENCE_PASSWD=first["password"])


def test_slave_power_off_is_fenced_through_ilo_and_its_vms_restart(scenario):
    sc = scenario(hosts=3, vms=6)
    use_ilo(sc)
    sc.start_supervisors()
    harness.wait_until(lambda: host_health(sc, "host3") == "healthy", 30, interval=0.3,
                       message="the master marks host3 healthy")
    victims = vms_on(sc, "host3")
    assert victims

    sc.pool.fault("power-off", "host3")
    for vm in victims:
        sc.wait_vm_running(vm, 60)
    assert host_health(sc, "host3") == "failed"
    report = sc.supervisor("host1").state("host-health")
    decision = report["hosts"][sc.pool.host("host3")["uuid"]]["decision"]
    assert "fenced" in decision, report
    sc.check_final()
