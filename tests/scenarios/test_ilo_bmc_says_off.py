"""A wrong ILO.hosts line names the BMC of a host that is already off, for a slave whose xapi hangs
while its network still answers: the BMC reads "off", but the slave still runs its VMs. That fence
must count as failed and restart nothing (issue 8, bad input); once the slave's xapi answers again
it is healthy and its VMs never moved. (The real fence through a correct map is what
test_ilo_slave_poweroff.py shows; here it would leave the master alone with one of three hosts, no
quorum, and it would rightly stop its own VMs.)

The cross-check after a claimed "off" (halizard.probes.still_alive) asks the host's network first,
then its xapi: a powered-off host answers neither, a host with a hung xapi still answers the first.
"""
import pytest

import harness
from harness import host_health, vms_on, wait_moved
from test_ilo_slave_poweroff import bmc_of, ilo_scenario, write_ilo_map  # noqa: F401 - fixtures


@pytest.mark.timeout(300)  # two failures in a row; slow on a loaded machine
def test_bmc_saying_off_for_a_host_whose_network_answers_is_no_fence(ilo_scenario):  # noqa: F811
    # No quorum gate: a powered-off host's service is dead (the simulator kills it), so nothing on host2
    # can fence anyone through its BMC; only the master's fence through the wrong map line is tested
    sc = ilo_scenario(hosts=3, vms=6, config={"FENCE_QUORUM_REQUIRED": 0, "FENCE_HA_ONFAIL": 0})
    sc.start_supervisors()
    harness.wait_until(lambda: host_health(sc, "host2") == host_health(sc, "host3") == "healthy", 30,
                       interval=0.3, message="host2 and host3 healthy")
    gone = vms_on(sc, "host2")
    sc.pool.fault("power-off", "host2")  # its BMC now truthfully reads "off"
    wait_moved(sc, gone, "host2", 60)
    write_ilo_map(sc, "host1", wrong={"host3": bmc_of(sc, "host2")})
    victims = vms_on(sc, "host3")
    master = sc.supervisor("host1")

    sc.pool.fault("hang-xapi", "host3")
    sc.wait_until(lambda: "not trusted" in master.log() or sc.status()["violations"], 45,
                  message="the master's fence of host3 through the wrong BMC")
    assert sc.status()["violations"] == [], "a BMC's word restarted VMs that still run"
    assert all(sc.vm(vm)["running_on"] == ["host3"] for vm in victims)

    sc.pool.fault("unhang-xapi", "host3")  # the slave was alive all along: it answers again, nothing moved
    harness.wait_until(lambda: host_health(sc, "host3") == "healthy", 60, interval=0.3,
                       message="host3 answering and healthy again")
    assert all(sc.vm(vm)["running_on"] == ["host3"] for vm in victims)
    sc.check_final()
