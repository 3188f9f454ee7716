"""Two-host pools: the heuristic address (the simulated pool's gateway) breaks the 1|1 tie, and only a
verified fence (XVM) lets the survivor restart the other host's VMs (a tie-break quorum never proves death
by waiting)."""
import harness
from harness import host_health, use_xvm, vms_on, wait_moved

TIE_DELAY = harness.TIE_DELAY


def _pool(scenario):
    sc = scenario(hosts=2, vms=4)
    sc.set_config(FENCE_HEURISTICS_IPS=sc.pool.json["gateway"], FENCE_USE_IP_HEURISTICS=1)
    use_xvm(sc)
    sc.start_supervisors()
    sc.wait_until(lambda: host_health(sc, "host2") == "healthy", 30, interval=0.3,
                  message="the master marks host2 healthy")
    return sc


def test_two_host_pool_slave_failure_is_fenced_and_recovered(scenario):
    sc = _pool(scenario)
    victims = vms_on(sc, "host2")
    sc.pool.fault("power-off", "host2")
    wait_moved(sc, victims, "host2", 45)
    harness.wait_decision(sc, "host2", "fenced")
    sc.check_final()
    # The powered-off host must never win the tie-break: past its tie-break delay the master still runs.
    sc.stays(lambda: sc.pool.host_status("host1")["power"] == "on", TIE_DELAY + 5, interval=0.5,
             message="host1 (master) powered on")
    sc.check_final()


def test_two_host_split_heuristic_reachable_from_the_master_side_only(scenario):
    sc = _pool(scenario)
    victims = vms_on(sc, "host2")
    sc.pool.fault("partition", "host1,gateway", "host2")
    wait_moved(sc, victims, "host2", 60)
    assert sc.pool.host_status("host1")["power"] == "on"
    assert sc.pool.master_name() == "host1"
    sc.check_final()


def test_two_host_split_heuristic_reachable_from_both_sides(scenario):
    """Both halves win the tie-break; the master side fences first, the slave side delays and loses."""
    sc = _pool(scenario)
    victims = vms_on(sc, "host2")
    sc.pool.fault("cut", "host1", "host2")  # the hosts lose each other; the gateway still reaches both
    wait_moved(sc, victims, "host2", 60)
    assert sc.pool.host_status("host1")["power"] == "on"
    assert sc.pool.host_status("host2")["power"] == "off"
    sc.check_final()
