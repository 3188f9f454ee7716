"""Two-host pools: the heuristic address breaks the 1|1 tie, and only a verified fence (XVM) lets the
survivor restart the other host's VMs (a tie-break quorum never proves death by waiting)."""
import random

import harness
from b1_helpers import HeuristicEndpoint, host_health, use_xvm, vms_on, wait_moved

scenario = harness.scenario_fixture()
TIE_DELAY = harness.DEFAULT_CONFIG["XE_TIMEOUT"] + harness.DEFAULT_CONFIG["MONITOR_DELAY"]  # core tie_fence_delay


def _pool(scenario, reachable_from):
    address = "127.254.%d.%d" % (random.randint(0, 255), random.randint(1, 254))  # runs may overlap
    sc = scenario(hosts=2, vms=4, config={"FENCE_HEURISTICS_IPS": address, "FENCE_USE_IP_HEURISTICS": 1})
    endpoint = HeuristicEndpoint(sc, address, reachable_from)
    use_xvm(sc)
    sc.start_supervisors()
    sc.wait_until(lambda: host_health(sc, "host2") == "healthy", 30, interval=0.3,
                  message="the master marks host2 healthy")
    return sc, endpoint


def test_two_host_pool_slave_failure_is_fenced_and_recovered(scenario):
    sc, endpoint = _pool(scenario, ["host1", "host2"])
    try:
        victims = vms_on(sc, "host2")
        sc.pool.fault("power-off", "host2")
        wait_moved(sc, victims, "host2", 45)
        assert "fenced" in sc.supervisor("host1").state("host-health")["hosts"][
            sc.pool.host("host2")["uuid"]]["decision"]
        sc.check_final()
        # The powered-off host must never win the tie-break: past its tie-break delay the master still runs.
        sc.stays(lambda: sc.pool.host_status("host1")["power"] == "on", TIE_DELAY + 5, interval=0.5,
                 message="host1 (master) powered on")
        sc.check_final()
    finally:
        endpoint.close()


def test_two_host_split_heuristic_reachable_from_the_master_side_only(scenario):
    sc, endpoint = _pool(scenario, ["host1"])
    try:
        victims = vms_on(sc, "host2")
        sc.pool.fault("partition", "host1", "host2")
        wait_moved(sc, victims, "host2", 60)
        assert sc.pool.host_status("host1")["power"] == "on"
        assert sc.pool.master_name() == "host1"
        sc.check_final()
    finally:
        endpoint.close()


def test_two_host_split_heuristic_reachable_from_both_sides(scenario):
    """Both halves win the tie-break; the master side fences first, the slave side delays and loses."""
    sc, endpoint = _pool(scenario, ["host1", "host2"])
    try:
        victims = vms_on(sc, "host2")
        sc.pool.fault("partition", "host1", "host2")
        wait_moved(sc, victims, "host2", 60)
        assert sc.pool.host_status("host1")["power"] == "on"
        assert sc.pool.host_status("host2")["power"] == "off"
        sc.check_final()
    finally:
        endpoint.close()
