"""A slave's xapi hangs (its network still answers): it is failed, fenced, and its VMs restart elsewhere."""
import harness
from harness import host_health, use_xvm, vms_on, wait_moved

def test_hung_xapi_on_a_slave_is_fenced_and_recovered(scenario):
    sc = scenario(hosts=3, vms=6)
    use_xvm(sc)
    sc.start_supervisors()
    harness.wait_until(lambda: host_health(sc, "host2") == "healthy", 30, interval=0.3,
                       message="the master marks host2 healthy")
    victims = vms_on(sc, "host2")
    assert victims

    sc.pool.fault("hang-xapi", "host2")
    wait_moved(sc, victims, "host2", 60)
    assert host_health(sc, "host2") == "failed"
    sc.check_final()
