"""A custom fence agent that fails, hangs or returns garbage proves nothing: the dead slave's VMs stay
down (FENCE_HA_ONFAIL=0) until an agent verifies the fence; then they restart elsewhere."""
import pytest

import harness
from harness import host_health, use_script, vms_on

FAILING = "echo 'no route to the power switch' >&2\nexit 1"
HANGING = "exec sleep 600"
GARBAGE = "printf '\\377\\376<<%s>>\\n' \"$2\"\nexit 3"
WORKING = "echo \"powered $1 off\"\nexit 0"


@pytest.mark.timeout(300)  # waits out the self-fence wait; slow on a loaded machine
def test_bad_fence_agents_never_release_a_host_and_a_working_one_does(scenario):
    sc = scenario(hosts=3, vms=6, config={"FENCE_HA_ONFAIL": 0})
    use_script(sc, "lab_fence", FAILING)
    sc.start_supervisors()
    harness.wait_until(lambda: host_health(sc, "host3") == "healthy", 30, interval=0.3,
                       message="the master marks host3 healthy")
    victims = vms_on(sc, "host3")
    host3 = sc.pool.host("host3")["uuid"]
    master = sc.supervisor("host1")

    def decision():
        return ((master.state("host-health") or {}).get("hosts", {}).get(host3) or {}).get("decision", "")

    sc.pool.fault("power-off", "host3")
    sc.wait_until(lambda: "was not verified (failed)" in decision(), 30, message="the failing agent refused")
    assert "no route to the power switch" in master.log()

    use_script(sc, "lab_fence", HANGING)
    sc.wait_until(lambda: "was not verified (unknown)" in decision(), 45, message="the hanging agent cut off")

    use_script(sc, "lab_fence", GARBAGE)
    sc.wait_until(lambda: "exit 3" in master.log(), 40, message="the garbage agent ran")
    assert all(sc.vm(vm)["running_on"] == [] for vm in victims), "no proof, no restart"
    assert "FENCE_HA_ONFAIL=0" in decision()

    use_script(sc, "lab_fence", WORKING)
    for vm in victims:
        sc.wait_vm_running(vm, 45)
    # the master writes its decision at the end of the cycle that restarted the VMs
    sc.wait_until(lambda: "fenced" in decision(), 20, interval=0.2, message="the master's decision saying fenced")
    sc.check_final()
